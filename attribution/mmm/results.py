"""A fitted media-mix model as one xarray Dataset (the ``mmm.nc`` layout of docs/contracts.md).

Dims: ``chain``, ``draw``, ``channel``, ``period``, ``geo``, ``spend_level``, ``lift_test``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from attribution.mmm.checks import fit_checks, fit_ok, holdout_mape
from attribution.mmm.contributions import posterior_paths
from attribution.mmm.data import holdout_periods  # noqa: F401  (the fit's import)
from attribution.mmm.response import response_curves
from attribution.mmm.settings import RESPONSE_SPEND_MULTIPLES
from posterior_tools.diagnostics import nuts_diagnostics

#: Posterior parameters copied into the results (when the model has them).
PARAMETERS = (
    "roi_channel",
    "adstock_alpha",
    "adstock_theta",
    "saturation_lam",
    "saturation_k",
    "saturation_slope",
    "intercept",
    "trend_slope",
    "trend_change",
    "seasonality",
    "control_coef",
    "sigma",
    "roi_log_mu",
    "roi_log_tau",
    "roi_geo_tau",
)


def _draws(values: np.ndarray, n_chain: int, n_draw: int) -> np.ndarray:
    return values.reshape(n_chain, n_draw, *values.shape[1:])


def to_dataset(model, holdout=None, uncalibrated=None) -> xr.Dataset:
    """Results of a fitted ``MediaMixModel``: contributions, ROI, baseline, response curves,
    parameters, checks (``holdout``: the same model refitted without the last periods) and, when
    the model was calibrated by lift tests, ``uncalibrated``: the same model fitted without them."""
    data = model.data_
    post = model.posterior_
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    paths = posterior_paths(model)
    chans, geos = list(data.channels), list(data.geos)
    cd = ("chain", "draw")
    spend_fit = data.spend_fit
    ds = xr.Dataset(
        {
            "contribution": (cd + ("channel",), _draws(paths.contribution, n_chain, n_draw)),
            "roi": (
                cd + ("channel",),
                _draws(paths.contribution / spend_fit.sum(axis=0), n_chain, n_draw),
            ),
            "contribution_over_time": (
                cd + ("period", "channel"),
                _draws(paths.effect, n_chain, n_draw),
            ),
            "baseline": (cd + ("period",), _draws(paths.baseline, n_chain, n_draw)),
            "kpi_fitted": (cd + ("period",), _draws(paths.mean.sum(axis=1), n_chain, n_draw)),
            "max_effect": (cd + ("geo", "channel"), _draws(paths.max_effect, n_chain, n_draw)),
            "kpi": (("period",), data.kpi.sum(axis=0)),
            "spend": (("geo", "period", "channel"), data.spend),
            "spend_total": (("channel",), spend_fit.sum(axis=0)),
            "spend_scale": (("geo", "channel"), data.spend_scale),
            "geo_spend_share": (
                ("geo", "channel"),
                spend_fit / np.maximum(spend_fit.sum(axis=0, keepdims=True), 1e-12),
            ),
            "kpi_scale": (("geo",), data.kpi_scale),
        },
        coords={
            "chain": post.chain.values,
            "draw": post.draw.values,
            "channel": chans,
            "geo": geos,
            "period": data.periods,
        },
    )
    if len(geos) > 1:
        ds["contribution_geo"] = (
            cd + ("geo", "channel"),
            _draws(paths.contribution_geo, n_chain, n_draw),
        )
    for name in PARAMETERS:
        if name in post:
            ds[name] = post[name]
    ds.attrs.update(adstock=model.adstock, saturation=model.saturation, l_max=model.l_max)
    ds = ds.merge(response_curves(ds, np.asarray(RESPONSE_SPEND_MULTIPLES)))
    if model.lift_tests_ is not None:
        ds = ds.merge(_lift_test_vars(model, paths.lift, n_chain, n_draw, "lift_test_predicted"))
    if uncalibrated is not None:
        un = posterior_paths(uncalibrated)
        ds["contribution_uncalibrated"] = (
            cd + ("channel",),
            _draws(un.contribution, n_chain, n_draw),
        )
        ds["roi_uncalibrated"] = ds["contribution_uncalibrated"] / ds["spend_total"]
        if model.lift_tests_ is not None:
            # What the uncalibrated model predicted for each test (same windows).
            from attribution.mmm import equations

            un_lift = _lift_under(uncalibrated, model.lift_tests_, equations)
            ds["lift_test_predicted_uncalibrated"] = (
                cd + ("lift_test",),
                _draws(un_lift, n_chain, n_draw),
            )
    checks = fit_checks(
        data.kpi,
        paths.mean,
        model.draw_params()["sigma"],
        data.kpi_scale,
        data.n_fit,
        seed=model.seed,
    )
    if holdout is not None:
        h = posterior_paths(holdout)
        checks["mape_out_of_sample"] = holdout_mape(data.kpi, h.mean, holdout.data_.n_fit)
        checks["holdout_periods"] = int(len(data.periods) - holdout.data_.n_fit)
    checks["fit_ok"] = fit_ok(checks)
    diag = nuts_diagnostics(post, model.sample_stats_, n_chain)
    ds.attrs["checks"] = checks
    ds.attrs["diagnostics"] = diag
    ds.attrs["diagnostics_ok"] = int(bool(diag.get("diagnostics_ok", diag.get("ok"))))
    ds.attrs["posterior_method"] = "nuts"
    return ds


def _lift_test_vars(model, lift: np.ndarray, n_chain: int, n_draw: int, name: str) -> xr.Dataset:
    tests = model.lift_tests_
    f = tests.frame
    return xr.Dataset(
        {
            name: (("chain", "draw", "lift_test"), _draws(lift, n_chain, n_draw)),
            "lift_test_measured": (("lift_test",), tests.measured),
            "lift_test_standard_error": (("lift_test",), tests.standard_error),
        },
        coords={
            "lift_test": list(tests.names),
            "lift_test_channel": (("lift_test",), f["channel"].astype(str).to_numpy()),
            "lift_test_start": (("lift_test",), np.asarray(f["start"], dtype="datetime64[ns]")),
            "lift_test_end": (("lift_test",), np.asarray(f["end"], dtype="datetime64[ns]")),
        },
    )


def _lift_under(model, tests, equations) -> np.ndarray:
    """The lift tests' incremental conversions predicted by ``model`` (S, test)."""
    data = model.data_
    p = model.draw_params()
    sat = equations.saturated(p, data.x_lagged, model.adstock, model.saturation, data.l_max)
    beta = equations.beta(p, sat, data.spend_fit, data.kpi_scale, data.fit_mask)
    lifts = equations.test_lifts(
        p, sat, beta, data.kpi_scale, tests, model.adstock, model.saturation, data.l_max
    )
    return np.stack(lifts, axis=1)
