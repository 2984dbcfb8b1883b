"""Inputs of the customer-experience analysis: surveys, stage-tagged touchpoints and the stage
map, and what is known about each customer (acquisition channel, value segment, CLV, P(alive)).

Contracts (CSV or Parquet by extension, or DataFrames):

| table | required columns | optional |
|---|---|---|
| surveys | customer_id, timestamp, score (integer 0-10) | channel (where it was answered) |
| touchpoints | user_id, timestamp, channel | stage, campaign, cost |
| customers | customer_id | channel (acquisition), segment |

The stage map is YAML: ``stages`` (the funnel's stage names in order; default
:data:`~workbench.experience.settings.DEFAULT_STAGES`) and ``channels`` (channel -> stage, for
touches without a ``stage`` value). Bad input raises :class:`~workbench.errors.InputError`
naming the file, the column and the first offending 1-based data rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts import Column, Contract
from workbench.errors import InputError
from workbench.experience.settings import DEFAULT_STAGES, SCORE_MAX, SCORE_MIN
from workbench.validation import validate_source

SURVEYS = Contract(
    "surveys",
    (
        Column("customer_id", "id"),
        Column("timestamp", "time"),
        # Checked here as an integer 0-10 (the generic number check would say "0 or more").
        Column("score", "label"),
        Column("channel", "label", required=False),
    ),
)
STAGED_TOUCHPOINTS = Contract(
    "touchpoints",
    (
        Column("user_id", "id"),
        Column("timestamp", "time"),
        Column("channel", "label"),
        Column("stage", "label", required=False),
        Column("campaign", "label", required=False),
        Column("cost", "number", required=False),
    ),
)


def name_of(source: Any, kind: str) -> str:
    """How a source is named in messages: its path, or ``<kind DataFrame>``."""
    return str(source) if isinstance(source, str | os.PathLike) else f"<{kind} DataFrame>"


def read_columns(source: Any, columns: list[str]) -> pd.DataFrame:
    """``columns`` of a validated source as text (rows in file order), for row-level checks."""
    if isinstance(source, pd.DataFrame):
        frame = source[columns]
    elif str(source).lower().endswith((".parquet", ".pq")):
        frame = pd.read_parquet(source, columns=columns)
    else:
        frame = pd.read_csv(source, usecols=columns, dtype=str, keep_default_na=False)
    return frame.reset_index(drop=True)


def _rows(mask: np.ndarray) -> tuple[list[int], int]:
    bad = np.flatnonzero(mask)
    return (bad[:5] + 1).tolist(), len(bad)


def validate_surveys(source: Any) -> list[str]:
    """Check the surveys contract and that every score is an integer from 0 to 10; returns the
    contract columns present."""
    label = name_of(source, "surveys")
    _, types = validate_source(SURVEYS, source, label)
    raw = read_columns(source, ["score"])["score"]
    value = pd.to_numeric(raw.astype("string").str.strip(), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(value) | (value != np.round(value))
    bad |= (value < SCORE_MIN) | (value > SCORE_MAX)
    if bad.any():
        rows, n_bad = _rows(bad)
        first = raw.iloc[rows[0] - 1]
        raise InputError(
            f"score {str(first)!r} is not an integer from {SCORE_MIN} to {SCORE_MAX}",
            file=label,
            column="score",
            rows=rows,
            n_rows=n_bad,
        )
    return list(types)


def read_stage_map(path: Any) -> tuple[list[str], dict[str, str]]:
    """``(stages in funnel order, channel -> stage)`` from a stage YAML file (``None``: the
    default stages and no channel map)."""
    if path is None:
        return list(DEFAULT_STAGES), {}
    import yaml

    label = str(path)
    if not Path(path).is_file():
        raise InputError("stage file not found", file=label)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"cannot read as YAML: {err}", file=label) from err
    if not isinstance(doc, dict) or set(doc) - {"stages", "channels"}:
        raise InputError(
            "expected a mapping with 'stages' (a list of stage names in funnel order) and "
            "'channels' (channel: stage)",
            file=label,
        )
    stages = doc.get("stages", list(DEFAULT_STAGES))
    if (
        not isinstance(stages, list)
        or not stages
        or not all(isinstance(s, str) and s.strip() for s in stages)
        or len(set(stages)) != len(stages)
    ):
        raise InputError(f"'stages' must be a list of distinct names; got {stages!r}", file=label)
    channels = doc.get("channels") or {}
    if not isinstance(channels, dict):
        raise InputError("'channels' must map each channel to a stage", file=label)
    for channel, stage in channels.items():
        if stage not in stages:
            raise InputError(
                f"unknown stage {stage!r} for channel {channel!r}; "
                f"expected one of {', '.join(stages)}",
                file=label,
            )
    return list(stages), {str(c): str(s) for c, s in channels.items()}


def validate_touch_stages(source: Any, stages: list[str], channel_map: dict[str, str]) -> bool:
    """Validate stage-tagged touchpoints; raises on a touch whose ``stage`` is not one of
    ``stages`` or that has neither a stage nor a mapped channel. Returns whether the source has
    a ``stage`` column."""
    label = name_of(source, "touchpoints")
    _, present = validate_source(STAGED_TOUCHPOINTS, source, label)
    has_stage = "stage" in present
    frame = read_columns(source, ["channel"] + (["stage"] if has_stage else [])).astype("string")
    stage = frame["stage"].str.strip() if has_stage else pd.Series(pd.NA, index=frame.index)
    stage = stage.mask(stage == "")
    unknown = (stage.notna() & ~stage.isin(stages)).to_numpy(bool)
    if unknown.any():
        rows, n_bad = _rows(unknown)
        raise InputError(
            f"unknown stage {stage.iloc[rows[0] - 1]!r}; expected one of {', '.join(stages)}"
            " (name others under 'stages' in a --stages file)",
            file=label,
            column="stage",
            rows=rows,
            n_rows=n_bad,
        )
    untagged = (stage.isna() & ~frame["channel"].isin(list(channel_map))).to_numpy(bool)
    if untagged.any():
        rows, n_bad = _rows(untagged)
        channel = frame["channel"].iloc[rows[0] - 1]
        raise InputError(
            f"no stage for channel {channel!r}: give the touch a stage or map the channel "
            "under 'channels' in a --stages file",
            file=label,
            column="stage" if has_stage else "channel",
            rows=rows,
            n_rows=n_bad,
        )
    return has_stage


def read_customers(source: Any) -> pd.DataFrame:
    """A customers table indexed by ``customer_id`` with optional ``channel`` and ``segment``
    columns (text)."""
    label = name_of(source, "customers")
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        if not Path(source).is_file():
            raise InputError("customers file not found", file=label)
        table = read_columns(source, list(_header(source)))
    if "customer_id" not in table.columns:
        found = ", ".join(map(str, table.columns))
        raise InputError(
            f"required column is missing; found {found}", file=label, column="customer_id"
        )
    table["customer_id"] = table["customer_id"].astype(str)
    dup = table["customer_id"].duplicated().to_numpy()
    if dup.any():
        rows, n_bad = _rows(dup)
        raise InputError(
            "customer_id appears more than once; one row per customer",
            file=label,
            column="customer_id",
            rows=rows,
            n_rows=n_bad,
        )
    keep = [c for c in ("channel", "segment") if c in table.columns]
    return table.set_index("customer_id")[keep].astype("string")


def _header(source: Any) -> list[str]:
    if str(source).lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.read_schema(source).names
    return list(pd.read_csv(source, nrows=0).columns)
