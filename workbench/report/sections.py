"""The report's sections, each a function from the loaded results to a :class:`Section`.

A section whose results file is missing says so (and which command makes it) instead of failing.
All data-derived text is escaped (``markup.esc`` or the number formatters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from workbench.report import figures, summaries
from workbench.report.markup import (
    Section,
    esc,
    figure,
    interval,
    missing,
    num,
    pct,
    signed,
    table,
    with_interval,
)

#: Results files the report reads, by role (names written by the CLI's defaults).
RESULT_FILES = {"attribution": "attribution.nc", "clv": "clv.nc", "plan": "plan.nc"}
#: How to produce each results file, quoted when it is missing.
HOW_TO_MAKE = {
    "attribution": "Run `workbench attribute --touchpoints F --conversions F` to add it.",
    "clv": "Run `workbench clv --transactions F` to add it.",
    "plan": "Run `workbench plan --attribution F --clv F --spend F` to add it.",
}
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
#: Substrings of attrs names that describe rows rejected, dropped or excluded.
QUALITY_KEYS = ("reject", "drop", "exclu", "skip", "invalid", "warning", "organic", "duplicate")
#: Attrs shown in the diagnostics section, when present.
DIAGNOSTIC_KEYS = (
    "posterior_method",
    "method",
    "rhat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "diagnostics_ok",
    "holdout_log_loss",
    "holdout_mae",
    "diagnostics",
    "params_mle",
    "seed",
    "workbench_version",
    "settings",
)
#: Share-point gap between last-touch and model credit worth a sentence in the summary.
NOTABLE_GAP = 0.05
UNITS = {"D": "days", "W": "weeks", "M": "months"}


@dataclass
class Results:
    """The result Datasets of one folder; ``None`` for a file that is not there."""

    folder: Path
    attribution: xr.Dataset | None = None
    clv: xr.Dataset | None = None
    plan: xr.Dataset | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def available(self) -> list[str]:
        return [k for k in RESULT_FILES if getattr(self, k) is not None]


def _ratio(x: object) -> str:
    return num(x, 2)


def _fmt(kind: str):
    return {"pct": lambda v: pct(v, 1), "ratio": _ratio}.get(kind, num)


def _kpi_label(name: str) -> tuple[str, str]:
    return KPI_LABELS.get(name, (name.replace("_", " ").capitalize(), "num"))


# --- executive summary -----------------------------------------------------------------------


def _summary_attribution(attr: xr.Dataset) -> list[str]:
    items = []
    totals = summaries.conversion_totals(attr)
    lookback = (
        attr.attrs.get("settings", {}) if isinstance(attr.attrs.get("settings"), dict) else {}
    )
    window = lookback.get("lookback_days")
    if totals["observed"] is not None:
        text = f"<strong>{esc(num(totals['observed']))}</strong> conversions were observed"
        if totals["organic"] is not None and totals["observed"]:
            organic_share = totals["organic"] / totals["observed"]
            text += (
                f"; {esc(num(totals['organic']))} ({esc(pct(organic_share))})"
                " had no marketing touch"
                + (f" in the {esc(num(window))}-day window" if window else " in the window")
                + " and count as organic"
            )
        items.append(text + ".")
    credit = summaries.channel_credit(attr)
    if credit is None or credit.empty:
        return items
    if totals["baseline"] is not None:
        baseline_iv = (totals.get("baseline_lower"), totals.get("baseline_upper"))
        items.append(
            "Among journeys with touches, the model expects "
            f"{with_interval(totals['baseline'], *baseline_iv)}"
            " conversions that would have happened without marketing; channels earn "
            f"{esc(num(credit['bayes'].sum()))} conversions."
        )
    top = credit["bayes"].idxmax()
    row = credit.loc[top]
    text = (
        f"<strong>{esc(top)}</strong> earns the most credit: "
        f"{with_interval(row['bayes'], row['bayes_lower'], row['bayes_upper'])} conversions, "
        f"{esc(pct(row['bayes_share']))} of channel credit"
    )
    items.append(text + ".")
    if "last_touch_share" in credit:
        gap = credit["last_touch_share"] - credit["bayes_share"]
        worst = gap.abs().idxmax()
        if abs(gap[worst]) >= NOTABLE_GAP:
            r = credit.loc[worst]
            share_iv = (r["bayes_share_lower"], r["bayes_share_upper"])
            verb = "over-credits" if gap[worst] > 0 else "under-credits"
            items.append(
                f"Last-touch attribution {verb} <strong>{esc(worst)}</strong>: it gives "
                f"{esc(pct(r['last_touch_share']))} of credit, the model "
                f"{with_interval(r['bayes_share'], *share_iv, pct)}."
            )
    return items


def _summary_clv(clv: xr.Dataset) -> list[str]:
    o = summaries.clv_overview(clv)
    if o.get("clv_mean") is None:
        return []
    unit = UNITS.get(str(clv.attrs.get("time_unit")), "periods")
    horizon = clv.attrs.get("horizon")
    total_iv = (o.get("clv_total_lower"), o.get("clv_total_upper"))
    span = f" over the next {esc(num(horizon))} {unit}" if horizon is not None else ""
    text = (
        f"The {esc(num(o['customers']))} customers are worth {esc(num(o['clv_mean']))} each on"
        f" average{span} (median {esc(num(o['clv_median']))}), "
        f"{with_interval(o['clv_total'], *total_iv)} in total"
    )
    if o.get("p_alive_mean") is not None:
        text += f"; on average {esc(pct(o['p_alive_mean']))} are still active"
    return [text + "."]


def _summary_plan(plan: xr.Dataset) -> list[str]:
    items = []
    kp = summaries.kpis(plan)
    ratio = next((k for k in ("clv_to_cac", "clv_cac") if kp is not None and k in kp), None)
    if ratio is not None and kp[ratio].notna().any():
        best = kp[ratio].idxmax()
        items.append(
            f"<strong>{esc(best)}</strong> brings the most customer value per acquisition cost "
            f"(CLV:CAC {esc(_ratio(kp.loc[best, ratio]))})."
        )
    sc = summaries.scenarios(plan)
    alloc = summaries.allocation(plan)
    if sc is not None and summaries.OPTIMISED_SCENARIO in sc.index:
        r = sc.loc[summaries.OPTIMISED_SCENARIO]
        parts = []
        for what in ("value", "conversions"):
            if f"delta_{what}" in r:
                iv = interval(r[f"delta_{what}_lower"], r[f"delta_{what}_upper"], signed)
                parts.append(
                    f"{what} by <strong>{esc(signed(r[f'delta_{what}']))}</strong>"
                    + (f' <span class="iv">({esc(iv)})</span>' if iv else "")
                )
        text = "The recommended allocation is expected to change " + " and ".join(parts)
        if "p_beats_current" in r:
            text += f"; the chance it beats the current plan is {esc(pct(r['p_beats_current']))}"
        items.append(text + ".")
        if alloc is not None and not alloc.empty:
            up, down = alloc["change"].idxmax(), alloc["change"].idxmin()
            moves = []
            if alloc.loc[up, "change"] > 0:
                moves.append(
                    f"more to <strong>{esc(up)}</strong> ({esc(signed(alloc.loc[up, 'change']))})"
                )
            cut = alloc.loc[down, "change"]
            if cut < 0:
                moves.append(f"less to <strong>{esc(down)}</strong> ({esc(signed(cut))})")
            if moves:
                items.append("It moves spend: " + ", ".join(moves) + ".")
    return items


def executive_summary(res: Results) -> Section:
    """Plain-words summary with the key numbers and their intervals."""
    items: list[str] = []
    if res.attribution is not None:
        items += _summary_attribution(res.attribution)
    if res.clv is not None:
        items += _summary_clv(res.clv)
    if res.plan is not None:
        items += _summary_plan(res.plan)
    if res.attribution is not None and res.attribution.attrs.get("diagnostics_ok") in (0, False):
        items.append(
            '<span class="warn">The model\'s sampling checks did not all pass: read the intervals '
            "with caution (see Model diagnostics).</span>"
        )
    body = "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""
    absent = [k for k in RESULT_FILES if getattr(res, k) is None]
    if absent:
        names = " and ".join(RESULT_FILES[k] for k in absent)
        verb = "are" if len(absent) > 1 else "is"
        body += (
            f'<p class="missing">{esc(names)} {verb} not in the results folder; the sections that '
            "need them say how to add them.</p>"
        )
    note = (
        f'<p class="iv">Numbers in brackets are {summaries.INTERVAL_LABEL}s: the range that holds '
        "the true value with 90% probability under the model.</p>"
    )
    return Section("summary", "Executive summary", body + note)


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
        row += [f"{esc(num(r[m]))} ({esc(pct(r[f'{m}_share']))})" for m in methods]
        rows.append(row)
    body = (
        "<p>Credit is the exact Shapley value of the model's conversion probability over the "
        "channels each journey saw, summed over journeys: it splits every conversion the channels "
        "caused, beyond the baseline, fairly among them. <em>Lost if removed</em> is the drop in "
        "conversions if the channel were switched off. Last-touch and Markov are the common "
        "rules of thumb, shown for comparison.</p>"
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
        return Section("kpis", title, body)
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
        + table(["", ""], facts)
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
        rows = []
        for name, r in sc.iterrows():
            row = [esc(name), esc(num(r.get("spend")))]
            row += [
                with_interval(r[f"delta_{w}"], r[f"delta_{w}_lower"], r[f"delta_{w}_upper"], signed)
                for w in cols
            ]
            if "p_beats_current" in sc:
                row.append(esc(pct(r["p_beats_current"])))
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
    body += figure(
        figures.response_curves(plan),
        "Response curves per channel",
        "Diminishing returns: each curve varies one channel's spend, the others held at current.",
    )
    return Section("budget", title, body)


# --- data quality ----------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    """Attrs as short readable text: numbers rounded, flat dicts as ``key value, ...``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        return ", ".join(f"{k} {_as_text(v)}" for k, v in sorted(value.items()))
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def data_quality(res: Results) -> Section:
    """Rows read per input, rows rejected or left out and why, organic conversions."""
    title = "Data quality"
    rows, notes = [], []
    for role in RESULT_FILES:
        ds = getattr(res, role)
        if ds is None:
            continue
        counts = ds.attrs.get("row_counts") or {}
        inputs = ds.attrs.get("inputs") or {}
        for key, value in counts.items():
            if any(q in key.lower() for q in QUALITY_KEYS):
                notes.append(
                    f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(num(value))}</li>"
                )
        counts = {k: v for k, v in counts.items() if not any(q in k.lower() for q in QUALITY_KEYS)}
        for key in sorted(set(counts) - set(inputs)):
            # Counts that are not input files (customers, journeys, patterns...).
            notes.append(
                f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(num(counts[key]))}</li>"
            )
        for name in sorted(inputs):
            info = inputs.get(name) if isinstance(inputs.get(name), dict) else {}
            path = Path(str(info.get("path", ""))).name if info.get("path") else ""
            sha = str(info.get("sha256") or "")[:12]
            rows.append([esc(role), esc(name), esc(path), esc(num(counts.get(name))), esc(sha)])
        for key, value in ds.attrs.items():
            if any(q in key.lower() for q in QUALITY_KEYS):
                notes.append(
                    f"<li>{esc(role)}: {esc(key.replace('_', ' '))}: {esc(_as_text(value))}</li>"
                )
    body = ""
    if rows:
        body += table(["Result", "Input", "File", "Rows read", "SHA-256"], rows, numeric_from=3)
    if res.attribution is not None:
        t = summaries.conversion_totals(res.attribution)
        if t["organic"] is not None:
            share = f" ({pct(t['organic'] / t['observed'])} of all)" if t["observed"] else ""
            notes.insert(
                0,
                f"<li>Organic conversions (no touch in the lookback window; counted, not "
                f"credited to any channel): {esc(num(t['organic']) + share)}</li>",
            )
    rejected = any(
        "reject" in key.lower()
        for role in RESULT_FILES
        if getattr(res, role) is not None
        for key in list(getattr(res, role).attrs)
        + list(getattr(res, role).attrs.get("row_counts") or {})
    )
    if not rejected and res.available():
        notes.insert(
            0,
            "<li>Rows rejected: none. Input that fails validation (missing columns, unreadable "
            "timestamps, negative amounts...) stops the run with an error naming the file, column "
            "and rows, so every result here comes from complete, valid files.</li>",
        )
    if notes:
        body += "<ul>" + "".join(notes) + "</ul>"
    if res.attribution is not None:
        body += figure(figures.weekly_touches(res.attribution), "Touches per week and channel")
    if not res.available():
        body += missing("Every results file", "Run the pipeline first.")
    return Section("data-quality", title, body)


# --- diagnostics -----------------------------------------------------------------------------


def diagnostics(res: Results) -> Section:
    """Sampler diagnostics, fitted parameters and provenance, collapsed by default."""
    body = ""
    for role in RESULT_FILES:
        ds = getattr(res, role)
        if ds is None:
            continue
        rows = [
            [esc(k.replace("_", " ")), esc(_as_text(ds.attrs[k]))]
            for k in DIAGNOSTIC_KEYS
            if k in ds.attrs
        ]
        body += f"<h3>{esc(RESULT_FILES[role])}</h3>"
        if rows:
            body += table(["Check", "Value"], rows, numeric_from=2)
        if role == "clv" and "params" in ds:
            s = summaries.summarise(ds["params"])
            prow = [
                [
                    esc(p),
                    with_interval(
                        float(s["mean"].sel(param=p)),
                        float(s["lower"].sel(param=p)),
                        float(s["upper"].sel(param=p)),
                        lambda v: num(v, 3),
                    ),
                ]
                for p in ds["params"]["param"].values
            ]
            body += table(["Parameter", "Estimate"], prow)
        if role == "attribution":
            body += _posterior_table(ds)
            body += figure(
                figures.posterior_predictive(ds),
                "Posterior predictive check of conversions",
                "Observed conversions against the model's replications by channel and path length.",
            )
        if role == "clv" and "model_holdout_mae" in ds:
            rows = [
                [esc(m), esc(num(ds["model_holdout_mae"].sel(purchase_model=m), 4))]
                + (
                    [esc(num(ds["model_holdout_total_error"].sel(purchase_model=m), 1))]
                    if "model_holdout_total_error" in ds
                    else []
                )
                for m in ds["purchase_model"].values
            ]
            headers = ["Purchase model", "Holdout MAE per customer"]
            if "model_holdout_total_error" in ds:
                headers.append("Holdout total error")
            body += table(headers, rows)
    if not body:
        body = missing("Every results file", "Run the pipeline first.")
    return Section("diagnostics", "Model diagnostics", body, collapsed=True)


def _posterior_table(attr: xr.Dataset) -> str:
    """Posterior mean and interval of the attribution model's per-channel parameters."""
    names = [n for n in ("beta", "decay", "saturation") if n in attr and "channel" in attr[n].dims]
    if not names:
        return ""
    summ = {n: summaries.summarise(attr[n]) for n in names}
    rows = []
    for c in attr["channel"].values:
        row = [esc(c)]
        for n in names:
            s = summ[n]
            m = s["mean"].sel(channel=c)
            if m.size != 1:
                row.append("–")
                continue
            row.append(
                with_interval(
                    float(m),
                    float(s["lower"].sel(channel=c)),
                    float(s["upper"].sel(channel=c)),
                    lambda v: num(v, 3),
                )
            )
        rows.append(row)
    return table(["Channel"] + names, rows)


def all_sections(res: Results) -> list[Section]:
    """Every section, in reading order."""
    return [
        executive_summary(res),
        channel_contribution(res),
        kpis(res),
        customer_value(res),
        budget(res),
        data_quality(res),
        diagnostics(res),
    ]
