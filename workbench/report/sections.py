"""The report's main sections, each a function from the loaded results to a :class:`Section`.

A section whose results file is missing says so (and which command makes it) instead of failing.
All data-derived text is escaped (``markup.esc`` or the number formatters). The executive
summary lives in ``executive.py``; data quality and diagnostics in ``appendix.py``.
"""

from __future__ import annotations

import numpy as np

from workbench.report import figures, plan_section, summaries
from workbench.report.appendix import data_quality, diagnostics
from workbench.report.cx_section import cx_sections
from workbench.report.executive import executive_summary
from workbench.report.experiment_section import experiment_sections
from workbench.report.markup import (
    Section,
    chance,
    esc,
    figure,
    missing,
    num,
    pct,
    ratio,
    signed,
    table,
    with_interval,
)
from workbench.report.mmm_section import mmm_sections
from workbench.report.results import HOW_TO_MAKE, UNITS, Results

#: KPI names (plan.nc ``kpi`` coord) with their labels and formats, in display order.
KPI_LABELS = {
    "spend": ("Spend", "num"),
    "conversions": ("Conversions", "num"),
    "conversion_rate": ("Conversion rate", "pct"),
    "new_customers": ("New customers", "num"),
    "cpa": ("CPA", "num"),
    "cac": ("CAC", "num"),
    "roas": ("ROAS", "ratio"),
    "aov": ("Avg order value", "num"),
    "average_order_value": ("Avg order value", "num"),
    "retention": ("Retention", "pct"),
    "clv": ("CLV", "num"),
    "clv_to_cac": ("CLV:CAC", "ratio"),
    "clv_cac": ("CLV:CAC", "ratio"),
}


def _fmt(kind: str):
    return {"pct": lambda v: pct(v, 1), "ratio": ratio}.get(kind, num)


def _kpi_label(name: str) -> tuple[str, str]:
    return KPI_LABELS.get(name, (name.replace("_", " ").capitalize(), "num"))


# --- channel contribution --------------------------------------------------------------------


def channel_contribution(res: Results) -> Section:
    """Bayesian Shapley credit per channel against last-touch and Markov, with intervals."""
    title = "Channel contribution"
    attr = res.attribution
    if attr is None:
        return Section("channels", title, missing("attribution.nc", HOW_TO_MAKE["attribution"]))
    credit = summaries.channel_credit(attr)
    if credit is None:
        return Section("channels", title, missing("Channel credit", HOW_TO_MAKE["attribution"]))
    headers = ["Channel", f"Model credit ({summaries.INTERVAL_LABEL})", "Share of credit"]
    if "incremental" in credit:
        headers.append("Lost if removed")
    methods = [m for m in summaries.COMPARED_METHODS if m in credit]
    headers += [f"{m.replace('_', ' ').capitalize()} credit" for m in methods]
    # P(effect > 0) per channel: the spike-and-slab's inclusion probability (attribution.nc)
    p_effect = attr["p_effect_positive"].to_series() if "p_effect_positive" in attr else None
    if p_effect is not None:
        headers.insert(3, "Chance it has any effect")
    rows = []
    for channel, r in credit.iterrows():
        row = [
            esc(channel),
            with_interval(r["bayes"], r["bayes_lower"], r["bayes_upper"]),
            with_interval(r["bayes_share"], r["bayes_share_lower"], r["bayes_share_upper"], pct),
        ]
        if "incremental" in credit:
            row.append(
                with_interval(r["incremental"], r["incremental_lower"], r["incremental_upper"])
            )
        if p_effect is not None:
            # untested channels carry P = 1 (far from 0): shown as ">99%", never as certain
            row.insert(3, esc(chance(min(float(p_effect.get(channel, float("nan"))), 0.999))))
        row += [f"{esc(num(r[m]))} ({esc(pct(r[f'{m}_share']))})" for m in methods]
        rows.append(row)
    body = (
        "<p>Credit is the exact Shapley value of the model's conversion probability over the "
        "channels each journey saw, summed over journeys: it splits every conversion the channels "
        "caused, beyond the baseline, fairly among them. <em>Lost if removed</em> is the drop in "
        "conversions if the channel were switched off. Last-touch and Markov are the common "
        "rules of thumb, shown for comparison."
        + (
            " <em>Chance it has any effect</em> is the posterior probability that the channel "
            "changes conversions at all; below 95%, its interval starts at zero."
            if p_effect is not None
            else ""
        )
        + "</p>"
        + figure(figures.channel_credit(attr), "Bar chart of channel credit shares by method")
        + table(headers, rows)
    )
    others = [m for m in credit.columns if m.endswith("_share") and not m.startswith("bayes")]
    others = [m[: -len("_share")] for m in others if m[: -len("_share")] not in methods]
    if others:
        rows = [
            [esc(c)] + [esc(pct(r[f"{m}_share"])) for m in others] for c, r in credit.iterrows()
        ]
        body += "<details><summary>All rule-based baselines (share of credit)</summary>"
        body += table(["Channel"] + [m.replace("_", " ") for m in others], rows) + "</details>"
    return Section("channels", title, body)


# --- KPIs ------------------------------------------------------------------------------------


def kpis(res: Results) -> Section:
    """KPIs and CLV:CAC per channel (from plan.nc; CLV by channel from clv.nc otherwise)."""
    title = "KPIs and CLV:CAC per channel"
    kp = summaries.kpis(res.plan) if res.plan is not None else None
    if kp is not None:
        names = [k for k in kp.columns if not k.endswith(("_lower", "_upper"))]
        order = [k for k in KPI_LABELS if k in names] + [k for k in names if k not in KPI_LABELS]
        rows = []
        total = summaries.kpi_totals(res.plan)
        entries = list(kp.iterrows()) + ([("All channels", total)] if total is not None else [])
        for channel, r in entries:
            row = [esc(channel)]
            for k in order:
                fmt = _fmt(_kpi_label(k)[1])
                lo, hi = r.get(f"{k}_lower"), r.get(f"{k}_upper")
                row.append(with_interval(r[k], lo, hi, fmt))
            rows.append(row)
        body = (
            "<p>CPA = spend per conversion; CAC = spend per new customer credited to the channel; "
            "ROAS = revenue per unit of spend; CLV:CAC = lifetime value of the customers a channel "
            "brings per unit of acquisition cost (above 3 is commonly read as healthy).</p>"
            + table(["Channel"] + [_kpi_label(k)[0] for k in order], rows)
        )
        return Section("kpis", title, body + _period_table(res.plan))
    if res.clv is not None and (cb := summaries.clv_by_channel(res.clv)) is not None:
        rows = [
            [esc(c), with_interval(r["clv"], r["clv_lower"], r["clv_upper"])]
            for c, r in cb.iterrows()
        ]
        body = table(["Channel", "Mean CLV of acquired customers"], rows) + missing(
            "plan.nc (spend-based KPIs and CLV:CAC)", HOW_TO_MAKE["plan"]
        )
        return Section("kpis", title, body)
    return Section("kpis", title, missing("plan.nc", HOW_TO_MAKE["plan"]))


def _period_table(plan) -> str:
    """KPIs in the first and second half of the data window, side by side."""
    periods = summaries.period_kpis(plan)
    if periods is None or periods.empty:
        return ""
    columns = list(periods.columns)
    headers = ["Channel"] + [
        f"{_kpi_label(c.split(':')[0])[0]} ({c.split(':')[1].replace('_', ' ')})" for c in columns
    ]
    rows = [
        [esc(channel)] + [esc(_fmt(_kpi_label(c.split(":")[0])[1])(r[c])) for c in columns]
        for channel, r in periods.iterrows()
    ]
    return "<h3>First half against second half of the period</h3>" + table(headers, rows)


# --- CLV -------------------------------------------------------------------------------------


def customer_value(res: Results) -> Section:
    """CLV distribution, retention, tracking and the holdout check."""
    title = "Customer lifetime value"
    clv = res.clv
    if clv is None:
        return Section("clv", title, missing("clv.nc", HOW_TO_MAKE["clv"]))
    o = summaries.clv_overview(clv)
    unit = UNITS.get(str(clv.attrs.get("time_unit")), "periods")
    facts = [
        ["Customers", esc(num(o.get("customers")))],
        ["Mean CLV", esc(num(o.get("clv_mean")))],
        ["Median CLV", esc(num(o.get("clv_median")))],
        [
            "Total CLV",
            with_interval(o.get("clv_total"), o.get("clv_total_lower"), o.get("clv_total_upper")),
        ],
        ["Share still active (mean P(alive))", esc(pct(o.get("p_alive_mean")))],
        ["Horizon", esc(f"{num(clv.attrs.get('horizon'))} {unit}")],
        ["Annual discount rate", esc(pct(clv.attrs.get("annual_discount_rate"), 1))],
    ]
    for key in ("calibration_end", "holdout_end"):
        if clv.attrs.get(key):
            facts.append([key.replace("_", " ").capitalize(), esc(clv.attrs[key])])
    body = (
        "<p>Lifetime value comes from a BG/NBD model of how often customers buy and when they "
        "stop, and a Gamma-Gamma model of how much they spend, discounted to today.</p>"
        + table(["Customer base", "Value"], facts)
    )
    cb = summaries.clv_by_channel(clv)
    if cb is not None:
        rows = [
            [esc(c), with_interval(r["clv"], r["clv_lower"], r["clv_upper"])]
            for c, r in cb.iterrows()
        ]
        body += table(["Acquisition channel", "Mean CLV of its customers"], rows)
    body += figure(figures.clv_distribution(clv), "Histogram of customer lifetime value")
    body += figure(
        figures.retention(clv), "Retention curve", "Expected share of a new cohort still buying."
    )
    tracking = figures.tracking(clv)
    body += figure(tracking, "Tracking plot of repeat purchases")
    cond = figures.conditional_expectation(clv)
    body += figure(
        cond,
        "Predicted against actual holdout purchases",
        "Customers grouped by their repeat purchases before the calibration end.",
    )
    if tracking is None and cond is None:
        body += missing("A holdout period", "Pass --holdout-end to `workbench clv` to check it.")
    return Section("clv", title, body)


# --- budget ----------------------------------------------------------------------------------


def budget(res: Results) -> Section:
    """Scenarios with intervals and P(beats current), the recommended allocation, curves."""
    title = "Budget scenarios and recommended allocation"
    plan = res.plan
    if plan is None:
        return Section("budget", title, missing("plan.nc", HOW_TO_MAKE["plan"]))
    body = ""
    sc = summaries.scenarios(plan)
    if sc is not None:
        headers = ["Scenario", "Total spend"]
        cols = []
        for what in ("conversions", "value"):
            if f"delta_{what}" in sc:
                headers.append(f"Change in {what} ({summaries.INTERVAL_LABEL})")
                cols.append(what)
        if "p_beats_current" in sc:
            headers.append("Chance it beats current")
        if "description" in sc:
            headers.append("What changes")
        rows = []
        for name, r in sc.iterrows():
            row = [esc(name), esc(num(r.get("spend")))]
            row += [
                with_interval(r[f"delta_{w}"], r[f"delta_{w}_lower"], r[f"delta_{w}_upper"], signed)
                for w in cols
            ]
            if "p_beats_current" in sc:
                row.append(esc(chance(r["p_beats_current"])))
            if "description" in sc:
                row.append(esc(r["description"]))
            rows.append(row)
        body += figure(figures.scenarios(plan), "Scenario effects with intervals") + table(
            headers, rows
        )
    alloc = summaries.allocation(plan)
    if alloc is not None:
        rows = [
            [
                esc(c),
                esc(num(r["current"])),
                esc(num(r["optimised"])),
                esc(signed(r["change"])),
                esc(pct(r["change_share"]) if np.isfinite(r["change_share"]) else "–"),
            ]
            for c, r in alloc.iterrows()
        ]
        body += "<h3>Recommended allocation</h3>"
        body += figure(figures.allocation(plan), "Current and recommended spend per channel")
        body += table(["Channel", "Current spend", "Recommended", "Change", "Change (%)"], rows)
    else:
        body += missing("The optimiser's allocation (scenario 'optimised')", HOW_TO_MAKE["plan"])
    body += plan_section.cross_model_html(plan)  # offline channels, both models side by side
    body += figure(
        figures.response_curves(plan),
        "Response curves per channel",
        "Diminishing returns: each curve varies one channel's spend, the others held at current.",
    )
    return Section("budget", title, body)


def all_sections(res: Results) -> list[Section]:
    """Every section, in reading order."""
    return [
        executive_summary(res),
        channel_contribution(res),
        kpis(res),
        customer_value(res),
        budget(res),
        *mmm_sections(res),
        *experiment_sections(res),
        *cx_sections(res),
        data_quality(res),
        diagnostics(res),
    ]
