"""Planning figures: one function per figure, plan Dataset in, matplotlib Figure out."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

#: Band of the response curves (posterior quantiles).
BAND = (0.05, 0.95)
PANEL_INCHES = (3.2, 2.4)
MAX_COLUMNS = 3


def plot_response_curves(plan: xr.Dataset, kind: str = "value"):
    """Expected ``value`` or ``conversions`` against each channel's spend multiple (others at
    current spend): posterior mean line and 90% band, one panel per channel. Uses
    ``response_<kind>(channel, multiplier, draw)``."""
    from matplotlib.figure import Figure

    curves = plan[f"response_{kind}"]
    channels = list(curves["channel"].values)
    cols = min(MAX_COLUMNS, len(channels))
    rows = math.ceil(len(channels) / cols)
    fig = Figure(figsize=(PANEL_INCHES[0] * cols, PANEL_INCHES[1] * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    x = curves["multiplier"].values
    for ax, channel in zip(axes, channels, strict=False):
        draws = curves.sel(channel=channel).transpose("multiplier", "draw").values
        lo, hi = np.quantile(draws, BAND, axis=1)
        ax.fill_between(x, lo, hi, alpha=0.25, linewidth=0)
        ax.plot(x, draws.mean(axis=1))
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(str(channel), fontsize=10)
        ax.set_xlabel("spend, multiple of current")
    for ax in axes[len(channels) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("expected " + ("value (CLV)" if kind == "value" else "conversions"))
    fig.suptitle(f"Response of {kind} to each channel's spend (mean, 90% band)", fontsize=11)
    return fig


def plot_scenario_deltas(plan: xr.Dataset, kind: str = "value"):
    """Change in ``value`` or ``conversions`` against the current plan per scenario: posterior
    mean and 90% interval, with P(beats current) beside each row. Uses ``delta_<kind>_mean``,
    ``_q05``, ``_q95`` and ``p_beats_current`` (value) or ``p_more_conversions``."""
    from matplotlib.figure import Figure

    names = [s for s in plan["scenario"].values.tolist() if s != "current"]
    sub = plan.sel(scenario=names)
    mean = sub[f"delta_{kind}_mean"].values
    lo, hi = sub[f"delta_{kind}_q05"].values, sub[f"delta_{kind}_q95"].values
    prob = sub["p_beats_current" if kind == "value" else "p_more_conversions"].values
    fig = Figure(figsize=(7.0, 0.5 * len(names) + 1.4), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))[::-1]
    ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="o", capsize=3)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_yticks(y, names)
    for yi, m, p in zip(y, hi, prob, strict=True):
        ax.annotate(
            f"P(better) {p:.0%}", (m, yi), xytext=(6, 0), textcoords="offset points", va="center"
        )
    ax.set_xlabel(
        "change vs current "
        + ("value (CLV)" if kind == "value" else "conversions")
        + " (mean, 90% interval)"
    )
    ax.margins(x=0.25)
    return fig
