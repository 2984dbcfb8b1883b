"""Where non-converting journeys decide (``workbench.decisions``): converters' decision positions
corrected for selection, spread over equally likely positions, and what that does to the fit
on a budget world whose users decide at the end of their own window."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from workbench.decisions import (
    DECISION_PASSES,
    DECISION_POINTS,
    GAP_TERMS,
    HASH_DIGITS,
    MIN_CLASS_JOURNEYS,
    TOUCH_CLASSES,
    class_positions,
    is_spread,
    last_channel_sql,
    mid_quantiles,
    position_sql,
    selection_weights,
    touch_count_sql,
)
from workbench.engines import DuckDBEngine


def test_mid_quantiles_split_the_weight_into_equally_likely_points():
    # four values, equal weights: the 2 mid-quantiles at 1/4 and 3/4 of the weight fall
    # midway between the 1st/2nd and the 3rd/4th values' cumulative mid-points
    assert mid_quantiles(np.array([0.0, 1.0, 2.0, 3.0]), points=2) == pytest.approx([0.5, 2.5])
    # weights 1, 1, 1, 5 (of 8): cumulative mid-points 1/16, 3/16, 5/16, 11/16, so 1/4 lies
    # midway between the 2nd and 3rd values and 3/4 beyond the last
    weight = np.array([1.0, 1.0, 1.0, 5.0])
    assert mid_quantiles(np.array([0.0, 1.0, 2.0, 3.0]), weight, points=2) == pytest.approx(
        [1.5, 3.0]
    )


def test_inverse_probability_weights_recover_everyones_decision_positions_from_converters():
    # Decisions uniform over the window (g = U(0, 1)); a journey deciding at x converts with
    # P(x) = 1 - exp(-(0.01 + 0.06 exp(-4 x))): fresh touches convert more, so converters
    # decide early. Weighted by (1 - P) / P the converters' positions are uniform again.
    rng = np.random.default_rng(3)
    x = rng.random(400_000)
    p = -np.expm1(-(0.01 + 0.06 * np.exp(-4.0 * x)))
    converted = rng.random(x.size) < p
    decisions = pd.DataFrame(
        {"user_id": np.arange(x.size).astype(str), "end_time": 0.0, "position": x}
    )[converted]
    probability = decisions.assign(p=p[converted])
    naive = mid_quantiles(decisions["position"].to_numpy())
    corrected = mid_quantiles(
        decisions["position"].to_numpy(), selection_weights(decisions, probability)
    )
    uniform = (np.arange(DECISION_POINTS) + 0.5) / DECISION_POINTS
    assert np.median(naive) < 0.35  # the selection: converters' median position is early
    assert np.abs(corrected - uniform).max() < 0.03


def test_a_journey_without_a_probability_gets_the_median_weight():
    decisions = pd.DataFrame({"user_id": ["a", "b", "c"], "end_time": 1.0, "position": 0.5})
    probability = pd.DataFrame({"user_id": ["a", "b"], "end_time": 1.0, "p": [0.5, 0.2]})
    # weights (1 - p) / p: 1 and 4; c has none -> the median 2.5
    assert selection_weights(decisions, probability) == pytest.approx([1.0, 4.0, 2.5])


def test_each_user_gets_the_position_of_their_touch_class_and_md5_digit():
    # class k (1 touch, 2, 3, 4 or more) has positions k/10 + 0.01 * point; a user's point is
    # the second hex digit of md5(user id)
    positions = np.array(
        [k / 10 + 0.01 * np.arange(DECISION_POINTS) for k in range(1, TOUCH_CLASSES + 1)]
    )
    users = pd.DataFrame(
        {"user_id": [f"u{i:05d}" for i in range(200)], "n_journey_touches": np.arange(200) % 7 + 1}
    )
    engine = DuckDBEngine()
    engine.register("users", users)
    got = engine.query(
        f"SELECT user_id, {position_sql(positions, 4)} AS position FROM users ORDER BY user_id"
    )
    engine.close()
    digit = [HASH_DIGITS.index(hashlib.md5(u.encode()).hexdigest()[1]) for u in users["user_id"]]
    klass = np.minimum(users["n_journey_touches"].to_numpy(), TOUCH_CLASSES) - 1
    assert got["position"].to_numpy() == pytest.approx(np.round(positions[klass, digit], 4))
    # one position for everyone: a literal, and no touch count is computed
    assert position_sql(np.full((TOUCH_CLASSES, DECISION_POINTS), 0.25), 4) == "0.25"
    assert touch_count_sql((0.25,)) == "CAST(0 AS BIGINT)"
    assert "COUNT(*)" in touch_count_sql(positions)


def test_a_touch_class_with_few_converted_journeys_takes_everyones_positions():
    rng = np.random.default_rng(0)
    # class 1: many journeys deciding late; class 2: a handful deciding early
    position = np.concatenate([rng.uniform(0.5, 1.0, 1_000), np.full(MIN_CLASS_JOURNEYS - 1, 0.1)])
    touches = np.concatenate([np.ones(1_000, int), np.full(MIN_CLASS_JOURNEYS - 1, 2)])
    got = class_positions(position, touches)
    assert got.shape == (TOUCH_CLASSES, DECISION_POINTS)
    assert got[0] == pytest.approx(mid_quantiles(position[:1_000]))
    for k in (1, 2, 3):  # classes 2, 3 and 4+: too few journeys each -> everyone's
        assert got[k] == pytest.approx(mid_quantiles(position))


def test_a_class_splits_by_the_last_touchs_channel_where_it_has_enough_journeys():
    # one-touch journeys: those ending on channel 0 decide early, on channel 1 late; channel 2
    # ends too few of them and takes the class's positions (a search touch right before the
    # decision, a display touch long before it)
    rng = np.random.default_rng(1)
    n = 1_000
    position = np.concatenate([rng.uniform(0.0, 0.2, n), rng.uniform(0.6, 1.0, n), [0.5] * 10])
    touches = np.ones(2 * n + 10, int)
    last = np.concatenate([np.zeros(n, int), np.ones(n, int), np.full(10, 2)])
    got = class_positions(position, touches, None, last, 3)
    assert got.shape == (TOUCH_CLASSES, 3, DECISION_POINTS)
    assert got[0, 0] == pytest.approx(mid_quantiles(position[:n]))
    assert got[0, 1] == pytest.approx(mid_quantiles(position[n : 2 * n]))
    assert got[0, 2] == pytest.approx(mid_quantiles(position))  # the class's own
    assert got[1, 0] == pytest.approx(mid_quantiles(position))  # empty class: everyone's


def test_each_journey_gets_the_position_of_its_last_touchs_channel():
    # the journey_codes step's window finds the last touch (ties in time: the higher channel
    # index, as its last_channel) and the CASE picks that channel's positions in the class
    touches = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "c"],
            "journey": [0, 0, 0, 0, 0, 0],
            "channel_index": [1, 0, 0, 1, 0, 1],
            "age_days": [0.5, 3.0, 0.2, 4.0, 1.0, 1.0],
        }
    )
    positions = np.zeros((TOUCH_CLASSES, 2, DECISION_POINTS))
    positions[:, 0] = 0.1
    positions[:, 1] = 0.9
    engine = DuckDBEngine()
    engine.register("touches", touches)
    got = engine.query(
        f"SELECT user_id, {last_channel_sql(positions)} AS journey_last_channel, "
        "CAST(COUNT(*) OVER (PARTITION BY user_id, journey) AS BIGINT) AS n_journey_touches "
        "FROM touches"
    )
    engine.register("counted", got)
    placed = engine.query(
        f"SELECT DISTINCT user_id, {position_sql(positions, 4)} AS position FROM counted "
        "ORDER BY user_id"
    )
    engine.close()
    assert placed.set_index("user_id")["position"].to_dict() == {"a": 0.9, "b": 0.1, "c": 0.9}
    # positions that do not differ by channel: no window is computed
    assert last_channel_sql(np.full((TOUCH_CLASSES, 2, DECISION_POINTS), 0.3)) == (
        "CAST(0 AS BIGINT)"
    )


def test_journey_codes_carry_each_journeys_shift_for_later_steps():
    # position 0.5 of the observable window min(data end - L, 30); the data end is day 100.
    # Journey a: last touch day 80 -> window 20, decided day 90, its touches 10 days older.
    # Journey b: last touch day 98 -> window 2, decided day 99 (shift 1).
    # Journey c converted at day 90: evaluated at its conversion (no shift).
    from workbench import journeys as steps
    from workbench.journeys import DecisionTiming

    touches = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "journey": 0,
            "converted": [0, 0, 0, 1],
            "end_time": [80.0, 80.0, 98.0, 90.0],
            "channel_index": [0, 1, 0, 1],
            "age_days": [0.0, 3.0, 0.5, 0.5],
        }
    )
    engine = DuckDBEngine()
    engine.register("journey_touches", touches)
    timing = DecisionTiming(position=0.5, data_end=100.0, lag_median_days=1.0, converted_journeys=1)
    steps.stage_journey_codes(engine, 2, 30.0, timing)
    codes = steps.journey_codes(engine).set_index("user_id")
    engine.close()
    assert codes["shift_days"].to_dict() == pytest.approx({"a": 10.0, "b": 1.0, "c": 0.0})
    # recency bins [0, 1), [1, 7), [7, 30]: a's touches at ages 10 and 13 (bin 2), b's at 1.5
    # (bin 1), c's at 0.5 (bin 0); code = count * 4**bin
    assert codes.loc["a", ["k_0", "k_1"]].tolist() == [16, 16]
    assert codes.loc["b", ["k_0", "k_1"]].tolist() == [4, 0]
    assert codes.loc["c", ["k_0", "k_1"]].tolist() == [0, 1]


def test_decisions_are_spread_only_when_both_positions_and_lags_are():
    lookback = 30.0
    # minutes after the last touch: lags within hours, positions large only near the data end
    assert not is_spread(np.array([0.0, 0.1]), np.array([0.01, 0.3]), lookback)
    # one common date: position 1 for everyone, lags of any length
    assert not is_spread(np.ones(2), np.array([0.1, 25.0]), lookback)
    # the end of each user's own window: both spread
    assert is_spread(np.array([0.02, 0.9]), np.array([0.3, 20.0]), lookback)


@pytest.fixture(scope="module")
def budget_fit():
    from attribution import ConversionModel, as_patterns, recency_ages_days
    from workbench import io
    from workbench import journeys as steps
    from workbench.sim.budget import get_world, simulate_budget

    spec = get_world("new_reach")
    tables = simulate_budget(spec, 20_000, 10, 2)
    engine = DuckDBEngine()
    io.stage(engine, "touchpoints", tables["touchpoints"])
    io.stage(engine, "conversions", tables["conversions"])
    journeys = steps.run_steps(engine, 30.0)
    engine.close()
    model = ConversionModel(
        channels=journeys.channels,
        recency_ages_days=recency_ages_days(30.0),
        method="laplace",
        draws=200,
        chains=1,
        seed=2,
    ).fit(as_patterns(journeys.patterns, journeys.channels))
    return spec, journeys.decision_timing, model.posterior_


@pytest.mark.slow
def test_users_deciding_at_the_end_of_their_window_get_spread_selection_corrected_positions(
    budget_fit,
):
    spec, timing, _ = budget_fit
    assert timing.passes == DECISION_PASSES
    positions = np.array(timing.positions)
    # per touch-count class and channel of the last touch
    assert positions.shape == (TOUCH_CLASSES, len(spec.scenario.channels), DECISION_POINTS)
    # the corrected positions are later than the converters' own median (converters decide
    # while their touches are fresh), and later for journeys with one touch than with four or
    # more (a user touched often has a last touch near the end of their shopping)
    assert np.median(positions) > timing.position
    assert np.median(positions[0]) > np.median(positions[-1])
    # the gap model places them (enough converted journeys have their whole lookback)
    assert len(timing.gap_coefficients) == GAP_TERMS + len(spec.scenario.channels)
    assert np.shape(timing.gap_residuals) == (TOUCH_CLASSES, DECISION_POINTS)


@pytest.mark.slow
def test_the_budget_world_fit_recovers_the_scale_of_baseline_decay_and_touch_effects(budget_fit):
    # Before the correction (one median position for every non-converting journey) this world
    # gave decays of 0.9-1.9 per day (true 0.05-0.5) and a baseline twice the truth (40,000
    # users, seed 1). With 20,000 users (~600 conversions) one channel's decay may still be
    # several times its truth (social 0.54 against 0.12 with the gap model); the median
    # placement's were 8-38 times it on most channels.
    spec, _, posterior = budget_fit
    channels = [str(c) for c in posterior["channel"].values]
    beta = posterior["beta"].mean(("chain", "draw")).values
    decay = posterior["decay"].mean(("chain", "draw")).values
    true_beta = np.array([spec.scenario.channels[c].beta for c in channels])
    true_decay = np.array([spec.scenario.channels[c].decay for c in channels])
    assert np.median(decay / true_decay) < 1.5
    assert np.all(decay < 5.0 * true_decay)
    assert beta.sum() == pytest.approx(true_beta.sum(), rel=0.25)
    baseline = float(posterior["baseline"].mean())
    assert 0.6 * spec.scenario.intercept < baseline < 2.0 * spec.scenario.intercept


@pytest.mark.spark
def test_spread_positions_are_the_same_on_duckdb_and_spark(spark_engine):
    # the journey_codes step's per-journey count and position expressions, on both engines
    positions = np.array(
        [k / 10 + 0.01 * np.arange(DECISION_POINTS) for k in range(1, TOUCH_CLASSES + 1)]
    )
    touches = pd.DataFrame(
        {
            "user_id": [f"u{i % 37:03d}" for i in range(150)],
            "journey": np.zeros(150, dtype=np.int64),
        }
    )
    sql = (
        f"SELECT user_id, {position_sql(positions, 4)} AS position FROM ("
        f"SELECT user_id, {touch_count_sql(positions)} AS n_journey_touches FROM touches) AS t "
        "GROUP BY user_id, position ORDER BY user_id"
    )
    frames = _on_both_engines(spark_engine, touches, sql)
    assert len(frames[0]) == 37  # one position per user
    pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False)


def test_the_gap_model_recovers_how_class_span_and_last_channel_move_the_gap():
    from workbench.decisions import GAP_OFFSET_DAYS, fit_gap_model

    # log(gap + offset) = 1.0 + (-0.4, -0.8, -1.2) [2, 3, 4+ touches]
    #                     + (-0.3, -0.5, -0.7) log(span + offset) [2, 3, 4+ touches]
    #                     + 0.3 log(touches / 4) [4+] + 0.6 [last channel 1] + noise;
    # channel 2 ends too few journeys for a level of its own (0); channel 0 is the most common
    # last channel, the reference
    rng = np.random.default_rng(5)
    n = 20_000
    touches = rng.integers(1, 9, n)
    span = np.where(touches > 1, rng.exponential(6.0, n), 0.0)
    last = np.where(rng.random(n) < 0.35, 1, 0)
    last[: MIN_CLASS_JOURNEYS - 1] = 2
    klass = np.minimum(touches, TOUCH_CLASSES)
    mean = (
        1.0
        + np.select([klass == 2, klass == 3, klass == 4], [-0.4, -0.8, -1.2], 0.0)
        + np.select([klass == 2, klass == 3, klass == 4], [-0.3, -0.5, -0.7], 0.0)
        * np.log(span + GAP_OFFSET_DAYS)
        + 0.3 * np.log(np.maximum(touches, TOUCH_CLASSES) / TOUCH_CLASSES)
        + 0.6 * (last == 1)
    )
    noise = rng.normal(0.0, 0.5, n)
    lag = np.exp(mean + noise) - GAP_OFFSET_DAYS
    whole = np.ones(n, dtype=bool)
    coefficients, residuals = fit_gap_model(lag, touches, span, last, whole, 3)
    expected = [1.0, -0.4, -0.8, -1.2, -0.3, -0.5, -0.7, 0.3, 0.0, 0.6, 0.0]
    assert coefficients == pytest.approx(expected, abs=0.05)
    # the residuals of each class are its equally likely noise values
    assert np.array(residuals).shape == (TOUCH_CLASSES, DECISION_POINTS)
    normal = np.quantile(rng.normal(0.0, 0.5, 1_000_000), (np.arange(16) + 0.5) / 16)
    assert np.array(residuals) == pytest.approx(np.tile(normal, (TOUCH_CLASSES, 1)), abs=0.08)
    # journeys whose lookback window is cut by the data end do not enter; too few: no model
    few = whole.copy()
    few[MIN_CLASS_JOURNEYS - 1 :] = False
    assert fit_gap_model(lag, touches, span, last, few, 3) == ((), ())


def test_the_gap_model_places_a_journey_at_its_predicted_gap_capped_at_its_window():
    # intercept log(2 + offset), class 2 -log(2), span slopes 0, channel 1 + log(3), residual 0:
    # data end day 100, lookback 30.
    # a: one touch on channel 0, last touch day 60 -> gap 2 days -> shift 2
    # b: touches at ages 0 (channel 1) and 4 (channel 0), day 50 -> log gap + offset = log(2 +
    #    offset) - log(2) + log(3) -> gap 3 (2 + offset) / 2 - offset
    # c: one touch on channel 1, last touch day 99 -> gap 3 (2 + offset) - offset, capped at
    #    its window of 1 day
    from workbench import journeys as steps
    from workbench.decisions import GAP_OFFSET_DAYS, GAP_TERMS
    from workbench.journeys import DecisionTiming

    touches = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "c"],
            "journey": 0,
            "converted": 0,
            "end_time": [60.0, 50.0, 50.0, 99.0],
            "channel_index": [0, 1, 0, 1],
            "age_days": [0.0, 0.0, 4.0, 0.0],
        }
    )
    coefficients = np.zeros(GAP_TERMS + 2)
    coefficients[0] = np.log(2.0 + GAP_OFFSET_DAYS)
    coefficients[1] = -np.log(2.0)
    coefficients[GAP_TERMS + 1] = np.log(3.0)
    timing = DecisionTiming(
        position=0.25,
        data_end=100.0,
        lag_median_days=1.0,
        converted_journeys=1,
        positions=tuple(map(tuple, np.full((TOUCH_CLASSES, DECISION_POINTS), 0.25))),
        passes=1,
        gap_coefficients=tuple(coefficients.tolist()),
        gap_residuals=tuple(map(tuple, np.zeros((TOUCH_CLASSES, DECISION_POINTS)))),
    )
    engine = DuckDBEngine()
    engine.register("journey_touches", touches)
    steps.stage_journey_codes(engine, 2, 30.0, timing)
    codes = steps.journey_codes(engine).set_index("user_id")
    engine.close()
    b = 3.0 * (2.0 + GAP_OFFSET_DAYS) / 2.0 - GAP_OFFSET_DAYS
    assert codes["shift_days"].to_dict() == pytest.approx({"a": 2.0, "b": b, "c": 1.0}, abs=1e-3)


@pytest.mark.spark
def test_gap_model_positions_are_the_same_on_duckdb_and_spark(spark_engine):
    from workbench.decisions import (
        GAP_TERMS,
        SPAN_SQL,
        TOUCH_COUNT_SQL,
        _last_channel_window,
        gap_position_sql,
    )

    rng = np.random.default_rng(6)
    n = 400
    touches = pd.DataFrame(
        {
            "user_id": [f"u{i % 60:03d}" for i in range(n)],
            "journey": np.zeros(n, dtype=np.int64),
            "channel_index": rng.integers(0, 3, n),
            "age_days": np.round(rng.exponential(5.0, n), 4),
            "window_days": 20.0,
        }
    )
    coefficients = rng.normal(0.0, 0.5, GAP_TERMS + 3)
    residuals = rng.normal(0.0, 0.5, (TOUCH_CLASSES, DECISION_POINTS))
    sql = (
        f"SELECT DISTINCT user_id, {gap_position_sql(coefficients, residuals, 4)} AS position "
        f"FROM (SELECT user_id, window_days, {TOUCH_COUNT_SQL} AS n_journey_touches, "
        f"{SPAN_SQL} AS span_days, {_last_channel_window(3)} AS journey_last_channel "
        "FROM touches) AS t ORDER BY user_id"
    )
    frames = _on_both_engines(spark_engine, touches, sql)
    assert len(frames[0]) == 60  # one position per user
    assert frames[0]["position"].between(0.0, 1.0).all()
    assert frames[0]["position"].nunique() > 30
    pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False, atol=1e-9)


def _on_both_engines(spark_engine, touches: pd.DataFrame, sql: str) -> list[pd.DataFrame]:
    """``sql`` over ``touches`` (registered as ``touches``) on DuckDB, then on Spark."""
    frames = []
    for engine in (DuckDBEngine(), spark_engine):
        engine.register("touches", touches)
        frames.append(engine.query(sql).reset_index(drop=True))
    return frames
