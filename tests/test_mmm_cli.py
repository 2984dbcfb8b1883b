"""``workbench mmm`` and ``workbench simulate-media`` from the command line: bad input stops
with one line naming file and column, exit code 2, and no result written; the weekly SQL steps
give the same tables on both engines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.sim.media import simulate_media, write_media


@pytest.fixture(scope="module")
def media_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    write_media(simulate_media("confounded", seed=3), folder)
    return folder


def _run(folder: Path, tmp_path: Path, **replace) -> tuple[int, str, Path]:
    files = {n: folder / f"{n}.csv" for n in ("spend", "outcomes", "controls", "experiments")}
    for name, frame in replace.items():
        files[name] = tmp_path / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    out = tmp_path / "mmm.nc"
    args = ["mmm", "--out", str(out), "--draws", "10", "--tune", "10"]
    for name, path in files.items():
        args += [f"--{name}", str(path)]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output, out


def _experiments(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "experiments.csv")


def test_a_negative_standard_error_is_one_line_and_exit_2(media_files, tmp_path):
    bad = _experiments(media_files).assign(standard_error=-5.0)
    code, output, out = _run(media_files, tmp_path, experiments=bad)
    assert code == 2
    assert output.strip().count("\n") == 0
    assert "experiments.csv" in output and "standard_error" in output and "row 1" in output
    assert not out.exists()


def test_a_zero_standard_error_is_refused(media_files, tmp_path):
    bad = _experiments(media_files).assign(standard_error=0.0)
    code, output, _ = _run(media_files, tmp_path, experiments=bad)
    assert code == 2 and "standard error must be > 0" in output


def test_a_lift_test_window_outside_the_data_is_refused(media_files, tmp_path):
    bad = _experiments(media_files).assign(start="2030-01-01", end="2030-02-01")
    code, output, out = _run(media_files, tmp_path, experiments=bad)
    assert code == 2
    assert "outside the data period" in output and "column 'start'" in output
    assert not out.exists()


def test_a_lift_test_on_a_channel_without_spend_is_refused(media_files, tmp_path):
    bad = _experiments(media_files).assign(channel="podcast")
    code, output, _ = _run(media_files, tmp_path, experiments=bad)
    assert code == 2
    assert "'podcast' is not in the spend table" in output and "column 'channel'" in output


def test_a_missing_outcome_week_is_named(media_files, tmp_path):
    outcomes = pd.read_csv(media_files / "outcomes.csv").drop(index=10)
    code, output, _ = _run(media_files, tmp_path, outcomes=outcomes)
    assert code == 2
    assert "no row for the week starting 2023-03-13" in output


def test_negative_spend_is_refused_with_its_row(media_files, tmp_path):
    spend = pd.read_csv(media_files / "spend.csv")
    spend.loc[4, "spend"] = -1.0
    code, output, _ = _run(media_files, tmp_path, spend=spend)
    assert code == 2
    assert "column 'spend'" in output and "row 5" in output


def test_text_in_a_control_column_is_refused(media_files, tmp_path):
    controls = pd.read_csv(media_files / "controls.csv")
    controls["price"] = controls["price"].astype(object)
    controls.loc[2, "price"] = "n/a"
    code, output, _ = _run(media_files, tmp_path, controls=controls)
    assert code == 2
    assert "column 'price'" in output and "row 3" in output


def test_geo_in_spend_but_not_in_outcomes_is_refused(media_files, tmp_path):
    spend = pd.read_csv(media_files / "spend.csv").assign(geo="north")
    code, output, _ = _run(media_files, tmp_path, spend=spend)
    assert code == 2 and "geo" in output


def test_an_unknown_world_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["simulate-media", "--out", str(tmp_path), "--world", "x"])
    assert result.exit_code == 2
    assert "unknown media world 'x'" in result.output


def test_simulate_media_writes_the_tables_and_the_truth(tmp_path):
    result = CliRunner().invoke(
        main, ["simulate-media", "--out", str(tmp_path), "--world", "brand", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["controls.csv", "outcomes.csv", "spend.csv", "truth.json"]
    spend = pd.read_csv(tmp_path / "spend.csv")
    assert spend["channel"].nunique() == 6 and spend["period_start"].nunique() == 130


def _weekly(engine, folder: Path) -> pd.DataFrame:
    from workbench.engines import load_sql
    from workbench.pipelines.mmm import _stage
    from workbench.validation import validate_source
    from workbench.validation_media import MEDIA_SPEND

    _stage(engine, MEDIA_SPEND, str(folder / "spend.csv"), validate_source)
    sql = load_sql("mmm_weekly_spend", week_offset_days=4, geo_select="'national'")
    table = engine.query(sql).sort_values(["channel", "week"]).reset_index(drop=True)
    return table.astype({"week": "int64", "spend": "float64", "geo": str, "channel": str})


def test_daily_spend_is_summed_into_monday_weeks(duckdb_engine, tmp_path):
    days = pd.date_range("2024-01-01", periods=14, freq="D")  # two Monday weeks
    pd.DataFrame({"channel": "tv", "period_start": days, "spend": range(14)}).to_csv(
        tmp_path / "spend.csv", index=False
    )
    weekly = _weekly(duckdb_engine, tmp_path)
    assert weekly["spend"].tolist() == [sum(range(7)), sum(range(7, 14))]


@pytest.mark.spark
def test_weekly_spend_is_the_same_on_duckdb_and_spark(duckdb_engine, spark_engine, media_files):
    pd.testing.assert_frame_equal(
        _weekly(duckdb_engine, media_files), _weekly(spark_engine, media_files)
    )


def test_user_level_conversions_are_counted_per_week_of_spend(tmp_path):
    from workbench.pipelines.mmm import _weekly_tables

    weeks = pd.date_range("2024-01-01", periods=3, freq="7D")  # Mondays
    spend = pd.DataFrame({"channel": "tv", "period_start": weeks, "spend": [1.0, 2.0, 3.0]})
    stamps = ["2024-01-01T09:00", "2024-01-07T23:59", "2024-01-08T00:00", "2024-01-20T12:00"]
    conversions = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "timestamp": stamps})
    weekly, rows = _weekly_tables(spend, None, conversions, None, "duckdb")
    counts = weekly["kpi"].sort_values("week")["conversions"].tolist()
    assert counts == [2.0, 1.0, 1.0]
    assert rows == {"spend": 3, "conversions": 4}
