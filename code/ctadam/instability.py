r"""The one pre-registered rule that calls a training run unstable, and when a cell can be decided.

The rule (fixed in the profile before any run, the same for every family):

    a run is **unstable** when :math:`\max_n \lVert u_n\rVert_\infty > K` or it diverged,

where :math:`u_n = \hat m_n / \sqrt{\hat v_n}` is Adam's update (eq:bound-n bounds each of its
coordinates by :math:`B_n`) and :math:`K` is the profile's threshold. The rule only means
something for a cell :math:`(\gamma, \beta)` (torch: ``beta1``, ``beta2``) where both outcomes
are possible within the run's horizon :math:`N`:

- inside the exact region (:math:`\beta > \gamma^2`, eq:region) the theorem guarantees
  :math:`\lVert u_n\rVert_\infty \le B_\infty` (eq:bound-inf), so the cell is decidable only
  when :math:`B_\infty < K`; otherwise the rule could call a bounded run unstable;
- outside it the worst case grows like :math:`e^{\rho n}`, :math:`\rho = \ln\gamma - \tfrac12
  \ln\beta` (eq:growth-rate); starting from an update of order one it reaches :math:`10K` (a
  decade of margin above the threshold) no earlier than :math:`n = \ln(10K)/\rho`, so a cell
  with :math:`N < \ln(10K)/\rho` is **undecidable**: it could never be called unstable;
- on the boundary (:math:`\rho = 0`) the worst case grows like :math:`\sqrt n` only: undecidable.

An undecidable cell is reported as such, never as bounded. :func:`horizon` picks a cell's
number of steps from :math:`\rho` so that it is decidable when the step budget allows.

The growth phase of a run (where its slope is measured, rather than at a fixed late step) is
defined before any run by :func:`growth_phase`: from the first step at which
:math:`\lVert u_n\rVert_\infty` exceeds ``onset`` times its value at step 1, to the step of its
peak.
"""

import math

import numpy as np

from ctadam.checks import check_int, check_real
from ctadam.theory import stability as st

DECIDABLE = "decidable"
UNDECIDABLE_BOUND = "undecidable: B_inf >= K"
UNDECIDABLE_HORIZON = "undecidable: horizon < ln(10 K)/rho"
UNDECIDABLE_BOUNDARY = "undecidable: on the boundary (rho = 0)"


def check_threshold(K) -> float:
    """The threshold ``K`` of the rule: a finite real > 1 (an update coordinate of Adam
    without bias is at most of order one at step 1)."""
    return check_real("K", K, 1.0, low_open=True)


def is_unstable(peak_update_inf: float, diverged: bool, K: float) -> bool:
    """The rule: ``peak_update_inf > K`` or the run diverged (a NaN peak counts as diverged)."""
    K = check_threshold(K)
    if not isinstance(diverged, bool):
        raise ValueError(f"diverged must be a bool, got {diverged!r}")
    return diverged or not peak_update_inf <= K


def min_steps(beta1: float, beta2: float, K: float) -> float:
    r"""The fewest steps after which the worst case can exceed ``10 K``: :math:`\ln(10K)/\rho`.

    ``inf`` for cells with :math:`\rho \le 0` (inside the region or on its boundary).
    """
    rho = float(st.growth_rate(beta1, beta2))
    return math.log(10 * check_threshold(K)) / rho if rho > 0 else math.inf


def decidability(beta1: float, beta2: float, K: float, steps: int) -> str:
    """Whether the rule can decide the cell ``(beta1, beta2)`` within ``steps``: one of
    :data:`DECIDABLE`, :data:`UNDECIDABLE_BOUND`, :data:`UNDECIDABLE_HORIZON`,
    :data:`UNDECIDABLE_BOUNDARY`."""
    K = check_threshold(K)
    steps = check_int("steps", steps, 1)
    rho = float(st.growth_rate(beta1, beta2))
    if bool(st.in_stable_region(beta1, beta2)):
        return DECIDABLE if float(st.bound_inf(beta1, beta2)) < K else UNDECIDABLE_BOUND
    if rho <= 0:
        return UNDECIDABLE_BOUNDARY
    return DECIDABLE if steps >= min_steps(beta1, beta2, K) else UNDECIDABLE_HORIZON


def decidable_mask(beta1, beta2, K: float, steps: int) -> np.ndarray:
    """:func:`decidability` over arrays at once: ``True`` where the cell is decidable.

    ``beta1`` may be 0 (RMSprop: always inside the region).
    """
    K = check_threshold(K)
    steps = check_int("steps", steps, 1)
    b1, b2 = np.broadcast_arrays(np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float))
    inside = st.in_stable_region(b1, b2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.log(b1) - 0.5 * np.log(b2)
        bound = st.bound_inf(np.where(inside, b1, 0.0), np.where(inside, b2, 0.5))
    outside_ok = (rho > 0) & (steps * rho >= math.log(10 * K))
    return np.where(inside, bound < K, outside_ok)


def classify(beta1: float, beta2: float, peak_update_inf: float, diverged: bool, K: float,
             steps: int) -> dict:
    """One run judged by the rule: ``{"unstable", "decidability", "decidable", "peak"}``.

    ``unstable`` is :func:`is_unstable`; ``decidability`` is :func:`decidability` of the cell
    at the run's horizon ``steps``. A run of an undecidable cell keeps its ``unstable`` value
    (a diverged run is unstable whatever the cell), but summaries count only decidable runs
    for or against a region and report the undecidable ones as such, never as bounded.
    """
    state = decidability(beta1, beta2, K, steps)
    return {"unstable": is_unstable(peak_update_inf, diverged, K), "decidability": state,
            "decidable": state == DECIDABLE, "peak": float(peak_update_inf)}


def require_decidable(cells, K: float, key: str) -> int:
    """Parse-time check: the number of decidable cells among ``cells``, pairs
    ``(beta1, beta2, steps)``; raises ``ValueError`` naming ``key`` (the profile key of the grid)
    when there are cells and none is decidable (the experiment could decide nothing)."""
    cells = list(cells)
    decided = sum(decidability(b1, b2, K, n) == DECIDABLE for b1, b2, n in cells)
    if cells and decided == 0:
        raise ValueError(f"{key}: with instability.K = {K:g} every one of the {len(cells)} cells "
                         "is undecidable (inside with B_inf >= K, on the boundary, or a horizon "
                         "below ln(10 K)/rho steps): raise the steps, lower K or move the grid")
    return decided


def horizon(beta1: float, beta2: float, K: float, base_steps: int, max_steps: int,
            margin: float = 1.5) -> int:
    r"""A cell's number of steps: ``base_steps``, raised to ``margin`` times
    :math:`\ln(10K)/\rho` for outside cells, never above ``max_steps``.

    A cell that needs more than ``max_steps`` keeps ``max_steps`` and stays undecidable
    (:func:`decidability` says so).
    """
    base_steps = check_int("base_steps", base_steps, 1)
    max_steps = check_int("max_steps", max_steps, base_steps)
    margin = check_real("margin", margin, 1.0)
    need = min_steps(beta1, beta2, K)
    if not math.isfinite(need):
        return base_steps
    return int(min(max_steps, max(base_steps, math.ceil(margin * need))))


def growth_phase(update_inf, onset: float = 2.0) -> tuple[int, int] | None:
    r"""``(first, last)``: the 0-based indices of the growth phase of a run's
    :math:`\lVert u_n\rVert_\infty` series, or ``None`` when it never exceeds ``onset`` times
    its first value before its peak (no growth phase).

    ``first`` is the first index whose value exceeds ``onset * update_inf[0]``; ``last`` is
    the index of the largest finite value. Non-finite values (a diverged tail) are cut off.
    """
    onset = check_real("onset", onset, 1.0, low_open=True)
    u = np.asarray(update_inf, dtype=float)
    if u.ndim != 1 or u.size == 0:
        raise ValueError(f"update_inf must be a non-empty 1-D series, got shape {u.shape}")
    finite = np.isfinite(u)
    if not finite[0] or not u[0] > 0:
        raise ValueError(f"update_inf[0] must be finite and > 0, got {u[0]!r}")
    end = int(np.argmin(finite)) if not finite.all() else u.size
    u = u[:end]
    last = int(np.argmax(u))
    above = np.nonzero(u[: last + 1] > onset * u[0])[0]
    if above.size == 0:
        return None
    return int(above[0]), last


def growth_phase_slope(update_inf, onset: float = 2.0, min_points: int = 3) -> float:
    r"""The least-squares slope of :math:`\ln\lVert u_n\rVert_\infty` per step over the growth
    phase (:func:`growth_phase`); NaN when there is none or it has fewer than ``min_points``."""
    min_points = check_int("min_points", min_points, 2)
    phase = growth_phase(update_inf, onset)
    if phase is None or phase[1] - phase[0] + 1 < min_points:
        return math.nan
    first, last = phase
    y = np.log(np.asarray(update_inf, dtype=float)[first: last + 1])
    x = np.arange(first, last + 1, dtype=float)
    return float(np.polyfit(x, y, 1)[0])
