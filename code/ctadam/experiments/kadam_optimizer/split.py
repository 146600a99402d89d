r"""The k-Adam study's data splits: a final file and a selection file per task.

Per task a *final* data file (CIFAR-10 / MNIST-1D: the first ``n_train`` training and first
``n_test`` test samples; Shakespeare: the corpus) and a *selection* file that holds out the last
``n_val`` of those training samples (Shakespeare: the last ``val_fraction`` of the training text)
as its test split, so that a learning rate is never chosen on the data the tables report (rule
``kadam_optimizer_split``).
"""

from pathlib import Path

import numpy as np

from ctadam.checks import check_int, check_real
from ctadam.data import arrays_sha256


def _save_npz(path, arrays: dict) -> None:
    """Write arrays and their SHA-256 (the layout :mod:`ctadam.data` reads) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, sha256=np.array(arrays_sha256(arrays)), **arrays)
    tmp.replace(path)


def _head(x: np.ndarray, n, name: str) -> np.ndarray:
    return x if n is None else x[:check_int(name, n, 1, len(x))]


def split(task: str, data: str, select_out: str, final_out: str, n_train=None, n_test=None,
          n_val: int = 500, val_fraction: float = 0.1) -> None:
    """Write the final and the selection data files of ``task`` (see the module doc)."""
    with np.load(data) as npz:
        content = {k: npz[k] for k in npz.files if k != "sha256"}
    if task == "shakespeare":
        frac = check_real("val_fraction", val_fraction, 0.0, 1.0, True, True)
        keep = {k: content[k] for k in ("train", "val", "vocab")}
        _save_npz(final_out, keep)
        cut = int(len(keep["train"]) * (1 - frac))
        _save_npz(select_out, {"train": keep["train"][:cut], "val": keep["train"][cut:],
                               "vocab": keep["vocab"]})
        return
    x, y = _head(content["x_train"], n_train, "n_train"), _head(content["y_train"], n_train,
                                                                "n_train")
    _save_npz(final_out, {"x_train": x, "y_train": y,
                          "x_test": _head(content["x_test"], n_test, "n_test"),
                          "y_test": _head(content["y_test"], n_test, "n_test")})
    n_val = check_int("n_val", n_val, 1, len(y) - 1)
    _save_npz(select_out, {"x_train": x[:-n_val], "y_train": y[:-n_val],
                           "x_test": x[-n_val:], "y_test": y[-n_val:]})
