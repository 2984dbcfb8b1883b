"""The calibration/holdout split of a transactions file that the demo and the notebooks use."""

from __future__ import annotations

import os

from workbench.errors import InputError

#: Share of the transaction window (first to last purchase) used for calibration; the rest is
#: the holdout on which the CLV models are checked.
CALIBRATION_SHARE = 0.6


def calibration_split(transactions: str | os.PathLike) -> tuple[str, str]:
    """``(calibration_end, holdout_end)`` as YYYY-MM-DD for a transactions file: the holdout is
    the last ``1 - CALIBRATION_SHARE`` of the window from the first to the last purchase."""
    import duckdb

    from workbench.engines import file_format

    reader = "read_parquet" if file_format(transactions) == "parquet" else "read_csv"
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        first, last = con.execute(
            "SELECT min(epoch_us(CAST(timestamp AS TIMESTAMPTZ))), "
            "max(epoch_us(CAST(timestamp AS TIMESTAMPTZ))) "
            f"FROM {reader}(?)",
            [str(transactions)],
        ).fetchone()
    finally:
        con.close()
    if first is None:
        raise InputError("no transactions to split into calibration and holdout", file=transactions)
    import pandas as pd

    start = pd.Timestamp(first, unit="us")
    end = pd.Timestamp(last, unit="us")
    cal = (start + (end - start) * CALIBRATION_SHARE).normalize()
    return str(cal.date()), str(end.normalize().date())
