"""The workflow parses without torch: dry run, rule list and lint where `import torch` fails.

Rule files and whatever they import at parse time use the standard library and torch-free
ctadam modules only, so a reviewer can plan and inspect the workflow before installing torch.
(`snakemake --report` without torch is checked on the smoke run in tests/test_workflow.py.)
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def without_torch(args: list[str], blocker: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(REPO / "code")])
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_blocker_blocks_torch(torch_blocker):
    proc = without_torch(["-c", "import torch"], torch_blocker)
    assert proc.returncode != 0 and "torch is blocked" in proc.stderr


@pytest.mark.parametrize("args", [
    ["--dry-run", "--configfile", "config/smoke.yaml"],  # plans every job of a profile
    ["--list-rules"],
    ["--lint"],
])
def test_snakemake_runs_without_torch(torch_blocker, args):
    proc = without_torch(["-m", "snakemake", "--nolock", *args], torch_blocker)
    out = proc.stdout + proc.stderr
    assert "torch is blocked" not in out, out[-3000:]
    if args[0] == "--lint":  # findings make --lint exit 1; it must still lint every rule
        assert "Lints for rule paper " in out, out[-3000:]
    else:
        assert proc.returncode == 0, out[-3000:]
    if args[0] == "--list-rules":
        assert {"normalization_run", "meta_adaptive_run", "paper"} <= set(out.split())
        assert {f"{family}_{step}" for family in ("stability_sweep", "stability_training",
                                                  "lr_region", "continuous_time")
                for step in ("config", "run", "summary", "publish", "figure")} <= set(out.split())
