"""The CLV data step: transactions -> per-customer RFM statistics, run as SQL on an engine.

The queries live in ``workbench/sql/`` and run unchanged on DuckDB and Spark. The staged
``transactions`` view (``timestamp`` in DOUBLE days since 1970-01-01) is scanned once, by
``purchase_days.sql``, into a materialised ``purchase_days`` table (see :func:`prepare`); the
span, the RFM table and the tracking counts read that table. At a million customers this halves
the SQL time: each query used to re-read the source, re-group it by day and re-run the window.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from clv.settings import UNIT_DAYS  # noqa: F401  (days per time unit: D, W, M)
from workbench.engines import Engine, load_sql

EPOCH = dt.date(1970, 1, 1)


def day_number(date: str | dt.date | pd.Timestamp) -> int:
    """Calendar day as whole days since 1970-01-01 (the staged timestamp scale)."""
    return (pd.Timestamp(date).normalize().date() - EPOCH).days


#: The materialised per-customer, per-day table every CLV query reads.
PURCHASE_DAYS = "purchase_days"


def prepare(engine: Engine) -> None:
    """Materialise ``purchase_days`` from the current ``transactions`` view: a temporary table
    on DuckDB, a cached temporary view on Spark. Call again after re-staging ``transactions``."""
    sql = load_sql(PURCHASE_DAYS)
    if engine.name == "spark":
        engine.execute(f"CREATE OR REPLACE TEMPORARY VIEW {PURCHASE_DAYS} AS {sql}")
        engine.execute(f"CACHE TABLE {PURCHASE_DAYS}")
    else:
        engine.execute(f"CREATE OR REPLACE TEMPORARY TABLE {PURCHASE_DAYS} AS {sql}")


def rfm(
    engine: Engine,
    *,
    calibration_end: float,
    holdout_end: float,
    unit_days: float,
    prepared: bool = False,
):
    """Per-customer RFM table from the ``transactions`` view.

    ``calibration_end`` and ``holdout_end`` are day numbers (see :func:`day_number`); the
    calibration period includes its last day. Returns a DataFrame with one row per customer whose
    first purchase is in the calibration period: ``customer_id`` (str), ``frequency`` (repeat
    purchase days), ``recency`` and ``T`` (time units), ``monetary_value`` (mean repeat-day total,
    currency) and ``holdout_frequency`` (purchase days in the holdout period), sorted by id.
    ``prepared``: :func:`prepare` has run since ``transactions`` was staged (else it runs here).
    """
    table = _periods_query(engine, "rfm", calibration_end, holdout_end, unit_days, prepared)
    return table.astype(
        {
            "customer_id": str,
            "frequency": "int64",
            "recency": "float64",
            "T": "float64",
            "monetary_value": "float64",
            "holdout_frequency": "int64",
        }
    ).reset_index(drop=True)


def repeat_purchases_by_period(
    engine: Engine,
    *,
    calibration_end: float,
    holdout_end: float,
    unit_days: float,
    prepared: bool = False,
) -> tuple[pd.Series, float]:
    """Actual repeat purchase days of the calibration cohort per time unit.

    Returns ``(counts, start_day)``: ``counts`` indexed by period 0..K (periods without repeat
    purchases filled with 0) and the day number where period 0 starts. ``prepared`` as in
    :func:`rfm`.
    """
    table = _periods_query(
        engine, "repeat_purchases_by_period", calibration_end, holdout_end, unit_days, prepared
    )
    if table.empty:
        return pd.Series(dtype="int64", name="repeat_purchases"), float("nan")
    start_day = float(table["start_day"].min())
    last = int(table["period"].max())
    counts = (
        table.set_index(table["period"].astype("int64"))["repeat_purchases"]
        .astype("int64")
        .reindex(range(last + 1), fill_value=0)
    )
    return counts, start_day


def transactions_span(engine: Engine, *, prepared: bool = False) -> tuple[float, float, int]:
    """``(first_day, last_day, customers)`` of the ``transactions`` view (day numbers);
    ``prepared`` as in :func:`rfm`."""
    if not prepared:
        prepare(engine)
    row = engine.query(load_sql("transactions_span")).iloc[0]
    return float(row["first_day"]), float(row["last_day"]), int(row["customers"])


def _periods_query(
    engine: Engine,
    name: str,
    calibration_end: float,
    holdout_end: float,
    unit_days: float,
    prepared: bool,
) -> pd.DataFrame:
    """Run the query ``workbench/sql/<name>.sql`` with the period ends and the time unit."""
    if not prepared:
        prepare(engine)
    sql = load_sql(
        name,
        calibration_end=_number(calibration_end),
        holdout_end=_number(holdout_end),
        unit_days=_number(unit_days),
    )
    return engine.query(sql)


def _number(value: float) -> str:
    # A DOUBLE literal on both engines (Spark would read a bare 7.0 as DECIMAL); repr keeps
    # every digit of the float.
    return f"CAST({float(value)!r} AS DOUBLE)"
