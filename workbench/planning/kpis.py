"""Channel KPIs: what a unit of spend buys, per channel and overall, with posterior intervals.

Definitions (per channel ``c``, over the window of the spend and touch data):

- ``spend``: total spend (currency).
- ``conversions``: conversions credited to ``c`` (Shapley credit of the attribution model).
- ``conversion_rate``: credited conversions / journeys in which ``c`` appears.
- ``cpa``: spend / credited conversions (currency per conversion).
- ``cac``: spend / new customers credited to ``c`` (``acquisition_channel_share`` summed over
  customers in clv.nc); currency per customer.
- ``roas``: value of the credited customers / spend, a customer being worth what the plan
  values a new customer of ``c`` at (``value.customer_value``: the first order plus the
  expected repeat orders of a new customer of ``c``; first order + ``clv`` when clv.nc has no
  purchase histories): credited conversions x that value / spend.
- ``aov``: average order value of the customers ``c`` acquires (credit-weighted mean of
  ``expected_order_value``, or of ``monetary_value`` when absent), ``retention``: their
  credit-weighted mean P(alive), ``clv``: ``clv_by_channel``; ``clv_to_cac``: clv / cac.

Point values are the plug-in at the posterior mean; ``_lower``/``_upper`` are the 5% and 95%
quantiles over posterior draws where a KPI depends on the attribution posterior (and the CLV
interval for ``clv`` and ``clv_to_cac`` when clv.nc is Bayesian); otherwise they equal the point.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench.planning.value import (
    acquisition_share,
    credit_weighted_mean,
    customer_worth,
    order_values,
)

#: Interval quantiles for every KPI with a posterior.
INTERVAL = INTERVAL_QUANTILES
KPIS = (
    "spend",
    "conversions",
    "conversion_rate",
    "cpa",
    "cac",
    "roas",
    "aov",
    "retention",
    "clv",
    "clv_to_cac",
)
#: KPIs compared between periods (from posterior-mean journey credit).
PERIOD_KPIS = ("spend", "conversions", "cpa", "roas")
PERIOD_LABELS = ("first_half", "second_half")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _summ(draws: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, lower, upper) from draws (sample, ...) ignoring NaN."""
    if draws is None:
        return point, point, point
    with np.errstate(all="ignore"):
        lo, hi = np.nanquantile(draws, INTERVAL, axis=0)
    return point, lo, hi


def channel_kpis(attribution: xr.Dataset, clv: xr.Dataset, spend: xr.DataArray) -> xr.Dataset:
    """KPIs per channel and overall.

    ``spend(period, channel)`` (currency). Returns ``kpi(channel, metric)``, ``kpi_lower``,
    ``kpi_upper`` and ``kpi_total(metric)``, ``kpi_total_lower``, ``kpi_total_upper``.
    """
    channels = list(spend["channel"].values)
    spend_c = spend.sum("period").values
    credit = attribution["attributed_conversions"].sel(channel=channels)
    draws = credit.stack(sample=("chain", "draw")).transpose("sample", "channel").values
    conv = draws.mean(axis=0)
    counts = attribution["pattern_counts"].sel(channel=channels)
    present = (counts.sum("recency_bin") > 0).astype(float)
    reached = (present * attribution["pattern_n_journeys"]).sum("pattern").values
    all_journeys = float(attribution["pattern_n_journeys"].sum())

    clv_c, clv_lo, clv_hi = _clv_by_channel(clv, channels)
    share = acquisition_share(clv, channels)
    if share is not None:
        customers = share.sum(axis=0)
        aov = credit_weighted_mean(order_values(clv), share)
        retention = credit_weighted_mean(clv["p_alive"].values, share)
    else:
        customers = aov = retention = np.full(len(channels), np.nan)
    cac = _ratio(spend_c, customers)
    worth = customer_worth(clv, channels)[0]

    rows = {
        "spend": (spend_c, None),
        "conversions": (conv, draws),
        "conversion_rate": (_ratio(conv, reached), _ratio(draws, reached)),
        "cpa": (_ratio(spend_c, conv), _ratio(spend_c, draws)),
        "cac": (cac, None),
        "roas": (_ratio(conv * worth, spend_c), _ratio(draws * worth, spend_c)),
        "aov": (aov, None),
        "retention": (retention, None),
    }
    table = {k: _summ(d, p) for k, (p, d) in rows.items()}
    table["clv"] = (clv_c, clv_lo, clv_hi)
    table["clv_to_cac"] = (_ratio(clv_c, cac), _ratio(clv_lo, cac), _ratio(clv_hi, cac))

    # Overall: every channel together; conversions are all observed ones (organic included).
    total_draws = draws.sum(axis=1)
    total_spend = spend_c.sum()
    observed = float(attribution["observed_conversions"])
    organic = float(attribution.get("organic_conversions", 0.0))
    value_draws = draws @ np.nan_to_num(worth)
    clv_all = float(np.nanmean(clv["clv"].values)) if "clv" in clv else np.nan
    total_customers = float(customers.sum()) if share is not None else np.nan
    total_cac = _ratio(total_spend, total_customers)
    totals = {
        "spend": (total_spend, None),
        "conversions": (observed, None),
        "conversion_rate": (_ratio(observed - organic, all_journeys), None),
        "cpa": (_ratio(total_spend, total_draws.mean()), _ratio(total_spend, total_draws)),
        "cac": (total_cac, None),
        "roas": (_ratio(value_draws.mean(), total_spend), _ratio(value_draws, total_spend)),
        "aov": (float(np.nanmean(order_values(clv))), None),
        "retention": (_nanmean(clv, "p_alive"), None),
        "clv": (clv_all, None),
        "clv_to_cac": (_ratio(clv_all, total_cac), None),
    }
    total_table = {k: _summ(d, np.asarray(p, float)) for k, (p, d) in totals.items()}

    def stack(tab: dict, i: int) -> np.ndarray:
        return np.stack([np.asarray(tab[k][i], float) for k in KPIS], axis=-1)

    # The variable is ``kpi`` so its label dim is ``metric`` (xarray forbids a variable and a
    # dimension of the same name).
    coords = {"channel": channels, "metric": list(KPIS)}
    return xr.Dataset(
        {
            "kpi": (("channel", "metric"), stack(table, 0)),
            "kpi_lower": (("channel", "metric"), stack(table, 1)),
            "kpi_upper": (("channel", "metric"), stack(table, 2)),
            "kpi_total": ("metric", stack(total_table, 0)),
            "kpi_total_lower": ("metric", stack(total_table, 1)),
            "kpi_total_upper": ("metric", stack(total_table, 2)),
        },
        coords=coords,
        attrs={"kpi_interval": list(INTERVAL)},
    )


def period_kpis(attribution: xr.Dataset, clv: xr.Dataset, grid: xr.Dataset) -> xr.Dataset | None:
    """First half vs second half of the spend periods: ``kpi_period(period_half, channel,
    period_metric)`` from posterior-mean journey credit. ``None`` when there are fewer than two
    periods or no per-journey credit in the attribution results."""
    if grid.sizes["period"] < 2 or "journey_credit" not in attribution:
        return None
    from workbench.planning.spend import week_days

    channels = list(grid["channel"].values)
    half = grid.sizes["period"] // 2
    boundary = float(grid["period_start"].values[half])
    times = week_days(attribution["journey_time"])
    credit = attribution["journey_credit"].sel(channel=channels).transpose("journey", "channel")
    first = times < boundary
    worth = customer_worth(clv, channels)[0]
    out = np.empty((2, len(channels), len(PERIOD_KPIS)))
    for h, mask in enumerate((first, ~first)):
        spend_h = grid["spend"].isel(period=slice(0, half) if h == 0 else slice(half, None))
        spend_c = spend_h.sum("period").values
        conv = credit.values[mask].sum(axis=0)
        vals = {
            "spend": spend_c,
            "conversions": conv,
            "cpa": _ratio(spend_c, conv),
            "roas": _ratio(conv * worth, spend_c),
        }
        out[h] = np.stack([vals[k] for k in PERIOD_KPIS], axis=-1)
    return xr.Dataset(
        {"kpi_period": (("period_half", "channel", "period_metric"), out)},
        coords={
            "period_half": list(PERIOD_LABELS),
            "channel": channels,
            "period_metric": list(PERIOD_KPIS),
        },
        attrs={"period_boundary_days": boundary},
    )


def _nanmean(ds: xr.Dataset, name: str) -> float:
    return float(np.nanmean(ds[name].values)) if name in ds else np.nan


def _clv_by_channel(clv: xr.Dataset, channels: list[str]):
    if "clv_by_channel" not in clv:
        nan = np.full(len(channels), np.nan)
        return nan, nan, nan
    mean = clv["clv_by_channel"].sel(channel=channels).values.astype(float)
    lo = (
        clv["clv_by_channel_lower"].sel(channel=channels).values
        if "clv_by_channel_lower" in clv
        else mean
    )
    hi = (
        clv["clv_by_channel_upper"].sel(channel=channels).values
        if "clv_by_channel_upper" in clv
        else mean
    )
    return mean, np.asarray(lo, float), np.asarray(hi, float)
