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

Classes and channels do not say everything the converted journeys show, though. Where users
decide at the end of their own activity, the gap after the last touch also shrinks as the
journey's span grows (a long span leaves less of the activity after the last touch), and a
placement that ignores this gives a light journey's decision the gaps of heavy ones and the other
way round. With every user's true gap shuffled within each (class, channel) cell of the budget
world ``frequency`` (40,000 users, seed 1), the fit's baseline hazard fell from 0.0096 to 0.0055
(truth 0.012) and the touch effects rose by up to 46%: plans then overstated what a channel's
spend buys (the loss from cutting display, by 32% in the median over the budget worlds). So the
gap is placed by a **gap model** fitted to the converted journeys whose whole lookback lies in
the data, weighted by the selection weights above:

    log(gap + o) = a + level_k + slope_k log(span_days + o) + d log(n / 4)^+ + channel_c + e,

with ``o = GAP_OFFSET_DAYS``; per touch-count class ``k`` a level and a slope on the journey's
span (days from its first to its last touch in the window; one-touch journeys have none);
``n`` the touch count within the top class (4 or more); ``channel_c`` per channel of the last
touch. A class or channel with fewer than ``MIN_CLASS_JOURNEYS`` such journeys shares the
reference level (class 1, the most common channel). A non-converting journey is placed at
``exp(prediction + e_i) - o`` capped at its observable window, ``e_i`` one of the equally
likely residuals of its class. On
``frequency`` the fit's baseline is then 0.0103 and its decays 0.8-1.4 times those of the fit
at every user's true decision time (baseline 0.0096), where the (class, channel) positions gave
0.0077 and decays about half of them (``python -m bench.attribution_timing --world frequency``).
With fewer than ``MIN_CLASS_JOURNEYS`` whole-window converted journeys the (class, channel)
positions place the decisions instead.

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
#: Offset (days) of the gap model's log(gap + offset): gaps of minutes stay finite.
GAP_OFFSET_DAYS = 0.1
#: The journey_codes step's span (days from the journey's first to its last touch in the window)
#: when the gap model places decisions.
SPAN_SQL = (
    "(MAX(age_days) OVER (PARTITION BY user_id, journey)"
    " - MIN(age_days) OVER (PARTITION BY user_id, journey))"
)
#: Terms of the gap model before its channels: intercept, class levels and span slopes of
#: classes 2..TOUCH_CLASSES, the top-class count.
GAP_TERMS = 1 + 2 * (TOUCH_CLASSES - 1) + 1
#: Window floor (days): a journey whose last touch is at the data end has a window of 0.
MIN_WINDOW_DAYS = 1e-6


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


def gap_design(
    touches: np.ndarray,
    span_days: np.ndarray,
    last_channel: np.ndarray,
    class_levels: np.ndarray,
    channel_levels: np.ndarray,
) -> np.ndarray:
    """The gap model's design (journey, term): intercept; per touch-count class in
    ``class_levels`` (class numbers 2..``TOUCH_CLASSES``) its level and its slope on
    ``log(span_days + GAP_OFFSET_DAYS)``; ``log(max(touches, TOUCH_CLASSES) / TOUCH_CLASSES)``
    (the count within the top class); one column per channel index in ``channel_levels`` (of
    the journey's last touch)."""
    touches = np.asarray(touches)
    klass = np.minimum(touches, TOUCH_CLASSES)
    log_span = np.log(np.maximum(np.asarray(span_days, np.float64), 0.0) + GAP_OFFSET_DAYS)
    columns = [np.ones(len(touches))]
    columns += [(klass == k).astype(np.float64) for k in class_levels]
    columns += [(klass == k) * log_span for k in class_levels]
    columns.append(np.log(np.maximum(touches, TOUCH_CLASSES) / TOUCH_CLASSES))
    columns += [(np.asarray(last_channel) == c).astype(np.float64) for c in channel_levels]
    return np.column_stack(columns)


def fit_gap_model(
    lag_days: np.ndarray,
    touches: np.ndarray,
    span_days: np.ndarray,
    last_channel: np.ndarray,
    whole: np.ndarray,
    n_channels: int,
    weight: np.ndarray | None = None,
) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
    """The gap model (module doc) of the converted journeys with a whole lookback window in the
    data (``whole``), weighted least squares with ``weight``. Returns the coefficients
    (``GAP_TERMS`` + one per channel: intercept; levels of classes 2..``TOUCH_CLASSES``; their
    span slopes; the top-class count; the channels of the last touch), 0 for the reference
    levels (class 1, the most common last channel) and for a class or channel with fewer than
    ``MIN_CLASS_JOURNEYS`` journeys (which then shares the reference's), and the equally likely
    residuals (class, point), a class with fewer than ``MIN_CLASS_JOURNEYS`` journeys taking
    all of them. Empty tuples when fewer than ``MIN_CLASS_JOURNEYS`` journeys have a whole
    window."""
    fit = np.asarray(whole, bool)
    if fit.sum() < MIN_CLASS_JOURNEYS:
        return (), ()
    w = np.ones(len(fit)) if weight is None else np.asarray(weight, np.float64)
    touches, last = np.asarray(touches)[fit], np.asarray(last_channel)[fit]
    span, w = np.asarray(span_days, np.float64)[fit], w[fit]
    klass = np.minimum(touches, TOUCH_CLASSES)
    classes = [k for k in range(2, TOUCH_CLASSES + 1) if (klass == k).sum() >= MIN_CLASS_JOURNEYS]
    counts = np.bincount(last, minlength=n_channels)
    reference = int(np.argmax(counts))
    channels = [c for c in range(n_channels) if c != reference and counts[c] >= MIN_CLASS_JOURNEYS]
    x = gap_design(touches, span, last, np.array(classes, int), np.array(channels, int))
    y = np.log(np.asarray(lag_days, np.float64)[fit] + GAP_OFFSET_DAYS)
    root = np.sqrt(w / w.sum())
    beta = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
    residual = y - x @ beta
    pooled = mid_quantiles(residual, w)
    rows = [
        mid_quantiles(residual[klass == k], w[klass == k])
        if (klass == k).sum() >= MIN_CLASS_JOURNEYS
        else pooled
        for k in range(1, TOUCH_CLASSES + 1)
    ]
    n_class = TOUCH_CLASSES - 1
    coefficients = np.zeros(GAP_TERMS + n_channels)
    coefficients[0] = beta[0]
    for i, k in enumerate(classes):
        coefficients[k - 1] = beta[1 + i]
        coefficients[n_class + k - 1] = beta[1 + len(classes) + i]
    coefficients[GAP_TERMS - 1] = beta[1 + 2 * len(classes)]
    for i, c in enumerate(channels):
        coefficients[GAP_TERMS + c] = beta[2 + 2 * len(classes) + i]
    return tuple(coefficients.tolist()), tuple(tuple(r.tolist()) for r in rows)


def gap_position_sql(coefficients, residuals, decimals: int) -> str:
    """The position of a non-converting journey under the gap model (module doc):
    ``LEAST(GREATEST((EXP(prediction + e) - GAP_OFFSET_DAYS) / window_days, 0), 1)`` with the
    residual ``e`` picked by the hash among its class's ``residuals`` (class, point).
    ``coefficients`` as :func:`fit_gap_model` returns them."""
    c = np.round(np.asarray(coefficients, np.float64), decimals)
    n_class = TOUCH_CLASSES - 1
    log_span = f"LN(span_days + {GAP_OFFSET_DAYS!r})"
    by_class = " ".join(
        f"WHEN {k} THEN {float(c[k - 1])!r} + {float(c[n_class + k - 1])!r} * {log_span}"
        for k in range(2, TOUCH_CLASSES + 1)
    )
    channels = " ".join(
        f"WHEN {i} THEN {float(v)!r}" for i, v in enumerate(c[GAP_TERMS:]) if v != 0.0
    )
    rows = np.round(np.asarray(residuals, np.float64), decimals)
    picks = " ".join(f"WHEN {k + 1} THEN {_hash_pick(row)}" for k, row in enumerate(rows))
    klass = f"LEAST(n_journey_touches, {TOUCH_CLASSES})"
    prediction = " + ".join(
        [
            repr(float(c[0])),
            f"CASE {klass} {by_class} ELSE 0.0 END",
            f"{float(c[GAP_TERMS - 1])!r} * LN(GREATEST(n_journey_touches, {TOUCH_CLASSES})"
            f" / {float(TOUCH_CLASSES)!r})",
            f"CASE journey_last_channel {channels} ELSE 0.0 END" if channels else "0.0",
            f"CASE {klass} {picks} END",
        ]
    )
    gap = f"(EXP({prediction}) - {GAP_OFFSET_DAYS!r})"
    return (
        f"CAST(LEAST(GREATEST({gap} / GREATEST(window_days, {MIN_WINDOW_DAYS!r}), 0.0), 1.0)"
        " AS DOUBLE)"
    )


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
    return _last_channel_window(values.shape[1])


def _last_channel_window(n: int) -> str:
    """The channel index (of ``n``) of the journey's last touch, a window over its touches."""
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


def placement_sql(timing, n_channels: int) -> dict[str, str]:
    """The journey_codes step's placement parameters for ``timing``
    (``workbench.journeys.DecisionTiming``) on ``n_channels`` channels: ``decision_position``
    (:func:`gap_position_sql` when the timing has a gap model, else :func:`position_sql`),
    ``journey_touch_count`` (:func:`touch_count_sql`), ``journey_span`` (``SPAN_SQL``, or 0
    when unused) and ``journey_last_channel``. The step returns each journey's
    ``shift_days``, which later steps (the lift rows) read instead of placing again."""
    from workbench.journeys import DECISION_POSITION_DECIMALS

    positions = timing.positions or (timing.position,)
    if timing.gap_coefficients:
        return {
            "decision_position": gap_position_sql(
                timing.gap_coefficients, timing.gap_residuals, DECISION_POSITION_DECIMALS
            ),
            "journey_touch_count": TOUCH_COUNT_SQL,
            "journey_span": SPAN_SQL,
            "journey_last_channel": _last_channel_window(n_channels),
        }
    return {
        "decision_position": position_sql(positions, DECISION_POSITION_DECIMALS),
        "journey_touch_count": touch_count_sql(positions),
        "journey_span": "0.0",
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
    span = decisions["span_days"].to_numpy(dtype=np.float64)
    whole = decisions["window_days"].to_numpy(dtype=np.float64) >= lookback_days
    weights = None
    for done in range(DECISION_PASSES + 1):
        positions = class_positions(position, touches, weights, last_channel, len(names))
        coefficients, residuals = fit_gap_model(
            lag, touches, span, last_channel, whole, len(names), weights
        )
        placed = replace(
            timing,
            positions=_as_tuples(positions, decimals),
            passes=done,
            gap_coefficients=tuple(round(float(b), decimals) for b in coefficients),
            gap_residuals=_as_tuples(residuals, decimals) if residuals else (),
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
    ).fit(
        as_patterns(
            steps.patterns(engine, n_channels), names, steps.capped_counts(engine, n_channels)
        )
    )
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
