"""Atomic file writes, a finiteness check of nested configs, and LaTeX number macros.

A run record, cache or figure is either complete on disk or absent: every writer goes
through a temporary file in the same directory followed by :func:`os.replace`, which is
atomic on POSIX file systems, so a killed job never leaves a half-written output behind.
Each writer gets its own temporary name (``.<name>.<random>.tmp``, from :mod:`tempfile`),
removes it when the write fails, and holds an exclusive ``flock`` on it while writing. A
writer killed by SIGKILL cannot clean up, but the kernel drops its lock, so the next writer
of the same target removes every such file whose lock it can take (:func:`clear_stale_temps`).
"""

import fcntl
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _temp_names(path: Path) -> Iterator[Path]:
    """The temporary files of target ``path`` that :func:`atomic_output` may have left."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    if path.parent.is_dir():
        for entry in path.parent.iterdir():
            if pattern.fullmatch(entry.name):
                yield entry


def clear_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` whose writer is gone; return them.

    A live writer holds an exclusive ``flock`` on its temporary file, so a file whose lock can
    be taken belongs to a writer that died (killed, or a crashed machine) and is removed. (Only
    a file opened but not yet locked, a window of microseconds after its creation, could be
    taken for stale; its writer then fails at :func:`os.replace` instead of writing a wrong
    output.)
    """
    removed = []
    for tmp in _temp_names(Path(path)):
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its writer is still writing
            os.close(fd)
            continue
        try:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        finally:
            os.close(fd)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a binary handle whose content replaces ``path`` atomically when the block ends.

    Creates the parent directories and first clears stale temporary files of ``path``
    (:func:`clear_stale_temps`). If the block raises, the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # as open() would, not mkstemp's 0600
            yield handle
            handle.flush()
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating parent directories."""
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)


def nonfinite_keys(obj: Any, where: str = "config") -> list[tuple[str, float]]:
    """(key path, value) of every NaN or infinite number in nested dicts and lists.

    Paths read like ``config.sweep.lr`` and ``config.bench.sizes[1]``. JSON-schema bounds
    such as ``minimum`` let NaN through (every comparison with NaN is false), so a profile
    is walked with this after schema validation.
    """
    if isinstance(obj, float) and not math.isfinite(obj):
        return [(where, obj)]
    if isinstance(obj, dict):
        return [k for key, v in obj.items() for k in nonfinite_keys(v, f"{where}.{key}")]
    if isinstance(obj, (list, tuple)):
        return [k for i, v in enumerate(obj) for k in nonfinite_keys(v, f"{where}[{i}]")]
    return []


def require_finite(obj: Any, where: str = "config") -> None:
    """Raise ``ValueError`` naming the key path and value of every NaN or infinity in ``obj``."""
    bad = nonfinite_keys(obj, where)
    if bad:
        listed = ", ".join(f"{key} = {value}" for key, value in bad)
        raise ValueError(f"every number must be finite (NaN and infinity are not allowed), "
                         f"got {listed}")


def _jsonable(value: Any) -> Any:
    """Map non-finite floats to strings so the JSON stays standard (no NaN literals)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    return value


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as sorted, indented JSON atomically (byte-identical for equal input).

    Non-finite floats become the strings "nan", "inf", "-inf"; use :func:`read_json` to get
    them back as floats.
    """
    text = json.dumps(_jsonable(obj), indent=1, sort_keys=True) + "\n"
    return write_text_atomic(path, text)


def _from_jsonable(value: Any) -> Any:
    if value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: _from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonable(v) for v in value]
    return value


def read_json(path: str | os.PathLike) -> Any:
    """Read JSON written by :func:`write_json_atomic`, restoring non-finite floats."""
    with open(path, encoding="utf-8") as handle:
        return _from_jsonable(json.load(handle))


def macro_name(name: str) -> str:
    """Check that ``name`` is a valid LaTeX macro name (letters only) and return it."""
    if not name.isalpha() or not name.isascii():
        raise ValueError(f"LaTeX macro name must be ASCII letters only, got {name!r}")
    return name


def write_macros(path: str | os.PathLike, macros: dict[str, str], comment: str = "") -> Path:
    r"""Write ``\newcommand{\name}{value}`` lines for the paper's generated numbers.

    ``macros`` maps a letters-only name (e.g. ``"BinfDefault"``) to its already formatted
    value (e.g. ``"7.27"``). The values are written verbatim, so format them first.
    """
    lines = [f"% Generated by the ctadam workflow. {comment}".rstrip(), ""]
    for name in sorted(macros):
        lines.append(f"\\newcommand{{\\{macro_name(name)}}}{{{macros[name]}}}")
    return write_text_atomic(path, "\n".join(lines) + "\n")


def latex_sci(x: float, digits: int = 1) -> str:
    r"""``x`` in LaTeX scientific notation with ``digits`` significant digits.

    ``3.46e17`` becomes ``\ensuremath{3.5\times 10^{17}}`` (``digits=2``) and ``1e-16`` becomes
    ``\ensuremath{10^{-16}}``; ``\ensuremath`` makes the macro read the same in text and in math.
    """
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return r"\ensuremath{\infty}" if x > 0 else (r"\ensuremath{-\infty}" if x < 0 else "nan")
    mant, exp = f"{x:.{digits - 1}e}".split("e")
    power = f"10^{{{int(exp)}}}"
    body = power if mant == "1" else (f"-{power}" if mant == "-1" else f"{mant}\\times {power}")
    return f"\\ensuremath{{{body}}}"
