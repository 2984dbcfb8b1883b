"""Budget optimiser: the allocation that maximises expected value (or a lower quantile of the
value gained, for cautious planners) under a total budget and per-channel bounds.

Decision variables are the planned total spend per channel (currency, over the data window).
The objective is a statistic over posterior samples of ``value(x) - value(current)``; the same
samples are used at every step so the objective is a smooth, deterministic function of ``x``
(for ``mean``) and SLSQP with finite-difference gradients can climb it. Two starts (current
shares rescaled to the budget, and an even split) guard against local optima; the winner is
then repaired so that the budget holds to rounding error and every bound holds exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workbench.errors import InputError

#: Default per-channel bounds on spend, as multiples of current spend.
DEFAULT_BOUNDS = (0.0, 3.0)
#: SLSQP settings: finite-difference step on the budget-share scale, tolerance (relative to
#: the value scale), iterations.
FD_STEP = 1e-4
TOLERANCE = 1e-8
MAX_ITER = 200
#: Repair passes that move rounding residue of the budget onto channels with slack.
REPAIR_PASSES = 5


@dataclass(frozen=True)
class Objective:
    """``mean`` of the value gained, or its ``quantile`` (e.g. 0.1 for a cautious plan)."""

    kind: str
    quantile: float | None = None

    @property
    def label(self) -> str:
        return "mean" if self.kind == "mean" else f"q{round(100 * self.quantile):02d}"

    def __call__(self, gains: np.ndarray) -> float:
        if self.kind == "mean":
            return float(np.mean(gains))
        return float(np.quantile(gains, self.quantile))


def parse_objective(text: str) -> Objective:
    """``'mean'`` or a lower quantile ``'q10'`` / ``'q0.1'`` -> :class:`Objective`."""
    text = str(text).strip().lower()
    if text == "mean":
        return Objective("mean")
    match = re.fullmatch(r"q(\d+(?:\.\d+)?)", text)
    if match:
        q = float(match.group(1))
        q = q / 100.0 if q >= 1.0 else q
        if 0.0 < q < 0.5:
            return Objective("quantile", q)
    raise InputError(
        f"objective '{text}' not understood; expected 'mean' or a lower quantile such as 'q10'",
        column="objective",
    )


@dataclass(frozen=True)
class Allocation:
    """The optimiser's answer: spend per channel (currency) and the objective it reached."""

    spend: np.ndarray  # (channel,)
    objective: float  # objective statistic of value gained over current (currency)
    converged: bool
    message: str


def resolve_bounds(
    channels: Sequence[str],
    current: np.ndarray,
    bounds: Mapping[str, tuple[float, float]] | tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (lower, upper) spend bounds in currency from multiples of current spend.

    ``bounds`` is one (lo, hi) pair for all channels or a mapping channel -> (lo, hi); channels
    it does not name use :data:`DEFAULT_BOUNDS`. Unknown channels raise :class:`InputError`.
    """
    lo_m = np.full(len(channels), DEFAULT_BOUNDS[0])
    hi_m = np.full(len(channels), DEFAULT_BOUNDS[1])
    if isinstance(bounds, Mapping):
        for ch, pair in bounds.items():
            if ch not in channels:
                raise InputError(
                    f"bounds refer to unknown channel '{ch}'; known: {', '.join(channels)}",
                    column="bounds",
                )
            lo_m[list(channels).index(ch)], hi_m[list(channels).index(ch)] = pair
    elif bounds is not None:
        lo_m[:], hi_m[:] = bounds
    if np.any(lo_m < 0) or np.any(hi_m < lo_m):
        raise InputError("bounds need 0 <= lower <= upper (multiples of current spend)")
    return lo_m * current, hi_m * current


def optimise(
    gain: Callable[[np.ndarray], np.ndarray],
    budget: float,
    lower: np.ndarray,
    upper: np.ndarray,
    start: np.ndarray,
    objective: Objective,
    value_scale: float = 1.0,
) -> Allocation:
    """Maximise ``objective(gain(x))`` over spend ``x`` (channel,) with ``sum(x) == budget`` and
    ``lower <= x <= upper``.

    ``gain(x)`` returns the value gained over current spend per posterior sample (sample,);
    ``start`` is the current allocation (used for the first start, rescaled to the budget);
    ``value_scale`` is the typical size of the value (currency, e.g. current total value) so that
    the tolerance is relative.
    """
    from scipy.optimize import minimize

    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    if lower.sum() > budget * (1 + TOLERANCE) or upper.sum() < budget * (1 - TOLERANCE):
        raise InputError(
            f"budget {budget:,.2f} cannot be met within the bounds: they allow "
            f"{lower.sum():,.2f} to {upper.sum():,.2f}",
            column="budget",
        )
    scale = budget if budget > 0 else 1.0
    cache: dict[bytes, float] = {}

    def negative(y: np.ndarray) -> float:
        key = np.round(y, 12).tobytes()
        if key not in cache:
            cache[key] = -objective(gain(np.clip(y * scale, lower, upper)))
        return cache[key]

    # SLSQP's tolerance is absolute: put the objective on a relative scale.
    starts = _starts(start, budget, lower, upper)
    ref = abs(value_scale) if value_scale else 1.0
    best = None
    for x0 in starts:
        res = minimize(
            lambda y: negative(y) / ref,
            x0 / scale,
            method="SLSQP",
            bounds=list(zip(lower / scale, upper / scale, strict=True)),
            constraints=[{"type": "eq", "fun": lambda y: y.sum() - budget / scale}],
            options={"ftol": TOLERANCE, "maxiter": MAX_ITER, "eps": FD_STEP},
        )
        x = repair(res.x * scale, budget, lower, upper)
        value = -negative(x / scale)
        if best is None or value > best.objective:
            best = Allocation(x, value, bool(res.success), str(res.message))
    return best


def _starts(
    current: np.ndarray, budget: float, lower: np.ndarray, upper: np.ndarray
) -> list[np.ndarray]:
    current = np.asarray(current, float)
    even = np.full(current.size, budget / current.size)
    out = [repair(current * budget / max(current.sum(), 1e-300), budget, lower, upper)]
    out.append(repair(even, budget, lower, upper))
    return out


def repair(x: np.ndarray, budget: float, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Clip ``x`` to its bounds and spread any budget residue over channels with slack, so that
    ``sum(x) == budget`` to rounding error and ``lower <= x <= upper`` exactly."""
    x = np.clip(np.asarray(x, float), lower, upper)
    for _ in range(REPAIR_PASSES):
        residue = budget - x.sum()
        if residue == 0:
            break
        slack = upper - x if residue > 0 else x - lower
        if slack.sum() <= 0:
            break
        x = np.clip(
            x + np.sign(residue) * slack * min(abs(residue) / slack.sum(), 1.0), lower, upper
        )
    # Put the last rounding residue on the channel with the most room.
    residue = budget - x.sum()
    if residue != 0:
        room = upper - x if residue > 0 else x - lower
        j = int(np.argmax(room))
        x[j] = min(max(x[j] + residue, lower[j]), upper[j])
    return x
