"""Spend input for planning: validated through ``workbench.io`` and laid out per period.

The spend table (``channel, period_start, spend [, period_end]``) is staged like every other
input (timestamps become days since 1970-01-01), then pivoted to a ``(period, channel)`` grid.
When the attribution results carry ``weekly_touches(week, channel)``, touches are summed into
the same periods so that the reach curve sees spend and touches side by side, and only periods
that overlap the touch data count as "current spend" (the outcomes refer to that window).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError

DAYS_PER_WEEK = 7.0
EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")


def load_spend(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Validated spend rows: ``channel`` (str), ``period_start``, ``period_end`` (days since
    the epoch; a missing end is the channel's next start, or one median period later) and
    ``spend`` (currency)."""
    from workbench.engines import make_engine
    from workbench.io import stage

    engine = make_engine("duckdb")
    try:
        stage(engine, "spend", source)
        table = engine.query("SELECT * FROM spend")
    finally:
        engine.close()
    table["channel"] = table["channel"].astype(str)
    table["spend"] = pd.to_numeric(table["spend"]).astype(float)
    table["period_start"] = table["period_start"].astype(float)
    if "period_end" not in table.columns:
        table["period_end"] = np.nan
    table["period_end"] = pd.to_numeric(table["period_end"], errors="coerce").astype(float)
    table = table.sort_values(["channel", "period_start"]).reset_index(drop=True)
    nxt = table.groupby("channel")["period_start"].shift(-1)
    step = (nxt - table["period_start"]).median()
    step = float(step) if np.isfinite(step) and step > 0 else DAYS_PER_WEEK
    table["period_end"] = table["period_end"].fillna(nxt).fillna(table["period_start"] + step)
    return table[["channel", "period_start", "period_end", "spend"]]


def week_days(weeks: xr.DataArray) -> np.ndarray:
    """A ``week`` coordinate (datetime64 week starts, or numbers of days since the epoch) as
    float days since the epoch."""
    values = np.asarray(weeks.values)
    if np.issubdtype(values.dtype, np.datetime64):
        return (values.astype("datetime64[ns]") - EPOCH) / np.timedelta64(1, "D")
    return values.astype(float)


def spend_grid(
    table: pd.DataFrame, channels: list[str], weekly_touches: xr.DataArray | None, label: str
) -> xr.Dataset:
    """Spend and touches per period and channel.

    Returns ``spend(period, channel)`` (currency), ``touches(period, channel)`` (NaN when the
    attribution results have no weekly touches) and coords ``period_start`` / ``period_end``
    (days since the epoch). Spend channels the attribution does not know raise
    :class:`InputError` naming the spend file.
    """
    unknown = sorted(set(table["channel"]) - set(channels))
    if unknown:
        raise InputError(
            f"spend refers to channel(s) {', '.join(unknown)} that the attribution results do "
            f"not have; known: {', '.join(channels)}",
            file=label,
            column="channel",
        )
    periods = (
        table[["period_start", "period_end"]]
        .drop_duplicates("period_start")
        .sort_values("period_start")
        .reset_index(drop=True)
    )
    pivot = table.pivot_table(
        index="period_start", columns="channel", values="spend", aggfunc="sum", fill_value=0.0
    ).reindex(index=periods["period_start"], columns=channels, fill_value=0.0)
    spend = pivot.to_numpy(float)
    touches = np.full_like(spend, np.nan)
    keep = np.ones(len(periods), bool)
    if weekly_touches is not None:
        wk = week_days(weekly_touches["week"])
        wt = weekly_touches.transpose("week", "channel").sel(channel=channels).values
        starts = periods["period_start"].to_numpy()
        ends = periods["period_end"].to_numpy()
        inside = (wk[None, :] >= starts[:, None] - 1e-9) & (wk[None, :] < ends[:, None] - 1e-9)
        touches = inside.astype(float) @ np.nan_to_num(wt.astype(float))
        keep = inside.any(axis=1)
        if not keep.any():
            raise InputError(
                "no spend period overlaps the weeks of the attribution results' touches",
                file=label,
                column="period_start",
            )
    return xr.Dataset(
        {
            "spend": (("period", "channel"), spend[keep]),
            "touches": (("period", "channel"), touches[keep]),
        },
        coords={
            "period": np.arange(int(keep.sum())),
            "channel": channels,
            "period_start": ("period", periods["period_start"].to_numpy()[keep]),
            "period_end": ("period", periods["period_end"].to_numpy()[keep]),
        },
    )
