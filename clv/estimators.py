"""BG/NBD and Gamma-Gamma as estimators: settings in the constructor, ``fit(rfm)`` returns
``self``, fitted state in trailing-underscore attributes, predictions as xarray.

``method="mle"`` maximises the likelihood (lifetimes' likelihood, our optimiser: the same
parameters as lifetimes' fitters to 1e-5 and better); ``method="bayes"`` adds priors to the same
likelihood and draws from the posterior with PyMC (NUTS, or a Laplace approximation for large
tables: ``posterior``). Predictions from a posterior carry ``<name>_lower``/``<name>_upper``, the
central ``posterior_tools.settings.INTERVAL``.

>>> purchases = BetaGeo().fit(rfm)          # rfm: frequency, recency, T [, monetary_value]
>>> spend = GammaGamma().fit(rfm)
>>> spend.clv(purchases, rfm, horizon=52.0)["clv"]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from clv import formulas
from clv.bgnbd import BGNBDLikelihood
from clv.data import (
    ALL_COLUMNS,
    RFM,
    SPEND_COLUMNS,
    DataError,
    as_rfm,
    check_purchases,
    check_spend,
)
from clv.gamma_gamma import GammaGammaLikelihood
from clv.inference import FitError, maximum_likelihood, posterior_draws
from clv.settings import (
    ANNUAL_DISCOUNT_RATE,
    GG_PARAMS,
    HORIZON,
    METHOD,
    METHODS,
    POSTERIOR,
    SEED,
    SPEND_SPREAD_TOL,
    TIME_UNIT,
    UNIT_DAYS,
    VALUE_DRAWS,
)
from clv.tracking import retention_curve
from clv.value import customer_values, purchase_expectations
from posterior_tools.draws import summarise, thin_draws
from posterior_tools.settings import CHAINS, DRAWS, TUNE

RFMLike = pd.DataFrame | xr.Dataset


def point(values: dict[str, float]) -> xr.DataArray:
    """A point estimate as ``params(param)``."""
    return xr.DataArray(
        np.array(list(values.values()), dtype=float), dims="param", coords={"param": list(values)}
    )


class _Estimator:
    """Fit settings and the maximum-likelihood / posterior step shared by both models."""

    def __init__(
        self,
        method: str = METHOD,
        *,
        posterior: str = POSTERIOR,
        draws: int = DRAWS,
        tune: int = TUNE,
        chains: int = CHAINS,
        seed: int = SEED,
        value_draws: int = VALUE_DRAWS,
    ):
        self.method = method
        self.posterior = posterior
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.seed = seed
        self.value_draws = value_draws

    def _fit(self, likelihood, model: str, hint: str) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        params, self.converged_, message = maximum_likelihood(likelihood)
        if not self.converged_:
            shown = ", ".join(f"{k} = {v:.4g}" for k, v in params.items())
            raise FitError(
                f"the {model} maximum-likelihood fit did not converge ({message}; {shown}); {hint}"
            )
        self.params_mle_ = point(params)
        self.diagnostics_: dict = {}
        self.params_ = self.params_mle_
        if self.method == "bayes":
            self.params_, self.diagnostics_ = posterior_draws(
                likelihood,
                posterior=self.posterior,
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                seed=self.seed,
                start=params,
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(rfm) first")


def _customer_dataset(values: dict[str, np.ndarray], rfm: RFM) -> xr.Dataset:
    return xr.Dataset(
        {k: ("customer_id", v) for k, v in values.items()}, coords={"customer_id": rfm.customer_id}
    )


class BetaGeo(_Estimator):
    """BG/NBD purchase model (Fader, Hardie & Lee 2005).

    1. While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha).
    2. After each purchase the customer drops out with probability p ~ Beta(a, b).
    3. lambda and p are independent across and within customers.
    4. Customers are described by frequency (repeat purchases), recency and T (time units).

    Settings: ``method`` ("mle" or "bayes"); for bayes ``posterior`` ("auto", "nuts",
    "laplace"), ``draws``, ``tune``, ``chains`` and ``seed``; ``value_draws``: posterior draws
    used for per-customer predictions. Fitted: ``params_`` (``param`` = r, alpha, a, b; alpha in
    time units; dims ``chain, draw, param`` for bayes), ``params_mle_``, ``converged_``,
    ``diagnostics_`` (bayes: sampler diagnostics with the flag ``diagnostics_ok``).
    """

    def fit(self, rfm: RFMLike, weights: np.ndarray | None = None) -> BetaGeo:
        """Fit on ``rfm`` (DataFrame or Dataset with frequency, recency, T; one row per
        customer, or unique rows with ``weights`` = customers per row). Raises
        ``clv.DataError`` for data that cannot identify the model (one customer, no repeat
        purchase) and ``clv.FitError`` when the optimiser does not converge."""
        data = as_rfm(rfm, weights=weights, labels=False)
        check_purchases(data, "BG/NBD")
        likelihood = BGNBDLikelihood(data.frequency, data.recency, data.T, data.weights)
        hint = "too few repeat purchases, or a calibration period too short to show them"
        self._fit(likelihood, "BG/NBD", hint)
        return self

    def p_alive(self, rfm: RFMLike) -> xr.Dataset:
        """P(alive at T) per customer (FHL eq. 13): ``p_alive(customer_id)``."""
        return self._expectations(0.0, rfm)[["p_alive", *self._bounds("p_alive")]]

    def expected_purchases(self, t: float, rfm: RFMLike) -> xr.Dataset:
        """Expected purchases in the next ``t`` time units per customer (FHL eq. 10):
        ``expected_purchases(customer_id)``."""
        names = ["expected_purchases", *self._bounds("expected_purchases")]
        return self._expectations(t, rfm)[names]

    def retention(self, times: np.ndarray) -> xr.Dataset:
        """P(a new customer is still alive) at ``times`` (time units since the first purchase):
        ``retention(retention_time)``."""
        self._check_fitted()
        return retention_curve(self.params_, times, n_draws=self.value_draws)

    def _expectations(self, t: float, rfm: RFMLike) -> xr.Dataset:
        self._check_fitted()
        data = as_rfm(rfm)
        values = purchase_expectations(
            self.params_, t, data.frequency, data.recency, data.T, n_draws=self.value_draws
        )
        return _customer_dataset(values, data)

    def _bounds(self, name: str) -> list[str]:
        return [f"{name}_lower", f"{name}_upper"] if "chain" in self.params_.dims else []


class GammaGamma(_Estimator):
    """Gamma-Gamma spend model (Fader & Hardie 2013, note 025; Colombo & Jiang 1999).

    1. Each purchase's value is Gamma(p, nu) around the customer's mean.
    2. The customer's scale nu ~ Gamma(q, v) across customers.
    3. Spend is independent of the purchase process.
    4. Fitted on repeat customers with a positive mean repeat spend (``monetary_value``).

    Settings as ``BetaGeo``. Fitted: ``params_`` (``param`` = p, q, v; v in currency),
    ``params_mle_``, ``converged_``, ``diagnostics_``, ``excluded_`` (repeat customers left out
    for a mean spend that is not positive) and ``order_value_``: None, or the one amount every
    repeat customer spends. Then the model has no finite optimum (q and v grow without end), so
    instead of fitting it the documented fallback applies: p, q, v are NaN and every customer's
    expected order value is that amount.
    """

    def fit(self, rfm: RFMLike, weights: np.ndarray | None = None) -> GammaGamma:
        """Fit on ``rfm`` (frequency and monetary_value per customer, or unique rows with
        ``weights``). Raises ``clv.DataError`` with fewer than ``MIN_SPEND_CUSTOMERS`` usable
        customers."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        data = as_rfm(rfm, weights=weights, columns=SPEND_COLUMNS, labels=False)
        x, m, w = data.frequency, data.monetary_value, data.weights
        usable = check_spend(data)
        self.excluded_ = int(w[(x > 0) & ~usable].sum())
        if self.excluded_:
            warnings.warn(
                f"{self.excluded_} repeat customer(s) have a mean repeat amount that is not "
                "positive and are left out of the Gamma-Gamma fit (their CLV uses the population "
                "spend)",
                UserWarning,
                stacklevel=2,
            )
        spends = m[usable]
        self.order_value_ = None
        if np.ptp(spends) <= SPEND_SPREAD_TOL * spends.mean():
            self._constant(float(np.average(spends, weights=w[usable])))
            return self
        likelihood = GammaGammaLikelihood(x[usable], spends, w[usable])
        hint = (
            "mean spend hardly varies between customers beyond what single purchases explain "
            "(q and v run off to infinity), so the population spend per purchase is the better "
            "estimate"
        )
        self._fit(likelihood, "Gamma-Gamma", hint)
        return self

    def _constant(self, amount: float) -> None:
        warnings.warn(
            f"every repeat customer spends the same mean amount ({amount:g}): the Gamma-Gamma "
            "model has no finite optimum, so every customer's expected order value is that amount",
            UserWarning,
            stacklevel=3,
        )
        self.order_value_ = amount
        self.converged_ = True
        self.diagnostics_ = {}
        self.params_mle_ = point(dict.fromkeys(GG_PARAMS, np.nan))
        self.params_ = self.params_mle_
        if self.method == "bayes":
            shape = {"chain": np.arange(self.chains), "draw": np.arange(self.draws)}
            self.params_ = self.params_mle_.expand_dims(shape).copy()

    def expected_order_value(self, rfm: RFMLike) -> xr.Dataset:
        """Expected spend per purchase (currency) per customer: the population mean p v / (q - 1)
        shrunk towards the customer's own mean with weight p x / (p x + q - 1) (note 025, eq. 5):
        ``expected_order_value(customer_id)``."""
        self._check_fitted()
        data = as_rfm(rfm, columns=SPEND_COLUMNS)
        if self.order_value_ is not None:
            values = np.full(len(data), self.order_value_)
            return _customer_dataset({"expected_order_value": values}, data)
        draws = thin_draws(self.params_, self.value_draws)
        p, q, v = (draws.sel(param=k).values[:, None] for k in GG_PARAMS)
        per_draw = formulas.expected_order_value(p, q, v, data.frequency, data.monetary_value)
        coords = {"customer_id": data.customer_id}
        return summarise(per_draw, "expected_order_value", ("customer_id",), coords)

    def clv(
        self,
        purchases: BetaGeo,
        rfm: RFMLike,
        horizon: float = HORIZON,
        annual_discount_rate: float = ANNUAL_DISCOUNT_RATE,
        time_unit: str = TIME_UNIT,
    ) -> xr.Dataset:
        """Discounted customer lifetime value over ``horizon`` time units (``time_unit``: D, W
        or M) at ``annual_discount_rate`` (a fraction), with the fitted BG/NBD ``purchases``:
        expected purchases per mean month, each month discounted at its end (as lifetimes'
        ``customer_lifetime_value``), times the expected order value. Returns ``clv``,
        ``p_alive``, ``expected_purchases`` (over the horizon) and ``expected_order_value`` per
        ``customer_id`` (+ ``_lower``/``_upper`` when either model has a posterior)."""
        self._check_fitted()
        if not isinstance(purchases, BetaGeo):
            kind = type(purchases).__name__
            raise TypeError(f"purchases must be a fitted clv.BetaGeo; got {kind}")
        purchases._check_fitted()
        if time_unit not in UNIT_DAYS:
            raise ValueError(f"time_unit must be one of {', '.join(UNIT_DAYS)}; got {time_unit!r}")
        data = as_rfm(rfm, columns=ALL_COLUMNS)
        values = customer_values(
            joint_params(purchases.params_, self.params_),
            data.frequency,
            data.recency,
            data.T,
            data.monetary_value,
            horizon=horizon,
            unit_days=UNIT_DAYS[time_unit],
            annual_discount_rate=annual_discount_rate,
            n_draws=min(purchases.value_draws, self.value_draws),
            order_value=self.order_value_,
        )
        return _customer_dataset(values, data)


def joint_params(purchase_params: xr.DataArray, spend_params: xr.DataArray) -> xr.DataArray:
    """BG/NBD and Gamma-Gamma parameters on one ``param`` dim; a point estimate is repeated
    over the other model's draws when only one of them has a posterior."""
    first, second = xr.broadcast(purchase_params, spend_params, exclude=["param"])
    return xr.concat([first, second], dim="param").transpose(..., "param")


__all__ = ["BetaGeo", "DataError", "FitError", "GammaGamma", "joint_params", "point"]
