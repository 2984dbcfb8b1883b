"""Planning a conversion-rate test: users needed for a minimum detectable effect, and the other
way round, with statsmodels' power tools.

The test the plan assumes is the two-sided z-test on Cohen's effect size for proportions,
h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)) (Cohen 1988, ch. 6), whose variance-stabilised estimate
has variance 1/n0 + 1/n1. So with ``n0`` control users and ``ratio * n0`` users in a treatment
arm, n0 = (z_(1-alpha/2) + z_power)^2 (1 + 1/ratio) / h^2. With more than one treatment arm each
is compared with the control at alpha / (arms - 1) (Bonferroni), so the plan holds for all
comparisons at once. The MDE is the relative lift p1 / p0 - 1 that this test detects with the
given power; it is the inverse of the same equation, solved for h and mapped back to p1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workbench.experiments.settings import PLAN_ALPHA, PLAN_POWER


@dataclass(frozen=True)
class PlannedTest:
    """A planned test: users in the control and in each treatment arm, and the effect it can
    detect (relative and absolute, in conversion-rate units)."""

    baseline_rate: float
    relative_mde: float
    control_users: float
    treatment_users: float
    arms: int
    alpha: float
    power: float

    @property
    def absolute_mde(self) -> float:
        return self.baseline_rate * self.relative_mde

    @property
    def total_users(self) -> float:
        return self.control_users + (self.arms - 1) * self.treatment_users


def _alpha_per_comparison(alpha: float, arms: int) -> float:
    return alpha / max(1, arms - 1)


def users_needed(
    baseline_rate: float,
    relative_mde: float,
    *,
    alpha: float = PLAN_ALPHA,
    power: float = PLAN_POWER,
    ratio: float = 1.0,
    arms: int = 2,
) -> PlannedTest:
    """Users needed to detect a relative lift ``relative_mde`` over ``baseline_rate`` (both as
    fractions, 0.1 = 10%) with a two-sided test at ``alpha`` and ``power``; ``ratio`` is the
    treatment arm's users per control user. Counts are rounded up to whole users."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    treated_rate = baseline_rate * (1 + relative_mde)
    h = proportion_effectsize(treated_rate, baseline_rate)
    n0 = NormalIndPower().solve_power(
        effect_size=abs(h),
        alpha=_alpha_per_comparison(alpha, arms),
        power=power,
        ratio=ratio,
        alternative="two-sided",
    )
    n0 = math.ceil(float(n0))
    return PlannedTest(
        baseline_rate=baseline_rate,
        relative_mde=relative_mde,
        control_users=n0,
        treatment_users=math.ceil(n0 * ratio),
        arms=arms,
        alpha=alpha,
        power=power,
    )


def detectable_effect(
    baseline_rate: float,
    control_users: int,
    *,
    alpha: float = PLAN_ALPHA,
    power: float = PLAN_POWER,
    ratio: float = 1.0,
    arms: int = 2,
) -> PlannedTest:
    """The smallest relative increase over ``baseline_rate`` that ``control_users`` control users
    (and ``ratio`` times as many per treatment arm) detect with ``power`` at ``alpha``."""
    from statsmodels.stats.power import NormalIndPower

    h = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=control_users,
        alpha=_alpha_per_comparison(alpha, arms),
        power=power,
        ratio=ratio,
        alternative="two-sided",
    )
    phi = 2 * math.asin(math.sqrt(baseline_rate)) + float(h)
    # 2 asin(sqrt(p)) ends at pi (p = 1): an effect beyond it cannot be detected at any rate.
    treated_rate = math.sin(min(phi, math.pi) / 2) ** 2
    return PlannedTest(
        baseline_rate=baseline_rate,
        relative_mde=treated_rate / baseline_rate - 1,
        control_users=control_users,
        treatment_users=math.ceil(control_users * ratio),
        arms=arms,
        alpha=alpha,
        power=power,
    )
