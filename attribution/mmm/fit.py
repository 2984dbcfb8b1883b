"""One call from inputs to results: the model, its held-out check and, with lift tests, the same
model without them (so calibrated and uncalibrated estimates are stored side by side)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pandas as pd
import xarray as xr

from attribution.mmm.model import MediaMixModel
from attribution.mmm.results import holdout_periods, to_dataset
from attribution.mmm.settings import HOLDOUT_DRAWS


def _with(model: MediaMixModel, **changes) -> MediaMixModel:
    clone = copy.copy(model)
    for key, value in changes.items():
        setattr(clone, key, value)
    return clone


def fit_media_mix(
    model: MediaMixModel,
    spend: xr.DataArray,
    kpi: xr.DataArray,
    controls: xr.DataArray | None = None,
    lift_tests: pd.DataFrame | None = None,
    holdout_check: bool = True,
    progress: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Fit ``model`` (unfitted settings) and return its results Dataset (see
    :func:`attribution.mmm.results.to_dataset`). Inputs as in :meth:`MediaMixModel.fit`.

    ``holdout_check``: refit on all but the last ``HOLDOUT_SHARE`` of periods with
    at most ``HOLDOUT_DRAWS`` tuning steps and draws per chain for the out-of-sample MAPE."""
    say = progress or (lambda _msg: None)
    calibrated = lift_tests is not None and len(lift_tests) > 0
    say("fitting the media-mix model" + (" with lift tests" if calibrated else ""))
    main = _with(model).fit(spend, kpi, controls, lift_tests if calibrated else None)
    uncalibrated = None
    if calibrated:
        say("fitting the same model without lift tests (uncalibrated estimates)")
        uncalibrated = _with(model).fit(spend, kpi, controls, None)
    holdout = None
    if holdout_check:
        n_fit = holdout_periods(spend.sizes["period"])
        say(f"held-out check: refit on the first {n_fit} periods")
        # A check, not the estimate: at most HOLDOUT_DRAWS, never more than the main fit's.
        n_draws = min(HOLDOUT_DRAWS, model.draws)
        holdout = _with(model, draws=n_draws, tune=min(HOLDOUT_DRAWS, model.tune)).fit(
            spend, kpi, controls, None, n_fit=n_fit
        )
    return to_dataset(main, holdout=holdout, uncalibrated=uncalibrated)
