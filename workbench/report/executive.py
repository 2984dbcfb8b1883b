"""The executive summary: plain sentences with the key numbers and their intervals."""

from __future__ import annotations

import xarray as xr

from workbench.report import cx_section, mmm_section, plan_section, summaries
from workbench.report.markup import (
    Section,
    chance,
    esc,
    interval,
    num,
    pct,
    ratio,
    signed,
    with_interval,
)
from workbench.report.results import CORE_RESULT_FILES, UNITS, Results

#: Share-point gap between last-touch and model credit worth a sentence in the summary.
NOTABLE_GAP = 0.05


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
    key = next((k for k in ("clv_to_cac", "clv_cac") if kp is not None and k in kp), None)
    if key is not None and kp[key].notna().any():
        best = kp[key].idxmax()
        items.append(
            f"<strong>{esc(best)}</strong> brings the most customer value per acquisition cost "
            f"(CLV:CAC {esc(ratio(kp.loc[best, key]))})."
        )
    sc = summaries.scenarios(plan)
    alloc = summaries.allocation(plan)
    if sc is not None and summaries.OPTIMISED_SCENARIO in sc.index:
        r = sc.loc[summaries.OPTIMISED_SCENARIO]
        parts = []
        for what in ("value", "conversions"):
            # value is NaN when the plan had no clv.nc (media-mix model alone)
            if f"delta_{what}" in r and r[f"delta_{what}"] == r[f"delta_{what}"]:
                iv = interval(r[f"delta_{what}_lower"], r[f"delta_{what}_upper"], signed)
                parts.append(
                    f"{what} by <strong>{esc(signed(r[f'delta_{what}']))}</strong>"
                    + (f' <span class="iv">({esc(iv)})</span>' if iv else "")
                )
        text = "The recommended allocation is expected to change " + " and ".join(parts)
        if "p_beats_current" in r:
            text += f"; the chance it beats the current plan is {esc(chance(r['p_beats_current']))}"
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
    return items + plan_section.summary_items(plan)


def _attribution_criticism(attr: xr.Dataset) -> list[str]:
    """One warning sentence when the attribution model's own checks flag its credit
    (attrs ``model_ok``, ``unreliable_channels``, ``criticism_reasons``), and one naming the
    channels that may have no effect at all (``p_effect_positive`` below one half)."""
    items = []
    if "p_effect_positive" in attr:
        weak = attr["p_effect_positive"].to_series()
        weak = weak[weak < 0.5]
        if len(weak):
            items.append(
                "The data suggest "
                + ", ".join(f"<strong>{esc(c)}</strong> ({esc(pct(p))})" for c, p in weak.items())
                + " may have no effect on conversions at all (chance of any effect in brackets)."
            )
    if attr.attrs.get("model_ok", 1) not in (0, False):
        return items
    channels = attr.attrs.get("unreliable_channels", [])
    channels = [channels] if isinstance(channels, str) else [str(c) for c in channels]
    reasons = attr.attrs.get("criticism_reasons", [])
    reasons = [reasons] if isinstance(reasons, str) else [str(r) for r in reasons]
    who = ", ".join(f"<strong>{esc(c)}</strong>" for c in channels) or "the channels"
    return items + [
        f'<span class="warn">The credit of {who} is unreliable: the model failed its own checks'
        + (f" ({esc('; '.join(reasons))})" if reasons else "")
        + ". Treat those numbers as rough until the model fits these data.</span>"
    ]


def executive_summary(res: Results) -> Section:
    """Plain-words summary with the key numbers and their intervals."""
    items: list[str] = []
    if res.attribution is not None:
        items += _summary_attribution(res.attribution)
    if res.clv is not None:
        items += _summary_clv(res.clv)
    if res.plan is not None:
        items += _summary_plan(res.plan)
    if res.mmm is not None:
        items += mmm_section.summary_items(res.mmm)
    items += cx_section.summary_items(res)
    if res.attribution is not None and res.attribution.attrs.get("diagnostics_ok") in (0, False):
        items.append(
            '<span class="warn">The model\'s sampling checks did not all pass: read the intervals '
            "with caution (see Model diagnostics).</span>"
        )
    if res.attribution is not None:
        items += _attribution_criticism(res.attribution)
    body = "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else ""
    absent = [k for k in CORE_RESULT_FILES if getattr(res, k) is None]
    if absent:
        names = " and ".join(CORE_RESULT_FILES[k] for k in absent)
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
