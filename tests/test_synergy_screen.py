"""The synergy screen: its score is the log-likelihood's slope, and it keeps the true pair only."""

from __future__ import annotations

import numpy as np
import pytest
from test_attribution_model import CHANNELS, TRUTH, simulate_pattern_table

from attribution.features import (
    as_patterns,
    exposure,
    recency_ages_days,
    saturation_curve,
)
from attribution.model import ConversionModel
from attribution.synergy import score_statistics

AGES = recency_ages_days()
PAIRS = np.array([[0, 1], [1, 2], [2, 3]])
# search x social has a real synergy; every other pair is null.
WITH_SYNERGY = {**TRUTH, "pairs": np.array([[2, 3]]), "synergy": np.array([0.06])}


def truth_response(patterns) -> np.ndarray:
    """s (pattern, channel) of the TRUTH model."""
    return saturation_curve(
        exposure(patterns.counts(len(AGES)), TRUTH["decay"], AGES), TRUTH["saturation"]
    )


def truth_statistics(patterns) -> tuple[np.ndarray, np.ndarray]:
    """Score and information of PAIRS at the TRUTH parameters."""
    return score_statistics(
        patterns, PAIRS, TRUTH["baseline"], TRUTH["beta"], TRUTH["decay"], TRUTH["saturation"], AGES
    )


def log_likelihood(patterns, pair, gamma: float) -> float:
    """Binomial log-likelihood of the TRUTH model plus ``gamma`` on ``pair`` (no constants)."""
    s = truth_response(patterns)
    h = TRUTH["baseline"] + s @ TRUTH["beta"] + gamma * s[:, pair[0]] * s[:, pair[1]]
    k, n = patterns.n_conversions, patterns.n_journeys
    return float(np.sum(k * np.log(-np.expm1(-h)) - (n - k) * h))


@pytest.fixture(scope="module")
def small_patterns():
    return as_patterns(simulate_pattern_table(5_000, seed=3, truth=TRUTH), CHANNELS)


def test_score_is_the_slope_of_the_log_likelihood_in_the_synergy(small_patterns):
    score, _ = truth_statistics(small_patterns)
    step = 1e-6
    for q, pair in enumerate(PAIRS):
        slope = (
            log_likelihood(small_patterns, pair, step) - log_likelihood(small_patterns, pair, -step)
        ) / (2 * step)
        assert score[q] == pytest.approx(slope, rel=1e-5)


def test_information_is_the_schur_complement_of_the_fisher_matrix(small_patterns):
    """Efficient information = 1 / [(X'WX)^-1]_last for X = [1, s, s_c s_d] (nuisance removed)."""
    _, info = truth_statistics(small_patterns)
    s = truth_response(small_patterns)
    h = TRUTH["baseline"] + s @ TRUTH["beta"]
    w = small_patterns.n_journeys * np.exp(-h) / -np.expm1(-h)
    for q, (c, d) in enumerate(PAIRS):
        x = np.column_stack([np.ones(len(s)), s, s[:, c] * s[:, d]])
        fisher = x.T @ (w[:, None] * x)
        assert info[q] == pytest.approx(1.0 / np.linalg.inv(fisher)[-1, -1], rel=1e-6)


@pytest.mark.slow
def test_fit_keeps_the_true_synergy_pair_and_drops_the_null_pairs():
    table = simulate_pattern_table(60_000, seed=4, truth=WITH_SYNERGY)
    model = ConversionModel(CHANNELS, method="laplace", draws=50, chains=1, seed=1)
    model.fit(table)
    attrs = model.posterior_.attrs
    candidates = attrs["synergy_candidates"].split(", ")
    z = dict(zip(candidates, attrs["synergy_screen_z"], strict=True))
    assert len(candidates) == 6  # every pair co-converts often enough to be a candidate
    assert list(model.posterior_["channel_pair"].values) == ["search*social"]
    assert z["search*social"] > attrs["synergy_screen_threshold"]
    assert max(v for k, v in z.items() if k != "search*social") < attrs["synergy_screen_threshold"]


@pytest.mark.slow
def test_default_attribution_on_the_simulator_converges_with_nuts_and_drops_null_pairs():
    """20,000 simulated users with defaults: NUTS (auto at this size) passes its diagnostics,
    which it did not while all fifteen pairs carried synergy terms (R-hat 1.013 at 500 draws)."""
    from workbench.api import attribute
    from workbench.simulate import simulate

    sim = simulate(users=20_000, scenario="default", seed=1)
    ds = attribute(sim.touchpoints, sim.conversions, seed=1, holdout_check=False)
    assert ds.attrs["posterior_method"] == "nuts"
    assert ds.attrs["diagnostics_ok"] == 1
    candidates = ds.attrs["synergy_candidates"].split(", ")
    assert len(candidates) >= 10  # most pairs co-convert often enough to be candidates ...
    kept = list(ds["channel_pair"].values) if "channel_pair" in ds.dims else []
    assert all("display" not in pair for pair in kept)  # ... the zero-effect channel's are not kept
