"""Figures of CLV results: one function per figure, each taking the clv Dataset (or the parts it
needs) and returning a matplotlib Figure. Nothing here fits or computes model quantities."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from posterior_tools.settings import INTERVAL_LABEL

#: Figure size (inches) shared by every figure.
FIGSIZE = (7.0, 3.6)
#: Bins of the CLV histogram.
CLV_BINS = 50
#: Quantile of CLV at which the histogram's x axis is cut (the tail is long).
CLV_AXIS_QUANTILE = 0.99
ACTUAL, MODEL, BAND = "#1f2933", "#2f6fb3", "#9cc3e6"


def _axes() -> tuple[Figure, object]:
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig, fig.add_subplot()


def _labelled(fig: Figure, ax, xlabel: str, ylabel: str, title: str) -> Figure:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def _band(ax, x, ds: xr.Dataset, name: str) -> None:
    if f"{name}_lower" in ds and f"{name}_upper" in ds:
        ax.fill_between(
            x,
            ds[f"{name}_lower"].values,
            ds[f"{name}_upper"].values,
            color=BAND,
            alpha=0.5,
            label=INTERVAL_LABEL,
        )


def tracking_plot(ds: xr.Dataset, cumulative: bool = False) -> Figure:
    """Repeat purchases per period (or their running total), actual against the model's
    expectation, with the calibration end marked (Fader, Hardie & Lee 2005, fig. 2/4).
    Needs ``tracking_actual(period)`` and ``tracking_expected(period)``."""
    suffix = "_cumulative" if cumulative else ""
    fig, ax = _axes()
    x = ds["period"].values
    _band(ax, x, ds, f"tracking_expected{suffix}")
    ax.plot(x, ds[f"tracking_actual{suffix}"].values, color=ACTUAL, label="actual")
    ax.plot(x, ds[f"tracking_expected{suffix}"].values, "--", color=MODEL, label="BG/NBD")
    if ds.attrs.get("calibration_end") and np.issubdtype(x.dtype, np.datetime64):
        ax.axvline(np.datetime64(str(ds.attrs["calibration_end"])), color="grey", ls=":")
    return _labelled(
        fig,
        ax,
        "period start",
        ("cumulative " if cumulative else "") + "repeat purchases",
        "Tracking: repeat purchases, actual vs expected",
    )


def conditional_expectations_plot(ds: xr.Dataset) -> Figure:
    """Mean holdout purchases by calibration frequency, actual against predicted (FHL fig. 3).
    Needs ``holdout_actual_by_frequency`` and ``holdout_predicted_by_frequency``."""
    fig, ax = _axes()
    labels = [str(v) for v in ds["frequency_group"].values]
    x = np.arange(len(labels))
    ax.plot(x, ds["holdout_actual_by_frequency"].values, "o-", color=ACTUAL, label="actual")
    ax.plot(x, ds["holdout_predicted_by_frequency"].values, "s--", color=MODEL, label="predicted")
    ax.set_xticks(x, labels)
    return _labelled(
        fig,
        ax,
        "repeat purchases in calibration",
        "mean purchases in holdout",
        "Conditional expectations: calibration vs holdout",
    )


def clv_distribution_plot(ds: xr.Dataset) -> Figure:
    """Histogram of per-customer discounted CLV (x axis cut at the 99th percentile)."""
    fig, ax = _axes()
    values = ds["clv"].values.astype(float)
    values = values[np.isfinite(values)]
    top = float(np.quantile(values, CLV_AXIS_QUANTILE)) if values.size else 1.0
    ax.hist(np.clip(values, None, top), bins=CLV_BINS, color=MODEL)
    ax.axvline(float(values.mean()), color=ACTUAL, ls="--", label=f"mean {values.mean():,.2f}")
    unit = ds.attrs.get("time_unit", "")
    horizon = ds.attrs.get("horizon", "")
    return _labelled(
        fig,
        ax,
        f"discounted CLV over {horizon:g} {unit}" if horizon != "" else "CLV",
        "customers",
        "Customer lifetime value",
    )


def retention_plot(ds: xr.Dataset) -> Figure:
    """Share of a new cohort still alive against time since the first purchase."""
    fig, ax = _axes()
    x = ds["retention_time"].values
    _band(ax, x, ds, "retention")
    ax.plot(x, ds["retention"].values, color=MODEL, label="BG/NBD")
    ax.set_ylim(0, 1.02)
    return _labelled(
        fig,
        ax,
        f"time since first purchase ({ds.attrs.get('time_unit', 'units')})",
        "P(still alive)",
        "Retention curve",
    )
