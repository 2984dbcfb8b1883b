"""Choosing the carry-over and saturation forms by the data: fit each candidate form briefly and
keep the one that predicts left-out weeks best.

Every candidate (e.g. geometric adstock with logistic saturation, delayed-peak adstock with Hill
saturation) is fitted with ``SELECTION_DRAWS`` tuning steps and draws per chain (one compiled
model: the form is data, see :meth:`MediaMixModel.resample`) and scored by
PSIS leave-one-out cross-validation (Vehtari, Gelman & Gabry 2017): ``elpd_loo``, the expected
log predictive density of a week's KPI it did not see. The simplest candidate whose ``elpd_loo``
is within one standard error of the best one is kept (the "one standard error" rule; simpler =
fewer parameters per channel, the order of ``candidates``): a more flexible curve must earn its
place by predicting clearly better, not by fitting noise.

LOO treats the weeks as exchangeable; with weekly autocorrelation it is optimistic for every
candidate alike, which is acceptable for ranking forms fitted on the same weeks.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from attribution.mmm.contributions import posterior_paths
from attribution.mmm.settings import ADSTOCKS, AUTO, SATURATIONS, SELECTION_DRAWS


def pointwise_log_likelihood(model) -> xr.DataArray:
    """log p(kpi_gt | draw) of every fitted week (and geo), (chain, draw, obs): the model's
    Normal likelihood in KPI-mean units, evaluated on the fitted ``MediaMixModel``'s draws."""
    data = model.data_
    mean = posterior_paths(model).mean[:, :, : data.n_fit]  # (S, G, T) conversions
    sigma = model.draw_params()["sigma"]  # (S,) or (S, G), KPI-mean units
    sigma = sigma[:, None] if sigma.ndim == 1 else sigma
    y = data.kpi[:, : data.n_fit] / data.kpi_scale[:, None]
    z = (y[None] - mean / data.kpi_scale[None, :, None]) / sigma[:, :, None]
    loglik = -0.5 * z**2 - np.log(sigma[:, :, None]) - 0.5 * np.log(2 * np.pi)
    n_chain = model.posterior_.sizes["chain"]
    values = loglik.reshape(n_chain, -1, loglik.shape[1] * loglik.shape[2])
    return xr.DataArray(values, dims=("chain", "draw", "obs"), name="kpi")


def loo(model) -> tuple[float, float, object]:
    """PSIS-LOO ``elpd_loo``, its standard error and the InferenceData it was computed from,
    for a fitted ``MediaMixModel``."""
    import arviz as az

    idata = az.InferenceData(
        posterior=model.posterior_[["sigma"]],
        log_likelihood=xr.Dataset({"kpi": pointwise_log_likelihood(model)}),
    )
    with warnings.catch_warnings():  # a few high Pareto k are reported in the table instead
        warnings.simplefilter("ignore")
        res = az.loo(idata, pointwise=True)
    return float(res.elpd_loo), float(res.se), idata


def select_form(
    model,
    spend: xr.DataArray,
    kpi: xr.DataArray,
    controls: xr.DataArray | None,
    lift_tests: pd.DataFrame | None,
    candidates: Sequence[tuple[str, str]],
    draws: int = SELECTION_DRAWS,
) -> tuple[object, dict]:
    """Fit ``model`` (unfitted settings) once per ``(adstock, saturation)`` in ``candidates``
    (simplest first) with ``draws`` tuning steps and draws per chain; return the chosen
    candidate's brief fit (its ``resample`` gives the full fit without recompiling) and a
    record: per candidate ``elpd_loo``, its ``se``, the difference to the best and that
    difference's standard error (``dse``), and the rule applied."""
    import arviz as az

    fits, fitted, rows = {}, {}, []
    n_draws, n_tune = min(draws, model.draws), min(draws, model.tune)
    first = None
    for adstock, saturation in candidates:
        name = f"{adstock}/{saturation}"
        if first is None:
            first = copy.copy(model)
            first.adstock, first.saturation = adstock, saturation
            first.draws, first.tune = n_draws, n_tune
            clone = first.fit(spend, kpi, controls, lift_tests)
        else:
            clone = first.resample(n_draws, n_tune, adstock, saturation)
        elpd, se, idata = loo(clone)
        fits[name], fitted[name] = idata, clone
        rows.append({"form": name, "elpd_loo": elpd, "se": se})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(fits, ic="loo")
    for row in rows:
        row["elpd_diff"] = float(table.loc[row["form"], "elpd_diff"])
        row["dse"] = float(table.loc[row["form"], "dse"])
    chosen = next(r for r in rows if r["elpd_diff"] <= r["dse"])
    record = {
        "candidates": rows,
        "chosen": chosen["form"],
        "rule": "the simplest form whose PSIS-LOO elpd is within one standard error of the best",
        "draws": int(min(draws, model.draws)),
    }
    return fitted[chosen["form"]], record


def candidate_forms(adstock: str, saturation: str) -> list[tuple[str, str]]:
    """The ``(adstock, saturation)`` pairs to compare, simplest first: ``AUTO`` stands for
    every form of :data:`ADSTOCKS` (or :data:`SATURATIONS`)."""
    ads = list(ADSTOCKS) if adstock == AUTO else [adstock]
    sats = list(SATURATIONS) if saturation == AUTO else [saturation]
    for name, value, allowed in (
        ("adstock", adstock, ADSTOCKS),
        ("saturation", saturation, SATURATIONS),
    ):
        if value != AUTO and value not in allowed:
            raise ValueError(f"{name} must be {AUTO!r} or one of {allowed}, not {value!r}")
    # fewer parameters per channel first: geometric (1) before delayed (2), logistic (1) before
    # Hill (2); ties in the order of the settings.
    pairs = [(a, s) for a in ads for s in sats]
    return sorted(pairs, key=lambda f: (ADSTOCKS.index(f[0]) + SATURATIONS.index(f[1]), f))
