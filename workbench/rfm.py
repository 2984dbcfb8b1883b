"""The CLV data step: transactions -> per-customer RFM statistics, run as SQL on an engine.

The queries live in ``workbench/sql/rfm.sql`` and ``repeat_purchases_by_period.sql`` and run
unchanged on DuckDB and Spark over the staged ``transactions`` view, whose ``timestamp`` is
DOUBLE days since 1970-01-01.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from workbench.engines import Engine, load_sql

#: Days per time unit: D, W (days/7) and M (the mean Gregorian month, 365.25 / 12 days).
UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4375}
EPOCH = dt.date(1970, 1, 1)


def day_number(date: str | dt.date | pd.Timestamp) -> int:
    """Calendar day as whole days since 1970-01-01 (the staged timestamp scale)."""
    return (pd.Timestamp(date).normalize().date() - EPOCH).days


def rfm(engine: Engine, *, calibration_end: float, holdout_end: float, unit_days: float):
    """Per-customer RFM table from the ``transactions`` view.

    ``calibration_end`` and ``holdout_end`` are day numbers (see :func:`day_number`); the
    calibration period includes its last day. Returns a DataFrame with one row per customer whose
    first purchase is in the calibration period: ``customer_id`` (str), ``frequency`` (repeat
    purchase days), ``recency`` and ``T`` (time units), ``monetary_value`` (mean repeat-day total,
    currency) and ``holdout_frequency`` (purchase days in the holdout period), sorted by id.
    """
    sql = load_sql(
        "rfm",
        calibration_end=_number(calibration_end),
        holdout_end=_number(holdout_end),
        unit_days=_number(unit_days),
    )
    table = engine.query(sql)
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
    engine: Engine, *, calibration_end: float, holdout_end: float, unit_days: float
) -> tuple[pd.Series, float]:
    """Actual repeat purchase days of the calibration cohort per time unit.

    Returns ``(counts, start_day)``: ``counts`` indexed by period 0..K (periods without repeat
    purchases filled with 0) and the day number where period 0 starts.
    """
    sql = load_sql(
        "repeat_purchases_by_period",
        calibration_end=_number(calibration_end),
        holdout_end=_number(holdout_end),
        unit_days=_number(unit_days),
    )
    table = engine.query(sql)
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


def transactions_span(engine: Engine) -> tuple[float, float, int]:
    """``(first_day, last_day, customers)`` of the ``transactions`` view (day numbers)."""
    row = engine.query(load_sql("transactions_span")).iloc[0]
    return float(row["first_day"]), float(row["last_day"]), int(row["customers"])


def _number(value: float) -> str:
    # A DOUBLE literal on both engines (Spark would read a bare 7.0 as DECIMAL); repr keeps
    # every digit of the float.
    return f"CAST({float(value)!r} AS DOUBLE)"
