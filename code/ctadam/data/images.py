"""An image-folder copy of CIFAR-10 (``train/<class>/*``, ``test/<class>/*``), decoded.

A directory or ``.tar.gz``, decoded with Pillow into the cache of
:func:`ctadam.data.cifar10.build_cifar10`. Every image is counted once, every skipped file is
named, and every unreadable image is named in the error.
"""

import io
import tarfile
import warnings
from pathlib import Path

import numpy as np

from ctadam.data.cache import save_npz, verified_source
from ctadam.data.cifar10 import write_source_record

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
    out = save_npz(out, arrays)
    write_source_record(out, "images", source, got, sha256 is not None)
    return out
