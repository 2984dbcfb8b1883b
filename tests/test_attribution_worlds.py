"""The simulator's worlds for the attribution trust checks: decisions at the campaign's end,
opening-touch effects and a follow-up channel, each with the truth the model is scored on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from attribution.sparsity import apply_spike
from workbench.sim.scenarios import FOLLOW_UP_MAX_DAYS, SCENARIOS
from workbench.simulate import simulate

USERS = 4_000


@pytest.fixture(scope="module")
def roles_end():
    return simulate(users=USERS, weeks=8, scenario="roles_campaign_end", seed=2)


def test_campaign_end_worlds_convert_everyone_on_the_last_day(roles_end):
    end = pd.Timestamp(roles_end.truth["start_date"]) + pd.Timedelta(days=8 * 7)
    touched = roles_end.conversions[
        roles_end.conversions["user_id"].isin(roles_end.touchpoints["user_id"])
    ]
    # touched users decide on the campaign's last day (organic conversions come any time)
    reachable = touched[touched["user_id"].str[1:].astype(int) < USERS]
    assert len(reachable) > 0
    assert (reachable["timestamp"] == end).all()
    assert roles_end.truth["decision_timing"] == "campaign_end"


def test_follow_up_touches_come_within_days_after_a_touch_they_follow(roles_end):
    tp = roles_end.touchpoints.assign(day=lambda f: f["timestamp"].astype("int64") / 8.64e13)
    leads = tp[tp["channel"].isin(["display", "social"])]
    follow = tp[tp["channel"] == "email"]
    assert len(follow) > 100
    merged = follow.merge(leads, on="user_id", suffixes=("", "_lead"))
    gap = merged["day"] - merged["day_lead"]
    ok = merged.assign(ok=(gap >= 0) & (gap <= FOLLOW_UP_MAX_DAYS + 1e-6))
    # every email touch has a display or social touch of the same user at most 3 days before
    assert ok.groupby(["user_id", "day"])["ok"].any().all()
    assert roles_end.truth["follow_up_channels"] == {"email": ["display", "social"]}


def test_roles_truth_credits_the_opening_channels_beyond_their_touch_effects():
    sim = simulate(users=USERS, weeks=8, scenario="roles", seed=2)
    model = sim.truth["conversion_model"]
    assert model["opening"]["social"] > 0 and model["opening"]["display"] > 0
    shares = sim.truth["shapley_shares"]
    assert shares["direct_mail"] == 0.0  # no effect at all
    # social's per-touch effect is small, yet opening journeys makes it a main channel
    assert shares["social"] > shares["call_centre"]
    assert "direct_mail" in SCENARIOS["roles"].zero_effect_channels


def test_a_channel_switched_off_by_the_spike_has_no_effect_and_no_synergy_in_that_draw():
    channels = ["a", "b", "c"]
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "channel"), np.full((2, 500, 3), 0.01)),
            "synergy": (("chain", "draw", "channel_pair"), np.full((2, 500, 1), 0.02)),
        },
        coords={"channel": channels, "channel_pair": ["a*b"]},
    )
    out = apply_spike(posterior, np.array([0.3, 1.0, 1.0]), seed=1, pairs=np.array([[0, 1]]))
    off = out["beta"].sel(channel="a") == 0.0
    assert 0.6 < float(off.mean()) < 0.8  # out in 1 - 0.3 of the draws
    np.testing.assert_array_equal(out["synergy"].isel(channel_pair=0).values == 0.0, off.values)
    assert bool((out["beta"].sel(channel=["b", "c"]) == 0.01).all())
    assert out["p_effect_positive"].values.tolist() == [0.3, 1.0, 1.0]


def test_window_end_worlds_decide_days_to_weeks_after_the_last_touch():
    # every touched user decides at the end of their own window (+ a delay of minutes to hours):
    # no touch after the decision, and the lags from the last touch spread over days
    sim = simulate(users=USERS, weeks=8, scenario="additive_window_end", seed=2)
    last = sim.touchpoints.groupby("user_id")["timestamp"].max()
    journeys = sim.journeys.set_index("user_id")
    lag_days = (journeys["decision_time"] - last.reindex(journeys.index)).dt.total_seconds() / 86400
    assert (lag_days > 0).all()
    assert np.quantile(lag_days, 0.25) > 0.5
    assert np.quantile(lag_days, 0.75) > 5.0
    assert sim.truth["decision_timing"] == "window_end"
