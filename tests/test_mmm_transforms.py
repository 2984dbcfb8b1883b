"""The media-mix model's building blocks against hand-computed answers: carry-over weights,
saturation curves, the lift-test quantity and the planner's steady-state response."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from attribution.mmm import adstock, equations, expected_conversions, saturation
from workbench.sim.media import carry_over


def test_geometric_carry_over_spreads_an_impulse_by_normalised_powers_of_alpha():
    x = np.zeros((6, 1))
    x[1, 0] = 7.0
    w = adstock.geometric_weights(np.array([0.5]), 3)
    out = adstock.apply(adstock.lagged(x, 3), w)
    # weights 1, 0.5, 0.25 over 1.75
    assert out[:, 0] == pytest.approx([0, 4.0, 2.0, 1.0, 0, 0])


def test_a_steady_spend_has_a_steady_adstock_equal_to_the_spend():
    x = np.full((20, 2), 3.0)
    w = adstock.delayed_weights(np.array([0.6, 0.3]), np.array([2.0, 0.0]), 8)
    out = adstock.apply(adstock.lagged(x, 8), w)
    assert out[10:] == pytest.approx(np.full((10, 2), 3.0))


def test_model_and_simulator_carry_over_agree_on_the_same_rate():
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 1.0, 40)
    ours = adstock.apply(
        adstock.lagged(spend[:, None], 13), adstock.geometric_weights(np.array([0.7]), 13)
    )[:, 0]
    assert ours == pytest.approx(carry_over(spend, 0.7, 0.0, 13))


def test_saturation_curves_are_half_way_where_their_parameters_say():
    # logistic: (1 - e^{-lam x}) / (1 + e^{-lam x}) = 1/2 at lam x = ln 3
    assert saturation.logistic(np.log(3.0), 1.0) == pytest.approx(0.5)
    assert saturation.hill(np.array(2.0), 2.0, 1.7) == pytest.approx(0.5)
    assert saturation.hill(np.array(0.0), 2.0, 1.7) == 0.0


def test_a_lift_test_counts_only_the_conversions_caused_by_spend_inside_its_window():
    # One channel, linear-ish saturation region avoided: compute by hand with numpy.
    T, L = 12, 4
    x = np.zeros((1, T, 1))
    x[0, 2, 0] = 1.0  # before the window: its carry-over into the window must not count
    x[0, 6, 0] = 2.0  # inside the window [5, 8]
    p = {"adstock_alpha": np.array([[0.5]]), "saturation_lam": np.array([[0.8]])}
    lagged = adstock.lagged(x, L)
    sat = equations.saturated(p, lagged, "geometric", "logistic", L)
    beta = np.array([[[3.0]]])
    window = np.arange(5, 9)
    x_cf = x.copy()
    x_cf[0, window, 0] = 0.0
    cf_lagged = adstock.lagged(x_cf, L)[:, window, 0, :]
    got = equations.lift(
        p, sat, beta, np.array([10.0]), 0, window, cf_lagged, "geometric", "logistic", L
    )
    w = np.array([1, 0.5, 0.25, 0.125]) / 1.875
    actual = np.convolve(x[0, :, 0], w)[:T]
    without = np.convolve(x_cf[0, :, 0], w)[:T]
    expected = 10.0 * 3.0 * (np.tanh(0.4 * actual) - np.tanh(0.4 * without))[window].sum()
    assert got[0] == pytest.approx(expected)
    assert expected > 0 and without[window].sum() > 0  # carry-over from before was present


def _results(max_effect: np.ndarray, lam: np.ndarray, scale: np.ndarray, share: np.ndarray):
    chans = [f"c{i}" for i in range(max_effect.shape[-1])]
    geos = [f"g{i}" for i in range(max_effect.shape[-2])]
    return xr.Dataset(
        {
            "max_effect": (("chain", "draw", "geo", "channel"), max_effect),
            "saturation_lam": (("chain", "draw", "channel"), lam),
            "spend_scale": (("geo", "channel"), scale),
            "geo_spend_share": (("geo", "channel"), share),
        },
        coords={"channel": chans, "geo": geos},
        attrs={"saturation": "logistic"},
    )


def test_expected_conversions_splits_spend_over_geos_and_applies_each_geos_curve():
    max_effect = np.array([[[[100.0, 10.0], [50.0, 20.0]]]])  # (1 chain, 1 draw, 2 geos, 2 ch)
    lam = np.array([[[1.0, 2.0]]])
    scale = np.array([[1000.0, 10.0], [500.0, 10.0]])
    share = np.array([[0.6, 0.5], [0.4, 0.5]])
    ds = _results(max_effect, lam, scale, share)
    got = expected_conversions(ds, {"c0": 2000.0})
    x0 = 2000 * 0.6 / 1000
    x1 = 2000 * 0.4 / 500
    expected = 100 * np.tanh(x0 / 2) + 50 * np.tanh(x1 / 2)
    assert got.dims == ("draw", "channel")
    assert float(got.sel(channel="c0")[0]) == pytest.approx(expected)
    assert float(got.sel(channel="c1")[0]) == 0.0
    with pytest.raises(ValueError, match="not in the media-mix model"):
        expected_conversions(ds, {"radio": 1.0})
