"""Bayesian BG/NBD in PyMC, on compressed (frequency, recency, T) rows.

Model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
1. While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha).
2. After each purchase the customer drops out with probability p ~ Beta(a, b).
3. lambda and p are independent across and within customers.
4. The likelihood of (x, t_x, T) is closed-form (eq. 6); customers sharing (x, t_x, T) add the
   same term, so the model sums it over unique rows times their customer counts.
Priors: log r, log alpha, log a, log b ~ Normal(0, LOG_PRIOR_SD), weak at any time unit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from clv.data import compress
from clv.settings import BGNBD_PARAMS, CHAINS, DRAWS, LOG_PRIOR_SD, TUNE


def build_model(frequency, recency, T, weights):
    """The PyMC model over unique rows (shape (u,) each) with customer counts ``weights``."""
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    w = np.asarray(weights, dtype=float)
    repeat = x > 0
    with pm.Model() as model:
        logs = {k: pm.Normal(f"log_{k}", 0.0, LOG_PRIOR_SD) for k in BGNBD_PARAMS}
        r, alpha, a, b = (pm.Deterministic(k, pt.exp(logs[k])) for k in BGNBD_PARAMS)
        # FHL eq. 6 in logs, as lifetimes computes it (A1 + A2 + log(e^A3 + [x>0] e^A4)).
        a1 = pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
        a2 = pt.gammaln(a + b) + pt.gammaln(b + x) - pt.gammaln(b) - pt.gammaln(a + b + x)
        a3 = -(r + x) * pt.log(alpha + big_t)
        a4 = pt.log(a) - pt.log(b + np.maximum(x, 1.0) - 1.0) - (r + x) * pt.log(alpha + t_x)
        loglik = a1 + a2 + pt.switch(repeat, pt.logaddexp(a3, a4), a3)
        pm.Potential("loglik", pt.sum(w * loglik))
    return model


def fit(
    frequency,
    recency,
    T,
    *,
    draws: int = DRAWS,
    tune: int = TUNE,
    chains: int = CHAINS,
    seed: int = 1,
    start: Mapping[str, float] | None = None,
) -> tuple[xr.DataArray, dict]:
    """Posterior draws ``params(chain, draw, param)`` (param = r, alpha, a, b; alpha in time
    units) and sampler diagnostics, from per-customer statistics (shape (n,) each)."""
    from clv.sampling import sample_params

    rows = compress(frequency=frequency, recency=recency, T=T)
    model = build_model(
        rows.columns["frequency"], rows.columns["recency"], rows.columns["T"], rows.weights
    )
    return sample_params(
        model, BGNBD_PARAMS, draws=draws, tune=tune, chains=chains, seed=seed, start=start
    )
