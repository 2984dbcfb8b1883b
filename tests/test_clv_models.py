"""BG/NBD and Gamma-Gamma: closed forms and likelihoods against lifetimes, compressed fits against
lifetimes' unweighted fits, sanity of P(alive), the retention curve against simulation, and the
PyMC posteriors (over the same likelihoods) against simulated truth and the MLE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import clv
from clv import formulas, value
from clv.bgnbd import BGNBDLikelihood
from clv.data import compress
from clv.gamma_gamma import GammaGammaLikelihood
from clv.inference import pymc_model

TRUE_BG = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 5.0, "q": 3.5, "v": 20.0}


def simulate_customers(n: int, seed: int, *, bg=TRUE_BG, gg=TRUE_GG, max_age: float = 52.0):
    """BG/NBD customers (frequency, recency, T in weeks) with Gamma-Gamma mean spends.

    Each customer buys at rate lambda ~ Gamma(r, alpha) and, after every purchase, drops out
    with probability p ~ Beta(a, b); T ~ Uniform(max_age / 4, max_age). Purchase days are not
    rounded, so the statistics are exactly those the likelihood assumes."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)
    drop = rng.beta(bg["a"], bg["b"], n)
    big_t = rng.uniform(max_age / 4, max_age, n)
    t = np.zeros(n)
    x = np.zeros(n, dtype=int)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        t[active] += rng.exponential(1.0 / lam[active])
        active &= t <= big_t
        x[active] += 1
        t_x[active] = t[active]
        active &= rng.uniform(size=n) >= drop
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
    # The mean of x Gamma(p, nu) purchases is Gamma(p x, nu x).
    m = np.where(x > 0, rng.gamma(gg["p"] * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1))), 0)
    return x, t_x, big_t, m


def rfm_frame(x, t_x=None, big_t=None, m=None) -> pd.DataFrame:
    """The statistics as an RFM table (the estimators' input); absent columns are left out."""
    columns = {"frequency": x, "recency": t_x, "T": big_t, "monetary_value": m}
    return pd.DataFrame({k: v for k, v in columns.items() if v is not None})


def fit_bgnbd(x, t_x, big_t) -> dict[str, float]:
    return clv.BetaGeo().fit(rfm_frame(x, t_x, big_t)).params_.to_series().to_dict()


def fit_gamma_gamma(x, m) -> dict[str, float]:
    return clv.GammaGamma().fit(rfm_frame(x, m=m)).params_.to_series().to_dict()


def gamma_gamma_sample(x, m) -> np.ndarray:
    """Repeat buyers with a positive mean spend: the customers the spend model uses."""
    return (np.asarray(x) > 0) & (np.asarray(m) > 0)


def posterior(model, *columns, **settings):
    """``(params(chain, draw, param), diagnostics)`` of ``clv.BetaGeo``/``clv.GammaGamma``
    fitted with method="bayes" on the statistics ``columns``."""
    data = rfm_frame(*columns) if model is clv.BetaGeo else rfm_frame(columns[0], m=columns[1])
    fitted = model("bayes", **settings).fit(data)
    return fitted.params_, fitted.diagnostics_


@pytest.fixture(scope="module")
def customers():
    return simulate_customers(4000, seed=7)


def _point(params: dict) -> xr.DataArray:
    return xr.DataArray(list(params.values()), dims="param", coords={"param": list(params)})


def test_closed_forms_equal_lifetimes(customers):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, big_t, m = customers
    bg = BetaGeoFitter().fit(x, t_x, big_t)
    r, alpha, a, b = (bg.params_[k] for k in ("r", "alpha", "a", "b"))
    np.testing.assert_allclose(
        formulas.p_alive(r, alpha, a, b, x, t_x, big_t),
        bg.conditional_probability_alive(x, t_x, big_t),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        formulas.expected_purchases(10.0, r, alpha, a, b, x, t_x, big_t),
        bg.conditional_expected_number_of_purchases_up_to_time(10.0, x, t_x, big_t),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        formulas.unconditional_expected_purchases(np.array([1.0, 10.0, 40.0]), r, alpha, a, b),
        bg.expected_number_of_purchases_up_to_time(np.array([1.0, 10.0, 40.0])),
        rtol=1e-10,
    )
    nll = -BGNBDLikelihood(x, t_x, big_t).loglik_and_grad(np.log([r, alpha, a, b]))[0] / x.size
    theirs = BetaGeoFitter._negative_log_likelihood(
        np.log([r, alpha, a, b]), x, t_x, big_t, np.ones_like(t_x), 0.0
    )
    assert nll == pytest.approx(theirs, rel=1e-10)
    repeat = x > 0
    gg = GammaGammaFitter().fit(x[repeat], m[repeat])
    p, q, v = (gg.params_[k] for k in ("p", "q", "v"))
    np.testing.assert_allclose(
        formulas.expected_order_value(p, q, v, x, m),
        gg.conditional_expected_average_profit(x, m),
        rtol=1e-10,
    )


def test_weighted_fit_on_unique_rows_equals_lifetimes_unweighted_fit():
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    # Whole-week statistics repeat a lot, so unique rows are far fewer than customers.
    x, t_x, big_t, m = simulate_customers(3000, seed=3)
    t_x, big_t = np.floor(t_x), np.floor(big_t)
    t_x = np.minimum(t_x, big_t)
    assert len(compress(frequency=x, recency=t_x, T=big_t)) < len(x) / 1.5
    ours = fit_bgnbd(x, t_x, big_t)
    theirs = BetaGeoFitter().fit(x, t_x, big_t).params_
    for k, v in ours.items():
        assert v == pytest.approx(theirs[k], rel=1e-4), k
    repeat = gamma_gamma_sample(x, m)
    m_rounded = np.round(m, 0)  # repeated spends, so that compression matters here too
    repeat &= m_rounded > 0
    ours_gg = fit_gamma_gamma(x[repeat], m_rounded[repeat])
    theirs_gg = GammaGammaFitter().fit(x[repeat], m_rounded[repeat]).params_
    for k, v in ours_gg.items():
        assert v == pytest.approx(theirs_gg[k], rel=1e-4), k


def test_mle_recovers_simulated_parameters(customers):
    x, t_x, big_t, m = customers
    fitted = fit_bgnbd(x, t_x, big_t)
    for k, truth in TRUE_BG.items():
        assert fitted[k] == pytest.approx(truth, rel=0.25), k
    repeat = gamma_gamma_sample(x, m)
    fitted_gg = fit_gamma_gamma(x[repeat], m[repeat])
    # p and q trade off; the implied mean spend per purchase p v / (q - 1) is well identified.
    implied = fitted_gg["p"] * fitted_gg["v"] / (fitted_gg["q"] - 1)
    assert implied == pytest.approx(TRUE_GG["p"] * TRUE_GG["v"] / (TRUE_GG["q"] - 1), rel=0.1)


def test_more_recent_buyers_are_more_likely_alive():
    params = _point({**TRUE_BG, **TRUE_GG})
    recency = np.linspace(0.5, 40.0, 30)
    for frequency in (1, 3, 8):
        values = value.customer_values(
            params,
            np.full(recency.size, frequency),
            recency,
            np.full(recency.size, 40.0),
            np.full(recency.size, 30.0),
            horizon=52,
            unit_days=7,
            annual_discount_rate=0.1,
        )
        assert np.all(np.diff(values["p_alive"]) > 0)
        assert np.all(np.diff(values["expected_purchases"]) > 0)
        assert np.all(np.diff(values["clv"]) > 0)
    # A customer who never bought again is alive with probability 1 under BG/NBD.
    assert formulas.p_alive(*TRUE_BG.values(), 0, 0.0, 30.0) == 1.0


def test_retention_curve_matches_simulated_cohort():
    rng = np.random.default_rng(11)
    n = 200_000
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    drop = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    # Purchases until dropout are geometric: the customer dies at the K-th purchase, K ~ Geom(p),
    # i.e. at the sum of K exponential gaps: Gamma(K, lambda).
    k = rng.geometric(drop)
    death = rng.gamma(k, 1.0 / lam)
    times = np.array([5.0, 20.0, 52.0])
    simulated = (death[:, None] > times[None, :]).mean(axis=0)
    curve = formulas.retention(times, *TRUE_BG.values())[0]
    np.testing.assert_allclose(curve, simulated, atol=0.005)


def test_discounting_with_zero_rate_is_the_undiscounted_expectation(customers):
    x, t_x, big_t, m = customers
    params = _point({**TRUE_BG, **TRUE_GG})
    kwargs = {"horizon": 52.0, "unit_days": 7.0}
    flat = value.customer_values(params, x, t_x, big_t, m, annual_discount_rate=0.0, **kwargs)
    np.testing.assert_allclose(
        flat["clv"], flat["expected_purchases"] * flat["expected_order_value"], rtol=1e-9
    )
    discounted = value.customer_values(params, x, t_x, big_t, m, annual_discount_rate=0.2, **kwargs)
    assert np.all(discounted["clv"] < flat["clv"])
    assert np.all(discounted["clv"] > flat["clv"] / 1.2)


@pytest.mark.slow
def test_bayesian_bgnbd_and_gamma_gamma_recover_truth_and_agree_with_mle():
    x, t_x, big_t, m = simulate_customers(2500, seed=8)
    bg_mle = fit_bgnbd(x, t_x, big_t)
    post, diag = posterior(
        clv.BetaGeo, x, t_x, big_t, draws=200, tune=200, chains=2, seed=5, posterior="nuts"
    )
    assert post.dims == ("chain", "draw", "param")
    assert diag["divergences"] == 0
    assert diag["rhat_max"] < 1.05
    for k, truth in TRUE_BG.items():
        draws = post.sel(param=k).values.ravel()
        lo, hi = np.quantile(draws, [0.005, 0.995])
        assert lo < truth < hi, (k, lo, hi)
        # The posterior of b is right-skewed at this size; its median sits near the MLE.
        assert np.median(draws) == pytest.approx(bg_mle[k], rel=0.05), k
    # The Laplace approximation (used above NUTS_MAX_ROWS) agrees with NUTS here already.
    laplace, lap_diag = posterior(clv.BetaGeo, x, t_x, big_t, posterior="laplace", seed=5)
    assert lap_diag["diagnostics_ok"]
    for k in TRUE_BG:
        nuts_draws, lap_draws = post.sel(param=k).values, laplace.sel(param=k).values
        assert np.median(lap_draws) == pytest.approx(np.median(nuts_draws), rel=0.03), k
        assert np.std(np.log(lap_draws)) == pytest.approx(np.std(np.log(nuts_draws)), rel=0.3), k
    repeat = gamma_gamma_sample(x, m)
    gg_post, gg_diag = posterior(
        clv.GammaGamma, x[repeat], m[repeat], draws=200, tune=200, chains=2, seed=5
    )
    assert gg_diag["divergences"] == 0
    implied = gg_post.sel(param="p") * gg_post.sel(param="v") / (gg_post.sel(param="q") - 1)
    truth = TRUE_GG["p"] * TRUE_GG["v"] / (TRUE_GG["q"] - 1)
    lo, hi = np.quantile(implied.values.ravel(), [0.005, 0.995])
    assert lo < truth < hi
    # The posterior carries into per-customer intervals that bracket the point values.
    params = xr.concat([post, gg_post], dim="param")
    values = value.customer_values(
        params, x, t_x, big_t, m, horizon=52, unit_days=7, annual_discount_rate=0.1
    )
    for k in ("p_alive", "expected_purchases", "clv"):
        assert np.all(values[f"{k}_lower"] <= values[k] + 1e-12)
        assert np.all(values[k] <= values[f"{k}_upper"] + 1e-12)
    assert np.mean(values["clv_upper"] - values["clv_lower"]) > 0


def _log_prior(point: dict) -> float:
    from scipy.stats import norm

    from clv.settings import LOG_PRIOR_SD

    return float(sum(norm.logpdf(v, 0.0, LOG_PRIOR_SD) for v in point.values()))


@pytest.mark.slow
def test_pymc_log_likelihoods_equal_lifetimes_on_compressed_rows(customers):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, big_t, m = customers
    rows = compress(frequency=x, recency=np.round(t_x), T=np.round(big_t))
    cols = rows.columns
    model = pymc_model(BGNBDLikelihood(cols["frequency"], cols["recency"], cols["T"], rows.weights))
    point = {f"log_{k}": np.log(v) for k, v in TRUE_BG.items()}
    got = model.compile_logp(mode="FAST_COMPILE")(point) - _log_prior(point)
    # lifetimes' weighted objective is the mean negative log-likelihood over customers.
    expected = -rows.weights.sum() * BetaGeoFitter._negative_log_likelihood(
        np.log(list(TRUE_BG.values())),
        cols["frequency"],
        cols["recency"],
        cols["T"],
        rows.weights,
        0.0,
    )
    assert got == pytest.approx(expected, rel=1e-10)
    repeat = x > 0
    spend = compress(frequency=x[repeat], monetary_value=np.round(m[repeat]) + 1)
    freq, money = spend.columns["frequency"], spend.columns["monetary_value"]
    model = pymc_model(GammaGammaLikelihood(freq, money, spend.weights))
    point = {f"log_{k}": np.log(v) for k, v in TRUE_GG.items()}
    got = model.compile_logp(mode="FAST_COMPILE")(point) - _log_prior(point)
    expected = -spend.weights.sum() * GammaGammaFitter._negative_log_likelihood(
        np.log(list(TRUE_GG.values())), freq, money, spend.weights, 0.0
    )
    assert got == pytest.approx(expected, rel=1e-10)


@pytest.mark.slow
def test_same_seed_same_posterior_draws():
    x, _, _, m = simulate_customers(800, seed=9)
    repeat = gamma_gamma_sample(x, m)
    runs = [
        posterior(clv.GammaGamma, x[repeat], m[repeat], draws=30, tune=30, seed=4)[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].values, runs[1].values)


def test_compress_gives_numpy_unique_rows_counts_and_inverse():
    rng = np.random.default_rng(0)
    cols = {
        "x": rng.integers(0, 4, 500),
        "t": rng.integers(0, 6, 500) / 7,
        "T": rng.integers(0, 3, 500),
    }
    rows = compress(**cols)
    stacked = np.column_stack([np.asarray(v, float) for v in cols.values()])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.column_stack(list(rows.columns.values())), unique)
    np.testing.assert_array_equal(rows.weights, counts)
    np.testing.assert_array_equal(rows.inverse, inverse.ravel())


def test_estimators_on_unique_rows_with_weights_equal_the_fit_on_every_customer():
    x, t_x, big_t, m = simulate_customers(3000, seed=3)
    t_x, big_t, m = np.floor(t_x), np.floor(big_t), np.round(m)
    t_x = np.minimum(t_x, big_t)
    every = rfm_frame(x, t_x, big_t, m)
    rows = compress(frequency=x, recency=t_x, T=big_t, monetary_value=m)
    unique = pd.DataFrame(rows.columns)
    assert len(unique) < len(every) / 1.5
    for model in (clv.BetaGeo, clv.GammaGamma):
        weighted = model().fit(unique, weights=rows.weights).params_
        np.testing.assert_allclose(weighted, model().fit(every).params_, rtol=1e-7)


def test_expected_purchases_stay_finite_when_the_hypergeometric_term_is_negative():
    # A posterior draw with a + b < 1 makes 2F1(r, b; a + b - 1; z) negative at x = 0; lifetimes
    # takes its log (NaN). Known answer: a new customer's expected purchases (x = 0, T = 0) are
    # the unconditional E[X(t)] (FHL eq. 9, no log), which a simulation of the process confirms.
    from scipy.special import hyp2f1

    r, alpha, a, b, t = 0.39, 1.44, 0.17, 0.30, 4.0
    assert hyp2f1(r, b, a + b - 1.0, t / (alpha + t)) < 0
    ours = formulas.expected_purchases_numerator(t, r, alpha, a, b, np.zeros(1), np.zeros(1))[0]
    assert ours == pytest.approx(formulas.unconditional_expected_purchases(t, r, alpha, a, b))
    rng = np.random.default_rng(1)
    n = 100_000
    rate, dropout = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n)
    last = rng.geometric(dropout)  # the repeat purchase after which the customer drops out
    clock, made, active = np.zeros(n), np.zeros(n), np.ones(n, dtype=bool)
    while active.any():
        clock[active] += rng.exponential(1.0 / rate[active])
        active &= clock <= t
        made[active] += 1
        active &= made < last
    assert ours == pytest.approx(made.mean(), abs=4 * made.std() / np.sqrt(n))
