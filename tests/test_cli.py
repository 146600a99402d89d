"""`ctadam check`: both verdicts, the band, the JSON object and the exit status."""

import json
import subprocess
import sys

import pytest

from ctadam import cli


def run(capsys, *args):
    code = cli.main(["check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_default_pair_is_stable(capsys):
    code, out, _ = run(capsys, "--betas", "0.9", "0.999")
    assert code == 0
    assert "STABLE (beta1^2 < beta2)" in out and "B_inf = 7.27029" in out and "+0.189" in out
    assert "kernel bound r1/sqrt(r2 C) = 7.46667" in out and "BAND" not in out


def test_unstable_pair_reports_growth(capsys):
    code, out, _ = run(capsys, "--betas", "0.99", "0.9", "--steps", "100")
    assert code == 1
    assert "UNSTABLE" in out and "rho" in out and "0.0426" in out and "B_N at N = 100" in out
    assert "|C|/2 = 0.0454545" in out


def test_band_pair_is_named_and_exits_by_the_exact_verdict(capsys):
    code, out, _ = run(capsys, "--betas", "0.5", "0.3")
    assert code == 0
    assert "STABLE (beta1^2 < beta2)" in out and "UNSTABLE (C <= 0)" in out
    assert "IN THE BAND" in out


def test_json_object(capsys):
    code, out, _ = run(capsys, "--betas", "0.5", "0.3", "--json")
    result = json.loads(out)
    assert code == 0
    assert set(result) == {"beta1", "beta2", "discrete", "continuous", "band"}
    assert (result["beta1"], result["beta2"]) == (0.5, 0.3)
    assert result["discrete"] == {"stable": True, "bound_inf": pytest.approx(1.46385, rel=1e-5),
                                  "rho": 0.0}
    assert result["continuous"] == {"C": pytest.approx(-1 / 3), "stable": False, "bound": None,
                                    "growth_rate": pytest.approx(1 / 6)}
    assert result["band"] is True


def test_json_outside_and_at_the_defaults(capsys):
    code, out, _ = run(capsys, "--betas", "0.99", "0.9", "--json", "--steps", "100")
    result = json.loads(out)
    assert code == 1 and result["band"] is False
    assert result["discrete"]["bound_inf"] is None
    assert result["discrete"]["rho"] == pytest.approx(0.0426299, rel=1e-5)
    assert result["discrete"]["bound_n"] == pytest.approx(11.8736, rel=1e-5)
    code, out, _ = run(capsys, "--betas", "0.9", "0.999", "--json")
    cont = json.loads(out)["continuous"]
    assert code == 0 and cont["stable"] and cont["growth_rate"] == 0.0
    assert cont["bound"] == pytest.approx(7.46667, rel=1e-5)
    assert cont["C"] == pytest.approx(0.221221, rel=1e-5)


def test_huge_bound_is_printed_as_exponential(capsys):
    code, out, _ = run(capsys, "--betas", "0.99", "0.5", "--steps", "1000000")
    assert code == 1 and "exp(" in out


def test_sign_step_is_stable(capsys):
    code, out, _ = run(capsys, "--betas", "0", "0", "--steps", "50")
    assert code == 0
    assert "STABLE (beta1 = beta2 = 0" in out and "B_inf = 1 " in out
    assert "B_N at N = 50: 1\n" in out
    assert "UNSTABLE" not in out and "C undefined" in out


def test_rmsprop_has_no_kernel_bound(capsys):
    code, out, _ = run(capsys, "--betas", "0", "0.999", "--json")
    result = json.loads(out)
    assert code == 0 and result["continuous"]["stable"] and result["continuous"]["C"] is None
    assert result["discrete"]["bound_inf"] == pytest.approx(31.6228, rel=1e-5)


def test_beta2_zero_is_reported_unbounded(capsys):
    code, out, _ = run(capsys, "--betas", "0.9", "0")
    assert code == 1
    assert "UNSTABLE (beta1^2 > beta2)" in out and out.count("unbounded (beta2 = 0)") == 2
    assert "C = 2(1-beta1)/beta1 - (1-beta2)/beta2 is unbounded below" in out
    assert "inf" not in out.replace("unbounded", "")


def test_boundary_pair_has_zero_growth_rate(capsys):
    code, out, _ = run(capsys, "--betas", "0.9", "0.81")
    assert code == 1 and "on the boundary" in out
    assert "rho = ln(beta1) - ln(beta2)/2 = 0 " in out


def test_levels(capsys):
    code, out, _ = run(capsys, "--levels", "0.9,0.999;0.9,0.99")
    assert code == 0 and "level 2" in out and "k = 2" in out
    code, out, _ = run(capsys, "--levels", "0.99,0.9;0.9,0.99")
    assert code == 1 and "UNSTABLE (some level outside)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--betas", "1.0", "0.9"], "--betas BETA1 must be in [0, 1)"),
        (["--betas", "0.9", "-0.1"], "--betas BETA2 must be in [0, 1)"),
        (["--betas", "nan", "0.9"], "--betas BETA1 must be finite"),
        (["--betas", "abc", "0.9"], "argument --betas: invalid float value"),
        (["--betas", "0.9"], "argument --betas: expected 2 arguments"),
        ([], "give --betas BETA1 BETA2"),
        (["--beta", "0.9", "--gamma", "0.999"], "--beta/--gamma are no longer accepted"),
        (["--gamma", "0.999"], "ambiguous"),
        (["--betas", "0.9", "0.99", "--steps", "0"], "--steps must be an integer"),
        (["--levels", "0.9"], "level 1 must be 'beta1,beta2'"),
        (["--levels", "0.9,1.5"], "beta2 of level 1 must be in [0, 1)"),
        (["--levels", "0.9,0.99", "--betas", "0.9", "0.99"], "--levels replaces --betas"),
        (["--levels", "0.9,0.99", "--json"], "--json reports one pair"),
        # issue 18.12: the internal name `n`, and argparse taking -inf for an option
        (["--betas", "0.9", "0.99", "--steps", str(10**21)],
         "--steps must be an integer [1, 9007199254740992], got 1000000000000000000000"),
        (["--betas", "0.9", "-inf"], "--betas BETA2 must be finite and in [0, 1), got -inf"),
        (["--betas", "-0.5", "0.9"], "--betas BETA1 must be in [0, 1), got -0.5"),
        (["--betas", "0.9", "0.99", "--steps", "-3"], "--steps must be an integer [1, "),
    ],
)
def test_bad_input_exits_2_with_message(capsys, args, message):
    code = None
    try:
        code, _, err = run(capsys, *args)
    except SystemExit as exc:  # argparse's own errors (type, count) exit from parse_args
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    assert message in err


def test_console_entry_point_exit_status():
    for args, expected in ((["--betas", "0.9", "0.999"], 0),
                           (["--betas", "0.99", "0.9"], 1),
                           (["--betas", "abc", "0.9"], 2),
                           (["--beta", "0.9", "--gamma", "0.999"], 2)):
        proc = subprocess.run([sys.executable, "-m", "ctadam.cli", "check", *args],
                              capture_output=True, text=True)
        assert proc.returncode == expected, proc.stderr
