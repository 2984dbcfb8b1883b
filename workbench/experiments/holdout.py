"""A channel hold-out as a lift test: the channel's incremental conversions in the whole market.

In a hold-out, a random share of the market (the hold-out arm) gets none of the channel's
activity during the test and the rest (the exposed arm) gets it as usual. The channel's effect
per user is the difference in conversions per user, d = c_exposed - c_holdout (conversion
events, not converting users, because the media-mix and journey models count events). Had there
been no hold-out, every user of the market would have been exposed, so the conversions the
channel caused in the market during the test are d x market_users, where ``market_users`` is
the number of users in the whole market the channel addresses; by default the users in the test
(the test covered the whole market and the hold-out was a random part of it). Conversions per
user get the Bayesian bootstrap over the users' conversion counts
(:func:`workbench.experiments.posteriors.mean_posterior`, exact with counts of 0, 1, 2, ...);
the lift-test row carries the posterior mean of d x market_users and its posterior standard
deviation as ``standard_error``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.experiments.posteriors import mean_posterior


@dataclass(frozen=True)
class HoldoutLift:
    """Incremental conversions caused by the channel in the whole market during the test."""

    incremental_conversions: float
    standard_error: float
    per_user: float
    market_users: float


def holdout_lift(
    conversion_counts: pd.DataFrame,
    *,
    exposed: str,
    holdout: str,
    market_users: float,
    draws: int,
    rng: np.random.Generator,
) -> HoldoutLift:
    """``conversion_counts``: rows ``arm``, ``n_conversions`` (counted conversions of a user),
    ``n_users`` (users with that many), covering every user of both arms."""
    per_arm = {}
    for arm in (exposed, holdout):
        rows = conversion_counts[conversion_counts["arm"] == arm]
        per_arm[arm] = mean_posterior(
            rows["n_conversions"].to_numpy(), rows["n_users"].to_numpy(), draws=draws, rng=rng
        )
    diff = per_arm[exposed] - per_arm[holdout]
    scaled = diff * market_users
    return HoldoutLift(
        incremental_conversions=float(scaled.mean()),
        standard_error=float(scaled.std(ddof=1)),
        per_user=float(diff.mean()),
        market_users=float(market_users),
    )
