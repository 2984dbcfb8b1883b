"""Per-customer value: P(alive), expected purchases, expected order value and discounted CLV.

Point estimates (``params(param)``) give one number per customer; posterior draws
(``params(chain, draw, param)``) give the mean and the central interval per customer, computed
vectorised over ``VALUE_DRAWS`` evenly thinned draws in memory-bounded blocks of customers. The
costly part of the BG/NBD expectations (a Gauss hypergeometric function) depends only on
(frequency, T), so it is computed once per distinct pair and gathered back to customers.
"""

from __future__ import annotations

from collections.abc import Callable

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
    VALUE_DRAWS,
)
from posterior_tools.draws import interval, thin_draws

VALUE_VARIABLES = ("p_alive", "expected_purchases", "expected_order_value", "clv")


def discount_steps(horizon: float, unit_days: float, annual_discount_rate: float):
    """Step ends ``t_k`` (time units, shape (K,)) and their discount factors (shape (K,)).

    Steps are one mean month long (the last one shorter if the horizon is not a whole number of
    months); each step's purchases are discounted at its end, as lifetimes does monthly."""
    step = CLV_STEP_DAYS / unit_days
    n_steps = max(1, int(np.ceil(horizon / step - 1e-9)))
    ends = np.minimum(np.arange(1, n_steps + 1) * step, horizon)
    factors = (1.0 + annual_discount_rate) ** (-ends * unit_days / DAYS_PER_YEAR)
    return ends, factors


def _columns(draws: xr.DataArray, names) -> list[np.ndarray]:
    """Each named parameter's draws as a column (shape (S, 1)), to broadcast over customers."""
    return [draws.sel(param=k).values[:, None] for k in names]


def _by_block(
    n: int, n_samples: int, per_draw: Callable[[slice], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Run ``per_draw(block) -> {name: (S, len(block))}`` over blocks of customers and keep, per
    name, the mean over draws and, with several draws, ``_lower`` / ``_upper`` (the interval)."""
    pieces: dict[str, list] = {}
    step = max(1, CHUNK_ROWS * 10 // n_samples)
    for lo in range(0, n, step):
        for name, values in per_draw(slice(lo, lo + step)).items():
            summary = (values[0],) if n_samples == 1 else interval(values)
            pieces.setdefault(name, []).append(summary)
    out: dict[str, np.ndarray] = {}
    for name, parts in pieces.items():
        out[name] = np.concatenate([p[0] for p in parts])
        if n_samples > 1:
            out[f"{name}_lower"] = np.concatenate([p[1] for p in parts])
            out[f"{name}_upper"] = np.concatenate([p[2] for p in parts])
    return out


def purchase_expectations(
    params: xr.DataArray, t: float, frequency, recency, T, *, n_draws: int = VALUE_DRAWS
) -> dict[str, np.ndarray]:
    """``p_alive`` and ``expected_purchases`` in the next ``t`` time units (FHL eq. 10 and 13)
    per customer (shape (n,) each, + ``_lower``/``_upper`` with draws), from BG/NBD ``params``."""
    draws = thin_draws(params, n_draws)
    bg = _columns(draws, BGNBD_PARAMS)
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    pairs = compress(frequency=x, T=big_t)
    numerator = formulas.expected_purchases_numerator(
        t, *bg, pairs.columns["frequency"], pairs.columns["T"]
    )

    def per_draw(block: slice) -> dict[str, np.ndarray]:
        denominator = formulas.alive_odds_denominator(*bg, x[block], t_x[block], big_t[block])
        return {
            "p_alive": 1.0 / denominator,
            "expected_purchases": numerator[:, pairs.inverse[block]] / denominator,
        }

    return _by_block(x.size, draws.sizes["sample"], per_draw)


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
    n_draws: int = VALUE_DRAWS,
    groups: np.ndarray | None = None,
    order_value: float | None = None,
) -> dict[str, np.ndarray]:
    """Per-customer values (shape (n,) each).

    ``params`` is ``params(param)`` (point estimate) or ``params(chain, draw, param)``; the BG/NBD
    and Gamma-Gamma parameters are those labelled r, alpha, a, b, p, q, v (alpha in time units).
    ``horizon`` is in time units; ``unit_days`` converts to days for discounting at
    ``annual_discount_rate``. Returns p_alive, expected_purchases (over the horizon),
    expected_order_value (currency per purchase) and clv (discounted currency); with draws each
    also gets ``_lower`` and ``_upper`` (the central interval), and the values are means.
    ``order_value``: one order value for every customer instead of the Gamma-Gamma expectation
    (the fallback when every spend is the same amount; then p, q, v are not used).

    ``groups`` (shape (n, G), non-negative weights such as segment indicators or acquisition
    channel shares) adds ``group_clv`` (shape (S, G)): per draw, the weighted mean CLV of each
    group (NaN for a group without weight).
    """
    draws = thin_draws(params, n_draws)
    bg = _columns(draws, BGNBD_PARAMS)
    gg = None if order_value is not None else _columns(draws, GG_PARAMS)
    x, t_x, big_t, money = (
        np.asarray(v, dtype=float) for v in (frequency, recency, T, monetary_value)
    )
    ends, factors = discount_steps(horizon, unit_days, annual_discount_rate)

    # FHL eq. 10 = numerator(x, T) / denominator(x, t_x, T), and P(alive) = 1 / denominator.
    # The numerator holds the Gauss hypergeometric function, the expensive part; it does not
    # depend on recency, so it is computed per distinct (x, T) pair and per draw, for every step
    # end: E at the horizon and the discounted stream sum_k factor_k (E(t_k) - E(t_{k-1})),
    # which CLV scales by the order value.
    pairs = compress(frequency=x, T=big_t)
    xp, tp = pairs.columns["frequency"], pairs.columns["T"]
    n_samples = draws.sizes["sample"]
    previous = np.zeros((n_samples, len(pairs)))
    stream = np.zeros_like(previous)
    for end, factor in zip(ends, factors, strict=True):
        current = formulas.expected_purchases_numerator(end, *bg, xp, tp)
        stream += factor * (current - previous)
        previous = current
    horizon_numerator = previous
    group_total = None if groups is None else np.zeros((n_samples, groups.shape[1]))

    def per_draw(block: slice) -> dict[str, np.ndarray]:
        pair = pairs.inverse[block]
        denominator = formulas.alive_odds_denominator(*bg, x[block], t_x[block], big_t[block])
        if gg is None:
            aov = np.full((n_samples, denominator.shape[1]), float(order_value))
        else:
            aov = formulas.expected_order_value(*gg, x[block], money[block])
        clv = stream[:, pair] / denominator * aov
        if group_total is not None:
            group_total[:] += clv @ np.asarray(groups[block], dtype=float)
        return {
            "p_alive": 1.0 / denominator,
            "expected_purchases": horizon_numerator[:, pair] / denominator,
            "expected_order_value": aov,
            "clv": clv,
        }

    out = _by_block(x.size, n_samples, per_draw)
    if group_total is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["group_clv"] = group_total / np.asarray(groups, dtype=float).sum(axis=0)
    return out
