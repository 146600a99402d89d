"""Atomic writers (temporary files: unique, removed on failure, cleared when stale), JSON with
non-finite floats, the finiteness check of configs, and LaTeX number formatting."""

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ctadam import io


def test_json_round_trips_non_finite_floats(tmp_path):
    record = {"a": [1.5, math.inf, -math.inf], "b": math.nan}
    path = io.write_json_atomic(tmp_path / "r.json", record)
    back = io.read_json(path)
    assert back["a"] == [1.5, math.inf, -math.inf] and math.isnan(back["b"])
    assert "NaN" not in path.read_text() and not list(tmp_path.glob(".*.tmp"))


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


def test_a_failed_write_removes_its_temporary_file(tmp_path):
    target = io.write_text_atomic(tmp_path / "out.txt", "old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with io.atomic_output(target) as handle:
            handle.write(b"half of the new content")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old" and temp_files(tmp_path) == []


def test_two_writers_of_one_target_get_their_own_temporary_files(tmp_path):
    target = tmp_path / "out.bin"
    with io.atomic_output(target) as first, io.atomic_output(target) as second:
        # two files, and the second writer did not take the first one's (live, locked)
        # file for a stale one
        names = [p.name for p in temp_files(tmp_path)]
        assert len(names) == 2 and all(n.startswith(".out.bin.") for n in names)
        first.write(b"first")
        second.write(b"second")
    assert target.read_bytes() == b"first"  # the outer block finished (replaced) last
    assert temp_files(tmp_path) == []


def test_temporary_file_of_a_killed_writer_is_cleared_by_the_next(tmp_path):
    target = tmp_path / "out.txt"
    killed = ("import os, signal, sys\n"
              "from ctadam import io\n"
              "with io.atomic_output(sys.argv[1]) as handle:\n"
              "    handle.write(b'partial')\n"
              "    handle.flush()\n"
              "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", killed, str(target)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    stale = temp_files(tmp_path)
    assert len(stale) == 1 and stale[0].read_bytes() == b"partial" and not target.exists()
    (tmp_path / ".other.txt.abcdefgh.tmp").write_text("another target's")  # not touched
    io.write_text_atomic(target, "done")
    assert target.read_text() == "done"
    assert [p.name for p in temp_files(tmp_path)] == [".other.txt.abcdefgh.tmp"]


def test_atomic_writes_keep_the_usual_file_mode(tmp_path):
    path = io.write_text_atomic(tmp_path / "r.txt", "x")
    assert path.stat().st_mode & 0o644 == 0o644  # not mkstemp's owner-only 0600


def test_nonfinite_numbers_are_found_anywhere_with_their_key_path():
    config = {"sweep": {"lr": math.nan, "beta1s": [0.5, math.inf]}, "data": {"seed": 1},
              "flag": True, "name": "nan", "x": -math.inf}
    found = io.nonfinite_keys(config)
    assert [key for key, _ in found] == ["config.sweep.lr", "config.sweep.beta1s[1]", "config.x"]
    assert math.isnan(found[0][1]) and found[1][1] == math.inf and found[2][1] == -math.inf
    with pytest.raises(ValueError, match=r"finite.*config\.sweep\.lr = nan.*"
                                         r"config\.sweep\.beta1s\[1\] = inf"):
        io.require_finite(config)
    io.require_finite({"a": [1, 2.5, {"b": 1e308}], "c": None})


def test_macros_are_sorted_and_names_checked(tmp_path):
    path = io.write_macros(tmp_path / "n.tex", {"Beta": "2", "Alpha": "1"})
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("\\newcommand")]
    assert lines == ["\\newcommand{\\Alpha}{1}", "\\newcommand{\\Beta}{2}"]
    with pytest.raises(ValueError, match="letters only"):
        io.write_macros(tmp_path / "bad.tex", {"Bad1": "x"})


@pytest.mark.parametrize("x, digits, expected", [
    (3.46e17, 2, r"\ensuremath{3.5\times 10^{17}}"),
    (1e-16, 1, r"\ensuremath{10^{-16}}"),
    (6.2e-15, 1, r"\ensuremath{6\times 10^{-15}}"),
    (-1e3, 1, r"\ensuremath{-10^{3}}"),
    (0.0, 1, "0"),
    (math.inf, 1, r"\ensuremath{\infty}"),
])
def test_latex_sci(x, digits, expected):
    assert io.latex_sci(x, digits) == expected
