"""Default settings of ``workbench attribute`` that keep large runs fast: the held-out check
refits by the Laplace approximation whatever the main method, ``--method auto`` switches to
Laplace above ``NUTS_MAX_CONVERTING_PATTERNS`` converting patterns, and the results'
attrs name both methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution import checks
from attribution.features import as_patterns, recency_ages_days
from attribution.model import ConversionModel
from workbench.pipelines import attribution as command
from workbench.simulate import simulate

CHANNELS = ("display", "email", "search")
BETA = np.array([0.0, 0.04, 0.1])  # per-touch hazard of each channel
BASELINE = 0.02
N_JOURNEYS = 6_000
LAPLACE = {"draws": 40, "chains": 2, "seed": 7}


@pytest.fixture(scope="module")
def patterns():
    """A small pattern table with a journey split, conversions from an additive hazard."""
    rng = np.random.default_rng(11)
    counts = rng.poisson(0.6, size=(N_JOURNEYS, len(CHANNELS)))
    codes = np.minimum(counts, 3)  # every touch in the most recent recency bin
    converted = rng.random(N_JOURNEYS) < -np.expm1(-(BASELINE + np.minimum(counts, 3) @ BETA))
    holdout = rng.random(N_JOURNEYS) < 0.3
    frame = pd.DataFrame(codes, columns=[f"k_{c}" for c in range(len(CHANNELS))])
    frame["holdout"] = holdout
    frame["converted"] = converted.astype(int)
    table = (
        frame.groupby([*frame.columns[: len(CHANNELS)], "holdout"])
        .agg(n_journeys=("converted", "size"), n_conversions=("converted", "sum"))
        .reset_index()
    )
    return as_patterns(table, CHANNELS)


def test_held_out_refit_of_a_nuts_model_is_the_laplace_fit_on_the_training_split(patterns):
    # The model is never sampled: if the check ran NUTS, the numbers below would differ.
    nuts_model = ConversionModel(
        channels=CHANNELS, recency_ages_days=recency_ages_days(), method="nuts", **LAPLACE
    )
    losses = checks.holdout_log_loss(nuts_model, patterns)
    train, test = patterns.subset(~patterns.holdout), patterns.subset(patterns.holdout)
    # the refit scores the posterior-mean P and skips the spike-and-slab test (checks module)
    laplace = ConversionModel(
        channels=CHANNELS,
        recency_ages_days=recency_ages_days(),
        method="laplace",
        spike_and_slab=False,
        **LAPLACE,
    ).fit(train)
    assert losses["bayes"] == pytest.approx(checks.model_log_loss(laplace.posterior_, test))
    rate = train.n_conversions.sum() / train.n_journeys.sum()
    constant = checks.binomial_log_loss(
        np.full(test.n_patterns, rate), test.n_journeys, test.n_conversions
    )
    assert losses["bayes"] < constant  # the refit learned the channel effects


@pytest.fixture(scope="module")
def journeys():
    sim = simulate(users=2_000, weeks=6, scenario="default", seed=4)
    return sim.touchpoints[["user_id", "timestamp", "channel"]], sim.conversions


def test_auto_above_the_threshold_uses_laplace_and_attrs_name_both_methods(journeys, monkeypatch):
    touchpoints, conversions = journeys
    # Threshold below this data's converting patterns (it has dozens): auto must pick Laplace.
    monkeypatch.setattr(command, "NUTS_MAX_CONVERTING_PATTERNS", 1)
    ds = command.attribute(touchpoints, conversions, method="auto", draws=40, tune=40, seed=2)
    assert ds.attrs["posterior_method"] == "laplace"
    assert ds.attrs["holdout_refit_method"] == "laplace"
    assert set(ds.attrs["holdout_log_loss"]) == {"bayes", "logistic", "boosted_trees", "markov"}


def test_without_the_holdout_check_attrs_say_the_refit_was_not_run(journeys):
    touchpoints, conversions = journeys
    ds = command.attribute(
        touchpoints, conversions, method="laplace", draws=40, seed=2, holdout_check=False
    )
    assert ds.attrs["holdout_refit_method"] == "not run"
    assert ds.attrs["holdout_log_loss"] == {}
