"""The CIFAR-10 image-folder reader (directory and .tar.gz) and the Lion baseline's config."""

import io
import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from ctadam import data
from ctadam.build import make_optimizer
from ctadam.runconfig import validate_optimizer

CLASSES = ("cat", "airplane", "dog")  # sorted: airplane = 0, cat = 1, dog = 2


def write_folder(root, per_class: dict, size=(32, 32)):
    """PNG images (lossless) whose pixels encode (split, class, index); returns them."""
    pixels = {}
    for split, count in per_class.items():
        for c, cls in enumerate(sorted(CLASSES)):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                img = np.full((*size[::-1], 3), 10 * c + i + (100 if split == "test" else 0),
                              np.uint8)
                Image.fromarray(img).save(root / split / cls / f"{i:04d}.png")
                pixels[(split, c, i)] = img[0, 0, 0]
    return pixels


def test_folder_and_tar_give_balanced_labelled_arrays(tmp_path):
    root = tmp_path / "cifar"
    write_folder(root, {"train": 3, "test": 2})
    out = data.build_cifar10_images(root, tmp_path / "a.npz", progress=False)
    with np.load(out) as npz:
        assert npz["x_train"].shape == (9, 3, 32, 32) and npz["x_train"].dtype == np.uint8
        # dealt round-robin: image 0 of every class, then image 1, ...
        assert npz["y_train"].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2]
        assert npz["x_train"][:, 0, 0, 0].tolist() == [0, 10, 20, 1, 11, 21, 2, 12, 22]
        assert npz["y_test"].tolist() == [0, 1, 2, 0, 1, 2]
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="cifar10")  # a leading folder above train/ and test/
    out2 = data.main(["cifar10-images", "--source", str(archive), "--out",
                      str(tmp_path / "b.npz"), "--sha256", data.file_sha256(archive)])
    assert out2 == 0
    assert data.load_cifar10(tmp_path / "b.npz").sha256 == data.load_cifar10(out).sha256
    with pytest.raises(ValueError, match="SHA-256"):
        data.build_cifar10_images(archive, tmp_path / "c.npz", sha256="0" * 64, progress=False)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder"):
        data.build_cifar10_images(tmp_path / "absent", tmp_path / "x.npz", progress=False)
    small = tmp_path / "small"
    write_folder(small, {"train": 1, "test": 1}, size=(16, 16))
    with pytest.raises(ValueError, match="expected 32x32"):
        data.build_cifar10_images(small, tmp_path / "x.npz", progress=False)
    lone = tmp_path / "lone"
    write_folder(lone, {"train": 1})
    with pytest.raises(ValueError, match="same classes"):
        data.build_cifar10_images(lone, tmp_path / "x.npz", progress=False)


def png_bytes(value: int, size=(32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size[::-1], 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_tar(path, members: list[tuple[str, bytes]]):
    """A .tar.gz with the members in this order (a name may repeat)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def small_tree(root="cifar10") -> list[tuple[str, bytes]]:
    """Two classes, two train and one test image each (pixel value = 10 class + index)."""
    members = []
    for c, cls in enumerate(("airplane", "cat")):
        members += [(f"{root}/train/{cls}/{i}.png", png_bytes(10 * c + i)) for i in range(2)]
        members.append((f"{root}/test/{cls}/0.png", png_bytes(100 + c)))
    return members


def test_a_repeated_tar_member_counts_once_with_its_last_copy(tmp_path):
    members = [*small_tree(), ("cifar10/train/cat/1.png", png_bytes(77))]
    archive = write_tar(tmp_path / "dup.tar.gz", members)
    with pytest.warns(UserWarning, match=r"cifar10/train/cat/1\.png \(repeated"):
        out = data.build_cifar10_images(archive, tmp_path / "a.npz", progress=False)
    with np.load(out) as npz:
        assert npz["y_train"].tolist() == [0, 1, 0, 1]
        assert npz["x_train"][:, 0, 0, 0].tolist() == [0, 10, 1, 77]


def test_a_second_train_test_tree_is_refused_naming_both(tmp_path):
    archive = write_tar(tmp_path / "two.tar.gz", small_tree("a") + small_tree("b"))
    with pytest.raises(ValueError, match=r"more than one train/test tree: a/ .*; b/ "):
        data.build_cifar10_images(archive, tmp_path / "a.npz", progress=False)


def test_stray_and_nested_files_are_skipped_and_named_in_one_warning(tmp_path):
    members = [*small_tree(), ("cifar10/train/cat/.DS_Store", b"\0\1"),
               ("cifar10/test/airplane/README.txt", b"notes"),
               ("cifar10/train/cat/extra/5.png", png_bytes(5)), ("cifar10/LICENSE", b"x")]
    archive = write_tar(tmp_path / "stray.tar.gz", members)
    with pytest.warns(UserWarning) as caught:
        out = data.build_cifar10_images(archive, tmp_path / "a.npz", progress=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    for name in ("train/cat/.DS_Store", "test/airplane/README.txt", "train/cat/extra/5.png",
                 "cifar10/LICENSE"):
        assert name in message, message
    assert "4 entries skipped" in message
    with np.load(out) as npz:
        assert npz["x_train"].shape == (4, 3, 32, 32) and npz["x_test"].shape == (2, 3, 32, 32)


def test_unreadable_images_fail_naming_every_member(tmp_path):
    jpeg = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(jpeg, format="JPEG")
    members = [*small_tree(), ("cifar10/train/cat/7.jpg", jpeg.getvalue()[:200]),  # truncated
               ("cifar10/test/cat/8.jpg", b"not a jpeg at all")]
    archive = write_tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ValueError, match=r"2 unreadable image\(s\): cifar10/train/cat/7\.jpg "
                                         r".*; cifar10/test/cat/8\.jpg "):
        data.build_cifar10_images(archive, tmp_path / "a.npz", progress=False)


def test_labels_of_many_classes_do_not_overflow(tmp_path):
    root = tmp_path / "many"
    for c in range(300):
        for split in ("train", "test"):
            (root / split / f"c{c:03d}").mkdir(parents=True)
            (root / split / f"c{c:03d}" / "0.png").write_bytes(png_bytes(c % 256))
    out = data.build_cifar10_images(root, tmp_path / "a.npz", progress=False)
    with np.load(out) as npz:
        assert npz["y_train"].tolist() == list(range(300)) == npz["y_test"].tolist()
        assert npz["y_train"].dtype == np.uint16


def error_lines(err: str) -> list[str]:
    """The lines of stderr besides the progress bar's."""
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln and "decode:" not in ln]


def test_a_directory_source_refuses_a_hash(tmp_path, capsys):
    root = tmp_path / "cifar"
    write_folder(root, {"train": 1, "test": 1})
    with pytest.raises(ValueError, match="is a directory, which has no file hash"):
        data.build_cifar10_images(root, tmp_path / "a.npz", sha256="0" * 64, progress=False)
    code = data.main(["cifar10-images", "--source", str(root), "--sha256", "0" * 64,
                      "--out", str(tmp_path / "b.npz")])
    err = capsys.readouterr().err
    assert code == 2 and len(error_lines(err)) == 1, err
    assert "error: --sha256:" in err and "directory" in err
    assert not (tmp_path / "b.npz").exists()


def test_the_build_records_its_source_beside_the_cache_and_in_the_log(tmp_path, capsys):
    archive = write_tar(tmp_path / "ok.tar.gz", small_tree())
    sha = data.file_sha256(archive)
    out = tmp_path / "cifar10.npz"
    assert data.main(["cifar10-images", "--source", str(archive), "--sha256", sha,
                      "--out", str(out)]) == 0
    record = json.loads((tmp_path / "cifar10.source.json").read_text())
    assert record == {"source": "images", "path": str(archive), "url": None,
                      "source_sha256": sha, "source_sha256_checked": True,
                      "cache_sha256": data.load_cifar10(out).sha256}
    log = capsys.readouterr().out
    assert f"CIFAR-10 source: images {archive}, sha256 {sha} (checked)" in log
    data.build_cifar10_images(archive, out, progress=False)
    assert not json.loads((tmp_path / "cifar10.source.json").read_text())[
        "source_sha256_checked"]


def test_a_bad_image_archive_is_one_line_naming_the_argument(tmp_path, capsys):
    archive = write_tar(tmp_path / "bad.tar.gz", [("t/train/a/0.jpg", b"junk")])
    code = data.main(["cifar10-images", "--source", str(archive), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and len(error_lines(err)) == 1, err
    assert error_lines(err)[0].startswith("python -m ctadam.data cifar10-images: error: --source:")
    assert "t/train/a/0.jpg (Pillow cannot identify its format)" in err
    with pytest.raises(Exception, match="t/train/a/0.jpg"):
        data.main(["cifar10-images", "--debug", "--source", str(archive),
                   "--out", str(tmp_path / "o")])


def test_lion_is_the_maintained_package_with_decoupled_decay():
    opt = validate_optimizer({"name": "lion", "lr": 0.01, "betas": [0.9, 0.99],
                              "weight_decay": 0.5})
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    lion = make_optimizer([w], opt)
    assert type(lion).__module__.startswith("lion_pytorch")
    w.grad = torch.tensor([0.3, -0.1])
    lion.step()
    # theta <- (1 - lr lambda) theta - lr sign((1 - beta1) g) (zero initial momentum)
    expected = torch.tensor([1.0, -2.0]) * (1 - 0.005) - 0.01 * torch.tensor([1.0, -1.0])
    assert torch.allclose(w.detach(), expected)
    with pytest.raises(ValueError, match="lr \\* optimizer.weight_decay"):
        validate_optimizer({"name": "lion", "lr": 1.0, "betas": [0.9, 0.99],
                            "weight_decay": 2.0})
