"""The response model against a budget world's truth, end to end (small).

A world where extra spend mostly reaches people not touched before
(``workbench.sim.budget``, ``new_reach``) goes through ``attribute`` (Laplace posterior),
``clv`` and ``plan``. The plan's 90% interval for "paid search +50%" must hold the true change
in expected conversions. With the world's true conversion parameters in place of the posterior
(``with_true_parameters``) what is left is the response model (touch curve, reach and
frequency, new reach). Its mean depends on the touch curve's curvature, which 8 weeks of +-20%
spend measure loosely (this seed's weeks show an elasticity of touches to spend of 0.56 where the
world's is 0.69, so the fitted curve buys 21% more touches for +50% where the world buys 29%):
with the world's touch curve as well, the audience and hazard parts must put the mean within
25% of the true change; the fitted touch curve's interval must hold the world's touch ratio.
That mean is 11.7 against 14.4 (18% low) since each recency bin weighs its touches by the
mean decay over the bin; with the bins' mid-point ages it was 10.9 (24% low), and 10.2 (29%
low) once cells at the count cap counted the data's mean count (the true decays at the 7-30
day bin's mid-point undercount old touches by about half). (With the true parameters but the
fitted touch curve this seed's interval missed the truth, 14.4: 7.6 [2.6, 12.2] with the gap
model's decision placement, 8.7 [2.9, 13.9] with every user's true decision time; seeds 1, 2
and 4 came out 11.5 [6.7, 15.8] against 13.9, 11.5 [7.9, 13.9] against 14.0 and 10.5 [5.5,
14.0] against 13.9, before the two changes above. The fitted plan holds the truth at seeds
1-3.) The fitted plan must say the extra spend reaches new people. The full check (3
worlds x 5 seeds x 5 allocations, fitted posterior) is ``python -m bench.plan_accuracy``.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.slow

WORLD, USERS, WEEKS, SEED = "new_reach", 12_000, 8, 3
SCENARIOS = [{"name": "search_up_50", "change": {"paid_search": 0.5}}]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, attribute_and_value):
    from workbench.sim.budget import get_world, simulate_budget

    folder = tmp_path_factory.mktemp("budget")
    for name, frame in simulate_budget(get_world(WORLD), USERS, WEEKS, SEED).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return attribute_and_value(folder, SEED)


@pytest.fixture(scope="module")
def planned(folder):
    from workbench.api import plan
    from workbench.sim.budget import get_world, with_true_parameters
    from workbench.store import read_results

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


def test_the_plans_interval_holds_the_true_change_in_conversions(planned):
    fitted, _ = planned
    _, true_change = _oracle_search_up(planned)
    assert true_change > 0
    row = fitted.sel(scenario="search_up_50")
    lo, hi = float(row.delta_conversions_q05), float(row.delta_conversions_q95)
    assert lo <= true_change <= hi, (lo, true_change, hi)


def _true_touch_curve_k(channels: list[str]) -> np.ndarray:
    """The world's spend scale K per channel (currency per week)."""
    from workbench.sim.budget import get_world
    from workbench.sim.scenarios import CHANNELS
    from workbench.sim.spend import reach_for

    k = reach_for(get_world(WORLD).scenario, CHANNELS, USERS).K
    return np.array([k[CHANNELS.index(c)] for c in channels])


def test_with_the_true_touch_curve_the_mean_is_within_a_quarter_of_the_true_change(planned, folder):
    from workbench.pipelines.plan import _journey_response
    from workbench.pipelines.plan_inputs import read_inputs
    from workbench.sim.budget import get_world, with_true_parameters
    from workbench.store import read_results

    _, true_change = _oracle_search_up(planned)
    truth = with_true_parameters(read_results(folder / "attribution.nc"), get_world(WORLD))
    inputs = read_inputs(truth, folder / "clv.nc", folder / "spend.parquet")
    n = 100
    value = np.ones((n, len(inputs.channels)))
    model, _ = _journey_response(inputs, np.arange(n), value, 1.0, SEED)
    model.reach_k = np.broadcast_to(_true_touch_curve_k(model.channels), model.reach_k.shape)
    search_up = np.where(np.array(model.channels) == "paid_search", 1.5, 1.0)
    change = model.outcomes(search_up)["conversions"] - model.outcomes(np.ones(6))["conversions"]
    assert float(change.mean()) == pytest.approx(true_change, rel=0.25)


def test_the_touch_curves_interval_holds_the_worlds_touch_ratio(planned, folder):
    import pandas as pd

    from workbench.planning.reach import touch_ratio

    fitted, _ = planned
    channels = [str(c) for c in fitted["channel"].values]
    mult = fitted["spend_multiplier"].sel(scenario="search_up_50").values
    table = pd.read_parquet(folder / "spend.parquet")
    weeks = table.pivot(index="period_start", columns="channel", values="spend")[channels].values
    k_true = _true_touch_curve_k(channels)[None, :]
    world = touch_ratio(mult, k_true, weeks)[0]
    plan = touch_ratio(mult, fitted["reach_k"].values, weeks)
    c = channels.index("paid_search")
    lo, hi = np.quantile(plan[:, c], [0.05, 0.95])
    assert world[c] > 1.2 and lo <= world[c] <= hi, (lo, world[c], hi)


def test_more_search_spend_reaches_people_the_data_never_saw(planned):
    fitted, _ = planned
    new = fitted["new_reach"].sel(scenario="search_up_50")
    assert float(new.sel(channel="paid_search")) > 0
    others = new.drop_sel(channel="paid_search")
    assert float(np.abs(others).max()) == 0.0
    # The audience is larger than the journeys search reaches now.
    size = fitted["audience_size"].sel(channel="paid_search").median()
    assert float(size) > float(fitted["audience_reached"].sel(channel="paid_search"))
