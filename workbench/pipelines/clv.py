"""The ``clv`` job: transactions -> RFM (SQL) -> BG/NBD + Gamma-Gamma -> per-customer CLV.

Steps, top to bottom: check the options (``_options``), stage the transactions and reduce them
to RFM statistics with ``workbench/sql/`` on DuckDB or Spark (``_rfm``), fit ``clv.BetaGeo`` and
``clv.GammaGamma`` by maximum likelihood or as PyMC posteriors (``_fit``), per-customer values
with segment summaries (``_values``), the holdout check and the comparison with other purchase
models (``_holdout``), the tracking and retention curves (``_curves``), provenance (``_attrs``),
then the atomic write. The result is the clv.nc Dataset of docs/contracts.md; progress goes to
stderr as one line per step.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from clv import settings
from posterior_tools import settings as inference
from workbench.errors import InputError


@dataclass(frozen=True)
class _Options:
    """The run's checked options (periods as timestamps; None = last transaction / no holdout)."""

    calibration_end: pd.Timestamp | None
    holdout_end: pd.Timestamp | None
    time_unit: str
    horizon: float
    annual_discount_rate: float
    estimator: dict
    engine: str
    compare_models: bool
    source: str | None
    started: float = field(default_factory=time.perf_counter)

    @property
    def unit_days(self) -> float:
        return settings.UNIT_DAYS[self.time_unit]

    def say(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[clv {elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _RFM:
    """The SQL step's output: one row per calibration customer, the actual repeat purchases per
    time unit (tracking) and the day numbers where period 0, calibration and holdout end."""

    table: pd.DataFrame
    counts: pd.Series
    start_day: float
    calibration_day: float
    holdout_day: float
    n_transactions: int


def clv(
    transactions: Any,
    *,
    calibration_end: Any = None,
    holdout_end: Any = None,
    time_unit: str = settings.TIME_UNIT,
    horizon: float = settings.HORIZON,
    annual_discount_rate: float = settings.ANNUAL_DISCOUNT_RATE,
    method: str = settings.METHOD,
    customers: Any = None,
    attribution_path: Any = None,
    seed: int = settings.SEED,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    draws: int = inference.DRAWS,
    tune: int = inference.TUNE,
    chains: int = inference.CHAINS,
    posterior: str = settings.POSTERIOR,
    compare_models: bool = True,
) -> xr.Dataset:
    """Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend per customer.

    Args:
        transactions: path (CSV/Parquet) or DataFrame with customer_id, timestamp, amount.
            Purchases on the same calendar day are one purchase (their amounts add up).
        calibration_end: last day (YYYY-MM-DD) of the calibration period the models are fitted
            on; default: the last transaction day.
        holdout_end: last day of the holdout period, on which predictions are checked (needs
            ``calibration_end``); default: no holdout.
        time_unit: ``D`` (days), ``W`` (weeks = days / 7) or ``M`` (months = days / 30.4375);
            recency, T, the horizon and the curves are in this unit.
        horizon: CLV horizon in time units.
        annual_discount_rate: yearly discount rate as a fraction (0.1 = 10%); CLV discounts
            each mean month's expected purchases at the month's end.
        method: ``mle`` (maximum likelihood, lifetimes' likelihoods) or ``bayes`` (PyMC
            posteriors over the same likelihoods; per-customer values get intervals).
        customers: path or DataFrame with customer_id and attribute columns, summarised as
            ``clv_by_<column>``.
        attribution_path: attribution.nc (path or Dataset) for CLV by acquisition channel.
        seed: random seed of the posterior (same inputs and seed, same numbers).
        engine: ``duckdb`` or ``spark`` for the SQL step.
        out: write the Dataset atomically to this NetCDF path when given.
        draws, tune, chains: posterior draws and tuning steps per chain, and chains (bayes).
        posterior: ``auto`` (NUTS up to ``clv.settings.NUTS_MAX_ROWS`` unique (frequency,
            recency, T) rows, a Laplace approximation above), ``nuts`` or ``laplace`` (bayes).
        compare_models: with a holdout, also score the modified BG/NBD and Pareto/NBD on it.

    Returns:
        The clv Dataset (docs/contracts.md, "clv.nc"): per ``customer_id`` the RFM statistics,
        ``p_alive``, ``expected_purchases``, ``expected_order_value``, ``clv`` (+ ``_lower`` /
        ``_upper`` for bayes), ``params(param)`` (or ``params(chain, draw, param)``), tracking,
        retention and holdout checks.

    Degenerate data raises ``InputError`` with one line (a single customer, no repeat
    purchase, fewer than ``clv.settings.MIN_SPEND_CUSTOMERS`` repeat buyers with a positive
    amount); when every repeat buyer spends the same mean amount, that amount is every
    customer's expected order value (p, q, v are NaN; attr ``constant_order_value``).
    """
    from workbench.store import write_results

    options = _options(
        transactions,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        estimator={"method": method, "posterior": posterior, "seed": seed},
        sampler={"draws": draws, "tune": tune, "chains": chains},
        engine=engine,
        compare_models=compare_models,
    )
    data = _rfm(transactions, options)
    purchases, spend = _fit(data.table, options)
    ds = _values(data.table, purchases, spend, customers, attribution_path, options)
    ds = ds.merge(_holdout(data, purchases, options))
    ds = ds.merge(_curves(data, purchases, options))
    ds.attrs = _attrs(
        ds, data, purchases, spend, transactions, customers, attribution_path, options
    )
    if out is not None:
        write_results(ds, out)
        options.say(f"wrote {out}")
    return ds


def _options(
    transactions: Any,
    *,
    calibration_end: Any,
    holdout_end: Any,
    time_unit: str,
    horizon: float,
    annual_discount_rate: float,
    estimator: dict,
    sampler: dict[str, int | None],
    engine: str,
    compare_models: bool,
) -> _Options:
    """Check every option before any data is read (InputError names the option); sampler
    settings left at None take ``posterior_tools.settings``."""
    from workbench import io

    if time_unit not in settings.UNIT_DAYS:
        raise InputError(f"--time-unit must be one of D, W, M; got '{time_unit}'")
    if estimator["method"] not in settings.METHODS:
        raise InputError(f"--method must be mle or bayes; got '{estimator['method']}'")
    if estimator["posterior"] not in settings.POSTERIORS:
        raise InputError(f"--posterior must be one of {', '.join(settings.POSTERIORS)}")
    if not horizon > 0:
        raise InputError(f"--horizon must be positive; got {horizon}")
    if not annual_discount_rate > -1:
        raise InputError(f"--annual-discount-rate must be above -1; got {annual_discount_rate}")
    io.check_period_order(calibration_end, holdout_end)
    cal_ts = io.parse_date(calibration_end, option="--calibration-end")
    hold_ts = io.parse_date(holdout_end, option="--holdout-end")
    if hold_ts is not None and cal_ts is None:
        raise InputError("--holdout-end needs --calibration-end (where the holdout starts)")
    defaults = {"draws": inference.DRAWS, "tune": inference.TUNE, "chains": inference.CHAINS}
    sampler = {k: v or defaults[k] for k, v in sampler.items()}
    return _Options(
        calibration_end=cal_ts,
        holdout_end=hold_ts,
        time_unit=time_unit,
        horizon=float(horizon),
        annual_discount_rate=float(annual_discount_rate),
        estimator={**estimator, **sampler},
        engine=engine,
        compare_models=compare_models,
        source=_name(transactions),
    )


def _rfm(transactions: Any, options: _Options) -> _RFM:
    """Stage and validate the transactions, then the RFM table and the repeat purchases per
    period in SQL (``workbench.rfm``); one scan of the source into ``purchase_days``."""
    from workbench import io, rfm
    from workbench.engines import make_engine

    label = None if options.source else "<transactions DataFrame>"
    eng = make_engine(options.engine)
    try:
        n_rows = io.stage(eng, "transactions", transactions, label=label)
        options.say(f"staged {n_rows:,} transactions on {eng.name}")
        rfm.prepare(eng)
        first_day, last_day, _ = rfm.transactions_span(eng, prepared=True)
        cal_day = _day(options.calibration_end, last_day)
        hold_day = _day(options.holdout_end, cal_day)
        if cal_day < first_day:
            raise InputError(
                f"--calibration-end {options.calibration_end.date()} is before the first "
                f"transaction ({_date(first_day)}); no customer is in the calibration period",
                file=options.source,
            )
        periods = {
            "calibration_end": cal_day,
            "holdout_end": hold_day,
            "unit_days": options.unit_days,
            "prepared": True,
        }
        table = rfm.rfm(eng, **periods)
        counts, start_day = rfm.repeat_purchases_by_period(eng, **periods)
    finally:
        eng.close()
    repeats = int(table["frequency"].sum())
    options.say(f"RFM: {len(table):,} customers, {repeats:,} repeat purchases")
    return _RFM(table, counts, start_day, cal_day, hold_day, n_rows)


def _fit(table: pd.DataFrame, options: _Options):
    """``(purchases, spend)``: fitted ``clv.BetaGeo`` and ``clv.GammaGamma``. Data that cannot
    identify a model (``clv.DataError``) and fits that do not converge (``clv.FitError``) become
    one-line InputErrors naming the transactions file."""
    import clv
    from clv.data import SPEND_COLUMNS, as_rfm, check_purchases, check_spend

    try:
        # Both models' data checks before either fit (a posterior can take a while).
        check_purchases(as_rfm(table, labels=False), "BG/NBD")
        check_spend(as_rfm(table, columns=SPEND_COLUMNS, labels=False))
        purchases = clv.BetaGeo(**options.estimator).fit(table)
        spend = clv.GammaGamma(**options.estimator).fit(table)
    except (clv.DataError, clv.FitError) as err:
        raise InputError(str(err), file=options.source) from err
    mle = {**_series(purchases.params_mle_), **_series(spend.params_mle_)}
    options.say("MLE: " + ", ".join(f"{k}={v:.4g}" for k, v in mle.items()))
    for name, model in (("BG/NBD", purchases), ("Gamma-Gamma", spend)):
        if model.diagnostics_:
            options.say(f"{name} posterior: {model.diagnostics_}")
    return purchases, spend


def _values(table, purchases, spend, customers, attribution_path, options: _Options) -> xr.Dataset:
    """RFM statistics, P(alive), expected purchases and order value, and discounted CLV per
    customer, with CLV by customer attribute and by acquisition channel (``clv_by_<dim>``)."""
    from clv.estimators import joint_params
    from clv.value import customer_values
    from workbench import clv_segments

    ids = table["customer_id"].to_numpy().astype(str)
    segments = clv_segments.segments(ids, customers, attribution_path)
    groups = np.concatenate([g for _, _, g in segments], axis=1) if segments else None
    rfm = {k: table[k].to_numpy() for k in ("frequency", "recency", "T", "monetary_value")}
    values = customer_values(
        joint_params(purchases.params_, spend.params_),
        *rfm.values(),
        horizon=options.horizon,
        unit_days=options.unit_days,
        annual_discount_rate=options.annual_discount_rate,
        n_draws=settings.VALUE_DRAWS,
        groups=groups,
        order_value=spend.order_value_,
    )
    group_clv = values.pop("group_clv", None)
    options.say(f"per-customer values: total CLV {np.nansum(values['clv']):,.0f}")
    ds = xr.Dataset(
        {k: ("customer_id", v) for k, v in {**rfm, **values}.items()},
        coords={"customer_id": ids},
    )
    ds["params"] = joint_params(purchases.params_, spend.params_)
    if "chain" in ds["params"].dims:
        ds["params_mle"] = joint_params(purchases.params_mle_, spend.params_mle_)
    return ds.merge(clv_segments.segment_variables(segments, group_clv))


def _holdout(data: _RFM, purchases, options: _Options) -> xr.Dataset:
    """Predicted against actual holdout purchases per customer and by calibration frequency,
    and (``compare_models``) the holdout error of the compared purchase models."""
    from clv.tracking import holdout_by_frequency

    length = (data.holdout_day - data.calibration_day) / options.unit_days
    if not length > 0:
        return xr.Dataset()
    table = data.table
    predicted = purchases.expected_purchases(length, table)["expected_purchases"].values
    actual = table["holdout_frequency"].to_numpy()
    ds = xr.Dataset(
        {
            "predicted_holdout_purchases": ("customer_id", predicted),
            "actual_holdout_purchases": ("customer_id", actual),
        },
        coords={"customer_id": table["customer_id"].to_numpy().astype(str)},
    )
    ds = ds.merge(holdout_by_frequency(table["frequency"].to_numpy(), actual, predicted))
    if options.compare_models:
        ds = ds.merge(_compare(table, actual, length, options))
    return ds


def _compare(table, actual, length: float, options: _Options) -> xr.Dataset:
    """Holdout mean absolute error and total error of the purchase models, by maximum
    likelihood; a model whose fit does not converge is reported as missing (NaN)."""
    import clv

    models = {"bgnbd": clv.BetaGeo, "mbgnbd": clv.ModifiedBetaGeo, "paretonbd": clv.ParetoNBD}
    mae, total = [], []
    for name in settings.COMPARED_MODELS:
        try:
            model = models[name]().fit(table)
        except clv.FitError as err:
            options.say(f"holdout comparison: {err}")
            mae.append(np.nan)
            total.append(np.nan)
            continue
        predicted = model.expected_purchases(length, table)["expected_purchases"].values
        mae.append(float(np.mean(np.abs(predicted - actual))))
        total.append(float(predicted.sum() - actual.sum()))
    scores = ", ".join(f"{k} {v:.4f}" for k, v in zip(settings.COMPARED_MODELS, mae, strict=True))
    options.say(f"holdout MAE: {scores}")
    return xr.Dataset(
        {
            "model_holdout_mae": ("purchase_model", mae),
            "model_holdout_total_error": ("purchase_model", total),
        },
        coords={"purchase_model": list(settings.COMPARED_MODELS)},
    )


def _curves(data: _RFM, purchases, options: _Options) -> xr.Dataset:
    """The tracking curve (expected vs actual repeat purchases per time unit, calibration and
    holdout) and the retention curve over ``RETENTION_SPAN`` x the horizon."""
    from clv.tracking import tracking

    times = np.linspace(0.0, settings.RETENTION_SPAN * options.horizon, settings.RETENTION_POINTS)
    ds = purchases.retention(times)
    if not len(data.counts):
        return ds
    unit_days = options.unit_days
    track = tracking(
        purchases.params_,
        data.table["T"].to_numpy(),
        data.counts.to_numpy(),
        start_offset=(data.calibration_day - data.start_day) / unit_days,
        end_offset=(data.holdout_day + 1 - data.start_day) / unit_days,
    )
    starts = pd.to_datetime(data.start_day + track["period"].values * unit_days, unit="D")
    return ds.merge(track.assign_coords(period=starts.values))


def _attrs(ds, data, purchases, spend, transactions, customers, attribution_path, options):
    """Provenance (``workbench.store.provenance``), the run's settings and its checks."""
    from posterior_tools.settings import INTERVAL
    from workbench.store import provenance

    estimator = options.estimator
    inputs = {"transactions": transactions, "customers": customers, "attribution": attribution_path}
    table = data.table
    return provenance(
        inputs={k: v for k, v in inputs.items() if v is not None},
        row_counts={
            "transactions": data.n_transactions,
            "customers": len(table),
            "gamma_gamma_customers": int(
                ((table["frequency"] > 0) & (table["monetary_value"] > 0)).sum()
            ),
            "gamma_gamma_excluded": spend.excluded_,
        },
        seed=estimator["seed"],
        settings={
            "method": estimator["method"],
            "engine": options.engine,
            "time_unit": options.time_unit,
            "horizon": options.horizon,
            "annual_discount_rate": options.annual_discount_rate,
            "interval": INTERVAL,
            "value_draws": settings.VALUE_DRAWS,
            "clv_step_days": settings.CLV_STEP_DAYS,
            **({"sampling": estimator} if estimator["method"] == "bayes" else {}),
        },
        method=estimator["method"],
        time_unit=options.time_unit,
        horizon=options.horizon,
        annual_discount_rate=options.annual_discount_rate,
        calibration_end=_date(data.calibration_day),
        holdout_end=_date(data.holdout_day) if data.holdout_day > data.calibration_day else "",
        params_mle={**_series(purchases.params_mle_), **_series(spend.params_mle_)},
        **_checks(ds, purchases, spend),
    )


def _checks(ds, purchases, spend) -> dict[str, Any]:
    """Attrs of the run's checks: holdout MAE, sampler diagnostics (bayes) and the constant
    order value when the spend fallback applied."""
    out: dict[str, Any] = {}
    if "predicted_holdout_purchases" in ds:
        errors = ds["predicted_holdout_purchases"] - ds["actual_holdout_purchases"]
        out["holdout_mae"] = float(np.abs(errors).mean())
    diagnostics = {"bgnbd": purchases.diagnostics_, "gamma_gamma": spend.diagnostics_}
    diagnostics = {k: v for k, v in diagnostics.items() if v}
    if diagnostics:
        out["diagnostics"] = diagnostics
        out["posterior_method"] = purchases.diagnostics_["posterior_method"]
        out["diagnostics_ok"] = int(all(d["diagnostics_ok"] for d in diagnostics.values()))
    if spend.order_value_ is not None:
        out["constant_order_value"] = spend.order_value_
    return out


def _series(params: xr.DataArray) -> dict[str, float]:
    return {str(k): float(v) for k, v in zip(params["param"].values, params.values, strict=True)}


def _day(timestamp: pd.Timestamp | None, default: float) -> float:
    from workbench.rfm import day_number

    return default if timestamp is None else day_number(timestamp)


def _date(day: float) -> str:
    return str((pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(day))).date())


def _name(source: Any) -> str | None:
    return str(source) if isinstance(source, str | os.PathLike) else None
