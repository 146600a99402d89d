"""Shared figure style and the one function that saves a figure as PDF and PNG."""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
