"""Population checks: the tracking curve, the retention curve and calibration vs holdout.

These are the figures of Fader, Hardie & Lee (2005): expected repeat purchases per period of the
whole cohort against the actual ones (through calibration and holdout), and the conditional
expectations of holdout purchases grouped by calibration frequency.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from clv import formulas
from clv.settings import BGNBD_PARAMS, HOLDOUT_FREQUENCY_GROUPS, VALUE_DRAWS
from posterior_tools.draws import summarise, thin_draws


def tracking(
    params: xr.DataArray,
    T,
    actual_repeat_purchases,
    *,
    start_offset: float,
    end_offset: float | None = None,
    n_draws: int = VALUE_DRAWS,
) -> xr.Dataset:
    """Expected vs actual repeat purchases per period (the tracking plot).

    ``T`` (shape (n,), time units) gives each customer's first purchase at
    ``start_offset - T`` units after the start of period 0, where ``start_offset`` is the
    calibration end measured from that start. ``actual_repeat_purchases`` (shape (K,)) counts
    repeat purchases in periods of one time unit; ``end_offset`` (units since that start) ends
    the last, possibly partial, period. Returns dim ``period`` (0..K-1) with ``tracking_actual``
    and ``tracking_expected`` (+ ``_lower``/``_upper`` for draws) repeat purchases per period
    and their running totals ``tracking_actual_cumulative``, ``tracking_expected_cumulative``.
    """
    draws = thin_draws(params, n_draws)
    bg = [draws.sel(param=k).values[:, None] for k in BGNBD_PARAMS]
    births, counts = np.unique(start_offset - np.asarray(T, dtype=float), return_counts=True)
    actual = np.asarray(actual_repeat_purchases, dtype=float)
    n_periods = actual.size
    period_ends = np.arange(1, n_periods + 1, dtype=float)
    if end_offset is not None:
        period_ends = np.minimum(period_ends, end_offset)
    cumulative = np.zeros((draws.sizes["sample"], n_periods))
    for k, end in enumerate(period_ends):
        age = np.clip(end - births, 0.0, None)
        expected = formulas.unconditional_expected_purchases(age, *bg)
        cumulative[:, k] = expected @ counts
    incremental = np.diff(cumulative, axis=1, prepend=0.0)
    coords = {"period": np.arange(n_periods)}
    ds = xr.merge(
        [
            summarise(incremental, "tracking_expected", ("period",), coords),
            summarise(cumulative, "tracking_expected_cumulative", ("period",), coords),
        ]
    )
    ds["tracking_actual"] = ("period", actual)
    ds["tracking_actual_cumulative"] = ("period", np.cumsum(actual))
    ds["period"].attrs["description"] = "time units since the earliest first purchase"
    ds.attrs["calibration_end_period"] = float(start_offset)
    return ds


def retention_curve(params: xr.DataArray, times, *, n_draws: int = VALUE_DRAWS) -> xr.Dataset:
    """P(a new customer is still alive) at ``times`` (time units since the first purchase);
    dim ``retention_time``, variable ``retention`` (+ ``_lower``/``_upper`` for draws)."""
    draws = thin_draws(params, n_draws)
    bg = [draws.sel(param=k).values for k in BGNBD_PARAMS]
    curve = formulas.retention(np.asarray(times, dtype=float), *bg)
    coords = {"retention_time": np.asarray(times, dtype=float)}
    return summarise(curve, "retention", ("retention_time",), coords)


def holdout_by_frequency(
    frequency, actual, predicted, groups: int = HOLDOUT_FREQUENCY_GROUPS
) -> xr.Dataset:
    """Conditional expectations: mean actual and predicted holdout purchases per calibration
    frequency 0..groups-2 and ``groups-1``+ (dim ``frequency_group``, labels '0'..'7+'), with
    customer counts."""
    group = np.minimum(np.asarray(frequency, dtype=int), groups - 1)
    n = np.bincount(group, minlength=groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_actual = np.bincount(group, weights=np.asarray(actual, float), minlength=groups) / n
        mean_pred = np.bincount(group, weights=np.asarray(predicted, float), minlength=groups) / n
    labels = [str(k) for k in range(groups - 1)] + [f"{groups - 1}+"]
    return xr.Dataset(
        {
            "holdout_actual_by_frequency": ("frequency_group", mean_actual),
            "holdout_predicted_by_frequency": ("frequency_group", mean_pred),
            "customers_by_frequency": ("frequency_group", n),
        },
        coords={"frequency_group": labels},
    )
