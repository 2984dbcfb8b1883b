"""The CDNOW data of Fader, Hardie & Lee (2005), as shipped inside lifetimes, in the
transactions contract (customer_id, timestamp, amount).

``CDNOW_sample.txt`` holds the 2,357-customer sample the BG/NBD and Gamma-Gamma papers fit;
``CDNOW_master.txt`` the full cohort of 23,570 customers who first bought in 1997 Q1. The papers
calibrate on 1997-01-01 .. 1997-09-30 (39 weeks) and hold out 1997-10-01 .. 1998-06-30.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"
#: File name, column names and header lines to skip, per variant.
_FILES = {
    "sample": ("CDNOW_sample.txt", ["master_id", "customer_id", "date", "cds", "amount"], 0),
    "master": ("CDNOW_master.txt", ["customer_id", "date", "cds", "amount"], 1),
}


def cdnow_transactions(which: str = "sample") -> pd.DataFrame:
    """CDNOW transactions (``sample`` or ``master``) as a DataFrame with customer_id (str),
    timestamp (datetime, one per purchase day) and amount (US dollars)."""
    import lifetimes

    if which not in _FILES:
        raise ValueError(f"which must be one of {', '.join(_FILES)}; got '{which}'")
    name, columns, skip = _FILES[which]
    raw = pd.read_csv(
        Path(lifetimes.__file__).parent / "datasets" / name,
        sep=r"\s+",
        header=None,
        skiprows=skip,
        names=columns,
        dtype={"customer_id": str, "date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
        }
    )
