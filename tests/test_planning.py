"""Budget planning: reach curves, scenarios, the optimiser and the plan command.

The attribution and CLV results here are small stand-ins built in this file with KNOWN
parameters (a posterior whose draws scatter around chosen values, CLV per channel chosen by
hand), so that every expected answer can be computed independently. The end-to-end check on
simulated truth with the real models lives in ``test_planning_truth.py``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from attribution.features import RECENCY_EDGES_DAYS, recency_ages_days
from workbench.errors import InputError
from workbench.planning.optimise import Objective, optimise, parse_objective, repair
from workbench.planning.reach import fit_channel, touch_ratio
from workbench.planning.response import model_hazard
from workbench.planning.scenarios import read_scenarios

CHANNELS = ["display", "email", "search"]
TRUE_BETA = {"display": 0.0, "email": 0.02, "search": 0.05}
TRUE_K = {"display": 800.0, "email": 300.0, "search": 1500.0}  # currency per week
BASE_SPEND = {"display": 1000.0, "email": 200.0, "search": 1200.0}  # currency per week
CLV_BY_CHANNEL = {"display": 50.0, "email": 80.0, "search": 120.0}
N_WEEKS = 12
N_DRAWS = 60
EPOCH_MONDAY = pd.Timestamp("2024-01-01")


def standin_attribution(seed: int = 0) -> xr.Dataset:
    """attribution.nc-shaped Dataset: posterior draws around TRUE_BETA (display's effect ~0,
    non-negative as the real model's), random journey patterns, weekly touches from the true
    reach curves with 3% noise."""
    rng = np.random.default_rng(seed)
    n_c, n_b = len(CHANNELS), len(RECENCY_EDGES_DAYS)
    beta_mean = np.array([TRUE_BETA[c] for c in CHANNELS])
    beta = np.abs(beta_mean + rng.normal(0, 0.003, (1, N_DRAWS, n_c)))
    beta[..., 0] = np.abs(rng.normal(0, 0.0005, (1, N_DRAWS)))  # display: ~0 effect
    counts = rng.poisson(0.4, size=(4000, n_c, n_b)).clip(0, 3)
    counts = counts[counts.sum(axis=(1, 2)) > 0]
    uniq, n_journeys = np.unique(counts.reshape(len(counts), -1), axis=0, return_counts=True)
    weeks = pd.date_range(EPOCH_MONDAY, periods=N_WEEKS, freq="7D")
    spend = standin_weekly_spend(seed)
    touches = np.stack(
        [
            2000 * (1 - np.exp(-spend[c] / TRUE_K[c])) * rng.lognormal(0, 0.03, N_WEEKS)
            for c in CHANNELS
        ],
        axis=1,
    )
    ds = xr.Dataset(
        {
            "baseline": (("chain", "draw"), 0.01 + rng.normal(0, 0.0005, (1, N_DRAWS))),
            "beta": (("chain", "draw", "channel"), beta),
            "decay": (("chain", "draw", "channel"), np.full((1, N_DRAWS, n_c), 0.1)),
            "saturation": (("chain", "draw", "channel"), np.full((1, N_DRAWS, n_c), 0.5)),
            "attributed_conversions": (
                ("chain", "draw", "channel"),
                np.abs(rng.normal([5.0, 40.0, 90.0], 3.0, (1, N_DRAWS, n_c))),
            ),
            "pattern_counts": (
                ("pattern", "channel", "recency_bin"),
                uniq.reshape(-1, n_c, n_b),
                {"ages_days": recency_ages_days(30.0).tolist()},
            ),
            "pattern_n_journeys": ("pattern", n_journeys),
            "weekly_touches": (("week", "channel"), touches),
            "observed_conversions": 200.0,
            "organic_conversions": 20.0,
        },
        coords={
            "chain": [0],
            "draw": np.arange(N_DRAWS),
            "channel": CHANNELS,
            "recency_bin": np.arange(n_b),
            "week": weeks,
        },
        attrs={"recency_ages_days": recency_ages_days(30.0).tolist()},
    )
    return ds


def standin_weekly_spend(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    return {c: BASE_SPEND[c] * rng.uniform(0.5, 1.5, N_WEEKS) for c in CHANNELS}


def standin_spend_table(seed: int = 0) -> pd.DataFrame:
    spend = standin_weekly_spend(seed)
    weeks = pd.date_range(EPOCH_MONDAY, periods=N_WEEKS, freq="7D")
    return pd.DataFrame(
        [
            {"channel": c, "period_start": w.strftime("%Y-%m-%d"), "spend": float(spend[c][i])}
            for c in CHANNELS
            for i, w in enumerate(weeks)
        ]
    )


def standin_clv() -> xr.Dataset:
    rng = np.random.default_rng(3)
    n = 90
    share = np.zeros((n, len(CHANNELS)))
    share[np.arange(n), np.arange(n) % len(CHANNELS)] = 1.0
    return xr.Dataset(
        {
            "clv": ("customer_id", rng.uniform(40, 140, n)),
            "monetary_value": ("customer_id", np.repeat([[20.0, 30.0, 40.0]], n // 3, 0).ravel()),
            "p_alive": ("customer_id", np.full(n, 0.7)),
            "acquisition_channel_share": (("customer_id", "channel"), share),
            "clv_by_channel": ("channel", [CLV_BY_CHANNEL[c] for c in CHANNELS]),
        },
        coords={"customer_id": [f"u{i}" for i in range(n)], "channel": CHANNELS},
    )


# --- reach ------------------------------------------------------------------------------------


def test_touch_ratio_matches_the_hand_computed_curve():
    k = np.array([[500.0, np.inf]])
    spend = np.array([[400.0, 100.0], [600.0, 300.0]])  # (week, channel)
    ratio = touch_ratio(np.array([2.0, 0.5]), k, spend)
    now = (1 - np.exp(-400 / 500)) + (1 - np.exp(-600 / 500))
    new = (1 - np.exp(-800 / 500)) + (1 - np.exp(-1200 / 500))
    assert ratio.shape == (1, 2)
    assert ratio[0, 0] == pytest.approx(new / now, rel=1e-12)
    assert ratio[0, 1] == pytest.approx(0.5, rel=1e-12)  # K = inf: touches proportional


def test_reach_fit_recovers_the_saturation_spend_within_its_interval():
    rng = np.random.default_rng(7)
    spend = rng.uniform(200, 2000, 30)
    touches = 5000 * (1 - np.exp(-spend / 900.0)) * rng.lognormal(0, 0.02, spend.size)
    fit = fit_channel("search", spend, touches)
    sd = np.sqrt(fit.cov[1, 1])
    assert abs(fit.log_k - np.log(900.0)) < 3 * sd
    assert sd < 0.2  # identified from spend varying 10x
    assert not fit.proportional


def test_reach_with_too_few_weeks_is_proportional_to_spend():
    fit = fit_channel("email", np.array([100.0, 200.0]), np.array([10.0, 20.0]))
    assert fit.proportional


# --- scenarios --------------------------------------------------------------------------------

CURRENT = {"display": 1000.0, "email": 200.0, "search": 1200.0}


def test_yaml_scenario_moves_a_share_of_spend_between_channels(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: display_to_search\n"
        "    move: [{from: display, to: search, share: 0.2}]\n"
        "  - name: mixed\n"
        "    change: {email: -0.5}\n"
        "    spend: {search: 1000}\n"
    )
    move, mixed = read_scenarios(path, CURRENT)
    assert move.spend == {"display": 800.0, "email": 200.0, "search": 1400.0}
    assert mixed.spend == {"display": 1000.0, "email": 100.0, "search": 1000.0}


def test_csv_scenarios_use_multipliers_per_channel(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("scenario,channel,multiplier\nboost,search,1.5\nboost,email,0\n")
    (boost,) = read_scenarios(path, CURRENT)
    assert boost.spend == {"display": 1000.0, "email": 0.0, "search": 1800.0}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.yaml", "scenarios:\n  - name: x\n    change: {tv: 0.1}\n"),
        ("s.yaml", "scenarios:\n  - name: x\n    move: [{from: display, to: tv, share: 0.1}]\n"),
        ("s.csv", "scenario,channel,change\nx,tv,0.1\n"),
    ],
)
def test_unknown_channel_in_scenarios_names_the_file_and_channel(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_scenarios(path, CURRENT)
    assert str(path) in str(err.value)
    assert "'tv'" in str(err.value)


def test_scenario_that_makes_spend_negative_is_rejected(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("scenarios:\n  - name: x\n    change: {email: -1.5}\n")
    with pytest.raises(InputError, match="negative"):
        read_scenarios(path, CURRENT)


# --- optimiser --------------------------------------------------------------------------------


def test_optimiser_finds_the_water_filling_optimum_of_a_concave_gain():
    # gain(x) = sum_c a_c log(1 + x_c / b_c): the optimum equalises a_c / (b_c + x_c) (=1/mu)
    # over channels strictly inside their bounds, solvable by hand.
    a, b = np.array([3.0, 2.0, 1.0]), np.array([1.0, 1.0, 1.0])
    budget = 6.0

    def gain(x):
        return np.atleast_1d(np.sum(a * np.log1p(x / b)))

    lower, upper = np.zeros(3), np.full(3, 10.0)
    best = optimise(gain, budget, lower, upper, np.array([2.0, 2.0, 2.0]), Objective("mean"))
    # sum (a_c * t - b_c) = budget with t = 1/mu: 6 t - 3 = 6 -> t = 1.5 -> x = (3.5, 2, 0.5)
    np.testing.assert_allclose(best.spend, [3.5, 2.0, 0.5], atol=1e-3)
    assert best.spend.sum() == pytest.approx(budget, abs=1e-9)


def test_optimiser_holds_the_budget_exactly_and_respects_bounds():
    a, b = np.array([3.0, 2.0, 1.0]), np.array([1.0, 1.0, 1.0])

    def gain(x):
        return np.atleast_1d(np.sum(a * np.log1p(x / b)))

    lower, upper = np.array([1.0, 0.0, 1.0]), np.array([2.0, 10.0, 10.0])
    best = optimise(gain, 7.3, lower, upper, np.array([1.5, 1.5, 1.5]), Objective("mean"))
    assert abs(best.spend.sum() - 7.3) <= 1e-12 * 7.3
    assert np.all(best.spend >= lower) and np.all(best.spend <= upper)
    assert best.spend[0] == pytest.approx(2.0, abs=1e-6)  # the best channel hits its cap


def test_repair_restores_budget_and_bounds_exactly():
    lower, upper = np.array([0.0, 1.0, 0.0]), np.array([5.0, 2.0, 5.0])
    x = repair(np.array([4.9, 2.5, 3.3]), 7.0, lower, upper)
    assert x.sum() == pytest.approx(7.0, abs=1e-12)
    assert np.all(x >= lower) and np.all(x <= upper)


def test_infeasible_budget_is_an_input_error():
    with pytest.raises(InputError, match="budget"):
        optimise(
            lambda x: np.zeros(1), 100.0, np.zeros(2), np.ones(2), np.ones(2), Objective("mean")
        )


def test_objective_parses_mean_and_lower_quantiles():
    assert parse_objective("mean").kind == "mean"
    assert parse_objective("q10").quantile == pytest.approx(0.10)
    assert parse_objective("q0.05").quantile == pytest.approx(0.05)
    with pytest.raises(InputError):
        parse_objective("q90")  # an upper quantile is not cautious


# --- response ---------------------------------------------------------------------------------


def with_synergy(ds: xr.Dataset) -> xr.Dataset:
    """The stand-in posterior plus a synergy pair (email x search), as the model writes it."""
    rng = np.random.default_rng(5)
    return ds.assign(
        synergy=(("chain", "draw", "channel_pair"), rng.uniform(0.0, 0.02, (1, N_DRAWS, 1)))
    ).assign_coords(
        channel_pair=["email*search"],
        pair_first=("channel_pair", ["email"]),
        pair_second=("channel_pair", ["search"]),
    )


def test_planning_hazard_equals_the_attribution_models_probability_for_a_common_scale():
    from attribution.probability import conversion_probability

    ds = with_synergy(standin_attribution())
    params = ds[["baseline", "beta", "decay", "saturation", "synergy"]]
    hazard = model_hazard(params, ds["pattern_counts"])
    scale = np.array([0.5, 1.0, 1.7])
    h, _ = hazard.parts(np.tile(scale, (hazard.n_samples, 1)))
    theirs = conversion_probability(params, ds["pattern_counts"], exposure_scale=scale)
    np.testing.assert_allclose(-np.expm1(-h), theirs.values[0], rtol=1e-10)


def test_channel_parts_sum_to_the_hazard_above_baseline_and_split_synergy_evenly():
    ds = with_synergy(standin_attribution())
    hazard = model_hazard(
        ds[["baseline", "beta", "decay", "saturation", "synergy"]], ds["pattern_counts"]
    )
    scale = np.tile([1.0, 1.3, 0.8], (hazard.n_samples, 1))
    h, part = hazard.parts(scale)
    np.testing.assert_allclose(part.sum(axis=0), h - hazard.baseline[:, None], atol=1e-14)
    # display (channel 0) is in no synergy pair: its part is all it adds to the hazard.
    without = scale.copy()
    without[:, 0] = 0.0
    np.testing.assert_allclose(part[0], h - hazard.parts(without)[0], atol=1e-14)
    # email and search share their synergy term: each part is beta s + half the term, so the
    # two parts together are what removing both takes away.
    neither = scale.copy()
    neither[:, 1:] = 0.0
    np.testing.assert_allclose(part[1] + part[2], h - hazard.parts(neither)[0], atol=1e-14)


# --- plan end to end on stand-ins -------------------------------------------------------------


@pytest.fixture(scope="module")
def standin_files(tmp_path_factory):
    from workbench.store import write_results

    folder = tmp_path_factory.mktemp("plan")
    write_results(standin_attribution(), folder / "attribution.nc")
    write_results(standin_clv(), folder / "clv.nc")
    standin_spend_table().to_csv(folder / "spend.csv", index=False)
    (folder / "scenarios.yaml").write_text(
        "scenarios:\n"
        "  - name: cut_display\n"
        "    change: {display: -1.0}\n"
        "  - name: display_to_search\n"
        "    move: [{from: display, to: search, share: 0.5}]\n"
        "  - name: cut_search\n"
        "    change: {search: -0.5}\n"
    )
    return folder


@pytest.fixture(scope="module")
def standin_plan(standin_files):
    from workbench.api import plan

    f = standin_files
    return plan(
        f / "attribution.nc",
        f / "clv.nc",
        f / "spend.csv",
        scenarios=f / "scenarios.yaml",
        bounds=(0.5, 2.0),
        max_draws=40,
        optimiser_draws=20,
    )


def test_plan_has_the_contract_dims_and_the_optimised_scenario(standin_plan):
    ds = standin_plan
    assert list(ds["scenario"].values) == [
        "current",
        "cut_display",
        "display_to_search",
        "cut_search",
        "optimised",
    ]
    assert ds["spend"].dims == ("scenario", "channel")
    assert ds["conversions"].dims == ("scenario", "draw")
    assert ds["response_conversions"].dims == ("channel", "multiplier", "draw")
    assert ds["kpi"].dims == ("channel", "metric")


def test_optimised_allocation_spends_the_budget_exactly_within_bounds(standin_plan):
    spend = standin_plan["spend"]
    current = spend.sel(scenario="current").values
    best = spend.sel(scenario="optimised").values
    assert abs(best.sum() - current.sum()) <= 1e-9 * current.sum()
    assert np.all(best >= 0.5 * current - 1e-9) and np.all(best <= 2.0 * current + 1e-9)
    # display has no effect and the lowest CLV: the optimiser moves money away from it.
    assert best[0] == pytest.approx(0.5 * current[0], rel=1e-4)


def test_cutting_a_zero_effect_channel_shows_no_material_loss(standin_plan):
    row = standin_plan.sel(scenario="cut_display")
    total = float(standin_plan["conversions"].sel(scenario="current").mean())
    material = 0.01 * total  # 1% of conversions
    # Effects are non-negative, so each draw loses a hair; the loss must be immaterial and its
    # interval must reach (within 1% of conversions) zero.
    assert abs(float(row.delta_conversions_mean)) < material
    assert float(row.delta_conversions_q05) > -2 * material
    assert float(row.delta_conversions_q95) > -material
    cut_search = standin_plan.sel(scenario="cut_search")
    assert float(cut_search.delta_conversions_q95) < -2 * material  # a real channel does matter


def test_cutting_search_loses_what_the_known_model_predicts(standin_plan, standin_files):
    # Independent check: evaluate the stand-in posterior's parameters by hand at the touch
    # ratio implied by the fitted K, with search's touches thinned as the fitted audience says:
    # a share 1 - q_r / q of its journeys lose it, the rest keep r q / q_r of their exposure.
    ds = standin_attribution()
    ratio = float(
        touch_ratio(
            np.array([1.0, 1.0, 0.5]),
            standin_plan["reach_k"].values,
            np.stack(list(standin_weekly_spend().values()), axis=1),
        )[:, 2].mean()
    )
    m = float(standin_plan["audience_m"].sel(channel="search").median())
    k = float(standin_plan["audience_k"].sel(channel="search").median())
    q, q_r = 1 - (1 + m / k) ** -k, 1 - (1 + ratio * m / k) ** -k
    lost, kept_scale = 1 - q_r / q, ratio * q / q_r
    counts = ds["pattern_counts"].values.astype(float)
    # each recency bin weighs its touches by the mean decay over the bin (days 0-1, 1-7, 7-30)
    edges = [*RECENCY_EDGES_DAYS, 30.0]
    w = np.array(
        [
            (np.exp(-0.1 * lo) - np.exp(-0.1 * hi)) / (0.1 * (hi - lo))
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    )
    e = (counts * w).sum(-1)  # (pattern, channel)
    s = np.expm1(-0.5 * e) / np.expm1(-0.5)
    s_kept = np.expm1(-0.5 * e[:, 2] * kept_scale) / np.expm1(-0.5)
    beta = ds["beta"].values[0]  # (draw, channel)
    h0 = ds["baseline"].values[0][None, :]
    n = ds["pattern_n_journeys"].values[:, None]
    now = (1 - np.exp(-(h0 + s @ beta.T))) * n
    others = np.exp(-(h0 + s[:, :2] @ beta[:, :2].T))  # (pattern, draw)
    search = lost + (1 - lost) * np.exp(-s_kept[:, None] * beta[None, :, 2])
    cut = (1 - others * search) * n
    expected = (cut.sum(0) - now.sum(0)).mean()
    got = float(standin_plan.sel(scenario="cut_search").delta_conversions_mean)
    assert 0 < lost < 1
    assert got == pytest.approx(expected, rel=0.05)


def test_kpis_follow_their_definitions_on_the_standins(standin_plan):
    ds = standin_plan
    spend = ds["spend"].sel(scenario="current")
    conv = standin_attribution()["attributed_conversions"].mean(("chain", "draw"))
    kpi = ds["kpi"]
    np.testing.assert_allclose(kpi.sel(metric="spend"), spend)
    np.testing.assert_allclose(kpi.sel(metric="cpa"), spend / conv, rtol=1e-9)
    # 30 customers credited to each channel in the stand-in CLV file.
    np.testing.assert_allclose(kpi.sel(metric="cac"), spend / 30.0, rtol=1e-9)
    np.testing.assert_allclose(kpi.sel(metric="aov"), [20.0, 30.0, 40.0])
    np.testing.assert_allclose(kpi.sel(metric="clv_to_cac"), [50, 80, 120] / (spend / 30.0))
    assert np.all(ds["kpi_lower"].sel(metric="cpa") <= kpi.sel(metric="cpa"))
    assert np.all(ds["kpi_upper"].sel(metric="cpa") >= kpi.sel(metric="cpa"))


def test_response_curves_rise_with_spend_for_a_channel_with_effect(standin_plan):
    curve = standin_plan["response_conversions"].sel(channel="search").mean("draw").values
    assert np.all(np.diff(curve) > 0)
    # Diminishing returns: each extra step of spend buys less.
    steps = np.diff(curve) / np.diff(standin_plan["multiplier"].values)
    assert steps[-1] < steps[0]


def run_plan_cli(files, scenarios, out, *extra: str) -> subprocess.CompletedProcess:
    """``workbench plan`` in a subprocess on the stand-in files, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "plan",
            "--attribution",
            str(files / "attribution.nc"),
            "--clv",
            str(files / "clv.nc"),
            "--spend",
            str(files / "spend.csv"),
            "--scenarios",
            str(scenarios),
            *extra,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_unknown_channel_exits_2_and_writes_nothing(standin_files, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: x\n    change: {tv: 0.2}\n")
    out = tmp_path / "plan.nc"
    proc = run_plan_cli(standin_files, bad, out)
    assert proc.returncode == 2
    assert "tv" in proc.stderr and str(bad) in proc.stderr
    assert not out.exists()


def test_cli_writes_a_plan_that_reads_back_with_the_scenarios(standin_files, tmp_path):
    from workbench.store import read_results

    out = tmp_path / "plan.nc"
    proc = run_plan_cli(standin_files, standin_files / "scenarios.yaml", out, "--objective", "q10")
    assert proc.returncode == 0, proc.stderr
    assert "cut_display" in proc.stdout and "optimised (q10)" in proc.stdout
    ds = read_results(out)
    assert list(ds["scenario"].values)[-1] == "optimised"
    assert ds.attrs["settings"]["objective"] == "q10"
    spend = ds["spend"]
    assert float(spend.sel(scenario="optimised").sum()) == pytest.approx(
        float(spend.sel(scenario="current").sum()), rel=1e-12
    )


def test_spend_on_a_channel_the_attribution_does_not_know_is_an_input_error(
    standin_files, tmp_path
):
    from workbench.api import plan

    spend = standin_spend_table()
    spend.loc[0, "channel"] = "tv"
    path = tmp_path / "spend.csv"
    spend.to_csv(path, index=False)
    f = standin_files
    with pytest.raises(InputError) as err:
        plan(f / "attribution.nc", f / "clv.nc", path)
    assert "tv" in str(err.value) and str(path) in str(err.value)


def test_customer_value_is_first_order_plus_clv_with_the_sampling_error_of_a_mean():
    from workbench.planning.value import customer_worth, worth_draws

    clv = standin_clv()
    worth, baseline, _ = customer_worth(clv, CHANNELS)
    np.testing.assert_allclose(worth, [20 + 50, 30 + 80, 40 + 120])
    assert baseline == pytest.approx(30.0 + float(clv["clv"].mean()))
    draws = worth_draws(clv, CHANNELS, worth, 20_000, seed=0)
    per_customer = clv["monetary_value"].values + clv["clv"].values
    # 30 customers credited wholly to each channel: sd = sd(values) / sqrt(30).
    expected_sd = np.std(per_customer, ddof=1) / np.sqrt(30)
    np.testing.assert_allclose(draws.std(axis=0), expected_sd, rtol=0.03)
    np.testing.assert_allclose(draws.mean(axis=0), worth, rtol=0.01)


def test_single_channel_journeys_check_who_newly_reached_people_are_like():
    from workbench.planning.response import single_channel_check

    ds = standin_attribution()
    hazard = model_hazard(ds[["baseline", "beta", "decay", "saturation"]], ds["pattern_counts"])
    n = 20.0 * ds["pattern_n_journeys"].values  # enough journeys for a sharp check
    # Conversions drawn from the stand-in's own mean model: the check must find them fitting.
    h, _ = hazard.parts(np.ones((hazard.n_samples, len(CHANNELS))))
    p = -np.expm1(-h).mean(axis=0)
    rng = np.random.default_rng(1)
    converted = rng.binomial(n.astype(int), p).astype(float)
    check = single_channel_check(hazard, n, converted, CHANNELS, seed=0)
    observed, lo, hi = (
        check[v].values
        for v in (
            "single_channel_observed",
            "single_channel_expected_lower",
            "single_channel_expected_upper",
        )
    )
    assert np.all(check["single_channel_journeys"].values > 2000)
    assert np.all((lo <= observed) & (observed <= hi))
    # Single-search journeys converting three times as often as the model says: flagged.
    only_search = (hazard.codes[:, 2] > 0) & (hazard.codes[:, :2].sum(axis=1) == 0)
    inflated = np.where(only_search, np.minimum(3 * converted, n), converted)
    check = single_channel_check(hazard, n, inflated, CHANNELS, seed=0)
    assert (
        check["single_channel_observed"].values[2]
        > check["single_channel_expected_upper"].values[2]
    )
