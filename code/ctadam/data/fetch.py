"""Resumable, hash-checked download of one file (the CIFAR-10 archive)."""

import fcntl
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from ctadam.data.cache import file_sha256


def fetch(url: str, out: str | Path, sha256: str | None, progress: bool = True) -> Path:
    """Download ``url`` to ``out``, resumably, checking its SHA-256 (None skips the check).

    The bytes go to ``.<name>.part`` beside ``out``. A download that stops (network error,
    killed job) leaves that file, and the next call asks for the rest with an HTTP ``Range``
    request; a server (or ``file://`` URL) that ignores it sends the whole file, which then
    replaces the part. Only a part whose SHA-256 matches becomes ``out`` (by rename, so
    ``out`` is complete or absent); a mismatch deletes it. A lock on the part refuses a
    second download into the same ``out`` while one runs. A progress bar goes to stderr.
    """
    from tqdm import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    with open(part, "ab") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(f"another process is downloading into {part}; wait for it to "
                          "finish") from None
        have = os.fstat(handle.fileno()).st_size
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if have and response.status != 206:  # the whole file again
                    handle.truncate(0)
                    have = 0
                length = response.headers.get("Content-Length")
                expected = None if length is None else have + int(length)
                with tqdm(total=expected, initial=have, unit="B", unit_scale=True,
                          desc=out.name, disable=not progress, mininterval=1.0) as bar:
                    while block := response.read(1 << 20):
                        handle.write(block)
                        bar.update(len(block))
            handle.flush()
            size = os.fstat(handle.fileno()).st_size
            if expected is not None and size < expected:
                raise OSError(f"connection closed after {size} of {expected} bytes")
        except urllib.error.HTTPError as err:
            if not (err.code == 416 and have):  # 416: the part already holds every byte
                if not have:
                    part.unlink()
                raise OSError(f"download of {url} failed ({err}); download it by hand to "
                              f"{out}") from err
        except (OSError, http.client.HTTPException) as err:
            handle.flush()
            kept = os.fstat(handle.fileno()).st_size
            if not kept:
                part.unlink()
                raise OSError(f"download of {url} failed ({err}); download it by hand to "
                              f"{out}") from err
            raise OSError(f"download of {url} stopped ({err!r}); {kept} bytes are kept in "
                          f"{part}: run the same command again to resume, or download the "
                          f"file by hand to {out}") from err
        got = file_sha256(part)  # still under the lock: no other download can append now
        if sha256 is not None and got != sha256:
            part.unlink()
            raise ValueError(f"{url} downloaded with SHA-256 {got}, expected {sha256}; the "
                             f"download was deleted")
        part.replace(out)
    return out
