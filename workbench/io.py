"""Input staging: validate a table against its contract, then expose it to the SQL engine.

Every input table (touchpoints, conversions, transactions, spend) has a contract
(:mod:`workbench.contracts`). ``stage`` checks a CSV/Parquet file or a DataFrame against it with
SQL in an embedded DuckDB (:mod:`workbench.validation`), then registers it on the chosen engine
(DuckDB or Spark) as a typed view: timestamps as DOUBLE days since 1970-01-01 UTC, numbers as
DOUBLE, identifiers and labels as strings. Bad input raises :class:`~workbench.errors.InputError`
naming the file, the column and the first offending 1-based data rows (the header is not
counted). Timestamps without an offset are taken as UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.contracts import CONTRACTS, Column, Contract, contract
from workbench.engines import file_format
from workbench.errors import InputError
from workbench.validation import closest, validate_source

if TYPE_CHECKING:
    import pandas as pd

    from workbench.engines import Engine

__all__ = [
    "CONTRACTS",
    "Column",
    "Contract",
    "check_period_order",
    "parse_date",
    "stage",
    "to_epoch_days",
    "validate",
]


# ---------------------------------------------------------------------------------------------
# Public API


def stage(
    engine: Engine,
    kind: str,
    source: Any,
    *,
    label: str | None = None,
    integer_ids: bool = False,
) -> int:
    """Validate ``source`` against the contract ``kind`` and register it on ``engine`` as the
    view ``kind``.

    ``source`` is a CSV/Parquet path (format by extension) or a pandas DataFrame; ``label`` names
    it in error messages (default: the path, or ``<kind DataFrame>``). The view has the contract
    columns present in the source (other columns are dropped): timestamps as DOUBLE days since
    1970-01-01 UTC (offsets converted), numbers as DOUBLE, ids and labels as strings; with
    ``integer_ids`` an id column stored as integers (Parquet, DataFrame) stays an integer
    (BIGINT), which sorts and hashes faster than its text (the caller then compares ids of two
    inputs as text when their types differ, ``workbench.journeys.user_key``).
    Returns the number of data rows. Raises :class:`InputError` on bad input.
    """
    spec = contract(kind)
    if _is_url(source):
        # Remote data (s3a://, hdfs://) is read by the engine only; DuckDB cannot see it, so only
        # the columns are checked here and row-level problems surface in the engine.
        return _stage_remote(engine, spec, str(source), label)
    n_rows, types = validate_source(spec, source, label)
    _register_typed(engine, spec, source, types, integer_ids=integer_ids)
    return n_rows


def validate(kind: str, source: Any, *, label: str | None = None) -> tuple[int, list[str]]:
    """Check ``source`` (path or DataFrame) against the contract ``kind`` without staging it.

    Returns ``(data rows, contract columns present)``; raises :class:`InputError` naming file,
    column and the first offending 1-based data rows on the first problem found."""
    n_rows, types = validate_source(contract(kind), source, label)
    return n_rows, list(types)


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
# Staging on an engine


#: DuckDB types of id columns that ``stage(..., integer_ids=True)`` keeps as BIGINT (all fit).
_INTEGER_ID_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                     "UINTEGER")  # fmt: skip


def _register_typed(
    engine: Engine,
    spec: Contract,
    source: Any,
    types: dict[str, str | None],
    integer_ids: bool = False,
) -> None:
    """Register ``source`` as ``<kind>__input`` and the typed view ``<kind>`` over it.

    ``types`` maps each contract column present to its DuckDB type (``VARCHAR`` for CSV; None
    when unknown). The SQL is the same on DuckDB and Spark."""
    present = list(types)
    times = [n for n in present if spec.column(n).role == "time"]
    inner = f"{spec.kind}__input"
    engine.register(inner, source, timestamps=times)
    exprs = []
    for name in present:
        role = spec.column(name).role
        if role == "time":
            exprs.append(name)
        elif role == "number" and types[name] in ("VARCHAR", None):
            # Empty text in an optional number is NULL (a DataFrame may hold '').
            exprs.append(f"CAST(NULLIF(trim(CAST({name} AS STRING)), '') AS DOUBLE) AS {name}")
        elif role == "number":
            exprs.append(f"CAST({name} AS DOUBLE) AS {name}")
        elif role == "id" and integer_ids and types[name] in _INTEGER_ID_TYPES:
            exprs.append(f"CAST({name} AS BIGINT) AS {name}")
        else:
            exprs.append(f"CAST({name} AS STRING) AS {name}")
    engine.execute(
        f"CREATE OR REPLACE TEMPORARY VIEW {spec.kind} AS SELECT {', '.join(exprs)} FROM {inner}"
    )


def _stage_remote(engine: Engine, spec: Contract, url: str, label: str | None):
    file_format(url)
    inner = f"{spec.kind}__input"
    times = [c.name for c in spec.columns if c.role == "time"]
    engine.register(inner, url, timestamps=times)
    columns = list(engine.query(f"SELECT * FROM {inner} LIMIT 0").columns)
    for name in spec.required:
        if name not in columns:
            guess = closest(name, [c for c in columns if c not in spec.required])
            hint = f"; found {guess!r}; did you mean {name!r}?" if guess else ""
            raise InputError(f"required column is missing{hint}", file=label or url, column=name)
    present = [c.name for c in spec.columns if c.name in columns]
    _register_typed(engine, spec, url, dict.fromkeys(present))
    n_rows = int(engine.query(f"SELECT count(*) AS n FROM {spec.kind}")["n"].iloc[0])
    if n_rows == 0:
        raise InputError("the table is empty; expected at least one data row", file=label or url)
    return n_rows


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and "://" in source and not source.startswith("file://")
