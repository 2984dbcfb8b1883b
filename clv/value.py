"""Per-customer value: P(alive), expected purchases, expected order value and discounted CLV.

Point estimates (one parameter set) give one number per customer; posterior draws give the mean
and a central interval per customer, computed vectorised over a thinned set of draws. The costly
part of the BG/NBD expectations (a Gauss hypergeometric function) depends only on (frequency, T),
so it is computed once per distinct pair and gathered back to customers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from clv import formulas
from clv.data import compress
from clv.settings import (
    BGNBD_PARAMS,
    CHUNK_ROWS,
    CLV_STEP_DAYS,
    DAYS_PER_YEAR,
    GG_PARAMS,
    INTERVAL,
    VALUE_DRAWS,
)

VALUE_VARIABLES = ("p_alive", "expected_purchases", "expected_order_value", "clv")


def thin_draws(params: xr.DataArray, n: int = VALUE_DRAWS) -> xr.DataArray:
    """``params(sample, param)``: at most ``n`` draws evenly spaced over chains and draws (or a
    single ``sample`` for a point estimate ``params(param)``)."""
    if "chain" not in params.dims:
        return params.expand_dims(sample=1)
    stacked = params.stack(sample=("chain", "draw")).transpose("sample", "param")
    keep = np.unique(np.linspace(0, stacked.sizes["sample"] - 1, min(n, stacked.sizes["sample"])))
    return stacked.isel(sample=keep.astype(int)).drop_vars(["sample", "chain", "draw"])


def discount_steps(horizon: float, unit_days: float, annual_discount_rate: float):
    """Step ends ``t_k`` (time units, shape (K,)) and their discount factors (shape (K,)).

    Steps are one mean month long (the last one shorter if the horizon is not a whole number of
    months); each step's purchases are discounted at its end, as lifetimes does monthly."""
    step = CLV_STEP_DAYS / unit_days
    n_steps = max(1, int(np.ceil(horizon / step - 1e-9)))
    ends = np.minimum(np.arange(1, n_steps + 1) * step, horizon)
    factors = (1.0 + annual_discount_rate) ** (-ends * unit_days / DAYS_PER_YEAR)
    return ends, factors


def customer_values(
    params: xr.DataArray,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    horizon: float,
    unit_days: float,
    annual_discount_rate: float,
    interval: float = INTERVAL,
    n_draws: int = VALUE_DRAWS,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-customer values (shape (n,) each).

    ``params`` is ``params(param)`` (point estimate) or ``params(chain, draw, param)``; the BG/NBD
    and Gamma-Gamma parameters are those labelled r, alpha, a, b, p, q, v (alpha in time units).
    ``horizon`` is in time units; ``unit_days`` converts to days for discounting at
    ``annual_discount_rate``. Returns p_alive, expected_purchases (over the horizon),
    expected_order_value (currency per purchase) and clv (discounted currency); with draws each
    also gets ``_lower`` and ``_upper`` (the central ``interval``), and the values are means.

    ``groups`` (shape (n, G), non-negative weights such as segment indicators or acquisition
    channel shares) adds ``group_clv`` (shape (S, G)): per draw, the weighted mean CLV of each
    group (NaN for a group without weight).
    """
    draws = thin_draws(params, n_draws)
    bg = [draws.sel(param=k).values[:, None] for k in BGNBD_PARAMS]
    gg = [draws.sel(param=k).values[:, None] for k in GG_PARAMS]
    freq = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    money = np.asarray(monetary_value, dtype=float)
    ends, factors = discount_steps(horizon, unit_days, annual_discount_rate)

    # FHL eq. 10 = numerator(x, T) / denominator(x, t_x, T), and P(alive) = 1 / denominator.
    # The numerator holds the Gauss hypergeometric function, the expensive part; it does not
    # depend on recency, so it is computed per distinct (x, T) pair (hundreds to thousands at a
    # million customers) and per draw, for every step end: E at the horizon and the discounted
    # stream sum_k factor_k (E(t_k) - E(t_{k-1})), which CLV scales by the order value.
    pairs = compress(frequency=freq, T=big_t)
    xp, tp = pairs.columns["frequency"], pairs.columns["T"]
    n_samples = draws.sizes["sample"]
    previous = np.zeros((n_samples, len(pairs)))
    stream = np.zeros_like(previous)
    for end, factor in zip(ends, factors, strict=True):
        current = formulas.expected_purchases_numerator(end, *bg, xp, tp)
        stream += factor * (current - previous)
        previous = current
    horizon_numerator = previous

    tail = (1.0 - interval) / 2.0
    n = freq.size
    pieces: dict[str, list] = {k: [] for k in VALUE_VARIABLES}
    if groups is not None:
        groups = np.asarray(groups, dtype=float)
        group_total = np.zeros((n_samples, groups.shape[1]))
    step = max(1, CHUNK_ROWS * 10 // n_samples)
    for lo in range(0, n, step):
        sl = slice(lo, lo + step)
        pair = pairs.inverse[sl]
        denominator = formulas.alive_odds_denominator(*bg, freq[sl], t_x[sl], big_t[sl])
        aov = formulas.expected_order_value(*gg, freq[sl], money[sl])
        per_draw = {
            "p_alive": 1.0 / denominator,
            "expected_purchases": horizon_numerator[:, pair] / denominator,
            "expected_order_value": aov,
            "clv": stream[:, pair] / denominator * aov,
        }
        if groups is not None:
            group_total += per_draw["clv"] @ groups[sl]
        for k, v in per_draw.items():
            if n_samples == 1:
                pieces[k].append((v[0],))
            else:
                lower, upper = np.quantile(v, [tail, 1.0 - tail], axis=0)
                pieces[k].append((v.mean(axis=0), lower, upper))
    out: dict[str, np.ndarray] = {}
    for k, parts in pieces.items():
        out[k] = np.concatenate([p[0] for p in parts])
        if n_samples > 1:
            out[f"{k}_lower"] = np.concatenate([p[1] for p in parts])
            out[f"{k}_upper"] = np.concatenate([p[2] for p in parts])
    if groups is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["group_clv"] = group_total / groups.sum(axis=0)
    return out


def holdout_expected_purchases(
    params: xr.DataArray, frequency, recency, T, holdout_length: float, n_draws: int = VALUE_DRAWS
) -> np.ndarray:
    """Expected purchases in the ``holdout_length`` units after calibration, per customer
    (shape (n,); the posterior mean over thinned draws for bayes)."""
    draws = thin_draws(params, n_draws)
    bg = [draws.sel(param=k).values[:, None] for k in BGNBD_PARAMS]
    freq = np.asarray(frequency, dtype=float)
    pairs = compress(frequency=freq, T=T)
    numerator = formulas.expected_purchases_numerator(
        holdout_length, *bg, pairs.columns["frequency"], pairs.columns["T"]
    )
    out = np.empty(freq.size)
    step = max(1, CHUNK_ROWS * 10 // numerator.shape[0])
    for lo in range(0, freq.size, step):
        sl = slice(lo, lo + step)
        denominator = formulas.alive_odds_denominator(
            *bg, freq[sl], np.asarray(recency, float)[sl], np.asarray(T, float)[sl]
        )
        out[sl] = (numerator[:, pairs.inverse[sl]] / denominator).mean(axis=0)
    return out
