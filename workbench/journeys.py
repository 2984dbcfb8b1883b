"""The attribution data steps: staged touchpoints and conversions -> journeys -> patterns,
heuristic credit, Markov transitions and weekly reach, one SQL query per step.

Every step is a named query in ``workbench/sql/`` and runs unchanged on DuckDB or Spark
(:mod:`workbench.engines`). The two big intermediate tables (``journey_touches``, one row per
touch kept in a journey, and ``journey_codes``, one row per journey) stay inside the engine;
what comes back to Python is small: the pattern table, per-channel sums, transition counts,
weekly counts and the converted journeys (for per-journey credit).

Cost at scale: the events are sorted once (the journeys step's window functions all share one
partition and order), ``journey_touches`` holds compact integer and double columns (channel
index, first/last flags, the next state's code), and every later step is a GROUP BY over it
(no further sort). Measured at 2M journeys / 15M touchpoints in bench/RESULTS.md.

Inputs are the views ``touchpoints`` and ``conversions`` (timestamps in days since the epoch),
registered beforehand by :func:`workbench.io.stage`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Recency bin edges (days before the journey end), the count cap, the code base and the default
# lookback are the model's settings too: one place for them, attribution.features.
from attribution.features import (
    CODE_BASE,
    COUNT_CAP,
    DEFAULT_LOOKBACK_DAYS,
    RECENCY_EDGES_DAYS,
)
from attribution.markov import CONVERSION_STATE, NULL_STATE, START_STATE
from workbench.engines import Engine, load_sql

#: A journey is held out for evaluation when the first hex digit of md5(user_id) is one of
#: these (3/16 of users), so a user's journeys are never split between fit and evaluation.
HOLDOUT_DIGITS: tuple[str, ...] = ("0", "1", "2")
#: Ages (days) are rounded to this many decimals (~0.1 s) so both engines agree on bin edges.
AGE_DECIMALS = 6
#: Touches above the cap counted per journey and (channel, recency bin) cell for the mean a cell
#: at the cap stands for (``capped_counts``); more are counted as this many (SMALLINT column).
MAX_EXCESS = 30_000
#: Time-decay baseline: a touch's weight halves every this many days before the conversion.
TIME_DECAY_HALF_LIFE_DAYS = 7.0
#: Position-based baseline: share of the first and of the last touch (40/20/40).
POSITION_END_SHARE = 0.4
#: Weeks start this many days after a multiple of 7 days since 1970-01-01 (4 -> Mondays).
WEEK_OFFSET_DAYS = 4

#: Rule-based baselines computed by the heuristics step (columns of its table).
HEURISTIC_METHODS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")

#: Non-converting journeys are evaluated at this quantile (the median) of the converted
#: journeys' decision positions (``journey_decisions.sql``) ...
DECISION_POSITION_QUANTILE = 0.5
#: ... rounded to this many decimals, so both engines pass the same literal to the SQL.
DECISION_POSITION_DECIMALS = 4

JOURNEY_TOUCHES, JOURNEY_CODES = "journey_touches", "journey_codes"
JOURNEY_CHANNELS, TOUCH_EVENTS = "journey_channels", "touch_events"
#: Pattern columns naming the channel of the journey's opening and closing touch.
PATTERN_ROLE_COLUMNS = ("first_channel", "last_channel")
#: ``next_state`` codes of the journeys step for the absorbing states (channels are 0..C-1).
CONVERSION_CODE, NULL_CODE = -1, -2


@dataclass(frozen=True)
class DecisionTiming:
    """When users decide, estimated from the converted journeys (``journey_decisions.sql``).

    Attributes:
        position: quantile ``DECISION_POSITION_QUANTILE`` of the converted journeys' decision
            positions in their observable windows (0 = right after the last touch, 1 = at the
            data end or the lookback after the last touch).
        data_end: latest touch or conversion (days since 1970-01-01).
        lag_median_days: median days from a converted journey's last touch to its conversion.
        converted_journeys: converted journeys behind the estimate.
        positions: the equally likely positions non-converting journeys are evaluated at,
            per class of touch count (class, point), or per class and channel of the last
            touch (class, channel, point) (``workbench.decisions``); empty: ``position`` alone.
        passes: selection-correction passes behind ``positions`` (0: none were needed).
        gap_coefficients: the gap model's coefficients (``workbench.decisions.fit_gap_model``:
            intercept, classes 2..4, span, top-class count, channels); empty: no gap model
            (non-converting journeys take ``positions``).
        gap_residuals: the gap model's equally likely residuals per touch-count class
            (class, point).
    """

    position: float
    data_end: float
    lag_median_days: float
    converted_journeys: int
    positions: tuple = ()
    passes: int = 0
    gap_coefficients: tuple[float, ...] = ()
    gap_residuals: tuple[tuple[float, ...], ...] = ()

    def attrs(self) -> dict:
        """netCDF-ready attrs (``decision_*``)."""
        return {
            # (touch-count class[, last channel], point), flattened class-major
            "decision_positions": np.ravel(self.positions or (self.position,)).tolist(),
            "decision_positions_shape": list(np.shape(self.positions or (self.position,))),
            "decision_passes": self.passes,
            "decision_gap_coefficients": list(self.gap_coefficients),
            # (touch-count class, point), flattened class-major
            "decision_gap_residuals": np.ravel(self.gap_residuals).tolist(),
            "decision_position": self.position,
            "decision_lag_median_days": self.lag_median_days,
            "decision_data_end_days": self.data_end,
            "decision_quantile": DECISION_POSITION_QUANTILE,
        }


@dataclass
class JourneyTables:
    """Everything the attribution pipeline needs from the data steps (all small)."""

    channels: list[str]
    patterns: pd.DataFrame
    heuristics: pd.DataFrame
    markov_transitions: pd.DataFrame
    weekly_touches: pd.DataFrame
    converted_journeys: pd.DataFrame
    observed_conversions: int
    organic_conversions: int
    n_journeys: int
    n_touches_in_window: int
    decision_timing: DecisionTiming | None = None
    #: (channel, recency_bin) mean count of the cells at the cap (``capped_counts``)
    capped_counts: np.ndarray | None = None


def code_names(n_channels: int) -> list[str]:
    """``k_0`` .. ``k_{C-1}``: the per-channel code columns of the pattern table."""
    return [f"k_{c}" for c in range(n_channels)]


def recency_bin_cases(edges_days: tuple[float, ...] = RECENCY_EDGES_DAYS) -> str:
    """SQL ``WHEN`` clauses mapping ``age_days`` to the bin index (0 = most recent)."""
    inner = edges_days[1:]
    whens = [f"WHEN age_days < {edge!r} THEN {b}" for b, edge in enumerate(inner)]
    return " ".join([*whens, f"ELSE {len(inner)}"])


def _materialise(engine: Engine, name: str, sql: str) -> None:
    """Keep a step's result inside the engine for the later steps (a temporary table on
    DuckDB, a cached temporary view on Spark), so the window functions run once."""
    if engine.name == "spark":
        engine.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        engine.execute(f"CACHE TABLE {name}")
    else:
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")


def _release(engine: Engine, name: str) -> None:
    """Free a table kept by :func:`_materialise` (DuckDB drops it; Spark drops its cache and
    keeps the view)."""
    if engine.name == "spark":
        engine.execute(f"UNCACHE TABLE IF EXISTS {name}")
    else:
        engine.execute(f"DROP TABLE IF EXISTS {name}")


def channels(engine: Engine) -> list[str]:
    """Run the ``journey_channels`` step and the ``touch_events`` step (every touchpoint's
    user, time and channel index, read once for the journeys and weekly_touches steps), keep
    both in the engine and return the channel names in sorted order; a channel's index in this
    list is its code column. Run it first."""
    _materialise(engine, JOURNEY_CHANNELS, load_sql(JOURNEY_CHANNELS))
    _materialise(engine, TOUCH_EVENTS, load_sql(TOUCH_EVENTS, user_key=user_key(engine)))
    frame = engine.query(f"SELECT channel FROM {JOURNEY_CHANNELS} ORDER BY channel_index")
    return [str(c) for c in frame["channel"]]


def user_key(engine: Engine) -> str:
    """The SQL expression that keys users in both inputs: ``user_id`` as stored when the two
    views store it with the same type (integer ids sort and hash far faster than text), else
    ``CAST(user_id AS STRING)`` so that they compare."""
    types = engine.query(
        "SELECT (SELECT typeof(user_id) FROM touchpoints LIMIT 1) AS touchpoints, "
        "(SELECT typeof(user_id) FROM conversions LIMIT 1) AS conversions"
    ).iloc[0]
    same = str(types["touchpoints"]).lower() == str(types["conversions"]).lower()
    return "user_id" if same else "CAST(user_id AS STRING)"


def stage_journeys(engine: Engine, lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> None:
    """Run the ``journeys`` step (after :func:`channels`, which stages its touch_events) and
    keep its result as ``journey_touches`` in the engine."""
    sql = load_sql(
        "journeys",
        user_key=user_key(engine),
        lookback_days=repr(float(lookback_days)),
        age_decimals=AGE_DECIMALS,
        recency_bin_cases=recency_bin_cases(),
        conversion_code=CONVERSION_CODE,
        null_code=NULL_CODE,
    )
    _materialise(engine, JOURNEY_TOUCHES, sql)


def journey_touches(engine: Engine) -> pd.DataFrame:
    """The staged ``journey_touches`` table, one row per touch in a journey's window:
    ``user_id``, ``journey``, ``converted``, ``end_time`` and ``age_days`` (days),
    ``channel_index``, ``recency_bin``, ``is_first`` / ``is_last`` (1 for the journey's first /
    last touch in the window; ties in time ordered by channel index) and ``next_state`` (the
    next touch's channel index, ``CONVERSION_CODE`` or ``NULL_CODE``)."""
    return engine.query(f"SELECT * FROM {JOURNEY_TOUCHES}")


def decision_rows(engine: Engine, lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> pd.DataFrame:
    """Run the ``journey_decisions`` step (after :func:`stage_journeys`): one row per converted
    journey with a window (user_id, end_time, n_touches, span_days, last_channel, lag_days,
    window_days, position, data_end)."""
    return engine.query(load_sql("journey_decisions", lookback_days=repr(float(lookback_days))))


def decision_timing(
    engine: Engine,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    frame: pd.DataFrame | None = None,
) -> DecisionTiming:
    """Summarise where the converted journeys' decisions fell in their observable windows
    (:class:`DecisionTiming`) from ``frame``, the ``journey_decisions`` rows
    (:func:`decision_rows`; run here when None)."""
    frame = decision_rows(engine, lookback_days) if frame is None else frame
    if len(frame):
        data_end = frame["data_end"].iloc[0]
    else:  # no converted journey with a window: the same data end, from the staged tables
        data_end = engine.query(
            f"SELECT GREATEST((SELECT MAX(end_time) FROM {JOURNEY_TOUCHES}), "
            "(SELECT MAX(timestamp) FROM conversions)) AS data_end"
        ).iloc[0]["data_end"]
    data_end = float(data_end) if pd.notna(data_end) else 0.0
    position = frame["position"].to_numpy(dtype=np.float64)
    if len(position) == 0:
        return DecisionTiming(0.0, data_end, float("nan"), 0)
    quantile = float(np.quantile(position, DECISION_POSITION_QUANTILE))
    return DecisionTiming(
        position=round(min(max(quantile, 0.0), 1.0), DECISION_POSITION_DECIMALS),
        data_end=data_end,
        lag_median_days=float(np.median(frame["lag_days"].to_numpy(dtype=np.float64))),
        converted_journeys=len(position),
    )


def stage_journey_codes(
    engine: Engine,
    n_channels: int,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    timing: DecisionTiming | None = None,
) -> None:
    """Run the ``journey_codes`` step (one row per journey) and keep it in the engine.

    ``timing`` places non-converting journeys' decisions (:func:`decision_timing`,
    ``workbench.decisions``); without it they are evaluated at their last touch (position 0)."""
    from workbench.decisions import placement_sql

    n_bins = len(RECENCY_EDGES_DAYS)
    cells = ",\n        ".join(
        f"CAST(COUNT(CASE WHEN channel_index = {c} AND recency_bin = {b} THEN 1 END) "
        f"AS BIGINT) AS n_{c}_{b}"
        for c in range(n_channels)
        for b in range(n_bins)
    )
    codes = ",\n    ".join(
        "CAST("
        + " + ".join(f"LEAST(n_{c}_{b}, {COUNT_CAP}) * {CODE_BASE**b}" for b in range(n_bins))
        + f" AS BIGINT) AS {name}"
        for c, name in enumerate(code_names(n_channels))
    )
    # 1 + the touches above the cap per (channel, bin) cell at the cap, 0 below it: their
    # means give the count a cell at the cap stands for (``capped_counts``)
    excess = ",\n    ".join(
        f"CAST(GREATEST(LEAST(n_{c}_{b} - {COUNT_CAP - 1}, {MAX_EXCESS}), 0) AS SMALLINT) "
        f"AS x_{c}_{b}"
        for c in range(n_channels)
        for b in range(n_bins)
    )
    timing = timing or DecisionTiming(0.0, 0.0, float("nan"), 0)
    sql = load_sql(
        "journey_codes",
        count_cap=COUNT_CAP,
        code_base=CODE_BASE,
        n_channels=n_channels,
        **placement_sql(timing, n_channels),
        data_end=repr(float(timing.data_end)),
        lookback_days=repr(float(lookback_days)),
        age_decimals=AGE_DECIMALS,
        recency_bin_cases=recency_bin_cases(),
        cell_columns=cells,
        code_columns=codes,
        excess_columns=excess,
        max_excess=MAX_EXCESS,
        holdout_digits=", ".join(f"'{d}'" for d in HOLDOUT_DIGITS),
    )
    _materialise(engine, JOURNEY_CODES, sql)


def capped_counts(engine: Engine, n_channels: int) -> np.ndarray:
    """The mean count of the staged journeys' (channel, recency bin) cells at or above the cap,
    float (channel, recency_bin): what a cell at the cap stands for in the model
    (``attribution.features.count_table``); the cap where no cell reaches it."""
    n_bins = len(RECENCY_EDGES_DAYS)
    cells = [(c, b) for c in range(n_channels) for b in range(n_bins)]
    row = engine.query(
        "SELECT "
        + ", ".join(
            f"CAST(SUM(x_{c}_{b}) AS DOUBLE) AS s_{c}_{b}, "
            f"CAST(SUM(CASE WHEN x_{c}_{b} > 0 THEN 1 ELSE 0 END) AS BIGINT) AS n_{c}_{b}"
            for c, b in cells
        )
        + f" FROM {JOURNEY_CODES}"
    ).iloc[0]
    out = np.full((n_channels, n_bins), float(COUNT_CAP))
    for c, b in cells:
        n = int(row[f"n_{c}_{b}"])
        if n > 0:
            out[c, b] += float(row[f"s_{c}_{b}"]) / n - 1.0
    return out


def journey_codes(engine: Engine) -> pd.DataFrame:
    """The staged ``journey_codes`` table."""
    return engine.query(f"SELECT * FROM {JOURNEY_CODES}")


def patterns(engine: Engine, n_channels: int) -> pd.DataFrame:
    """The pattern table (docs/contracts.md): ``k_0..k_{C-1}``, ``first_channel``,
    ``last_channel``, ``holdout``, ``n_journeys``, ``n_conversions``; sorted by its key."""
    names = code_names(n_channels)
    frame = engine.query(load_sql("patterns", code_names=", ".join(names)))
    key = [*names, *PATTERN_ROLE_COLUMNS, "holdout"]
    frame = frame.astype(
        {**{n: "int64" for n in names}, **dict.fromkeys(PATTERN_ROLE_COLUMNS, "int64")}
    )
    frame = frame.astype({"holdout": bool, "n_journeys": "int64", "n_conversions": "int64"})
    return frame.sort_values(key, ignore_index=True)


def heuristics(engine: Engine) -> pd.DataFrame:
    """Conversions credited per channel by first_touch, last_touch, linear, time_decay and
    position_based (columns), one row per channel seen on a converting journey."""
    frame = engine.query(
        load_sql(
            "heuristics",
            half_life_days=repr(TIME_DECAY_HALF_LIFE_DAYS),
            position_end_share=repr(POSITION_END_SHARE),
        )
    )
    frame = frame.astype({m: "float64" for m in HEURISTIC_METHODS} | {"channel_index": "int64"})
    return frame.sort_values("channel_index", ignore_index=True)


def markov_transitions(engine: Engine, channel_names: list[str]) -> pd.DataFrame:
    """First-order transition counts: ``holdout``, ``from_state``, ``to_state``,
    ``n_transitions`` over all journeys (start -> channels -> conversion | null)."""
    counts = engine.query(load_sql("markov_transitions"))
    states = {**dict(enumerate(channel_names)), CONVERSION_CODE: CONVERSION_STATE}
    states[NULL_CODE] = NULL_STATE
    holdout = counts["holdout"].astype("int64")
    from_channel = counts["channel_index"].astype("int64").map(states)
    moves = pd.DataFrame(
        {
            "holdout": holdout,
            "from_state": from_channel,
            "to_state": counts["next_state"].astype("int64").map(states),
            "n_transitions": counts["n_transitions"].astype("int64"),
        }
    )
    starts = pd.DataFrame(
        {
            "holdout": holdout,
            "from_state": START_STATE,
            "to_state": from_channel,
            "n_transitions": counts["n_starts"].astype("int64"),
        }
    )
    starts = starts.groupby(["holdout", "from_state", "to_state"], as_index=False).sum()
    frame = pd.concat([starts[starts["n_transitions"] > 0], moves], ignore_index=True)
    frame = frame.astype({"from_state": str, "to_state": str})
    return frame.sort_values(["holdout", "from_state", "to_state"], ignore_index=True)


def weekly_touches(engine: Engine) -> pd.DataFrame:
    """Touches and distinct users per (week_start [days since epoch], channel)."""
    frame = engine.query(load_sql("weekly_touches", week_offset_days=WEEK_OFFSET_DAYS))
    frame = frame.astype({"week_start": "float64", "n_touches": "int64", "n_users": "int64"})
    return frame.sort_values(["week_start", "channel"], ignore_index=True)


def organic(engine: Engine) -> tuple[int, int]:
    """``(observed_conversions, organic_conversions)``: all conversions, and those with no
    touch in their window (baseline; reported, not modelled)."""
    row = engine.query(load_sql("organic")).iloc[0]
    return int(row["observed_conversions"]), int(row["organic_conversions"])


def converted_journeys(engine: Engine, n_channels: int) -> pd.DataFrame:
    """Converted journeys with their pattern key: ``user_id``, ``end_time`` (the conversion,
    days since epoch), ``k_*``, ``first_channel``, ``last_channel``, ``holdout``; sorted by
    user and time."""
    names = ", ".join(code_names(n_channels))
    frame = engine.query(
        f"SELECT user_id, end_time, {names}, first_channel, last_channel, holdout "
        f"FROM {JOURNEY_CODES} WHERE converted = 1"
    )
    frame["holdout"] = frame["holdout"].astype(int).astype(bool)
    frame["user_id"] = frame["user_id"].astype(str)
    return frame.sort_values(["user_id", "end_time"], ignore_index=True)


def place_decisions(
    engine: Engine,
    names: list[str],
    lookback_days: float,
    timing: DecisionTiming,
    decisions: pd.DataFrame | None = None,
) -> DecisionTiming:
    """Stage ``journey_codes`` with non-converting journeys' decisions placed by
    ``workbench.decisions`` (selection-corrected positions when they are spread) and return the
    timing used. ``decisions``: the ``journey_decisions`` rows when already at hand."""
    from workbench.decisions import place

    return place(engine, names, lookback_days, timing, decisions)


def run_steps(engine: Engine, lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> JourneyTables:
    """All attribution data steps on staged ``touchpoints`` and ``conversions`` views."""
    names = channels(engine)
    # Weekly reach first: its distinct count's hash table is freed before the journeys' sort
    # needs memory, so the two peaks do not add up (measured at 2M journeys: 1.6 GB vs 2.3 GB).
    weekly = weekly_touches(engine)
    stage_journeys(engine, lookback_days)
    # the touches the later steps need are in journey_touches: free touch_events for them
    # (less for DuckDB to spill under its memory limit; 2M journeys: about 0.5 CPU s)
    _release(engine, TOUCH_EVENTS)
    # the journey_decisions step once, for the timing and the placement
    decisions = decision_rows(engine, lookback_days)
    timing = decision_timing(engine, lookback_days, decisions)
    timing = place_decisions(engine, names, lookback_days, timing, decisions)
    observed, organic_count = organic(engine)
    counts = engine.query(
        f"SELECT (SELECT COUNT(*) FROM {JOURNEY_CODES}) AS n_journeys, "
        f"(SELECT COUNT(*) FROM {JOURNEY_TOUCHES}) AS n_touches"
    ).iloc[0]
    return JourneyTables(
        channels=names,
        patterns=patterns(engine, len(names)),
        heuristics=heuristics(engine),
        markov_transitions=markov_transitions(engine, names),
        weekly_touches=weekly,
        converted_journeys=converted_journeys(engine, len(names)),
        observed_conversions=observed,
        organic_conversions=organic_count,
        n_journeys=int(counts["n_journeys"]),
        n_touches_in_window=int(counts["n_touches"]),
        decision_timing=timing,
        capped_counts=capped_counts(engine, len(names)),
    )
