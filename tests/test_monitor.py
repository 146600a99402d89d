"""Tests of ctadam.monitor.StabilityMonitor: growth fit, warning once, attachment to a loop."""

import math
import warnings

import pytest
import torch

from ctadam.monitor import (
    StabilityMonitor,
    UnstableGrowthWarning,
    first_flag,
    fit_growth,
    module_groups,
)


def test_fit_growth_recovers_exponential_rate():
    steps = list(range(100, 300, 10))
    rate, slope = fit_growth(steps, [3.0 * math.exp(0.02 * s) for s in steps])
    assert rate == pytest.approx(0.02, rel=1e-10)
    assert slope == pytest.approx(0.02 * sum(steps) / len(steps), rel=1e-10)


def test_fit_growth_rejects_bad_norms():
    assert all(math.isnan(v) for v in fit_growth([1, 2, 3], [1.0, 0.0, 2.0]))
    assert all(math.isnan(v) for v in fit_growth([1, 2, 3], [1.0, math.inf, 2.0]))


def feed(monitor: StabilityMonitor, norm) -> None:
    for step in range(10, 1010, 10):
        monitor.observe(step, {"a": norm(step) / math.sqrt(2), "b": norm(step) / math.sqrt(2)})


def test_exponential_growth_warns_once():
    monitor = StabilityMonitor(window=10)
    with pytest.warns(UnstableGrowthWarning) as caught:
        feed(monitor, lambda n: math.exp(0.01 * n))
    assert len(caught) == 1
    verdict = monitor.verdict()
    assert verdict["exponential"] and verdict["growth_rate"] == pytest.approx(0.01, rel=1e-9)
    # the local log-log slope r * mean(n) first exceeds 2 at a window mean of ~200 steps
    assert 200 <= verdict["flagged_at"] <= 300


@pytest.mark.parametrize("norm", [lambda n: 5.0 + 0.3 * n, lambda n: 5.0 + math.sqrt(n),
                                  lambda n: 5.0 * math.exp(-0.001 * n)])
def test_polynomial_growth_from_a_large_norm_is_not_flagged(norm):
    monitor = StabilityMonitor(window=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed(monitor, norm)
    assert monitor.verdict()["exponential"] is False


def test_bounded_updates_can_be_flagged():
    """p_max is a heuristic: bounded updates do not bound the local log-log slope.

    The norm shrinks by at most 0.01 per step to 0.01 at n = 500, then grows linearly at the
    same rate; p = r * mean(n) ~ mean(n) * 0.01 / |theta| exceeds 2 just after the turn.
    """
    def norm(n):
        return 0.01 + 0.01 * abs(n - 500)

    steps = range(10, 1010, 10)
    rates = [abs(norm(b) - norm(a)) / (b - a) for a, b in zip(steps, steps[1:], strict=False)]
    assert max(rates) <= 0.01 + 1e-12
    monitor = StabilityMonitor(window=10, warn=False)
    feed(monitor, norm)
    assert monitor.verdict()["exponential"] and 500 < monitor.verdict()["flagged_at"] <= 700
    # a much larger threshold still flags it: the slope is unbounded as |theta| -> 0
    assert first_flag(steps, [norm(n) for n in steps], 10, 20.0) is not None


@pytest.mark.parametrize("norm", [lambda n: math.exp(0.01 * n), lambda n: 5.0 + 0.3 * n,
                                  lambda n: 0.01 + 0.01 * abs(n - 500),
                                  lambda n: (n / 100.0) ** 2.5])
@pytest.mark.parametrize("p_max", [0.5, 1.0, 2.0, 4.0])
def test_first_flag_replays_the_monitor(norm, p_max):
    steps = list(range(10, 1010, 10))
    norms = [norm(n) for n in steps]
    monitor = StabilityMonitor(window=10, max_loglog_slope=p_max, warn=False)
    feed(monitor, norm)
    assert first_flag(steps, norms, 10, p_max) == monitor.verdict()["flagged_at"]
    # non-finite norms are skipped, as the engine never feeds them to the monitor
    with_gaps = [math.inf if i % 7 == 3 else v for i, v in enumerate(norms)]
    kept = [(s, v) for s, v in zip(steps, with_gaps, strict=True) if math.isfinite(v)]
    expected = StabilityMonitor(window=10, max_loglog_slope=p_max, warn=False)
    for s, v in kept:
        expected.observe(s, {"a": v})
    assert first_flag(steps, with_gaps, 10, p_max) == expected.verdict()["flagged_at"]


def test_first_flag_is_monotone_in_p_max():
    steps = list(range(10, 1010, 10))
    norms = [math.exp(0.01 * n) for n in steps]
    flags = [first_flag(steps, norms, 10, p) for p in (1.0, 2.0, 4.0, 8.0)]
    assert flags == sorted(flags) and flags[0] < flags[-1]
    assert first_flag(steps, norms, 10, 1e3) is None
    with pytest.raises(ValueError, match="max_loglog_slope must be in"):
        first_flag(steps, norms, 10, 0.0)
    with pytest.raises(ValueError, match="window must be an integer >= 3"):
        first_flag(steps, norms, 2, 2.0)


def test_attach_to_a_loop_records_groups_and_flags():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    monitor = StabilityMonitor(model, every=2, window=5, warn=False)
    assert list(module_groups(model)) == ["0", "2"]
    with torch.no_grad():
        for _ in range(200):
            for p in model.parameters():
                p.mul_(1.05)  # a loop whose parameters grow by 5% per step
            monitor.step()
    hist = monitor.history
    assert hist["step"][:3] == [2, 4, 6] and len(hist["step"]) == 100
    layer = model[0]
    expected = math.sqrt(sum(float(t.detach().double().pow(2).sum())
                             for t in (layer.weight, layer.bias)))
    assert hist["param_norm"][-1]["0"] == pytest.approx(expected, rel=1e-9)
    # update norm of the last step: |theta_n - theta_{n-1}| = 0.05/1.05 |theta_n|
    assert hist["update_norm"][-1]["0"] == pytest.approx(expected * 0.05 / 1.05, rel=1e-6)
    assert monitor.verdict()["growth_rate"] == pytest.approx(math.log(1.05), rel=1e-6)
    assert monitor.verdict()["exponential"]


def test_state_dict_round_trip():
    a = StabilityMonitor(window=10, warn=False)
    feed(a, lambda n: math.exp(0.01 * n))
    b = StabilityMonitor(window=10, warn=False)
    b.load_state_dict(a.state_dict())
    assert b.verdict() == a.verdict()


def test_bad_arguments():
    with pytest.raises(ValueError, match="window must be an integer >= 3"):
        StabilityMonitor(window=2)
    with pytest.raises(ValueError, match="max_loglog_slope must be in"):
        StabilityMonitor(max_loglog_slope=0.0)


def test_non_finite_parameters_are_a_divergence_at_once():
    """Issue 18.4: parameters that jumped to inf gave `exponential: False` (the fit is NaN)."""
    model = torch.nn.Linear(3, 2)
    monitor = StabilityMonitor(model, window=10, warn=False)
    for _ in range(3):
        monitor.step()
    with torch.no_grad():
        model.weight[0, 0] = math.inf
    monitor.step()
    verdict = monitor.verdict()
    assert verdict["exponential"] is True and verdict["flagged_at"] is None
    assert verdict["diverged_at"] == 4 and verdict["reason"] == "non-finite parameters"
    with pytest.warns(UnstableGrowthWarning, match="diverged at step 2: non-finite update"):
        StabilityMonitor().observe(2, {"a": 1.0}, {"a": math.nan})


def test_a_caller_reports_its_divergence():
    monitor = StabilityMonitor(window=10, warn=False)
    monitor.observe(1, {"a": 1.0})
    assert monitor.verdict()["exponential"] is False and "diverged_at" not in monitor.verdict()
    monitor.diverged(7, "parameter norm above diverge_norm")
    monitor.diverged(8, "later reasons do not count")
    restored = StabilityMonitor(window=10, warn=False)
    restored.load_state_dict(monitor.state_dict())
    for m in (monitor, restored):
        assert m.verdict()["exponential"] is True
        assert (m.verdict()["diverged_at"], m.verdict()["reason"]) == (
            7, "parameter norm above diverge_norm")


def test_wrong_types_are_named():
    """Issue 18.12: a list passed to the monitor gave an AttributeError."""
    params = list(torch.nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="groups must be a torch.nn.Module, a dict name -> list "
                                         "of parameters, or None, got list"):
        StabilityMonitor(params)
    with pytest.raises(ValueError, match="param_norms must be a dict group name -> norm, got "
                                         "list"):
        StabilityMonitor().observe(1, [1.0])
