"""Tidy tables from the result Datasets, shared by the report's sections and figures.

Every function takes the Datasets written by ``attribute``, ``clv`` and ``plan`` (schemas in
docs/contracts.md) and returns a small pandas DataFrame or dict. Posterior summaries are the mean
and the equal-tailed interval ``INTERVAL`` over the sample dims ``(chain, draw)`` (or ``draw``).
Functions return ``None`` when the variables they need are absent, so a report can say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from posterior_tools.settings import INTERVAL as INTERVAL_WIDTH
from posterior_tools.settings import INTERVAL_QUANTILES

#: Lower and upper quantiles of every interval in the report (``posterior_tools.settings``).
INTERVAL = INTERVAL_QUANTILES
#: Label of the interval in prose and table headers.
INTERVAL_LABEL = f"{round(INTERVAL_WIDTH * 100)}% interval"
#: Sample dimensions of posterior draws.
SAMPLE_DIMS = ("chain", "draw")
#: Heuristic baselines shown beside the Bayesian credit (names in ``heuristic_credit.method``).
COMPARED_METHODS = ("last_touch", "markov")
#: Scenario names that denote today's plan, in order of preference.
CURRENT_SCENARIO_NAMES = ("current", "baseline", "status_quo")
#: Scenario name of the optimiser's allocation (docs/contracts.md).
OPTIMISED_SCENARIO = "optimised"
#: Number of calibration-frequency groups in the conditional-expectation plot (last is "n+").
CONDITIONAL_FREQ_GROUPS = 8


def sample_dims(da: xr.DataArray) -> tuple[str, ...]:
    """The posterior sample dims present in ``da`` (empty for point estimates)."""
    return tuple(d for d in da.dims if d in SAMPLE_DIMS)


def summarise(da: xr.DataArray) -> xr.Dataset:
    """Mean, lower and upper (``INTERVAL``) over the sample dims of ``da``.

    Point estimates (no sample dims) get lower = upper = mean.
    """
    dims = sample_dims(da)
    if not dims:
        return xr.Dataset({"mean": da, "lower": da, "upper": da})
    q = da.quantile(list(INTERVAL), dim=dims)
    return xr.Dataset(
        {
            "mean": da.mean(dims),
            "lower": q.sel(quantile=INTERVAL[0], drop=True),
            "upper": q.sel(quantile=INTERVAL[1], drop=True),
        }
    )


def mean_interval(da: xr.DataArray) -> tuple[float, float, float]:
    """Mean and ``INTERVAL`` quantiles of every finite value of ``da`` (all its draws), as
    plain floats; NaN for all three when there is none."""
    values = np.asarray(da.values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    lo, hi = np.quantile(values, INTERVAL)
    return float(values.mean()), float(lo), float(hi)


def _scalar(ds: xr.Dataset, name: str) -> float | None:
    if name not in ds:
        return None
    da = ds[name]
    dims = sample_dims(da)
    value = da.mean(dims) if dims else da
    return float(value.values) if value.size == 1 else None


def channel_credit(attr: xr.Dataset) -> pd.DataFrame | None:
    """Per channel: Bayesian (Shapley) credit, removal effect and the heuristic baselines.

    Columns (conversions unless named ``share``): ``bayes``, ``bayes_lower``, ``bayes_upper``,
    ``bayes_share`` (+ ``_lower``, ``_upper``: fraction of all channel-attributed conversions,
    computed per draw), ``incremental`` (+ bounds), and for each heuristic method its credit and
    ``<method>_share``. Index: channel names in the Dataset's order.
    """
    if "attributed_conversions" not in attr:
        return None
    credit = attr["attributed_conversions"]
    out = pd.DataFrame(index=pd.Index([str(c) for c in credit["channel"].values], name="channel"))
    s = summarise(credit)
    out["bayes"], out["bayes_lower"], out["bayes_upper"] = (
        s["mean"].values,
        s["lower"].values,
        s["upper"].values,
    )
    total = credit.sum("channel")
    shares = summarise(credit / total.where(total > 0))
    out["bayes_share"] = shares["mean"].values
    out["bayes_share_lower"] = shares["lower"].values
    out["bayes_share_upper"] = shares["upper"].values
    if "incremental_conversions" in attr:
        inc = summarise(attr["incremental_conversions"])
        out["incremental"] = inc["mean"].values
        out["incremental_lower"] = inc["lower"].values
        out["incremental_upper"] = inc["upper"].values
    if "heuristic_credit" in attr:
        heur = attr["heuristic_credit"]
        for method in heur["method"].values:
            values = heur.sel({"method": method}).values.astype(float)
            name = str(method)
            out[name] = values
            denom = np.nansum(values)
            out[f"{name}_share"] = values / denom if denom > 0 else np.nan
    return out


def conversion_totals(attr: xr.Dataset) -> dict[str, float | None]:
    """Observed, organic and model-baseline conversions (posterior mean) as plain numbers."""
    totals = {
        "observed": _scalar(attr, "observed_conversions"),
        "organic": _scalar(attr, "organic_conversions"),
        "baseline": _scalar(attr, "baseline_conversions"),
    }
    if "baseline_conversions" in attr:
        s = summarise(attr["baseline_conversions"])
        totals["baseline_lower"] = float(s["lower"])
        totals["baseline_upper"] = float(s["upper"])
    return totals


def current_scenario(plan: xr.Dataset) -> str | None:
    """Name of the scenario that stands for today's plan (``current`` or the first one)."""
    if "scenario" not in plan.coords:
        return None
    names = [str(s) for s in plan["scenario"].values]
    for candidate in CURRENT_SCENARIO_NAMES:
        if candidate in names:
            return candidate
    return names[0] if names else None


def _delta(plan: xr.Dataset, what: str, current: str | None) -> pd.DataFrame | None:
    """Change of ``what`` (conversions | value) against the current plan: mean, lower, upper."""
    names = [f"delta_{what}_{k}" for k in ("mean", "q05", "q95")]
    if all(n in plan for n in names):
        return pd.DataFrame(
            {
                "mean": plan[names[0]].values,
                "lower": plan[names[1]].values,
                "upper": plan[names[2]].values,
            },
            index=[str(s) for s in plan["scenario"].values],
        )
    if what in plan and current is not None:
        delta = plan[what] - plan[what].sel(scenario=current)
        s = summarise(delta)
        return pd.DataFrame(
            {"mean": s["mean"].values, "lower": s["lower"].values, "upper": s["upper"].values},
            index=[str(x) for x in plan["scenario"].values],
        )
    return None


def scenarios(plan: xr.Dataset) -> pd.DataFrame | None:
    """One row per scenario: total spend, expected conversions and value, their change against
    the current plan (mean and ``INTERVAL``) and ``p_beats_current``."""
    if "scenario" not in plan.coords:
        return None
    current = current_scenario(plan)
    out = pd.DataFrame(index=pd.Index([str(s) for s in plan["scenario"].values], name="scenario"))
    if "spend" in plan:
        out["spend"] = plan["spend"].sum("channel").values
    for what in ("conversions", "value"):
        if what in plan:
            s = summarise(plan[what])
            out[what] = s["mean"].values
        delta = _delta(plan, what, current)
        if delta is not None:
            out[f"delta_{what}"] = delta["mean"].values
            out[f"delta_{what}_lower"] = delta["lower"].values
            out[f"delta_{what}_upper"] = delta["upper"].values
    if "p_beats_current" in plan:
        out["p_beats_current"] = plan["p_beats_current"].values
    if "description" in plan and plan["description"].dims == ("scenario",):
        out["description"] = [str(d) for d in plan["description"].values]
    return out


def allocation(plan: xr.Dataset) -> pd.DataFrame | None:
    """Spend per channel under the current plan and the optimiser's allocation."""
    current = current_scenario(plan)
    if "spend" not in plan or current is None:
        return None
    names = [str(s) for s in plan["scenario"].values]
    if OPTIMISED_SCENARIO not in names:
        return None
    out = pd.DataFrame(
        {
            "current": plan["spend"].sel(scenario=current).values,
            "optimised": plan["spend"].sel(scenario=OPTIMISED_SCENARIO).values,
        },
        index=pd.Index([str(c) for c in plan["channel"].values], name="channel"),
    )
    out["change"] = out["optimised"] - out["current"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["change_share"] = np.where(out["current"] > 0, out["change"] / out["current"], np.nan)
    return out


#: Names the per-channel KPI variable may have in plan.nc (a data variable cannot share its
#: name with the ``kpi`` dimension, so the planner may use any of these).
KPI_VARIABLES = ("kpi", "kpis", "kpi_value", "kpi_mean")


def _kpi_variable(plan: xr.Dataset) -> tuple[str, str] | None:
    """(variable name, KPI dimension) of the per-channel KPI table in ``plan``."""
    for name in KPI_VARIABLES:
        if name in plan.data_vars and "channel" in plan[name].dims:
            other = [d for d in plan[name].dims if d != "channel" and d not in SAMPLE_DIMS]
            if len(other) == 1:
                return name, other[0]
    return None


def kpis(plan: xr.Dataset) -> pd.DataFrame | None:
    """KPI table ``channel x kpi`` (means), with ``<kpi>_lower``/``_upper`` columns when the
    plan stores intervals (as ``kpi_lower``/``kpi_upper`` or as a sample dim of the KPIs)."""
    found = _kpi_variable(plan)
    if found is None:
        return None
    name, dim = found
    da = plan[name]
    s = summarise(da)
    mean = s["mean"].transpose("channel", dim)
    table = pd.DataFrame(
        mean.values,
        index=pd.Index([str(c) for c in mean["channel"].values], name="channel"),
        columns=[str(k) for k in mean[dim].values],
    )
    bounds = []
    for bound in ("lower", "upper"):
        stored = next((f"{n}_{bound}" for n in (name, "kpi") if f"{n}_{bound}" in plan), None)
        bounds.append(plan[stored] if stored else (s[bound] if sample_dims(da) else None))
    if bounds[0] is not None and bounds[1] is not None:
        lo = bounds[0].transpose("channel", dim).values
        hi = bounds[1].transpose("channel", dim).values
        for j, k in enumerate(table.columns.copy()):
            table[f"{k}_lower"] = lo[:, j]
            table[f"{k}_upper"] = hi[:, j]
    return table


def kpi_totals(plan: xr.Dataset) -> pd.Series | None:
    """Overall KPIs (``kpi_total(kpi)`` with optional ``_lower``/``_upper``) as one row whose
    index matches the columns of :func:`kpis`."""
    found = _kpi_variable(plan)
    if found is None or "kpi_total" not in plan:
        return None
    labels = [str(k) for k in plan[found[1]].values]
    row = pd.Series(plan["kpi_total"].values, index=labels)
    for bound in ("lower", "upper"):
        name = f"kpi_total_{bound}"
        if name in plan:
            extra = pd.Series(plan[name].values, index=[f"{k}_{bound}" for k in labels])
            row = pd.concat([row, extra])
    return row


def clv_by_channel(clv: xr.Dataset) -> pd.DataFrame | None:
    """Mean discounted CLV of the customers each channel acquires (+ bounds when present)."""
    if "clv_by_channel" not in clv:
        return None
    da = clv["clv_by_channel"]
    s = summarise(da)
    out = pd.DataFrame(
        {"clv": s["mean"].values},
        index=pd.Index([str(c) for c in da["channel"].values], name="channel"),
    )
    for bound in ("lower", "upper"):
        name = f"clv_by_channel_{bound}"
        out[f"clv_{bound}"] = clv[name].values if name in clv else s[bound].values
    return out


def clv_overview(clv: xr.Dataset) -> dict[str, float | None]:
    """Customer-base figures: customers, mean and median CLV, share likely alive, total CLV."""
    out: dict[str, float | None] = {"customers": None}
    if "customer_id" in clv.dims:
        out["customers"] = float(clv.sizes["customer_id"])
    if "clv" in clv:
        values = clv["clv"].values.astype(float)
        out["clv_mean"] = float(np.nanmean(values))
        out["clv_median"] = float(np.nanmedian(values))
        out["clv_total"] = float(np.nansum(values))
        if "clv_lower" in clv and "clv_upper" in clv:
            out["clv_total_lower"] = float(np.nansum(clv["clv_lower"].values))
            out["clv_total_upper"] = float(np.nansum(clv["clv_upper"].values))
    if "p_alive" in clv:
        out["p_alive_mean"] = float(np.nanmean(clv["p_alive"].values))
    return out


def conditional_expectation(clv: xr.Dataset) -> pd.DataFrame | None:
    """Mean predicted vs actual holdout purchases per calibration-period repeat frequency.

    Groups 0 .. ``CONDITIONAL_FREQ_GROUPS - 1``, the last holding every higher frequency (the
    conditional-expectation plot of Fader, Hardie & Lee 2005, fig. 3).
    """
    stored = ("holdout_actual_by_frequency", "holdout_predicted_by_frequency")
    if all(n in clv for n in stored):
        out = pd.DataFrame(
            {
                "predicted": clv[stored[1]].values,
                "actual": clv[stored[0]].values,
                "customers": clv["customers_by_frequency"].values
                if "customers_by_frequency" in clv
                else np.nan,
            },
            index=[str(g) for g in clv["frequency_group"].values],
        )
        return out[out["customers"].fillna(1) > 0]
    needed = ("frequency", "predicted_holdout_purchases", "actual_holdout_purchases")
    if not all(n in clv for n in needed):
        return None
    top = CONDITIONAL_FREQ_GROUPS - 1
    freq = np.minimum(np.round(clv["frequency"].values).astype(int), top)
    df = pd.DataFrame(
        {
            "group": freq,
            "predicted": clv["predicted_holdout_purchases"].values,
            "actual": clv["actual_holdout_purchases"].values,
        }
    )
    out = df.groupby("group").agg(
        predicted=("predicted", "mean"), actual=("actual", "mean"), customers=("actual", "size")
    )
    out.index = [f"{g}+" if g == top else str(g) for g in out.index]
    return out


def retention_curve(clv: xr.Dataset) -> pd.DataFrame | None:
    """Share of a newly acquired cohort still active after t time units, under BG/NBD: the
    curve stored in clv.nc (``retention(retention_time)``, + ``_lower``/``_upper`` for bayes;
    computed by ``clv.tracking.retention_curve``). Columns ``t`` (time units of clv.nc),
    ``mean``, ``lower``, ``upper``; ``None`` when clv.nc has no stored curve."""
    if "retention" not in clv or "retention_time" not in clv["retention"].dims:
        return None
    mean = clv["retention"].values
    return pd.DataFrame(
        {
            "t": clv["retention_time"].values,
            "mean": mean,
            "lower": clv["retention_lower"].values if "retention_lower" in clv else mean,
            "upper": clv["retention_upper"].values if "retention_upper" in clv else mean,
        }
    )


def period_kpis(plan: xr.Dataset) -> pd.DataFrame | None:
    """KPIs per channel in each part of the data window (``kpi_period(period_half, channel,
    period_metric)`` in plan.nc) as columns ``<metric>:<half>``; ``None`` when absent."""
    if "kpi_period" not in plan:
        return None
    da = plan["kpi_period"]
    half_dim, metric_dim = (d for d in da.dims if d != "channel")
    out = pd.DataFrame(index=pd.Index([str(c) for c in da["channel"].values], name="channel"))
    for metric in da[metric_dim].values:
        for half in da[half_dim].values:
            values = da.sel({metric_dim: metric, half_dim: half}).transpose("channel").values
            out[f"{metric}:{half}"] = values
    return out
