"""The CIFAR-10 image-folder reader (directory and .tar.gz) and the Lion baseline's config."""

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
