"""The practitioner's install: `pip install .` brings torch and numpy only, and is enough.

The light tests check the built wheel's declared dependencies, the lock file against the
pinned extras, and that the practitioner's modules import nothing beyond torch and numpy.
The slow test (about two minutes, most of it installing torch) builds a fresh venv holding
only torch, numpy (and what torch itself needs) and the bare package, and uses KAdam,
StabilityMonitor and `ctadam check` in it.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements-lock.txt"
# Imported by the reproduction, never by the practitioner's modules.
# (torch itself imports tqdm when it is installed, so tqdm is not among them.)
WORKFLOW_ONLY = ("scipy", "matplotlib", "snakemake", "mnist1d", "yaml", "pandas")
WORKFLOW_PACKAGES = ("scipy", "matplotlib", "snakemake", "mnist1d", "tqdm", "pyyaml", "pandas")
PRACTITIONER_MODULES = ("ctadam.optim", "ctadam.monitor", "ctadam.theory.stability",
                        "ctadam.cli")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package's wheel, built from a copy of its sources (the build leaves files behind)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "code" / "ctadam", src / "code" / "ctadam",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", str(src), "-w", str(out)], check=True, timeout=300)
    (path,) = out.glob("ctadam-*.whl")
    return path


def requires(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The wheel's plain Requires-Dist and those of each extra."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(name).decode().splitlines()
    plain, extras = [], {}
    for line in lines:
        if line.startswith("Requires-Dist: "):
            req = line.removeprefix("Requires-Dist: ")
            m = re.fullmatch(r'(.+); extra == "(\w+)"', req)
            if m:
                extras.setdefault(m.group(2), []).append(m.group(1).strip())
            else:
                plain.append(req.strip())
    return plain, extras


def test_bare_install_declares_torch_and_numpy_with_lower_bounds(wheel):
    plain, extras = requires(wheel)
    names = {re.split(r"[<>=!~;\[ ]", r)[0].lower() for r in plain}
    assert names == {"torch", "numpy"}
    assert all(">=" in r and "==" not in r for r in plain), plain
    assert {"workflow", "dev"} <= set(extras)
    for req in extras["workflow"]:
        assert "==" in req, f"the workflow extra pins exact versions, got {req}"


def test_lock_pins_every_pinned_extra_and_torch_2_13():
    lock = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version and " " not in line, f"not an exact pin: {line!r}"
            lock[name.lower().replace("_", "-")] = version
    assert lock["torch"] == "2.13.0"  # no +cpu: a CUDA machine gets its own build
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for extra in project["optional-dependencies"].values():
        for req in extra:
            if "==" in req:
                name, version = req.split("==")
                assert lock.get(name.lower().replace("_", "-")) == version, req


def test_practitioner_modules_import_nothing_of_the_workflow():
    code = (f"import sys; import {', '.join(PRACTITIONER_MODULES)}; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WORKFLOW_ONLY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120, env={"PYTHONPATH": str(REPO / "code")})
    assert out.stdout.strip() == "[]", out.stdout


USE = textwrap.dedent("""
    import subprocess, sys
    import torch
    from ctadam.monitor import StabilityMonitor
    from ctadam.optim import KAdam

    model = torch.nn.Linear(4, 2)
    opt = KAdam(model.parameters(), k=2, lr=1e-2)
    monitor = StabilityMonitor(model)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        monitor.step()
    print("verdict", monitor.verdict())
    cli = [sys.argv[1], "check"]
    helptext = subprocess.run(cli + ["--help"], capture_output=True, text=True).stdout
    flags = ["--beta1", "0.9", "--beta2", "0.999"] if "--beta1" in helptext else [
        "--beta", "0.9", "--gamma", "0.999"]
    done = subprocess.run(cli + flags, capture_output=True, text=True)
    print("check", done.returncode, done.stdout)
    sys.exit(done.returncode)
""")


@pytest.mark.slow
def test_fresh_venv_with_torch_numpy_and_the_bare_package(wheel, tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no source tree
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # torch 2.13.0 resolves from the local wheel on this machine; numpy from the index
    subprocess.run([*pip, "torch==2.13.0", "numpy"], check=True, timeout=900, env=env)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=300, env=env)
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list"],
                            capture_output=True, text=True, check=True, env=env).stdout.lower()
    for name in WORKFLOW_PACKAGES:
        assert f"\n{name} " not in listed, listed
    done = subprocess.run([str(venv / "bin" / "python"), "-c", USE, str(venv / "bin" / "ctadam")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict" in done.stdout and "check 0" in done.stdout
