"""Input contracts, validation and staging.

Every input table (touchpoints, conversions, transactions, spend) has a contract: required and
optional columns, each an identifier, a label, a timestamp or a non-negative number. ``stage``
checks a CSV/Parquet file or a DataFrame against its contract with SQL in an embedded DuckDB (one
scan, so 15M rows never pass through pandas), then registers it on the chosen engine as a typed
view: timestamps as DOUBLE days since 1970-01-01 UTC, numbers as DOUBLE, identifiers and labels
as strings. Bad input raises :class:`~workbench.errors.InputError` naming the file, the column and
the first offending 1-based data rows (the header is not counted).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.engines import csv_delimiter, file_format
from workbench.errors import MAX_ROWS_SHOWN, InputError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from workbench.engines import Engine

ColumnRole = Literal["id", "label", "time", "number"]

#: Timestamps are accepted as ISO 8601 text (optionally with a UTC offset or zone name) or as
#: Parquet/DataFrame date and timestamp types; this is the example shown when parsing fails.
TIMESTAMP_HINT = "expected ISO 8601 such as 2024-01-31 or 2024-01-31T13:45:00 (+01:00 optional)"

#: Closest-name suggestions must be at least this similar (difflib ratio, 0..1).
SUGGESTION_CUTOFF = 0.6

#: DuckDB types accepted for each role besides text (VARCHAR), by prefix.
_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
_TIME_TYPES = ("TIMESTAMP", "DATE")


@dataclass(frozen=True)
class Column:
    """One contract column. ``role`` decides the check and the staged type:
    ``id`` and ``label`` (non-empty text), ``time`` (timestamp -> days since epoch),
    ``number`` (finite, >= 0, DOUBLE)."""

    name: str
    role: ColumnRole
    required: bool = True


@dataclass(frozen=True)
class Contract:
    """The columns one input table must (and may) have."""

    kind: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


CONTRACTS: dict[str, Contract] = {
    c.kind: c
    for c in (
        Contract(
            "touchpoints",
            (
                Column("user_id", "id"),
                Column("timestamp", "time"),
                Column("channel", "label"),
                Column("campaign", "label", required=False),
                Column("cost", "number", required=False),
            ),
        ),
        Contract(
            "conversions",
            (
                Column("user_id", "id"),
                Column("timestamp", "time"),
                Column("value", "number", required=False),
            ),
        ),
        Contract(
            "transactions",
            (
                Column("customer_id", "id"),
                Column("timestamp", "time"),
                Column("amount", "number"),
            ),
        ),
        Contract(
            "spend",
            (
                Column("channel", "label"),
                Column("period_start", "time"),
                Column("spend", "number"),
                Column("period_end", "time", required=False),
            ),
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# Public API


def stage(engine: Engine, kind: str, source: Any, *, label: str | None = None) -> int:
    """Validate ``source`` against the contract ``kind`` and register it on ``engine`` as the
    view ``kind``.

    ``source`` is a CSV/Parquet path (format by extension) or a pandas DataFrame; ``label`` names
    it in error messages (default: the path, or ``<kind DataFrame>``). The view has the contract
    columns present in the source (other columns are dropped): timestamps as DOUBLE days since
    1970-01-01 UTC (offsets converted), numbers as DOUBLE, ids and labels as strings.
    Returns the number of data rows. Raises :class:`InputError` on bad input.
    """
    contract = _contract(kind)
    if _is_url(source):
        # Remote data (s3a://, hdfs://) is read by the engine only; DuckDB cannot see it, so only
        # the columns are checked here and row-level problems surface in the engine.
        return _stage_remote(engine, contract, str(source), label)
    n_rows, types = _validate(contract, source, label)
    _register_typed(engine, contract, source, types)
    return n_rows


def validate(kind: str, source: Any, *, label: str | None = None) -> tuple[int, list[str]]:
    """Check ``source`` (path or DataFrame) against the contract ``kind`` without staging it.

    Returns ``(data rows, contract columns present)``; raises :class:`InputError` naming file,
    column and the first offending 1-based data rows on the first problem found."""

    n_rows, types = _validate(_contract(kind), source, label)
    return n_rows, list(types)


def _validate(contract: Contract, source: Any, label: str | None) -> tuple[int, dict[str, str]]:
    """Rows and the DuckDB type of each contract column present, in contract order."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        return _Validator(con, contract, source, label).run()
    finally:
        con.close()


def parse_date(text: str | None, *, option: str) -> pd.Timestamp | None:
    """A date or date-time given on the command line (``YYYY-MM-DD`` or ISO 8601) as a
    UTC-naive ``pandas.Timestamp``; ``None`` stays ``None``. ``option`` (``--holdout-end``)
    names it in the error."""
    import pandas as pd

    if text is None or isinstance(text, pd.Timestamp):
        return text
    try:
        ts = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        ts = None
    if ts is None or ts is pd.NaT:
        raise InputError(f"{option}: cannot read '{text}' as a date; expected YYYY-MM-DD")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def to_epoch_days(ts: pd.Timestamp) -> float:
    """A UTC-naive timestamp as days since 1970-01-01, the unit of staged timestamp columns."""
    import pandas as pd

    return (ts - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)


def check_period_order(calibration_end: Any, holdout_end: Any) -> None:
    """Raise :class:`InputError` unless the holdout ends after the calibration period.

    Either may be ``None`` (not given) or a date string/Timestamp."""
    cal = parse_date(calibration_end, option="--calibration-end")
    hold = parse_date(holdout_end, option="--holdout-end")
    if cal is not None and hold is not None and hold <= cal:
        raise InputError(
            f"--holdout-end {hold.date()} is not after --calibration-end {cal.date()}; "
            "the holdout period must follow the calibration period"
        )


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class _Check:
    """A row-level check: a DuckDB predicate true for bad rows and the message it produces from
    the first offending value."""

    column: str | None
    predicate: str
    message: Callable[[str | None], str]


class _Validator:
    """Runs the contract checks for one source on a private DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, contract: Contract, source, label):
        self.con = con
        self.contract = contract
        self.source = source
        self.is_frame = not isinstance(source, str | os.PathLike)
        self.is_csv = False
        if self.is_frame:
            self.label = label or f"<{contract.kind} DataFrame>"
        else:
            self.label = label or str(source)

    def fail(self, message: str, *, column: str | None = None, rows=None, n_rows=None):
        raise InputError(message, file=self.label, column=column, rows=rows, n_rows=n_rows)

    def run(self) -> tuple[int, dict[str, str]]:
        header = self._open()
        types = self._types()
        columns = header if header is not None else list(types)
        self._check_columns(columns)
        present = [c.name for c in self.contract.columns if c.name in types]
        try:
            self._check_types(types, present)
        except InputError:
            # An empty Parquet file or DataFrame has arbitrary column types; say it is empty.
            if self.con.execute("SELECT count(*) FROM raw").fetchone()[0] == 0:
                self.fail("the table is empty (no rows); expected at least one data row")
            raise
        checks = self._row_checks(types, present)
        counts = self._count(checks)
        n_rows = counts[0]
        if n_rows == 0:
            what = "only a header" if header is not None else "no rows"
            self.fail(f"the table is empty ({what}); expected at least one data row")
        for check, n_bad in zip(checks, counts[1:], strict=True):
            if n_bad:
                rows, first_value = self._locate(check)
                self.fail(check.message(first_value), column=check.column, rows=rows, n_rows=n_bad)
        return n_rows, {name: types[name] for name in present}

    # -- reading -------------------------------------------------------------------------------

    def _open(self) -> list[str] | None:
        """Create the view ``raw`` over the source; return the CSV header (None otherwise)."""
        if self.is_frame:
            self._check_frame_columns()
            try:
                self.con.register("raw", self.source)
            except Exception as err:
                self.fail(f"cannot read the DataFrame: {_first_line(err)}")
            return None
        path = Path(self.source)
        if not path.exists():
            self.fail("file not found")
        if path.is_dir():
            self.fail("is a folder; expected a .csv or .parquet file")
        fmt = file_format(path)
        if path.stat().st_size == 0:
            self.fail("the file is empty (0 bytes); expected a header and data rows")
        self.is_csv = fmt == "csv"
        if self.is_csv:
            header = self._csv_header(path)
            read = _duckdb_read_csv(path)
        else:
            header = None
            read = f"read_parquet({_literal(path)}, file_row_number = true)"
        try:
            self.con.execute(f"CREATE VIEW raw_read AS SELECT * FROM {read}")
            self.con.execute("SELECT * FROM raw_read LIMIT 0")
        except Exception as err:
            if fmt == "csv":
                self._explain_csv_failure(path, header, err)
            self.fail(f"cannot read as {fmt.upper()}: {_first_line(err)}")
        if fmt == "parquet":
            self.con.execute(
                "CREATE VIEW raw AS SELECT * EXCLUDE (file_row_number), "
                "file_row_number + 1 AS __row FROM raw_read"
            )
        else:
            self.con.execute("CREATE VIEW raw AS SELECT * FROM raw_read")
        return header

    def _csv_header(self, path: Path) -> list[str]:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        try:
            # utf-8-sig drops a byte-order mark, which spreadsheet exports often add.
            with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
                header = next(csv.reader(fh, delimiter=csv_delimiter(path)), None)
        except UnicodeDecodeError as err:
            self.fail(f"not UTF-8 text (byte {err.start} of the header); save it as UTF-8")
        except (OSError, EOFError) as err:
            self.fail(f"cannot read as CSV: {_first_line(err)}")
        if not header or all(not h.strip() for h in header):
            self.fail("the first line is empty; expected a header such as " + self._expected())
        seen: dict[str, int] = {}
        for name in header:
            seen[name] = seen.get(name, 0) + 1
        dups = [n for n, k in seen.items() if k > 1]
        if dups:
            self.fail(f"appears {seen[dups[0]]} times in the header", column=dups[0])
        return header

    def _explain_csv_failure(self, path: Path, header: list[str], err: Exception) -> None:
        """DuckDB's sniffer errors are long; find the rows with a wrong field count instead."""
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        bad: list[int] = []
        n_bad = 0
        counts: dict[int, int] = {}
        try:
            with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, delimiter=csv_delimiter(path))
                next(reader, None)
                for i, fields in enumerate(reader, start=1):
                    if fields and len(fields) != len(header):
                        n_bad += 1
                        counts[len(fields)] = counts.get(len(fields), 0) + 1
                        if len(bad) < MAX_ROWS_SHOWN:
                            bad.append(i)
        except (UnicodeDecodeError, csv.Error, OSError):
            return
        if n_bad:
            found = min(counts, key=lambda k: -counts[k])
            self.fail(
                f"has {found} fields where the header has {len(header)}",
                rows=bad,
                n_rows=n_bad,
            )

    def _check_frame_columns(self) -> None:
        cols = [str(c) for c in self.source.columns]
        dups = sorted({c for c in cols if cols.count(c) > 1})
        if dups:
            self.fail(f"appears {cols.count(dups[0])} times in the DataFrame", column=dups[0])

    def _types(self) -> dict[str, str]:
        rows = self.con.execute("DESCRIBE SELECT * FROM raw").fetchall()
        return {name: str(dtype) for name, dtype, *_ in rows if name != "__row"}

    # -- columns and types ---------------------------------------------------------------------

    def _expected(self) -> str:
        return ", ".join(self.contract.required)

    def _check_columns(self, columns: Sequence[str]) -> None:
        names = [c.name for c in self.contract.columns]
        unmatched = [c for c in columns if c not in names]
        for name in self.contract.required:
            if name in columns:
                continue
            if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
                sep = next(s for s in ";\t|" if s in columns[0])
                self.fail(
                    f"required column is missing; the header {columns[0]!r} looks "
                    f"{sep!r}-separated: write comma-separated CSV (or tab-separated .tsv)",
                    column=name,
                )
            guess = _closest(name, unmatched)
            if guess is not None:
                self.fail(
                    f"required column is missing; found {guess!r}; did you mean {name!r}?",
                    column=name,
                )
            found = ", ".join(repr(c) for c in columns) or "none"
            self.fail(
                f"required column is missing; expected {self._expected()}, found {found}",
                column=name,
            )

    def _check_types(self, types: dict[str, str], present: list[str]) -> None:
        for name in present:
            role = self.contract.column(name).role
            dtype = types[name]
            if dtype == "VARCHAR":
                continue
            if role == "time" and not dtype.startswith(_TIME_TYPES):
                self.fail(
                    f"has type {dtype}; expected dates/timestamps or ISO 8601 text "
                    "(numbers such as epoch seconds are ambiguous)",
                    column=name,
                )
            if role == "number" and not dtype.startswith(_NUMERIC_TYPES):
                self.fail(f"has type {dtype}; expected numbers", column=name)

    # -- rows ----------------------------------------------------------------------------------

    def _row_checks(self, types: dict[str, str], present: list[str]) -> list[_Check]:
        checks: list[_Check] = []
        required = self.contract.required
        if self.is_csv:
            # `cat a.csv b.csv > all.csv` leaves b's header as a data row.
            repeat = " AND ".join(f"{_ident(c)} = {_literal(c)}" for c in required)
            checks.append(
                _Check(
                    None,
                    repeat,
                    lambda _v: "repeats the header; were files concatenated with their headers?",
                )
            )
        for name in present:
            col = self.contract.column(name)
            c = _ident(name)
            text = f"trim(CAST({c} AS VARCHAR))"
            empty = f"({c} IS NULL OR {text} = '')"
            if col.required:
                checks.append(
                    _Check(name, empty, lambda _v, n=name: f"empty {n}; every row needs one")
                )
            if col.role == "time":
                if types[name] == "VARCHAR":
                    checks.append(
                        _Check(
                            name,
                            f"NOT {empty} AND TRY_CAST({c} AS TIMESTAMPTZ) IS NULL",
                            lambda v: f"cannot read {v!r} as a timestamp; {TIMESTAMP_HINT}",
                        )
                    )
            elif col.role == "number":
                number = f"TRY_CAST({c} AS DOUBLE)"
                checks.append(
                    _Check(
                        name,
                        f"NOT {empty} AND ({number} IS NULL OR NOT isfinite({number}))",
                        lambda v, n=name: f"{v!r} is not a number; {n} must be a finite number",
                    )
                )
                checks.append(
                    _Check(
                        name,
                        f"{number} < 0",
                        lambda v, n=name: f"negative {n} {v}; {n} must be 0 or more",
                    )
                )
        if {"period_start", "period_end"} <= set(present):
            start = _as_time("period_start", types["period_start"])
            end = _as_time("period_end", types["period_end"])
            checks.append(
                _Check(
                    "period_end",
                    f"{end} < {start}",
                    lambda v: f"period_end {v} is before period_start",
                )
            )
        return checks

    def _count(self, checks: list[_Check]) -> list[int]:
        counts = ", ".join(
            ["count(*)"] + [f"count(*) FILTER (WHERE {k.predicate})" for k in checks]
        )
        try:
            return list(self.con.execute(f"SELECT {counts} FROM raw").fetchone())
        except Exception as err:
            kind = "the DataFrame" if self.is_frame else "the file"
            self.fail(f"cannot read {kind}: {_first_line(err)}")

    def _locate(self, check: _Check) -> tuple[list[int], str | None]:
        """The first offending 1-based data rows and the first offending value (error path)."""
        if self.is_frame or "__row" not in self._raw_columns():
            # One thread keeps the scan in file order, so row_number() is the data row.
            self.con.execute("SET threads = 1")
            numbered = "(SELECT *, row_number() OVER () AS __row FROM raw)"
        else:
            numbered = "raw"
        value = _ident(check.column) if check.column else "NULL"
        found = self.con.execute(
            f"SELECT __row, CAST({value} AS VARCHAR) FROM {numbered} "
            f"WHERE {check.predicate} ORDER BY __row LIMIT {MAX_ROWS_SHOWN}"
        ).fetchall()
        return [int(r) for r, _ in found], (found[0][1] if found else None)

    def _raw_columns(self) -> list[str]:
        return [r[0] for r in self.con.execute("DESCRIBE SELECT * FROM raw").fetchall()]


# ---------------------------------------------------------------------------------------------
# Staging on an engine


def _register_typed(
    engine: Engine, contract: Contract, source: Any, types: dict[str, str | None]
) -> None:
    """Register ``source`` as ``<kind>__input`` and the typed view ``<kind>`` over it.

    ``types`` maps each contract column present to its DuckDB type (``VARCHAR`` for CSV; None
    when unknown). The SQL is the same on DuckDB and Spark."""
    present = list(types)
    times = [n for n in present if contract.column(n).role == "time"]
    inner = f"{contract.kind}__input"
    engine.register(inner, source, timestamps=times)
    exprs = []
    for name in present:
        role = contract.column(name).role
        if role == "time":
            exprs.append(name)
        elif role == "number" and types[name] in ("VARCHAR", None):
            # Empty text in an optional number is NULL (a DataFrame may hold '').
            exprs.append(f"CAST(NULLIF(trim(CAST({name} AS STRING)), '') AS DOUBLE) AS {name}")
        elif role == "number":
            exprs.append(f"CAST({name} AS DOUBLE) AS {name}")
        else:
            exprs.append(f"CAST({name} AS STRING) AS {name}")
    engine.execute(
        f"CREATE OR REPLACE TEMPORARY VIEW {contract.kind} AS "
        f"SELECT {', '.join(exprs)} FROM {inner}"
    )


def _stage_remote(engine: Engine, contract: Contract, url: str, label: str | None):
    file_format(url)
    inner = f"{contract.kind}__input"
    times = [c.name for c in contract.columns if c.role == "time"]
    engine.register(inner, url, timestamps=times)
    columns = list(engine.query(f"SELECT * FROM {inner} LIMIT 0").columns)
    for name in contract.required:
        if name not in columns:
            guess = _closest(name, [c for c in columns if c not in contract.required])
            hint = f"; found {guess!r}; did you mean {name!r}?" if guess else ""
            raise InputError(f"required column is missing{hint}", file=label or url, column=name)
    present = [c.name for c in contract.columns if c.name in columns]
    _register_typed(engine, contract, url, dict.fromkeys(present))
    n_rows = int(engine.query(f"SELECT count(*) AS n FROM {contract.kind}")["n"].iloc[0])
    if n_rows == 0:
        raise InputError("the table is empty; expected at least one data row", file=label or url)
    return n_rows


# ---------------------------------------------------------------------------------------------
# Helpers


def _contract(kind: str) -> Contract:
    if kind not in CONTRACTS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(CONTRACTS)}")
    return CONTRACTS[kind]


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate most like ``name`` (ignoring case and surrounding spaces), if close."""
    folded = {c.strip().lower(): c for c in candidates}
    if name in folded:
        return folded[name]
    match = difflib.get_close_matches(name, list(folded), n=1, cutoff=SUGGESTION_CUTOFF)
    return folded[match[0]] if match else None


def _duckdb_read_csv(path: Path) -> str:
    # Fixed RFC 4180 dialect (the same one Spark is given) rather than DuckDB's sniffer, so both
    # engines read a file the same way.
    delim = _literal(csv_delimiter(path))
    return (
        f"read_csv({_literal(path)}, header = true, all_varchar = true, delim = {delim}, "
        "quote = '\"', escape = '\"')"
    )


def _as_time(name: str, dtype: str) -> str:
    c = _ident(name)
    return f"TRY_CAST({c} AS TIMESTAMPTZ)" if dtype == "VARCHAR" else f"CAST({c} AS TIMESTAMPTZ)"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str | os.PathLike) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _first_line(err: BaseException) -> str:
    """The first line of an engine's error, without its class prefix (``Invalid Input Error:``)."""
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return re.sub(r"^[A-Za-z ]*Error: ", "", line)
