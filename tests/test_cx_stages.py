"""The journey-stage funnel on a hand-checked journey set, the channel -> stage map route, bad
stage input, and DuckDB against Spark on the same touches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import beta

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench import api
from workbench.cli import main
from workbench.experience import stages as funnel
from workbench.experience.settings import ALL_CHANNELS, DEFAULT_STAGES

START = pd.Timestamp("2024-03-01")
# (user, day, channel, stage). A user reaches a stage with a touch there or at a later stage and
# enters it at the first such touch:
#   u1 display 0 -> search 2 -> checkout 5 -> repeat 20          furthest: retention
#   u2 display 1                                                 furthest: awareness
#   u3 search 0 -> checkout 1 (skips awareness: entered at 0)    furthest: conversion
#   u4 display 0, display 3 -> email 4                           furthest: consideration
#   u5 search 2 -> checkout 6 -> repeat 10 -> review 12          furthest: advocacy
JOURNEYS = [
    ("u1", 0, "display", "awareness"),
    ("u1", 2, "search", "consideration"),
    ("u1", 5, "checkout", "conversion"),
    ("u1", 20, "repeat", "retention"),
    ("u2", 1, "display", "awareness"),
    ("u3", 0, "search", "consideration"),
    ("u3", 1, "checkout", "conversion"),
    ("u4", 0, "display", "awareness"),
    ("u4", 3, "display", "awareness"),
    ("u4", 4, "email", "consideration"),
    ("u5", 2, "search", "consideration"),
    ("u5", 6, "checkout", "conversion"),
    ("u5", 10, "repeat", "retention"),
    ("u5", 12, "review", "advocacy"),
]
CHANNEL_MAP = {
    "display": "awareness",
    "search": "consideration",
    "email": "consideration",
    "checkout": "conversion",
    "repeat": "retention",
    "review": "advocacy",
}
# By hand, all users: reached, moved on, and days from entering to entering the next stage.
#   awareness      5 -> 4   days u1 2, u3 0, u4 4, u5 0   median 1
#   consideration  4 -> 3   days u1 3, u3 1, u5 4         median 3
#   conversion     3 -> 2   days u1 15, u5 4              median 9.5
#   retention      2 -> 1   days u5 2                     median 2
#   advocacy       1
ALL_REACHED = [5, 4, 3, 2, 1]
ALL_NEXT = [4, 3, 2, 1, 0]
ALL_MEDIAN = [1.0, 3.0, 9.5, 2.0]
# By entry channel (first touch): display u1, u2, u4; search u3, u5.
DISPLAY = {"reached": [3, 2, 1, 1, 0], "next": [2, 1, 1, 0, 0], "median": [3.0, 3.0, 15.0]}
SEARCH = {"reached": [2, 2, 2, 1, 1], "next": [2, 2, 1, 1, 0], "median": [0.0, 2.5, 4.0, 2.0]}


def _touches(with_stage: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(JOURNEYS, columns=["user_id", "day", "channel", "stage"])
    frame["timestamp"] = (START + pd.to_timedelta(frame.pop("day"), unit="D")).astype(str)
    return frame if with_stage else frame.drop(columns="stage")


def _surveys() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["u5"], "timestamp": ["2024-03-13"], "score": [10]})


def _stage_map(tmp_inputs, channels=CHANNEL_MAP, stages=DEFAULT_STAGES):
    import yaml

    text = yaml.safe_dump({"stages": list(stages), "channels": dict(channels)})
    return tmp_inputs("stages.yaml", text)


def test_funnel_counts_conversion_and_median_days_match_the_hand_checked_journeys():
    ds = api.cx(_surveys(), touchpoints=_touches())
    every = ds.sel(funnel_channel=ALL_CHANNELS)
    assert every["stage_users"].values.tolist() == ALL_REACHED
    assert every["stage_users_next"].values.tolist() == ALL_NEXT
    assert every["stage_stalled"].values.tolist() == [1, 1, 1, 1, 0]
    np.testing.assert_allclose(every["stage_conversion"].values[:4], [0.8, 0.75, 2 / 3, 0.5])
    assert np.isnan(every["stage_conversion"].values[4])
    np.testing.assert_allclose(every["stage_median_days"].values[:4], ALL_MEDIAN)
    assert str(every["stall_stage"].values) == "retention"
    for channel, expected in (("display", DISPLAY), ("search", SEARCH)):
        row = ds.sel(funnel_channel=channel)
        assert row["stage_users"].values.tolist() == expected["reached"]
        assert row["stage_users_next"].values.tolist() == expected["next"]
        days = row["stage_median_days"].values[: len(expected["median"])]
        np.testing.assert_allclose(days, expected["median"])
    assert ds["funnel_channel"].values.tolist() == [ALL_CHANNELS, "display", "search"]


def test_conversion_interval_is_the_beta_posterior_of_the_stage_counts():
    ds = api.cx(_surveys(), touchpoints=_touches())
    every = ds.sel(funnel_channel=ALL_CHANNELS)
    k, n = np.array(ALL_NEXT[:4]), np.array(ALL_REACHED[:4])
    lower, upper = (beta.ppf(q, 1 + k, 1 + n - k) for q in INTERVAL_QUANTILES)
    np.testing.assert_allclose(every["stage_conversion_lower"].values[:4], lower)
    np.testing.assert_allclose(every["stage_conversion_upper"].values[:4], upper)


def test_a_channel_to_stage_map_gives_the_same_funnel_as_a_stage_column(tmp_inputs):
    tagged = api.cx(_surveys(), touchpoints=_touches())
    stage_file = _stage_map(tmp_inputs)
    mapped = api.cx(_surveys(), touchpoints=_touches(with_stage=False), stages=stage_file)
    names = [v for v in tagged.data_vars if str(v).startswith("stage")] + ["stall_stage"]
    for name in names:
        np.testing.assert_array_equal(tagged[name].values, mapped[name].values)


def test_stage_names_can_be_configured(tmp_inputs):
    stages = ("seen", "shopping", "bought", "back", "fan")
    renamed = dict(zip(DEFAULT_STAGES, stages, strict=True))
    touches = _touches().assign(stage=lambda t: t["stage"].map(renamed))
    stage_file = _stage_map(tmp_inputs, channels={}, stages=stages)
    ds = api.cx(_surveys(), touchpoints=touches, stages=stage_file)
    assert ds["stage"].values.tolist() == list(stages)
    assert ds["stage_users"].sel(funnel_channel=ALL_CHANNELS).values.tolist() == ALL_REACHED


def test_an_unknown_stage_name_is_one_line_and_exit_2(tmp_inputs, tmp_path):
    touches = _touches()
    touches.loc[5, "stage"] = "purchase"
    path = tmp_inputs("touchpoints", touches)
    surveys = tmp_inputs("surveys", _surveys())
    out = tmp_path / "cx.nc"
    args = ["cx", "--surveys", str(surveys), "--touchpoints", str(path), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert "column 'stage'" in line and "row 6" in line and "unknown stage 'purchase'" in line
    assert not out.exists()


def test_a_stage_map_naming_an_unknown_stage_is_one_line_and_exit_2(tmp_inputs):
    stage_file = _stage_map(tmp_inputs, channels={**CHANNEL_MAP, "review": "fandom"})
    touches = tmp_inputs("touchpoints", _touches(with_stage=False))
    surveys = tmp_inputs("surveys", _surveys())
    args = ["cx", "--surveys", str(surveys), "--touchpoints", str(touches)]
    result = CliRunner().invoke(main, args + ["--stages", str(stage_file)])
    assert result.exit_code == 2
    assert "unknown stage 'fandom' for channel 'review'" in result.output


def test_a_touch_with_no_stage_and_an_unmapped_channel_is_an_error(tmp_inputs):
    stage_file = _stage_map(tmp_inputs, channels={"display": "awareness"})
    touches = tmp_inputs("touchpoints", _touches(with_stage=False))
    surveys = tmp_inputs("surveys", _surveys())
    args = ["cx", "--surveys", str(surveys), "--touchpoints", str(touches)]
    result = CliRunner().invoke(main, args + ["--stages", str(stage_file)])
    assert result.exit_code == 2
    assert "no stage for channel 'search'" in result.output and "rows 2, 3, 4" in result.output


def _funnel_on(engine, touches: pd.DataFrame) -> pd.DataFrame:
    funnel.stage_touches(engine, touches, list(DEFAULT_STAGES), {}, has_stage=True)
    return funnel.funnel_table(engine)


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_identical_stage_tables(duckdb_engine, spark_engine):
    from workbench.simulate import simulate

    simulated = simulate(users=1_500, weeks=4, seed=2).experience.stage_touches
    for touches in (_touches(), simulated):
        on_duckdb = _funnel_on(duckdb_engine, touches)
        on_spark = _funnel_on(spark_engine, touches)
        assert len(on_duckdb) > 0
        pd.testing.assert_frame_equal(on_duckdb, on_spark, check_exact=True)


def test_a_stage_map_without_touchpoints_is_an_error(tmp_inputs):
    surveys = tmp_inputs("surveys", _surveys())
    args = ["cx", "--surveys", str(surveys), "--stages", str(_stage_map(tmp_inputs))]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "--stages needs --touchpoints" in result.output
