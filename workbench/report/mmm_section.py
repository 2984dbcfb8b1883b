"""The report's media-mix section, from ``mmm.nc`` (written by ``workbench mmm``).

Shown only when the results folder holds an mmm.nc: each channel's contribution and ROI with
intervals (and, when lift tests calibrated the model, the estimates without them), conversions
by channel over time above the baseline, response curves with intervals, the lift tests, and
whether the model fits well enough to be read (R^2, MAPE in and out of sample, NUTS diagnostics).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from posterior_tools.settings import INTERVAL, INTERVAL_QUANTILES
from workbench.report.figures import COLOURS, new_figure, text
from workbench.report.markup import Section, esc, figure, num, pct, ratio, table, with_interval
from workbench.report.results import Results
from workbench.report.summaries import mean_interval

LABEL = f"{INTERVAL:.0%} interval"
#: ROI is shown per this much spend (conversions per 1,000 of currency).
ROI_PER = 1000.0


def mmm_sections(res: Results) -> list[Section]:
    """The media-mix section, or none when the folder has no mmm.nc."""
    ds = res.mmm
    return [] if ds is None else [mmm_section(ds)]


def _roi(x: object) -> str:
    return ratio(float(x) * ROI_PER) if np.isfinite(float(x)) else "–"


def summary_items(ds: xr.Dataset) -> list[str]:
    """One executive-summary sentence: the channel with the highest ROI and media's share, and a
    warning when the sampler's checks failed."""
    roi = ds["roi"].mean(("chain", "draw"))
    best = str(roi.idxmax().values)
    share = float(ds["contribution"].sum("channel").mean()) / max(float(ds["kpi"].sum()), 1.0)
    return [
        f"The media-mix model credits paid media with {esc(pct(share))} of conversions; "
        f"<strong>{esc(best)}</strong> returns the most per unit of spend "
        f"({with_interval(*mean_interval(ds['roi'].sel(channel=best) * ROI_PER), ratio)} "
        "conversions per 1,000)."
        + (
            ""
            if ds.attrs.get("diagnostics_ok")
            else ' <span class="warn">Its sampler did not converge cleanly: read these '
            "intervals with care (see the media-mix section).</span>"
        )
    ]


def mmm_section(ds: xr.Dataset) -> Section:
    """The section for one media-mix Dataset."""
    body = (
        "<p>A Bayesian media-mix model of weekly conversions: a baseline (trend, yearly "
        "seasonality, controls) plus each channel's spend carried over for a few weeks and with "
        f"diminishing returns. Contribution is the conversions each channel caused over the data "
        f"period; ROI is conversions per {esc(num(ROI_PER))} of spend ({esc(LABEL)}s in "
        "brackets). Media-mix estimates are weakly identified from a few years of weeks: read "
        "the intervals, and prefer channels calibrated by lift tests.</p>"
    )
    body += _fit_html(ds)
    body += _roi_table(ds)
    body += figure(roi_figure(ds), "ROI by channel with intervals", f"Bars are {LABEL}s.")
    body += figure(
        contribution_over_time_figure(ds),
        "Conversions by channel over time above the baseline",
        "Posterior means; the baseline is trend, seasonality and controls.",
    )
    body += figure(
        response_curves_figure(ds),
        "Response curves with intervals",
        f"Conversions per week at a steady weekly spend; shaded {LABEL}s; the line marks each "
        "channel's average weekly spend in the data.",
    )
    body += _lift_tests_html(ds)
    return Section("mmm", "Media mix: offline and online channels from weekly spend", body)


def _fit_html(ds: xr.Dataset) -> str:
    checks = ds.attrs.get("checks", {})
    diag = ds.attrs.get("diagnostics", {})
    ok = bool(checks.get("fit_ok")) and bool(ds.attrs.get("diagnostics_ok"))
    verdict = (
        "The model reproduces the weekly conversions well and the sampler converged."
        if ok
        else "<strong>Read with care:</strong> "
        + ("the fit is poor. " if not checks.get("fit_ok") else "")
        + ("the sampler did not converge cleanly. " if not ds.attrs.get("diagnostics_ok") else "")
    )
    rows = [
        ["R² of the fitted weekly conversions", esc(ratio(checks.get("r2")))],
        ["Mean absolute % error, fitted weeks", esc(pct(checks.get("mape_in_sample"), 1))],
        [
            f"Mean absolute % error, last {esc(checks.get('holdout_periods', '–'))} weeks held out",
            esc(pct(checks.get("mape_out_of_sample"), 1))
            if "mape_out_of_sample" in checks
            else "not run",
        ],
        [f"Weeks inside the {esc(LABEL)}", esc(pct(checks.get("coverage_90")))],
        [
            "R-hat (max) / divergences",
            f"{esc(ratio(diag.get('rhat_max')))} / {esc(num(diag.get('divergences')))}",
        ],
    ]
    return f"<p>{verdict}</p>" + table(["Check", "Value"], rows)


def _roi_table(ds: xr.Dataset) -> str:
    calibrated = "roi_uncalibrated" in ds
    headers = ["Channel", "Spend", f"Contribution ({LABEL})", f"ROI per 1,000 ({LABEL})"]
    if calibrated:
        headers.append("ROI without lift tests")
    rows = []
    for c in ds["channel"].values:
        row = [
            esc(c),
            esc(num(float(ds["spend_total"].sel(channel=c)))),
            with_interval(*mean_interval(ds["contribution"].sel(channel=c))),
            with_interval(*mean_interval(ds["roi"].sel(channel=c) * ROI_PER), ratio),
        ]
        if calibrated:
            row.append(
                with_interval(
                    *mean_interval(ds["roi_uncalibrated"].sel(channel=c) * ROI_PER), ratio
                )
            )
        rows.append(row)
    return table(headers, rows)


def _lift_tests_html(ds: xr.Dataset) -> str:
    if "lift_test_measured" not in ds:
        return ""
    rows = []
    for t in ds["lift_test"].values:
        sel = {"lift_test": t}
        row = [
            esc(ds["lift_test_channel"].sel(sel).values),
            esc(str(ds["lift_test_start"].sel(sel).values)[:10])
            + " to "
            + esc(str(ds["lift_test_end"].sel(sel).values)[:10]),
            esc(num(float(ds["lift_test_measured"].sel(sel))))
            + " ± "
            + esc(num(float(ds["lift_test_standard_error"].sel(sel)))),
        ]
        if "lift_test_predicted_uncalibrated" in ds:
            row.append(
                with_interval(*mean_interval(ds["lift_test_predicted_uncalibrated"].sel(sel)))
            )
        row.append(with_interval(*mean_interval(ds["lift_test_predicted"].sel(sel))))
        rows.append(row)
    headers = ["Channel", "Window", "Measured lift (± s.e.)"]
    if "lift_test_predicted_uncalibrated" in ds:
        headers.append("Model before")
    headers.append("Model after")
    return (
        "<h3>Lift tests</h3><p>Each test's incremental conversions (caused by the channel's "
        "spend inside the window) as measured and as the model predicts them without and with "
        "the tests.</p>" + table(headers, rows)
    )


# --- figures -----------------------------------------------------------------------------------


def roi_figure(ds: xr.Dataset) -> Figure:
    """Posterior mean ROI per channel with its interval (and without lift tests, if any)."""
    fig = new_figure()
    ax = fig.add_subplot()
    chans = [str(c) for c in ds["channel"].values]
    y = np.arange(len(chans))
    for offset, name, colour, label in (
        (0.0, "roi", COLOURS[0], "model"),
        (0.25, "roi_uncalibrated", COLOURS[1], "without lift tests"),
    ):
        if name not in ds:
            continue
        s = np.array([mean_interval(ds[name].sel(channel=c) * ROI_PER) for c in chans])
        ax.errorbar(
            s[:, 0],
            y + offset,
            xerr=[s[:, 0] - s[:, 1], s[:, 2] - s[:, 0]],
            fmt="o",
            color=colour,
            label=label,
        )
    ax.set_yticks(y, [text(c) for c in chans])
    ax.set_xlabel("conversions per 1,000 of spend")
    if "roi_uncalibrated" in ds:
        ax.legend()
    return fig


def contribution_over_time_figure(ds: xr.Dataset) -> Figure:
    """Stacked posterior-mean conversions per channel per week above the baseline."""
    fig = new_figure()
    ax = fig.add_subplot()
    periods = ds["period"].values
    base = ds["baseline"].mean(("chain", "draw")).values
    parts = ds["contribution_over_time"].mean(("chain", "draw")).transpose("channel", "period")
    ax.fill_between(periods, 0, base, color="#dddddd", label="baseline")
    bottom = base.copy()
    for i, c in enumerate(ds["channel"].values):
        top = bottom + parts.sel(channel=c).values
        ax.fill_between(
            periods, bottom, top, color=COLOURS[i % len(COLOURS)], label=text(c), linewidth=0
        )
        bottom = top
    ax.plot(periods, ds["kpi"].values, color="black", linewidth=0.8, label="observed")
    ax.set_ylim(bottom=min(float(base.min()), float(ds["kpi"].min())) * 0.9)
    ax.set_ylabel("conversions per week")
    ax.legend(ncol=4, fontsize="small")
    return fig


def response_curves_figure(ds: xr.Dataset) -> Figure:
    """Each channel's conversions per week against steady weekly spend as a multiple of its
    average weekly spend in the data (channels spend on very different scales), with intervals."""
    fig = new_figure()
    ax = fig.add_subplot()
    curves = ds["response_curve"]
    lo, hi = (curves.quantile(q, ("chain", "draw")) for q in INTERVAL_QUANTILES)
    mean = curves.mean(("chain", "draw"))
    x = ds["spend_level"].values
    for i, c in enumerate(ds["channel"].values):
        colour = COLOURS[i % len(COLOURS)]
        style = "-" if i < len(COLOURS) else "--"
        ax.plot(x, mean.sel(channel=c).values, style, color=colour, label=text(c))
        ax.fill_between(
            x,
            lo.sel(channel=c).values,
            hi.sel(channel=c).values,
            color=colour,
            alpha=0.12,
            linewidth=0,
        )
    ax.axvline(1.0, color="#999999", linewidth=0.8)
    ax.set_xlabel("steady weekly spend / the channel's average weekly spend")
    ax.set_ylabel("conversions per week")
    ax.legend(ncol=3, fontsize="small")
    return fig
