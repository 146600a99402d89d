"""Tests of the speed experiment of family stability_training (the paper's Sec. 3.3): the two
lines of C, steps to target with censoring, the within-seed statistic and its verdict on
synthetic data whose answer is known, the seed-blocked bootstrap and the parse-time checks."""

import math

import numpy as np
import pytest

from ctadam import claims
from ctadam.experiments.stability_training import configs as stt
from ctadam.experiments.stability_training import speed
from ctadam.stats import VERDICTS

TARGETS = [3.4, 3.3, 3.2]
SP = {"beta1": 0.9, "beta2": 0.999, "points": 4, "seeds": list(range(6)), "steps": 120,
      "eval_every": 1, "eval_samples": 16, "n_train": 8, "block_size": 6, "targets": TARGETS,
      "bootstrap": 100, "bootstrap_seed": 0}
VERDICT_RULES = {"alpha": 0.05, "min_seeds": 5, "agreement": 0.9, "rate_tolerance": 0.2}


def section(**over):
    return {"speed": {**SP, **over}, "verdicts": VERDICT_RULES}


def curve(tau: float, horizon: int, floor: float = 3.0) -> dict:
    """Held-out loss every step: floor + 1.4 exp(-n / tau), n = 1 .. horizon."""
    n = np.arange(1, horizon + 1)
    return {"step": n.tolist(), "test_loss": (floor + 1.4 * np.exp(-n / tau)).tolist()}


def synthetic_runs(tau_of, seeds, horizon=120, points=4):
    """Measured-run stand-ins of both lines; ``tau_of(line, C, seed)`` sets the loss's time
    constant (a larger tau reaches every target later)."""
    sp = {**SP, "points": points}
    runs = []
    for p in stt.speed_points(sp):
        for s in seeds:
            runs.append({"id": f"{p['line']}_k{p['k']:02d}_s{s}", "c": p["c"],
                         "beta1": p["beta1"], "beta2": p["beta2"], "seed": s,
                         "eval": curve(tau_of(p["line"], p["c"], s), horizon)})
    return runs


def test_both_lines_share_the_c_grid_and_stay_inside_both_regions():
    pts = stt.speed_points(SP)
    c_max = stt.paper_c(0.9, 0.999)
    for line in stt.SPEED_LINES:
        p = [x for x in pts if x["line"] == line]
        assert [x["c"] for x in p] == pytest.approx([c_max * k / 4 for k in range(1, 5)])
        assert all(x["beta2"] > x["beta1"] ** 2 and x["c"] > 0 for x in p)
    gamma = [x for x in pts if x["line"] == "gamma"]
    assert all(x["beta2"] == 0.999 for x in gamma)
    assert [x["beta1"] for x in gamma] == sorted((x["beta1"] for x in gamma), reverse=True)
    assert gamma[-1]["beta1"] == pytest.approx(0.9)  # both lines end at (beta1, beta2)
    assert all(x["beta1"] == 0.9 for x in pts if x["line"] == "beta")
    with pytest.raises(ValueError, match="beta2=0.5 must lie inside the paper's region"):
        stt.speed_beta1s(0.9, 0.5, 4)


@pytest.mark.parametrize("targets, match", [
    ([], r"speed\.targets must be a non-empty list"),
    ([3.3, 3.4], r"speed\.targets must be strictly decreasing"),
    ([3.4, 3.4], r"speed\.targets must be strictly decreasing"),
    ([3.4, -1.0], r"speed\.targets\[1\] must be a finite number > 0"),
    ([3.4, float("nan")], r"speed\.targets\[1\] must be a finite number > 0"),
    ("3.4", r"speed\.targets must be a non-empty list"),
])
def test_targets_are_checked_at_parse_time_naming_the_key(targets, match):
    with pytest.raises(ValueError, match=match):
        stt.speed_runs({"speed": {**SP, "targets": targets}}, {})


def test_eval_every_is_checked_and_runs_carry_the_held_out_windows():
    with pytest.raises(ValueError, match=r"speed\.eval_every must be in \[1, steps=120\]"):
        stt.speed_points({**SP, "eval_every": 121})
    st = {"speed": SP, "eps": 1e-16, "dtype": "float64", "log_every": 10, "diverge_norm": 1e12,
          "tasks": {"shakespeare": {"lr": 0.01, "n_train": 4, "block_size": 8, "n_layer": 1,
                                    "n_head": 1, "n_embd": 8, "eval_samples": 4}}}
    runs = stt.speed_runs(st, {"shakespeare": "x.npz"})
    assert len(runs) == 2 * 4 * 6
    cfg = runs["gamma_k00_s5"]
    assert cfg["eval_samples"] == 16 and cfg["eval_every"] == 1 and cfg["seed"] == 5
    assert cfg["optimizer"]["betas"][1] == 0.999 and cfg["optimizer"]["betas"][0] > 0.9


def test_steps_to_target_every_step_and_censoring():
    ev = curve(10.0, 50)
    s = speed.steps_to(ev, 3.4)
    assert ev["test_loss"][s - 1] <= 3.4 < ev["test_loss"][s - 2]  # first step at or below
    assert s == math.ceil(10 * math.log(1.4 / 0.4))
    assert speed.steps_to({"step": [1, 2], "test_loss": [3.5, 3.4]}, 3.4) == 2
    assert speed.steps_to(ev, 2.9) is None
    assert speed.censored(None, 50) == 51 and speed.censored(7, 50) == 7


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    x, y = [1, 2, 3, 4, 5, 6], [10, 12, 12, 3, 31, 31]
    assert speed.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert math.isnan(speed.spearman([1, 2, 3], [5, 5, 5]))


def test_negative_correlation_in_every_seed_is_reproduced():
    runs = synthetic_runs(lambda line, c, s: 30 - 60 * c + 1.5 * s, range(6))
    out = speed.summarize(runs, section())
    assert out["verdict"] == VERDICTS[0]
    assert len(out["cells"]) == len(TARGETS) * 2
    for cell in out["cells"]:
        assert cell["seed_rhos"] == pytest.approx([-1.0] * 6) and cell["censored"] == 0
        assert cell["p_holm"] < 0.05 and cell["monotone"] and cell["falls"] == 3
        assert cell["low"] == pytest.approx(-1.0) and cell["high"] == pytest.approx(-1.0)
    assert out["value"]["median_mean_rho"] == pytest.approx(-1.0)
    row = claims.check_row(speed.claim(out, section()))
    assert row["verdict"] == VERDICTS[0] and row["seeds"] == 6
    assert row["rule"] == "stability_training_summary" and row["value"] == pytest.approx(-1.0)


def test_positive_correlation_is_not_reproduced_and_so_are_disagreeing_lines():
    runs = synthetic_runs(lambda line, c, s: 20 + 60 * c + 1.5 * s, range(6))
    out = speed.summarize(runs, section())
    assert out["verdict"] == VERDICTS[1] and out["value"]["median_mean_rho"] > 0.9
    mixed = synthetic_runs(lambda line, c, s: 20 + (60 if line == "beta" else -60) * c + s,
                           range(6))
    out = speed.summarize(mixed, section())
    assert out["verdict"] == VERDICTS[1]
    signs = {c["line"]: np.sign(c["mean_rho"]) for c in out["cells"]}
    assert signs == {"beta": 1.0, "gamma": -1.0}


def test_noise_only_with_few_seeds_is_undecidable():
    rng = np.random.default_rng(3)
    runs = synthetic_runs(lambda line, c, s: 25 + 5 * rng.standard_normal(), range(3))
    out = speed.summarize(runs, section(seeds=[0, 1, 2]))
    assert out["verdict"] == VERDICTS[2]
    # Few seeds make it undecidable even for a perfect correlation.
    perfect = synthetic_runs(lambda line, c, s: 30 - 60 * c + s, range(3))
    assert speed.summarize(perfect, section())["verdict"] == VERDICTS[2]


def test_censored_runs_rank_slowest_and_are_counted():
    # The smallest C never reaches the lowest target within the horizon (floor above it).
    runs = synthetic_runs(lambda line, c, s: 30 - 60 * c + s, range(6))
    for r in runs:
        if "_k00_" in r["id"]:
            r["eval"] = curve(30 - 60 * r["c"], 120, floor=3.25)
    out = speed.summarize(runs, section())
    low = [c for c in out["cells"] if c["target"] == 3.2]
    assert all(c["censored"] == 6 and c["per_c"][0]["mean"] == 121 for c in low)
    assert all(c["seed_rhos"] == pytest.approx([-1.0] * 6) for c in low)
    assert sum(r["reached"]["3.2"] is None for r in out["runs"]) == 12
    macros = speed.macros(out, section())
    assert macros["StabSpeedCensored"] == "12" and macros["StabSpeedVerdict"] == VERDICTS[0]
    assert "\\toprule" in speed.table(out) and "12" not in macros["StabSpeedSeeds"]


def test_bootstrap_resamples_whole_seeds(monkeypatch):
    """Each seed is perfectly ordered in C but seeds are offset so that pooling scrambles
    them: a bootstrap of whole seeds keeps every within-seed rho at -1 (a zero-width
    interval), and the blocks handed to block_bootstrap are the seeds with all their C points."""
    seen = []
    real = speed.block_bootstrap

    def spy(blocks, statistic, n_boot, confidence, seed):
        seen.append(blocks)
        return real(blocks, statistic, n_boot, confidence, seed)

    monkeypatch.setattr(speed, "block_bootstrap", spy)
    runs = synthetic_runs(lambda line, c, s: 20 - 40 * c + 8 * s, range(6))
    out = speed.summarize(runs, section())
    cell = out["cells"][0]
    assert (cell["low"], cell["high"]) == pytest.approx((-1.0, -1.0))
    assert cell["pooled"]["rho"] > -1.0 and cell["pooled"]["low"] < cell["pooled"]["high"]
    per_cell = [b for b in seen if isinstance(b[0], list)]
    assert per_cell and all(len(b) == 6 and all(len(seed) == 4 for seed in b)
                            for b in per_cell)
    for b in per_cell:  # one block = one seed: its 4 distinct C values
        assert all(len({c for c, _ in seed}) == 4 for seed in b)
    summary_blocks = [b for b in seen if isinstance(b[0], dict)]
    assert len(summary_blocks) == 1 and len(summary_blocks[0]) == 6
