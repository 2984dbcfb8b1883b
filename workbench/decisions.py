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

Nor are they independent of which channel touched last: a search touch tends to come right
before the decision, an awareness touch long before it. On the journey simulator's
``roles_window_end`` world (200,000 users) non-converting journeys decided on average 3.0 days
after a last paid-search touch and 13.1 after a last display touch, while the touch-count
classes placed both at 8-10 days, and the share error was 0.043 (0.005 with every user's true
decision time). So within a class the positions are split by the channel of the last touch,
for each (class, channel) cell with at least ``MIN_CLASS_JOURNEYS`` converted journeys; the
other cells keep the class's positions.

Within a class, users touched every day decide sooner after their last touch than users touched
once a week when decisions follow the end of their activity (users deciding at the end of their
own shopping window). Where the converted journeys show it, the gap after the last touch scales
with the journey's pace (days between its touches, ``span / (touches - 1)``): per class with two
or more touches, the slope ``b`` of log gap on log pace over the converted journeys whose whole
lookback lies in the data (weighted least squares with the selection weights above, clipped to
[0, 1]); a class with ``b >= PACE_SLOPE_MIN`` places a non-converting journey at the gap ``u *
pace^b`` (capped at its observable window), ``u`` one of the equally likely ``gap / pace^b`` of
the class's converted journeys, instead of at a position. On the journey simulator's
``additive_window_end`` world (200,000 users) the four-plus-touch class has ``b = 0.63`` and the
share error falls from 0.040 to 0.012 (a fit at every user's true decision time: 0.010); on the
budget world ``new_reach`` every slope is below 0.1 and nothing changes. The threshold keeps the
positions where the slope is small: gaps that do not scale with pace, placed as gaps, came out
too short there (bench/RESULTS.md, issue 12).

Each non-converting journey is then evaluated at one of ``DECISION_POINTS`` equally likely
positions (or gaps) of its class (the weighted mid-quantiles), picked by a hash of its user
id, so that over the journeys of a pattern the likelihood's ``-(n - k) H`` is an unbiased
estimate of ``-sum_j E_x[H_j(x)]`` (``log E[exp(-H)] ~ -E[H]`` for the small hazards of
conversion data) and the pattern table keeps its form. When all positions lie within
``DECISION_SPREAD_DAYS`` of each other (users deciding minutes after their last touch, or on
one common date) the journeys are evaluated at the median position with no passes: the recency
bins cannot tell the points apart.
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
#: A class's decision gaps scale with pace when the converters' slope of log gap on log pace is
#: at least this (module doc); below it the class keeps its positions.
PACE_SLOPE_MIN = 0.3
#: The journey_codes step's pace (days between the journey's touches in the window).
PACE_SQL = (
    "((MAX(age_days) OVER (PARTITION BY user_id, journey)"
    " - MIN(age_days) OVER (PARTITION BY user_id, journey))"
    " / GREATEST(COUNT(*) OVER (PARTITION BY user_id, journey) - 1, 1))"
)
#: Pace floor (days) in ``pace^b`` (touches at one time have pace 0).
MIN_PACE_DAYS = 1e-6


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


def pace_days(span_days: np.ndarray, touches: np.ndarray) -> np.ndarray:
    """Days between a journey's touches: its span over (touches - 1); 0 for one touch."""
    span = np.asarray(span_days, dtype=np.float64)
    return span / np.maximum(np.asarray(touches) - 1, 1)


def pace_slopes(
    lag: np.ndarray,
    pace: np.ndarray,
    touches: np.ndarray,
    whole: np.ndarray,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Per touch-count class (class,), the slope ``b`` of log lag on log pace over the converted
    journeys of the class with a whole lookback window in the data (``whole``) and a positive
    lag and pace, by least squares weighted with ``weight``, clipped to [0, 1]; 0 for one touch
    and for a class with fewer than ``MIN_CLASS_JOURNEYS`` such journeys."""
    lag, pace = np.asarray(lag, np.float64), np.asarray(pace, np.float64)
    w = np.ones_like(lag) if weight is None else np.asarray(weight, np.float64)
    klass = np.minimum(np.asarray(touches), TOUCH_CLASSES)
    slopes = np.zeros(TOUCH_CLASSES)
    for k in range(2, TOUCH_CLASSES + 1):
        fit = (klass == k) & np.asarray(whole, bool) & (lag > 0) & (pace > 0)
        if fit.sum() < MIN_CLASS_JOURNEYS:
            continue
        x, y = np.log(pace[fit]), np.log(lag[fit])
        wf = w[fit] / w[fit].sum()
        xc = x - wf @ x
        slope = (wf @ (xc * (y - wf @ y))) / max(float(wf @ xc**2), np.finfo(float).tiny)
        slopes[k - 1] = float(np.clip(slope, 0.0, 1.0))
    return slopes


def class_pace_gaps(
    lag: np.ndarray,
    pace: np.ndarray,
    touches: np.ndarray,
    slopes: np.ndarray,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Equally likely ``u = lag / pace^b`` (class, point) of the converted journeys of each
    class whose slope ``b`` is at least ``PACE_SLOPE_MIN`` (weighted mid-quantiles over those
    with a positive pace); NaN rows for the other classes."""
    lag, pace = np.asarray(lag, np.float64), np.asarray(pace, np.float64)
    w = np.ones_like(lag) if weight is None else np.asarray(weight, np.float64)
    klass = np.minimum(np.asarray(touches), TOUCH_CLASSES)
    out = np.full((TOUCH_CLASSES, DECISION_POINTS), np.nan)
    for k, b in enumerate(slopes, start=1):
        mine = (klass == k) & (pace > 0)
        if b >= PACE_SLOPE_MIN and mine.any():
            out[k - 1] = mid_quantiles(lag[mine] / pace[mine] ** b, w[mine])
    return out


def position_sql(positions, decimals: int) -> str:
    """The SQL expression of a non-converting journey's position from ``positions`` (class,
    point) (or (point,), or one value): one literal when all are equal; else a CASE on the
    second hex digit of md5(user id) over a class's equally likely positions, inside a CASE on
    the class ``LEAST(n_journey_touches, TOUCH_CLASSES)`` when there are several classes."""
    values = np.round(np.atleast_2d(np.asarray(positions, dtype=np.float64)), decimals)
    if np.all(values == values.flat[0]):
        return repr(float(values.flat[0]))

    # CAST: Spark reads the literals as decimals, DuckDB as doubles
    if len(values) == 1:
        return f"CAST({_class_case(values[0])} AS DOUBLE)"
    whens = " ".join(f"WHEN {k + 1} THEN {_class_case(row)}" for k, row in enumerate(values))
    return f"CAST(CASE LEAST(n_journey_touches, {len(values)}) {whens} END AS DOUBLE)"


def _class_case(rows: np.ndarray) -> str:
    """A class's position: :func:`_hash_case` over its equally likely positions (point,), or,
    for positions per last channel (channel, point) that differ, a CASE on
    ``journey_last_channel`` over them."""
    rows = np.asarray(rows)
    if rows.ndim == 1:
        return _hash_case(rows)
    if np.all(rows == rows[0]):
        return _hash_case(rows[0])
    whens = " ".join(f"WHEN {c} THEN {_hash_case(row)}" for c, row in enumerate(rows))
    return f"CASE journey_last_channel {whens} END"


def last_channel_sql(positions) -> str:
    """The journey_codes step's ``journey_last_channel`` (the channel index of the journey's
    last touch, ties as its ``last_channel``): a window over the journey's touches when some
    class's positions (class, channel, point) differ by channel, else a constant."""
    values = np.asarray(positions, dtype=np.float64)
    if values.ndim != 3 or all(np.all(rows == rows[0]) for rows in values):
        return "CAST(0 AS BIGINT)"
    n = values.shape[1]
    return (
        f"CAST({n} - 1 - MIN(CAST(ROUND(age_days * 1000000) AS BIGINT) * {n} + ({n} - 1 - "
        f"channel_index)) OVER (PARTITION BY user_id, journey) % {n} AS BIGINT)"
    )


def touch_count_sql(positions) -> str:
    """The journey_codes step's ``n_journey_touches``: counted (a window over the journey's
    touches) only when ``positions`` (class[, channel], point) has several classes, else a
    constant."""
    several = np.ndim(positions) >= 2 and len(positions) > 1
    return TOUCH_COUNT_SQL if several else "CAST(0 AS BIGINT)"


def _hash_case(row: np.ndarray) -> str:
    """One of ``row``'s equally likely values, picked by the second hex digit of md5(user id)."""
    whens = " ".join(f"WHEN '{d}' THEN {float(v)!r}" for d, v in zip(HASH_DIGITS, row, strict=True))
    return f"CASE substr(md5(CAST(user_id AS STRING)), 2, 1) {whens} END"


def _hash_pick(row: np.ndarray) -> str:
    """:func:`_hash_case` as a DOUBLE (Spark reads the literals as decimals)."""
    return f"CAST({_hash_case(row)} AS DOUBLE)"


def pace_position_sql(positions, slopes, gaps, decimals: int) -> str:
    """The position of a non-converting journey when some classes' gaps scale with pace: per
    touch-count class, ``LEAST(u * pace_days^b / window_days, 1)`` with ``u`` picked by the
    hash from ``gaps`` for a class whose slope ``b`` is at least ``PACE_SLOPE_MIN``, else one
    of the class's ``positions`` (module doc)."""
    positions = np.round(np.asarray(positions, dtype=np.float64), decimals)
    gaps = np.round(np.asarray(gaps, dtype=np.float64), decimals)
    whens = []
    for k, b in enumerate(slopes, start=1):
        if b >= PACE_SLOPE_MIN:
            gap = (
                f"{_hash_pick(gaps[k - 1])} * POWER(GREATEST(pace_days, {MIN_PACE_DAYS!r}), "
                f"{round(float(b), decimals)!r})"
            )
            value = f"LEAST({gap} / GREATEST(window_days, {MIN_PACE_DAYS!r}), 1.0)"
        else:
            value = f"CAST({_class_case(positions[k - 1])} AS DOUBLE)"
        whens.append(f"WHEN {k} THEN {value}")
    return f"CAST(CASE LEAST(n_journey_touches, {len(slopes)}) {' '.join(whens)} END AS DOUBLE)"


def placement_sql(timing) -> dict[str, str]:
    """The journey_codes step's placement parameters for ``timing``
    (``workbench.journeys.DecisionTiming``): ``decision_position`` (:func:`position_sql`, or
    :func:`pace_position_sql` when a class's gaps scale with pace), ``journey_touch_count``
    (:func:`touch_count_sql`) and ``journey_pace`` (``PACE_SQL``, or 0 when unused). The step
    returns each journey's ``shift_days``, which later steps (the lift rows) read instead of
    placing again."""
    from workbench.journeys import DECISION_POSITION_DECIMALS

    positions = timing.positions or (timing.position,)
    if any(b >= PACE_SLOPE_MIN for b in timing.pace_slopes):
        return {
            "decision_position": pace_position_sql(
                positions, timing.pace_slopes, timing.pace_gaps, DECISION_POSITION_DECIMALS
            ),
            "journey_touch_count": TOUCH_COUNT_SQL,
            "journey_pace": PACE_SQL,
            "journey_last_channel": last_channel_sql(positions),
        }
    return {
        "decision_position": position_sql(positions, DECISION_POSITION_DECIMALS),
        "journey_touch_count": touch_count_sql(positions),
        "journey_pace": "0.0",
        "journey_last_channel": last_channel_sql(positions),
    }


def class_positions(
    position: np.ndarray,
    touches: np.ndarray,
    weight: np.ndarray | None = None,
    last_channel: np.ndarray | None = None,
    n_channels: int = 0,
) -> np.ndarray:
    """Equally likely positions (class, point) per touch-count class (module doc): the
    weighted mid-quantiles of the converted journeys of that class, or of all of them for a
    class with fewer than ``MIN_CLASS_JOURNEYS``; clipped to [0, 1].

    With ``last_channel`` (the channel index of each journey's last touch) the positions are
    (class, channel, point): within a class, those of the class's journeys whose last touch is
    that channel, or the class's own for a channel with fewer than ``MIN_CLASS_JOURNEYS``."""
    position = np.asarray(position, dtype=np.float64)
    weight = np.ones_like(position) if weight is None else np.asarray(weight, dtype=np.float64)
    klass = np.minimum(np.asarray(touches), TOUCH_CLASSES)
    pooled = mid_quantiles(position, weight)
    rows = []
    for k in range(1, TOUCH_CLASSES + 1):
        mine = klass == k
        row = (
            mid_quantiles(position[mine], weight[mine])
            if mine.sum() >= MIN_CLASS_JOURNEYS
            else pooled
        )
        if last_channel is None:
            rows.append(row)
            continue
        by_channel = []
        for c in range(n_channels):
            cell = mine & (np.asarray(last_channel) == c)
            by_channel.append(
                mid_quantiles(position[cell], weight[cell])
                if cell.sum() >= MIN_CLASS_JOURNEYS
                else row
            )
        rows.append(by_channel)
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


def place(engine, names: list[str], lookback_days: float, timing, decisions=None):
    """Stage ``journey_codes`` (``workbench.journeys``) with non-converting journeys evaluated at
    their decision positions: the median when the converters' positions are not spread
    (:func:`is_spread`), else ``DECISION_POINTS`` selection-corrected positions after
    ``DECISION_PASSES`` fixed-point passes (module doc). ``decisions``: the
    ``journey_decisions`` rows (``workbench.journeys.decision_rows``; run here when None).
    Returns the ``DecisionTiming`` used."""
    from dataclasses import replace

    from workbench import journeys as steps

    if decisions is None:
        decisions = steps.decision_rows(engine, lookback_days)
    decisions = decisions.copy()  # its user ids become text below; the caller's rows stay
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
    last_channel = decisions["last_channel"].to_numpy()
    pace = pace_days(decisions["span_days"].to_numpy(dtype=np.float64), touches)
    whole = decisions["window_days"].to_numpy(dtype=np.float64) >= lookback_days
    weights = None
    for done in range(DECISION_PASSES + 1):
        positions = class_positions(position, touches, weights, last_channel, len(names))
        slopes = pace_slopes(lag, pace, touches, whole, weights)
        placed = replace(
            timing,
            positions=_as_tuples(positions, decimals),
            passes=done,
            pace_slopes=tuple(round(float(b), decimals) for b in slopes),
            pace_gaps=_as_tuples(class_pace_gaps(lag, pace, touches, slopes, weights), decimals),
        )
        steps.stage_journey_codes(engine, len(names), lookback_days, placed)
        if done < DECISION_PASSES:
            weights = selection_weights(
                decisions, _converted_probability(engine, names, lookback_days)
            )
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


def _as_tuples(positions: np.ndarray, decimals: int) -> tuple:
    """Nested tuples of floats (any number of dims) of ``positions`` rounded."""

    def nest(value):
        return tuple(nest(v) for v in value) if isinstance(value, list) else float(value)

    return nest(np.round(np.asarray(positions, dtype=np.float64), decimals).tolist())
