"""Planning pipeline (``workbench plan``): KPIs, response curves, budget scenarios and an
optimised allocation.

Reads attribution.nc (model posterior, pattern table, weekly touches), clv.nc (value of the
customers each channel acquires), the spend table and, for channels without user-level touches,
mmm.nc (the media-mix model); writes plan.nc. ``draw`` is a flattened posterior sample (chain x
draw, thinned to ``MAX_DRAWS``; with both models, a journey sample paired with a media-mix draw,
``workbench.planning.media.pair_draws``); spend and outcomes are totals over the window of the
spend periods that overlap the touch data (the media-mix model's weeks without attribution.nc).
Which model answers for which channel: ``workbench.planning.cross_model``.

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
- with mmm.nc: ``planned_with(channel)`` (journey | media_mix),
  ``mmm_response_conversions(channel, multiplier, draw)`` (conversions each media-mix channel
  causes in the window), and for channels in both models ``incremental_journey`` /
  ``incremental_media_mix(channel_both, draw)`` (+ ``_mean``, ``_q05``, ``_q95``) and
  ``models_agree(channel_both)``;
- attrs: provenance (settings incl. budget, objective, bounds), ``optimiser_converged``,
  ``optimiser_message``, ``optimiser_objective``, ``value_source``, ``spend_window_days``,
  ``optimised_outcome`` (value, or conversions without clv.nc), ``both_models_rule`` and
  ``media_spend_source`` with mmm.nc.
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
from workbench.pipelines.plan_inputs import PlanInputs, model_parameters, read_inputs

#: Posterior samples kept for scenarios and curves (thinned evenly from chain x draw).
MAX_DRAWS = 200
#: Posterior samples the optimiser climbs on (a subset of the above, for speed).
OPTIMISER_DRAWS = 60
#: Optimiser objectives: the mean or a lower quantile (``q10``) of the value gained.
DEFAULT_OBJECTIVE = "mean"
#: Seed offset of the media-mix draws paired with the journey model's (their own stream).
MEDIA_DRAW_STREAM = 104_729
#: A scenario beats current in a draw only by more than this share of the current outcome: a
#: change left at rounding noise (channels with no effect in that draw) is a tie, not a win.
TIE_RTOL = 1e-9


def plan(
    attribution: str | os.PathLike | xr.Dataset | None = None,
    clv: str | os.PathLike | xr.Dataset | None = None,
    spend: str | os.PathLike | pd.DataFrame | None = None,
    *,
    mmm: str | os.PathLike | xr.Dataset | None = None,
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
        attribution: attribution.nc path (or its Dataset) from :func:`attribute`: the journey
            model, which answers for every channel with user-level touches.
        clv: clv.nc path (or its Dataset) from :func:`clv`; needed with ``attribution``.
            Without it (media mix only) conversions are not valued and the optimiser
            maximises conversions.
        spend: path or DataFrame with channel, period_start, spend [, period_end] (currency,
            weekly periods); needed with ``attribution``. Rows of media-mix channels give
            their spend in the window (else the media-mix model's last weeks stand for it).
        mmm: mmm.nc path (or its Dataset) from :func:`mmm`: the media-mix model, which answers
            for the channels attribution.nc does not have (and is shown beside the journey
            model's answer for the channels both have; ``workbench.planning.cross_model``).
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
    from workbench.planning.cross_model import RULE
    from workbench.planning.optimise import parse_objective
    from workbench.store import write_results

    goal = parse_objective(objective)
    inputs = read_inputs(attribution, clv, spend, mmm)
    plan_list = _scenarios(inputs, scenarios)
    first = inputs.attr_ds if inputs.attr_ds is not None else inputs.mmm_ds
    samples, opt_samples, disjoint = _draw_split(first, seed, max_draws, optimiser_draws)
    media_draws = _media_draws(inputs, samples, opt_samples, seed)
    model, reach, clv_c, value_note = _response_model(inputs, samples, seed, media_draws[0])
    opt_model, _, _, _ = _response_model(inputs, opt_samples, seed + 1, media_draws[1])
    total = float(inputs.current.sum()) if budget is None else float(budget)
    best = _optimise(inputs, opt_model, total, bounds, goal)
    plan_list.append(best.scenario)
    ds = _evaluate(inputs, model, plan_list)
    ds = ds.merge(_curves_and_kpis(inputs, model, reach, clv_c), join="outer")
    ds = ds.merge(_media_mix(inputs, model), join="outer")
    ds = _with_media_kpis(ds, inputs, model, clv_c)
    if inputs.attr_ds is not None:
        ds = ds.merge(_planner_payload(inputs, model.journey, samples), join="outer")
    ds.attrs = _provenance(
        locals_=dict(attribution=attribution, clv=clv, spend=spend, mmm=mmm, scenarios=scenarios),
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
        extra=_media_attrs(inputs, model, RULE),
    )
    if out is not None:
        write_results(ds, out)
    return ds


def _scenarios(inputs: PlanInputs, scenarios) -> list:
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


def _draw_split(posterior: xr.Dataset, seed: int, max_draws: int, optimiser_draws: int):
    """Posterior samples for reporting and for the optimiser: disjoint when the posterior has
    enough, so the optimised scenario is not judged on the draws it was tuned to (winner's
    curse). Returns (samples, optimiser samples, disjoint)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(posterior.sizes["chain"] * posterior.sizes["draw"])
    samples = np.sort(order[:max_draws])
    spare = order[max_draws:]
    opt_samples = np.sort(spare[:optimiser_draws] if spare.size else samples[:optimiser_draws])
    return samples, opt_samples, bool(spare.size > 0)


def _media_draws(inputs: PlanInputs, samples: np.ndarray, opt_samples: np.ndarray, seed: int):
    """The media-mix draws paired with the plan's samples and the optimiser's: the samples
    themselves when the media-mix model is the only posterior, else random draws of it
    (``workbench.planning.media.pair_draws``: the two posteriors are independent)."""
    from workbench.planning.media import pair_draws

    if inputs.attr_ds is None or inputs.mmm_ds is None:
        return samples, opt_samples
    n_media = inputs.mmm_ds.sizes["chain"] * inputs.mmm_ds.sizes["draw"]
    return pair_draws(n_media, len(samples), len(opt_samples), seed + MEDIA_DRAW_STREAM)


def _response_model(
    inputs: PlanInputs, samples: np.ndarray, seed: int, media_draws: np.ndarray | None = None
):
    """Spend -> conversions and value per posterior sample, across both models
    (``PlanResponse``): the journey model's response for its channels, the media-mix model's
    (draws ``media_draws``, paired one-to-one with ``samples``; ``samples`` themselves without
    attribution.nc) for the others, and customer value per channel. Returns (PlanResponse,
    touch-curve and audience Dataset (None without attribution), customer value (sample,
    channel), value source note)."""
    from workbench.planning.cross_model import PlanResponse
    from workbench.planning.media import media_response
    from workbench.planning.value import customer_value

    n = len(samples)
    value_known = inputs.clv_ds is not None
    if value_known:
        value = customer_value(inputs.clv_ds, inputs.channels)
        clv_base, value_note = value.baseline, value.note
        clv_c = value.draw(n, seed)
    else:
        clv_base, clv_c = 0.0, np.full((n, len(inputs.channels)), np.nan)
        value_note = "no clv.nc: conversions are not valued; the optimiser maximises conversions"
    journey, reach = None, None
    if inputs.attr_ds is not None:
        journey, reach = _journey_response(inputs, samples, clv_c, clv_base, seed)
    media, media_worth = None, None
    if inputs.mmm_ds is not None:
        draws = samples if media_draws is None else media_draws
        media = media_response(inputs.mmm_ds, inputs.media_paths, draws)
        # a media-mix-only channel's conversions are worth what clv.nc says its customers are
        # worth (the mean customer when clv.nc has no credit for it)
        media_worth = np.stack(
            [
                clv_c[:, inputs.channels.index(c)] if c in inputs.channels else np.full(n, np.nan)
                for c in media.channels
            ],
            axis=1,
        )
    model = PlanResponse(inputs.channels, journey, media, media_worth, value_known)
    return model, reach, clv_c, value_note


def _journey_response(inputs: PlanInputs, samples, clv_c: np.ndarray, clv_base: float, seed: int):
    """The journey model's response (``ResponseModel``): the attribution model's hazard, touch
    curves fitted to weekly spend and touches, the audience (reach and frequency) fitted to the
    journeys' touch counts. Returns it and the touch-curve and audience Dataset."""
    from attribution.settings import COUNT_CAP
    from workbench.planning.audience import fit_audience
    from workbench.planning.reach import fit_reach
    from workbench.planning.response import ResponseModel, model_hazard, new_reach_mix

    attr = inputs.attr_ds
    hazard = model_hazard(model_parameters(attr), attr["pattern_counts"], samples)
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
    model = ResponseModel(
        channels=inputs.journey_channels,
        hazard=hazard,
        n_journeys=n_journeys,
        reach_k=reach["reach_k"].values,
        weekly_spend=inputs.grid["spend"].values,
        audience_m=audience["audience_m"].values,
        audience_k=audience["audience_k"].values,
        audience_size=audience["audience_size"].values,
        new_mix=new_reach_mix(attr["pattern_counts"], n_journeys, COUNT_CAP),
        clv_by_channel=clv_c[:, : len(inputs.journey_channels)],
        clv_baseline=clv_base,
        organic_conversions=float(attr.get("organic_conversions", 0.0)),
    )
    return model, reach.merge(audience)


@dataclass
class _Best:
    scenario: Any
    converged: bool
    message: str
    objective: float


def _optimise(inputs: PlanInputs, opt_model, total: float, bounds, goal) -> _Best:
    """The optimiser's allocation under the total budget and per-channel bounds."""
    from workbench.planning.optimise import optimise, resolve_bounds
    from workbench.planning.scenarios import OPTIMISED, Scenario

    current = inputs.current
    lower, upper = resolve_bounds(inputs.channels, current, bounds)
    # Channels with no current spend have no reach curve: they stay at zero.
    fixed = ~(current > 0)
    lower, upper = np.where(fixed, 0.0, lower), np.where(fixed, 0.0, upper)
    what = opt_model.objective_outcome()  # value, or conversions without clv.nc
    base = opt_model.outcomes(np.ones(len(inputs.channels)))[what]

    def gain(x: np.ndarray) -> np.ndarray:
        return opt_model.outcomes(_multiplier(x, current))[what] - base

    best = optimise(gain, total, lower, upper, current, goal, value_scale=float(np.mean(base)))
    scenario = Scenario(
        OPTIMISED,
        dict(zip(inputs.channels, best.spend.tolist(), strict=True)),
        f"maximises the {goal.label} of {what} gained, budget {total:,.2f}",
    )
    return _Best(scenario, bool(best.converged), best.message, best.objective)


def _evaluate(inputs: PlanInputs, model, plan_list) -> xr.Dataset:
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


def _planner_payload(inputs: PlanInputs, journey, samples: np.ndarray) -> xr.Dataset:
    """The journey model's response as compact data for the planner page (``planner_*``
    variables; the page plans the journey channels)."""
    from workbench.planning.payload import response_payload

    attr = inputs.attr_ds
    return response_payload(journey, model_parameters(attr), attr["pattern_counts"], samples)


def _media_mix(inputs: PlanInputs, model) -> xr.Dataset:
    """With mmm.nc: which model plans each channel, the media-mix model's response curve of
    each of its channels over the window, and both models' estimates side by side for the
    channels both cover (``workbench.planning.cross_model``)."""
    from workbench.planning.cross_model import side_by_side
    from workbench.planning.media import window_curves
    from workbench.planning.response import CURVE_MULTIPLIERS

    ds = xr.Dataset(
        {"planned_with": ("channel", model.planned_with())},
        coords={"channel": inputs.channels},
    )
    if model.media is None:
        return ds
    shown = [c for c in model.media.channels if c in inputs.channels]
    ds["mmm_response_conversions"] = window_curves(model.media, shown, CURVE_MULTIPLIERS)
    both = side_by_side(model)
    return ds if both is None else ds.merge(both)


def _with_media_kpis(ds: xr.Dataset, inputs: PlanInputs, model, clv_c: np.ndarray) -> xr.Dataset:
    """The media-mix channels' KPIs (spend, conversions, CPA, ROAS) in the ``kpi`` table, whose
    rows for them are empty after the journey model's KPIs (``cross_model.media_kpis``)."""
    from workbench.planning.cross_model import media_kpis

    media = media_kpis(model, inputs.current, clv_c) if model.media is not None else None
    if media is None:
        return ds
    for name in ("kpi", "kpi_lower", "kpi_upper"):
        if name not in ds:
            ds[name] = media[name].reindex(channel=inputs.channels)
            continue
        fill = media[name].reindex_like(ds[name])
        ds[name] = ds[name].where(ds[name].notnull(), fill)
    return ds


def _media_attrs(inputs: PlanInputs, model, rule: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"optimised_outcome": model.objective_outcome()}
    if model.media is not None:
        attrs["both_models_rule"] = rule
        attrs["media_spend_source"] = dict(
            zip(model.media.channels, inputs.media_paths.source, strict=True)
        )
    return attrs


def _curves_and_kpis(inputs: PlanInputs, model, reach, clv_c: np.ndarray) -> xr.Dataset:
    from workbench.planning import kpis
    from workbench.planning.response import response_curves, single_channel_check

    ds = response_curves(model)
    ds["customer_value"] = (
        ("draw", "channel"),
        clv_c,
        {"units": "currency per acquired customer (first order + CLV)"},
    )
    if inputs.attr_ds is None:
        return ds
    kpi = kpis.channel_kpis(inputs.attr_ds, inputs.clv_ds, inputs.grid["spend"])
    ds = ds.merge(kpi, join="outer")
    periods = kpis.period_kpis(inputs.attr_ds, inputs.clv_ds, inputs.grid)
    if periods is not None:
        ds = ds.merge(periods, join="outer")
    # reach draws pair one-to-one with the posterior samples kept
    ds = ds.merge(reach, join="outer")
    if "pattern_n_conversions" in inputs.attr_ds:
        check = single_channel_check(
            model.journey.hazard,
            inputs.attr_ds["pattern_n_journeys"].values.astype(float),
            inputs.attr_ds["pattern_n_conversions"].values.astype(float),
            inputs.journey_channels,
            seed=0,
        )
        ds = ds.merge(check, join="outer")
    return ds


def _provenance(
    locals_, inputs: PlanInputs, n_draws, seed, settings, best: _Best, value_note, extra
):
    from workbench.store import provenance

    sources = {k: locals_[k] for k in ("attribution", "clv", "spend", "mmm", "scenarios")}
    if inputs.grid is not None:
        periods = int(inputs.grid.sizes["period"])
        window = [
            float(inputs.grid["period_start"].values[0]),
            float(inputs.grid["period_end"].values[-1]),
        ]
    else:
        periods, window = int(inputs.media_paths.window.shape[0]), None
    return provenance(
        inputs={k: v for k, v in sources.items() if v is not None},
        row_counts={"spend_periods": periods, "draws": int(n_draws)},
        seed=seed,
        settings=settings,
        optimiser_converged=int(best.converged),
        optimiser_message=best.message,
        optimiser_objective=best.objective,
        value_source=value_note,
        **({"spend_window_days": window} if window is not None else {}),
        **extra,
    )


def _multiplier(spend: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Spend (..., channel) as multiples of current spend; 1 where current spend is zero."""
    safe = np.where(current > 0, current, 1.0)
    return np.where(current > 0, np.asarray(spend, float) / safe, 1.0)


def _scenario_dataset(plan_list, channels, spend_mat, mult, conv, value) -> xr.Dataset:
    names = [s.name for s in plan_list]
    d_conv, d_val = conv - conv[0], value - value[0]
    # Without clv.nc (value NaN) a scenario beats current on conversions.
    beats, beats_ref = (d_val, value[0]) if np.isfinite(value).all() else (d_conv, conv[0])
    data: dict[str, Any] = {
        "spend": (("scenario", "channel"), spend_mat, {"units": "currency over the data window"}),
        "spend_multiplier": (("scenario", "channel"), mult),
        "conversions": (("scenario", "draw"), conv),
        "value": (("scenario", "draw"), value, {"units": "currency (CLV)"}),
        "p_beats_current": (
            "scenario",
            (beats > TIE_RTOL * np.abs(beats_ref)).mean(axis=1),
            {
                "description": "posterior probability that the scenario's value (conversions "
                "without clv.nc) exceeds current"
            },
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
