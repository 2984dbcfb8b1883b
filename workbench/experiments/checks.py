"""Checks that stop a wrong reading of an A/B test: the sample-ratio mismatch (SRM) test.

When the arms' user counts differ from the planned split by more than chance allows, the
assignment or the logging is broken (a redirect that loses users, a bot filter applied to one
arm, a bucketing bug) and the users compared are no longer exchangeable, so no lift read from
them can be trusted (Fabijan et al. 2019, "Diagnosing sample ratio mismatch in online controlled
experiments", KDD). The test is Pearson's chi-square goodness of fit of the observed counts
against the planned shares, with (arms - 1) degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workbench.experiments.settings import SRM_ALPHA


@dataclass(frozen=True)
class SampleRatioCheck:
    """Result of the SRM test: the statistic, its p-value, the expected users per arm under the
    planned split, and whether the mismatch is flagged (p-value < ``alpha``)."""

    chi2: float
    p_value: float
    expected: dict[str, float]
    alpha: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.alpha


def sample_ratio_check(
    observed: Mapping[str, int],
    planned: Mapping[str, float] | None = None,
    *,
    alpha: float = SRM_ALPHA,
) -> SampleRatioCheck:
    """Chi-square test of users per arm (``observed``) against ``planned`` shares (any positive
    weights, normalised here; default an equal split over the observed arms)."""
    from scipy.stats import chisquare

    arms = list(observed)
    weights = np.array([1.0 if planned is None else float(planned[a]) for a in arms])
    counts = np.array([float(observed[a]) for a in arms])
    expected = counts.sum() * weights / weights.sum()
    chi2, p_value = chisquare(counts, expected)
    return SampleRatioCheck(
        chi2=float(chi2),
        p_value=float(p_value),
        expected={a: float(e) for a, e in zip(arms, expected, strict=True)},
        alpha=alpha,
    )
