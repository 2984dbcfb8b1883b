"""Bad input fails with one line naming the file, the column and the offending 1-based data rows,
exit code 2 on the command line, and never replaces an existing output; good input is staged
with timestamps as days since 1970-01-01 UTC."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from workbench.errors import MAX_ROWS_SHOWN, InputError
from workbench.io import CONTRACTS, check_period_order, parse_date, stage, to_epoch_days

FORMATS = ["csv", "parquet"]


def _stage_error(engine, kind, source, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        stage(engine, kind, source, **kw)
    return info.value


def _transactions(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "timestamp": ["2024-03-01 10:00:00"] * n,
            "amount": ["12.5"] * n,
        }
    )


def _texts(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in values]


# --- good input ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CONTRACTS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_tables_are_staged_with_contract_columns_and_types(
    duckdb_engine, tmp_inputs, valid_frames, kind, fmt
):
    frame = valid_frames[kind]
    path = tmp_inputs(kind, frame, fmt)

    assert stage(duckdb_engine, kind, path) == len(frame)

    staged = duckdb_engine.query(f"SELECT * FROM {kind}")
    assert list(staged.columns) == [c.name for c in CONTRACTS[kind].columns]
    for col in CONTRACTS[kind].columns:
        expected = frame[col.name]
        if col.role == "time":
            days = (expected - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            # second-resolution inputs: agreement to 1e-9 days (86 microseconds) is exact enough
            np.testing.assert_allclose(staged[col.name], days, rtol=0, atol=1e-9)
        elif col.role == "number":
            np.testing.assert_array_equal(
                staged[col.name].to_numpy(dtype=float), expected.to_numpy(dtype=float)
            )
        else:
            assert _texts(staged[col.name]) == _texts(expected)


def test_timestamps_with_offsets_are_converted_to_utc_days(duckdb_engine, tmp_inputs):
    path = tmp_inputs(
        "t.csv",
        "customer_id,timestamp,amount\n"
        "a,2024-01-01T10:00:00+02:00,1\n"
        "b,2024-01-01T12:00:00Z,1\n"
        "c,2024-01-01,1\n",
    )
    stage(duckdb_engine, "transactions", path)
    days = duckdb_engine.query("SELECT timestamp FROM transactions")["timestamp"].tolist()
    base = 19723.0  # 2024-01-01 is day 19723 after 1970-01-01
    assert days == [base + 8 / 24, base + 12 / 24, base]


def test_a_byte_order_mark_before_the_header_is_ignored(duckdb_engine, tmp_inputs):
    path = tmp_inputs("bom.csv", b"\xef\xbb\xbfuser_id,timestamp\nu1,2024-01-01\n")
    assert stage(duckdb_engine, "conversions", path) == 1
    assert duckdb_engine.query("SELECT user_id FROM conversions")["user_id"].tolist() == ["u1"]


def test_gzipped_csv_is_read_and_bad_rows_are_still_numbered(duckdb_engine, tmp_path):
    path = tmp_path / "t.csv.gz"
    frame = _transactions(5)
    frame.loc[3, "customer_id"] = ""
    frame.to_csv(path, index=False, compression="gzip")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert (err.column, err.rows) == ("customer_id", [4])
    good = tmp_path / "good.csv.gz"
    _transactions(5).to_csv(good, index=False, compression="gzip")
    assert stage(duckdb_engine, "transactions", good) == 5


def test_extra_columns_are_dropped_and_absent_optional_ones_are_not_invented(
    duckdb_engine, tmp_inputs
):
    path = tmp_inputs("c.csv", "user_id,device,timestamp\nu1,mobile,2024-01-01\n")
    stage(duckdb_engine, "conversions", path)
    assert list(duckdb_engine.query("SELECT * FROM conversions").columns) == [
        "user_id",
        "timestamp",
    ]


def test_integer_ids_in_parquet_become_text(duckdb_engine, tmp_inputs):
    frame = _transactions(3).assign(customer_id=[7, 8, 9], amount=[1.0, 2.0, 3.0])
    stage(duckdb_engine, "transactions", tmp_inputs("t", frame, "parquet"))
    ids = duckdb_engine.query("SELECT customer_id FROM transactions")["customer_id"]
    assert ids.tolist() == ["7", "8", "9"]


def test_integer_ids_stay_integers_when_asked_and_text_ids_stay_text(duckdb_engine, tmp_inputs):
    frame = pd.DataFrame(
        {"user_id": [7, 8, 9], "timestamp": pd.to_datetime(["2024-03-01"] * 3), "channel": "x"}
    )
    stage(duckdb_engine, "touchpoints", tmp_inputs("t", frame, "parquet"), integer_ids=True)
    ids = duckdb_engine.query("SELECT user_id, typeof(user_id) AS t FROM touchpoints")
    assert ids["user_id"].tolist() == [7, 8, 9] and set(ids["t"]) == {"BIGINT"}
    # a CSV's ids are text, and stay text
    stage(duckdb_engine, "touchpoints", tmp_inputs("t", frame, "csv"), integer_ids=True)
    ids = duckdb_engine.query("SELECT user_id, typeof(user_id) AS t FROM touchpoints")
    assert ids["user_id"].tolist() == ["7", "8", "9"] and set(ids["t"]) == {"VARCHAR"}


@pytest.mark.parametrize("column", ["user_id", "timestamp"])
def test_a_null_in_a_typed_parquet_column_is_an_empty_value_with_its_row(
    duckdb_engine, tmp_inputs, column
):
    frame = pd.DataFrame(
        {
            "user_id": pd.array([1, 2, 3, 4], dtype="Int64"),
            "timestamp": pd.to_datetime(["2024-03-01"] * 4),
            "channel": "x",
        }
    )
    frame.loc[2, column] = None
    path = tmp_inputs("t", frame, "parquet")
    err = _stage_error(duckdb_engine, "touchpoints", path)
    assert (err.column, err.rows) == (column, [3])


# --- files -----------------------------------------------------------------------------------


def test_a_missing_file_is_named(duckdb_engine, tmp_path):
    err = _stage_error(duckdb_engine, "transactions", tmp_path / "nope.csv")
    assert str(err) == f"{tmp_path / 'nope.csv'}: file not found"


def test_an_unknown_extension_is_rejected(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.json", '{"customer_id": 1}')
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err).startswith(f"{path}: unknown file extension")
    assert ".csv" in str(err) and ".parquet" in str(err)


def test_a_file_that_is_not_parquet_is_unreadable(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.parquet", "customer_id,timestamp,amount\nc1,2024-01-01,3\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err).startswith(f"{path}: cannot read as PARQUET")
    assert "\n" not in str(err)


def test_rows_with_the_wrong_number_of_fields_are_listed(duckdb_engine, tmp_inputs):
    path = tmp_inputs(
        "t.csv",
        "customer_id,timestamp,amount\nc1,2024-01-01,3\nc2,2024-01-01,3,9\nc3,2024-01-01,3\n",
    )
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err) == f"{path}, row 2: has 4 fields where the header has 3"


def test_a_zero_byte_file_is_empty(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.file == str(path) and "empty" in err.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_table_without_data_rows_is_empty(duckdb_engine, tmp_inputs, fmt):
    path = tmp_inputs("t", _transactions(0), fmt)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.file == str(path) and err.column is None
    assert err.message.startswith("the table is empty")


def test_a_header_that_is_not_utf8_is_reported(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "customer_id,timestamp,montant_\xe9\n".encode("latin-1"))
    err = _stage_error(duckdb_engine, "transactions", path)
    assert "not UTF-8" in err.message


# --- columns ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_misspelt_column_gets_the_closest_expected_name(duckdb_engine, tmp_inputs, fmt):
    frame = _transactions(2).rename(columns={"timestamp": "timestmp"})
    path = tmp_inputs("t", frame, fmt)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err) == (
        f"{path}, column 'timestamp': required column is missing; "
        "found 'timestmp'; did you mean 'timestamp'?"
    )


def test_a_column_differing_only_in_case_is_suggested(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "Customer_ID,timestamp,amount\nc1,2024-01-01,1\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.column == "customer_id"
    assert "found 'Customer_ID'; did you mean 'customer_id'?" in err.message


def test_a_missing_column_without_a_close_match_lists_what_was_found(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "customer_id,timestamp,price_paid\nc1,2024-01-01,1\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.column == "amount"
    assert "expected customer_id, timestamp, amount" in err.message
    assert "'price_paid'" in err.message


def test_a_semicolon_separated_file_is_explained(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "customer_id;timestamp;amount\nc1;2024-01-01;1\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert "';'-separated" in err.message


def test_a_duplicated_column_in_the_header_is_rejected(duckdb_engine, tmp_inputs):
    path = tmp_inputs("t.csv", "customer_id,timestamp,amount,amount\nc1,2024-01-01,1,2\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err) == f"{path}, column 'amount': appears 2 times in the header"


def test_a_repeated_header_row_from_concatenated_files_is_found(duckdb_engine, tmp_inputs):
    body = "customer_id,timestamp,amount\nc1,2024-01-01,1\n"
    path = tmp_inputs("t.csv", body + body + "c2,2024-01-02,1\n")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.rows == [2]
    assert "repeats the header" in err.message


def test_epoch_numbers_as_timestamps_are_refused_in_parquet(duckdb_engine, tmp_inputs):
    frame = _transactions(2).assign(timestamp=[1_700_000_000, 1_700_000_100], amount=1.0)
    err = _stage_error(duckdb_engine, "transactions", tmp_inputs("t", frame, "parquet"))
    assert err.column == "timestamp" and "BIGINT" in err.message


# --- rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_unparsable_timestamps_name_the_rows_and_the_first_bad_value(
    duckdb_engine, tmp_inputs, fmt
):
    frame = _transactions(10)
    frame.loc[[2, 6], "timestamp"] = ["03/01/2024", "yesterday"]
    path = tmp_inputs("t", frame, fmt)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert (err.file, err.column, err.rows) == (str(path), "timestamp", [3, 7])
    assert str(err).startswith(f"{path}, column 'timestamp', rows 3, 7: cannot read '03/01/2024'")
    assert "ISO 8601" in err.message


def test_mixed_date_formats_flag_only_the_non_iso_rows(duckdb_engine, tmp_inputs):
    path = tmp_inputs(
        "t.csv",
        "customer_id,timestamp,amount\n"
        "c1,2024-01-05,1\nc2,05.01.2024,1\nc3,2024-01-06 10:00,1\nc4,Jan 6 2024,1\n",
    )
    assert _stage_error(duckdb_engine, "transactions", path).rows == [2, 4]


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_ids_are_reported_with_their_rows(duckdb_engine, tmp_inputs, fmt):
    frame = _transactions(6).astype({"customer_id": object})
    frame.loc[1, "customer_id"] = None
    frame.loc[4, "customer_id"] = "" if fmt == "csv" else "   "
    path = tmp_inputs("t", frame, fmt)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert str(err) == (
        f"{path}, column 'customer_id', rows 2, 5: empty customer_id; every row needs one"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_negative_amounts_are_rejected(duckdb_engine, tmp_inputs, fmt):
    frame = _transactions(4).assign(amount=[1.0, -2.5, 3.0, 4.0])
    path = tmp_inputs("t", frame, fmt)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert (err.column, err.rows) == ("amount", [2])
    assert err.message == "negative amount -2.5; amount must be 0 or more"


def test_non_numeric_and_non_finite_amounts_are_rejected(duckdb_engine, tmp_inputs):
    frame = _transactions(5)
    frame.loc[[1, 3, 4], "amount"] = ["12,50", "inf", "€3"]
    path = tmp_inputs("t", frame, "csv")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert (err.column, err.rows) == ("amount", [2, 4, 5])
    assert err.message == "'12,50' is not a number; amount must be a finite number"


def test_a_missing_required_amount_is_empty_but_optional_numbers_may_be_blank(
    duckdb_engine, tmp_inputs
):
    blank_value = tmp_inputs("c.csv", "user_id,timestamp,value\nu1,2024-01-01,\n")
    assert stage(duckdb_engine, "conversions", blank_value) == 1
    blank_amount = tmp_inputs("t.csv", "customer_id,timestamp,amount\nc1,2024-01-01,\n")
    err = _stage_error(duckdb_engine, "transactions", blank_amount)
    assert (err.column, err.rows) == ("amount", [1])


def test_negative_optional_cost_is_rejected_in_touchpoints(duckdb_engine, tmp_inputs):
    path = tmp_inputs(
        "tp.csv", "user_id,timestamp,channel,cost\nu1,2024-01-01,search,1\nu2,2024-01-01,tv,-1\n"
    )
    err = _stage_error(duckdb_engine, "touchpoints", path)
    assert (err.column, err.rows) == ("cost", [2])


def test_an_empty_channel_is_rejected(duckdb_engine, tmp_inputs):
    path = tmp_inputs("tp.csv", "user_id,timestamp,channel\nu1,2024-01-01,search\nu2,2024-01-01,\n")
    err = _stage_error(duckdb_engine, "touchpoints", path)
    assert (err.column, err.rows) == ("channel", [2])


def test_a_spend_period_that_ends_before_it_starts_is_rejected(duckdb_engine, tmp_inputs):
    path = tmp_inputs(
        "s.csv",
        "channel,period_start,spend,period_end\n"
        "search,2024-01-01,100,2024-01-07\nemail,2024-01-08,50,2024-01-01\n",
    )
    err = _stage_error(duckdb_engine, "spend", path)
    assert (err.column, err.rows) == ("period_end", [2])
    assert "before period_start" in err.message


def test_more_bad_rows_than_shown_are_counted(duckdb_engine, tmp_inputs):
    frame = _transactions(20)
    bad = [3, 5, 8, 9, 11, 14, 17]  # 1-based
    frame.loc[[r - 1 for r in bad], "amount"] = "-1"
    path = tmp_inputs("t", frame, "csv")
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.rows == bad[:MAX_ROWS_SHOWN] and err.n_rows == len(bad)
    assert f"rows 3, 5, 8, 9, 11 and {len(bad) - MAX_ROWS_SHOWN} more" in str(err)


def test_row_numbers_count_records_not_lines_when_a_field_holds_a_newline(
    duckdb_engine, tmp_inputs
):
    path = tmp_inputs(
        "tp.csv",
        'user_id,timestamp,channel,campaign\nu1,2024-01-01,search,"two\nlines"\n'
        "u2,2024-01-01,search,x\nu3,someday,search,x\n",
    )
    assert _stage_error(duckdb_engine, "touchpoints", path).rows == [3]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_row_numbers_are_exact_deep_in_a_large_file(duckdb_engine, tmp_path, fmt):
    n = 300_000
    frame = _transactions(n)
    bad = [1, 131_073, 299_999]  # first row, past DuckDB's first vectors and row groups, near end
    frame.loc[[r - 1 for r in bad], "amount"] = "-3"
    path = tmp_path / f"t.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=50_000)
    err = _stage_error(duckdb_engine, "transactions", path)
    assert err.rows == bad


def test_dataframe_rows_are_numbered_from_one_and_labelled(duckdb_engine):
    frame = _transactions(4).assign(amount=[1.0, 2.0, np.inf, 4.0])
    err = _stage_error(duckdb_engine, "transactions", frame)
    assert str(err).startswith("<transactions DataFrame>, column 'amount', row 3:")
    err = _stage_error(duckdb_engine, "transactions", frame, label="orders")
    assert err.file == "orders"


def test_a_dataframe_with_duplicated_columns_is_rejected(duckdb_engine):
    frame = pd.DataFrame([["c1", "2024-01-01", 1.0, 2.0]])
    frame.columns = ["customer_id", "timestamp", "amount", "amount"]
    err = _stage_error(duckdb_engine, "transactions", frame)
    assert err.column == "amount" and "appears 2 times" in err.message


# --- dates on the command line ---------------------------------------------------------------


def test_dates_on_the_command_line_parse_to_utc_naive_timestamps():
    assert parse_date("2024-03-31", option="--calibration-end") == pd.Timestamp("2024-03-31")
    assert parse_date("2024-03-31T02:00+02:00", option="--x") == pd.Timestamp("2024-03-31")
    assert parse_date(None, option="--x") is None
    assert to_epoch_days(pd.Timestamp("1970-01-03 12:00")) == 2.5


def test_an_unreadable_date_option_is_named():
    with pytest.raises(InputError) as info:
        parse_date("31/03/2024x", option="--holdout-end")
    assert str(info.value).startswith("--holdout-end: cannot read '31/03/2024x' as a date")


@pytest.mark.parametrize("holdout_end", ["2024-01-01", "2024-06-30"])
def test_a_holdout_that_ends_before_or_at_calibration_end_is_rejected(holdout_end):
    with pytest.raises(InputError) as info:
        check_period_order("2024-06-30", holdout_end)
    assert "--holdout-end" in str(info.value) and "--calibration-end" in str(info.value)


def test_ordered_or_open_periods_pass():
    check_period_order("2024-06-30", "2024-12-31")
    check_period_order(None, "2024-12-31")
    check_period_order("2024-06-30", None)


# --- the command line ------------------------------------------------------------------------


def test_the_cli_runner_prints_input_errors_as_one_line_and_exits_2(capsys, tmp_inputs):
    """``workbench.cli._call`` for any command: a real validation failure, one line, exit 2."""
    from workbench import cli

    bad = tmp_inputs("t.csv", "customer_id,timestamp,amount\nc1,2024-01-01,-4\n")
    with pytest.raises(SystemExit) as exit_info:
        cli._call("clv", transactions=str(bad))

    assert exit_info.value.code == cli.EXIT_BAD_INPUT == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        err
        == f"error: {bad}, column 'amount', row 1: negative amount -4; amount must be 0 or more\n"
    )


def _workbench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def _assert_one_line_exit_2(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0]


def test_the_demo_refuses_a_bad_size_and_leaves_the_workdir_untouched(tmp_path):
    existing = tmp_path / "results" / "clv.nc"
    existing.parent.mkdir()
    existing.write_bytes(b"previous results")
    result = _workbench("demo", "--workdir", str(tmp_path), "--users", "0", "--no-notebooks")
    _assert_one_line_exit_2(result, "--users")
    assert existing.read_bytes() == b"previous results"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["clv.nc", "results"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_clv_with_a_negative_amount_exits_2_and_keeps_the_previous_output(tmp_path, fmt):
    frame = _transactions(6).assign(amount=[1.0, 2.0, 3.0, -4.0, 5.0, 6.0])
    path = tmp_path / f"orders.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    out = tmp_path / "clv.nc"
    out.write_bytes(b"previous results")
    result = _workbench("clv", "--transactions", str(path), "--out", str(out))
    _assert_one_line_exit_2(result, str(path), "column 'amount'", "row 4")
    assert out.read_bytes() == b"previous results"


def test_clv_with_a_missing_file_exits_2(tmp_path):
    result = _workbench("clv", "--transactions", str(tmp_path / "nope.csv"))
    _assert_one_line_exit_2(result, "nope.csv", "not found")


def test_clv_with_holdout_before_calibration_exits_2(tmp_path):
    path = tmp_path / "t.csv"
    _transactions(4).to_csv(path, index=False)
    result = _workbench(
        "clv",
        "--transactions",
        str(path),
        "--calibration-end",
        "2024-06-30",
        "--holdout-end",
        "2024-01-31",
        "--out",
        str(tmp_path / "clv.nc"),
    )
    _assert_one_line_exit_2(result, "--holdout-end")
    assert not (tmp_path / "clv.nc").exists()


def test_attribute_with_a_misspelt_column_exits_2_and_keeps_the_previous_output(tmp_path):
    tp = tmp_path / "tp.csv"
    tp.write_text("user_id,timestmp,channel\nu1,2024-01-01,search\n")
    cv = tmp_path / "cv.csv"
    cv.write_text("user_id,timestamp\nu1,2024-01-02\n")
    out = tmp_path / "attribution.nc"
    out.write_bytes(b"previous results")
    result = _workbench(
        "attribute", "--touchpoints", str(tp), "--conversions", str(cv), "--out", str(out)
    )
    _assert_one_line_exit_2(result, str(tp), "column 'timestamp'", "did you mean 'timestamp'?")
    assert out.read_bytes() == b"previous results"


def test_an_input_error_is_always_one_line():
    err = InputError("cannot read as CSV:\n  line 3\n", file="a.csv", column="x", rows=[3])
    assert str(err) == "a.csv, column 'x', row 3: cannot read as CSV: line 3"
