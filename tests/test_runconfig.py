"""The torch-free run-config builder ctadam.runconfig and its static model-key table."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctadam import paths
from ctadam.models import ARCHS, NORMS
from ctadam.runconfig import MODEL_KEYS, make_run_config, model_keys, validate_config

REPO = Path(__file__).resolve().parents[1]
OPT = {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.999], "weight_decay": 0.1}


def test_model_key_table_matches_the_model_classes():
    """The static table stands in for the classes' signatures (so validation needs no torch)."""
    assert tuple(MODEL_KEYS) == tuple(ARCHS)
    for arch, cls in ARCHS.items():
        params = inspect.signature(cls).parameters
        keys = tuple(k for k, p in params.items() if k != "norm" and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        assert model_keys(arch) == keys, arch
        assert "norm" in params, arch
    from ctadam import runconfig

    assert runconfig.NORMS == NORMS


def test_make_run_config_fills_the_task_dataset_and_defaults():
    cfg = make_run_config("shakespeare", arch="char_transformer", steps=5, optimizer=OPT,
                          model={"block_size": 8})
    assert cfg["data"] == paths.DATASETS["shakespeare"] == "data/shakespeare/shakespeare.npz"
    assert cfg["optimizer"]["betas"] == [[0.9, 0.999]] and cfg["log_every"] == 10
    assert cfg == validate_config({**cfg})
    assert make_run_config("mnist1d", data="x.npz", steps=1, optimizer=OPT)["data"] == "x.npz"
    with pytest.raises(ValueError, match="task must be one of"):
        make_run_config("imagenet", steps=1, optimizer=OPT)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        make_run_config("mnist1d", steps=0, optimizer=OPT)
    with pytest.raises(ValueError, match="arch must be one of"):
        model_keys("resnet")


def test_validates_with_torch_blocked(torch_blocker):
    """The workflow validates every run config while it parses, where torch may be missing."""
    script = (
        "import sys; from ctadam.runconfig import make_run_config\n"
        "cfg = make_run_config('mnist1d', steps=3, model={'hidden': [4]}, optimizer="
        "{'name': 'kadam', 'lr': 1e-3, 'k': 2, 'betas': [[0.9, 0.99], [0.5, 0.9]]})\n"
        "assert cfg['optimizer']['k'] == 2 and 'torch' not in sys.modules\n"
        "OPT = cfg['optimizer']\n"
        "try:\n"
        "    make_run_config('mnist1d', steps=3, model={'hiddn': [4]}, optimizer=OPT)\n"
        "except ValueError as err:\n"
        "    print(err)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(torch_blocker), str(REPO / "code")]))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "model (arch 'mlp') has unknown keys ['hiddn']" in proc.stdout
