"""Planning pipeline (``workbench plan``): KPIs, response curves, budget scenarios and an
optimised allocation.

Reads attribution.nc (model posterior, pattern table, weekly touches), clv.nc (value of the
customers each channel acquires) and the spend table; writes plan.nc. ``draw`` is a flattened
posterior sample (chain x draw, thinned to ``MAX_DRAWS``); spend and outcomes are totals over
the window of the spend periods that overlap the touch data.

plan.nc:
- ``spend(scenario, channel)`` (currency), ``spend_multiplier(scenario, channel)``,
  ``description(scenario)``; scenarios: ``current``, the user's, ``optimised``;
- ``conversions(scenario, draw)``, ``value(scenario, draw)`` (currency: first order + CLV);
- ``delta_conversions_{mean,q05,q95}(scenario)``, ``delta_value_{mean,q05,q95}(scenario)``,
  ``p_beats_current(scenario)`` (value), ``p_more_conversions(scenario)``;
- ``response_conversions(channel, multiplier, draw)``, ``response_value(...)``;
- ``kpi(channel, metric)``, ``kpi_lower``, ``kpi_upper``, ``kpi_total(metric)`` (+ bounds),
  ``kpi_period(period_half, channel, period_metric)`` when the spend spans several periods;
- ``new_reach(scenario, channel)``: people not reached now whom the scenario reaches;
- touch curves ``reach_k(draw, channel)``, ``reach_a``, ``reach_*_map(channel)``; the audience
  (reach and frequency) ``audience_m``, ``audience_k``, ``audience_size(draw, channel)``,
  ``audience_reached(channel)`` and its weekly check ``audience_check_*(channel)``; the check
  of who the newly reached are like, ``single_channel_observed`` / ``_expected`` (+ bounds);
  ``customer_value(draw, channel)``; the planner page's payload ``planner_*``
  (``workbench.planning.payload``, docs/contracts.md);
- attrs: provenance (settings incl. budget, objective, bounds), ``optimiser_converged``,
  ``optimiser_message``, ``optimiser_objective``, ``value_source``, ``spend_window_days``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from posterior_tools.settings import INTERVAL_QUANTILES as INTERVAL
from workbench.errors import InputError

#: Posterior samples kept for scenarios and curves (thinned evenly from chain x draw).
MAX_DRAWS = 200
#: Posterior samples the optimiser climbs on (a subset of the above, for speed).
OPTIMISER_DRAWS = 60
#: The attribution model's posterior parameters (``attribution.model.PARAMETERS``).
MODEL_PARAMETERS = ("baseline", "beta", "decay", "saturation", "synergy")
#: Optimiser objectives: the mean or a lower quantile (``q10``) of the value gained.
DEFAULT_OBJECTIVE = "mean"
#: A scenario beats current in a draw only by more than this share of the current outcome: a
#: change left at rounding noise (channels with no effect in that draw) is a tie, not a win.
TIE_RTOL = 1e-9


@dataclass
class _Inputs:
    """What the plan reads: both results files, the spend grid and the current spend."""

    attr_ds: xr.Dataset
    clv_ds: xr.Dataset
    channels: list[str]
    grid: xr.Dataset
    current: np.ndarray


def plan(
    attribution: str | os.PathLike | xr.Dataset,
    clv: str | os.PathLike | xr.Dataset,
    spend: str | os.PathLike | pd.DataFrame,
    *,
    scenarios: str | os.PathLike | list[dict] | None = None,
    budget: float | None = None,
    objective: str = DEFAULT_OBJECTIVE,
    bounds: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
    seed: int = 1,
    out: str | os.PathLike | None = None,
    max_draws: int = MAX_DRAWS,
    optimiser_draws: int = OPTIMISER_DRAWS,
) -> xr.Dataset:
    """Budget scenarios and an optimised allocation, valued in conversions and customer value.

    Args:
        attribution: attribution.nc path (or its Dataset) from :func:`attribute`.
        clv: clv.nc path (or its Dataset) from :func:`clv`.
        spend: path or DataFrame with channel, period_start, spend [, period_end] (currency).
        scenarios: YAML/CSV file or a list of dicts of per-channel spend changes
            (``data/scenarios_example.yaml`` shows the format).
        budget: total spend for the optimiser over the data window (default: current total).
        objective: ``mean`` or a lower quantile such as ``q10`` of the value gained.
        bounds: (low, high) multiples of current spend for every channel, or a dict
            channel -> (low, high).
        seed: seed of the draw selection and of the reach and value draws.
        out: write the Dataset atomically to this NetCDF path when given.
        max_draws: posterior draws kept for scenarios and curves (evenly thinned).
        optimiser_draws: posterior draws the optimiser climbs on, disjoint from the above
            when the posterior has enough (so the optimum is not judged on its own draws).

    Returns:
        The plan Dataset: ``conversions(scenario, draw)``, ``value(scenario, draw)``, deltas
        against the current plan with 90% intervals, ``p_beats_current(scenario)``, the people
        each scenario newly reaches, response curves, the touch-curve and audience (reach and
        frequency) draws and KPIs (docs/contracts.md, "plan.nc").
    """
    from workbench.planning.optimise import parse_objective
    from workbench.store import write_results

    goal = parse_objective(objective)
    inputs = _read_inputs(attribution, clv, spend)
    plan_list = _scenarios(inputs, scenarios)
    samples, opt_samples, disjoint = _draw_split(inputs.attr_ds, seed, max_draws, optimiser_draws)
    model, reach, clv_c, value_note = _response_model(inputs, samples, seed)
    opt_model, _, _, _ = _response_model(inputs, opt_samples, seed + 1)  # independent draws
    total = float(inputs.current.sum()) if budget is None else float(budget)
    best = _optimise(inputs, opt_model, total, bounds, goal)
    plan_list.append(best.scenario)
    ds = _evaluate(inputs, model, plan_list)
    ds = ds.merge(_curves_and_kpis(inputs, model, reach, clv_c))
    ds = ds.merge(_planner_payload(inputs, model, samples))
    ds.attrs = _provenance(
        locals_=dict(attribution=attribution, clv=clv, spend=spend, scenarios=scenarios),
        inputs=inputs,
        n_draws=len(samples),
        seed=seed,
        settings={
            "budget": total,
            "objective": goal.label,
            "bounds": bounds if bounds is not None else "default",
            "max_draws": max_draws,
            "optimiser_draws": len(opt_samples),
            "optimiser_draws_disjoint": disjoint,
            "interval": list(INTERVAL),
        },
        best=best,
        value_note=value_note,
    )
    if out is not None:
        write_results(ds, out)
    return ds


def _read_inputs(attribution, clv, spend) -> _Inputs:
    from workbench.planning.spend import load_spend, spend_grid

    attr_ds = _open(attribution, "attribution")
    clv_ds = _open(clv, "clv")
    _require(
        attr_ds, ("pattern_counts", "pattern_n_journeys", "attributed_conversions"), attribution
    )
    channels = [str(c) for c in attr_ds["channel"].values]
    spend_label = str(spend) if isinstance(spend, str | os.PathLike) else "<DataFrame>"
    grid = spend_grid(load_spend(spend), channels, attr_ds.get("weekly_touches"), spend_label)
    current = grid["spend"].sum("period").values
    if not (current > 0).any():
        raise InputError("every channel has zero spend; nothing to plan", file=spend_label)
    return _Inputs(attr_ds, clv_ds, channels, grid, current)


def _scenarios(inputs: _Inputs, scenarios) -> list:
    """Current spend, then the user's scenarios (validated before any model work)."""
    from workbench.planning.scenarios import CURRENT, Scenario, read_scenarios

    current_map = dict(zip(inputs.channels, inputs.current.tolist(), strict=True))
    plan_list = [Scenario(CURRENT, current_map, "current spend")]
    if scenarios is not None:
        plan_list += read_scenarios(scenarios, current_map)
    for sc in plan_list:
        # Channels with no current spend have no reach curve: their response is unknown.
        bad = [c for c in inputs.channels if current_map[c] == 0 and sc.spend[c] > 0]
        if bad:
            raise InputError(
                f"scenario '{sc.name}' gives spend to {', '.join(bad)}, which has no current "
                "spend, so its response to spend is unknown",
                file=str(scenarios),
            )
    return plan_list


def _draw_split(attr_ds: xr.Dataset, seed: int, max_draws: int, optimiser_draws: int):
    """Posterior samples for reporting and for the optimiser: disjoint when the posterior has
    enough, so the optimised scenario is not judged on the draws it was tuned to (winner's
    curse). Returns (samples, optimiser samples, disjoint)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(attr_ds.sizes["chain"] * attr_ds.sizes["draw"])
    samples = np.sort(order[:max_draws])
    spare = order[max_draws:]
    opt_samples = np.sort(spare[:optimiser_draws] if spare.size else samples[:optimiser_draws])
    return samples, opt_samples, bool(spare.size > 0)


def _response_model(inputs: _Inputs, samples: np.ndarray, seed: int):
    """Spend -> conversions and value per posterior sample: the attribution model's hazard,
    touch curves fitted to weekly spend and touches, the audience (reach and frequency) fitted
    to the journeys' touch counts, and customer value per channel. Returns (ResponseModel,
    touch-curve and audience Dataset, customer value (sample, channel), value source note)."""
    from attribution.settings import COUNT_CAP
    from workbench.planning.audience import fit_audience
    from workbench.planning.reach import fit_reach
    from workbench.planning.response import ResponseModel, model_hazard, new_reach_mix
    from workbench.planning.value import customer_worth, worth_draws

    attr = inputs.attr_ds
    hazard = model_hazard(_parameters(attr), attr["pattern_counts"], samples)
    n = hazard.n_samples
    n_journeys = attr["pattern_n_journeys"].values.astype(float)
    # No weekly touches (NaN): every channel's touches are taken as proportional to spend.
    reach = fit_reach(inputs.grid["spend"], inputs.grid["touches"], n, seed)
    audience = fit_audience(
        attr["pattern_counts"],
        n_journeys,
        COUNT_CAP,
        n,
        seed + 7919,  # its own stream: the touch-curve draws stay as they were
        attr.get("weekly_touches"),
        attr.get("weekly_reach"),
    )
    worth, clv_base, value_note = customer_worth(inputs.clv_ds, inputs.channels)
    clv_c = worth_draws(inputs.clv_ds, inputs.channels, worth, n, seed)
    model = ResponseModel(
        channels=inputs.channels,
        hazard=hazard,
        n_journeys=n_journeys,
        reach_k=reach["reach_k"].values,
        weekly_spend=inputs.grid["spend"].values,
        audience_m=audience["audience_m"].values,
        audience_k=audience["audience_k"].values,
        audience_size=audience["audience_size"].values,
        new_mix=new_reach_mix(attr["pattern_counts"], n_journeys, COUNT_CAP),
        clv_by_channel=clv_c,
        clv_baseline=clv_base,
        organic_conversions=float(attr.get("organic_conversions", 0.0)),
    )
    return model, reach.merge(audience), clv_c, value_note


@dataclass
class _Best:
    scenario: Any
    converged: bool
    message: str
    objective: float


def _optimise(inputs: _Inputs, opt_model, total: float, bounds, goal) -> _Best:
    """The optimiser's allocation under the total budget and per-channel bounds."""
    from workbench.planning.optimise import optimise, resolve_bounds
    from workbench.planning.scenarios import OPTIMISED, Scenario

    current = inputs.current
    lower, upper = resolve_bounds(inputs.channels, current, bounds)
    # Channels with no current spend have no reach curve: they stay at zero.
    fixed = ~(current > 0)
    lower, upper = np.where(fixed, 0.0, lower), np.where(fixed, 0.0, upper)
    base_value = opt_model.outcomes(np.ones(len(inputs.channels)))["value"]

    def gain(x: np.ndarray) -> np.ndarray:
        return opt_model.outcomes(_multiplier(x, current))["value"] - base_value

    best = optimise(
        gain, total, lower, upper, current, goal, value_scale=float(np.mean(base_value))
    )
    scenario = Scenario(
        OPTIMISED,
        dict(zip(inputs.channels, best.spend.tolist(), strict=True)),
        f"maximises the {goal.label} of value gained, budget {total:,.2f}",
    )
    return _Best(scenario, bool(best.converged), best.message, best.objective)


def _evaluate(inputs: _Inputs, model, plan_list) -> xr.Dataset:
    """Every scenario's conversions and value per draw, and their changes against current."""
    spend_mat = np.array([[s.spend[c] for c in inputs.channels] for s in plan_list])
    mult = _multiplier(spend_mat, inputs.current)
    results = [model.outcomes(m) for m in mult]
    conv = np.stack([r["conversions"] for r in results])
    value = np.stack([r["value"] for r in results])
    ds = _scenario_dataset(plan_list, inputs.channels, spend_mat, mult, conv, value)
    ds["new_reach"] = (
        ("scenario", "channel"),
        np.stack([r["new_reach"].mean(axis=0) for r in results]),
        {"units": "people not reached now whom the scenario reaches (posterior mean)"},
    )
    return ds


def _planner_payload(inputs: _Inputs, model, samples: np.ndarray) -> xr.Dataset:
    """The response model as compact data for the planner page (``planner_*`` variables)."""
    from workbench.planning.payload import response_payload

    attr = inputs.attr_ds
    return response_payload(model, _parameters(attr), attr["pattern_counts"], samples)


def _curves_and_kpis(inputs: _Inputs, model, reach: xr.Dataset, clv_c: np.ndarray) -> xr.Dataset:
    from workbench.planning import kpis
    from workbench.planning.response import response_curves, single_channel_check

    # Media-mix hook (issue 13): where mmm.nc also covers a channel, its response on the same
    # ``multiplier`` grid goes beside these as ``mmm_response_conversions(channel, multiplier,
    # draw)`` so the plan shows both models' answers side by side.
    ds = response_curves(model)
    ds = ds.merge(kpis.channel_kpis(inputs.attr_ds, inputs.clv_ds, inputs.grid["spend"]))
    periods = kpis.period_kpis(inputs.attr_ds, inputs.clv_ds, inputs.grid)
    if periods is not None:
        ds = ds.merge(periods)
    ds = ds.merge(reach)  # reach draws pair one-to-one with the posterior samples kept
    if "pattern_n_conversions" in inputs.attr_ds:
        ds = ds.merge(
            single_channel_check(
                model.hazard,
                inputs.attr_ds["pattern_n_journeys"].values.astype(float),
                inputs.attr_ds["pattern_n_conversions"].values.astype(float),
                inputs.channels,
                seed=0,
            )
        )
    ds["customer_value"] = (
        ("draw", "channel"),
        clv_c,
        {"units": "currency per acquired customer (first order + CLV)"},
    )
    return ds


def _provenance(locals_, inputs: _Inputs, n_draws, seed, settings, best: _Best, value_note):
    from workbench.store import provenance

    return provenance(
        inputs={
            "attribution": locals_["attribution"],
            "clv": locals_["clv"],
            "spend": locals_["spend"],
            **({"scenarios": locals_["scenarios"]} if locals_["scenarios"] is not None else {}),
        },
        row_counts={"spend_periods": int(inputs.grid.sizes["period"]), "draws": int(n_draws)},
        seed=seed,
        settings=settings,
        optimiser_converged=int(best.converged),
        optimiser_message=best.message,
        optimiser_objective=best.objective,
        value_source=value_note,
        spend_window_days=[
            float(inputs.grid["period_start"].values[0]),
            float(inputs.grid["period_end"].values[-1]),
        ],
    )


def summary_lines(ds: xr.Dataset) -> list[str]:
    """The plan in a few lines of text: each scenario's change against current spend (mean and
    interval) and P(beats current), then the optimised allocation."""
    lo, hi = (f"q{round(q * 100):02d}" for q in INTERVAL)
    lines = [
        "change vs current spend over the data window: mean "
        f"[{round((INTERVAL[1] - INTERVAL[0]) * 100)}% interval]"
    ]
    for name in ds["scenario"].values.tolist()[1:]:  # the first is the current plan
        row = ds.sel(scenario=name)
        lines.append(
            f"{name:>20}: conversions {float(row.delta_conversions_mean):+,.1f} "
            f"[{float(row[f'delta_conversions_{lo}']):+,.1f}, "
            f"{float(row[f'delta_conversions_{hi}']):+,.1f}]"
            f"  value {float(row.delta_value_mean):+,.0f} "
            f"[{float(row[f'delta_value_{lo}']):+,.0f}, {float(row[f'delta_value_{hi}']):+,.0f}]"
            f"  P(beats current) {_probability(float(row.p_beats_current))}"
        )
    best = ds["spend_multiplier"].sel(scenario="optimised")
    lines.append(
        f"optimised ({ds.attrs['settings']['objective']}): "
        + ", ".join(
            f"{c} x{m:.2f}" for c, m in zip(best["channel"].values, best.values, strict=True)
        )
    )
    return lines


def _probability(p: float) -> str:
    """A probability for people: never "1.00" or "0.00" unless every draw agrees."""
    if 0 < p < 0.01:
        return "<0.01"
    if 0.99 < p < 1:
        return ">0.99"
    return f"{p:.2f}"


def _multiplier(spend: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Spend (..., channel) as multiples of current spend; 1 where current spend is zero."""
    safe = np.where(current > 0, current, 1.0)
    return np.where(current > 0, np.asarray(spend, float) / safe, 1.0)


def _scenario_dataset(plan_list, channels, spend_mat, mult, conv, value) -> xr.Dataset:
    names = [s.name for s in plan_list]
    d_conv, d_val = conv - conv[0], value - value[0]
    data: dict[str, Any] = {
        "spend": (("scenario", "channel"), spend_mat, {"units": "currency over the data window"}),
        "spend_multiplier": (("scenario", "channel"), mult),
        "conversions": (("scenario", "draw"), conv),
        "value": (("scenario", "draw"), value, {"units": "currency (CLV)"}),
        "p_beats_current": (
            "scenario",
            (d_val > TIE_RTOL * np.abs(value[0])).mean(axis=1),
            {"description": "posterior probability that the scenario's value exceeds current"},
        ),
        "p_more_conversions": ("scenario", (d_conv > TIE_RTOL * np.abs(conv[0])).mean(axis=1)),
        "description": ("scenario", [s.description for s in plan_list]),
    }
    for name, delta in (("delta_conversions", d_conv), ("delta_value", d_val)):
        data[f"{name}_mean"] = ("scenario", delta.mean(axis=1))
        data[f"{name}_q05"] = ("scenario", np.quantile(delta, INTERVAL[0], axis=1))
        data[f"{name}_q95"] = ("scenario", np.quantile(delta, INTERVAL[1], axis=1))
    # The first scenario is the current plan: its deltas are identically zero.
    data["p_beats_current"][1][0] = np.nan
    data["p_more_conversions"][1][0] = np.nan
    return xr.Dataset(
        data,
        coords={"scenario": names, "channel": channels, "draw": np.arange(conv.shape[1])},
    )


def _open(source: Any, what: str) -> xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source
    from workbench.store import read_results

    path = str(source)
    if not os.path.isfile(path):
        raise InputError(f"{what} results file not found", file=path)
    try:
        return read_results(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {what} results ({err})", file=path) from err


def _require(ds: xr.Dataset, names: tuple[str, ...], source: Any) -> None:
    missing = [n for n in names if n not in ds]
    if missing:
        raise InputError(
            f"attribution results lack {', '.join(missing)}; re-run `workbench attribute`",
            file=str(source) if not isinstance(source, xr.Dataset) else None,
        )


def _parameters(attr_ds: xr.Dataset) -> xr.Dataset:
    """The model's posterior parameters (with their coords and the ``recency_ages_days`` attr)."""
    missing = [n for n in MODEL_PARAMETERS[:-1] if n not in attr_ds]
    if missing:
        raise InputError(
            f"attribution results lack the model parameters {', '.join(missing)}; "
            "re-run `workbench attribute`"
        )
    names = [n for n in (*MODEL_PARAMETERS, "opening") if n in attr_ds]  # opening: roles
    return attr_ds[names].assign_attrs(attr_ds.attrs)
