"""The simulator with known truth: determinism, contracts, the truth's properties, true outcomes."""

from __future__ import annotations

import hashlib
import itertools
from math import factorial

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.errors import InputError
from workbench.sim.purchases import draw_purchases, expected_repeat_purchases
from workbench.sim.response import TrueConversionModel
from workbench.sim.scenarios import BGNBD, CHANNELS, SCENARIOS, GammaGamma
from workbench.sim.spend import reach_for
from workbench.simulate import credit, read_truth, shapley_values, simulate, true_outcomes, write

USERS = 4_000
SEED = 7


@pytest.fixture(scope="module")
def sim():
    return simulate(users=USERS, weeks=12, scenario="default", seed=SEED)


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path, fmt):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write(simulate(users=1_500, weeks=6, seed=seed), tmp_path / name, fmt=fmt)
        runs[name] = _digest(tmp_path / name)
    assert set(runs["a"]) == {
        f"{t}.{fmt}" for t in ("touchpoints", "conversions", "transactions", "spend")
    } | {"truth.json"}
    assert runs["a"] == runs["b"]
    assert all(runs["a"][f] != runs["c"][f] for f in runs["a"])


def test_tables_follow_the_data_contract(sim):
    assert list(sim.touchpoints.columns) == ["user_id", "timestamp", "channel"]
    assert list(sim.conversions.columns) == ["user_id", "timestamp", "value"]
    assert list(sim.transactions.columns) == ["customer_id", "timestamp", "amount"]
    assert list(sim.spend.columns) == ["channel", "period_start", "period_end", "spend"]
    for frame in (sim.touchpoints, sim.conversions, sim.transactions):
        assert pd.api.types.is_string_dtype(frame.iloc[:, 0])
        assert str(frame["timestamp"].dtype) == "datetime64[us]"
        assert frame.notna().all().all()
    assert (sim.conversions["value"] > 0).all() and (sim.transactions["amount"] > 0).all()
    assert (sim.spend["period_start"].dt.dayofweek == 0).all()  # Mondays
    assert ((sim.spend["period_end"] - sim.spend["period_start"]).dt.days == 6).all()
    assert (sim.spend["spend"] > 0).all() and len(sim.spend) == 6 * 12


def test_each_user_converts_at_most_once_after_their_last_touch(sim):
    conv = sim.conversions
    assert conv["user_id"].is_unique
    last = sim.touchpoints.groupby("user_id")["timestamp"].max()
    touched = conv[conv["user_id"].isin(last.index)]
    assert (touched["timestamp"].to_numpy() > last[touched["user_id"]].to_numpy()).all()
    # Organic converters have no touches at all; the truth counts them.
    organic = conv[~conv["user_id"].isin(last.index)]
    assert len(organic) == sim.truth["counts"]["organic_conversions"] > 0
    assert len(touched) == sim.truth["counts"]["touched_conversions"]


def test_every_converter_has_a_first_purchase_equal_to_the_conversion(sim):
    tx = sim.transactions.sort_values(["customer_id", "timestamp"])
    first = tx.groupby("customer_id").first()
    conv = sim.conversions.set_index("user_id").loc[first.index]
    assert set(first.index) == set(sim.conversions["user_id"])
    assert (first["timestamp"] == conv["timestamp"]).all()
    np.testing.assert_allclose(first["amount"], conv["value"])
    # Repeat purchases run for 52 weeks past the touch period.
    assert tx["timestamp"].max() > pd.Timestamp(sim.truth["start_date"]) + pd.Timedelta(weeks=52)
    assert tx["timestamp"].max() <= pd.Timestamp(sim.truth["purchases_end_date"])


def test_six_channels_with_offline_channels_that_decay_slowly_or_fast(sim):
    truth = sim.truth
    assert truth["channels"] == sorted(truth["channels"]) == list(CHANNELS)
    assert {"direct_mail", "call_centre"} <= set(sim.touchpoints["channel"].unique())
    decay = truth["conversion_model"]["decay_per_day"]
    assert decay["direct_mail"] == min(decay.values())
    assert decay["call_centre"] == max(decay.values())
    beta = truth["conversion_model"]["beta"]
    assert beta["call_centre"] == max(beta.values())


def test_zero_effect_channel_gets_exactly_zero_truth_and_is_the_most_frequent(sim):
    truth = sim.truth
    assert truth["zero_effect_channels"] == ["display"]
    assert truth["shapley_shares"]["display"] == 0.0
    assert truth["shapley_conversions"]["display"] == 0.0
    assert truth["removal_effects"]["display"] == 0.0
    assert sim.touchpoints["channel"].value_counts().idxmax() == "display"
    # ... so last-touch credit gives it a large share of conversions it did not cause.
    tp = sim.touchpoints.merge(sim.conversions, on="user_id", suffixes=("", "_conv"))
    last = tp[tp["timestamp"] < tp["timestamp_conv"]].sort_values("timestamp")
    last_touch = last.groupby("user_id")["channel"].last().value_counts(normalize=True)
    assert last_touch["display"] > 0.2


def test_shares_sum_to_one_and_credit_sums_to_expected_minus_baseline(sim):
    truth = sim.truth
    assert sum(truth["shapley_shares"].values()) == pytest.approx(1.0)
    credited = sum(truth["shapley_conversions"].values())
    expected = truth["expected"]["touched_conversions"] - truth["baseline_conversions"]
    assert credited == pytest.approx(expected, rel=1e-9)
    rate = truth["counts"]["touched_conversions"] / truth["counts"]["touched_journeys"]
    assert 0.03 <= rate <= 0.08


def test_synergy_pair_raises_the_hazard_beyond_the_sum_of_its_parts():
    s = np.zeros((4, len(CHANNELS)))
    a, b = CHANNELS.index("social"), CHANNELS.index("paid_search")
    s[1, a] = s[2, b] = 1.0
    s[3, [a, b]] = 1.0
    for name, gamma in (("default", 0.020), ("logistic", 0.8), ("additive", 0.0)):
        h = TrueConversionModel.from_scenario(SCENARIOS[name], CHANNELS).hazard_saturated(s)
        assert h[3] - h[1] - h[2] + h[0] == pytest.approx(gamma)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_shapley_is_efficient_and_ignores_absent_channels(scenario):
    model = TrueConversionModel.from_scenario(SCENARIOS[scenario], CHANNELS)
    rng = np.random.default_rng(0)
    exposures = rng.gamma(0.7, 1.0, size=(500, len(CHANNELS))) * (rng.random((500, 6)) < 0.6)
    cr = credit(model, exposures, chunk=128)
    np.testing.assert_allclose(cr.shapley.sum(axis=1), cr.p_full - cr.p_empty, rtol=1e-10)
    np.testing.assert_allclose(cr.p_full, model.prob(exposures))
    assert (cr.shapley[exposures == 0] == 0.0).all()
    assert (cr.removal[exposures == 0] == 0.0).all()


def _permutation_shapley(v, n_players: int) -> np.ndarray:
    """Brute force: average marginal contribution over all orderings of the players."""
    phi = np.zeros(n_players)
    for order in itertools.permutations(range(n_players)):
        present: set[int] = set()
        for player in order:
            phi[player] += v(present | {player}) - v(present)
            present.add(player)
    return phi / factorial(n_players)


def test_shapley_matches_brute_force_permutations_on_a_three_channel_case():
    # P = 1 - exp(-H), H = 0.1 + 0.3 x0 + 0.2 x1 + 0 x2 + 0.5 x0 x1, exposures x = (1, 2, 3).
    x = np.array([[1.0, 2.0, 3.0]])

    def prob(e):
        return 1.0 - np.exp(-(0.1 + 0.3 * e[:, 0] + 0.2 * e[:, 1] + 0.5 * e[:, 0] * e[:, 1]))

    def v(players):
        mask = np.array([[i in players for i in range(3)]], dtype=float)
        return float(prob(x * mask)[0])

    expected = _permutation_shapley(v, 3)
    np.testing.assert_allclose(shapley_values(prob, x)[0], expected, rtol=1e-12)
    # Hand value for the null third channel and the efficiency identity.
    assert expected[2] == 0.0
    assert expected.sum() == pytest.approx(v({0, 1, 2}) - v(set()))


def test_reach_is_increasing_and_concave_in_spend():
    reach = reach_for(SCENARIOS["default"], CHANNELS, users=10_000)
    spend = np.linspace(0.0, 5.0, 51)[None, :] * reach.K[:, None]
    touches = reach.expected_touches(spend)
    assert (touches[:, 0] == 0).all()
    assert (np.diff(touches, axis=1) > 0).all()
    assert (np.diff(touches, n=2, axis=1) < 0).all()
    assert (touches < reach.A[:, None]).all()


def test_spend_varies_week_to_week_around_its_base(sim):
    by_channel = sim.spend.groupby("channel")["spend"]
    cv = by_channel.std() / by_channel.mean()
    assert ((cv > 0.08) & (cv < 0.3)).all()


def test_true_outcomes_at_current_spend_reproduce_the_truth(sim):
    truth = sim.truth
    same = true_outcomes(truth, {})
    assert same["conversions"] == pytest.approx(truth["expected"]["conversions"], rel=1e-12)
    assert same["value"] == pytest.approx(truth["expected"]["value_52w"], rel=1e-12)
    # Fresh worlds under the same plan agree up to sampling noise.
    avg = true_outcomes(truth, {c: 1.0 for c in truth["channels"]}, n_reps=3)
    assert avg["conversions"] == pytest.approx(truth["expected"]["conversions"], rel=0.05)
    # Realised conversions are a Binomial draw around the expectation.
    assert truth["counts"]["conversions"] == pytest.approx(avg["conversions"], rel=0.15)


def test_more_spend_on_an_effective_channel_raises_true_conversions_and_display_changes_nothing(
    sim,
):
    truth = sim.truth
    base = true_outcomes(truth, {})
    more_search = true_outcomes(truth, {"paid_search": 1.5})
    less_search = true_outcomes(truth, {"paid_search": 0.5})
    assert less_search["conversions"] < base["conversions"] < more_search["conversions"]
    assert base["value"] < more_search["value"]
    for mult in (0.0, 2.0):
        display = true_outcomes(truth, {"display": mult})
        assert display["conversions"] == base["conversions"]
        assert display["value"] == base["value"]


def test_true_outcomes_reject_unknown_channels_and_negative_multipliers(sim):
    with pytest.raises(InputError, match="tv"):
        true_outcomes(sim.truth, {"tv": 1.1})
    with pytest.raises(InputError, match=">= 0"):
        true_outcomes(sim.truth, {"email": -1.0})


def test_awareness_channels_come_first_and_search_comes_last():
    aware = simulate(users=3_000, weeks=8, scenario="awareness", seed=2)
    tp = aware.touchpoints.sort_values(["user_id", "timestamp"])
    multi = tp[tp.groupby("user_id")["user_id"].transform("size") >= 3]
    share = multi["channel"].value_counts(normalize=True)
    first = multi.groupby("user_id")["channel"].first().value_counts(normalize=True)
    last = multi.groupby("user_id")["channel"].last().value_counts(normalize=True)
    for channel in ("display", "social"):
        assert first[channel] > 1.2 * share[channel] > 1.2 * last.get(channel, 0.0)
    for channel in ("paid_search", "email"):
        assert last[channel] > 1.2 * share[channel] > 1.2 * first.get(channel, 0.0)
    truth = aware.truth
    assert truth["shapley_shares"]["display"] > 0.1 and truth["shapley_shares"]["email"] == 0.0


@pytest.mark.parametrize("channel", ["paid_search", "email", "organic"])
def test_repeat_purchases_follow_bgnbd_and_gamma_gamma(channel):
    lifetimes = pytest.importorskip("lifetimes")
    params = SCENARIOS["default"].bgnbd[channel]
    gg = SCENARIOS["default"].gamma_gamma
    # The closed form agrees with the peer library.
    fitter = lifetimes.BetaGeoFitter()
    fitter.params_ = pd.Series(vars(params))
    assert expected_repeat_purchases(params, 52.0) == pytest.approx(
        float(fitter.expected_number_of_purchases_up_to_time(52.0)), rel=1e-8
    )
    # Simulated customers reproduce it and the Gamma-Gamma mean order value.
    n = 20_000
    buys = draw_purchases(
        np.zeros(n),
        np.zeros(n, dtype=int),
        [channel],
        {channel: params},
        gg,
        52 * 7.0,
        np.random.default_rng(1),
    )
    repeats = np.bincount(buys.customer, minlength=n) - 1
    se = repeats.std() / np.sqrt(n)
    assert abs(repeats.mean() - expected_repeat_purchases(params, 52.0)) < 4 * se
    assert buys.amount.mean() == pytest.approx(gg.mean_order_value, rel=0.05)


def test_bgnbd_parameters_differ_by_acquisition_channel(sim):
    truth = sim.truth
    params = {c: tuple(p.values()) for c, p in truth["bgnbd"].items()}
    assert set(params) == set(CHANNELS) | {"organic"}
    assert len(set(params.values())) == len(params)
    assert sum(truth["acquired_customers"].values()) == truth["counts"]["conversions"]
    assert truth["acquired_customers"]["display"] == 0
    assert GammaGamma(**{k: truth["gamma_gamma"][k] for k in "pqv"}).mean_order_value == (
        pytest.approx(truth["gamma_gamma"]["mean_order_value"])
    )
    assert isinstance(SCENARIOS["default"].bgnbd["organic"], BGNBD)


def test_cli_simulate_prints_progress_and_writes_the_folder(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--out",
            str(out),
            "--users",
            "800",
            "--weeks",
            "4",
            "--seed",
            "5",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "touchpoints" in result.output and "truth.json" in result.output
    truth = read_truth(out)
    assert truth["users"] == 800 and truth["weeks"] == 4 and truth["seed"] == 5
    assert len(pd.read_csv(out / "spend.csv")) == 6 * 4


def test_cli_simulate_rejects_an_unknown_scenario_without_writing(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(main, ["simulate", "--out", str(out), "--scenario", "tv-heavy"])
    assert result.exit_code == 2
    assert "unknown scenario 'tv-heavy'" in result.output
    assert not out.exists()


def test_truth_per_journey_is_reproduced_from_the_written_touches(sim):
    """P of each converter, recomputed from the touchpoints file with the truth's equations."""
    truth, journeys = sim.truth, sim.journeys.set_index("user_id")
    model = TrueConversionModel.from_dict(truth["conversion_model"])
    tp = sim.touchpoints.merge(sim.conversions, on="user_id", suffixes=("", "_conv"))
    age = (tp["timestamp_conv"] - tp["timestamp"]).dt.total_seconds().to_numpy() / 86_400
    keep = (age > 0) & (age <= truth["lookback_days"])
    tp, age = tp[keep], age[keep]
    decay = tp["channel"].map(truth["conversion_model"]["decay_per_day"]).to_numpy(dtype=float)
    tp = tp.assign(weight=np.exp(-decay * age))
    exposures = tp.pivot_table("weight", "user_id", "channel", aggfunc="sum", fill_value=0.0)
    exposures = exposures.reindex(columns=list(CHANNELS), fill_value=0.0)
    expected = journeys.loc[exposures.index, "p_convert"].to_numpy()
    np.testing.assert_allclose(model.prob(exposures.to_numpy()), expected, rtol=1e-6)
    assert journeys.loc[exposures.index, "converted"].all()
    # Per-journey credit adds up to the channel totals, and the truth's model gives it back.
    shapley = journeys[[f"shapley_{c}" for c in CHANNELS]].to_numpy()
    np.testing.assert_allclose(shapley.sum(axis=0), list(truth["shapley_conversions"].values()))
    np.testing.assert_allclose(
        shapley_values(truth["conversion_model"], exposures.to_numpy()),
        journeys.loc[exposures.index, [f"shapley_{c}" for c in CHANNELS]].to_numpy(),
        rtol=1e-6,
        atol=1e-12,
    )


def test_truth_spend_response_reproduces_the_weekly_touch_counts(sim):
    truth = sim.truth
    week = sim.touchpoints["timestamp"].dt.to_period("W-SUN").dt.start_time
    counts = sim.touchpoints.groupby(["channel", week]).size()
    for channel in CHANNELS:
        resp = truth["spend_response"][channel]
        spend = np.array(resp["weekly_spend"])
        expected = resp["A"] * -np.expm1(-spend / resp["K"])
        got = counts[channel].to_numpy()
        assert resp["expected_weekly_touches"] == pytest.approx(expected.mean())
        # Poisson counts around the curve: within 5 standard deviations every week.
        assert (np.abs(got - expected) < 5 * np.sqrt(expected) + 1).all()


def test_truth_json_is_strict_json_and_reads_back_identically(sim, tmp_path):
    import json

    paths = write(sim, tmp_path / "sim")
    text = paths["truth"].read_text()
    strict = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON {name}"))
    assert strict == read_truth(tmp_path / "sim") == json.loads(json.dumps(sim.truth))
    assert strict["expected_clv_52w_credit_weighted"]["display"] is None
    # Credit-weighted CLV lies between the smallest and largest CLV per acquisition channel.
    clv = strict["expected_clv_52w"]
    for channel, value in strict["expected_clv_52w_credit_weighted"].items():
        if value is not None:
            assert min(clv.values()) <= value <= max(clv.values()), channel


def test_moving_decisions_agree_at_current_spend_and_gain_more_from_extra_search(sim):
    truth = sim.truth
    fixed = true_outcomes(truth, {"paid_search": 1.5})
    moving = true_outcomes(truth, {"paid_search": 1.5}, decisions="moving")
    same = true_outcomes(truth, {}, decisions="moving")
    assert same["conversions"] == pytest.approx(truth["expected"]["conversions"], rel=1e-12)
    # Fixed decision times waste the extra touches that land after a user's decision.
    assert moving["conversions"] > fixed["conversions"] > same["conversions"]
    with pytest.raises(InputError, match="decisions"):
        true_outcomes(truth, {}, decisions="sometimes")


def test_lifetimes_recovers_the_bgnbd_and_gamma_gamma_parameters_from_simulated_purchases():
    lifetimes = pytest.importorskip("lifetimes")
    params, gg = SCENARIOS["default"].bgnbd["paid_search"], SCENARIOS["default"].gamma_gamma
    n, end_days = 8_000, 64 * 7.0
    rng = np.random.default_rng(11)
    first = rng.uniform(0.0, 12 * 7.0, size=n)  # first orders during a 12-week touch period
    buys = draw_purchases(
        first, np.zeros(n, dtype=int), ["paid_search"], {"paid_search": params}, gg, end_days, rng
    )
    frame = pd.DataFrame({"c": buys.customer, "t": buys.time / 7.0, "amount": buys.amount})
    by = frame.groupby("c")
    first_w, last_w = by["t"].min(), by["t"].max()
    frequency = by.size() - 1
    bg = lifetimes.BetaGeoFitter().fit(frequency, last_w - first_w, end_days / 7.0 - first_w)
    for name in ("r", "alpha", "a", "b"):
        assert bg.params_[name] == pytest.approx(getattr(params, name), rel=0.15), name
    repeat = frame[frame.duplicated("c")].groupby("c")["amount"].mean()
    gamma = lifetimes.GammaGammaFitter().fit(frequency[repeat.index], repeat)
    fitted_mean = gamma.params_["p"] * gamma.params_["v"] / (gamma.params_["q"] - 1)
    assert fitted_mean == pytest.approx(gg.mean_order_value, rel=0.1)


def test_a_population_too_small_to_convert_still_gives_valid_empty_tables(tmp_path):
    tiny = simulate(users=2, weeks=1, seed=1)
    assert tiny.truth["counts"]["conversions"] == len(tiny.conversions) == 0
    assert list(tiny.transactions.columns) == ["customer_id", "timestamp", "amount"]
    write(tiny, tmp_path / "tiny")
    assert pd.read_parquet(tmp_path / "tiny" / "conversions.parquet").empty
