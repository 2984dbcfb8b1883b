"""``workbench clv``: transactions -> RFM (SQL) -> BG/NBD + Gamma-Gamma -> per-customer CLV.

Steps: validate and stage the transactions (``workbench.io.stage``), reduce them to RFM
statistics with ``workbench/sql/`` on DuckDB or Spark (one scan into ``purchase_days``), fit
both models by maximum likelihood (lifetimes' likelihoods, our optimiser: ``clv.mle``;
``--method mle``) or by NUTS in PyMC (``--method bayes``), then compute P(alive), expected
purchases and discounted CLV per customer, the tracking and retention curves, the holdout check
and the segment summaries. The result is the clv.nc Dataset described in
docs/contracts.md; progress goes to stderr.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError

#: Points of the retention curve, which spans RETENTION_SPAN x the horizon.
RETENTION_POINTS = 60
RETENTION_SPAN = 1.0
#: Competing purchase models judged on holdout error (lifetimes MLE).
COMPARED_MODELS = ("bgnbd", "mbgnbd", "paretonbd")
#: The Gamma-Gamma fit needs at least this many repeat customers with positive spend.
MIN_GG_CUSTOMERS = 3


def _say(message: str, started: float) -> None:
    print(f"[clv {time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def clv(
    transactions: Any,
    *,
    calibration_end: Any = None,
    holdout_end: Any = None,
    time_unit: str = "W",
    horizon: float = 52.0,
    annual_discount_rate: float = 0.1,
    method: str = "mle",
    customers: Any = None,
    attribution_path: Any = None,
    seed: int = 1,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    posterior: str = "auto",
    compare_models: bool = True,
) -> xr.Dataset:
    """Customer lifetime value from a transactions table (path or DataFrame with customer_id,
    timestamp, amount).

    ``calibration_end``/``holdout_end``: last days (YYYY-MM-DD) of the calibration and holdout
    periods (default calibration end: the last transaction day; no holdout). ``time_unit``: D, W
    (days/7) or M (days/30.4375); ``horizon`` in those units; ``annual_discount_rate`` as a
    fraction. ``method``: ``mle`` (lifetimes' likelihoods) or ``bayes`` (PyMC; ``draws``, ``tune``,
    ``chains`` override the defaults in ``clv.settings``; ``posterior``: nuts, laplace or
    auto, which takes NUTS up to ``clv.settings.NUTS_MAX_ROWS`` compressed rows).
    ``customers``: path or DataFrame with customer_id and attribute columns, summarised as
    ``clv_by_<column>``. ``attribution_path``: attribution.nc (or its Dataset) for CLV by
    acquisition channel. ``compare_models``: with a holdout, also score modified BG/NBD and
    Pareto/NBD (MLE) on holdout error.
    Returns the clv Dataset (dim ``customer_id``); writes it atomically to ``out`` when given.
    """
    from clv import mle, settings, tracking, value
    from workbench import clv_segments, io, rfm
    from workbench.engines import make_engine
    from workbench.store import provenance, write_results

    started = time.perf_counter()
    if time_unit not in rfm.UNIT_DAYS:
        raise InputError(f"--time-unit must be one of D, W, M; got '{time_unit}'")
    if method not in ("mle", "bayes"):
        raise InputError(f"--method must be mle or bayes; got '{method}'")
    if not horizon > 0:
        raise InputError(f"--horizon must be positive; got {horizon}")
    if not annual_discount_rate > -1:
        raise InputError(f"--annual-discount-rate must be above -1; got {annual_discount_rate}")
    io.check_period_order(calibration_end, holdout_end)
    cal_ts = io.parse_date(calibration_end, option="--calibration-end")
    hold_ts = io.parse_date(holdout_end, option="--holdout-end")
    if hold_ts is not None and cal_ts is None:
        raise InputError("--holdout-end needs --calibration-end (where the holdout starts)")
    unit_days = rfm.UNIT_DAYS[time_unit]
    label = None if isinstance(transactions, str | os.PathLike) else "<transactions DataFrame>"

    eng = make_engine(engine)
    if eng.name == "duckdb":
        # Progress goes to stderr as one line per step; DuckDB's own bar would interleave.
        try:
            eng.execute("SET enable_progress_bar = false")
        except Exception:  # DuckDB in Jupyter without ipywidgets refuses it; the bar is cosmetic
            pass
    try:
        n_rows = io.stage(eng, "transactions", transactions, label=label)
        _say(f"staged {n_rows:,} transactions on {eng.name}", started)
        rfm.prepare(eng)
        first_day, last_day, _ = rfm.transactions_span(eng, prepared=True)
        cal_day = rfm.day_number(cal_ts) if cal_ts is not None else last_day
        hold_day = rfm.day_number(hold_ts) if hold_ts is not None else cal_day
        if cal_day < first_day:
            raise InputError(
                f"--calibration-end {cal_ts.date()} is before the first transaction "
                f"({_date(first_day)}); no customer is in the calibration period",
                file=_name(transactions),
            )
        periods = {"calibration_end": cal_day, "holdout_end": hold_day, "unit_days": unit_days}
        table = rfm.rfm(eng, **periods, prepared=True)
        counts, start_day = rfm.repeat_purchases_by_period(eng, **periods, prepared=True)
    finally:
        eng.close()
    n = len(table)
    _say(f"RFM: {n:,} customers, {int(table['frequency'].sum()):,} repeat purchases", started)

    x = table["frequency"].to_numpy()
    t_x = table["recency"].to_numpy()
    big_t = table["T"].to_numpy()
    m = table["monetary_value"].to_numpy()
    gg_mask = mle.gamma_gamma_sample(x, m)
    excluded = int(((x > 0) & ~gg_mask).sum())
    if excluded:
        warnings.warn(
            f"{excluded} repeat customer(s) have a mean repeat amount that is not positive and "
            "are left out of the Gamma-Gamma fit (their CLV uses the population spend)",
            UserWarning,
            stacklevel=2,
        )
    if gg_mask.sum() < MIN_GG_CUSTOMERS:
        raise InputError(
            f"only {int(gg_mask.sum())} customers bought again with a positive amount in the "
            f"calibration period; the spend model needs at least {MIN_GG_CUSTOMERS}",
            file=_name(transactions),
        )

    try:
        bg_mle = mle.fit_bgnbd(x, t_x, big_t)
        gg_mle = mle.fit_gamma_gamma(x[gg_mask], m[gg_mask])
    except mle.FitError as err:
        raise InputError(str(err), file=_name(transactions)) from err
    params_mle = _params({**bg_mle, **gg_mle})
    _say("MLE: " + ", ".join(f"{k}={v:.4g}" for k, v in {**bg_mle, **gg_mle}.items()), started)
    diagnostics: dict[str, Any] = {}
    if method == "bayes":
        from clv import bgnbd, gamma_gamma

        sampling = {
            "draws": draws or settings.DRAWS,
            "tune": tune or settings.TUNE,
            "chains": chains or settings.CHAINS,
            "seed": seed,
            "method": posterior,
        }
        bg_post, diagnostics["bgnbd"] = bgnbd.fit(x, t_x, big_t, start=bg_mle, **sampling)
        _say(f"BG/NBD posterior: {diagnostics['bgnbd']}", started)
        gg_post, diagnostics["gamma_gamma"] = gamma_gamma.fit(
            x[gg_mask], m[gg_mask], start=gg_mle, **sampling
        )
        _say(f"Gamma-Gamma posterior: {diagnostics['gamma_gamma']}", started)
        params = xr.concat([bg_post, gg_post], dim="param")
    else:
        params = params_mle

    ids = table["customer_id"].to_numpy().astype(str)
    segments = clv_segments.segments(ids, customers, attribution_path)
    group_matrix = np.concatenate([g for _, _, g in segments], axis=1) if segments else None
    values = value.customer_values(
        params,
        x,
        t_x,
        big_t,
        m,
        horizon=horizon,
        unit_days=unit_days,
        annual_discount_rate=annual_discount_rate,
        groups=group_matrix,
    )
    _say(f"per-customer values: total CLV {np.nansum(values['clv']):,.0f}", started)

    ds = xr.Dataset(
        {
            "frequency": ("customer_id", x),
            "recency": ("customer_id", t_x),
            "T": ("customer_id", big_t),
            "monetary_value": ("customer_id", m),
            **{k: ("customer_id", v) for k, v in values.items() if k != "group_clv"},
        },
        coords={"customer_id": ids},
    )
    ds["params"] = params
    if method == "bayes":
        ds["params_mle"] = params_mle.rename(param="param")
    ds = ds.merge(clv_segments.segment_variables(segments, values.get("group_clv")))

    holdout_length = (hold_day - cal_day) / unit_days
    metrics: dict[str, Any] = {}
    if holdout_length > 0:
        predicted = value.holdout_expected_purchases(params, x, t_x, big_t, holdout_length)
        actual = table["holdout_frequency"].to_numpy()
        ds["predicted_holdout_purchases"] = ("customer_id", predicted)
        ds["actual_holdout_purchases"] = ("customer_id", actual)
        ds = ds.merge(tracking.holdout_by_frequency(x, actual, predicted))
        metrics["holdout_mae"] = float(np.mean(np.abs(predicted - actual)))
        if compare_models:
            ds = ds.merge(_compare(x, t_x, big_t, actual, holdout_length, started))

    if len(counts):
        track = tracking.tracking(
            params,
            big_t,
            counts.to_numpy(),
            start_offset=(cal_day - start_day) / unit_days,
            end_offset=(hold_day + 1 - start_day) / unit_days,
        )
        period_start = pd.to_datetime(start_day + track["period"].values * unit_days, unit="D")
        ds = ds.merge(track.assign_coords(period=period_start.values))
    times = np.linspace(0.0, RETENTION_SPAN * horizon, RETENTION_POINTS)
    ds = ds.merge(tracking.retention_curve(params, times))

    ds.attrs = provenance(
        inputs={
            "transactions": transactions,
            **({"customers": customers} if customers is not None else {}),
            **({"attribution": attribution_path} if attribution_path is not None else {}),
        },
        row_counts={
            "transactions": n_rows,
            "customers": n,
            "gamma_gamma_customers": int(gg_mask.sum()),
            "gamma_gamma_excluded": excluded,
        },
        seed=seed,
        settings={
            "method": method,
            "engine": engine,
            "time_unit": time_unit,
            "horizon": horizon,
            "annual_discount_rate": annual_discount_rate,
            "interval": settings.INTERVAL,
            "value_draws": settings.VALUE_DRAWS,
            "clv_step_days": settings.CLV_STEP_DAYS,
            **({"sampling": sampling} if method == "bayes" else {}),
        },
        method=method,
        time_unit=time_unit,
        horizon=float(horizon),
        annual_discount_rate=float(annual_discount_rate),
        calibration_end=_date(cal_day),
        holdout_end=_date(hold_day) if holdout_length > 0 else "",
        params_mle={**bg_mle, **gg_mle},
        **metrics,
        **({"diagnostics": diagnostics} if diagnostics else {}),
        **({"posterior_method": diagnostics["bgnbd"]["posterior_method"]} if diagnostics else {}),
        **(
            {"diagnostics_ok": int(all(d["diagnostics_ok"] for d in diagnostics.values()))}
            if diagnostics
            else {}
        ),
    )
    if out is not None:
        write_results(ds, out)
        _say(f"wrote {out}", started)
    return ds


def run(
    transactions: str,
    out: str = "results/clv.nc",
    calibration_end: str | None = None,
    holdout_end: str | None = None,
    time_unit: str = "W",
    horizon: float = 52.0,
    annual_discount_rate: float = 0.1,
    method: str = "mle",
    customers: str | None = None,
    attribution_path: str | None = None,
    seed: int = 1,
    engine: str = "duckdb",
) -> None:
    """The ``workbench clv`` command (options as in ``workbench clv --help``)."""
    clv(
        transactions,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        method=method,
        customers=customers,
        attribution_path=attribution_path,
        seed=seed,
        engine=engine,
        out=out,
    )


# ---------------------------------------------------------------------------------------------


def _params(values: dict[str, float]) -> xr.DataArray:
    return xr.DataArray(
        np.array(list(values.values()), dtype=float),
        dims="param",
        coords={"param": list(values)},
    )


def _date(day: float) -> str:
    return str((pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(day))).date())


def _name(source: Any) -> str | None:
    return str(source) if isinstance(source, str | os.PathLike) else None


def _compare(x, t_x, big_t, actual, holdout_length: float, started: float) -> xr.Dataset:
    """Holdout mean absolute error and total error of competing purchase models (MLE)."""
    from clv import mle

    mae, bias = [], []
    for model in COMPARED_MODELS:
        try:
            fitter = mle.fit_purchase_model(x, t_x, big_t, model)
        except mle.FitError as err:
            # A competitor that does not converge is reported as missing, not fatal: the
            # comparison is a side result of the run.
            _say(f"holdout comparison: {err}", started)
            mae.append(float("nan"))
            bias.append(float("nan"))
            continue
        predicted = mle.holdout_predictions(fitter, x, t_x, big_t, holdout_length)
        mae.append(float(np.mean(np.abs(predicted - actual))))
        bias.append(float(predicted.sum() - actual.sum()))
    scores = ", ".join(f"{k} {v:.4f}" for k, v in zip(COMPARED_MODELS, mae, strict=True))
    _say(f"holdout MAE: {scores}", started)
    return xr.Dataset(
        {
            "model_holdout_mae": ("purchase_model", mae),
            "model_holdout_total_error": ("purchase_model", bias),
        },
        coords={"purchase_model": list(COMPARED_MODELS)},
    )
