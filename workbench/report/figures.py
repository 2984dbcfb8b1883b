"""The report's figures: one function per figure, result Datasets in, matplotlib Figure out.

Figures are sized for an A4/Letter page (``WIDTH_IN`` inches wide) with fonts of ``FONT_PT``
points, so they stay readable when the report is printed. Functions return ``None`` when the
Dataset lacks what the figure needs. Figures are drawn on the Agg canvas without pyplot, so
neither a display nor the caller's matplotlib backend (a notebook's inline one) is touched.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from workbench.report import summaries

#: Figure width (inches) and default height; fits a printed page with margins.
WIDTH_IN = 7.0
HEIGHT_IN = 3.6
#: Base font size (points) at that width: readable on paper.
FONT_PT = 10
#: Colours: Bayesian credit first, then the baselines (colour-blind safe Okabe-Ito palette).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
#: Histogram bins of the CLV distribution, and the upper quantile shown (long right tail).
CLV_BINS = 40
CLV_SHOWN_QUANTILE = 0.99
#: Opacity of the overlapping response-curve bands.
BAND_ALPHA = 0.08
#: How many response curves share one panel before the rest are dropped from the legend.
MAX_LEGEND_ENTRIES = 10

STYLE = {
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT + 1,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT - 1,
    "ytick.labelsize": FONT_PT - 1,
    "legend.fontsize": FONT_PT - 1,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "path",
    "figure.dpi": 100,
}


def text(label: object) -> str:
    """A user-supplied string made safe for matplotlib: ``$`` would start mathtext."""
    return str(label).replace("$", r"\$")


def new_figure(height: float = HEIGHT_IN) -> Figure:
    """An empty report-sized Figure on an Agg canvas."""
    fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(height: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    with mpl.rc_context(STYLE):
        fig = new_figure(height)
        ax = fig.add_subplot()
    return fig, ax


def channel_credit(attr: xr.Dataset) -> Figure | None:
    """Share of attributed conversions per channel: Bayesian Shapley credit (posterior mean,
    bar, with its ``INTERVAL`` as a whisker) against last-touch and Markov credit."""
    table = summaries.channel_credit(attr)
    if table is None:
        return None
    methods = [m for m in summaries.COMPARED_METHODS if f"{m}_share" in table]
    n_bars = 1 + len(methods)
    with mpl.rc_context(STYLE):
        fig, ax = _figure(max(HEIGHT_IN * 0.8, 0.22 * len(table) * n_bars + 1.4))
        y = np.arange(len(table))[::-1]
        height = 0.8 / n_bars
        share = table["bayes_share"].to_numpy() * 100
        err = np.vstack(
            [
                share - table["bayes_share_lower"].to_numpy() * 100,
                table["bayes_share_upper"].to_numpy() * 100 - share,
            ]
        )
        ax.barh(
            y + height * (n_bars - 1) / 2,
            share,
            height,
            xerr=err,
            color=COLOURS[0],
            label=f"Bayesian (Shapley), {summaries.INTERVAL_LABEL}",
            error_kw={"capsize": 3, "elinewidth": 1},
        )
        for i, method in enumerate(methods, start=1):
            ax.barh(
                y + height * ((n_bars - 1) / 2 - i),
                table[f"{method}_share"].to_numpy() * 100,
                height,
                color=COLOURS[i],
                label=method.replace("_", " ").capitalize(),
            )
        ax.set_yticks(y, [text(c) for c in table.index])
        ax.set_xlabel("share of channel-attributed conversions (%)")
        fig.legend(loc="outside lower center", ncols=n_bars, frameon=False)
        ax.set_title("Who earns the conversions: model credit against common rules")
    return fig


def clv_distribution(clv: xr.Dataset) -> Figure | None:
    """Histogram of per-customer discounted CLV (tail above ``CLV_SHOWN_QUANTILE`` clipped)."""
    if "clv" not in clv:
        return None
    values = clv["clv"].values.astype(float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    top = float(np.quantile(values, CLV_SHOWN_QUANTILE))
    with mpl.rc_context(STYLE):
        fig, ax = _figure()
        ax.hist(np.minimum(values, top), bins=CLV_BINS, color=COLOURS[0])
        ax.axvline(values.mean(), color=COLOURS[5], linestyle="--", label="mean")
        ax.axvline(np.median(values), color=COLOURS[2], linestyle=":", label="median")
        ax.set_xlabel(f"customer lifetime value (top {100 * (1 - CLV_SHOWN_QUANTILE):.0f}% folded)")
        ax.set_ylabel("customers")
        ax.legend(frameon=False)
        ax.set_title("How customer value is spread")
    return fig


def retention(clv: xr.Dataset) -> Figure | None:
    """Expected share of a new cohort still active over time (BG/NBD), with its interval."""
    curve = summaries.retention_curve(clv)
    if curve is None:
        return None
    unit = {"D": "days", "W": "weeks", "M": "months"}.get(str(clv.attrs.get("time_unit")), "")
    with mpl.rc_context(STYLE):
        fig, ax = _figure()
        ax.plot(curve["t"], curve["mean"] * 100, color=COLOURS[0], label="expected")
        if (curve["upper"] > curve["lower"]).any():
            ax.fill_between(
                curve["t"],
                curve["lower"] * 100,
                curve["upper"] * 100,
                color=COLOURS[0],
                alpha=0.25,
                label=summaries.INTERVAL_LABEL,
            )
        ax.set_ylim(0, 100)
        ax.set_xlabel(f"time since first purchase ({unit})" if unit else "time since purchase")
        ax.set_ylabel("still active (%)")
        ax.legend(frameon=False)
        ax.set_title("Retention of a newly acquired cohort")
    return fig


def conditional_expectation(clv: xr.Dataset) -> Figure | None:
    """Mean holdout purchases, predicted vs actual, by calibration-period repeat purchases."""
    table = summaries.conditional_expectation(clv)
    if table is None:
        return None
    with mpl.rc_context(STYLE):
        fig, ax = _figure()
        x = np.arange(len(table))
        ax.plot(x, table["actual"], "o-", color=COLOURS[1], label="actual")
        ax.plot(x, table["predicted"], "s--", color=COLOURS[0], label="model")
        ax.set_xticks(x, table.index)
        ax.set_xlabel("repeat purchases in the calibration period")
        ax.set_ylabel("mean purchases in holdout")
        ax.legend(frameon=False)
        ax.set_title("Holdout check: predicted against actual purchases")
    return fig


def tracking(clv: xr.Dataset) -> Figure | None:
    """Repeat purchases per period of the whole cohort, actual against model (weekly and
    cumulative), from ``tracking_actual(period)`` and ``tracking_expected(period)`` (+ bounds);
    a dotted line marks the end of the calibration period."""
    if "tracking_actual" not in clv or "tracking_expected" not in clv:
        return None
    panels = [""] + (["_cumulative"] if "tracking_actual_cumulative" in clv else [])
    unit = {"D": "day", "W": "week", "M": "month"}.get(str(clv.attrs.get("time_unit")), "period")
    with mpl.rc_context(STYLE):
        fig = new_figure(HEIGHT_IN * 0.85)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, suffix in zip(axes, panels, strict=True):
            actual = clv[f"tracking_actual{suffix}"]
            expected = clv[f"tracking_expected{suffix}"]
            x = actual[actual.dims[0]].values
            ax.plot(x, actual.values, color=COLOURS[1], label="actual")
            ax.plot(x, expected.values, "--", color=COLOURS[0], label="model")
            lo, hi = f"tracking_expected{suffix}_lower", f"tracking_expected{suffix}_upper"
            if lo in clv and hi in clv:
                ax.fill_between(x, clv[lo].values, clv[hi].values, color=COLOURS[0], alpha=0.2)
            end = clv.attrs.get("calibration_end")
            if end and np.issubdtype(np.asarray(x).dtype, np.datetime64):
                ax.axvline(np.datetime64(str(end)), color="grey", linestyle=":")
            ax.set_ylabel(f"repeat purchases per {unit}" if not suffix else "cumulative")
            ax.tick_params(axis="x", labelrotation=30)
        axes[0].legend(frameon=False)
        fig.suptitle("Tracking: the cohort's repeat purchases, actual against model")
    return fig


def scenarios(plan: xr.Dataset) -> Figure | None:
    """Expected change in value and in conversions per scenario, with ``INTERVAL`` whiskers."""
    table = summaries.scenarios(plan)
    if table is None:
        return None
    panels = [w for w in ("value", "conversions") if f"delta_{w}" in table]
    if not panels:
        return None
    with mpl.rc_context(STYLE):
        fig = new_figure(max(2.2, 0.4 * len(table) + 1.2))
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        y = np.arange(len(table))[::-1]
        for ax, what in zip(axes, panels, strict=True):
            mean = table[f"delta_{what}"].to_numpy()
            err = np.vstack(
                [
                    mean - table[f"delta_{what}_lower"].to_numpy(),
                    table[f"delta_{what}_upper"].to_numpy() - mean,
                ]
            )
            colours = [COLOURS[2] if m >= 0 else COLOURS[5] for m in mean]
            ax.errorbar(mean, y, xerr=err, fmt="none", ecolor="grey", capsize=3)
            ax.scatter(mean, y, color=colours, zorder=3)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_xlabel(f"change in {what}")
        axes[0].set_yticks(y, [text(s) for s in table.index])
        fig.suptitle(
            f"Change against the current plan (dots: expected; lines: {summaries.INTERVAL_LABEL})"
        )
    return fig


def allocation(plan: xr.Dataset) -> Figure | None:
    """Spend per channel: current plan against the optimiser's recommended allocation."""
    table = summaries.allocation(plan)
    if table is None:
        return None
    with mpl.rc_context(STYLE):
        fig, ax = _figure(max(HEIGHT_IN, 0.5 * len(table) + 1.2))
        y = np.arange(len(table))[::-1]
        ax.barh(y + 0.2, table["current"], 0.4, color=COLOURS[6], label="current")
        ax.barh(y - 0.2, table["optimised"], 0.4, color=COLOURS[0], label="recommended")
        ax.set_yticks(y, [text(c) for c in table.index])
        ax.set_xlabel("spend")
        ax.legend(frameon=False, loc="lower right")
        ax.set_title("Recommended allocation")
    return fig


def response_curves(plan: xr.Dataset) -> Figure | None:
    """Expected conversions against each channel's spend multiplier, with ``INTERVAL`` bands."""
    if "response_conversions" not in plan:
        return None
    s = summaries.summarise(plan["response_conversions"])
    mult = plan["multiplier"].values
    with mpl.rc_context(STYLE):
        fig, ax = _figure()
        for i, channel in enumerate(plan["channel"].values):
            colour = COLOURS[i % len(COLOURS)]
            mean = s["mean"].sel(channel=channel).values
            ax.plot(
                mult,
                mean,
                color=colour,
                label=text(channel) if i < MAX_LEGEND_ENTRIES else None,
            )
            ax.fill_between(
                mult,
                s["lower"].sel(channel=channel).values,
                s["upper"].sel(channel=channel).values,
                color=colour,
                alpha=BAND_ALPHA,
            )
        ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("spend as a multiple of current")
        ax.set_ylabel("expected conversions")
        ax.legend(frameon=False, fontsize=FONT_PT - 2, ncols=2)
        ax.set_title("Response of conversions to each channel's spend")
    return fig


def weekly_touches(attr: xr.Dataset) -> Figure | None:
    """Touches per week and channel (the exposure the model learned from)."""
    if "weekly_touches" not in attr:
        return None
    da = attr["weekly_touches"]
    x = da["week"].values
    with mpl.rc_context(STYLE):
        fig, ax = _figure(HEIGHT_IN * 0.85)
        for i, channel in enumerate(da["channel"].values):
            ax.plot(
                x,
                da.sel(channel=channel).values,
                color=COLOURS[i % len(COLOURS)],
                label=text(channel) if i < MAX_LEGEND_ENTRIES else None,
            )
        # A legend below, not labels at the line ends: those overlap when channels are close.
        fig.legend(loc="outside lower center", ncols=4, frameon=False, fontsize=FONT_PT - 2)
        ax.set_xlabel("week")
        ax.set_ylabel("touches")
        ax.set_title("Touches per week and channel")
    return fig


def posterior_predictive(attr: xr.Dataset) -> Figure | None:
    """Posterior predictive check: observed conversions against the model's (mean and
    ``INTERVAL``) by channel seen and by path length (``observed_by_*``,
    ``predicted_by_*_{mean,q05,q95}`` in attribution.nc)."""
    panels = [
        key
        for key in ("channel", "path_length")
        if f"observed_by_{key}" in attr and f"predicted_by_{key}_mean" in attr
    ]
    if not panels:
        return None
    with mpl.rc_context(STYLE):
        fig = new_figure(HEIGHT_IN)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, key in zip(axes, panels, strict=True):
            observed = attr[f"observed_by_{key}"]
            labels = [text(v) for v in observed[observed.dims[0]].values]
            x = np.arange(len(labels))
            mean = attr[f"predicted_by_{key}_mean"].values
            lo = attr.get(f"predicted_by_{key}_q05")
            hi = attr.get(f"predicted_by_{key}_q95")
            if lo is not None and hi is not None:
                err = np.vstack([mean - lo.values, hi.values - mean])
                ax.errorbar(x, mean, yerr=err, fmt="s", color=COLOURS[0], capsize=2, label="model")
            else:
                ax.plot(x, mean, "s", color=COLOURS[0], label="model")
            ax.plot(x, observed.values, "o", color=COLOURS[1], label="observed")
            if key == "channel":
                ax.set_xticks(x, labels, rotation=30, ha="right")
            else:
                step = max(1, len(labels) // 10)
                ax.set_xticks(x[::step], labels[::step])
            ax.set_xlabel(key.replace("_", " "))
            ax.set_ylabel("conversions")
        axes[0].legend(frameon=False)
        fig.suptitle(f"Posterior predictive check (model: mean and {summaries.INTERVAL_LABEL})")
    return fig
