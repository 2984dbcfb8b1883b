"""What cx knows about each customer: acquisition channel (largest credit of the first converting
journey, organic when none), value tiers and deciles by predicted CLV, on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from workbench import api
from workbench.experience.customers import acquisition_from_shares, value_deciles, value_tiers


def test_the_acquisition_channel_is_the_largest_share_and_organic_without_credit():
    shares = np.array([[0.2, 0.5], [0.0, 0.0], [np.nan, 0.1], [0.7, 0.3]])
    assert acquisition_from_shares(["email", "search"], shares).tolist() == [
        "search",
        "organic",
        "search",
        "email",
    ]


def test_value_tiers_split_customers_20_30_50_by_predicted_clv():
    clv = pd.Series(np.arange(10.0), index=[f"c{i}" for i in range(10)])
    tiers = value_tiers(clv)
    assert tiers[["c9", "c8"]].tolist() == ["top 20%"] * 2
    assert tiers[["c7", "c6", "c5"]].tolist() == ["middle 30%"] * 3
    assert tiers[[f"c{i}" for i in range(5)]].tolist() == ["bottom 50%"] * 5
    assert value_deciles(clv).tolist() == list(range(1, 11))


def _attribution() -> xr.Dataset:
    """The attribution.nc variables cx reads: per converted journey, the credit shares of its
    channels (the rest is baseline), the user and the time."""
    return xr.Dataset(
        {
            "journey_credit": (
                ("journey", "channel"),
                [[0.1, 0.6], [0.5, 0.1], [0.3, 0.2], [0.0, 0.0]],
            ),
            "journey_user_id": ("journey", ["a", "a", "b", "c"]),
            "journey_time": (
                "journey",
                pd.to_datetime(["2024-02-01", "2024-01-01", "2024-01-05", "2024-01-07"]),
            ),
        },
        coords={"channel": ["email", "search"]},
    )


def test_nps_by_channel_uses_each_customers_first_converting_journey():
    # a's first journey (January) credits email most; b's credits email; c's none (organic);
    # d never converted in a journey (organic).
    surveys = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "timestamp": "2024-03-01",
            "score": [10, 9, 0, 8],
        }
    )
    ds = api.cx(surveys, attribution=_attribution())
    counts = ds["respondents_by_channel"].sel(group=["promoter", "passive", "detractor"])
    assert ds["channel"].values.tolist() == ["email", "organic"]
    assert counts.values.tolist() == [[2, 0, 0], [0, 1, 1]]
