"""Weekly spend per channel and the diminishing spend -> touches (reach) curve.

Expected touches of channel c in week w: N_cw = A_c * (1 - exp(-S_cw / K_c)), increasing and
concave in spend S_cw (currency per week); A_c is the most touches a week can buy. The realised
count is the Poisson quantile of a fixed uniform, so with common random numbers more spend
never gives fewer touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from workbench.sim.scenarios import SPEND_VARIATION, WorldSpec

USERS_PER_UNIT = 1000.0  # scenario spend and touches are per 1,000 users


@dataclass(frozen=True)
class Reach:
    """Spend response per channel: ``A`` (touches per week at saturation) and ``K`` (spend scale
    of the curve, currency per week), arrays indexed by channel."""

    A: np.ndarray
    K: np.ndarray

    def expected_touches(self, spend: np.ndarray) -> np.ndarray:
        """N = A (1 - exp(-S / K)); ``spend`` is (channel, week) or (channel,)."""
        spend = np.asarray(spend, dtype=float)
        shape = (-1,) + (1,) * (spend.ndim - 1)
        return self.A.reshape(shape) * -np.expm1(-spend / self.K.reshape(shape))


def reach_for(scenario: WorldSpec, channels: tuple[str, ...], users: int) -> Reach:
    """Reach parameters scaled to ``users``: base spend buys the scenario's touches per user."""
    scale = users / USERS_PER_UNIT
    chans = [scenario.channels[c] for c in channels]
    base_spend = np.array([ch.spend for ch in chans]) * scale
    k = base_spend / np.array([ch.spend_over_k for ch in chans])
    touches = np.array([ch.touches for ch in chans]) * scale
    a = touches / -np.expm1(-base_spend / k)
    return Reach(A=a, K=k)


def weekly_spend(
    scenario: WorldSpec, channels: tuple[str, ...], users: int, weeks: int, rng: np.random.Generator
) -> np.ndarray:
    """Spend (channel, week) in currency: base spend times a uniform +-SPEND_VARIATION factor."""
    base = np.array([scenario.channels[c].spend for c in channels]) * users / USERS_PER_UNIT
    factor = 1.0 + rng.uniform(-SPEND_VARIATION, SPEND_VARIATION, size=(len(channels), weeks))
    return np.round(base[:, None] * factor, 2)


def touch_counts(reach: Reach, spend: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Realised touches (channel, week): Poisson(N_cw) quantiles of the given uniforms."""
    return stats.poisson.ppf(uniforms, reach.expected_touches(spend)).astype(np.int64)
