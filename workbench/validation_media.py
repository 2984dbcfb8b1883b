"""Contracts and checks of the media-mix inputs: spend (with an optional geo), outcomes, controls
and lift tests (experiments).

Row-level rules run through :func:`workbench.validation.validate_source` (one line naming the file,
the column and the first offending rows; exit code 2 from the CLI). Rules that span tables (a
lift test's channel must have spend, its window must lie inside the data) are checked here after
the weekly tables are built.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts import Column, Contract
from workbench.errors import InputError

#: spend(channel, period_start, spend[, period_end][, geo]): currency per period.
MEDIA_SPEND = Contract(
    "spend",
    (
        Column("channel", "label"),
        Column("period_start", "time"),
        Column("spend", "number"),
        Column("period_end", "time", required=False),
        Column("geo", "label", required=False),
    ),
)
#: outcomes(period_start, conversions[, revenue][, geo]): the KPI per period.
OUTCOMES = Contract(
    "outcomes",
    (
        Column("period_start", "time"),
        Column("conversions", "number"),
        Column("revenue", "number", required=False),
        Column("geo", "label", required=False),
    ),
)
#: controls(period_start[, geo], <numeric columns>): the numeric columns may be negative, so they
#: are checked apart (:func:`control_columns`).
CONTROLS = Contract(
    "controls",
    (Column("period_start", "time"), Column("geo", "label", required=False)),
)
#: experiments(channel, start, end, incremental_conversions, standard_error): one lift test a row.
#: incremental_conversions may be negative (a measured lift can be), so it is checked apart.
EXPERIMENTS = Contract(
    "experiments",
    (
        Column("channel", "label"),
        Column("start", "time"),
        Column("end", "time"),
        Column("standard_error", "number"),
    ),
)
EXPERIMENT_COLUMNS = ("channel", "start", "end", "incremental_conversions", "standard_error")


def label(source: Any, kind: str) -> str:
    """How a source is named in messages: its path, or ``<kind DataFrame>``."""
    return str(source) if isinstance(source, str | os.PathLike) else f"<{kind} DataFrame>"


def read_table(source: Any) -> pd.DataFrame:
    """A small validated table (controls, experiments) as a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    from workbench.engines import file_format

    if file_format(source) == "csv":
        return pd.read_csv(source)
    return pd.read_parquet(source)


def control_columns(source: Any, frame: pd.DataFrame) -> list[str]:
    """The numeric control columns of ``frame`` (all but period_start and geo); raises
    InputError for text or missing values, naming the column and rows."""
    names = [c for c in frame.columns if c not in ("period_start", "geo")]
    if not names:
        raise InputError(
            "no control columns; expected period_start and at least one numeric column",
            file=label(source, "controls"),
        )
    for name in names:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if len(bad):
            raise InputError(
                f"{frame[name].iloc[bad[0]]!r} is not a number; control columns must be finite "
                "numbers",
                file=label(source, "controls"),
                column=str(name),
                rows=(bad[:5] + 1).tolist(),
                n_rows=len(bad),
            )
    return [str(n) for n in names]


def check_experiments(
    source: Any,
    frame: pd.DataFrame,
    channels: list[str],
    first: pd.Timestamp,
    last_end: pd.Timestamp,
    channels_from: str = "the spend table",
) -> pd.DataFrame:
    """The lift tests as a typed DataFrame; raises InputError for a non-numeric measured lift, a
    standard error that is not > 0, a channel not among ``channels`` (named as being in
    ``channels_from``), an end before the start or a window outside the data period
    [first, last_end]."""
    where = label(source, "experiments")
    out = frame[list(EXPERIMENT_COLUMNS)].copy()
    out["channel"] = out["channel"].astype(str)
    lift = pd.to_numeric(out["incremental_conversions"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(lift))
    if len(bad):
        raise InputError(
            "is not a number; incremental_conversions must be a finite number (conversions)",
            file=where,
            column="incremental_conversions",
            rows=(bad[:5] + 1).tolist(),
            n_rows=len(bad),
        )
    out["incremental_conversions"] = lift
    se = pd.to_numeric(out["standard_error"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(se > 0))
    if len(bad):
        raise InputError(
            f"standard_error {se[bad[0]]:g} is not positive; a lift test's standard error must "
            "be > 0",
            file=where,
            column="standard_error",
            rows=(bad[:5] + 1).tolist(),
            n_rows=len(bad),
        )
    out["standard_error"] = se
    unknown = np.flatnonzero(~out["channel"].isin(channels).to_numpy())
    if len(unknown):
        raise InputError(
            f"channel {out['channel'].iloc[unknown[0]]!r} is not in {channels_from} (channels: "
            f"{', '.join(channels)})",
            file=where,
            column="channel",
            rows=(unknown[:5] + 1).tolist(),
            n_rows=len(unknown),
        )
    out["start"] = _naive(out["start"])
    out["end"] = _naive(out["end"])
    backwards = np.flatnonzero((out["end"] < out["start"]).to_numpy())
    if len(backwards):
        raise InputError(
            "end is before start",
            file=where,
            column="end",
            rows=(backwards[:5] + 1).tolist(),
            n_rows=len(backwards),
        )
    outside = np.flatnonzero(((out["start"] < first) | (out["end"] > last_end)).to_numpy())
    if len(outside):
        i = outside[0]
        raise InputError(
            f"window {out['start'].iloc[i].date()}..{out['end'].iloc[i].date()} is outside the "
            f"data period {first.date()}..{last_end.date()}",
            file=where,
            column="start",
            rows=(outside[:5] + 1).tolist(),
            n_rows=len(outside),
        )
    return out


def _naive(values: pd.Series) -> pd.Series:
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.tz_convert("UTC").dt.tz_localize(None)
