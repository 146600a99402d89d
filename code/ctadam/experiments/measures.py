r"""The one place where a training run is called growing or unstable, and the bound check.

Both stability families (:mod:`ctadam.experiments.stability_sweep`,
:mod:`ctadam.experiments.stability_training`) read their verdicts from here. Letters: the
paper's gamma is torch ``beta1``, its beta torch ``beta2``.

Verdicts

* :func:`monitor_unstable` (the sweep's label): the run diverged (non-finite loss or parameter
  norm above ``diverge_norm``) or the :class:`~ctadam.monitor.StabilityMonitor` flagged
  exponential growth of :math:`\lVert\theta_n\rVert`; :func:`unstable_by_p_max` replays the
  monitor's rule at other thresholds on the logged norms (no retraining).
* :func:`is_growing` (the training family's label): the run diverged, or the fitted growth of
  :math:`\lVert u_n\rVert_\infty` over the last window exceeds a factor ``growth_factor``.

Measurements

* :func:`window_slope`, :func:`max_window_slope`: least-squares slopes of
  :math:`\ln\lVert u_n\rVert_\infty` against n, compared with
  :math:`\rho = \ln\gamma - \tfrac12\ln\beta` (\cref{eq:growth-rate});
* :func:`max_growth_rate`: the largest windowed slope of :math:`\ln\lVert\theta_n\rVert`;
* :func:`bound_ratios`, :func:`check_bound`: the hard property inside the exact region
  :math:`\beta > \gamma^2` (\cref{eq:region}), :math:`\max_n \max_i |u_{n,i}| / B_n \le 1`
  with :math:`B_n` of \cref{eq:bound-n}.

Everything imports numpy and the monitor lazily: the family packages import this module when
the workflow is parsed.
"""

import math

from ctadam.checks import check_real

MAX_SLOPE_STRIDE = 10  # steps between the starts of the windows of the max slope


class BoundViolation(ValueError):
    """An update coordinate exceeded B_n in a run inside the stable region."""


# --- verdicts ----------------------------------------------------------------------------

def monitor_unstable(record: dict) -> bool:
    """The run diverged or its stability monitor flagged exponential growth."""
    return record["status"] != "ok" or bool(record["monitor"]["exponential"])


def p_max_key(p_max: float) -> str:
    """JSON key of one threshold in ``unstable_by_p_max``, e.g. ``"1.5"``."""
    return f"{p_max:g}"


def unstable_by_p_max(record: dict, p_max_values) -> dict[str, bool]:
    """Measured label of a run for each threshold: diverged, or the replayed rule flags it.

    Raises ``ValueError`` if the replay at the run's own ``monitor.max_loglog_slope`` does
    not give the step its monitor flagged (the replay would then not be the monitor's rule).
    """
    from ctadam.monitor import first_flag

    mon = record["config"]["monitor"]
    steps, norms = record["log"]["step"], record["log"]["param_norm"]
    own = first_flag(steps, norms, mon["window"], mon["max_loglog_slope"])
    if own != record["monitor"]["flagged_at"]:
        raise ValueError(f"replaying the monitor rule flags step {own}, but the record's monitor "
                         f"flagged {record['monitor']['flagged_at']}")
    diverged = record["status"] != "ok"
    return {p_max_key(p): diverged or first_flag(steps, norms, mon["window"], p) is not None
            for p in p_max_values}


def is_growing(diverged: bool, log_growth: float, growth_factor: float) -> bool:
    """Diverged, or the fitted log growth over the window above ln(growth_factor)."""
    return bool(diverged or (math.isfinite(log_growth) and log_growth > math.log(growth_factor)))


# --- measurements ------------------------------------------------------------------------

def usable_end(u_max) -> int:
    """Number of leading entries of ``u_max`` that are finite and positive."""
    import numpy as np

    u = np.asarray(u_max, dtype=float)
    bad = np.flatnonzero(~(np.isfinite(u) & (u > 0)))
    return int(bad[0]) if bad.size else int(u.size)


def window_slope(u_max, window: int) -> tuple[float, int, int]:
    """(slope, first step, last step) of ln ||u_n||_inf over the last ``window`` usable steps.

    Fewer than 3 usable steps give a NaN slope.
    """
    import numpy as np

    u = np.asarray(u_max, dtype=float)
    end = usable_end(u)
    start = max(0, end - window)
    if end - start < 3:
        return math.nan, start + 1, end
    n = np.arange(start + 1, end + 1, dtype=float)
    slope = float(np.polyfit(n, np.log(u[start:end]), 1)[0])
    return slope, start + 1, end


def max_window_slope(u_max, window: int) -> float:
    """Largest slope of ln ||u_n||_inf over windows of ``window`` usable steps (stride 10)."""
    import numpy as np

    u = np.asarray(u_max, dtype=float)
    end = usable_end(u)
    if end <= window:
        return window_slope(u, window)[0]
    n, y = np.arange(1, end + 1, dtype=float), np.log(u[:end])
    return float(max(np.polyfit(n[s:s + window], y[s:s + window], 1)[0]
                     for s in range(0, end - window + 1, MAX_SLOPE_STRIDE)))


def max_growth_rate(steps, norms, window: int) -> float:
    """Largest windowed slope of ln|theta| over the finite, positive prefix of ``norms``.

    Runs too short for one window are fitted whole (at least 3 points), else NaN.
    """
    from ctadam.monitor import fit_growth

    bad = [i for i, v in enumerate(norms) if not (math.isfinite(v) and v > 0)]
    end = bad[0] if bad else len(norms)
    steps, norms = steps[:end], norms[:end]
    w = min(window, len(steps))
    if w < 3:
        return math.nan
    rates = [fit_growth(steps[i:i + w], norms[i:i + w])[0] for i in range(len(steps) - w + 1)]
    rates = [r for r in rates if math.isfinite(r)]
    return max(rates) if rates else math.nan


def bound_ratios(beta1: float, beta2: float, u_max) -> tuple[float, float]:
    """(max_n max_i |u_n,i| / B_n, the same over n >= 2) inside the exact region, else NaNs.

    A non-finite update counts as an infinite ratio.
    """
    import numpy as np

    from ctadam.theory.stability import bound_n, in_stable_region

    u = np.asarray(u_max, dtype=float)
    if not (bool(in_stable_region(beta1, beta2)) and u.size):
        return math.nan, math.nan
    ratios = np.where(np.isfinite(u), u, np.inf) / bound_n(beta1, beta2, np.arange(1, u.size + 1))
    late = float(np.max(ratios[1:])) if u.size > 1 else math.nan
    return float(np.max(ratios)), late


def check_bound(runs: list[dict], tolerance: float) -> dict:
    """Check max_n max_i |u_n,i| / B_n <= 1 + tolerance in every run inside the region.

    ``runs`` hold ``id``, ``inside``, ``max_bound_ratio`` and ``max_bound_ratio_after_first``.
    Returns ``{"runs": count, "max_ratio": worst, "max_ratio_after_first": worst over n >= 2}``
    (step 1 is a sign step, :math:`|u_{1,i}| = 1 = B_1`); raises :class:`BoundViolation` listing
    the offending runs otherwise (a NaN ratio, i.e. a non-finite update inside, also fails).
    """
    tolerance = check_real("tolerance", tolerance, 0.0)
    inside = [r for r in runs if r["inside"]]
    bad = [r for r in inside if not r["max_bound_ratio"] <= 1.0 + tolerance]
    if bad:
        listing = ", ".join(f"{r['id']} (ratio {r['max_bound_ratio']:.6g})" for r in bad)
        raise BoundViolation(f"hard property violated: {len(bad)} of {len(inside)} runs inside "
                             f"the stable region had an update coordinate above B_n: {listing}")
    worst = max((r["max_bound_ratio"] for r in inside), default=math.nan)
    late = max((r["max_bound_ratio_after_first"] for r in inside), default=math.nan)
    return {"runs": len(inside), "max_ratio": worst, "max_ratio_after_first": late}
