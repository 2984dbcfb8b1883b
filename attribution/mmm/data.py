"""The model's input arrays, checked and scaled once: spend (geo, period, channel), the KPI
(geo, period), controls (geo, period, control) and the lift tests.

National data is one geo named ``national``. Scales (the model works on scaled numbers so that
its priors mean the same on any business): the KPI by its mean per geo, spend by each channel's
mean positive weekly spend per geo (a channel off for months is scaled by its active weeks, not
diluted by the zeros), controls to mean 0 and sd 1. Scales are computed on the periods the
held-out check fits (all but the last ``HOLDOUT_SHARE``, see :func:`holdout_periods`) whatever
is fitted, so the full fit and the check are one model that differs only in which periods the
likelihood sees (``fit_mask``) and are sampled from one compiled model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from attribution.mmm import adstock as _adstock
from attribution.mmm.settings import HOLDOUT_SHARE

NATIONAL = "national"


@dataclass(frozen=True)
class LiftTests:
    """Lift tests as arrays: per test the channel index, the window's period indices and the
    counterfactual lagged spend of that channel with its spend in the window set to zero."""

    names: tuple[str, ...]
    channel: np.ndarray  # (test,) channel index
    windows: tuple[np.ndarray, ...]  # per test, period indices in [start, end]
    x_cf_lagged: tuple[np.ndarray, ...]  # per test (geo, window period, lag), scaled spend
    measured: np.ndarray  # (test,) incremental conversions
    standard_error: np.ndarray  # (test,)
    frame: pd.DataFrame  # the tests as given


@dataclass(frozen=True)
class MediaData:
    """Checked, scaled model inputs. ``n_fit``: the likelihood sees periods [0, n_fit);
    ``n_scale``: scales, standardisation and trend changepoints come from periods [0, n_scale)."""

    channels: tuple[str, ...]
    geos: tuple[str, ...]
    periods: np.ndarray  # (period,) datetime64
    controls_names: tuple[str, ...]
    spend: np.ndarray  # (geo, period, channel) currency
    kpi: np.ndarray  # (geo, period)
    controls: np.ndarray  # (geo, period, control), standardised
    kpi_scale: np.ndarray  # (geo,)
    spend_scale: np.ndarray  # (geo, channel)
    n_fit: int
    l_max: int
    n_scale: int

    @property
    def x_lagged(self) -> np.ndarray:
        """Scaled spend with lags, (geo, period, channel, lag)."""
        return _adstock.lagged(self.spend / self.spend_scale[:, None, :], self.l_max)

    @property
    def fit_mask(self) -> np.ndarray:
        """1.0 for the periods the likelihood sees, else 0.0, (period,)."""
        return (np.arange(self.spend.shape[1]) < self.n_fit).astype(float)

    @property
    def spend_fit(self) -> np.ndarray:
        """Total spend per geo and channel over the fitted periods, currency, (geo, channel)."""
        return self.spend[:, : self.n_fit].sum(axis=1)


def _as_3d(da: xr.DataArray, name: str, last: str) -> xr.DataArray:
    if "period" not in da.dims:
        raise ValueError(f"{name} needs a 'period' dim; it has {da.dims}")
    if "geo" not in da.dims:
        da = da.expand_dims(geo=[NATIONAL])
    return da.transpose("geo", "period", *([last] if last else []))


def prepare(
    spend: xr.DataArray,
    kpi: xr.DataArray,
    controls: xr.DataArray | None,
    l_max: int,
    n_fit: int | None = None,
) -> MediaData:
    """Check and scale the inputs. ``spend`` (period, channel[, geo]) in currency per period,
    ``kpi`` (period[, geo]) conversions per period, ``controls`` (period, control[, geo]) or
    None. Raises ValueError on misaligned or invalid arrays."""
    sp = _as_3d(spend, "spend", "channel")
    y = _as_3d(kpi, "kpi", "")
    sp, y = xr.align(sp, y, join="exact")
    s = np.asarray(sp.values, dtype=float)
    yv = np.asarray(y.values, dtype=float)
    if not (np.isfinite(s).all() and (s >= 0).all()):
        raise ValueError("spend must be finite and >= 0")
    if not (np.isfinite(yv).all() and (yv >= 0).all()):
        raise ValueError("the KPI must be finite and >= 0")
    n = s.shape[1]
    n_fit = n if n_fit is None else int(n_fit)
    n_scale = min(n_fit, holdout_periods(n))
    kpi_scale = yv[:, :n_scale].mean(axis=1)
    if (kpi_scale <= 0).any():
        raise ValueError("every geo needs a positive KPI in the fitted periods")
    positive = np.where(s[:, :n_scale] > 0, s[:, :n_scale], np.nan)
    with np.errstate(all="ignore"):
        spend_scale = np.nanmean(positive, axis=1)
    # A channel never active in a geo: scale 1 (its spend is all zeros there, so no effect).
    spend_scale = np.where(np.isfinite(spend_scale), spend_scale, 1.0)
    if controls is not None and controls.sizes.get("control", 0) > 0:
        c = _as_3d(controls, "controls", "control")
        if "geo" not in controls.dims:
            c = c.isel(geo=0, drop=True).expand_dims(geo=sp.geo.values)
        c = c.reindex(period=sp.period)
        cv = np.asarray(c.transpose("geo", "period", "control").values, dtype=float)
        if not np.isfinite(cv).all():
            raise ValueError("controls must be finite for every period (and geo)")
        mean = cv[:, :n_scale].mean(axis=(0, 1))
        sd = cv[:, :n_scale].std(axis=(0, 1))
        names = tuple(str(v) for v in c.control.values)
        keep = sd > 0
        cv = (cv[..., keep] - mean[keep]) / sd[keep]
        names = tuple(nm for nm, k in zip(names, keep, strict=True) if k)
    else:
        cv = np.zeros(s.shape[:2] + (0,))
        names = ()
    return MediaData(
        channels=tuple(str(c) for c in sp.channel.values),
        geos=tuple(str(g) for g in sp.geo.values),
        periods=np.asarray(sp.period.values),
        controls_names=names,
        spend=s,
        kpi=yv,
        controls=cv,
        kpi_scale=kpi_scale,
        spend_scale=spend_scale,
        n_fit=n_fit,
        l_max=l_max,
        n_scale=n_scale,
    )


def holdout_periods(n_periods: int) -> int:
    """Periods fitted by the held-out check: all but the last HOLDOUT_SHARE (at least one)."""
    return n_periods - max(1, int(round(HOLDOUT_SHARE * n_periods)))


def lift_tests(data: MediaData, tests: pd.DataFrame) -> LiftTests:
    """Arrays for the lift-test terms. ``tests`` has the contract columns ``channel``, ``start``,
    ``end`` (dates; a period belongs to the window when its start is in [start, end]),
    ``incremental_conversions`` and ``standard_error`` (both in conversions, market-wide).
    Raises ValueError for an unknown channel, an empty window or a non-positive standard error."""
    periods = pd.DatetimeIndex(data.periods)
    channel, windows, cf = [], [], []
    for i, row in enumerate(tests.itertuples(index=False)):
        if row.channel not in data.channels:
            raise ValueError(f"lift test {i + 1}: channel {row.channel!r} has no spend")
        if not row.standard_error > 0:
            raise ValueError(f"lift test {i + 1}: standard_error must be > 0")
        c = data.channels.index(row.channel)
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        idx = np.flatnonzero((periods >= start) & (periods <= end))
        idx = idx[idx < data.n_fit]
        if len(idx) == 0:
            raise ValueError(
                f"lift test {i + 1}: window {start.date()}..{end.date()} has no period"
            )
        x = data.spend[:, :, c] / data.spend_scale[:, None, c]
        x_cf = x.copy()
        x_cf[:, idx] = 0.0
        lag_cf = _adstock.lagged(x_cf[..., None], data.l_max)[:, idx, 0, :]
        channel.append(c)
        windows.append(idx)
        cf.append(lag_cf)
    return LiftTests(
        names=tuple(f"test_{i + 1}" for i in range(len(tests))),
        channel=np.asarray(channel, dtype=int),
        windows=tuple(windows),
        x_cf_lagged=tuple(cf),
        measured=np.asarray(tests["incremental_conversions"], dtype=float),
        standard_error=np.asarray(tests["standard_error"], dtype=float),
        frame=tests.reset_index(drop=True),
    )


def national_total(
    spend: xr.DataArray, kpi: xr.DataArray, controls: xr.DataArray | None
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray | None]:
    """The same weeks summed over geos: spend (period, channel) and KPI (period) totals per
    week, controls given per geo averaged over geos (weighted by each geo's total KPI, so a
    large geo's price weighs as its sales do); inputs without a ``geo`` dim are returned as
    they are. Used to choose the carry-over and saturation forms of a geo model cheaply
    (:func:`attribution.mmm.fit.fit_media_mix`)."""
    if "geo" not in spend.dims:
        return spend, kpi, controls
    if controls is not None and "geo" in controls.dims:
        weight = kpi.sum("period").reindex(geo=controls.geo)
        controls = controls.weighted(weight / weight.sum()).sum("geo")
    return spend.sum("geo"), kpi.sum("geo"), controls
