"""On simulated data with known truth: NPS per acquisition channel recovers the simulator's
expected NPS of respondents, the biased sample shows, and promoters are worth more than
detractors, as the simulator's engagement (which drives both answers and purchases) says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench import api
from workbench.simulate import simulate

USERS = 60_000
SEEDS = (1, 2, 3, 4)
#: Share of (seed, channel) truths that must fall inside their 90% intervals (expected 0.9; with
#: 24 pairs, fewer than 17 inside has a probability of about 1% for calibrated intervals).
MIN_COVERAGE = 0.7


def _true_acquisition(sim) -> pd.DataFrame:
    """customer_id -> the simulator's acquisition channel (largest true Shapley credit)."""
    journeys = sim.journeys.loc[sim.journeys["converted"], ["user_id", "acquisition_channel"]]
    channel = journeys.set_index("user_id")["acquisition_channel"].astype(str)
    ids = sim.conversions["user_id"].astype(str)
    # Customers from the unreachable audience have no journey: organic.
    known = channel.reindex(ids).fillna("organic").to_numpy()
    return pd.DataFrame({"customer_id": ids.to_numpy(), "channel": known})


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in SEEDS:
        sim = simulate(users=USERS, weeks=12, seed=seed)
        ds = api.cx(sim.experience.surveys, customers=_true_acquisition(sim), seed=seed)
        out.append((sim.truth["experience"], ds))
    return out


def test_nps_per_channel_recovers_the_true_nps_of_respondents_within_its_interval(runs):
    inside, total = 0, 0
    for truth, ds in runs:
        lower, upper = ds["nps_by_channel"].quantile(INTERVAL_QUANTILES, "draw").values
        wide = ds["nps_by_channel"].quantile([0.0005, 0.9995], "draw").values
        for i, channel in enumerate(ds["channel"].values):
            true = truth["by_acquisition_channel"][str(channel)]["nps_respondents"]
            inside += int(lower[i] <= true <= upper[i])
            total += 1
            assert wide[0][i] <= true <= wide[1][i], (channel, true)
    assert total == len(SEEDS) * 6  # five channels with customers + organic (display: none)
    assert inside / total >= MIN_COVERAGE


def test_answers_over_represent_engaged_customers_as_the_simulator_says(runs):
    for truth, ds in runs:
        lower, upper = np.quantile(ds["nps"].values, INTERVAL_QUANTILES)
        wide = np.quantile(ds["nps"].values, [0.0005, 0.9995])
        assert wide[0] <= truth["nps_respondents"] <= wide[1]
        # Had every customer answered, NPS would be far lower: the interval excludes it.
        assert truth["nps_all_customers"] < lower


def test_promoters_are_worth_more_than_detractors_as_the_simulator_says(tmp_path):
    sim = simulate(users=USERS, weeks=12, seed=1)
    transactions = tmp_path / "transactions.parquet"
    sim.transactions.to_parquet(transactions)
    calibration_end, holdout_end = api.calibration_split(transactions)
    clv = api.clv(
        transactions,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        compare_models=False,
    )
    ds = api.cx(sim.experience.surveys, clv=clv, transactions=transactions, seed=1)
    truth = sim.truth["experience"]["expected_value_52w_by_group"]
    assert truth["promoter"] > truth["passive"] > truth["detractor"]
    difference = ds["clv_promoter_minus_detractor"]
    assert float(difference.quantile(INTERVAL_QUANTILES[0])) > 0
    by_group = ds["clv_by_group"].mean("draw")
    assert float(by_group.sel(group="promoter")) > float(by_group.sel(group="detractor"))
    assert ds.attrs["data_quality"]["respondents_not_in_customers"] == 0
    # Coverage: every answer's customer is a clv.nc customer, each counted once per decile.
    assert int(ds["answered_by_value_decile"].sum()) == int(ds["respondents"].sum())
