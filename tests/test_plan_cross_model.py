"""One plan across the media-mix model and the journey model (issue 13 planning, issue 18's
side-by-side), checked against two simulated worlds with known truth.

The offline channel (``tv``) lives in a weekly media world (``workbench.sim.media``, ``retail``)
fitted by ``workbench mmm`` at small draws; the digital channels live in a journey budget world
(``workbench.sim.budget``, ``new_reach``) fitted by ``attribute`` (Laplace) and ``clv``. The two
worlds are independent (no person or week is shared, no channel of one acts on the other), so
the true change of a scenario that moves spend in both is the sum of each world's true change:
that sum must lie in the plan's 90% interval. ``display`` and ``social`` are in both worlds, so
the plan also shows both models' estimates of them side by side.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from workbench.sim.budget import get_world, simulate_budget, true_allocation_outcomes
from workbench.sim.media import WORLDS, simulate_media, true_effect, write_media

# Tests marked slow need the media-mix fit (about 15 s), most also the journey model's (30 s).
MEDIA_WORLD, MEDIA_SEED = "retail", 1
JOURNEY_WORLD, USERS, WEEKS, SEED = "new_reach", 6_000, 8, 3
SMALL_MMM = {"draws": 100, "tune": 100, "chains": 2, "sampler": "nutpie", "seed": 1}
SCENARIOS = [
    {"name": "tv_up", "change": {"tv": 0.5}},
    {"name": "search_up", "change": {"paid_search": 0.5}},
    {"name": "tv_and_search_up", "change": {"tv": 0.5, "paid_search": 0.5}},
]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from workbench.api import mmm

    folder = tmp_path_factory.mktemp("media")
    sim = simulate_media(MEDIA_WORLD, seed=MEDIA_SEED)
    paths = write_media(sim, folder)
    mmm(
        paths["spend"],
        paths["outcomes"],
        controls=paths["controls"],
        holdout_check=False,
        out=folder / "mmm.nc",
        **SMALL_MMM,
    )
    return sim, folder


@pytest.fixture(scope="module")
def journeys(tmp_path_factory, attribute_and_value):
    folder = tmp_path_factory.mktemp("journeys")
    for name, frame in simulate_budget(get_world(JOURNEY_WORLD), USERS, WEEKS, SEED).items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    attribute_and_value(folder, SEED)
    return folder


@pytest.fixture(scope="module")
def cross_plan(media, journeys):
    from workbench.api import plan

    _, media_folder = media
    return plan(
        journeys / "attribution.nc",
        journeys / "clv.nc",
        journeys / "spend.parquet",
        mmm=media_folder / "mmm.nc",
        scenarios=SCENARIOS,
        max_draws=100,
        optimiser_draws=30,
        seed=SEED,
        out=journeys / "plan.nc",
    )


def _true_media_change(sim, channel: str, multiplier: float, weeks: int) -> float:
    """True change in the conversions ``channel`` causes in the media world's last ``weeks``
    weeks when its spend in those weeks is multiplied (earlier spend unchanged; carry-over
    past the last week not counted, as in the plan)."""
    spec = {ch.name: ch for ch in WORLDS[MEDIA_WORLD].channels}[channel]
    path = sim.spend[sim.spend["channel"] == channel].sort_values("period_start")["spend"]
    now = path.to_numpy(float)
    then = now.copy()
    then[-weeks:] *= multiplier
    effect = true_effect(spec, np.stack([now, then]), spec.max_effect)
    return float(effect[1, -weeks:].sum() - effect[0, -weeks:].sum())


def _true_journey_change(plan_ds, scenario: str) -> float:
    from workbench.sim.scenarios import CHANNELS

    mult = plan_ds["spend_multiplier"].sel(scenario=scenario, channel=list(CHANNELS)).values
    truth = true_allocation_outcomes(
        get_world(JOURNEY_WORLD), USERS, WEEKS, SEED, np.vstack([np.ones(len(CHANNELS)), mult])
    )
    return float(truth["conversions"][1] - truth["conversions"][0])


@pytest.mark.slow
def test_a_scenario_across_tv_and_paid_search_holds_the_two_worlds_true_change(media, cross_plan):
    sim, _ = media
    tv = _true_media_change(sim, "tv", 1.5, WEEKS)
    search = _true_journey_change(cross_plan, "search_up")
    assert tv > 0 and search > 0
    for name, truth in (("tv_up", tv), ("search_up", search), ("tv_and_search_up", tv + search)):
        row = cross_plan.sel(scenario=name)
        lo, hi = float(row.delta_conversions_q05), float(row.delta_conversions_q95)
        assert lo <= truth <= hi, (name, lo, truth, hi)
    # the optimiser's allocation moves spend across both worlds: its true change is the sum of
    # every media-mix channel's true change and the journey world's
    optimised = cross_plan.sel(scenario="optimised")
    planned = cross_plan["planned_with"].to_series()
    media_only = [c for c, how in planned.items() if how == "media_mix"]
    truth = _true_journey_change(cross_plan, "optimised") + sum(
        _true_media_change(sim, c, float(optimised["spend_multiplier"].sel(channel=c)), WEEKS)
        for c in media_only
    )
    lo, hi = float(optimised.delta_conversions_q05), float(optimised.delta_conversions_q95)
    assert lo <= truth <= hi, ("optimised", lo, truth, hi)
    # the models add: per draw, the joint change is the sum of the two changes
    delta = cross_plan["conversions"] - cross_plan["conversions"].sel(scenario="current")
    joint = delta.sel(scenario="tv_and_search_up")
    parts = delta.sel(scenario="tv_up") + delta.sel(scenario="search_up")
    np.testing.assert_allclose(joint.values, parts.values, rtol=1e-9)


@pytest.mark.slow
def test_offline_channels_are_planned_by_the_media_mix_model_and_optimised_with_the_rest(
    cross_plan,
):
    planned = cross_plan["planned_with"].to_series()
    assert planned["tv"] == "media_mix" and planned["radio"] == "media_mix"
    # in both models: the journey model answers (the stated rule)
    assert planned["display"] == "journey" and planned["paid_search"] == "journey"
    assert cross_plan.attrs["both_models_rule"] == "journey"
    spend = cross_plan["spend"]
    budget = float(spend.sel(scenario="current").sum())
    assert float(spend.sel(scenario="optimised").sum()) == pytest.approx(budget, rel=1e-9)
    # the optimiser may move offline spend; a channel with no spend in the window stays at zero
    print_now = float(spend.sel(scenario="current", channel="print"))
    assert print_now == 0 and float(spend.sel(scenario="optimised", channel="print")) == 0
    # tv has no rows in the journey world's spend table: its weeks are mmm.nc's last ones
    assert cross_plan.attrs["media_spend_source"]["tv"] == "media-mix model's last weeks"
    assert cross_plan.attrs["media_spend_source"]["display"] == "spend table"


@pytest.mark.slow
def test_channels_in_both_models_are_shown_side_by_side_with_whether_they_agree(cross_plan):
    both = [str(c) for c in cross_plan["channel_both"].values]
    assert both == ["display", "social"]
    for name in ("journey", "media_mix"):
        lo = cross_plan[f"incremental_{name}_q05"]
        hi = cross_plan[f"incremental_{name}_q95"]
        assert bool((lo <= cross_plan[f"incremental_{name}_mean"]).all())
        assert bool((cross_plan[f"incremental_{name}_mean"] <= hi).all())
    overlap = (cross_plan["incremental_journey_q05"] <= cross_plan["incremental_media_mix_q95"]) & (
        cross_plan["incremental_media_mix_q05"] <= cross_plan["incremental_journey_q95"]
    )
    assert (cross_plan["models_agree"].values == overlap.values.astype(int)).all()
    # the journey estimate is the drop when the channel's spend goes to zero
    curve = cross_plan["response_conversions"].sel(channel="display")
    drop = curve.sel(multiplier=1.0) - curve.sel(multiplier=0.0)
    inc = cross_plan["incremental_journey"].sel(channel_both="display")
    np.testing.assert_allclose(inc.values, drop.values, rtol=1e-9)


@pytest.mark.slow
def test_the_report_puts_offline_channels_in_the_allocation_and_both_estimates_side_by_side(
    cross_plan, tmp_path
):
    from workbench.report.executive import executive_summary
    from workbench.report.markup import num
    from workbench.report.results import Results
    from workbench.report.sections import budget

    res = Results(folder=tmp_path, plan=cross_plan)
    body = budget(res).body
    allocation = body[body.index("Recommended allocation") :]
    tv_now = float(cross_plan["spend"].sel(scenario="current", channel="tv"))
    assert f"<td>tv</td><td class=num>{num(tv_now)}</td>" in allocation
    table = body[body.index("Channels both models see") :]
    for channel in ("display", "social"):
        r = cross_plan.sel(channel_both=channel)
        assert f"<td>{channel}</td>" in table
        assert num(float(r["incremental_media_mix_mean"])) in table
        assert num(float(r["incremental_journey_mean"])) in table
    summary = executive_summary(res).body
    assert "<strong>tv</strong>" in summary and "media-mix model" in summary


@pytest.mark.slow
def test_planning_with_the_media_mix_model_alone_gives_back_its_contributions(media):
    """Over the media-mix model's own weeks at current spend, the plan's conversions of each
    channel are mmm.nc's ``contribution`` draw by draw (the window is the model's data)."""
    from workbench.api import plan
    from workbench.store import read_results

    _, folder = media
    mmm_ds = read_results(folder / "mmm.nc")
    n = mmm_ds.sizes["chain"] * mmm_ds.sizes["draw"]
    ds = plan(mmm=folder / "mmm.nc", max_draws=n, optimiser_draws=20)
    contribution = mmm_ds["contribution"].stack(sample=("chain", "draw"))
    at_current = ds["mmm_response_conversions"].sel(multiplier=1.0)
    for channel in ("tv", "search"):
        np.testing.assert_allclose(
            at_current.sel(channel=channel).values,
            contribution.sel(channel=channel).values,
            rtol=1e-9,
        )
    assert set(ds["planned_with"].values) == {"media_mix"}
    # without clv.nc conversions are not valued and the optimiser works on conversions
    assert np.isnan(ds["value"].values).all() and ds.attrs["optimised_outcome"] == "conversions"


def _cli(args):
    from workbench.cli import main

    return CliRunner().invoke(main, args)


@pytest.mark.slow
def test_cli_refuses_an_mmm_file_without_the_media_mix_variables(media, tmp_path):
    from workbench.store import read_results, write_results

    _, folder = media
    broken = read_results(folder / "mmm.nc").drop_vars(["max_effect", "adstock_alpha"])
    write_results(broken, tmp_path / "mmm.nc")
    out = tmp_path / "plan.nc"
    result = _cli(["plan", "--mmm", str(tmp_path / "mmm.nc"), "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "max_effect" in lines[0] and "mmm.nc" in lines[0]
    assert not out.exists()


@pytest.mark.slow
def test_cli_refuses_a_scenario_naming_a_channel_in_neither_model(media, tmp_path):
    _, folder = media
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text("scenarios:\n  - name: podcast\n    change: {podcast: 0.5}\n")
    out = tmp_path / "plan.nc"
    args = ["plan", "--mmm", str(folder / "mmm.nc"), "--scenarios", str(scenarios)]
    result = _cli([*args, "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "podcast" in lines[0] and "scenarios.yaml" in lines[0]
    assert not out.exists()


def test_the_media_mix_weeks_come_from_the_spend_table_or_the_models_last_weeks():
    """A channel with rows in the spend table takes the window's weeks (and the carry-in weeks
    before it) from there; another channel takes the media-mix model's last weeks."""
    import pandas as pd
    import xarray as xr

    from workbench.planning.media import media_paths

    spend = np.arange(1.0, 13.0).reshape(1, 6, 2)  # geo, period, channel (tv, radio)
    ds = xr.Dataset(
        {"spend": (("geo", "period", "channel"), spend)},
        coords={"channel": ["tv", "radio"]},
        attrs={"l_max": 3},
    )
    start = 100.0  # days since the epoch
    table = pd.DataFrame(
        {
            "channel": ["tv", "tv", "tv", "tv"],
            "period_start": [start - 14, start - 7, start, start + 7],
            "spend": [5.0, 6.0, 7.0, 8.0],
        }
    )
    paths = media_paths(ds, 2, table, start)
    assert paths.channels == ["tv", "radio"]
    np.testing.assert_array_equal(paths.window[:, 0], [7.0, 8.0])
    np.testing.assert_array_equal(paths.history[:, 0], [5.0, 6.0])
    # radio: the model's last 2 weeks (10, 12) and the 2 before them (6, 8)
    np.testing.assert_array_equal(paths.window[:, 1], [10.0, 12.0])
    np.testing.assert_array_equal(paths.history[:, 1], [6.0, 8.0])
    assert paths.source == ["spend table", "media-mix model's last weeks"]
