"""The four profiles (smoke, quick, gpu, full) set the same keys: a new key cannot be
forgotten in one of them. Values differ by design (scale); the key tree does not."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("smoke", "quick", "gpu", "full")


# Mappings keyed by data (a task name), not by setting: a profile may run fewer tasks, but
# every task that two profiles both run has the same keys in both.
DATA_KEYED = "tasks"
# Keyword arguments of the task's architecture, whose keys follow the arch a profile picks.
ARCH_KEYWORDS = "model"


def key_tree(node, prefix=""):
    """Every key path of a nested mapping, e.g. ``stability_sweep.shards``."""
    if not isinstance(node, dict):
        return set()
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if key != ARCH_KEYWORDS:
            paths |= key_tree(value, path + ".")
    return paths


def shared_tasks_only(tree: set[str], other: set[str]) -> set[str]:
    """``tree`` without the subtrees of tasks that ``other`` does not run."""
    def kept(path: str) -> bool:
        parts = path.split(".")
        for i, part in enumerate(parts[:-1]):
            if part == DATA_KEYED and ".".join(parts[: i + 2]) not in other:
                return False
        return True

    return {path for path in tree if kept(path)}


def load(name):
    return yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text(encoding="utf-8"))


def test_key_tree_sees_nested_keys():
    assert key_tree({"a": {"b": 1, "c": {"d": 2}}, "e": [1]}) == {"a", "a.b", "a.c", "a.c.d",
                                                                  "e"}
    tree = key_tree({"tasks": {"x": {"n": 1}, "y": {"m": 3}}})
    assert shared_tasks_only(tree, {"tasks", "tasks.x"}) == {"tasks", "tasks.x", "tasks.x.n"}


@pytest.mark.parametrize("name", [p for p in PROFILES if p != "quick"])
def test_every_profile_has_the_key_tree_of_the_quick_profile(name):
    quick, other = key_tree(load("quick")), key_tree(load(name))
    quick, other = shared_tasks_only(quick, other), shared_tasks_only(other, quick)
    assert not quick - other, f"config/{name}.yaml lacks {sorted(quick - other)}"
    assert not other - quick, f"config/{name}.yaml has keys quick.yaml lacks: " \
                              f"{sorted(other - quick)}"


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_names_itself(name):
    assert load(name)["profile"] == name
