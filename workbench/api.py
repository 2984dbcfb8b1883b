"""The Python API for notebooks: the same code paths as the CLI, returning xarray Datasets.

Inputs are paths (CSV/Parquet) or pandas DataFrames. Nothing is written unless ``out=`` is given.

>>> from workbench import api
>>> ds = api.attribute("data/sim/touchpoints.parquet", "data/sim/conversions.parquet")
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import xarray as xr

import posterior_tools.settings as inference
from attribution import settings as attribution_settings
from workbench.pipelines import plan as plan_settings

#: An input table: a CSV or Parquet path (by extension) or a pandas DataFrame.
Table = str | os.PathLike | pd.DataFrame


def attribute(
    touchpoints: Table,
    conversions: Table,
    *,
    lookback_days: float = attribution_settings.DEFAULT_LOOKBACK_DAYS,
    seed: int = 1,
    draws: int = inference.DRAWS,
    tune: int = inference.TUNE,
    chains: int = inference.CHAINS,
    method: str = "auto",
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    synergy: bool = True,
    holdout_check: bool = True,
) -> xr.Dataset:
    """Bayesian multi-touch attribution of conversions to channels.

    Args:
        touchpoints: path (CSV/Parquet) or DataFrame with user_id, timestamp, channel.
        conversions: path or DataFrame with user_id, timestamp [value]; users without touches
            are fine (their conversions are organic).
        lookback_days: touches older than this many days before a conversion get no credit.
        seed: random seed of the sampler (same inputs and seed, same numbers).
        draws, tune, chains: NUTS draws and tuning steps per chain, and chains.
        method: ``auto`` (NUTS up to ``attribution.settings.NUTS_MAX_CONVERTING_PATTERNS``
            converting patterns, a Laplace approximation above), ``nuts`` or ``laplace``.
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically to this NetCDF path when given.
        synergy: model pairwise synergy for the pairs the score screen keeps.
        holdout_check: refit on a journey split and report held-out log-loss.

    Returns:
        The attribution Dataset: ``attributed_conversions(chain, draw, channel)`` (Shapley
        credit), ``incremental_conversions``, ``heuristic_credit(method, channel)``, the
        posterior and checks (docs/contracts.md, "attribution.nc").
    """
    from workbench.pipelines.attribution import attribute as run

    return run(
        touchpoints,
        conversions,
        lookback_days=lookback_days,
        seed=seed,
        draws=draws,
        tune=tune,
        chains=chains,
        method=method,
        engine=engine,
        out=out,
        synergy=synergy,
        holdout_check=holdout_check,
    )


def clv(transactions: Any, **options: Any):
    """BG/NBD + Gamma-Gamma CLV; see ``workbench clv --help`` for the options."""
    from workbench.commands.clv import clv as _clv

    return _clv(transactions, **options)


def plan(
    attribution: str | os.PathLike | xr.Dataset,
    clv: str | os.PathLike | xr.Dataset,
    spend: Table,
    *,
    scenarios: str | os.PathLike | list[dict] | None = None,
    budget: float | None = None,
    objective: str = "mean",
    bounds: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
    seed: int = 1,
    out: str | os.PathLike | None = None,
    max_draws: int = plan_settings.MAX_DRAWS,
    optimiser_draws: int = plan_settings.OPTIMISER_DRAWS,
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
        against the current plan with 90% intervals, ``p_beats_current(scenario)``, response
        curves and KPIs (docs/contracts.md, "plan.nc").
    """
    from workbench.pipelines.plan import plan as run

    return run(
        attribution,
        clv,
        spend,
        scenarios=scenarios,
        budget=budget,
        objective=objective,
        bounds=bounds,
        seed=seed,
        out=out,
        max_draws=max_draws,
        optimiser_draws=optimiser_draws,
    )


def simulate(**options: Any):
    """Simulated data with known truth; see ``workbench simulate --help``."""
    from workbench.simulate import simulate as _simulate

    return _simulate(**options)


def report(results_dir: Any = "results", out_dir: Any = "reports", **options: Any):
    """Render the HTML report from a results folder; returns the report's path."""
    from workbench.commands.report import report as _report

    return _report(results_dir, out_dir, **options)
