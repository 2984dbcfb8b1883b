"""``ABTest``: the posterior of each arm's conversion rate, revenue per user and customer value,
and the comparison of every arm with the control.

Assumptions:
1. users are assigned to arms at random and independently; each counts once, in one arm;
2. a user's conversion (at least one conversion after assignment) is Bernoulli with the arm's
   rate; rates get independent Beta priors (:mod:`workbench.experiments.posteriors`);
3. revenue per user is a hurdle: purchase (Bernoulli, Beta posterior) times the amount of a
   purchaser (Bayesian bootstrap of the arm's positive amounts, no shape assumed);
4. customer value per user is a given number per user (a CLV model's prediction); its arm mean
   gets the Bayesian bootstrap over the arm's users. The CLV model's own uncertainty is not
   added: the interval is the sampling uncertainty over users only.
Arms are independent a posteriori, so each arm's draws are drawn on their own and compared draw
by draw (:mod:`workbench.experiments.decision`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from posterior_tools.settings import INTERVAL, INTERVAL_QUANTILES
from workbench.experiments import decision
from workbench.experiments.posteriors import mean_posterior, rate_posterior, revenue_posterior
from workbench.experiments.settings import (
    CONTROL_ARM,
    DECISION_METRIC,
    METRICS,
    POSTERIOR_DRAWS,
    PRIOR_FAILURES,
    PRIOR_SUCCESSES,
)


class ABTest:
    """Bayesian analysis of an A/B(/n) test from per-arm sufficient statistics.

    Settings: ``control`` (the arm others are compared with), ``metric`` (the one that
    ``lift``, ``p_beats_control`` and ``expected_loss`` refer to: conversion_rate,
    revenue_per_user or customer_value), ``draws`` (Monte Carlo draws per arm), ``seed``, and the
    Beta prior of every rate.

    >>> arms = pd.DataFrame({"arm": ["control", "b"], "n_users": [1000, 1000],
    ...                      "n_converted": [100, 120]})
    >>> res = ABTest(seed=1).fit(arms).results()
    >>> float(res["p_beats_control"].sel(arm="b")) > 0.9
    True
    """

    def __init__(
        self,
        control: str = CONTROL_ARM,
        *,
        metric: str = DECISION_METRIC,
        draws: int = POSTERIOR_DRAWS,
        seed: int | None = None,
        prior_successes: float = PRIOR_SUCCESSES,
        prior_failures: float = PRIOR_FAILURES,
    ) -> None:
        self.control = control
        self.metric = metric
        self.draws = draws
        self.seed = seed
        self.prior_successes = prior_successes
        self.prior_failures = prior_failures

    def fit(
        self,
        arms: pd.DataFrame,
        *,
        revenue: pd.DataFrame | None = None,
        customer_value: pd.DataFrame | None = None,
    ) -> ABTest:
        """Draw each arm's posteriors.

        ``arms``: one row per arm with ``arm``, ``n_users`` (users analysed) and ``n_converted``
        (users with at least one counted conversion). ``revenue``: the distinct positive revenues
        of purchasers, rows ``arm``, ``amount`` (currency per purchaser over the test),
        ``n_users`` (purchasers with that amount); users of an arm not in it bought nothing. An
        arm with no purchaser at all borrows the amounts of all arms (its purchase rate is then
        near 0 anyway). ``customer_value``: rows ``arm``, ``value`` (currency per user),
        ``n_users``, covering every user of the arm.
        """
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; expected one of {METRICS}")
        table = arms.set_index("arm")
        if self.control not in table.index:
            raise ValueError(f"control arm {self.control!r} is not among {list(table.index)}")
        self.arms_ = [self.control] + sorted(a for a in table.index if a != self.control)
        self.n_users_ = table.loc[self.arms_, "n_users"].astype(int)
        self.n_converted_ = table.loc[self.arms_, "n_converted"].astype(int)
        rng = np.random.default_rng(self.seed)
        prior = {"prior_successes": self.prior_successes, "prior_failures": self.prior_failures}

        self.conversion_rate_ = self._stack(
            rate_posterior(
                int(self.n_converted_[a]), int(self.n_users_[a]), draws=self.draws, rng=rng, **prior
            )
            for a in self.arms_
        )
        self.revenue_per_user_ = None
        self.pooled_revenue_arms_: list[str] = []
        if revenue is not None:
            parts = {"purchase_rate": [], "revenue_per_purchaser": [], "revenue_per_user": []}
            for a in self.arms_:
                rows = revenue[revenue["arm"] == a]
                purchasers = int(rows["n_users"].sum())
                if rows.empty:
                    rows = revenue.groupby("amount", as_index=False)["n_users"].sum()
                    self.pooled_revenue_arms_.append(a)
                drawn = revenue_posterior(
                    int(self.n_users_[a]),
                    purchasers,
                    rows["amount"].to_numpy(),
                    rows["n_users"].to_numpy(),
                    draws=self.draws,
                    rng=rng,
                    **prior,
                )
                for key, value in zip(parts, drawn, strict=True):
                    parts[key].append(value)
            self.purchase_rate_ = self._stack(parts["purchase_rate"])
            self.revenue_per_purchaser_ = self._stack(parts["revenue_per_purchaser"])
            self.revenue_per_user_ = self._stack(parts["revenue_per_user"])
            self.n_purchasers_ = (
                revenue.groupby("arm")["n_users"].sum().reindex(self.arms_, fill_value=0)
            )
            self.revenue_total_ = (
                (revenue["amount"] * revenue["n_users"])
                .groupby(revenue["arm"])
                .sum()
                .reindex(self.arms_, fill_value=0.0)
            )
        self.customer_value_ = None
        if customer_value is not None:
            draws = []
            for a in self.arms_:
                rows = customer_value[customer_value["arm"] == a]
                draws.append(
                    mean_posterior(
                        rows["value"].to_numpy(),
                        rows["n_users"].to_numpy(),
                        draws=self.draws,
                        rng=rng,
                    )
                )
            self.customer_value_ = self._stack(draws)
        if self.samples(self.metric) is None:
            raise ValueError(f"metric {self.metric!r} needs its data (revenue or customer value)")
        return self

    def _stack(self, per_arm) -> xr.DataArray:
        values = np.column_stack(list(per_arm))
        return xr.DataArray(
            values,
            dims=("draw", "arm"),
            coords={"draw": np.arange(self.draws), "arm": self.arms_},
        )

    def samples(self, metric: str) -> xr.DataArray | None:
        """Posterior draws of ``metric`` per arm, dims ``(draw, arm)``; None when not fitted."""
        return {
            "conversion_rate": self.conversion_rate_,
            "revenue_per_user": self.revenue_per_user_,
            "customer_value": self.customer_value_,
        }[metric]

    @property
    def metrics_(self) -> list[str]:
        """The metrics this fit has posteriors for, in ``METRICS`` order."""
        return [m for m in METRICS if self.samples(m) is not None]

    def results(self) -> xr.Dataset:
        """The posteriors and the comparison with the control as one Dataset.

        Per metric (dims ``draw``, ``arm``): ``conversion_rate`` (users converting / users),
        ``revenue_per_user`` (currency per user, with ``purchase_rate`` and
        ``revenue_per_purchaser``), ``customer_value`` (currency per user). For every metric,
        with dim ``metric``: ``lift_by_metric(metric, draw, arm)`` (relative to the control),
        ``p_beats_control_by_metric(metric, arm)``, ``expected_loss_by_metric(metric, arm)``
        (metric units). For the decision metric (attr ``metric``): ``lift(draw, arm)``,
        ``lift_lower(arm)``, ``lift_upper(arm)`` (central ``INTERVAL`` interval),
        ``p_beats_control(arm)``, ``expected_loss(arm)``. Counts per arm: ``n_users``,
        ``n_converted`` (+ ``n_purchasers``, ``revenue_total`` with revenue).
        """
        ds = xr.Dataset(
            {
                "n_users": ("arm", self.n_users_.to_numpy()),
                "n_converted": ("arm", self.n_converted_.to_numpy()),
                "conversion_rate": self.conversion_rate_,
            },
            coords={"arm": self.arms_, "draw": np.arange(self.draws)},
        )
        if self.revenue_per_user_ is not None:
            ds["n_purchasers"] = ("arm", self.n_purchasers_.to_numpy().astype(int))
            ds["revenue_total"] = ("arm", self.revenue_total_.to_numpy().astype(float))
            ds["purchase_rate"] = self.purchase_rate_
            ds["revenue_per_purchaser"] = self.revenue_per_purchaser_
            ds["revenue_per_user"] = self.revenue_per_user_
        if self.customer_value_ is not None:
            ds["customer_value"] = self.customer_value_
        metrics = self.metrics_
        lifts = [decision.lift(self.samples(m), self.control) for m in metrics]
        ds["lift_by_metric"] = xr.concat(lifts, dim="metric").assign_coords(metric=metrics)
        ds["p_beats_control_by_metric"] = xr.concat(
            [decision.p_beats_control(self.samples(m), self.control) for m in metrics], "metric"
        ).assign_coords(metric=metrics)
        ds["expected_loss_by_metric"] = xr.concat(
            [decision.expected_loss(self.samples(m)) for m in metrics], "metric"
        ).assign_coords(metric=metrics)
        chosen = ds["lift_by_metric"].sel(metric=self.metric, drop=True)
        ds["lift"] = chosen
        lo, hi = INTERVAL_QUANTILES
        ds["lift_lower"] = chosen.quantile(lo, "draw").drop_vars("quantile")
        ds["lift_upper"] = chosen.quantile(hi, "draw").drop_vars("quantile")
        ds["p_beats_control"] = ds["p_beats_control_by_metric"].sel(metric=self.metric, drop=True)
        ds["expected_loss"] = ds["expected_loss_by_metric"].sel(metric=self.metric, drop=True)
        ds.attrs.update(
            control=self.control,
            metric=self.metric,
            interval=INTERVAL,
            draws=int(self.draws),
            prior={"successes": self.prior_successes, "failures": self.prior_failures},
        )
        if self.pooled_revenue_arms_:
            ds.attrs["revenue_amounts_pooled_arms"] = list(self.pooled_revenue_arms_)
        return ds
