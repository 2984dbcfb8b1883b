"""The Bayesian conversion model recovers simulated truth; Laplace agrees with NUTS; checks."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from attribution.checks import (
    binomial_log_loss,
    holdout_log_loss,
    logistic_log_loss,
    posterior_predictive_checks,
)
from attribution.features import (
    as_patterns,
    bin_weights,
    decode_codes,
    encode_counts,
    exposure,
    log_bin_weights,
    recency_ages_days,
    saturation_curve,
)
from attribution.model import ConversionModel
from attribution.shapley import shapley_credit

CHANNELS = ("display", "email", "search", "social")
# Truth of the same functional form as the model: display has no effect at all.
TRUTH = {
    "baseline": 0.01,
    "beta": np.array([0.0, 0.03, 0.08, 0.015]),
    "decay": np.array([0.1, 0.2, 0.3, 0.05]),
    "saturation": np.array([0.5, 1.0, 0.7, 0.5]),
    "pairs": np.zeros((0, 2), dtype=int),
    "synergy": np.zeros(0),
}
PRESENCE = np.array([0.5, 0.3, 0.35, 0.4])  # P(channel touches a journey)
BIN_RATE = np.array([0.3, 0.8, 1.2])  # Poisson touches per recency bin when present
N_JOURNEYS = 50_000
HOLDOUT_FRACTION = 0.3
SAMPLER = {"draws": 200, "tune": 200, "chains": 2, "cores": 1}


def simulate_pattern_table(n_journeys: int, seed: int, truth: dict) -> pd.DataFrame:
    """Journeys -> conversions from P = 1 - exp(-H), collapsed to the pattern table."""
    rng = np.random.default_rng(seed)
    n_channels = len(CHANNELS)
    present = rng.random((n_journeys, n_channels)) < PRESENCE
    counts = rng.poisson(BIN_RATE, size=(n_journeys, n_channels, 3))
    empty = counts.sum(-1) == 0
    forced_bin = rng.integers(0, 3, size=(n_journeys, n_channels))
    counts[empty, forced_bin[empty]] = 1
    counts = np.minimum(counts * present[..., None], 3)[present.any(axis=1)]
    s = saturation_curve(exposure(counts, truth["decay"], recency_ages_days()), truth["saturation"])
    h = truth["baseline"] + s @ truth["beta"]
    for (a, b), g in zip(truth["pairs"], truth["synergy"], strict=True):
        h = h + g * s[:, a] * s[:, b]
    journeys = pd.DataFrame(encode_counts(counts), columns=[f"k_{c}" for c in range(n_channels)])
    journeys["holdout"] = rng.random(len(h)) < HOLDOUT_FRACTION
    journeys["converted"] = (rng.random(len(h)) < -np.expm1(-h)).astype(int)
    keys = [*[f"k_{c}" for c in range(n_channels)], "holdout"]
    return (
        journeys.groupby(keys)
        .agg(n_journeys=("converted", "size"), n_conversions=("converted", "sum"))
        .reset_index()
    )


def truth_posterior(truth: dict) -> xr.Dataset:
    """The true parameters as a one-draw posterior, so the credit code gives the true Shapley."""
    pairs = truth["pairs"]
    ds = xr.Dataset(
        {
            "baseline": (("chain", "draw"), [[truth["baseline"]]]),
            "beta": (("chain", "draw", "channel"), truth["beta"][None, None]),
            "decay": (("chain", "draw", "channel"), truth["decay"][None, None]),
            "saturation": (("chain", "draw", "channel"), truth["saturation"][None, None]),
        },
        coords={"chain": [0], "draw": [0], "channel": list(CHANNELS)},
    )
    if len(pairs):
        ds["synergy"] = (("chain", "draw", "channel_pair"), truth["synergy"][None, None])
        ds = ds.assign_coords(
            channel_pair=[f"{CHANNELS[a]}*{CHANNELS[b]}" for a, b in pairs],
            pair_first=("channel_pair", [CHANNELS[a] for a in pairs[:, 0]]),
            pair_second=("channel_pair", [CHANNELS[b] for b in pairs[:, 1]]),
        )
    ds.attrs["recency_ages_days"] = recency_ages_days().tolist()
    return ds


def channel_shares(credit: xr.Dataset) -> xr.DataArray:
    attributed = credit.attributed_conversions
    return attributed / attributed.sum("channel")


@pytest.fixture(scope="module")
def patterns():
    return as_patterns(simulate_pattern_table(N_JOURNEYS, seed=11, truth=TRUTH), CHANNELS)


@pytest.fixture(scope="module")
def true_shares(patterns):
    return channel_shares(shapley_credit(truth_posterior(TRUTH), patterns)).values.ravel()


@pytest.fixture(scope="module")
def nuts_fit(patterns):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # short chains may flag diagnostics
        return ConversionModel(
            CHANNELS,
            synergy=False,
            method="nuts",
            nuts_density_min_converting_patterns=10**9,  # the PyMC model
            seed=1,
            **SAMPLER,
        ).fit(patterns)


@pytest.fixture(scope="module")
def nuts_density_fit(patterns):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ConversionModel(
            CHANNELS,
            synergy=False,
            method="nuts",
            nuts_density_min_converting_patterns=0,  # the numpy density at any size
            seed=2,
            **SAMPLER,
        ).fit(patterns)


@pytest.fixture(scope="module")
def laplace_fit(patterns):
    # "auto" with a low threshold must pick the Laplace approximation
    return ConversionModel(
        CHANNELS, synergy=False, method="auto", nuts_max_converting_patterns=10, seed=1, **SAMPLER
    ).fit(patterns)


@pytest.mark.slow
def test_nuts_recovers_effect_signs_ordering_and_the_zero_effect_channel(nuts_fit):
    beta = nuts_fit.posterior_["beta"]
    mean = beta.mean(("chain", "draw")).to_series()
    assert list(mean.sort_values(ascending=False).index) == ["search", "email", "social", "display"]
    lower = beta.quantile(0.05, ("chain", "draw")).to_series()
    assert (lower[["email", "search", "social"]] > 0.003).all()
    assert mean["display"] < 0.2 * mean["social"]
    assert nuts_fit.posterior_.attrs["posterior_method"] == "nuts"
    expected_keys = {"rhat_max", "ess_bulk_min", "divergences", "diagnostics_ok"}
    assert set(nuts_fit.diagnostics_) >= expected_keys
    assert nuts_fit.posterior_["beta"].dims == ("chain", "draw", "channel")


@pytest.mark.slow
def test_nuts_shapley_shares_are_close_to_the_true_shapley_shares(nuts_fit, patterns, true_shares):
    shares = channel_shares(shapley_credit(nuts_fit.posterior_, patterns))
    mae = float(np.abs(shares.mean(("chain", "draw")).values - true_shares).mean())
    print(f"share MAE vs truth (NUTS, {N_JOURNEYS} journeys): {mae:.4f}")
    assert mae < 0.04
    lo = shares.quantile(0.05, ("chain", "draw")).values
    hi = shares.quantile(0.95, ("chain", "draw")).values
    covered = (lo <= true_shares) & (true_shares <= hi)
    assert covered.sum() >= 3, (lo, hi, true_shares)


@pytest.mark.slow
def test_nuts_on_the_numpy_density_agrees_with_nuts_on_the_pymc_model(nuts_fit, nuts_density_fit):
    """Large tables are sampled on attribution.density (numba row loop, no PyMC compile): the
    same posterior as the PyMC model's, within Monte Carlo error, started at its Laplace mode."""
    from attribution.density import ConversionDensity

    assert isinstance(nuts_density_fit.model_, ConversionDensity)
    assert nuts_density_fit.mode_ is not None and nuts_fit.mode_ is None
    assert nuts_density_fit.posterior_.attrs["posterior_method"] == "nuts"
    assert nuts_density_fit.diagnostics_["divergences"] == 0
    for name in ("baseline", "beta", "decay"):
        a, b = nuts_fit.posterior_[name], nuts_density_fit.posterior_[name]
        assert a.dims == b.dims
        sd = a.std(("chain", "draw"))
        # 400 draws each, ESS >= ~100: the difference of means has sd <= ~0.15 posterior sd
        diff = np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw")))
        assert (diff <= 0.5 * sd + 1e-12).all(), (name, diff.values, sd.values)
        ratio = b.std(("chain", "draw")) / sd
        if "channel" in ratio.dims:  # the no-effect channel's sd is its tail's: too noisy
            ratio = ratio.sel(channel=["email", "search", "social"])
        assert ((ratio > 0.7) & (ratio < 1.4)).all(), (name, ratio.values)


@pytest.mark.slow
def test_laplace_approximation_agrees_with_nuts(nuts_fit, laplace_fit, patterns):
    assert laplace_fit.method_ == "laplace"
    assert laplace_fit.posterior_.attrs["posterior_method"] == "laplace"
    nuts_beta = nuts_fit.posterior_["beta"]
    lap_beta = laplace_fit.posterior_["beta"]
    diff = np.abs(lap_beta.mean(("chain", "draw")) - nuts_beta.mean(("chain", "draw")))
    assert (diff < 2 * nuts_beta.std(("chain", "draw"))).all(), diff.values
    width = {
        name: (b.quantile(0.95, ("chain", "draw")) - b.quantile(0.05, ("chain", "draw")))
        for name, b in (("nuts", nuts_beta), ("laplace", lap_beta))
    }
    ratio = (width["laplace"] / width["nuts"]).sel(channel=["email", "search", "social"])
    assert ((ratio > 0.6) & (ratio < 1.6)).all(), ratio.values
    nuts_shares = channel_shares(shapley_credit(nuts_fit.posterior_, patterns))
    lap_shares = channel_shares(shapley_credit(laplace_fit.posterior_, patterns))
    share_diff = np.abs(nuts_shares.mean(("chain", "draw")) - lap_shares.mean(("chain", "draw")))
    assert float(share_diff.max()) < 0.04, share_diff.values


@pytest.mark.slow
def test_laplace_started_at_a_previous_mode_returns_that_mode_in_fewer_iterations(
    laplace_fit, patterns
):
    warm = dataclasses.replace(laplace_fit, start=laplace_fit.mode_.x).fit(patterns)
    assert warm.mode_.log_density == pytest.approx(laplace_fit.mode_.log_density, abs=1e-4)
    np.testing.assert_allclose(
        warm.posterior_["beta"].mean().item(),
        laplace_fit.posterior_["beta"].mean().item(),
        rtol=1e-3,
    )
    assert warm.mode_.iterations < laplace_fit.mode_.iterations


@pytest.mark.slow
def test_same_seed_gives_the_same_posterior(laplace_fit, patterns):
    again = ConversionModel(CHANNELS, synergy=False, method="laplace", seed=1, **SAMPLER).fit(
        patterns
    )
    xr.testing.assert_equal(again.posterior_["beta"], laplace_fit.posterior_["beta"])
    other = ConversionModel(CHANNELS, synergy=False, method="laplace", seed=2, **SAMPLER)
    other.fit(patterns)
    assert not np.allclose(other.posterior_["beta"].values, laplace_fit.posterior_["beta"].values)


@pytest.mark.slow
def test_posterior_predictive_covers_conversions_by_path_length_and_channel(nuts_fit, patterns):
    ppc = posterior_predictive_checks(nuts_fit.posterior_, patterns)
    for dim in ("path_length", "channel"):
        observed = ppc[f"observed_by_{dim}"]
        inside = (ppc[f"predicted_by_{dim}_q05"] <= observed) & (
            observed <= ppc[f"predicted_by_{dim}_q95"]
        )
        assert float(inside.mean()) >= 0.7, ppc
    total = float(ppc["observed_by_channel"].sel(channel="search"))
    assert total == patterns.n_conversions[patterns.codes[:, 2] > 0].sum()


@pytest.mark.slow
def test_model_beats_or_matches_logistic_regression_on_held_out_journeys(laplace_fit, patterns):
    losses = holdout_log_loss(laplace_fit, patterns)
    test = patterns.subset(patterns.holdout)
    rate = patterns.subset(~patterns.holdout)
    constant = binomial_log_loss(
        np.full(test.n_patterns, rate.n_conversions.sum() / rate.n_journeys.sum()),
        test.n_journeys,
        test.n_conversions,
    )
    print(f"held-out log-loss: {losses} (constant rate {constant:.5f})")
    assert losses["bayes"] < constant
    assert losses["logistic"] < constant
    assert losses["bayes"] <= losses["logistic"] * 1.002


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_logistic_baseline_matches_the_rate_when_counts_do_not_matter():
    # every journey identical: the logistic fit reduces to the observed rate
    table = pd.DataFrame(
        {"k_0": [1, 1], "k_1": [0, 0], "holdout": [False, True], "n_journeys": [1000, 500]}
    )
    table["n_conversions"] = [100, 40]
    pats = as_patterns(table, ["a", "b"])
    loss = logistic_log_loss(pats.subset(~pats.holdout), pats.subset(pats.holdout))
    expected = -(40 * np.log(0.1) + 460 * np.log(0.9)) / 500
    assert loss == pytest.approx(expected, rel=1e-6)


def test_codes_decode_to_capped_counts_per_recency_bin():
    # code = n_0 + 4 n_1 + 16 n_2 with n_b capped at 3; b = 0 is the most recent bin
    np.testing.assert_array_equal(
        decode_codes(np.array([0, 1, 4, 16, 63, 27]), 3),
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 3, 3], [3, 2, 1]],
    )
    assert encode_counts(np.array([[5, 2, 1]])).tolist() == [27]


def test_recency_ages_follow_the_lookback():
    np.testing.assert_allclose(recency_ages_days(30), [0.5, 4.0, 18.5])
    np.testing.assert_allclose(recency_ages_days(14), [0.5, 4.0, 10.5])
    with pytest.raises(ValueError, match="lookback_days"):
        recency_ages_days(5)


def test_a_recency_bin_weighs_its_touches_by_the_mean_decay_over_the_bin():
    """By hand: with a decay of 0.2 per day the 7-30 day bin weighs (e^-1.4 - e^-6) / 4.6 =
    0.0531 (its mid-point, 18.5 days, alone: 0.0247); the derivative in log decay matches a
    finite difference; a slow decay tends to the mid-points' exp(-decay age)."""
    ages = recency_ages_days(30)
    w = bin_weights(np.array([0.2]), ages)[0]
    hand = [
        (1 - np.exp(-0.2)) / 0.2,
        (np.exp(-0.2) - np.exp(-1.4)) / (0.2 * 6),
        (np.exp(-1.4) - np.exp(-6.0)) / (0.2 * 23),
    ]
    np.testing.assert_allclose(w, hand, rtol=1e-12)
    assert w[2] == pytest.approx(0.0531, abs=1e-4) and np.exp(-0.2 * 18.5) < 0.025
    decay = np.array([0.003, 0.2, 5.0])
    _, slope = log_bin_weights(decay, ages)
    eps = 1e-6
    up, _ = log_bin_weights(decay * np.exp(eps), ages)
    down, _ = log_bin_weights(decay * np.exp(-eps), ages)
    np.testing.assert_allclose(slope, (up - down) / (2 * eps), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bin_weights(np.array([1e-5]), ages)[0], np.exp(-1e-5 * ages))
    counts = np.array([[[1.0, 2.0, 3.0]]])  # (pattern, channel, bin)
    assert exposure(counts, np.array([0.2]), ages)[0, 0] == pytest.approx(
        hand[0] + 2 * hand[1] + 3 * hand[2]
    )


def test_bad_pattern_tables_are_rejected_with_the_column_and_rows():
    good = pd.DataFrame(
        {"k_0": [1, 2], "k_1": [0, 5], "n_journeys": [3, 4], "n_conversions": [1, 0]}
    )
    with pytest.raises(ValueError, match=r"missing column\(s\) \['k_1'\]"):
        as_patterns(good.drop(columns="k_1"), ["a", "b"])
    bad = good.assign(n_conversions=[1, 9])
    with pytest.raises(ValueError, match=r"n_conversions.*row\(s\) \[1\]"):
        as_patterns(bad, ["a", "b"])
    with pytest.raises(ValueError, match="code above 63"):
        as_patterns(good.assign(k_0=[64, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="no conversions"):
        ConversionModel(["a", "b"]).fit(good.assign(n_conversions=[0, 0]))
    with pytest.raises(ValueError, match="method must be"):
        ConversionModel(["a", "b"], method="advi").fit(good)
