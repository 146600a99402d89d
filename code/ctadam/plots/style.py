"""Shared figure style and the one function that saves a figure as PDF and PNG."""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ctadam.io import read_json  # noqa: E402

# A single-column paper figure is 3.4 in wide, a full-width one 7 in.
COLUMN_WIDTH = 3.4
FULL_WIDTH = 7.0

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 150,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
}


def apply() -> None:
    """Apply the project style to matplotlib's global state."""
    plt.rcParams.update(RC)


def save(fig, pdf_path: str | os.PathLike) -> tuple[Path, Path]:
    """Save ``fig`` to ``pdf_path`` and to the same stem with ``.png``; close it.

    Both files are written through a temporary name and renamed, so an interrupted job
    leaves no partial figure. Returns the (pdf, png) paths.
    """
    pdf = Path(pdf_path).with_suffix(".pdf")
    png = pdf.with_suffix(".png")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    for path, kwargs in ((pdf, {"metadata": {"CreationDate": None}}), (png, {"dpi": 200})):
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        fig.savefig(tmp, **kwargs)
        os.replace(tmp, path)
    plt.close(fig)
    return pdf, png


def summary_main(doc: str, plot: Callable, argv=None) -> None:
    """Command line ``--summary family.json --out fig.pdf`` of a figure drawn from one summary.

    Calls ``plot(summary, out)``; ``doc`` (the module docstring) gives the description.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--summary", required=True, help="the family's summary JSON")
    parser.add_argument("--out", required=True, help="PDF path (a PNG is written beside it)")
    args = parser.parse_args(argv)
    plot(read_json(args.summary), args.out)
