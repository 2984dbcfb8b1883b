"""The faster paths of issue 17 give the answers of the slower ones they replace.

- the logistic baseline (scikit-learn, Newton-Cholesky) against statsmodels' GLM Binomial on the
  same simulated journeys;
- NUTS by nutpie and by PyMC's sampler against the exact posterior of a conjugate normal model;
- the Laplace approximation's transform, compiled once per model, against the exact posterior.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from attribution import as_patterns
from attribution.checks import binomial_log_loss, journey_features, logistic_log_loss

N_OBS, TRUE_MEAN, PRIOR_SD = 40, 1.5, 10.0


def _simulated_patterns(seed: int = 3, n_patterns: int = 400):
    """Random pattern table on three channels: codes, opening/closing channels, journeys, and
    conversions from a logistic truth in the capped counts."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 64, size=(n_patterns, 3))
    table = pd.DataFrame({f"k_{c}": codes[:, c] for c in range(3)})
    present = codes > 0
    # opening and closing channel: random channels among those present
    pick = rng.random((2, n_patterns, 3)) * present
    table["first_channel"], table["last_channel"] = pick.argmax(axis=2)
    table = table[present.any(axis=1)].reset_index(drop=True)
    table["holdout"] = rng.random(len(table)) < 0.25
    table["n_journeys"] = rng.integers(20, 200, len(table))
    logit = -3.0 + 0.02 * table[["k_0", "k_1", "k_2"]].to_numpy() @ np.array([1.0, 0.5, 0.0])
    table["n_conversions"] = rng.binomial(table["n_journeys"], 1 / (1 + np.exp(-logit)))
    return as_patterns(table, ["a", "b", "c"])


def test_logistic_baseline_equals_statsmodels_glm_on_the_same_journeys():
    sm = pytest.importorskip("statsmodels.api")
    patterns = _simulated_patterns()
    train, test = patterns.subset(~patterns.holdout), patterns.subset(patterns.holdout)

    x = journey_features(train)
    rate = train.n_conversions / train.n_journeys
    glm = sm.GLM(
        rate,
        sm.add_constant(x, has_constant="add"),
        family=sm.families.Binomial(),
        freq_weights=train.n_journeys,
    ).fit()
    expected = binomial_log_loss(
        glm.predict(sm.add_constant(journey_features(test), has_constant="add")),
        test.n_journeys,
        test.n_conversions,
    )
    assert logistic_log_loss(train, test) == pytest.approx(expected, rel=1e-9)


def test_logistic_baseline_ignores_a_feature_constant_in_training():
    # channel c never opens a training journey: its opening one-hot is all zero there
    patterns = _simulated_patterns()
    train, test = patterns.subset(~patterns.holdout), patterns.subset(patterns.holdout)
    keep = train.first_channel != 2
    loss = logistic_log_loss(train.subset(keep), test)
    assert math.isfinite(loss) and 0 < loss < math.log(2)


def _normal_mean_model():
    """mu ~ Normal(0, PRIOR_SD), y_i ~ Normal(mu, 1): the posterior of mu is normal with
    known mean and sd; returns (model, exact mean, exact sd)."""
    import pymc as pm

    y = np.random.default_rng(7).normal(TRUE_MEAN, 1.0, N_OBS)
    precision = 1 / PRIOR_SD**2 + N_OBS
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Deterministic("mu_doubled", 2 * mu)
        pm.Normal("y", mu, 1.0, observed=y)
    return model, y.sum() / precision, precision**-0.5


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_both_nuts_samplers_recover_the_exact_posterior_of_a_normal_mean(sampler):
    from posterior_tools.nuts import sample_nuts

    model, mean, sd = _normal_mean_model()
    posterior, diagnostics = sample_nuts(
        model,
        ["mu", "mu_doubled"],
        draws=400,
        tune=300,
        chains=2,
        cores=1,
        seed=11,
        target_accept=0.9,
        sampler=sampler,
    )
    mu = posterior["mu"].values
    assert posterior["mu"].dims == ("chain", "draw") and mu.shape == (2, 400)
    assert diagnostics["diagnostics_ok"], diagnostics
    # Monte Carlo standard error of the mean from the bulk ESS
    mcse = sd / math.sqrt(diagnostics["ess_bulk_min"])
    assert abs(mu.mean() - mean) < 4 * mcse
    assert mu.std() == pytest.approx(sd, rel=0.15)
    np.testing.assert_allclose(posterior["mu_doubled"].values, 2 * mu)


def test_unknown_sampler_is_refused():
    from posterior_tools.nuts import sample_nuts

    model, _, _ = _normal_mean_model()
    with pytest.raises(ValueError, match="sampler must be one of"):
        sample_nuts(
            model, ["mu"], draws=1, tune=1, chains=1, cores=1, seed=1, target_accept=0.9,
            sampler="stan",
        )  # fmt: skip


def test_laplace_draws_and_mode_values_share_one_compiled_transform_and_are_exact():
    from posterior_tools import laplace

    model, mean, sd = _normal_mean_model()
    mode = laplace.find_mode(model)
    assert mode.values(model, ["mu"])["mu"] == pytest.approx(mean, abs=1e-6)
    compiled = laplace._TRANSFORMS[model]
    posterior, diagnostics = laplace.laplace_posterior(
        model, ["mu_doubled", "mu"], draws=2000, chains=2, seed=3, mode=mode
    )
    assert laplace._TRANSFORMS[model] is compiled  # not compiled again
    assert diagnostics["diagnostics_ok"]
    mu = posterior["mu"].values
    # the normal model's Laplace approximation is its exact posterior
    assert abs(mu.mean() - mean) < 4 * sd / math.sqrt(mu.size)
    assert mu.std() == pytest.approx(sd, rel=0.05)
    np.testing.assert_allclose(posterior["mu_doubled"].values, 2 * mu)


def test_baselines_run_on_one_thread_in_a_fresh_process():
    # threadpoolctl limits only the libraries already loaded: scikit-learn's own OpenMP runtime
    # must be limited too, also when scikit-learn was not imported before (a fresh CLI process)
    import json
    import subprocess
    import sys

    from attribution.checks import BASELINE_THREADS

    code = (
        "import json\n"
        "from threadpoolctl import threadpool_info\n"
        "from attribution.checks import baseline_threads\n"
        "with baseline_threads():\n"
        "    pools = [(i['internal_api'], i['num_threads']) for i in threadpool_info()]\n"
        "print(json.dumps(pools))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pools = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "openmp" in pools  # scikit-learn's OpenMP runtime is loaded and limited
    assert set(pools.values()) == {BASELINE_THREADS}


def _compiledir_in_fresh_process(env: dict) -> str:
    """PyTensor's compile directory in a fresh process after ``use_project_cache()``."""
    import os
    import subprocess
    import sys

    code = (
        "from posterior_tools.compiledir import use_project_cache\n"
        "took = use_project_cache()\n"
        "import pytensor\n"
        "print(took, pytensor.config.compiledir)\n"
    )
    env = {**{k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}, **env}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.strip().splitlines()[-1]


def test_the_compile_cache_is_the_projects_own_unless_the_user_chose_one(tmp_path):
    from posterior_tools.settings import PYTENSOR_CACHE_NAME

    took, where = _compiledir_in_fresh_process({"XDG_CACHE_HOME": str(tmp_path)}).split(" ", 1)
    assert took == "True"
    assert where.startswith(str(tmp_path / PYTENSOR_CACHE_NAME / "pytensor"))
    mine = tmp_path / "mine"
    took, where = _compiledir_in_fresh_process(
        {
            "XDG_CACHE_HOME": str(tmp_path),
            "PYTENSOR_FLAGS": f"floatX=float64,base_compiledir={mine}",
        }
    ).split(" ", 1)
    assert took == "False" and where.startswith(str(mine))


def test_the_compile_cache_cannot_move_once_pytensor_is_imported():
    import pytensor  # noqa: F401

    from posterior_tools.compiledir import use_project_cache

    assert use_project_cache() is False


def test_credit_and_checks_side_by_side_equal_them_one_after_the_other():
    # the pipeline computes the credit while a second thread runs the checks; both must be the
    # numbers of the same calls made one after the other, to the last bit
    from types import SimpleNamespace

    import xarray as xr

    from attribution import ConversionModel, recency_ages_days
    from attribution.markov import CONVERSION_STATE, NULL_STATE, START_STATE
    from workbench.pipelines import attribution as pipeline

    patterns = _simulated_patterns()
    model = ConversionModel(
        channels=["a", "b", "c"],
        recency_ages_days=recency_ages_days(30.0),
        method="laplace",
        draws=200,
        chains=2,
        seed=4,
    ).fit(patterns)
    moves = [(START_STATE, "a", 30), ("a", "b", 12), ("a", NULL_STATE, 18), ("b", "c", 5)]
    moves += [("b", CONVERSION_STATE, 7), ("c", NULL_STATE, 5)]
    transitions = pd.DataFrame(
        [(split, a, b, n + split) for split in (0, 1) for a, b, n in moves],
        columns=["holdout", "from_state", "to_state", "n_transitions"],
    )
    tables = SimpleNamespace(markov_transitions=transitions)
    credit, checks = pipeline._credit_and_checks(model, patterns, tables, True, 4, 0.0)
    expected_credit = model.credit(patterns)
    expected_checks = pipeline._checks(model, patterns, tables, True, 4)
    xr.testing.assert_identical(credit, expected_credit)
    xr.testing.assert_identical(checks["ppc"], expected_checks["ppc"])
    assert checks["log_loss"] == expected_checks["log_loss"]
    assert set(checks["log_loss"]) == {"bayes", "logistic", "boosted_trees", "markov"}
    assert checks["criticism"] == expected_checks["criticism"]
