"""One call from inputs to results: the choice of carry-over and saturation forms (when more
than one is offered), the model, its held-out check and, with lift tests, the same model without
them (so calibrated and uncalibrated estimates are stored side by side)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import pandas as pd
import xarray as xr

from attribution.mmm.model import MediaMixModel
from attribution.mmm.results import holdout_periods, to_dataset
from attribution.mmm.selection import select_form
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
    forms: Sequence[tuple[str, str]] | None = None,
) -> xr.Dataset:
    """Fit ``model`` (unfitted settings) and return its results Dataset (see
    :func:`attribution.mmm.results.to_dataset`). Inputs as in :meth:`MediaMixModel.fit`.

    ``holdout_check``: refit on all but the last ``HOLDOUT_SHARE`` of periods with
    at most ``HOLDOUT_DRAWS`` tuning steps and draws per chain for the out-of-sample MAPE.
    ``forms``: ``(adstock, saturation)`` pairs, simplest first; with more than one, the form is
    chosen by :func:`attribution.mmm.selection.select_form` (recorded in the attrs
    ``form_selection``) and replaces the model's own."""
    say = progress or (lambda _msg: None)
    calibrated = lift_tests is not None and len(lift_tests) > 0
    tests = lift_tests if calibrated else None
    selection = None
    if forms is not None and len(forms) > 1:
        say(f"choosing the carry-over and saturation forms among {len(forms)} by PSIS-LOO")
        brief, selection = select_form(model, spend, kpi, controls, tests, forms)
        model = _with(model, adstock=brief.adstock, saturation=brief.saturation)
        say(f"chose {brief.adstock} carry-over, {brief.saturation} saturation")
        say("fitting the media-mix model" + (" with lift tests" if calibrated else ""))
        main = brief.resample(model.draws, model.tune)
    else:
        if forms is not None:
            model = _with(model, adstock=forms[0][0], saturation=forms[0][1])
        say("fitting the media-mix model" + (" with lift tests" if calibrated else ""))
        main = _with(model).fit(spend, kpi, controls, tests)
    uncalibrated = None
    if calibrated:
        say("fitting the same model without lift tests (uncalibrated estimates)")
        uncalibrated = main.resample(model.draws, model.tune, lift_tests=False)
    holdout = None
    if holdout_check:
        n_fit = holdout_periods(spend.sizes["period"])
        say(f"held-out check: refit on the first {n_fit} periods")
        # A check, not the estimate: at most HOLDOUT_DRAWS, never more than the main fit's.
        n_draws = min(HOLDOUT_DRAWS, model.draws)
        holdout = main.held_out(n_fit, n_draws, min(HOLDOUT_DRAWS, model.tune))
    ds = to_dataset(main, holdout=holdout, uncalibrated=uncalibrated)
    if selection is not None:
        ds.attrs["form_selection"] = selection
    return ds
