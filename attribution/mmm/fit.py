"""One call from inputs to results: the choice of carry-over and saturation forms (when more
than one is offered), the model, its held-out check and, with lift tests, the same model without
them (so calibrated and uncalibrated estimates are stored side by side).

With geos the forms are chosen on the national total (spend and KPI summed over geos): the forms
are shared by every geo in the model (one carry-over rate and one curve per channel), the total
has the least noise of any series in the data, and its brief fits take seconds where the geo
model's take minutes. The geo model is then fitted once with the chosen forms.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence

import pandas as pd
import xarray as xr

from attribution.mmm.data import national_total
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
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if forms is not None and len(forms) > 1:
        n_geos = spend.sizes.get("geo", 1)
        on = "the data" if n_geos == 1 else f"the national total of {n_geos} geos"
        say(f"choosing the carry-over and saturation forms among {len(forms)} on {on}")
        if n_geos > 1:
            brief, selection = select_form(
                model, *national_total(spend, kpi, controls), tests, forms
            )
        else:
            brief, selection = select_form(model, spend, kpi, controls, tests, forms)
        selection["data"] = on
        model = _with(model, adstock=brief.adstock, saturation=brief.saturation)
        say(f"chose {brief.adstock} carry-over, {brief.saturation} saturation")
        seconds["form_selection"] = time.perf_counter() - started
        started = time.perf_counter()
        say("fitting the media-mix model" + (" with lift tests" if calibrated else ""))
        # National data: the brief fit's compiled model is the full fit's; geos: compile it.
        main = (
            brief.resample(model.draws, model.tune)
            if n_geos == 1
            else _with(model).fit(spend, kpi, controls, tests)
        )
    else:
        if forms is not None:
            model = _with(model, adstock=forms[0][0], saturation=forms[0][1])
        say("fitting the media-mix model" + (" with lift tests" if calibrated else ""))
        main = _with(model).fit(spend, kpi, controls, tests)
    seconds["fit"] = time.perf_counter() - started
    uncalibrated = None
    if calibrated:
        say("fitting the same model without lift tests (uncalibrated estimates)")
        started = time.perf_counter()
        uncalibrated = main.resample(model.draws, model.tune, lift_tests=False)
        seconds["uncalibrated"] = time.perf_counter() - started
    holdout = None
    if holdout_check:
        n_fit = holdout_periods(spend.sizes["period"])
        say(f"held-out check: refit on the first {n_fit} periods")
        # A check, not the estimate: at most HOLDOUT_DRAWS, never more than the main fit's.
        n_draws = min(HOLDOUT_DRAWS, model.draws)
        started = time.perf_counter()
        holdout = main.held_out(n_fit, n_draws, min(HOLDOUT_DRAWS, model.tune))
        seconds["held_out_check"] = time.perf_counter() - started
    ds = to_dataset(main, holdout=holdout, uncalibrated=uncalibrated)
    if selection is not None:
        ds.attrs["form_selection"] = selection
    # Wall-clock seconds per stage (compiling included): where a run's time went.
    ds.attrs["stage_seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    return ds
