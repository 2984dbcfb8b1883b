"""The plan across both models in the report: which model plans each channel, and, for the
channels both the journey model and the media-mix model cover, their two estimates side by
side with whether they agree (plan.nc from ``workbench plan --mmm``; docs/contracts.md).

Reads plan.nc only; every data-derived string passes through ``esc`` or a number formatter.
"""

from __future__ import annotations

import xarray as xr

from workbench.report import summaries
from workbench.report.markup import esc, table, with_interval

#: plan.nc's label of the channels the media-mix model plans.
MEDIA_MIX = "media_mix"


def media_mix_channels(plan: xr.Dataset) -> list[str]:
    """Channels the plan values with the media-mix model (no user-level touches)."""
    if "planned_with" not in plan:
        return []
    planned = plan["planned_with"].to_series()
    return [str(c) for c, how in planned.items() if str(how) == MEDIA_MIX]


def _names(channels: list[str]) -> str:
    return ", ".join(f"<strong>{esc(c)}</strong>" for c in channels)


def cross_model_html(plan: xr.Dataset) -> str:
    """The budget section's part about the two models: a sentence naming the channels the
    media-mix model plans and the side-by-side table (empty when plan.nc has neither)."""
    body = ""
    offline = media_mix_channels(plan)
    if offline and len(offline) < plan.sizes["channel"]:
        body += (
            f"<p>{_names(offline)} leave no user-level touches: the plan values their spend with "
            "the media-mix model (weekly spend and outcomes) and every other channel with the "
            "journey model, in the same scenarios and the same optimiser.</p>"
        )
    elif offline:
        body += "<p>Every channel is valued with the media-mix model (weekly spend, outcomes).</p>"
    if "channel_both" not in plan.dims:
        return body
    rows = []
    for c in plan["channel_both"].values:
        r = plan.sel(channel_both=c)
        rows.append(
            [
                esc(c),
                with_interval(
                    float(r["incremental_journey_mean"]),
                    float(r["incremental_journey_q05"]),
                    float(r["incremental_journey_q95"]),
                ),
                with_interval(
                    float(r["incremental_media_mix_mean"]),
                    float(r["incremental_media_mix_q05"]),
                    float(r["incremental_media_mix_q95"]),
                ),
                "yes, the intervals overlap"
                if int(r["models_agree"])
                else '<span class="warn">no, the intervals do not overlap</span>',
            ]
        )
    headers = [
        "Channel in both models",
        f"Journey model ({summaries.INTERVAL_LABEL})",
        f"Media-mix model ({summaries.INTERVAL_LABEL})",
        "Do they agree?",
    ]
    return (
        body
        + "<h3>Channels both models see</h3>"
        + "<p>Conversions each channel's current spend causes over the plan's window, by each "
        "model. The plan uses the journey model's answer for these channels (it sees who each "
        "touch reached); the media-mix model's is a cross-check. Where they disagree, a lift "
        "test of the channel is the way to settle which is right.</p>" + table(headers, rows)
    )


def summary_items(plan: xr.Dataset) -> list[str]:
    """Executive-summary sentences: the offline channels in the plan, and the channels whose
    two estimates disagree."""
    items = []
    offline = media_mix_channels(plan)
    if offline:
        others = len(offline) < plan.sizes["channel"]
        items.append(
            f"The plan includes {_names(offline)}, valued with the media-mix model"
            + ("; the other channels are valued with the journey model." if others else ".")
        )
    if "models_agree" in plan:
        agree = plan["models_agree"].to_series()
        apart = [str(c) for c, ok in agree.items() if int(ok) == 0]
        if apart:
            items.append(
                f'<span class="warn">The journey and media-mix models disagree on {_names(apart)} '
                f"(their {summaries.INTERVAL_LABEL}s of its conversions do not overlap); the "
                "plan uses the journey model's estimate.</span>"
            )
    return items
