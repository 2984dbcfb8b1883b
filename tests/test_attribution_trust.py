"""The attribution model checks itself and says so: roles in the journey, the criticism that
flags a model without them, a spike at zero for a no-effect channel, and the report's plain
words when a check fails."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from attribution.checks import criticism, posterior_predictive_checks
from attribution.features import (
    as_patterns,
    encode_counts,
    exposure,
    pattern_counts,
    recency_ages_days,
    saturation_curve,
)
from attribution.model import ConversionModel
from attribution.probability import conversion_probability, hazard_parts
from attribution.shapley import shapley_credit

CHANNELS = ("display", "email", "search", "social")
# display has no effect at all; social works mostly as the journey's opening touch
TRUTH = {
    "baseline": 0.01,
    "beta": np.array([0.0, 0.03, 0.08, 0.005]),
    "opening": np.array([0.0, 0.0, 0.0, 0.06]),
    "decay": np.array([0.1, 0.2, 0.3, 0.05]),
    "saturation": np.array([0.5, 1.0, 0.7, 0.5]),
}
PRESENCE = np.array([0.5, 0.3, 0.35, 0.45])
BIN_RATE = np.array([0.3, 0.8, 1.2])
LAPLACE = {"method": "laplace", "draws": 200, "chains": 2, "seed": 1, "synergy": False}
# the structure tests need no spike (one mode search per fit instead of one per weak channel)
NO_SPIKE = {**LAPLACE, "spike_and_slab": False}


def simulate_roles_table(n_journeys: int, seed: int, truth: dict = TRUTH) -> pd.DataFrame:
    """Journeys with an opening channel (uniform among the channels present) converting with
    P = 1 - exp(-H), H = baseline + sum_c (beta_c s_c + opening_c [first = c]); the pattern
    table with first and last channel (the last: uniform among channels with a recent touch,
    else among those present)."""
    rng = np.random.default_rng(seed)
    n_channels = len(CHANNELS)
    present = rng.random((n_journeys, n_channels)) < PRESENCE
    counts = rng.poisson(BIN_RATE, size=(n_journeys, n_channels, 3))
    empty = counts.sum(-1) == 0
    forced = rng.integers(0, 3, size=(n_journeys, n_channels))
    counts[empty, forced[empty]] = 1
    keep = present.any(axis=1)
    counts = np.minimum(counts * present[..., None], 3)[keep]
    present = present[keep]
    # uniform among the channels present: the largest of uniforms on the present ones
    first = np.argmax(present * rng.random(present.shape), axis=1)
    recent = counts[..., 0] > 0
    closing = np.where(recent.any(axis=1, keepdims=True), recent, present)
    last = np.argmax(closing * rng.random(closing.shape), axis=1)
    s = saturation_curve(exposure(counts, truth["decay"], recency_ages_days()), truth["saturation"])
    h = truth["baseline"] + s @ truth["beta"] + truth["opening"][first]
    table = pd.DataFrame(encode_counts(counts), columns=[f"k_{c}" for c in range(n_channels)])
    table["first_channel"] = first
    table["last_channel"] = last
    table["holdout"] = rng.random(len(h)) < 0.25
    table["converted"] = (rng.random(len(h)) < -np.expm1(-h)).astype(int)
    keys = [*[f"k_{c}" for c in range(n_channels)], "first_channel", "last_channel", "holdout"]
    return (
        table.groupby(keys)
        .agg(n_journeys=("converted", "size"), n_conversions=("converted", "sum"))
        .reset_index()
    )


@pytest.fixture(scope="module")
def roles_patterns():
    return as_patterns(simulate_roles_table(60_000, seed=3), CHANNELS)


@pytest.fixture(scope="module")
def fits(roles_patterns):
    without = ConversionModel(CHANNELS, roles=False, **NO_SPIKE).fit(roles_patterns)
    with_roles = ConversionModel(CHANNELS, roles=True, **NO_SPIKE).fit(roles_patterns)
    return without, with_roles


def _shares(posterior, patterns) -> xr.DataArray:
    credit = shapley_credit(posterior, patterns, pattern_shares=False)["attributed_conversions"]
    return credit / credit.sum("channel")


@pytest.mark.slow
def test_criticism_flags_the_model_without_roles_and_the_chosen_structure_passes(
    fits, roles_patterns
):
    without, with_roles = fits
    ppc_old = posterior_predictive_checks(without.posterior_, roles_patterns)
    old = criticism(ppc_old, {})
    assert old["model_ok"] == 0
    assert "social" in old["unreliable_channels"]
    assert "opening_channel=social" in ppc_old.attrs["ppc_failed"]
    # the screen gives social (and only social) an opening term, and the checks then pass
    assert [CHANNELS[c] for c in with_roles.opening_channels_] == ["social"]
    ppc_new = posterior_predictive_checks(with_roles.posterior_, roles_patterns)
    assert ppc_new.attrs["ppc_ok"] == 1, ppc_new.attrs["ppc_failed"]
    assert criticism(ppc_new, {})["model_ok"] == 1
    opening = with_roles.posterior_["opening"].sel(channel="social")
    assert abs(float(opening.mean()) - TRUTH["opening"][3]) < 3 * float(opening.std())


@pytest.mark.slow
def test_credit_with_roles_is_close_to_the_true_shapley_shares_of_the_roles_game(
    fits, roles_patterns
):
    truth = _truth_posterior()
    true_shares = _shares(truth, roles_patterns).values.ravel()
    without, with_roles = fits
    err_new = np.abs(_shares(with_roles.posterior_, roles_patterns).mean(("chain", "draw")))
    err_old = np.abs(_shares(without.posterior_, roles_patterns).mean(("chain", "draw")))
    mae_new = float(np.mean(np.abs(err_new.values - true_shares)))
    mae_old = float(np.mean(np.abs(err_old.values - true_shares)))
    print(f"share MAE with roles {mae_new:.4f}, without {mae_old:.4f}")
    assert mae_new < 0.02
    assert mae_new < mae_old


def _truth_posterior(truth: dict = TRUTH) -> xr.Dataset:
    def per_channel(x):
        return (("chain", "draw", "channel"), np.asarray(x, float)[None, None])

    ds = xr.Dataset(
        {
            "baseline": (("chain", "draw"), [[truth["baseline"]]]),
            "beta": per_channel(truth["beta"]),
            "opening": per_channel(truth["opening"]),
            "decay": per_channel(truth["decay"]),
            "saturation": per_channel(truth["saturation"]),
        },
        coords={"chain": [0], "draw": [0], "channel": list(CHANNELS)},
    )
    ds.attrs["recency_ages_days"] = recency_ages_days().tolist()
    return ds


def test_shapley_credit_with_roles_is_the_exact_shapley_value_of_the_roles_game():
    # one journey: display (bin 0), search (bin 1) and social (bin 2, its opening touch)
    counts = np.array([[[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]]])
    table = pd.DataFrame(encode_counts(counts), columns=["k_0", "k_1", "k_2", "k_3"])
    table = table.assign(first_channel=3, last_channel=0, n_journeys=1, n_conversions=1)
    patterns = as_patterns(table, CHANNELS)
    truth = _truth_posterior({**TRUTH, "beta": np.array([0.02, 0.03, 0.08, 0.005])})
    phi = shapley_credit(truth, patterns)["attributed_conversions"].values.ravel()
    # v(S) = 1 - exp(-(b + sum_{c in S} beta_c s_c + opening_c [c opened])), by enumeration
    s = saturation_curve(
        exposure(counts[0], truth["decay"].values[0, 0], recency_ages_days()),
        truth["saturation"].values[0, 0],
    )
    own = truth["beta"].values[0, 0] * s + np.array([0, 0, 0, TRUTH["opening"][3]])

    def v(subset):
        return -math.expm1(-(TRUTH["baseline"] + sum(own[c] for c in subset)))

    players = [0, 2, 3]
    expected = np.zeros(4)
    for c in players:
        others = [p for p in players if p != c]
        for size in range(len(others) + 1):
            for subset in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(len(players) - size - 1)
                expected[c] += weight / math.factorial(len(players)) * (v((*subset, c)) - v(subset))
    np.testing.assert_allclose(phi, expected, rtol=1e-10, atol=1e-15)
    assert phi[1] == 0.0  # email is absent: a null player
    assert phi.sum() == pytest.approx(v(players) - v(()))


def test_hazard_parts_agree_with_the_conversion_probability_and_remove_the_opening_term():
    counts = np.array(
        [[[1, 0, 0], [0, 2, 0], [0, 0, 0], [0, 0, 1]], [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]]
    )
    first = np.array([3, 2])
    truth = _truth_posterior()
    counts_da = xr.DataArray(
        counts,
        dims=("pattern", "channel", "recency_bin"),
        coords={"channel": list(CHANNELS)},
        attrs={"ages_days": recency_ages_days().tolist()},
    )
    parts, n = hazard_parts(truth, counts_da, first)
    h, contribution = parts(np.ones((n, len(CHANNELS))))
    p = conversion_probability(truth, counts, first_channel=first).values.reshape(n, -1)
    np.testing.assert_allclose(-np.expm1(-h), p, rtol=1e-12)
    # social opened journey 0: its part includes the opening term
    assert contribution[3, 0, 0] > TRUTH["opening"][3]
    # the parts add up to H - baseline; removing social (scale 0) removes its touches and its
    # opening term, i.e. exactly its part (no synergy here)
    np.testing.assert_allclose(contribution.sum(axis=0), h - TRUTH["baseline"], rtol=1e-12)
    scale = np.ones((n, len(CHANNELS)))
    scale[:, 3] = 0.0
    h_without, _ = parts(scale)
    np.testing.assert_allclose(h - h_without, contribution[3], rtol=1e-12)


@pytest.mark.slow
def test_a_no_effect_channel_gets_an_interval_that_includes_zero_at_200000_users():
    patterns = as_patterns(simulate_roles_table(200_000, seed=5), CHANNELS)
    fit = ConversionModel(CHANNELS, **LAPLACE).fit(patterns)
    p_effect = fit.posterior_["p_effect_positive"].to_series()
    assert p_effect["display"] < 0.5
    assert (p_effect[["email", "search", "social"]] > 0.99).all()
    shares = _shares(fit.posterior_, patterns)
    lower = shares.quantile(0.05, ("chain", "draw")).to_series()
    upper = shares.quantile(0.95, ("chain", "draw")).to_series()
    assert lower["display"] <= 0.0 <= upper["display"]  # exactly 0 up to rounding
    assert (lower[["email", "search", "social"]] > 0.0).all()


@pytest.mark.slow
def test_the_executive_summary_names_the_unreliable_channels_of_a_misspecified_fit(
    fits, roles_patterns, tmp_path: Path
):
    from workbench.report.executive import executive_summary
    from workbench.report.results import Results

    without, _ = fits  # deliberately misspecified: no roles on data with a role effect
    ppc = posterior_predictive_checks(without.posterior_, roles_patterns)
    flags = criticism(ppc, {"bayes": 0.20, "logistic": 0.21})
    attr = xr.Dataset(
        attrs={
            "model_ok": flags["model_ok"],
            "unreliable_channels": flags["unreliable_channels"],
            "criticism_reasons": flags["reasons"],
        }
    )
    html = executive_summary(Results(folder=tmp_path, attribution=attr)).body
    assert "unreliable" in html and "<strong>social</strong>" in html
    assert "social open" in html
    good = attr.assign_attrs(model_ok=1, unreliable_channels=[], criticism_reasons=[])
    assert "unreliable" not in executive_summary(Results(folder=tmp_path, attribution=good)).body


def test_the_report_gives_each_channel_its_chance_of_any_effect(tmp_path: Path):
    from workbench.report.executive import executive_summary
    from workbench.report.results import Results

    attr = xr.Dataset(
        {"p_effect_positive": ("channel", [0.02, 1.0, 1.0, 0.97])},
        coords={"channel": list(CHANNELS)},
        attrs={"model_ok": 1},
    )
    html = executive_summary(Results(folder=tmp_path, attribution=attr)).body
    assert "<strong>display</strong> (2%) may have no effect" in html
    assert "social" not in html  # 97%: likely an effect, not named


def test_forward_screen_finds_a_second_opening_channel_that_the_first_one_hides():
    # two opening channels: social's strong term, left out of the model, hides e-mail's weaker
    # one from a one-shot score test; tested again with social's term in, e-mail passes
    from attribution.synergy import SCREEN_ALPHA, screen_openings

    truth = {**TRUTH, "opening": np.array([0.0, 0.03, 0.0, 0.06])}
    one_shot, forward = [], []
    for seed in range(1, 6):
        patterns = as_patterns(simulate_roles_table(20_000, seed=seed, truth=truth), CHANNELS)
        base = ConversionModel(CHANNELS, roles=False, **NO_SPIKE).fit(patterns)
        mode = base.mode_.values(base.model_, ["baseline", "beta", "decay", "saturation"])
        first = screen_openings(patterns, mode, recency_ages_days(), SCREEN_ALPHA)
        one_shot.append(sorted(CHANNELS[c] for c in first.selected[:, 0]))
        fitted = ConversionModel(CHANNELS, roles=True, **NO_SPIKE).fit(patterns)
        forward.append(sorted(CHANNELS[c] for c in fitted.opening_channels_))
    print("one-shot", one_shot, "forward", forward)
    assert forward == [["email", "social"]] * 5
    assert sum(len(s) for s in one_shot) < 10


def test_predict_proba_of_a_fit_with_roles_includes_the_opening_terms(fits, roles_patterns):
    """P(convert) by pattern from predict_proba is the P the held-out log-loss scores (which
    looks up each pattern's opening channel); without it a role model's opening channels would
    count as later touches only."""
    from attribution.checks import binomial_log_loss, model_log_loss

    _, with_roles = fits
    assert len(with_roles.opening_channels_) > 0
    p = with_roles.predict_proba(roles_patterns).mean(("chain", "draw")).values
    n, k = roles_patterns.n_journeys, roles_patterns.n_conversions
    mine = binomial_log_loss(p, n, k)
    # the same P; model_log_loss uses 200 of the 400 draws, so equal to Monte Carlo error
    scored = model_log_loss(with_roles.posterior_, roles_patterns)
    assert mine == pytest.approx(scored, rel=1e-4)
    # what predict_proba gave before: every journey as if no channel opened it
    counts = pattern_counts(roles_patterns)
    blind = conversion_probability(with_roles.posterior_, counts).mean(("chain", "draw")).values
    assert abs(binomial_log_loss(blind, n, k) - scored) > 100 * abs(mine - scored)
