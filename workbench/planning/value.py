"""What an acquired customer is worth (currency): the first order plus the CLV of later orders,
per acquiring channel, with the sampling uncertainty of those per-channel means.

clv.nc gives per-customer CLV (``clv``), expected order value and, when attribution results
were given, ``acquisition_channel_share(customer_id, channel)`` and ``clv_by_channel``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: z-score of the 95% quantile: turns a 90% interval into a standard deviation.
Z90 = 1.6448536269514722


def credit_weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Credit-weighted mean per channel: values (customer,), weights (customer, channel)."""
    ok = np.isfinite(values)
    total = weights[ok].sum(axis=0)
    out = np.full(total.shape, np.nan)
    np.divide(values[ok] @ weights[ok], total, out=out, where=total > 0)
    return out


def customer_worth(clv: xr.Dataset, channels: list[str]) -> tuple[np.ndarray, float, str]:
    """Value of an acquired customer (currency): first order + CLV of later orders.

    Returns per channel (channel,) the credit-weighted value of the customers it acquires
    (``clv_by_channel`` + their mean expected order value), the value of a customer credited to
    no channel (means over all customers), and a note saying which inputs were used.
    """
    order = order_values(clv)
    clv_all = clv["clv"].values.astype(float) if "clv" in clv else np.full(order.shape, np.nan)
    baseline = float(np.nanmean(order) + np.nanmean(clv_all))
    share = acquisition_share(clv, channels)
    by_order = (
        credit_weighted_mean(order, share)
        if share is not None
        else np.full(len(channels), np.nanmean(order))
    )
    if "clv_by_channel" in clv:
        by_clv = clv["clv_by_channel"].reindex(channel=channels).values.astype(float)
        note = "first order + clv_by_channel (credit-weighted CLV per acquiring channel)"
    else:
        by_clv = np.full(len(channels), np.nanmean(clv_all))
        note = "first order + mean CLV of all customers (no clv_by_channel in clv.nc)"
    worth = by_order + by_clv
    if not np.isfinite(baseline):
        from workbench.errors import InputError

        raise InputError("clv results have no clv or order values to value customers with")
    return np.where(np.isfinite(worth), worth, baseline), baseline, note


def order_values(clv: xr.Dataset) -> np.ndarray:
    """Expected order value per customer (currency): the Gamma-Gamma expectation when clv.nc
    has it, else the observed mean order value."""
    name = "expected_order_value" if "expected_order_value" in clv else "monetary_value"
    return clv[name].values.astype(float)


def acquisition_share(clv: xr.Dataset, channels: list[str]) -> np.ndarray | None:
    """Credit shares (customer, channel) of each customer's acquisition, or None."""
    if "acquisition_channel_share" not in clv:
        return None
    share = clv["acquisition_channel_share"].reindex(channel=channels, fill_value=0.0)
    return np.nan_to_num(share.transpose("customer_id", "channel").values.astype(float))


def worth_draws(
    clv: xr.Dataset, channels: list[str], worth: np.ndarray, n_samples: int, seed: int
) -> np.ndarray:
    """Per-sample value of a customer acquired by each channel (sample, channel), currency.

    The mean is ``worth`` (:func:`customer_worth`). Its uncertainty: from a Bayesian clv.nc, the
    90% interval of ``clv_by_channel`` as a normal sd; otherwise the sampling error of a
    credit-weighted mean over the channel's customers, sd(value) / sqrt(effective n), with
    effective n = (sum w)^2 / sum w^2. Without acquisition shares there is no per-channel
    information and the draws equal the mean.
    """
    rng = np.random.default_rng(seed)
    sd = np.zeros(len(channels))
    if {"clv_by_channel_lower", "clv_by_channel_upper"} <= set(clv.data_vars):
        lo = clv["clv_by_channel_lower"].reindex(channel=channels).values.astype(float)
        hi = clv["clv_by_channel_upper"].reindex(channel=channels).values.astype(float)
        sd = np.nan_to_num((hi - lo) / (2 * Z90))
    else:
        share = acquisition_share(clv, channels)
        if share is not None and "clv" in clv:
            per_customer = order_values(clv) + clv["clv"].values.astype(float)
            ok = np.isfinite(per_customer)
            w, v = share[ok], per_customer[ok]
            n_eff = np.divide(
                w.sum(0) ** 2, (w**2).sum(0), out=np.zeros(w.shape[1]), where=w.sum(0) > 0
            )
            spread = np.std(v, ddof=1) if v.size > 1 else 0.0
            sd = np.divide(spread, np.sqrt(n_eff), out=np.zeros_like(n_eff), where=n_eff > 0)
    draws = worth[None, :] + sd[None, :] * rng.standard_normal((n_samples, len(channels)))
    # A customer is never worth less than nothing.
    return np.maximum(draws, 0.0)
