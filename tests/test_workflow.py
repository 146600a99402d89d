"""Tests of the workflow as a whole: config validation, the smoke profile end to end in a
temporary copy of the repository, the paper's LaTeX log, and the Slurm profile's dry run.

The end-to-end run takes a few minutes (budget: 3); it runs once per session (module fixture)
and the tests that need its outputs share it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from ctadam import paper

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
PROFILES = ("smoke", "quick", "full")

# Never copied into the temporary repository: environments, caches and generated outputs.
SKIP_TOP = {".git", ".venv", ".snakemake", "data", "figures", "logs", "benchmarks"}


def repo_files() -> list[str]:
    """Paths (relative to the repository) of the sources: tracked and not-ignored files."""
    if (REPO / ".git").exists() and shutil.which("git"):
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout.decode()
        files = [f for f in out.split("\0") if f]
    else:  # a source archive without .git: everything but the generated directories
        files = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()]
    keep = []
    for rel in files:
        parts = Path(rel).parts
        if parts[0] in SKIP_TOP and rel not in ("data/README.md", "figures/README.md"):
            continue
        if parts[:2] == ("paper", "generated") or "__pycache__" in parts:
            continue
        if (REPO / rel).is_file():
            keep.append(rel)
    return keep


def copy_repo(dest: Path) -> Path:
    """Copy the repository's sources into ``dest`` (no .venv, data, figures, outputs)."""
    for rel in repo_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    return dest


def run_snakemake(args: list[str], cwd: Path, timeout: float = 120,
                  path_first: Path | None = None) -> subprocess.CompletedProcess:
    """Run snakemake in ``cwd`` with this interpreter's environment and the copy's code.

    ``path_first`` goes before the code on PYTHONPATH (e.g. a directory that blocks torch).
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (path_first, cwd / "code") if p)
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def inputs_of_rule_all(dry_run_output: str) -> list[str]:
    """The input files of the job of rule ``all`` as a dry run prints them."""
    match = re.search(r"^(?:local)?rule all:\n    input: (.*)$", dry_run_output, re.MULTILINE)
    assert match, "the dry run lists no job of rule all:\n" + dry_run_output[-3000:]
    return [f.strip() for f in match.group(1).split(",")]


def job_stats(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: number of jobs}."""
    match = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal\s+(\d+)", dry_run_output,
                      re.DOTALL)
    assert match, "the dry run has no job stats table:\n" + dry_run_output[-3000:]
    stats = {}
    for line in match.group(1).splitlines():
        rule, count = line.split()
        stats[rule] = int(count)
    assert sum(stats.values()) == int(match.group(2))
    return stats


# ---- (a) configuration ---------------------------------------------------------------------

def load_yaml(path: Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def walk_properties(schema: dict, where: str = "config"):
    """Yield (dotted name, schema) of every property in the schema, depth first."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}.{name}", sub
        yield from walk_properties(sub, f"{where}.{name}")
        for key, suffix in (("items", "[]"), ("additionalProperties", ".*")):
            if isinstance(sub.get(key), dict):  # array items; values of a keyed map
                yield from walk_properties(sub[key], f"{where}.{name}{suffix}")


def test_schema_describes_every_property_and_closes_every_object():
    schema = load_yaml(SCHEMA)
    assert schema.get("additionalProperties") is False
    for name, sub in walk_properties(schema):
        assert sub.get("description"), f"{name} has no description in config/schema.yaml"
        if sub.get("type") == "object":  # closed: no keys, or a map with listed key names
            extra = sub.get("additionalProperties")
            closed = extra is False or (isinstance(extra, dict) and "propertyNames" in sub)
            assert closed, f"{name} allows unknown keys"


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_is_valid_on_its_own(profile):
    config = load_yaml(REPO / "config" / f"{profile}.yaml")
    validate(config, str(SCHEMA))
    assert config["profile"] == profile


def test_schema_rejects_an_unknown_key():
    config = load_yaml(REPO / "config" / "smoke.yaml")
    config["bench"]["repats"] = 3
    with pytest.raises(Exception, match="repats"):
        validate(config, str(SCHEMA))


def test_workflow_rejects_a_bad_value_naming_the_key(tmp_path):
    config = load_yaml(REPO / "config" / "smoke.yaml")
    config["bench"]["sizes"] = [1000, -5]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = run_snakemake(["--dry-run", "--cores", "1", "--configfile", str(bad)], cwd=REPO)
    text = output_of(proc)
    assert proc.returncode != 0
    assert "-5" in text and "sizes" in text and "bench" in text, text[-2000:]


# ---- (b) the smoke profile end to end --------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Copy the repository, run the whole workflow on the smoke profile, return the result."""
    root = copy_repo(tmp_path_factory.mktemp("repo"))
    smoke = ["--configfile", "config/smoke.yaml"]
    plan = run_snakemake(["--dry-run", "--forceall", "--cores", "2", *smoke], cwd=root)
    assert plan.returncode == 0, output_of(plan)[-3000:]
    targets = inputs_of_rule_all(output_of(plan))
    omit = [] if shutil.which("latexmk") else ["--omit-from", "paper"]
    if omit:
        targets = [t for t in targets if t != "paper/main.pdf"]
    proc = run_snakemake(["--cores", "2", *smoke, *omit], cwd=root, timeout=900)
    return {"root": root, "targets": targets, "proc": proc, "omit": omit}


def check_output_file(path: Path) -> None:
    """Assert that a workflow output exists, is non-empty and is a valid file of its kind."""
    assert path.is_file(), f"{path} was not made"
    data = path.read_bytes()
    assert data, f"{path} is empty"
    if path.suffix == ".pdf":
        assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:], f"{path} is no PDF"
    elif path.suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is no PNG"
    elif path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".tex":
        assert b"\\" in data, f"{path} holds no LaTeX"


def test_smoke_workflow_makes_every_target(smoke_run):
    proc = smoke_run["proc"]
    assert proc.returncode == 0, output_of(proc)[-5000:]
    assert smoke_run["targets"], "rule all has no inputs"
    for target in smoke_run["targets"]:
        check_output_file(smoke_run["root"] / target)
    figures = [t for t in smoke_run["targets"] if t.startswith("figures/")]
    assert figures, "the workflow makes no figure"
    for figure in figures:  # every figure comes as PDF (paper) and PNG (README, report)
        for suffix in (".pdf", ".png"):
            check_output_file(smoke_run["root"] / Path(figure).with_suffix(suffix))
    records = sorted((smoke_run["root"] / "data").rglob("*.json"))
    assert records, "the workflow wrote no JSON record"
    for record in records:  # run records and summaries are complete, standard JSON
        check_output_file(record)


def test_smoke_workflow_is_then_up_to_date(smoke_run):
    assert smoke_run["proc"].returncode == 0
    proc = run_snakemake(["--dry-run", "--cores", "2", "--configfile", "config/smoke.yaml",
                          *smoke_run["omit"]], cwd=smoke_run["root"])
    assert proc.returncode == 0
    assert "Nothing to be done" in output_of(proc), output_of(proc)[-3000:]


def report_items(targets: list[str]) -> list[str]:
    """The figures and tables among the targets: each must be in the report with a caption."""
    figures = [t for t in targets if t.startswith("figures/") and t.endswith(".pdf")]
    tables = [t for t in targets if t.startswith("paper/generated/") and t.endswith(".tex")
              and not Path(t).name.startswith("numbers")]
    return figures + tables


def test_report_shows_every_figure_and_table_with_its_caption(smoke_run, torch_blocker):
    if smoke_run["omit"]:
        pytest.skip("latexmk is not installed, so paper/main.pdf (in the report) was not built")
    assert smoke_run["proc"].returncode == 0
    root = smoke_run["root"]
    # the report is made without torch, as a reviewer without it would make it
    proc = run_snakemake(["--report", "report.html", "--configfile", "config/smoke.yaml"],
                         cwd=root, path_first=torch_blocker)
    assert proc.returncode == 0, output_of(proc)[-3000:]
    added = set(re.findall(r"^Adding (\S+) \(", output_of(proc), re.MULTILINE))
    missing = [t for t in report_items(smoke_run["targets"]) if Path(t).name not in added]
    assert not missing, f"not in the report (wrap the output in report(...)): {missing}"
    captions = sorted((root / "report").glob("*.rst"))
    html = (root / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:500]
    shown = {Path(name).stem for name in added}
    for caption in captions:  # the title of the caption of every item shown reaches the HTML
        if caption.stem in shown:
            title = re.sub(r"[*`]", "", caption.read_text().split(".")[0]).split("'")[0]
            assert title.strip()[:40] in html, f"caption {caption.name} is not in the report"


# ---- (c) the paper compiled cleanly ----------------------------------------------------------

def test_paper_built_without_undefined_references_or_missing_figures(smoke_run):
    if shutil.which("latexmk") is None:
        pytest.skip("latexmk is not installed (Debian: make latex); the paper was not built")
    assert smoke_run["proc"].returncode == 0, output_of(smoke_run["proc"])[-5000:]
    log = smoke_run["root"] / "paper" / "main.log"
    text = log.read_text(encoding="latin-1")
    assert re.search(r"Output written on main\.pdf \((\d+) pages", text)
    assert paper.check_log(log) == []
    assert not re.search(r"(Reference|Citation) `[^']*' on page \d+ undefined", text)
    assert not re.search(r"File `[^']*' not found", text)
    check_output_file(smoke_run["root"] / "paper" / "main.pdf")


# ---- (d) the Slurm profile plans the same jobs -----------------------------------------------

@pytest.fixture(scope="module")
def full_plans(tmp_path_factory):
    """Dry runs of the full profile, plain and with profiles/slurm, in a fresh copy."""
    root = copy_repo(tmp_path_factory.mktemp("repo_full"))
    full = ["--dry-run", "--forceall", "--cores", "2", "--configfile", "config/full.yaml"]
    plain = run_snakemake(full, cwd=root)
    slurm = run_snakemake([*full, "--profile", "profiles/slurm"], cwd=root)
    rules = run_snakemake(["--list-rules"], cwd=root)
    return {"plain": plain, "slurm": slurm, "rules": output_of(rules).split()}


def test_slurm_profile_plans_every_job_of_the_full_profile(full_plans):
    plain, slurm = full_plans["plain"], full_plans["slurm"]
    assert plain.returncode == 0, output_of(plain)[-3000:]
    assert slurm.returncode == 0, output_of(slurm)[-3000:]
    assert job_stats(output_of(slurm)) == job_stats(output_of(plain))
    assert job_stats(output_of(plain))["all"] == 1
    assert inputs_of_rule_all(output_of(slurm)) == inputs_of_rule_all(output_of(plain))


def test_slurm_profile_names_only_existing_rules_and_gives_training_a_gpu(full_plans):
    profile = load_yaml(REPO / "profiles" / "slurm" / "config.yaml")
    assert profile["executor"] == "slurm"
    per_rule = profile.get("set-resources", {})
    unknown = set(per_rule) - set(full_plans["rules"])
    assert not unknown, f"profiles/slurm names rules that do not exist: {sorted(unknown)}"
    gpu_rules = [rule for rule, res in per_rule.items() if res.get("gpu")]
    assert gpu_rules, "no rule of the Slurm profile asks for a GPU"
    text = output_of(full_plans["slurm"])
    for rule in gpu_rules:
        blocks = re.findall(rf"^(?:local)?rule {rule}:\n(.*?)(?:\n\n|\Z)", text,
                            re.MULTILINE | re.DOTALL)
        assert blocks, f"the dry run plans no job of GPU rule {rule}"
        assert all(re.search(r"resources: .*\bgpu=1\b", b) for b in blocks), rule


def paper_sources() -> dict[str, str]:
    """main.tex and every section file, by path relative to paper/."""
    root = REPO / "paper"
    files = [root / "main.tex", *sorted((root / "sections").glob("*.tex"))]
    return {str(f.relative_to(root)): f.read_text(encoding="utf-8") for f in files}


def test_paper_includes_only_what_the_workflow_makes(full_plans):
    """Every figure and generated table the paper includes is an input of rule all's DAG."""
    made = set(inputs_of_rule_all(output_of(full_plans["plain"])))
    used = set()
    for text in paper_sources().values():
        text = re.sub(r"(?<!\\)%.*", "", text)
        used |= {f"figures/{name}" for name in re.findall(r"\\includegraphics(?:\[[^]]*\])?"
                                                          r"\{\.\./figures/([^}]+)\}", text)}
        used |= {f"paper/generated/{name if name.endswith('.tex') else name + '.tex'}"
                 for name in re.findall(r"\\input\{generated/([^}]+)\}", text)}
    used.discard("paper/generated/numbers.tex")  # made by rule paper_numbers for rule paper
    assert used, "the paper includes no figure or table"
    assert used <= made, f"not made by the workflow: {sorted(used - made)}"
