"""Argument checks that fail with a message naming the argument and its allowed range.

Every public entry point (optimizer, theory functions, CLI, configs) validates through
these helpers so that a bad value always reads the same way, e.g.::

    ValueError: beta must be in [0, 1), got 1.0
"""

import argparse
import math
import re
import sys
from collections.abc import Callable
from numbers import Integral, Real


def check_real(name: str, value, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real in the given interval.

    The interval is written ``[low, high]`` with ``(`` or ``)`` for open ends; an infinite
    end is always open.
    """
    lo_br = "(" if low_open or math.isinf(low) else "["
    hi_br = ")" if high_open or math.isinf(high) else "]"
    interval = f"{lo_br}{_fmt(low)}, {_fmt(high)}{hi_br}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite and in {interval}, got {value!r}")
    too_low = value <= low if (low_open or math.isinf(low)) else value < low
    too_high = value >= high if (high_open or math.isinf(high)) else value > high
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def check_int(name: str, value, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` after checking it is an int (not a bool) in ``[low, high]``."""
    interval = f"[{low}, {high}]" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer {interval}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {interval}, got {value!r}")
    return int(value)


def check_unit_interval(name: str, value) -> float:
    """A decay rate of an exponential moving average: a real in [0, 1)."""
    return check_real(name, value, 0.0, 1.0, high_open=True)


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the commands: errors exit with status 2 and one line, and a value that
    is a number (``-1``, ``-1e3``, ``-inf``, ``nan``) is read as a value, never as an option,
    so that its range check can name it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse reads a token that starts with "-" as an option unless this matches it
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def command_status(body: Callable[[], object], prog: str) -> int:
    """Run a command's ``body`` and return its exit status: 0, or 2 with the one line
    ``<prog>: error: ...`` on stderr when it refuses its input (a ``ValueError``)."""
    try:
        body()
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"
