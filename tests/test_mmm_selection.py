"""The media-mix model chooses its carry-over and saturation forms by the data (PSIS-LOO), and
every form, the held-out check and the uncalibrated twin are one compiled model whose form
switches and fitted-period mask are data (issue 13: speed and accuracy with the defaults)."""

from __future__ import annotations

import numpy as np
import pytest

from attribution.mmm import adstock, equations, saturation
from attribution.mmm.selection import candidate_forms
from workbench import api
from workbench.errors import InputError
from workbench.sim.media import simulate_media


def test_auto_offers_every_form_with_the_simplest_first():
    forms = candidate_forms("auto", "auto")
    assert len(forms) == 4 and set(forms) == {
        ("geometric", "logistic"),
        ("geometric", "hill"),
        ("delayed", "logistic"),
        ("delayed", "hill"),
    }
    # one parameter per channel for geometric and for logistic, two for delayed and for Hill
    assert forms[0] == ("geometric", "logistic") and forms[-1] == ("delayed", "hill")
    assert candidate_forms("delayed", "auto") == [("delayed", "logistic"), ("delayed", "hill")]
    assert candidate_forms("geometric", "hill") == [("geometric", "hill")]
    with pytest.raises(ValueError, match="adstock must be"):
        candidate_forms("weibull", "auto")


def test_an_unknown_form_is_one_clear_input_error():
    sim = simulate_media("retail", seed=1)
    with pytest.raises(InputError, match="saturation must be 'auto' or one of"):
        api.mmm(sim.spend, sim.outcomes, saturation="gompertz")


def test_the_form_switches_select_exactly_one_form():
    """Inside the PyMC model the forms are 0/1 switches (data); each setting must reproduce the
    named form to the last digit, or the compiled model would fit a blend."""
    rng = np.random.default_rng(0)
    p = {
        "adstock_alpha": np.array([[0.3, 0.7]]),
        "adstock_theta": np.array([[1.5, 0.5]]),
        "saturation_lam": np.array([[1.2, 0.4]]),
        "saturation_k": np.array([[0.8, 2.0]]),
        "saturation_slope": np.array([[1.5, 3.0]]),
    }
    x_lagged = adstock.lagged(rng.gamma(1.0, 1.0, (1, 30, 2)), 8)  # (geo, period, channel, lag)
    for name, flag in (("geometric", 0.0), ("delayed", 1.0)):
        assert equations.weights(p, np.float64(flag), 8) == pytest.approx(
            equations.weights(p, name, 8), abs=0
        )
    for name, flag in (("logistic", 0.0), ("hill", 1.0)):
        switched = equations.saturated(p, x_lagged, "delayed", np.float64(flag), 8)
        named = equations.saturated(p, x_lagged, "delayed", name, 8)
        assert switched == pytest.approx(named, abs=0)
    # and the named forms are the textbook curves: Hill is one half at x = k
    assert saturation.hill(np.array([0.8]), 0.8, 1.5) == pytest.approx([0.5])


@pytest.mark.slow
def test_on_a_world_with_delayed_peaks_the_data_choose_a_delayed_carry_over():
    """The brand world's TV, radio and out-of-home peak one or two weeks after the spend: PSIS-LOO
    must prefer a delayed-peak carry-over by many standard errors, and the chosen model must then
    recover the ROIs (the defaults' geometric form scored 0.42 there)."""
    sim = simulate_media("brand", seed=1)
    small = {"draws": 200, "tune": 200, "chains": 2, "seed": 1}
    ds = api.mmm(sim.spend, sim.outcomes, controls=sim.controls, **small)
    record = ds.attrs["form_selection"]
    assert ds.attrs["adstock"] == "delayed" and record["chosen"].startswith("delayed/")
    elpd = {r["form"]: r for r in record["candidates"]}
    geometric = elpd["geometric/logistic"]
    assert geometric["elpd_diff"] > 3 * geometric["dse"]
    chans = [str(c) for c in ds["channel"].values]
    truth = np.array([sim.truth["roi"][c] for c in chans])
    mape = np.mean(np.abs(ds["roi"].mean(("chain", "draw")).values - truth) / truth)
    assert mape <= 0.30
    # the held-out check came from the same compiled model, with only the last weeks unseen
    checks = ds.attrs["checks"]
    assert checks["holdout_periods"] == 13 and checks["mape_out_of_sample"] < 0.1
