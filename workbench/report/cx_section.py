"""The report's customer-experience section, from ``cx.nc`` (written by ``workbench cx``).

Shown only when the results folder holds a cx.nc: NPS overall and by acquisition channel with
intervals, by segment and month; customer value by NPS group (are promoters worth more?); who
answered (so that a biased sample is visible); the journey-stage funnel by entry channel; and
what the analysis could not use. Also one sentence for the executive summary.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from posterior_tools.settings import INTERVAL
from workbench.report.figures import COLOURS, new_figure, text
from workbench.report.markup import Section, esc, figure, num, pct, signed, table, with_interval
from workbench.report.results import Results
from workbench.report.summaries import mean_interval

#: NPS groups in prose.
GROUP_LABELS = {
    "promoter": "Promoters (9-10)",
    "passive": "Passives (7-8)",
    "detractor": "Detractors (0-6)",
}
LABEL = f"{INTERVAL:.0%} interval"
#: Tables of NPS by month show at most this many (the latest) months.
MAX_MONTHS = 24


def cx_sections(res: Results) -> list[Section]:
    """The customer-experience section, or none when the folder has no cx.nc."""
    ds = res.cx
    return [] if ds is None else [cx_section(ds)]


def _points(x: object) -> str:
    return signed(x)


def summary_items(res: Results) -> list[str]:
    """One executive-summary sentence: NPS with its interval and, with clv.nc, what a promoter
    is worth over a detractor."""
    ds = res.cx
    if ds is None or "nps" not in ds:
        return []
    n = int(ds["respondents"].sum())
    nps = with_interval(*mean_interval(ds["nps"]), _points)
    text_ = f"Net Promoter Score is <strong>{nps}</strong> from {esc(num(n))} survey answers"
    if "clv_promoter_minus_detractor" in ds:
        mean, lo, hi = mean_interval(ds["clv_promoter_minus_detractor"])
        text_ += (
            f"; a promoter is worth {with_interval(mean, lo, hi, signed)} more than a detractor"
        )
    return [text_ + "."]


def cx_section(ds: xr.Dataset) -> Section:
    """The section for one cx Dataset."""
    body = (
        "<p>The Net Promoter Score is the share of promoters (scores 9-10) minus the share of "
        "detractors (0-6), in points from -100 to 100. Each NPS has a posterior from a "
        "Dirichlet-multinomial model of the three shares, so small groups get wide ranges "
        f"({esc(LABEL)}s in brackets).</p>"
    )
    body += _nps_tables(ds)
    body += _value_html(ds)
    body += _coverage_html(ds)
    body += _funnel_html(ds)
    body += _quality_html(ds)
    return Section("cx", "Customer experience: NPS and journey stages", body)


# --- NPS -------------------------------------------------------------------------------------


def _nps_rows(ds: xr.Dataset, dim: str) -> list[list[str]]:
    rows = []
    counts = ds[f"respondents_by_{dim}"]
    for label in ds[dim].values:
        c = counts.sel({dim: label})
        n = int(c.sum())
        rows.append(
            [
                esc(label),
                with_interval(*mean_interval(ds[f"nps_by_{dim}"].sel({dim: label})), _points),
                esc(num(n)),
                esc(pct(int(c.sel(group="promoter")) / n)) if n else "–",
                esc(pct(int(c.sel(group="detractor")) / n)) if n else "–",
            ]
        )
    return rows


def _nps_tables(ds: xr.Dataset) -> str:
    n = int(ds["respondents"].sum())
    shares = ds["respondents"] / max(n, 1)
    headers = ["", f"NPS ({LABEL})", "Answers", "Promoters", "Detractors"]
    overall = [
        "All answers",
        with_interval(*mean_interval(ds["nps"]), _points),
        esc(num(n)),
        esc(pct(float(shares.sel(group="promoter")))),
        esc(pct(float(shares.sel(group="detractor")))),
    ]
    html = table(headers, [overall])
    if "nps_by_channel" in ds:
        html += "<h3>NPS by acquisition channel</h3>"
        html += figure(
            nps_by_channel_figure(ds),
            "NPS by acquisition channel with intervals",
            f"Points are posterior means, bars {LABEL}s.",
        )
        html += table(["Acquisition channel", *headers[1:]], _nps_rows(ds, "channel"))
    if "nps_by_segment" in ds:
        html += "<h3>NPS by customer segment</h3>"
        html += table(["Segment", *headers[1:]], _nps_rows(ds, "segment"))
    if "nps_by_survey_channel" in ds:
        html += "<h3>NPS by where the survey was answered</h3>"
        html += table(["Survey channel", *headers[1:]], _nps_rows(ds, "survey_channel"))
    if "nps_by_month" in ds:
        rows = _nps_rows(ds, "month")[-MAX_MONTHS:]
        html += "<h3>NPS by month</h3>" + table(["Month", *headers[1:]], rows)
    return html


def nps_by_channel_figure(ds: xr.Dataset) -> Figure | None:
    """NPS per acquisition channel: posterior mean and central interval."""
    if "nps_by_channel" not in ds:
        return None
    channels = [str(c) for c in ds["channel"].values]
    stats = np.array([mean_interval(ds["nps_by_channel"].sel(channel=c)) for c in channels])
    fig = new_figure(0.5 + 0.4 * len(channels))
    ax = fig.add_subplot()
    y = np.arange(len(channels))
    ax.errorbar(
        stats[:, 0],
        y,
        xerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]],
        fmt="o",
        color=COLOURS[0],
        capsize=3,
    )
    ax.axvline(0.0, color=COLOURS[-1], linewidth=0.8)
    ax.set_yticks(y, [text(c) for c in channels])
    ax.set_xlim(-100, 100)
    ax.set_xlabel("NPS (points)")
    return fig


# --- value by group --------------------------------------------------------------------------


def _value_html(ds: xr.Dataset) -> str:
    if "clv_by_group" not in ds:
        return (
            '<p class="missing">Customer value by NPS group needs clv.nc: run '
            "`workbench cx --clv results/clv.nc`.</p>"
        )
    rows = []
    for g, label in GROUP_LABELS.items():
        row = [esc(label), esc(num(int(ds["customers_by_group_clv"].sel(group=g))))]
        row.append(with_interval(*mean_interval(ds["clv_by_group"].sel(group=g))))
        if "p_alive_by_group" in ds:
            row.append(with_interval(*mean_interval(ds["p_alive_by_group"].sel(group=g)), pct))
        rows.append(row)
    headers = ["Group (latest answer)", "Customers", f"Mean CLV ({LABEL})"]
    if "p_alive_by_group" in ds:
        headers.append(f"Mean P(alive) ({LABEL})")
    mean, lo, hi = mean_interval(ds["clv_promoter_minus_detractor"])
    p_more = float((ds["clv_promoter_minus_detractor"] > 0).mean())
    return (
        "<h3>Customer value by NPS group</h3>"
        "<p>Predicted lifetime value and chance of still being active (clv.nc) of the customers "
        "in each group; intervals from a Bayesian bootstrap of the group mean. A promoter is "
        f"worth {with_interval(mean, lo, hi, signed)} more than a detractor on average "
        f"(probability {esc(pct(p_more))} that the difference is positive).</p>"
        + figure(value_by_group_figure(ds), "Mean CLV by NPS group with intervals")
        + table(headers, rows)
    )


def value_by_group_figure(ds: xr.Dataset) -> Figure | None:
    """Mean predicted CLV per NPS group with intervals."""
    if "clv_by_group" not in ds:
        return None
    groups = list(GROUP_LABELS)
    stats = np.array([mean_interval(ds["clv_by_group"].sel(group=g)) for g in groups])
    fig = new_figure(2.6)
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    ax.bar(x, stats[:, 0], color=[COLOURS[2], COLOURS[-1], COLOURS[5]])
    ax.errorbar(
        x,
        stats[:, 0],
        yerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]],
        fmt="none",
        color="black",
        capsize=4,
    )
    ax.set_xticks(x, [GROUP_LABELS[g] for g in groups])
    ax.set_ylabel("Mean predicted CLV")
    return fig


# --- coverage --------------------------------------------------------------------------------


def _coverage_html(ds: xr.Dataset) -> str:
    parts = []
    for dim, title in (
        ("channel", "Acquisition channel"),
        ("segment", "Segment"),
        ("value_decile", "Value decile (1 = lowest CLV)"),
    ):
        if f"response_rate_by_{dim}" not in ds:
            continue
        rows = [
            [
                esc(label),
                esc(num(int(ds[f"customers_by_{dim}"].sel({dim: label})))),
                esc(num(int(ds[f"answered_by_{dim}"].sel({dim: label})))),
                esc(pct(float(ds[f"response_rate_by_{dim}"].sel({dim: label})))),
            ]
            for label in ds[dim].values
        ]
        parts.append(table([title, "Customers", "Answered", "Response rate"], rows))
    if not parts:
        return ""
    return (
        "<h3>Who answered</h3><p>Survey answers describe the customers who answer. Where the "
        "response rate differs between groups, the overall NPS leans towards the groups that "
        "answer more; compare NPS within groups.</p>" + "".join(parts)
    )


# --- stage funnel ----------------------------------------------------------------------------


def _funnel_html(ds: xr.Dataset) -> str:
    if "stage_users" not in ds:
        return (
            '<p class="missing">The journey-stage funnel needs stage-tagged touches: run '
            "`workbench cx --touchpoints F [--stages stages.yaml]`.</p>"
        )
    channels = [str(c) for c in ds["funnel_channel"].values]
    stages = [str(s) for s in ds["stage"].values]
    every = ds.isel(funnel_channel=0)
    rows = []
    for i, stage in enumerate(stages):
        last = i == len(stages) - 1
        rows.append(
            [
                esc(stage),
                esc(num(int(every["stage_users"].isel(stage=i)))),
                "–"
                if last
                else with_interval(
                    float(every["stage_conversion"].isel(stage=i)),
                    float(every["stage_conversion_lower"].isel(stage=i)),
                    float(every["stage_conversion_upper"].isel(stage=i)),
                    pct,
                ),
                "–" if last else esc(num(float(every["stage_median_days"].isel(stage=i)), 1)),
                "–" if last else esc(num(int(every["stage_stalled"].isel(stage=i)))),
            ]
        )
    html = (
        "<h3>Journey stages</h3><p>A user reaches a stage with a touch there or at any later "
        "stage. <em>On to the next stage</em> is the share of those who reach the next one "
        f"({esc(LABEL)} of a Beta posterior); the time is the median days between entering the "
        "two stages; <em>stalled</em> are users whose journey ends at the stage. Journeys stall "
        f"most at <strong>{esc(str(every['stall_stage'].values))}</strong> (lowest share on to "
        "the next stage).</p>"
        + figure(funnel_figure(ds), "Users reaching each journey stage, by entry channel")
        + table(
            ["Stage (all users)", "Users", "On to the next stage", "Median days", "Stalled"],
            rows,
        )
    )
    by_channel = [
        [esc(c)]
        + [
            esc(pct(float(v))) if np.isfinite(v) else "–"
            for v in ds["stage_conversion"].sel(funnel_channel=c).values[:-1]
        ]
        + [esc(str(ds["stall_stage"].sel(funnel_channel=c).values))]
        for c in channels
    ]
    steps = [f"{a} → {b}" for a, b in zip(stages[:-1], stages[1:], strict=True)]
    headers = ["Entry channel", *steps, "Stalls at"]
    html += "<h4>On to the next stage, by the channel of the first touch</h4>"
    return html + table(headers, by_channel)


def funnel_figure(ds: xr.Dataset) -> Figure | None:
    """Share of each entry channel's users reaching every stage (the first stage is 100%)."""
    if "stage_users" not in ds:
        return None
    stages = [str(s) for s in ds["stage"].values]
    fig = new_figure()
    ax = fig.add_subplot()
    x = np.arange(len(stages))
    for i, channel in enumerate(ds["funnel_channel"].values):
        users = ds["stage_users"].sel(funnel_channel=channel).values.astype(float)
        if users[0] <= 0:
            continue
        ax.plot(
            x,
            users / users[0],
            marker="o",
            color=COLOURS[i % len(COLOURS)] if i else "black",
            linewidth=2.2 if i == 0 else 1.2,
            label=text(channel),
        )
    ax.set_yscale("log")
    ax.set_xticks(x, [text(s) for s in stages])
    ax.set_ylabel("Share of users reaching the stage")
    ax.legend(loc="lower left", ncols=2, frameon=False)
    return fig


# --- data quality ----------------------------------------------------------------------------


def _quality_html(ds: xr.Dataset) -> str:
    note = ds.attrs.get("data_quality") or {}
    items = []
    unknown = note.get("respondents_not_in_customers")
    if unknown:
        examples = ", ".join(note.get("respondents_not_in_customers_examples", []))
        items.append(
            f"{esc(num(unknown))} respondents are not in {esc(note.get('checked_against'))} "
            f"(for example {esc(examples)}); their answers count in NPS but not in value or "
            "channel comparisons."
        )
    for key, words in (
        ("respondents_without_channel", "have no known acquisition channel"),
        ("respondents_without_clv", "have no predicted CLV"),
        (
            "customers_with_several_answers",
            "extra answers come from customers who answered more than once (their latest "
            "answer sets their group)",
        ),
    ):
        value = note.get(key)
        if value and (key != "respondents_without_channel" or "nps_by_channel" in ds):
            items.append(f"{esc(num(value))} {esc(words)}.")
    if not items:
        return ""
    return "<h3>Survey data quality</h3><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
