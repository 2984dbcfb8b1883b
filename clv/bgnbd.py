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
    """The PyMC model over unique rows (shape (u,) each) with customer counts ``weights``.

    The terms of eq. 6 that depend on x alone (A1, A2) are computed once per distinct frequency
    and the logs log(alpha + T), log(alpha + t_x) once per distinct T and t_x, then gathered to
    the rows: at a million customers the distinct values number in the hundreds, so each
    gradient evaluation does its special functions on hundreds of values, not on every row.
    """
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(frequency, dtype=float)
    w = np.asarray(weights, dtype=float)
    xs, x_idx = np.unique(x, return_inverse=True)
    ts, t_idx = np.unique(np.asarray(T, dtype=float), return_inverse=True)
    rs, r_idx = np.unique(np.asarray(recency, dtype=float), return_inverse=True)
    w_per_x = np.bincount(x_idx, weights=w, minlength=xs.size)
    repeat = x > 0
    with pm.Model() as model:
        logs = {k: pm.Normal(f"log_{k}", 0.0, LOG_PRIOR_SD) for k in BGNBD_PARAMS}
        r, alpha, a, b = (pm.Deterministic(k, pt.exp(logs[k])) for k in BGNBD_PARAMS)
        # FHL eq. 6 in logs, as lifetimes computes it (A1 + A2 + log(e^A3 + [x>0] e^A4)).
        a1 = pt.gammaln(r + xs) - pt.gammaln(r) + r * pt.log(alpha)
        a2 = pt.gammaln(a + b) + pt.gammaln(b + xs) - pt.gammaln(b) - pt.gammaln(a + b + xs)
        log_alpha_t = pt.log(alpha + ts)[t_idx]
        log_alpha_tx = pt.log(alpha + rs)[r_idx]
        a3 = -(r + x) * log_alpha_t
        log_odds = (pt.log(a) - pt.log(b + np.maximum(xs, 1.0) - 1.0))[x_idx]
        a4 = log_odds - (r + x) * log_alpha_tx
        per_row = pt.switch(repeat, pt.logaddexp(a3, a4), a3)
        pm.Potential("loglik", pt.sum(w_per_x * (a1 + a2)) + pt.sum(w * per_row))
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
    method: str = "auto",
) -> tuple[xr.DataArray, dict]:
    """Posterior draws ``params(chain, draw, param)`` (param = r, alpha, a, b; alpha in time
    units) and sampler diagnostics, from per-customer statistics (shape (n,) each). ``method``:
    ``nuts``, ``laplace`` or ``auto`` (by the number of compressed rows, see
    ``clv.settings.NUTS_MAX_ROWS``)."""
    from clv.sampling import choose_method, laplace_params, sample_params

    rows = compress(frequency=frequency, recency=recency, T=T)
    model = build_model(
        rows.columns["frequency"], rows.columns["recency"], rows.columns["T"], rows.weights
    )
    if choose_method(method, len(rows)) == "laplace":
        return laplace_params(
            model, BGNBD_PARAMS, draws=draws, chains=chains, seed=seed, start=start
        )
    return sample_params(
        model, BGNBD_PARAMS, draws=draws, tune=tune, chains=chains, seed=seed, start=start
    )
