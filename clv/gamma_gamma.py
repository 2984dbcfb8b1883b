"""Bayesian Gamma-Gamma spend model in PyMC, on compressed (frequency, monetary_value) rows.

Model (Fader & Hardie 2013, note 025; Colombo & Jiang 1999):
1. Each purchase's value is Gamma(p, nu) around the customer's mean.
2. The customer's scale nu ~ Gamma(q, v) across customers.
3. Spend is independent of the purchase process (check with the correlation of x and m).
4. The mean m of x repeat purchases has a closed-form marginal likelihood; only repeat customers
   with m > 0 contribute.
Priors: log p, log q, log v ~ Normal(0, LOG_PRIOR_SD).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from clv.data import compress
from clv.settings import CHAINS, DRAWS, GG_PARAMS, LOG_PRIOR_SD, TUNE


def build_model(frequency, monetary_value, weights):
    """The PyMC model over unique (x, m) rows (x > 0, m > 0) with customer counts ``weights``.

    Only the last term, (p x + q) log(x m + v), couples the parameters with each row's m; the
    rest depends on x alone or is linear in sum(log m) per x, so it is summed per distinct
    frequency beforehand and each gradient evaluation does one log per row.
    """
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    w = np.asarray(weights, dtype=float)
    xs, x_idx = np.unique(x, return_inverse=True)
    n_x = np.bincount(x_idx, weights=w, minlength=xs.size)
    sum_log_m = np.bincount(x_idx, weights=w * np.log(m), minlength=xs.size)
    xm = x * m
    with pm.Model() as model:
        logs = {k: pm.Normal(f"log_{k}", 0.0, LOG_PRIOR_SD) for k in GG_PARAMS}
        p, q, v = (pm.Deterministic(k, pt.exp(logs[k])) for k in GG_PARAMS)
        per_x = (
            n_x
            * (
                pt.gammaln(p * xs + q)
                - pt.gammaln(p * xs)
                - pt.gammaln(q)
                + q * pt.log(v)
                + p * xs * np.log(xs)
            )
            + (p * xs - 1.0) * sum_log_m
        )
        per_row = -(p * x + q) * pt.log(xm + v)
        pm.Potential("loglik", pt.sum(per_x) + pt.sum(w * per_row))
    return model


def fit(
    frequency,
    monetary_value,
    *,
    draws: int = DRAWS,
    tune: int = TUNE,
    chains: int = CHAINS,
    seed: int = 1,
    start: Mapping[str, float] | None = None,
    method: str = "auto",
) -> tuple[xr.DataArray, dict]:
    """Posterior draws ``params(chain, draw, param)`` (param = p, q, v; v in currency) and
    sampler diagnostics, from repeat customers with positive mean spend (shape (n,) each).
    ``method``: ``nuts``, ``laplace`` or ``auto`` (see ``clv.settings.NUTS_MAX_ROWS``)."""
    from clv.sampling import choose_method, laplace_params, sample_params

    rows = compress(frequency=frequency, monetary_value=monetary_value)
    model = build_model(rows.columns["frequency"], rows.columns["monetary_value"], rows.weights)
    if choose_method(method, len(rows)) == "laplace":
        return laplace_params(model, GG_PARAMS, draws=draws, chains=chains, seed=seed, start=start)
    return sample_params(
        model, GG_PARAMS, draws=draws, tune=tune, chains=chains, seed=seed, start=start
    )
