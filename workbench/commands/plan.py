"""``workbench plan``: KPIs, response curves, budget scenarios and an optimised allocation.

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
- reach curves ``reach_k(draw, channel)``, ``reach_a``, ``reach_*_map(channel)``;
  ``customer_value(draw, channel)``;
- attrs: provenance (settings incl. budget, objective, bounds), ``optimiser_converged``,
  ``optimiser_message``, ``optimiser_objective``, ``value_source``, ``spend_window_days``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from workbench.errors import InputError

#: Posterior samples kept for scenarios and curves (thinned evenly from chain x draw).
MAX_DRAWS = 200
#: Posterior samples the optimiser climbs on (a subset of the above, for speed).
OPTIMISER_DRAWS = 60
#: Interval reported for scenario deltas.
INTERVAL = (0.05, 0.95)
#: The attribution model's posterior parameters (``attribution.model.PARAMETERS``).
MODEL_PARAMETERS = ("baseline", "beta", "decay", "saturation", "synergy")


def plan(
    attribution: Any,
    clv: Any,
    spend: Any,
    *,
    scenarios: Any = None,
    budget: float | None = None,
    objective: str = "mean",
    bounds: Any = None,
    seed: int = 1,
    out: str | os.PathLike | None = None,
    max_draws: int = MAX_DRAWS,
    optimiser_draws: int = OPTIMISER_DRAWS,
) -> xr.Dataset:
    """Plan budgets from fitted attribution and CLV results.

    ``attribution``, ``clv``: paths to attribution.nc / clv.nc or the Datasets; ``spend``: path
    or DataFrame (channel, period_start, spend [, period_end]); ``scenarios``: YAML/CSV path or
    a list of dicts (see ``workbench.planning.scenarios``); ``budget``: total spend for the
    optimiser (currency over the data window; default the current total); ``objective``:
    ``mean`` or a lower quantile such as ``q10`` of the value gained; ``bounds``: (lo, hi)
    multiples of current spend for every channel or a dict channel -> (lo, hi). Returns the
    plan Dataset (and writes it atomically to ``out`` when given).
    """
    from workbench.planning import kpis as kpi_mod
    from workbench.planning.optimise import optimise, parse_objective, resolve_bounds
    from workbench.planning.reach import fit_reach
    from workbench.planning.response import ResponseModel, model_hazard, response_curves
    from workbench.planning.scenarios import CURRENT, OPTIMISED, Scenario, read_scenarios
    from workbench.planning.spend import load_spend, spend_grid
    from workbench.planning.value import customer_worth, worth_draws
    from workbench.store import provenance, write_results

    goal = parse_objective(objective)
    attr_ds = _open(attribution, "attribution")
    clv_ds = _open(clv, "clv")
    _require(
        attr_ds, ("pattern_counts", "pattern_n_journeys", "attributed_conversions"), attribution
    )
    channels = [str(c) for c in attr_ds["channel"].values]
    spend_label = str(spend) if isinstance(spend, str | os.PathLike) else "<DataFrame>"
    grid = spend_grid(load_spend(spend), channels, attr_ds.get("weekly_touches"), spend_label)
    current = grid["spend"].sum("period").values
    plannable = current > 0
    if not plannable.any():
        raise InputError("every channel has zero spend; nothing to plan", file=spend_label)

    # Scenarios (validated before any model work): current, the user's, then the optimiser's.
    current_map = dict(zip(channels, current.tolist(), strict=True))
    plan_list = [Scenario(CURRENT, current_map, "current spend")]
    if scenarios is not None:
        plan_list += read_scenarios(scenarios, current_map)
    for sc in plan_list:
        # Channels with no current spend have no reach curve: their response is unknown.
        bad = [c for c in channels if current_map[c] == 0 and sc.spend[c] > 0]
        if bad:
            raise InputError(
                f"scenario '{sc.name}' gives spend to {', '.join(bad)}, which has no current "
                "spend, so its response to spend is unknown",
                file=str(scenarios),
            )

    # Reported draws and the optimiser's draws are disjoint when the posterior has enough, so
    # the optimised scenario is not judged on the draws it was tuned to (winner's curse).
    rng = np.random.default_rng(seed)
    n_total = attr_ds.sizes["chain"] * attr_ds.sizes["draw"]
    order = rng.permutation(n_total)
    samples = np.sort(order[:max_draws])
    spare = order[max_draws:]
    opt_samples = np.sort(spare[:optimiser_draws] if spare.size else samples[:optimiser_draws])
    params = _parameters(attr_ds)
    counts = attr_ds["pattern_counts"]
    parts, n = model_hazard(params, counts, samples)
    # No weekly touches (NaN): every channel's touches are taken as proportional to spend.
    reach = fit_reach(grid["spend"], grid["touches"], n, seed)
    worth, clv_base, value_note = customer_worth(clv_ds, channels)
    clv_c = worth_draws(clv_ds, channels, worth, n, seed)  # (sample, channel)
    common = dict(
        channels=channels,
        n_journeys=attr_ds["pattern_n_journeys"].values.astype(float),
        weekly_spend=grid["spend"].values,
        clv_baseline=clv_base,
        organic_conversions=float(attr_ds.get("organic_conversions", 0.0)),
    )
    model = ResponseModel(
        hazard_parts=parts, reach_k=reach["reach_k"].values, clv_by_channel=clv_c, **common
    )

    lower, upper = resolve_bounds(channels, current, bounds)
    total = float(current.sum()) if budget is None else float(budget)
    fixed = ~plannable
    # Channels with no current spend have no reach curve: they stay at zero.
    lower, upper = np.where(fixed, 0.0, lower), np.where(fixed, 0.0, upper)

    opt_parts, n_opt = model_hazard(params, counts, opt_samples)
    opt_seed = seed + 1  # independent reach and customer-value draws for the optimiser
    opt_model = ResponseModel(
        hazard_parts=opt_parts,
        reach_k=fit_reach(grid["spend"], grid["touches"], n_opt, opt_seed)["reach_k"].values,
        clv_by_channel=worth_draws(clv_ds, channels, worth, n_opt, opt_seed),
        **common,
    )
    base_value = opt_model.outcomes(np.ones(len(channels)))["value"]

    def gain(x: np.ndarray) -> np.ndarray:
        return opt_model.outcomes(_multiplier(x, current))["value"] - base_value

    best = optimise(
        gain, total, lower, upper, current, goal, value_scale=float(np.mean(base_value))
    )
    plan_list.append(
        Scenario(
            OPTIMISED,
            dict(zip(channels, best.spend.tolist(), strict=True)),
            f"maximises the {goal.label} of value gained, budget {total:,.2f}",
        )
    )

    spend_mat = np.array([[s.spend[c] for c in channels] for s in plan_list])
    mult = _multiplier(spend_mat, current)
    results = [model.outcomes(m) for m in mult]
    conv = np.stack([r["conversions"] for r in results])
    value = np.stack([r["value"] for r in results])
    ds = _scenario_dataset(plan_list, channels, spend_mat, mult, conv, value)
    ds = ds.merge(response_curves(model))
    ds = ds.merge(kpi_mod.channel_kpis(attr_ds, clv_ds, grid["spend"]))
    periods = kpi_mod.period_kpis(attr_ds, clv_ds, grid)
    if periods is not None:
        ds = ds.merge(periods)
    ds = ds.merge(reach)  # reach draws pair one-to-one with the posterior samples kept
    ds["customer_value"] = (
        ("draw", "channel"),
        clv_c,
        {"units": "currency per acquired customer (first order + CLV)"},
    )
    ds.attrs = provenance(
        inputs={
            "attribution": attribution,
            "clv": clv,
            "spend": spend,
            **({"scenarios": scenarios} if scenarios is not None else {}),
        },
        row_counts={"spend_periods": int(grid.sizes["period"]), "draws": int(n)},
        seed=seed,
        settings={
            "budget": total,
            "objective": goal.label,
            "bounds": bounds if bounds is not None else "default",
            "max_draws": max_draws,
            "optimiser_draws": n_opt,
            "optimiser_draws_disjoint": bool(spare.size > 0),
            "interval": list(INTERVAL),
        },
        optimiser_converged=int(best.converged),
        optimiser_message=best.message,
        optimiser_objective=best.objective,
        value_source=value_note,
        spend_window_days=[
            float(grid["period_start"].values[0]),
            float(grid["period_end"].values[-1]),
        ],
    )
    if out is not None:
        write_results(ds, out)
    return ds


def run(
    attribution_path: str,
    clv_path: str,
    spend: str,
    scenarios: str | None = None,
    out: str = "results/plan.nc",
    budget: float | None = None,
    objective: str = "mean",
    seed: int = 1,
) -> None:
    """CLI entry point (option names as in ``workbench plan``)."""
    ds = plan(
        attribution_path,
        clv_path,
        spend,
        scenarios=scenarios,
        budget=budget,
        objective=objective,
        seed=seed,
        out=out,
    )
    print("change vs current spend over the data window: mean [90% interval]")
    for name in ds["scenario"].values.tolist()[1:]:  # the first is the current plan
        row = ds.sel(scenario=name)
        print(
            f"{name:>20}: conversions {float(row.delta_conversions_mean):+,.1f} "
            f"[{float(row.delta_conversions_q05):+,.1f}, {float(row.delta_conversions_q95):+,.1f}]"
            f"  value {float(row.delta_value_mean):+,.0f} "
            f"[{float(row.delta_value_q05):+,.0f}, {float(row.delta_value_q95):+,.0f}]"
            f"  P(beats current) {float(row.p_beats_current):.2f}"
        )
    best = ds["spend_multiplier"].sel(scenario="optimised")
    print(
        f"optimised ({ds.attrs['settings']['objective']}): "
        + ", ".join(
            f"{c} x{m:.2f}" for c, m in zip(best["channel"].values, best.values, strict=True)
        )
    )
    print(f"wrote {out}")


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
            (d_val > 0).mean(axis=1),
            {"description": "posterior probability that the scenario's value exceeds current"},
        ),
        "p_more_conversions": ("scenario", (d_conv > 0).mean(axis=1)),
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
    names = [n for n in MODEL_PARAMETERS if n in attr_ds]
    return attr_ds[names].assign_attrs(attr_ds.attrs)
