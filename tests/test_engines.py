"""DuckDB and Spark stage the same inputs into identical tables: CSV (with UTC offsets, a
byte-order mark, quoted commas), pandas-written Parquet with nanosecond timestamps (which Spark
refuses unless handled) and DataFrames. Timestamps are days since 1970-01-01 UTC on both."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.io import CONTRACTS, stage

KINDS = list(CONTRACTS)


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-neutral form: numbers as float64, text as object with None for nulls, rows
    sorted, so that tables from different engines compare exactly."""
    out = pd.DataFrame(index=range(len(frame)))
    for name in frame.columns:
        col = frame[name].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = pd.Series([None if pd.isna(v) else str(v) for v in col], dtype=object)
    return out.sort_values(list(out.columns), na_position="first").reset_index(drop=True)


def _staged(engine, kind: str, source) -> pd.DataFrame:
    n = stage(engine, kind, source)
    table = engine.query(f"SELECT * FROM {kind}")
    assert len(table) == n
    return _normalised(table)


def _assert_same_on_both(duckdb_engine, spark_engine, kind, source) -> pd.DataFrame:
    on_duckdb = _staged(duckdb_engine, kind, source)
    on_spark = _staged(spark_engine, kind, source)
    pd.testing.assert_frame_equal(on_duckdb, on_spark, check_exact=True)
    return on_duckdb


CSV_WITH_EDGES = {
    "touchpoints": (
        "\ufeffuser_id,timestamp,channel,campaign,cost\n"
        'u1,2024-01-01T10:00:00+02:00,search,"spring, brand",0.5\n'
        "u1,2024-01-01 23:59:59.123456,email,,\n"
        "u2,2024-02-29,direct_mail,catalogue,1e3\n"
        "17,2024-03-31T01:30:00Z,call_centre,,0\n"
    ),
    # Windows line endings
    "conversions": "user_id,timestamp,value\r\nu1,2024-01-02 08:00,120.5\r\nu2,2024-03-01,\r\n",
    "transactions": (
        "customer_id,timestamp,amount\n"
        "c1,2024-01-02 08:00:00-05:00,10\nc1,2024-01-09,0\nc2,2023-12-31T23:00:00,99.99\n"
    ),
    "spend": (
        "channel,period_start,spend,period_end\n"
        "search,2024-01-01,1000,2024-01-07\nemail,2024-01-01,250.5,\n"
    ),
}


def test_duckdb_stages_timestamps_as_exact_utc_days(duckdb_engine, tmp_inputs):
    path = tmp_inputs("tp.csv", CSV_WITH_EDGES["touchpoints"])
    stage(duckdb_engine, "touchpoints", path)
    days = duckdb_engine.query("SELECT timestamp FROM touchpoints")["timestamp"].tolist()
    jan1 = 19723.0  # days from 1970-01-01 to 2024-01-01
    assert days == [
        jan1 + 8 / 24,  # 10:00 at +02:00 is 08:00 UTC
        jan1 + (86_399_123_456 / 86_400_000_000),
        jan1 + 59,  # 2024 is a leap year: Feb 29 is day 59 after Jan 1
        jan1 + 90 + 1.5 / 24,
    ]


@pytest.mark.spark
@pytest.mark.parametrize("kind", KINDS)
def test_a_csv_gives_identical_tables_on_duckdb_and_spark(
    duckdb_engine, spark_engine, tmp_inputs, kind
):
    path = tmp_inputs(f"{kind}.csv", CSV_WITH_EDGES[kind])
    table = _assert_same_on_both(duckdb_engine, spark_engine, kind, path)
    assert list(table.columns) == [c.name for c in CONTRACTS[kind].columns]


@pytest.mark.spark
@pytest.mark.parametrize("kind", KINDS)
def test_pandas_nanosecond_parquet_gives_identical_tables_on_duckdb_and_spark(
    duckdb_engine, spark_engine, tmp_inputs, valid_frames, kind
):
    import pyarrow.parquet as pq

    path = tmp_inputs(kind, valid_frames[kind], "parquet")
    time_col = next(c.name for c in CONTRACTS[kind].columns if c.role == "time")
    assert pq.read_schema(path).field(time_col).type.unit == "ns"
    table = _assert_same_on_both(duckdb_engine, spark_engine, kind, path)
    assert len(table) == len(valid_frames[kind])


@pytest.mark.spark
def test_time_zone_aware_nanosecond_parquet_is_utc_on_both_engines(
    duckdb_engine, spark_engine, tmp_inputs
):
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-07-01 10:00"])
            .as_unit("ns")
            .tz_localize("Europe/Paris"),
            "amount": [1.0, 2.0],
        }
    )
    path = tmp_inputs("tz", frame, "parquet")
    table = _assert_same_on_both(duckdb_engine, spark_engine, "transactions", path)
    # Paris is UTC+1 in January and UTC+2 (summer time) in July.
    expected = [19723 + 9 / 24, 19905 + 8 / 24]
    np.testing.assert_allclose(table["timestamp"], expected, rtol=0, atol=1e-12)


@pytest.mark.spark
@pytest.mark.parametrize("kind", KINDS)
def test_dataframes_give_identical_tables_on_duckdb_and_spark(
    duckdb_engine, spark_engine, valid_frames, kind
):
    _assert_same_on_both(duckdb_engine, spark_engine, kind, valid_frames[kind])


@pytest.mark.spark
def test_a_tab_separated_file_is_read_the_same_by_both_engines(
    duckdb_engine, spark_engine, tmp_inputs
):
    path = tmp_inputs("t.tsv", "customer_id\ttimestamp\tamount\nc1\t2024-01-01\t1,5\n")
    with pytest.raises(Exception, match="not a number"):
        stage(duckdb_engine, "transactions", path)  # "1,5" is text in a tab-separated file
    path = tmp_inputs("u.tsv", "customer_id\ttimestamp\tamount\nc1,x\t2024-01-01\t1.5\n")
    table = _assert_same_on_both(duckdb_engine, spark_engine, "transactions", path)
    assert table["customer_id"].tolist() == ["c1,x"]


@pytest.mark.spark
def test_restaging_a_view_replaces_the_previous_source_on_both_engines(
    duckdb_engine, spark_engine, valid_frames, tmp_inputs
):
    first = valid_frames["transactions"]
    second = first.iloc[:2].assign(customer_id=["z1", "z2"])
    for engine in (duckdb_engine, spark_engine):
        stage(engine, "transactions", first)
        stage(engine, "transactions", tmp_inputs("second", second, "parquet"))
        ids = engine.query("SELECT customer_id FROM transactions")["customer_id"]
        assert sorted(ids) == ["z1", "z2"]


@pytest.mark.parametrize(
    ("conf", "sets_master"),
    [
        ("spark.master   spark://head:7077\nspark.executor.memory 8g\n", True),
        ("# spark.master yarn\nspark.executor.memory 8g\n", False),
        ("spark.executor.memory 8g\n", False),
    ],
)
@pytest.mark.parametrize("where", ["SPARK_CONF_DIR", "SPARK_HOME"])
def test_a_master_in_spark_defaults_conf_is_respected_unless_commented_out(
    monkeypatch, tmp_path, conf, sets_master, where
):
    from workbench.engines import _spark_defaults_set_master

    folder = tmp_path / "conf" if where == "SPARK_HOME" else tmp_path
    folder.mkdir(exist_ok=True)
    (folder / "spark-defaults.conf").write_text(conf)
    monkeypatch.delenv("SPARK_CONF_DIR", raising=False)
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.setenv(where, str(tmp_path))
    assert _spark_defaults_set_master() is sets_master


def test_duckdb_spills_over_its_memory_limit_to_a_private_directory(monkeypatch, tmp_path):
    # a window over 8M rows needs far more than 100 MB: under the limit DuckDB spills (instead of
    # failing) to the engine's own temporary directory, gives the same answer, and removes the
    # directory when the engine closes; WORKBENCH_DUCKDB_MEMORY sets the limit
    import os

    import duckdb

    from workbench.engines import DUCKDB_MEMORY_LIMIT, DuckDBEngine

    query = (
        "SELECT SUM(i * r) AS s FROM (SELECT i, ROW_NUMBER() OVER (ORDER BY hash(i)) AS r "
        "FROM range(8000000) AS t(i))"
    )
    unlimited = DuckDBEngine(memory_limit="4GB")
    expected = int(unlimited.query(query)["s"].iloc[0])
    unlimited.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_DUCKDB_MEMORY", "100MB")
    engine = DuckDBEngine()
    settings = engine.query(
        "SELECT current_setting('memory_limit') AS m, current_setting('temp_directory') AS d"
    ).iloc[0]
    assert settings["m"] in ("100.0 MB", "95.3 MiB"), settings["m"]
    spill = settings["d"]
    assert not spill.startswith(str(tmp_path)) and "workbench-duckdb-" in spill
    assert int(engine.query(query)["s"].iloc[0]) == expected
    assert os.path.isdir(spill)  # it did spill
    engine.close()
    assert not os.path.exists(spill) and list(tmp_path.iterdir()) == []
    monkeypatch.delenv("WORKBENCH_DUCKDB_MEMORY")
    default = DuckDBEngine()
    limit = default.query("SELECT current_setting('memory_limit') AS m")["m"].iloc[0]
    default.close()
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    assert limit == con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.close()
