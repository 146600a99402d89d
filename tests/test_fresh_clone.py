"""The workflow on a fresh clone: which CIFAR-10 source each profile plans, and profile checks.

The repository's sources are copied into a temporary ``clone/repo`` with nothing beside it, as
a new user has them; every profile must then plan CIFAR-10 from the official archive
(``data_cifar10_archive``). With the team's image copy at ``clone/shared/...`` (the profiles'
``data.cifar10.images``, relative to the project root) the same profiles plan the image
build instead. These are dry runs (seconds each); one real run of ``data_cifar10`` on a tiny
image copy checks the cache's source record and the log line. Profiles with NaN or infinity, and
malformed CIFAR-10 settings, are refused before anything is planned.
"""

import hashlib
import io
import itertools
import json
import shutil
import tarfile

import numpy as np
import pytest
import yaml
from PIL import Image
from snakemake.utils import validate
from test_workflow import REPO, copy_repo, job_stats, output_of, run_snakemake

PROFILES = ("quick", "smoke", "full")
CACHE = "data/cifar10/cifar10.npz"


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A copy of the repository's sources with no ``../shared`` beside it."""
    root = copy_repo(tmp_path_factory.mktemp("clone") / "repo")
    assert not (root.parent / "shared").exists()
    return root


def image_copy(root, profile: str):
    """Where ``profile`` looks for the image copy, from the root of ``root``."""
    config = yaml.safe_load((root / "config" / f"{profile}.yaml").read_text())
    assert config["data"]["cifar10"]["source"] == "auto"
    return root / config["data"]["cifar10"]["images"], config["data"]["cifar10"]


def plan(root, profile: str, *targets: str) -> str:
    proc = run_snakemake([*targets, "--dry-run", "--printshellcmds", "--nolock", "--cores", "1",
                          "--configfile", f"config/{profile}.yaml"], cwd=root)
    assert proc.returncode == 0, output_of(proc)[-3000:]
    return output_of(proc)


@pytest.mark.parametrize("profile", PROFILES)
def test_without_the_image_copy_cifar10_comes_from_the_official_archive(clone, profile):
    images, cfg = image_copy(clone, profile)
    assert not images.exists()
    out = plan(clone, profile, CACHE)
    assert {"data_cifar10_archive": 1, "data_cifar10": 1}.items() <= job_stats(out).items()
    assert f"fetch-cifar10 --url {cfg['url']}" in out.replace("'", "")
    assert "cifar10-images" not in out


@pytest.mark.parametrize("profile", PROFILES)
def test_with_the_image_copy_present_it_is_decoded_and_nothing_downloaded(clone, profile):
    images, cfg = image_copy(clone, profile)
    images.parent.mkdir(parents=True)
    try:
        images.write_bytes(b"stands in for the copy; a dry run does not read it")
        out = plan(clone, profile, CACHE)
    finally:
        shutil.rmtree(clone.parent / "shared")
    assert "data_cifar10_archive" not in job_stats(out)
    assert job_stats(out)["data_cifar10"] == 1
    assert f"cifar10-images --sha256 {cfg['images_sha256']} --source {cfg['images']}" in out


def test_the_default_profile_plans_every_job_on_a_fresh_clone(clone):
    """The README's first command (the quick profile) starts with nothing beside the clone."""
    proc = run_snakemake(["--dry-run", "--nolock", "--cores", "1"], cwd=clone)
    assert proc.returncode == 0, output_of(proc)[-3000:]
    stats = job_stats(output_of(proc))
    assert stats["data_cifar10_archive"] == 1 and stats["data_cifar10"] == 1


@pytest.mark.parametrize("key, value", [(("stability_sweep", "lr"), ".nan"),
                                        (("stability_sweep", "eps"), ".inf"),
                                        (("stability_sweep", "beta1s"), "[0.5, .nan]")])
def test_a_profile_with_nan_or_infinity_is_refused_naming_the_key(tmp_path, key, value):
    """JSON-schema bounds let YAML's .nan through; the workflow must stop before planning."""
    text = (REPO / "config" / "smoke.yaml").read_text()
    config = yaml.safe_load(text)
    config[key[0]][key[1]] = "@@"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config).replace("'@@'", value))
    assert yaml.safe_load(bad.read_text())[key[0]][key[1]] != "@@"
    proc = run_snakemake(["--dry-run", "--nolock", "--cores", "1", "--configfile", str(bad)],
                         cwd=REPO)
    text = output_of(proc)
    assert proc.returncode != 0
    assert f"config.{key[0]}.{key[1]}" in text and "must be finite" in text, text[-2000:]
    assert "Job stats" not in text


@pytest.mark.parametrize("key, value", [("images_sha256", "abc"), ("images_sha256", "A" * 64),
                                        ("url", "cs.toronto.edu/cifar.tar.gz"),
                                        ("source", "download"), ("images", "")])
def test_the_schema_refuses_a_malformed_cifar10_setting(key, value):
    config = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())
    validate(config, str(REPO / "config" / "schema.yaml"))
    config["data"]["cifar10"][key] = value
    with pytest.raises(Exception, match=rf"On instance\['data'\]\['cifar10'\]\['{key}'\]"):
        validate(config, str(REPO / "config" / "schema.yaml"))


def test_the_rule_builds_from_an_image_copy_and_records_it(tmp_path):
    """data_cifar10 for real, on a tiny image copy: the cache, its source record, the log line."""
    root = copy_repo(tmp_path / "repo")
    copy = tmp_path / "tiny.tar.gz"
    with tarfile.open(copy, "w:gz") as tar:
        for split, cls in itertools.product(("train", "test"), ("cat", "dog")):
            image = io.BytesIO()
            Image.fromarray(np.full((32, 32, 3), len(cls), np.uint8)).save(image, format="PNG")
            info = tarfile.TarInfo(f"{split}/{cls}/0.png")
            info.size = image.tell()
            tar.addfile(info, io.BytesIO(image.getvalue()))
    config = yaml.safe_load((root / "config" / "smoke.yaml").read_text())
    sha = hashlib.sha256(copy.read_bytes()).hexdigest()
    config["data"]["cifar10"].update(images=str(copy), images_sha256=sha)
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake([CACHE, "--cores", "1", "--configfile", "tiny.yaml"], cwd=root)
    assert proc.returncode == 0, output_of(proc)[-3000:]
    record = json.loads((root / "data/cifar10/cifar10.source.json").read_text())
    assert record["source"] == "images" and record["path"] == str(copy)
    assert record["source_sha256"] == sha and record["source_sha256_checked"]
    log = (root / "logs/data_cifar10/cifar10.log").read_text()
    assert f"CIFAR-10 source: images {copy}, sha256 {sha} (checked)" in log
    assert "CIFAR-10: 2 train, 2 test" in log
