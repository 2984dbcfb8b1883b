"""Bayesian media-mix model: weekly spend per channel -> each channel's contribution and ROI,
for channels that leave no user-level trace (TV, radio, print, out-of-home).

Pure modelling (numpy/xarray/PyMC in, xarray out): no file I/O, never imports ``workbench``.
PyMC is imported only inside the functions that fit.

    model = MediaMixModel(adstock="geometric", saturation="logistic", seed=1)
    results = fit_media_mix(model, spend, kpi, controls, lift_tests)   # xarray.Dataset
    results["roi"].mean(("chain", "draw"))
    expected_conversions(results, {"tv": 50_000.0})                    # (draw, channel)

Modules: ``adstock`` (carry-over), ``saturation``, ``basis`` (trend, seasonality), ``equations``
(the model's mean), ``data`` (checked and scaled inputs, lift tests), ``model`` (the estimator),
``contributions`` (per-draw contributions and lift predictions), ``response`` (response curves,
steady-state expected conversions for planning), ``checks`` (R^2, MAPE in/out of sample),
``results`` (the mmm.nc Dataset), ``fit`` (model + checks + uncalibrated twin in one call).
"""

__all__ = [
    "NATIONAL",
    "MediaMixModel",
    "expected_conversions",
    "fit_media_mix",
    "response_curves",
]

_WHERE = {
    "NATIONAL": "attribution.mmm.data",
    "MediaMixModel": "attribution.mmm.model",
    "expected_conversions": "attribution.mmm.response",
    "fit_media_mix": "attribution.mmm.fit",
    "response_curves": "attribution.mmm.response",
}


def __getattr__(name: str):
    # Lazy: ``attribution.mmm.settings`` is read by the CLI's --help, which must stay fast.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
