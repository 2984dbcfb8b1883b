"""The attribution SQL steps give the same tables on DuckDB and Spark, from CSV and from a
pandas-written Parquet file with nanosecond timestamps, and the journeys follow the contract
(docs/contracts.md, "Journeys") on hand-checked cases."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from workbench import journeys as J
from workbench.engines import DuckDBEngine

SPARK_TEST_PARTITIONS = 2

# (user_id, timestamp, channel). Comments give each touch's age at its journey end.
TOUCHES = [
    # user 1: journey 0 ends at the conversion 2024-01-10 12:00
    (1, "2024-01-01 12:00:00", "search"),  # age 9 -> bin 2
    (1, "2024-01-05 12:00:00", "display"),  # age 5 -> bin 1
    (1, "2024-01-09 12:00:00", "email"),  # age exactly 1 -> bin 1
    # same instant as the first conversion: not before it, so it opens journey 1
    (1, "2024-01-10 12:00:00", "search"),  # age 14.5 at the 2024-01-25 conversion
    (1, "2024-01-20 00:00:00", "display"),  # age 5
    # after the last conversion: non-converting journey 2 ending at this touch
    (1, "2024-01-26 00:00:00", "email"),  # age 0
    # user 2: one conversion 2024-01-01 00:00
    (2, "2023-12-01 00:00:00", "display"),  # age 31 -> outside the 30-day window
    (2, "2023-12-02 00:00:00", "search"),  # age exactly 30 -> kept, bin 2
    (2, "2023-12-25 00:00:00", "search"),  # age exactly 7 -> bin 2
    (2, "2023-12-31 18:00:00", "email"),  # age 0.25 -> bin 0
    # user 3: never converts; four search touches in one bin are capped at 3
    (3, "2024-01-03 01:00:00", "search"),
    (3, "2024-01-03 02:00:00", "search"),
    (3, "2024-01-03 03:00:00", "search"),
    (3, "2024-01-03 04:00:00", "search"),
    (3, "2024-01-04 00:00:00", "display"),
    # user 5: the only touch before its conversion is 62 days old -> organic conversion
    (5, "2023-11-01 00:00:00", "affiliate"),
    (5, "2024-01-05 00:00:00", "affiliate"),  # non-converting journey after the conversion
    # user 6: two conversions at the same instant; the second one is organic
    (6, "2024-01-07 00:00:00", "search"),
    (7, "2024-01-02 00:00:00", "display"),
    (7, "2024-01-02 00:00:00", "email"),  # tie in time: ordered by channel index
]
CONVERSIONS = [
    (1, "2024-01-10 12:00:00"),
    (1, "2024-01-25 00:00:00"),
    (2, "2024-01-01 00:00:00"),
    (4, "2024-01-03 00:00:00"),  # user 4 has no touches at all: organic
    (5, "2024-01-02 00:00:00"),
    (6, "2024-01-08 00:00:00"),
    (6, "2024-01-08 00:00:00"),
    (7, "2024-01-03 00:00:00"),
]


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    touches = pd.DataFrame(TOUCHES, columns=["user_id", "timestamp", "channel"])
    conversions = pd.DataFrame(CONVERSIONS, columns=["user_id", "timestamp"])
    for frame in (touches, conversions):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"]).astype("datetime64[ns]")
    return touches, conversions


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """The same events as CSV (string ids) and as pandas-written Parquet (int ids, ns times)."""
    folder = tmp_path_factory.mktemp("journeys")
    touches, conversions = _frames()
    paths = {}
    for fmt in ("csv", "parquet"):
        tp, cv = folder / f"touchpoints.{fmt}", folder / f"conversions.{fmt}"
        if fmt == "csv":
            touches.to_csv(tp, index=False)
            conversions.to_csv(cv, index=False)
        else:
            touches.to_parquet(tp, index=False)
            conversions.to_parquet(cv, index=False)
        paths[fmt] = (str(tp), str(cv))
    unit = pq.read_schema(paths["parquet"][0]).field("timestamp").type.unit
    assert unit == "ns", "the Parquet fixture must carry nanosecond timestamps"
    return paths


@pytest.fixture(scope="module")
def spark_engine():
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install '.[spark]')")
    if shutil.which("java") is None:
        pytest.skip("Java is not on PATH; Spark needs Java 17+")
    from workbench.engines import SparkEngine

    engine = SparkEngine()
    # tiny inputs: two shuffle partitions instead of the default eight save most of the time
    before = engine.spark.conf.get("spark.sql.shuffle.partitions")
    engine.spark.conf.set("spark.sql.shuffle.partitions", str(SPARK_TEST_PARTITIONS))
    yield engine
    engine.spark.conf.set("spark.sql.shuffle.partitions", before)


def _stage(engine, touchpoints, conversions) -> None:
    engine.register("touchpoints", touchpoints, timestamps=["timestamp"])
    engine.register("conversions", conversions, timestamps=["timestamp"])


def _all_steps(engine) -> dict[str, pd.DataFrame]:
    """Every SQL step's output, from the staged views."""
    names = J.channels(engine)
    J.stage_journeys(engine, lookback_days=30.0)
    timing = J.decision_timing(engine, 30.0)
    J.stage_journey_codes(engine, len(names), 30.0, timing)
    observed, organic = J.organic(engine)
    return {
        "channels": pd.DataFrame({"channel": names}),
        "decision_timing": pd.DataFrame([vars(timing)]),
        "journey_touches": J.journey_touches(engine),
        "journey_codes": J.journey_codes(engine),
        "patterns": J.patterns(engine, len(names)),
        "heuristics": J.heuristics(engine),
        "markov_transitions": J.markov_transitions(engine, names),
        "weekly_touches": J.weekly_touches(engine),
        "organic": pd.DataFrame({"observed": [observed], "organic": [organic]}),
        "capped_counts": pd.DataFrame(J.capped_counts(engine, len(names))),
    }


def test_a_cell_at_the_cap_stands_for_the_mean_count_of_such_cells(duckdb_tables):
    """User 3's four search touches in one bin are the only cell at the cap: search's count
    at the cap in that bin is 4, every other cell keeps the cap (3)."""
    capped = duckdb_tables["csv"]["capped_counts"].to_numpy()
    names = duckdb_tables["csv"]["channels"]["channel"].tolist()
    assert capped.shape == (len(names), 3)
    search = names.index("search")
    assert sorted(capped[search].tolist()) == [3.0, 3.0, 4.0]
    others = np.delete(capped, search, axis=0)
    assert np.all(others == 3.0)
    codes = duckdb_tables["csv"]["journey_codes"]
    bin_ = int(np.argmax(capped[search]))
    assert codes[f"x_{search}_{bin_}"].tolist().count(2) == 1  # 1 + one touch above the cap


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-independent form: sorted columns and rows, int64 / float64 (9 decimals) / str."""
    out = frame[sorted(frame.columns)].copy()
    for col in out.columns:
        values = out[col]
        if col == "user_id":  # kept as stored (text from CSV, integers from Parquet)
            out[col] = values.astype(str)
        elif pd.api.types.is_bool_dtype(values):
            out[col] = values.astype("int64")
        elif pd.api.types.is_integer_dtype(values):
            out[col] = values.astype("int64")
        elif pd.api.types.is_float_dtype(values):
            out[col] = values.astype("float64").round(9)
        else:
            out[col] = values.astype(str)
    return out.sort_values(list(out.columns), ignore_index=True)


@pytest.fixture(scope="module")
def duckdb_tables(inputs) -> dict[str, dict[str, pd.DataFrame]]:
    tables = {}
    for fmt, (tp, cv) in inputs.items():
        engine = DuckDBEngine()
        _stage(engine, tp, cv)
        tables[fmt] = _all_steps(engine)
        engine.close()
    return tables


@pytest.mark.spark
@pytest.mark.slow
def test_every_attribution_step_gives_identical_tables_on_duckdb_and_spark(
    inputs, duckdb_tables, spark_engine
):
    for fmt, (tp, cv) in inputs.items():
        _stage(spark_engine, tp, cv)
        spark = _all_steps(spark_engine)
        for step, table in duckdb_tables[fmt].items():
            assert len(table) > 0, step
            pd.testing.assert_frame_equal(
                _normalised(table), _normalised(spark[step]), obj=f"{step} from {fmt}"
            )


def test_csv_and_parquet_inputs_give_identical_tables(duckdb_tables):
    for step in duckdb_tables["csv"]:
        pd.testing.assert_frame_equal(
            _normalised(duckdb_tables["csv"][step]),
            _normalised(duckdb_tables["parquet"][step]),
            obj=step,
        )


def _journey(touches: pd.DataFrame, user: str, journey: int) -> pd.DataFrame:
    rows = touches[(touches["user_id"].astype(str) == user) & (touches["journey"] == journey)]
    # time order: oldest first, ties in time by channel index
    rows = rows.sort_values(["age_days", "channel_index"], ascending=[False, True])
    channels = sorted({channel for _, _, channel in TOUCHES})  # indexed in sorted order
    return rows.assign(channel=[channels[i] for i in rows["channel_index"]])


def test_touches_join_the_next_conversion_strictly_after_them(duckdb_tables):
    touches = duckdb_tables["csv"]["journey_touches"]
    first = _journey(touches, "1", 0)
    assert first["channel"].tolist() == ["search", "display", "email"]
    assert first["converted"].tolist() == [1, 1, 1]
    np.testing.assert_allclose(first["age_days"], [9.0, 5.0, 1.0])
    assert first["recency_bin"].tolist() == [2, 1, 1]  # an age of exactly 1 day is in [1, 7)
    # the touch at the instant of the first conversion belongs to the second journey
    second = _journey(touches, "1", 1)
    assert second["channel"].tolist() == ["search", "display"]
    np.testing.assert_allclose(second["age_days"], [14.5, 5.0])
    # after the last conversion: one non-converting journey ending at the last touch
    last = _journey(touches, "1", 2)
    assert last["converted"].tolist() == [0]
    np.testing.assert_allclose(last["age_days"], [0.0])


def test_lookback_keeps_a_touch_exactly_on_the_window_edge_and_drops_older(duckdb_tables):
    journey = _journey(duckdb_tables["csv"]["journey_touches"], "2", 0)
    assert journey["channel"].tolist() == ["search", "search", "email"]  # 31-day display out
    np.testing.assert_allclose(journey["age_days"], [30.0, 7.0, 0.25])
    assert journey["recency_bin"].tolist() == [2, 2, 0]


def test_conversions_without_a_touch_in_the_window_are_counted_as_organic(duckdb_tables):
    organic = duckdb_tables["csv"]["organic"].iloc[0]
    # 8 conversions; organic: user 4 (no touches), user 5 (touch 62 days old),
    # user 6's second conversion at the same instant as the first
    assert organic["observed"] == 8
    assert organic["organic"] == 3
    codes = duckdb_tables["csv"]["journey_codes"]
    assert codes["converted"].sum() == 8 - 3


def test_pattern_codes_cap_counts_and_weight_recency_bins_by_powers_of_four(duckdb_tables):
    channels = duckdb_tables["csv"]["channels"]["channel"].tolist()
    assert channels == ["affiliate", "display", "email", "search"]
    codes = duckdb_tables["csv"]["journey_codes"].set_index(["user_id", "journey"])
    # user 3 never converts: evaluated at the data's decision position (1/19) of its 22-day
    # observable window, 22/19 = 1.16 days after its last touch, so its four search touches
    # (capped at 3) and its display touch are all in bin 1 ([1, 7) days)
    assert codes.loc[("3", 0), ["k_0", "k_1", "k_2", "k_3"]].tolist() == [0, 4, 0, 12]
    # user 2: search twice in bin 2 (2 * 16), email once in bin 0 (1)
    assert codes.loc[("2", 0), ["k_0", "k_1", "k_2", "k_3"]].tolist() == [0, 0, 1, 32]
    assert codes.loc[("2", 0), "first_channel"] == channels.index("search")
    # user 1 journey 0: search bin 2 (16), display bin 1 (4), email bin 1 (4)
    assert codes.loc[("1", 0), ["k_0", "k_1", "k_2", "k_3"]].tolist() == [0, 4, 4, 16]
    # user 7's tied touches are ordered by channel index: display first
    assert codes.loc[("7", 0), "first_channel"] == channels.index("display")


def test_pattern_table_sums_to_the_journeys_and_conversions(duckdb_tables):
    tables = duckdb_tables["csv"]
    patterns, codes = tables["patterns"], tables["journey_codes"]
    assert patterns["n_journeys"].sum() == len(codes)
    assert patterns["n_conversions"].sum() == codes["converted"].sum()
    key = ["k_0", "k_1", "k_2", "k_3", "first_channel", "last_channel", "holdout"]
    assert not patterns.duplicated(key).any()
    # holdout is the md5 rule: md5('6') starts with '1', md5('1') with 'c'
    by_user = codes.drop_duplicates("user_id").set_index("user_id")["holdout"]
    assert by_user["6"] == 1 and by_user["1"] == 0


def test_weekly_touches_count_touches_and_distinct_users_per_monday_week(duckdb_tables):
    weekly = duckdb_tables["csv"]["weekly_touches"]
    monday = (pd.Timestamp("2024-01-01") - pd.Timestamp("1970-01-01")).days  # a Monday
    week = weekly[(weekly["week_start"] == monday) & (weekly["channel"] == "search")]
    # search in the week of 2024-01-01: user 1 (01-01), user 3 (four on 01-03), user 6 (01-07)
    assert week["n_touches"].tolist() == [6]
    assert week["n_users"].tolist() == [3]
    assert weekly["n_touches"].sum() == len(TOUCHES)


def test_each_kept_touch_knows_if_it_opens_or_closes_its_window_and_what_follows(duckdb_tables):
    touches = duckdb_tables["csv"]["journey_touches"]
    display, email, search = 1, 2, 3  # channel indices in sorted order of name
    # user 2: the 31-day-old display touch is outside the window, so the search touch at
    # exactly 30 days opens it
    journey = _journey(touches, "2", 0)
    assert journey["is_first"].tolist() == [1, 0, 0]
    assert journey["is_last"].tolist() == [0, 0, 1]
    assert journey["next_state"].tolist() == [search, email, J.CONVERSION_CODE]
    # user 1's last journey: one touch, no conversion after it
    last = _journey(touches, "1", 2)
    assert last[["is_first", "is_last", "next_state"]].values.tolist() == [[1, 1, J.NULL_CODE]]
    # user 7: two touches at one instant, ordered by channel index
    tied = _journey(touches, "7", 0)
    assert tied["channel"].tolist() == ["display", "email"]
    assert tied["next_state"].tolist() == [email, J.CONVERSION_CODE]
    assert tied["is_first"].tolist() == [1, 0]
    channels = duckdb_tables["csv"]["channels"]["channel"].tolist()
    assert [channels.index(c) for c in ("display", "email", "search")] == [display, email, search]


def test_user_ids_stored_as_numbers_in_one_input_and_text_in_the_other_still_match(
    duckdb_tables,
):
    touches, conversions = _frames()
    engine = DuckDBEngine()
    _stage(engine, touches, conversions.astype({"user_id": str}))  # int64 vs text ids
    assert J.user_key(engine) == "CAST(user_id AS STRING)"
    mixed = _all_steps(engine)
    engine.close()
    for step in ("journey_codes", "patterns", "heuristics", "markov_transitions"):
        pd.testing.assert_frame_equal(
            _normalised(mixed[step]), _normalised(duckdb_tables["csv"][step]), obj=step
        )


def test_decision_position_is_the_median_place_of_conversions_in_their_observable_windows(
    duckdb_tables,
):
    # data end: user 1's last touch, 2024-01-26 00:00. Converted journeys (lag after the last
    # touch / window = min(data end - last touch, 30 days)): user 1 1/16.5 and 5/6, user 2
    # 0.25/25.25, user 6 1/19, user 7 1/24 -> median 1/19
    timing = duckdb_tables["csv"]["decision_timing"].iloc[0]
    assert timing["position"] == pytest.approx(round(1 / 19, J.DECISION_POSITION_DECIMALS))
    assert timing["converted_journeys"] == 5
    data_end = (pd.Timestamp("2024-01-26") - pd.Timestamp("1970-01-01")).days
    assert timing["data_end"] == pytest.approx(data_end)


def test_the_data_end_is_a_conversion_after_every_touch_when_there_is_one():
    # the data end (the latest touch or conversion) is read from the staged tables: a later
    # conversion of a user without touches counts, as the user's own last touch does above
    touches, conversions = _frames()
    late = pd.DataFrame({"user_id": [4], "timestamp": [pd.Timestamp("2024-02-03 06:00")]})
    conversions = pd.concat([conversions, late.astype({"timestamp": "datetime64[ns]"})])
    engine = DuckDBEngine()
    _stage(engine, touches, conversions)
    J.channels(engine)
    J.stage_journeys(engine, lookback_days=30.0)
    timing = J.decision_timing(engine, 30.0)
    engine.close()
    expected = (pd.Timestamp("2024-02-03 06:00") - pd.Timestamp("1970-01-01")) / pd.Timedelta(
        days=1
    )
    assert timing.data_end == expected


def test_non_converting_journeys_are_evaluated_at_their_estimated_decision(inputs):
    # users deciding at the end of what can be observed (position 1): user 3's journey (last
    # touch 2024-01-04, 22 days before the data end) is evaluated 22 days later, so its touches
    # move from the most recent bin to the oldest; a converted journey does not move
    engine = DuckDBEngine()
    _stage(engine, *inputs["csv"])
    names = J.channels(engine)
    J.stage_journeys(engine, lookback_days=30.0)
    data_end = J.decision_timing(engine, 30.0).data_end
    at_end = J.DecisionTiming(
        position=1.0, data_end=data_end, lag_median_days=0.0, converted_journeys=0
    )
    J.stage_journey_codes(engine, len(names), 30.0, at_end)
    codes = J.journey_codes(engine).set_index(["user_id", "journey"])
    engine.close()
    cols = ["k_0", "k_1", "k_2", "k_3"]
    assert codes.loc[("3", 0), cols].tolist() == [0, 1 * 16, 0, 3 * 16]
    assert codes.loc[("3", 0), "first_channel"] == names.index("search")
    assert codes.loc[("3", 0), "last_channel"] == names.index("display")
    assert codes.loc[("2", 0), cols].tolist() == [0, 0, 1, 32]  # converted: unchanged
    # user 1's last journey ends at the data end: no observable window, nothing moves
    assert codes.loc[("1", 2), cols].tolist() == [0, 0, 1, 0]
