"""The response model against a budget world's truth, end to end (small).

A world where extra spend mostly reaches people not touched before
(``workbench.sim.budget``, ``new_reach``) goes through ``attribute`` (Laplace posterior),
``clv`` and ``plan``. With the world's true conversion parameters in place of the posterior
(``with_true_parameters``), what is left is the response model (touch curve, reach and
frequency, new reach): its 90% interval for "paid search +50%" must hold the true change in
expected conversions and its mean be within 25% of it. The fitted plan must say the extra spend
reaches new people. The full check (3 worlds x 5 seeds x 5 allocations, fitted posterior) is
``python -m bench.plan_accuracy``.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.slow

WORLD, USERS, WEEKS, SEED = "new_reach", 12_000, 8, 3
SCENARIOS = [{"name": "search_up_50", "change": {"paid_search": 0.5}}]


@pytest.fixture(scope="module")
def planned(tmp_path_factory, attribute_and_value):
    from workbench.api import plan
    from workbench.sim.budget import get_world, simulate_budget, with_true_parameters
    from workbench.store import read_results

    folder = tmp_path_factory.mktemp("budget")
    for name, frame in simulate_budget(get_world(WORLD), USERS, WEEKS, SEED).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    attribute_and_value(folder, SEED)
    options = dict(scenarios=SCENARIOS, max_draws=100, optimiser_draws=30, seed=SEED)
    fitted = plan(folder / "attribution.nc", folder / "clv.nc", folder / "spend.parquet", **options)
    true_model = with_true_parameters(read_results(folder / "attribution.nc"), get_world(WORLD))
    oracle = plan(true_model, folder / "clv.nc", folder / "spend.parquet", **options)
    return fitted, oracle


def _oracle_search_up(planned) -> tuple[xr.Dataset, float]:
    from workbench.sim.budget import get_world, true_allocation_outcomes

    _, oracle = planned
    row = oracle.sel(scenario="search_up_50")
    now_and_then = np.vstack([np.ones(6), row["spend_multiplier"].values])
    truth = true_allocation_outcomes(get_world(WORLD), USERS, WEEKS, SEED, now_and_then)
    return row, float(truth["conversions"][1] - truth["conversions"][0])


def test_response_model_interval_holds_the_true_change_in_conversions(planned):
    row, true_change = _oracle_search_up(planned)
    assert true_change > 0
    lo, hi = float(row.delta_conversions_q05), float(row.delta_conversions_q95)
    assert lo <= true_change <= hi, (lo, true_change, hi)


@pytest.mark.xfail(
    strict=True,
    reason="issue 18, open: since the selection-corrected decision positions (commit 4ba4790) "
    "the plan with the true conversion model gives +9.8 for a true +14.4 (32% under; within "
    "25% before that commit)",
)
def test_response_model_mean_is_within_a_quarter_of_the_true_change(planned):
    row, true_change = _oracle_search_up(planned)
    assert float(row.delta_conversions_mean) == pytest.approx(true_change, rel=0.25)


def test_more_search_spend_reaches_people_the_data_never_saw(planned):
    fitted, _ = planned
    new = fitted["new_reach"].sel(scenario="search_up_50")
    assert float(new.sel(channel="paid_search")) > 0
    others = new.drop_sel(channel="paid_search")
    assert float(np.abs(others).max()) == 0.0
    # The audience is larger than the journeys search reaches now.
    size = fitted["audience_size"].sel(channel="paid_search").median()
    assert float(size) > float(fitted["audience_reached"].sel(channel="paid_search"))
