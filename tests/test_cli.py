"""`ctadam check`: verdict, numbers and exit status."""

import subprocess
import sys

import pytest

from ctadam import cli


def run(capsys, *args):
    code = cli.main(["check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_default_pair_is_stable(capsys):
    code, out, _ = run(capsys, "--beta", "0.9", "--gamma", "0.999")
    assert code == 0
    assert "STABLE" in out and "B_inf = 7.27029" in out and "+0.189" in out


def test_unstable_pair_reports_growth(capsys):
    code, out, _ = run(capsys, "--beta", "0.99", "--gamma", "0.9", "--steps", "100")
    assert code == 1
    assert "UNSTABLE" in out and "rho" in out and "0.0426" in out and "B_N at N = 100" in out


def test_huge_bound_is_printed_as_exponential(capsys):
    code, out, _ = run(capsys, "--beta", "0.99", "--gamma", "0.5", "--steps", "1000000")
    assert code == 1 and "exp(" in out


def test_sign_step_is_stable(capsys):
    code, out, _ = run(capsys, "--beta", "0", "--gamma", "0", "--steps", "50")
    assert code == 0
    assert "STABLE (beta = gamma = 0" in out and "B_inf = 1 " in out and "B_N at N = 50: 1\n" in out
    assert "UNSTABLE" not in out and "boundary" not in out


def test_gamma_zero_is_reported_unbounded(capsys):
    code, out, _ = run(capsys, "--beta", "0.9", "--gamma", "0")
    assert code == 1
    assert "UNSTABLE (beta^2 > gamma)" in out and out.count("unbounded (gamma = 0)") == 2
    assert "inf" not in out.replace("unbounded", "")


def test_boundary_pair_has_zero_growth_rate(capsys):
    code, out, _ = run(capsys, "--beta", "0.9", "--gamma", "0.81")
    assert code == 1 and "on the boundary" in out and "rho = ln(beta) - ln(gamma)/2 = 0 " in out


def test_levels(capsys):
    code, out, _ = run(capsys, "--levels", "0.9,0.999;0.9,0.99")
    assert code == 0 and "level 2" in out and "k = 2" in out
    code, out, _ = run(capsys, "--levels", "0.99,0.9;0.9,0.99")
    assert code == 1 and "UNSTABLE (some level outside)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beta", "1.0", "--gamma", "0.9"], "--beta must be in [0, 1)"),
        (["--beta", "0.9", "--gamma", "-0.1"], "--gamma must be in [0, 1)"),
        (["--beta", "0.9"], "give --beta and --gamma"),
        (["--beta", "0.9", "--gamma", "0.99", "--steps", "0"], "--steps must be an integer"),
        (["--levels", "0.9"], "level 1 must be 'beta,gamma'"),
        (["--levels", "0.9,1.5"], "gamma of level 1 must be in [0, 1)"),
        (["--levels", "0.9,0.99", "--beta", "0.9"], "--levels replaces --beta/--gamma"),
        (["--levels", "0.9,0.99", "--gamma", "0.99"], "--levels replaces --beta/--gamma"),
        (["--levels", "0.9,0.99", "--beta", "0.9", "--gamma", "0.99"],
         "--levels replaces --beta/--gamma"),
    ],
)
def test_bad_input_exits_2_with_message(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err


def test_console_entry_point_exit_status():
    for args, expected in ((["--beta", "0.9", "--gamma", "0.999"], 0),
                           (["--beta", "0.99", "--gamma", "0.9"], 1),
                           (["--beta", "abc", "--gamma", "0.9"], 2)):
        proc = subprocess.run([sys.executable, "-m", "ctadam.cli", "check", *args],
                              capture_output=True, text=True)
        assert proc.returncode == expected, proc.stderr
