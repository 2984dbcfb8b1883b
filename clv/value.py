"""Per-customer value: P(alive), expected purchases, expected order value and discounted CLV.

Point estimates (one parameter set) give one number per customer; posterior draws give the mean
and a central interval per customer, computed vectorised over a thinned set of draws. The
BG/NBD quantities depend only on (frequency, recency, T), so they are computed once per unique
row and gathered back to customers.
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
    rows = compress(frequency=frequency, recency=recency, T=T)
    x, t_x, big_t = (rows.columns[k] for k in ("frequency", "recency", "T"))
    ends, factors = discount_steps(horizon, unit_days, annual_discount_rate)

    # Per unique row and draw: P(alive), E[purchases over the horizon] and the discounted
    # purchase stream sum_k factor_k (E[X(t_k)] - E[X(t_{k-1})]), which CLV scales by the
    # expected order value.
    n_rows = len(rows)
    n_samples = draws.sizes["sample"]
    alive = np.empty((n_samples, n_rows))
    purchases = np.empty((n_samples, n_rows))
    discounted = np.empty((n_samples, n_rows))
    for lo in range(0, n_rows, max(1, CHUNK_ROWS // n_samples)):
        sl = slice(lo, lo + max(1, CHUNK_ROWS // n_samples))
        args = (x[sl], t_x[sl], big_t[sl])
        alive[:, sl] = formulas.p_alive(*bg, *args)
        previous = np.zeros((n_samples, args[0].size))
        stream = np.zeros_like(previous)
        for end, factor in zip(ends, factors, strict=True):
            current = formulas.expected_purchases(end, *bg, *args)
            stream += factor * (current - previous)
            previous = current
        purchases[:, sl] = previous
        discounted[:, sl] = stream

    freq = np.asarray(frequency, dtype=float)
    money = np.asarray(monetary_value, dtype=float)
    out: dict[str, np.ndarray] = {}
    tail = (1.0 - interval) / 2.0
    n = freq.size
    pieces: dict[str, list] = {k: [] for k in VALUE_VARIABLES}
    if groups is not None:
        groups = np.asarray(groups, dtype=float)
        group_total = np.zeros((n_samples, groups.shape[1]))
    for lo in range(0, n, max(1, CHUNK_ROWS * 10 // n_samples)):
        sl = slice(lo, lo + max(1, CHUNK_ROWS * 10 // n_samples))
        idx = rows.inverse[sl]
        aov = formulas.expected_order_value(*gg, freq[sl], money[sl])
        per_draw = {
            "p_alive": alive[:, idx],
            "expected_purchases": purchases[:, idx],
            "expected_order_value": aov,
            "clv": discounted[:, idx] * aov,
        }
        if groups is not None:
            group_total += per_draw["clv"] @ groups[sl]
        for k, v in per_draw.items():
            if n_samples == 1:
                pieces[k].append((v[0],))
            else:
                lower, upper = np.quantile(v, [tail, 1.0 - tail], axis=0)
                pieces[k].append((v.mean(axis=0), lower, upper))
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
    rows = compress(frequency=frequency, recency=recency, T=T)
    x, t_x, big_t = (rows.columns[k] for k in ("frequency", "recency", "T"))
    per_row = formulas.expected_purchases(holdout_length, *bg, x, t_x, big_t).mean(axis=0)
    return per_row[rows.inverse]
