"""When non-converting journeys decide: the distribution of decision positions, corrected for
the converters' selection.

A journey's decision falls at position ``x`` of its observable window after its last touch
(``journey_decisions.sql``: 0 right after the last touch, 1 at the data end or the lookback).
Converted journeys show their ``x``; non-converting ones do not. Assumption: the decision
position is independent of the touches (users decide when they decide; the touches change
whether they convert). Then, for the decision-time density ``g``,

1. a converted journey's position has density ``g(x) P_j(x) / Z`` (journeys deciding while their
   touches are fresh convert more often, so converters' positions are shorter than everyone's);
2. a non-converting journey's has density ``g(x) (1 - P_j(x)) / Z'``,

so the converters' positions, weighted by ``(1 - P_j) / P_j`` at their own decision (inverse
probability weighting), are a sample of the non-converters' positions. ``P_j`` comes from the
model, so the weights are found by a fixed point: place non-converting journeys, fit the
conversion model's mode (no synergy, roles or spike), weight, place again
(``DECISION_PASSES`` times; the positions settle within three passes on the budget worlds).

Decisions are not independent of the number of touches, though: a user touched often while
shopping has a last touch near the end of the shopping, one touched once anywhere in it (on the
budget worlds the converters' median position is 0.33 with one touch, 0.13 with four or more).
So the positions are estimated per class of the journey's touch count in the lookback window
(1, 2, 3, ``TOUCH_CLASSES`` or more; a class with fewer than ``MIN_CLASS_JOURNEYS`` converted
journeys takes everyone's positions) and the assumption is independence within a class.

Each non-converting journey is then evaluated at one of ``DECISION_POINTS`` equally likely
positions of its class (the weighted mid-quantiles), picked by a hash of its user id, so that
over the
journeys of a pattern the likelihood's ``-(n - k) H`` is an unbiased estimate of
``-sum_j E_x[H_j(x)]`` (``log E[exp(-H)] ~ -E[H]`` for the small hazards of conversion data)
and the pattern table keeps its form. When all positions lie within ``DECISION_SPREAD_DAYS`` of
each other (users deciding minutes after their last touch, or on one common date) the journeys
are evaluated at the median position with no passes: the recency bins cannot tell the points
apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Equally likely decision positions a non-converting journey is assigned to (one hex digit of
#: md5(user id) picks one, so 16).
DECISION_POINTS = 16
#: Fixed-point passes of the selection correction (fit, weight, place again).
DECISION_PASSES = 3
#: Positions whose spread (days, at the lookback's scale) is below the first recency bin's
#: width are one position: the model's recency bins cannot tell them apart.
DECISION_SPREAD_DAYS = 1.0
#: Laplace draws of each pass's fit (only the mean probability of converted journeys is used).
DECISION_FIT_DRAWS = 50
#: Hex digits of md5(user id) in the order of the positions; the holdout rule uses the first
#: digit, this the second, so the two are independent.
HASH_DIGITS = "0123456789abcdef"
#: Classes of a journey's touch count: 1, 2, ..., TOUCH_CLASSES or more.
TOUCH_CLASSES = 4
#: A touch-count class with fewer converted journeys takes the positions of all of them.
MIN_CLASS_JOURNEYS = 100
#: The journey_codes step's per-journey touch count when the positions depend on it.
TOUCH_COUNT_SQL = "COUNT(*) OVER (PARTITION BY user_id, journey)"


def mid_quantiles(
    values: np.ndarray, weight: np.ndarray | None = None, points: int = DECISION_POINTS
) -> np.ndarray:
    """The ``points`` mid-quantiles ``(i + 0.5) / points`` of ``values`` under ``weight``
    (uniform when None): (points,) equally likely values."""
    x = np.asarray(values, dtype=np.float64)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cumulative = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp((np.arange(points) + 0.5) / points, cumulative, x)


def is_spread(positions: np.ndarray, lags_days: np.ndarray, lookback_days: float) -> bool:
    """Whether decisions are spread in time: the equally likely positions differ by more than
    ``DECISION_SPREAD_DAYS`` at the lookback's scale *and* so do the lags (days from the last
    touch to the conversion). Users deciding minutes after their last touch have lags within
    hours (their positions differ only for journeys near the data end, whose windows are
    short); users deciding on one common date have one position (1)."""
    return bool(
        float(np.ptp(positions)) * lookback_days > DECISION_SPREAD_DAYS
        and float(np.ptp(lags_days)) > DECISION_SPREAD_DAYS
    )


def position_sql(positions, decimals: int) -> str:
    """The SQL expression of a non-converting journey's position from ``positions`` (class,
    point) (or (point,), or one value): one literal when all are equal; else a CASE on the
    second hex digit of md5(user id) over a class's equally likely positions, inside a CASE on
    the class ``LEAST(n_journey_touches, TOUCH_CLASSES)`` when there are several classes."""
    values = np.round(np.atleast_2d(np.asarray(positions, dtype=np.float64)), decimals)
    if np.all(values == values.flat[0]):
        return repr(float(values.flat[0]))

    def by_hash(row: np.ndarray) -> str:
        whens = " ".join(
            f"WHEN '{d}' THEN {float(v)!r}" for d, v in zip(HASH_DIGITS, row, strict=True)
        )
        return f"CASE substr(md5(CAST(user_id AS STRING)), 2, 1) {whens} END"

    # CAST: Spark reads the literals as decimals, DuckDB as doubles
    if len(values) == 1:
        return f"CAST({by_hash(values[0])} AS DOUBLE)"
    whens = " ".join(f"WHEN {k + 1} THEN {by_hash(row)}" for k, row in enumerate(values))
    return f"CAST(CASE LEAST(n_journey_touches, {len(values)}) {whens} END AS DOUBLE)"


def touch_count_sql(positions) -> str:
    """The journey_codes step's ``n_journey_touches``: counted (a window over the journey's
    touches) only when ``positions`` (class, point) has several classes, else a constant."""
    several = np.ndim(positions) == 2 and len(positions) > 1
    return TOUCH_COUNT_SQL if several else "CAST(0 AS BIGINT)"


def placement_sql(timing) -> dict[str, str]:
    """The journey_codes step's placement parameters for ``timing``
    (``workbench.journeys.DecisionTiming``): ``decision_position`` (:func:`position_sql`) and
    ``journey_touch_count`` (:func:`touch_count_sql`). The step returns each journey's
    ``shift_days``, which later steps (the lift rows) read instead of placing again."""
    from workbench.journeys import DECISION_POSITION_DECIMALS

    positions = timing.positions or (timing.position,)
    return {
        "decision_position": position_sql(positions, DECISION_POSITION_DECIMALS),
        "journey_touch_count": touch_count_sql(positions),
    }


def class_positions(
    position: np.ndarray, touches: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Equally likely positions (class, point) per touch-count class (module doc): the
    weighted mid-quantiles of the converted journeys of that class, or of all of them for a
    class with fewer than ``MIN_CLASS_JOURNEYS``; clipped to [0, 1]."""
    position = np.asarray(position, dtype=np.float64)
    weight = np.ones_like(position) if weight is None else np.asarray(weight, dtype=np.float64)
    klass = np.minimum(np.asarray(touches), TOUCH_CLASSES)
    pooled = mid_quantiles(position, weight)
    rows = []
    for k in range(1, TOUCH_CLASSES + 1):
        mine = klass == k
        rows.append(
            mid_quantiles(position[mine], weight[mine])
            if mine.sum() >= MIN_CLASS_JOURNEYS
            else pooled
        )
    return np.clip(np.array(rows), 0.0, 1.0)


def selection_weights(decisions: pd.DataFrame, probability: pd.DataFrame) -> np.ndarray:
    """``(1 - P_j) / P_j`` per converted journey of ``decisions`` (columns user_id, end_time,
    position) from ``probability`` (user_id, end_time, p: the model's P at its decision); the
    median weight where a journey has no probability."""
    merged = decisions[["user_id", "end_time"]].merge(
        probability[["user_id", "end_time", "p"]], on=["user_id", "end_time"], how="left"
    )
    p = np.clip(merged["p"].to_numpy(dtype=np.float64), 1e-9, 1.0 - 1e-9)
    w = (1.0 - p) / p
    return np.where(np.isnan(w), np.nanmedian(w) if np.any(~np.isnan(w)) else 1.0, w)


def place(engine, names: list[str], lookback_days: float, timing):
    """Stage ``journey_codes`` (``workbench.journeys``) with non-converting journeys evaluated at
    their decision positions: the median when the converters' positions are not spread
    (:func:`is_spread`), else ``DECISION_POINTS`` selection-corrected positions after
    ``DECISION_PASSES`` fixed-point passes (module doc). Returns the ``DecisionTiming`` used."""
    from dataclasses import replace

    from workbench import journeys as steps
    from workbench.engines import load_sql

    decisions = engine.query(
        load_sql("journey_decisions", lookback_days=repr(float(lookback_days)))
    )
    position = decisions["position"].to_numpy(dtype=np.float64)
    lag = decisions["lag_days"].to_numpy(dtype=np.float64)
    if len(position) == 0 or not is_spread(
        mid_quantiles(position), mid_quantiles(lag), lookback_days
    ):
        steps.stage_journey_codes(engine, len(names), lookback_days, timing)
        return timing
    decimals = steps.DECISION_POSITION_DECIMALS
    decisions["user_id"] = decisions["user_id"].astype(str)
    touches = decisions["n_touches"].to_numpy()
    positions = class_positions(position, touches)
    for done in range(DECISION_PASSES):
        placed = replace(timing, positions=_as_tuples(positions, decimals), passes=done)
        steps.stage_journey_codes(engine, len(names), lookback_days, placed)
        weights = selection_weights(decisions, _converted_probability(engine, names, lookback_days))
        positions = class_positions(position, touches, weights)
    placed = replace(timing, positions=_as_tuples(positions, decimals), passes=DECISION_PASSES)
    steps.stage_journey_codes(engine, len(names), lookback_days, placed)
    return placed


def _converted_probability(engine, names: list[str], lookback_days: float) -> pd.DataFrame:
    """The conversion model's mean P (no synergy, roles or spike; Laplace) of every converted
    journey at its conversion, fitted on the staged ``journey_codes``: user_id, end_time, p."""
    from attribution import ConversionModel, as_patterns, recency_ages_days
    from workbench import journeys as steps

    n_channels = len(names)
    model = ConversionModel(
        channels=names,
        recency_ages_days=recency_ages_days(lookback_days),
        synergy=False,
        roles=False,
        spike_and_slab=False,
        method="laplace",
        draws=DECISION_FIT_DRAWS,
        chains=1,
        seed=0,
    ).fit(as_patterns(steps.patterns(engine, n_channels), names))
    converted = steps.converted_journeys(engine, n_channels)
    rows = as_patterns(converted.assign(n_journeys=1, n_conversions=1), names)
    p = model.predict_proba(rows).mean(("chain", "draw")).values
    return pd.DataFrame(
        {"user_id": converted["user_id"].astype(str), "end_time": converted["end_time"], "p": p}
    )


def _as_tuples(positions: np.ndarray, decimals: int) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in np.round(positions, decimals))
