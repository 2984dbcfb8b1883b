"""``workbench attribute``: touchpoints + conversions -> journeys (SQL) -> Bayesian conversion
model -> Shapley credit per posterior draw, with the heuristic and Markov baselines beside it.

Steps: validate and stage both inputs (``workbench.io.stage``); run the attribution SQL steps
(``workbench.journeys``) on DuckDB or Spark; fit ``attribution.model.ConversionModel`` on the
pattern table; credit channels with ``attribution.shapley.shapley_credit``; run the checks
(posterior predictive by path length and channel, held-out log-loss against the Markov chain and
a logistic regression on a journey split); assemble the attribution.nc Dataset of
docs/contracts.md and write it atomically. Progress lines go to stderr.

Defaults chosen for speed (issue 3):

- ``--method auto`` samples with NUTS up to ``AUTO_NUTS_MAX_CONVERTING_PATTERNS`` = 1,000
  converting patterns and uses the Laplace approximation above (validated against NUTS in
  tests/test_attribution_model.py; attrs ``posterior_method`` names the one used; ``--method
  nuts`` forces NUTS). Measured on this 2-core machine (load average ~4-5) with
  ``workbench.simulate.simulate(users=N)``, 2 chains x (500 tune + 500 draws): 20k users (647
  converting patterns) NUTS 149 s vs Laplace 20 s; 50k users (1,532) NUTS 133 s vs Laplace
  12 s; the scale bench at 0.2M journeys (8,583) NUTS 920 s. NUTS cost is ~2 minutes already
  at the smallest sizes (it is set by the posterior's geometry more than by the data), so
  the switch sits where NUTS starts to exceed ~2 minutes and grows from there. After the
  synergy screen and the recent-bin parameterisation (2 x (1,000 + 1,000) draws): 20k users
  33-150 s of sampling depending on load, 0.2M journeys 124 s wall / 193 s CPU end to end
  (bench/RESULTS.md).
- 2 chains x (1,000 tune + 1,000 draws), PyMC's own defaults: with 500 + 500 the NUTS
  diagnostics failed on R-hat noise alone (1.011-1.013 with every bulk ESS above 260) at 20k
  simulated users; with 1,000 + 1,000 the default scenario passes (R-hat 1.005, ESS >= 440).
  Laplace draws are independent; the Shapley credit thins draws above its cell budget.
- The held-out log-loss check refits by Laplace whatever the main method
  (``attribution.checks.HOLDOUT_REFIT_METHOD``; attrs ``holdout_refit_method``), so it adds a
  Laplace fit (~10-30 s at 0.2M journeys) instead of a second NUTS run.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError

#: Baselines stored in ``heuristic_credit`` (the rules from SQL, then the Markov chain).
BASELINE_METHODS = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)
MICROSECONDS_PER_DAY = 86_400_000_000
#: ``--method auto`` samples with NUTS up to this many converting patterns (pattern rows with at
#: least one conversion), the Laplace approximation above. See the module docstring for the
#: measurements behind the value.
AUTO_NUTS_MAX_CONVERTING_PATTERNS = 1_000


def _say(message: str, started: float) -> None:
    """A progress line on stderr: wall seconds since ``started`` and this process's CPU
    seconds so far (stage costs in bench/RESULTS.md come from these lines)."""
    print(
        f"[attribute {time.perf_counter() - started:6.1f} s, {time.process_time():6.1f} s CPU] "
        f"{message}",
        file=sys.stderr,
    )


def attribute(
    touchpoints: Any,
    conversions: Any,
    *,
    lookback_days: float = 30.0,
    seed: int = 1,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    method: str = "auto",
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    synergy: bool = True,
    holdout_check: bool = True,
) -> xr.Dataset:
    """Bayesian multi-touch attribution from touchpoints and conversions.

    Args:
        touchpoints: path (CSV/Parquet) or DataFrame with user_id, timestamp, channel.
        conversions: path or DataFrame with user_id, timestamp (users without touches are
            fine: their conversions are organic).
        lookback_days: touches older than this (days) before the journey end get no credit.
        seed, draws, tune, chains: posterior sampling settings (draws and chains also shape
            the Laplace approximation's draws).
        method: ``auto`` (NUTS below a size, Laplace above), ``nuts`` or ``laplace``.
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically here (NetCDF) when given.
        synergy: include pairwise synergy terms in the model.
        holdout_check: refit on the training split (by the Laplace approximation, whatever
            ``method``: ``attribution.checks.HOLDOUT_REFIT_METHOD``) to report held-out
            log-loss; attrs ``holdout_refit_method`` names the refit's method.

    Returns:
        The attribution Dataset (docs/contracts.md, "attribution.nc").
    """
    from attribution.features import RECENCY_EDGES_DAYS, as_patterns, recency_ages_days
    from workbench import io
    from workbench import journeys as steps
    from workbench.engines import make_engine

    started = time.perf_counter()
    if not lookback_days > RECENCY_EDGES_DAYS[-1]:
        raise InputError(
            f"--lookback-days must exceed the last recency bin edge ({RECENCY_EDGES_DAYS[-1]:g}"
            f" days); got {lookback_days:g}"
        )
    if min(draws, tune, chains) < 1:
        raise InputError(
            f"draws, tune and chains must be at least 1; got {draws}, {tune}, {chains}"
        )
    sql = make_engine(engine)
    try:
        n_touch_rows = io.stage(sql, "touchpoints", touchpoints)
        n_conversion_rows = io.stage(sql, "conversions", conversions)
        if n_touch_rows == 0:
            raise InputError(
                "touchpoints has no rows: nothing to attribute", file=_label(touchpoints)
            )
        _say(f"staged {n_touch_rows:,} touchpoints, {n_conversion_rows:,} conversions", started)
        tables = steps.run_steps(sql, lookback_days)
    finally:
        sql.close()
    _say(
        f"{tables.n_journeys:,} journeys -> {len(tables.patterns):,} patterns on "
        f"{len(tables.channels)} channels; {tables.organic_conversions:,} of "
        f"{tables.observed_conversions:,} conversions organic",
        started,
    )
    if tables.patterns["n_conversions"].sum() == 0:
        raise InputError(
            f"no conversion has a touch within {lookback_days:g} days before it: nothing to "
            "attribute",
            file=_label(conversions),
        )

    patterns = as_patterns(tables.patterns, tables.channels)
    ages = recency_ages_days(lookback_days)
    model = _model(tables.channels, ages, synergy, method, draws, tune, chains, seed)
    model.fit(patterns)
    _say(f"posterior by {model.method_}; diagnostics ok: {model.diagnostics_['ok']}", started)

    from attribution.shapley import shapley_credit

    credit = shapley_credit(model.posterior_, patterns)
    _say("Shapley credit per posterior draw done", started)
    checks = _checks(model, patterns, tables, holdout_check, seed)
    _say(f"held-out log-loss: {_fmt(checks['log_loss'])}", started)

    ds = _assemble(tables, patterns, model, credit, checks, lookback_days)
    ds.attrs.update(
        _provenance(
            touchpoints,
            conversions,
            tables,
            n_touch_rows,
            n_conversion_rows,
            seed,
            dict(
                lookback_days=lookback_days,
                draws=draws,
                tune=tune,
                chains=chains,
                method=method,
                engine=engine,
                synergy=synergy,
                recency_edges_days=[*RECENCY_EDGES_DAYS, lookback_days],
                count_cap=steps.COUNT_CAP,
                time_decay_half_life_days=steps.TIME_DECAY_HALF_LIFE_DAYS,
                position_end_share=steps.POSITION_END_SHARE,
                holdout_digits="".join(steps.HOLDOUT_DIGITS),
            ),
        )
    )
    ds.attrs.update(_diagnostic_attrs(model, credit, checks))
    if out is not None:
        from workbench.store import write_results

        write_results(ds, out)
        _say(f"wrote {out}", started)
    return ds


def _model(channels, ages, synergy, method, draws, tune, chains, seed):
    from attribution.model import ConversionModel

    return ConversionModel(
        channels=channels,
        recency_ages_days=ages,
        synergy=synergy,
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_max_converting_patterns=AUTO_NUTS_MAX_CONVERTING_PATTERNS,
    )


def _checks(model, patterns, tables, holdout_check: bool, seed: int) -> dict:
    """Posterior predictive checks and held-out log-loss per model (nats per journey)."""
    from attribution import checks, markov

    ppc = checks.posterior_predictive_checks(model.posterior_, patterns, seed=seed)
    log_loss: dict[str, float] = {}
    has_split = patterns.holdout.any() and not patterns.holdout.all()
    refit = None
    if holdout_check and has_split:
        refit = checks.HOLDOUT_REFIT_METHOD or model.method
        log_loss.update(checks.holdout_log_loss(model, patterns, refit_method=refit))
        t = tables.markov_transitions
        train, test = t[t["holdout"] == 0], t[t["holdout"] == 1]
        log_loss["markov"] = float(
            markov.last_state_log_loss(
                train["from_state"],
                train["to_state"],
                train["n_transitions"],
                test["from_state"],
                test["to_state"],
                test["n_transitions"],
            )
        )
    return {"ppc": ppc, "log_loss": log_loss, "refit_method": refit or "not run"}


def _markov_credit(tables) -> xr.Dataset:
    from attribution.markov import markov_attribution

    t = tables.markov_transitions.groupby(["from_state", "to_state"], as_index=False)[
        "n_transitions"
    ].sum()
    return markov_attribution(t["from_state"], t["to_state"], t["n_transitions"], tables.channels)


def _heuristic_credit(tables) -> xr.DataArray:
    """``heuristic_credit(method, channel)``: conversions credited by each baseline."""
    from workbench.journeys import HEURISTIC_METHODS

    rules = (
        tables.heuristics.set_index("channel")[list(HEURISTIC_METHODS)]
        .reindex(tables.channels)
        .fillna(0.0)
    )
    markov = _markov_credit(tables)
    values = np.vstack([rules.to_numpy().T, markov["attributed_conversions"].values[None, :]])
    return xr.DataArray(
        values,
        dims=("method", "channel"),
        coords={"method": list(BASELINE_METHODS), "channel": tables.channels},
        attrs={"units": "conversions", "markov_removal_effect": markov["removal_effect"].values},
    )


def _journey_credit(tables, credit: xr.Dataset) -> xr.Dataset:
    """Per converted journey: the posterior-mean share of its conversion per channel (from its
    pattern's share) and the baseline share; shares + baseline sum to 1."""
    key = [*[f"k_{c}" for c in range(len(tables.channels))], "first_channel", "holdout"]
    index = tables.patterns[key].assign(pattern=np.arange(len(tables.patterns)))
    journeys = tables.converted_journeys.merge(index, on=key, how="left", validate="m:1")
    if journeys["pattern"].isna().any():  # the two steps come from one table; never expected
        raise RuntimeError("a converted journey has no pattern row; the SQL steps disagree")
    rows = journeys["pattern"].to_numpy(dtype=np.int64)
    micros = np.round(journeys["end_time"].to_numpy(dtype=np.float64) * MICROSECONDS_PER_DAY)
    return xr.Dataset(
        {
            "journey_credit": (("journey", "channel"), credit["pattern_credit"].values[rows]),
            "journey_baseline": ("journey", credit["pattern_baseline"].values[rows]),
        },
        coords={
            "journey": np.arange(len(journeys)),
            "channel": tables.channels,
            "journey_user_id": ("journey", journeys["user_id"].astype(str).to_numpy()),
            "journey_time": ("journey", pd.to_datetime(micros.astype(np.int64), unit="us")),
            "journey_pattern": ("journey", rows),
        },
    )


def _weekly(tables) -> xr.Dataset:
    """``weekly_touches(week, channel)`` and ``weekly_reach(week, channel)``."""
    weekly = tables.weekly_touches
    touches = weekly.pivot(index="week_start", columns="channel", values="n_touches")
    reach = weekly.pivot(index="week_start", columns="channel", values="n_users")
    touches = touches.reindex(columns=tables.channels).fillna(0).astype(np.int64)
    reach = reach.reindex(columns=tables.channels).fillna(0).astype(np.int64)
    weeks = pd.to_datetime(np.round(touches.index.to_numpy() * 86_400).astype(np.int64), unit="s")
    coords = {"week": weeks, "channel": tables.channels}
    return xr.Dataset(
        {
            "weekly_touches": (("week", "channel"), touches.to_numpy()),
            "weekly_reach": (("week", "channel"), reach.to_numpy()),
        },
        coords=coords,
    )


def _assemble(tables, patterns, model, credit, checks, lookback_days) -> xr.Dataset:
    from attribution.features import pattern_counts

    posterior = model.posterior_
    if credit.sizes["draw"] != posterior.sizes["draw"]:
        # the credit thinned the draws at this size; keep the parameters on the same draws
        posterior = posterior.sel(draw=credit["draw"].values)
    credit_vars = ["attributed_conversions", "incremental_conversions", "baseline_conversions"]
    ds = xr.Dataset(coords={"channel": tables.channels})
    ds = ds.merge(posterior.drop_attrs() if hasattr(posterior, "drop_attrs") else posterior)
    ds = ds.merge(credit[[*credit_vars, "model_conversions"]].drop_vars("pattern", errors="ignore"))
    ds["heuristic_credit"] = _heuristic_credit(tables)
    ds["observed_conversions"] = tables.observed_conversions
    ds["organic_conversions"] = tables.organic_conversions
    ds["touched_conversions"] = tables.observed_conversions - tables.organic_conversions
    counts = pattern_counts(patterns, lookback_days)
    ds["pattern_counts"] = counts
    ds["recency_bin"].attrs.update(counts.attrs)
    ds["pattern_n_journeys"] = ("pattern", patterns.n_journeys)
    ds["pattern_n_conversions"] = ("pattern", patterns.n_conversions)
    ds["pattern_first_channel"] = ("pattern", tables.patterns["first_channel"].to_numpy())
    ds["pattern_holdout"] = ("pattern", patterns.holdout.astype(np.int8))
    ds = ds.merge(_journey_credit(tables, credit))
    ds = ds.merge(_weekly(tables))
    ds = ds.merge(
        checks["ppc"].drop_attrs() if hasattr(checks["ppc"], "drop_attrs") else checks["ppc"]
    )
    ds["attributed_conversions"].attrs["units"] = "conversions"
    ds["incremental_conversions"].attrs["units"] = "conversions"
    return ds


def _diagnostic_attrs(model, credit, checks) -> dict:
    from attribution.diagnostics import diagnostics_attrs

    return {
        "posterior_method": model.method_,
        **diagnostics_attrs(model.diagnostics_),
        "holdout_log_loss": checks["log_loss"],
        # the held-out refit's posterior method (Laplace by default, whatever the main fit)
        "holdout_refit_method": checks["refit_method"],
        "credit_thin_step": int(credit.attrs.get("credit_thin_step", 1)),
        "credit_method": credit.attrs.get("credit_method", "shapley"),
        "recency_ages_days": model.posterior_.attrs.get("recency_ages_days"),
        # the synergy screen: candidate pairs, their score statistics and the threshold
        **{k: v for k, v in model.posterior_.attrs.items() if k.startswith("synergy_")},
    }


def _provenance(touchpoints, conversions, tables, n_touch, n_conv, seed, settings) -> dict:
    from workbench.store import provenance

    return provenance(
        inputs={"touchpoints": touchpoints, "conversions": conversions},
        row_counts={
            "touchpoints": n_touch,
            "conversions": n_conv,
            "journeys": tables.n_journeys,
            "touches_in_window": tables.n_touches_in_window,
            "patterns": len(tables.patterns),
            "converted_journeys": len(tables.converted_journeys),
        },
        seed=seed,
        settings=settings,
    )


def _label(source: Any) -> str:
    return str(source) if isinstance(source, str | os.PathLike) else "<DataFrame>"


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items()) or "skipped"


def run(
    *,
    touchpoints: str,
    conversions: str,
    out: str,
    lookback_days: float,
    seed: int,
    draws: int,
    tune: int,
    chains: int,
    method: str,
    engine: str,
) -> None:
    """The CLI entry point (options as in ``workbench attribute --help``)."""
    attribute(
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
    )
