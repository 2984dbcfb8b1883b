"""Attribution pipeline: touchpoints + conversions -> journeys (SQL) -> Bayesian conversion
model -> Shapley credit per posterior draw, with the heuristic and Markov baselines beside it.

Steps, top to bottom in :func:`attribute`: check the settings; stage both inputs and run the
attribution SQL steps (``workbench.journeys``) on DuckDB or Spark; note degenerate channels
(:func:`data_notes`); fit ``attribution.ConversionModel`` on the pattern table; credit channels
(``ConversionModel.credit``); run the checks (posterior predictive by path length and channel,
held-out log-loss against the Markov chain and a logistic regression on a journey split);
assemble the attribution.nc Dataset (``attribution_dataset``) and write it atomically. Progress
lines go to stderr.

Defaults: ``method="auto"`` samples with NUTS up to
``attribution.settings.NUTS_MAX_CONVERTING_PATTERNS`` converting patterns and uses the Laplace
approximation above (attrs ``posterior_method`` names the one used); NUTS runs
``posterior_tools.settings`` chains x (tune + draws), PyMC's own defaults (with 500 + 500 the
NUTS diagnostics failed on R-hat noise alone at 20k simulated users), sampled by nutpie
(``posterior_tools.nuts``: the model compiled once, Rust NUTS). The held-out log-loss
check refits by Laplace whatever the main method (``attribution.checks.HOLDOUT_REFIT_METHOD``),
so it adds a Laplace fit instead of a second NUTS run.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Any

import pandas as pd
import xarray as xr

from attribution.settings import DEFAULT_LOOKBACK_DAYS, METHODS, NUTS_MAX_CONVERTING_PATTERNS
from posterior_tools.compiledir import use_project_cache
from posterior_tools.settings import CHAINS, DRAWS, TUNE
from posterior_tools.threads import blas_threads, original_blas_threads
from workbench.errors import InputError
from workbench.pipelines import attribution_dataset as dataset


def _say(message: str, started: float) -> None:
    """A progress line on stderr: wall seconds since ``started`` and this process's CPU
    seconds so far (stage costs in bench/RESULTS.md come from these lines)."""
    print(
        f"[attribute {time.perf_counter() - started:6.1f} s, {time.process_time():6.1f} s CPU] "
        f"{message}",
        file=sys.stderr,
    )


def attribute(
    touchpoints: str | os.PathLike | pd.DataFrame,
    conversions: str | os.PathLike | pd.DataFrame,
    *,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    seed: int = 1,
    draws: int = DRAWS,
    tune: int = TUNE,
    chains: int = CHAINS,
    method: str = "auto",
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    synergy: bool = True,
    holdout_check: bool = True,
    roles: bool = True,
    experiments: str | os.PathLike | pd.DataFrame | None = None,
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
        roles: give a channel an opening-touch term where the score screen finds one
            (``attribution.model``); False fits the model without roles.
        experiments: lift tests (channel, start, end, incremental_conversions,
            standard_error), path or DataFrame: each adds its measured lift to the likelihood
            (``attribution.lift``); the results then hold the model refitted without them
            beside (docs/contracts.md, "Journey-model lift tests").

    Returns:
        The attribution Dataset: ``attributed_conversions(chain, draw, channel)`` (Shapley
        credit), ``incremental_conversions``, ``heuristic_credit(method, channel)``, the
        posterior and checks (docs/contracts.md, "attribution.nc").
    """
    started = time.perf_counter()
    _check_settings(lookback_days, draws, tune, chains, method)
    # before PyMC is imported: a compile cache of the project's own (posterior_tools.compiledir)
    use_project_cache()
    tables, n_touch_rows, n_conversion_rows, lift = _journey_tables(
        touchpoints, conversions, lookback_days, engine, started, experiments
    )
    notes = data_notes(tables)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    # the fits' small BLAS calls on one thread: a second one only spins (posterior_tools.threads)
    with blas_threads():
        model, patterns = _fit(
            tables, lookback_days, synergy, roles, method, draws, tune, chains, seed, lift
        )
        ok = model.diagnostics_["diagnostics_ok"]
        _say(f"posterior by {model.method_}; diagnostics ok: {ok}", started)
        credit, checks = _credit_and_checks(model, patterns, tables, holdout_check, seed, started)
    if checks["criticism"]["reasons"]:
        warnings.warn(
            "attribution credit may be unreliable: " + "; ".join(checks["criticism"]["reasons"]),
            UserWarning,
            stacklevel=2,
        )

    settings = dict(
        lookback_days=lookback_days,
        draws=draws,
        tune=tune,
        chains=chains,
        method=method,
        engine=engine,
        synergy=synergy,
        roles=roles,
        experiments=None if experiments is None else _label(experiments),
    )
    ds = dataset.assemble(tables, patterns, model, credit, checks, lookback_days)
    ds.attrs.update(
        _provenance(
            touchpoints, conversions, tables, n_touch_rows, n_conversion_rows, seed, settings
        )
    )
    ds.attrs.update(dataset.diagnostic_attrs(model, credit, checks, tables))
    ds.attrs["data_notes"] = notes
    if lift is not None:
        from workbench.pipelines.attribution_lift import lift_results

        ds = ds.merge(lift_results(model, patterns, credit, *lift), combine_attrs="override")
        _say(f"{lift[1].n_tests} lift test(s): refitted without them for comparison", started)
    if out is not None:
        from workbench.store import write_results

        write_results(ds, out)
        _say(f"wrote {out}", started)
    return ds


def _check_settings(lookback_days: float, draws: int, tune: int, chains: int, method: str) -> None:
    from attribution.settings import RECENCY_EDGES_DAYS

    if not lookback_days > RECENCY_EDGES_DAYS[-1]:
        raise InputError(
            f"--lookback-days must exceed the last recency bin edge ({RECENCY_EDGES_DAYS[-1]:g}"
            f" days); got {lookback_days:g}"
        )
    if min(draws, tune, chains) < 1:
        raise InputError(
            f"draws, tune and chains must be at least 1; got {draws}, {tune}, {chains}"
        )
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}; got '{method}'")


def _journey_tables(
    touchpoints, conversions, lookback_days: float, engine: str, started: float, experiments=None
):
    """Stage both inputs and run the attribution SQL steps; returns (tables, row counts, lift
    tests: None, or the validated tests and their ``attribution.lift.LiftTests``)."""
    from workbench import io
    from workbench import journeys as steps
    from workbench.engines import make_engine

    sql = make_engine(engine)
    try:
        # integer user ids stay integers: the journeys step sorts 15M events by them at 2M
        # journeys (1.4 CPU s less than on their text, bench/RESULTS.md)
        n_touch_rows = io.stage(sql, "touchpoints", touchpoints, integer_ids=True)
        n_conversion_rows = io.stage(sql, "conversions", conversions, integer_ids=True)
        if n_touch_rows == 0:
            raise InputError(
                "touchpoints has no rows: nothing to attribute", file=_label(touchpoints)
            )
        _say(f"staged {n_touch_rows:,} touchpoints, {n_conversion_rows:,} conversions", started)
        if experiments is not None:
            from workbench.pipelines import attribution_lift

            experiments = attribution_lift.check_tests(sql, experiments)
        tables = steps.run_steps(sql, lookback_days)
        lift = None
        if experiments is not None:
            lift = attribution_lift.stage_tests(sql, experiments, tables, lookback_days)
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
    return tables, n_touch_rows, n_conversion_rows, lift


def data_notes(tables) -> list[str]:
    """Channels whose credit the data cannot pin down, one plain sentence each.

    - A channel in no converting journey: its effect's likelihood is highest at zero, so its
      credit is what the non-negative prior leaves (near zero), not a measured effect.
    - A channel in every journey: its presence is constant, so its effect cannot be told apart
      from the baseline hazard; its credit is the prior's split between the two.
    """
    codes = tables.patterns[[f"k_{c}" for c in range(len(tables.channels))]].to_numpy() > 0
    n_journeys = tables.patterns["n_journeys"].to_numpy()
    n_conversions = tables.patterns["n_conversions"].to_numpy()
    total = int(n_journeys.sum())
    notes = []
    for c, name in enumerate(tables.channels):
        journeys = int(n_journeys[codes[:, c]].sum())
        converting = int(n_conversions[codes[:, c]].sum())
        if journeys and converting == 0:
            notes.append(
                f"channel '{name}' is in {journeys:,} journeys and none converted: its credit "
                "is what the prior allows (near zero), not a measured effect"
            )
        elif journeys == total and len(tables.channels) > 1:
            notes.append(
                f"channel '{name}' is in every one of the {total:,} journeys: its effect cannot "
                "be told apart from the baseline, so its credit is unreliable"
            )
    return notes


def _fit(tables, lookback_days, synergy, roles, method, draws, tune, chains, seed, lift=None):
    """The conversion model fitted on the pattern table; returns (model, patterns)."""
    from attribution import ConversionModel, as_patterns, recency_ages_days

    patterns = as_patterns(tables.patterns, tables.channels, tables.capped_counts)
    model = ConversionModel(
        channels=tables.channels,
        recency_ages_days=recency_ages_days(lookback_days),
        synergy=synergy,
        roles=roles,
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_max_converting_patterns=NUTS_MAX_CONVERTING_PATTERNS,
        lift_tests=None if lift is None else lift[1],
    )
    return model.fit(patterns), patterns


def _provenance(touchpoints, conversions, tables, n_touch, n_conv, seed, settings) -> dict:
    from attribution.settings import RECENCY_EDGES_DAYS
    from workbench import journeys as steps

    settings = {
        **settings,
        "recency_edges_days": [*RECENCY_EDGES_DAYS, settings["lookback_days"]],
        "count_cap": steps.COUNT_CAP,
        "time_decay_half_life_days": steps.TIME_DECAY_HALF_LIFE_DAYS,
        "position_end_share": steps.POSITION_END_SHARE,
        "holdout_digits": "".join(steps.HOLDOUT_DIGITS),
    }
    return dataset.provenance_attrs(
        touchpoints, conversions, tables, n_touch, n_conv, seed, settings
    )


def _credit_and_checks(model, patterns, tables, holdout_check: bool, seed: int, started: float):
    """Shapley credit (``ConversionModel.credit``) and the checks (:func:`_checks`), side by
    side: the checks run in a second thread while this one computes the credit. Both read the
    fitted model and write nothing shared, and their array work (numpy, scikit-learn) releases
    the GIL, so on two cores the stage takes about the longer of the two instead of their sum
    (bench/RESULTS.md, issue 17). Returns ``(credit, checks)``.

    The posterior predictive checks run first, on this thread, with the BLAS pools at their own
    thread count: their matrix products split their sums by thread, so on the one thread of
    the fits (``posterior_tools.threads``) their z-scores moved in the last digit, and OpenBLAS
    takes a thread count only from the thread that set the limit."""
    from concurrent.futures import ThreadPoolExecutor

    from attribution import checks as model_checks

    with original_blas_threads():
        ppc = model_checks.posterior_predictive_checks(model.posterior_, patterns, seed=seed)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="attribution-checks") as pool:
        pending = pool.submit(_checks, model, patterns, tables, holdout_check, seed, ppc)
        credit = model.credit(patterns)
        _say("Shapley credit per posterior draw done", started)
        checks = pending.result()
    _say(f"held-out log-loss: {_fmt(checks['log_loss'])}", started)
    return credit, checks


def _checks(model, patterns, tables, holdout_check: bool, seed: int, ppc=None) -> dict:
    """Posterior predictive checks (with their pass/fail rule; ``ppc`` when already computed),
    held-out log-loss per model (nats per journey) and the criticism's flags
    (``attribution.checks.criticism``)."""
    from attribution import checks, markov

    if ppc is None:
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
    return {
        "ppc": ppc,
        "log_loss": log_loss,
        "refit_method": refit or "not run",
        "criticism": checks.criticism(ppc, log_loss),
    }


def _label(source: Any) -> str:
    return str(source) if isinstance(source, str | os.PathLike) else "<DataFrame>"


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in values.items()) or "skipped"
