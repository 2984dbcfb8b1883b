"""Pipeline of ``workbench mmm``: weekly spend and outcomes -> Bayesian media-mix model.

Steps, top to bottom: check the options -> validate and stage spend, outcomes (or the user-level
conversions, counted per week in SQL) and controls -> SQL data step (``workbench/sql/mmm_*.sql``:
everything summed, or for controls averaged, into weeks) -> weekly arrays (missing spend weeks
are 0; a missing outcome week is an error) -> lift tests checked against the data -> the model
(:func:`attribution.mmm.fit_media_mix`: fit, held-out check, and without the lift tests when there
are some) -> provenance -> atomic write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

import posterior_tools.settings as inference
from attribution.mmm import settings as mmm_settings
from workbench.errors import InputError
from workbench.validation_media import (
    CONTROLS,
    EXPERIMENTS,
    MEDIA_SPEND,
    OUTCOMES,
    check_experiments,
    control_columns,
    label,
    read_table,
)

if TYPE_CHECKING:
    from workbench.engines import Engine

#: Fewer weeks than this cannot separate carry-over, seasonality and trend: refuse.
MIN_WEEKS = 26
DAYS_PER_WEEK = 7


def mmm(
    spend: Any,
    outcomes: Any = None,
    *,
    conversions: Any = None,
    controls: Any = None,
    experiments: Any = None,
    adstock: str = mmm_settings.DEFAULT_ADSTOCK,
    saturation: str = mmm_settings.DEFAULT_SATURATION,
    l_max: int = mmm_settings.L_MAX,
    roi_prior: Mapping[str, tuple[float, float]] | None = None,
    draws: int = inference.DRAWS,
    tune: int = inference.TUNE,
    chains: int = inference.CHAINS,
    seed: int = 1,
    holdout_check: bool = True,
    sampler: str = mmm_settings.SAMPLER,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Bayesian media-mix model: each channel's contribution, ROI, carry-over and saturation
    from weekly spend and outcomes, with 90% intervals.

    Args:
        spend: path or DataFrame with channel, period_start, spend [period_end, geo]; currency
            per period (finer periods are summed into weeks; weeks without a row are 0).
        outcomes: path or DataFrame with period_start, conversions [revenue, geo]: the KPI per
            period (weeks start on the weekday of its first period_start).
        conversions: instead of ``outcomes``, the user-level conversions (user_id, timestamp),
            counted per week in SQL.
        controls: path or DataFrame with period_start [geo] and numeric columns (price,
            promotions, holidays, ...): known drivers of the baseline, averaged per week.
        experiments: lift tests (channel, start, end, incremental_conversions,
            standard_error): each adds the model's incremental conversions of that channel in
            that window (caused by its spend in the window) ~ Normal(measured, standard_error);
            the estimates without the tests are stored beside (``roi_uncalibrated``).
        adstock: ``geometric`` or ``delayed`` (delayed-peak) carry-over, or ``auto``: fit
            each form briefly and keep the one with the better PSIS-LOO fit (recorded in the
            attrs ``form_selection``; the chosen forms are the attrs ``adstock``, ``saturation``).
        saturation: ``logistic`` or ``hill``, or ``auto`` (as for ``adstock``).
        l_max: longest carry-over in weeks.
        roi_prior: optional ``{channel: (mean, sd)}`` ROI priors, conversions per unit spend.
        draws, tune, chains: NUTS settings per chain.
        seed: random seed (same inputs and seed, same numbers).
        holdout_check: refit without the last 10% of weeks for the out-of-sample MAPE.
        sampler: ``nutpie`` (Rust NUTS on the model compiled once) or ``pymc``.
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically to this NetCDF path when given.
        progress: called with one line per step (the CLI prints them).

    Returns:
        The media-mix Dataset (docs/contracts.md, "mmm.nc"): ``contribution(chain, draw,
        channel)``, ``roi(chain, draw, channel)``, ``contribution_over_time(chain, draw,
        period, channel)``, ``baseline(chain, draw, period)``, ``response_curve(chain, draw,
        channel, spend_level)``, parameters, fit checks and diagnostics in attrs.
    """
    from attribution.mmm import MediaMixModel, fit_media_mix
    from attribution.mmm.selection import candidate_forms

    say = progress or (lambda _m: None)
    _check_options(outcomes, conversions, draws, tune, chains, l_max)
    try:
        forms = candidate_forms(adstock, saturation)
    except ValueError as err:
        raise InputError(str(err)) from err
    weekly, rows = _weekly_tables(spend, outcomes, conversions, controls, engine)
    spend_da, kpi_da, controls_da = _arrays(weekly, spend, outcomes, conversions, controls)
    say(
        f"{spend_da.sizes['period']} weeks, {spend_da.sizes['channel']} channels"
        + (f", {spend_da.sizes['geo']} geos" if "geo" in spend_da.dims else "")
        + (f", {controls_da.sizes['control']} controls" if controls_da is not None else "")
    )
    tests = None
    if experiments is not None:
        tests = _experiments(experiments, spend_da)
        rows["experiments"] = len(tests)
    model = MediaMixModel(
        adstock=forms[0][0],
        saturation=forms[0][1],
        l_max=l_max,
        roi_prior=roi_prior,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=sampler,
    )
    try:
        ds = fit_media_mix(model, spend_da, kpi_da, controls_da, tests, holdout_check, say, forms)
    except ValueError as err:  # inputs the model cannot use (a user ROI prior's channel, ...)
        raise InputError(str(err)) from err
    settings = {
        "adstock": adstock,
        "saturation": saturation,
        "l_max": int(l_max),
        "roi_prior": {k: list(v) for k, v in (roi_prior or {}).items()},
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "holdout_check": bool(holdout_check),
        "sampler": sampler,
        "engine": engine,
        "kpi": "conversions",
    }
    ds.attrs.update(
        _provenance(spend, outcomes, conversions, controls, experiments, rows, seed, settings)
    )
    if out is not None:
        from workbench.store import write_results

        write_results(ds, out)
    return ds


# --- options -------------------------------------------------------------------------------


def _check_options(outcomes, conversions, draws, tune, chains, l_max) -> None:
    if (outcomes is None) == (conversions is None):
        raise InputError(
            "give exactly one KPI source: --outcomes (conversions per period) or --conversions "
            "(user-level conversions, counted per week)"
        )
    for name, value in (("--draws", draws), ("--chains", chains), ("--l-max", l_max)):
        if int(value) < 1:
            raise InputError(f"{name} must be at least 1; got {value}")
    if int(tune) < 0:
        raise InputError(f"--tune must be 0 or more; got {tune}")


# --- staging and the SQL data step ---------------------------------------------------------


def _weekly_tables(spend, outcomes, conversions, controls, engine: str):
    from workbench.engines import load_sql, make_engine
    from workbench.io import stage
    from workbench.validation import validate_source

    eng = make_engine(engine)
    try:
        rows = {}
        spend_cols = _stage(eng, MEDIA_SPEND, spend, validate_source)
        rows["spend"] = spend_cols.pop("__rows")
        if outcomes is not None:
            kpi_cols = _stage(eng, OUTCOMES, outcomes, validate_source)
            rows["outcomes"] = kpi_cols.pop("__rows")
            first = eng.query("SELECT MIN(period_start) AS t FROM outcomes")["t"].iloc[0]
        else:
            kpi_cols = {}
            rows["conversions"] = stage(eng, "conversions", conversions)
            first = eng.query("SELECT MIN(period_start) AS t FROM spend")["t"].iloc[0]
        if ("geo" in spend_cols) != ("geo" in kpi_cols):
            where = spend if "geo" not in spend_cols else (outcomes or conversions)
            raise InputError(
                "has no geo column while the other table has one; give geo in both spend and "
                "outcomes, or in neither",
                file=label(where, "spend" if "geo" not in spend_cols else "outcomes"),
                column="geo",
            )
        offset = int(np.floor(first)) % DAYS_PER_WEEK
        geo = "geo" if "geo" in spend_cols else "'national'"
        weekly = {
            "spend": eng.query(
                load_sql("mmm_weekly_spend", week_offset_days=offset, geo_select=geo)
            ),
            "offset": offset,
        }
        if outcomes is not None:
            weekly["kpi"] = eng.query(
                load_sql("mmm_weekly_outcomes", week_offset_days=offset, geo_select=geo)
            )
        else:
            weekly["kpi"] = eng.query(load_sql("mmm_conversion_counts", week_offset_days=offset))
        if controls is not None:
            frame = read_table(controls)
            names = control_columns(controls, frame)
            ctl_cols = _stage(eng, CONTROLS, controls, validate_source, extra=names)
            rows["controls"] = ctl_cols.pop("__rows")
            ctl_geo = "geo" if "geo" in ctl_cols and geo == "geo" else "'national'"
            averages = ", ".join(f"AVG(CAST({_ident(n)} AS DOUBLE)) AS {_ident(n)}" for n in names)
            weekly["controls"] = eng.query(
                load_sql(
                    "mmm_weekly_controls",
                    week_offset_days=offset,
                    geo_select=ctl_geo,
                    control_averages=averages,
                )
            )
            weekly["controls_by_geo"] = ctl_geo == "geo"
    finally:
        eng.close()
    return weekly, rows


def _ident(name: str) -> str:
    """A control column name as SQL: plain names only, the one spelling both engines read."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise InputError(
            "control column names must be letters, digits and underscores (starting with a "
            "letter); rename it",
            column=name,
        )
    return name


def _stage(eng: Engine, contract, source, validate_source, extra: list[str] = ()) -> dict:
    """Validate ``source`` against ``contract`` and register it as the view ``contract.kind``
    with timestamps as days since the epoch; returns the columns present and ``__rows``."""
    n_rows, types = validate_source(
        contract,
        source,
        None if isinstance(source, str | os.PathLike) else f"<{contract.kind} DataFrame>",
    )
    times = [n for n in types if contract.column(n).role == "time"]
    inner = f"{contract.kind}__input"
    eng.register(inner, source, timestamps=times)
    exprs = []
    for name in types:
        role = contract.column(name).role
        if role == "time":
            exprs.append(name)
        elif role == "number":
            exprs.append(f"CAST({name} AS DOUBLE) AS {name}")
        else:
            exprs.append(f"CAST({name} AS STRING) AS {name}")
    exprs += [_ident(n) for n in extra]
    eng.execute(
        f"CREATE OR REPLACE TEMPORARY VIEW {contract.kind} AS SELECT {', '.join(exprs)} "
        f"FROM {inner}"
    )
    return {**types, "__rows": n_rows}


# --- weekly arrays -------------------------------------------------------------------------


def _week_start(weeks: np.ndarray, offset: int) -> np.ndarray:
    days = np.asarray(weeks, dtype=np.int64) * DAYS_PER_WEEK + offset
    return np.datetime64("1970-01-01", "ns") + days.astype("timedelta64[D]").astype(
        "timedelta64[ns]"
    )


def _arrays(weekly, spend, outcomes, conversions, controls):
    """xarray spend (period, channel[, geo]), KPI (period[, geo]) and controls, on the weeks of
    the KPI; spend missing in a week is 0, a KPI week missing inside the range is an error."""
    offset = weekly["offset"]
    kpi = weekly["kpi"]
    sp = weekly["spend"]
    geos = sorted(kpi["geo"].astype(str).unique())
    if outcomes is not None:
        weeks = np.arange(int(kpi["week"].min()), int(kpi["week"].max()) + 1)
    else:  # user-level conversions: the weeks of spend
        weeks = np.arange(int(sp["week"].min()), int(sp["week"].max()) + 1)
    if len(weeks) < MIN_WEEKS:
        raise InputError(
            f"{len(weeks)} weeks of outcomes; the media-mix model needs at least {MIN_WEEKS}",
            file=label(outcomes if outcomes is not None else conversions, "outcomes"),
        )
    grid = pd.MultiIndex.from_product([geos, weeks], names=["geo", "week"])
    y = kpi.groupby(["geo", "week"])["conversions"].sum().reindex(grid)
    if outcomes is not None and y.isna().any():
        g, w = y[y.isna()].index[0]
        raise InputError(
            f"no row for the week starting {str(_week_start([w], offset)[0])[:10]}"
            + (f" in geo {g!r}" if len(geos) > 1 or g != "national" else "")
            + "; every week between the first and the last needs an outcome",
            file=label(outcomes, "outcomes"),
            column="period_start",
        )
    y = y.fillna(0.0)
    sp = sp[sp["week"].isin(weeks)]
    unknown = sorted(set(sp["geo"].astype(str)) - set(geos))
    if unknown:
        raise InputError(
            f"geo {unknown[0]!r} has spend but no outcomes",
            file=label(spend, "spend"),
            column="geo",
        )
    channels = sorted(sp["channel"].astype(str).unique())
    cube = (
        sp.groupby(["geo", "week", "channel"])["spend"]
        .sum()
        .reindex(pd.MultiIndex.from_product([geos, weeks, channels]), fill_value=0.0)
        .to_numpy()
        .reshape(len(geos), len(weeks), len(channels))
    )
    none = [c for i, c in enumerate(channels) if cube[:, :, i].sum() <= 0]
    if none:
        raise InputError(
            f"channel {none[0]!r} has no spend in the weeks of the outcomes; remove it",
            file=label(spend, "spend"),
            column="channel",
        )
    periods = _week_start(weeks, offset)
    spend_da = xr.DataArray(
        cube,
        dims=("geo", "period", "channel"),
        coords={"geo": geos, "period": periods, "channel": channels},
    )
    kpi_da = xr.DataArray(
        y.to_numpy().reshape(len(geos), len(weeks)),
        dims=("geo", "period"),
        coords={"geo": geos, "period": periods},
    )
    if geos == ["national"]:
        spend_da, kpi_da = spend_da.isel(geo=0, drop=True), kpi_da.isel(geo=0, drop=True)
    controls_da = None
    if controls is not None:
        controls_da = _controls(weekly, controls, geos, weeks, periods)
    return spend_da, kpi_da, controls_da


def _controls(weekly, controls, geos, weeks, periods) -> xr.DataArray:
    ctl = weekly["controls"]
    names = [c for c in ctl.columns if c not in ("week", "geo")]
    by_geo = weekly["controls_by_geo"]
    keys = geos if by_geo else ["national"]
    grid = pd.MultiIndex.from_product([keys, weeks], names=["geo", "week"])
    table = ctl.set_index(["geo", "week"])[names].reindex(grid)
    if table.isna().any().any():
        g, w = table[table.isna().any(axis=1)].index[0]
        raise InputError(
            f"no value for the week starting {str(_week_start([w], weekly['offset'])[0])[:10]}"
            + (f" in geo {g!r}" if by_geo else "")
            + "; controls must cover every week of the outcomes",
            file=label(controls, "controls"),
            column="period_start",
        )
    values = table.to_numpy().reshape(len(keys), len(weeks), len(names))
    da = xr.DataArray(
        values,
        dims=("geo", "period", "control"),
        coords={"geo": keys, "period": periods, "control": names},
    )
    return da if by_geo else da.isel(geo=0, drop=True)


def _experiments(experiments, spend_da: xr.DataArray) -> pd.DataFrame:
    from workbench.validation import validate_source

    validate_source(
        EXPERIMENTS,
        experiments,
        None if isinstance(experiments, str | os.PathLike) else "<experiments DataFrame>",
    )
    frame = read_table(experiments)
    missing = [c for c in ("incremental_conversions",) if c not in frame.columns]
    if missing:
        raise InputError(
            "required column is missing", file=label(experiments, "experiments"), column=missing[0]
        )
    periods = pd.DatetimeIndex(spend_da["period"].values)
    return check_experiments(
        experiments,
        frame,
        [str(c) for c in spend_da["channel"].values],
        periods[0],
        periods[-1] + pd.Timedelta(days=DAYS_PER_WEEK - 1),
    )


def _provenance(spend, outcomes, conversions, controls, experiments, rows, seed, settings):
    from workbench.store import provenance

    inputs = {"spend": spend}
    for role, src in (
        ("outcomes", outcomes),
        ("conversions", conversions),
        ("controls", controls),
        ("experiments", experiments),
    ):
        if src is not None:
            inputs[role] = src
    return provenance(inputs=inputs, row_counts=rows, seed=seed, settings=settings)


def summary_lines(ds: xr.Dataset) -> list[str]:
    """A few lines for the terminal: ROI per channel with its 90% interval, fit checks."""
    from posterior_tools.settings import INTERVAL_QUANTILES

    roi = ds["roi"]
    q = roi.quantile(list(INTERVAL_QUANTILES), ("chain", "draw"))
    lines = ["ROI (conversions per 1,000 of spend), mean [90% interval]:"]
    for c in roi["channel"].values:
        lo, hi = (float(v) * 1000 for v in q.sel(channel=c).values)
        line = f"  {c:<14} {float(roi.sel(channel=c).mean()) * 1000:8.2f} [{lo:.2f}, {hi:.2f}]"
        if "roi_uncalibrated" in ds:
            before = float(ds["roi_uncalibrated"].sel(channel=c).mean()) * 1000
            line += f"  without lift tests {before:.2f}"
        lines.append(line)
    selection = ds.attrs.get("form_selection")
    lines.append(
        f"form: {ds.attrs.get('adstock')} carry-over, {ds.attrs.get('saturation')} saturation"
        + (
            f" (chosen by PSIS-LOO among {len(selection['candidates'])})"
            if selection
            else " (as asked)"
        )
    )
    checks = ds.attrs.get("checks", {})
    lines.append(
        "fit: R2 {:.3f}, MAPE in sample {:.3f}, out of sample {}; diagnostics {}".format(
            checks.get("r2", float("nan")),
            checks.get("mape_in_sample", float("nan")),
            f"{checks['mape_out_of_sample']:.3f}" if "mape_out_of_sample" in checks else "not run",
            "ok" if ds.attrs.get("diagnostics_ok") else "NOT ok (see attrs 'diagnostics')",
        )
    )
    return lines
