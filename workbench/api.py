"""The Python API for notebooks: the same code paths as the CLI, returning xarray Datasets.

Inputs are paths (CSV/Parquet) or pandas DataFrames. Nothing is written unless ``out=`` is given.

>>> from workbench import api
>>> ds = api.attribute("data/sim/touchpoints.parquet", "data/sim/conversions.parquet")
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import xarray as xr

import posterior_tools.settings as inference
from attribution import settings as attribution_settings
from attribution.mmm import settings as mmm_settings
from clv import settings as clv_settings
from workbench.experience import settings as cx_settings
from workbench.experiments import settings as experiment_settings
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
    roles: bool = True,
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
        roles=roles,
    )


def clv(
    transactions: Table,
    *,
    calibration_end: str | None = None,
    holdout_end: str | None = None,
    time_unit: str = clv_settings.TIME_UNIT,
    horizon: float = clv_settings.HORIZON,
    annual_discount_rate: float = clv_settings.ANNUAL_DISCOUNT_RATE,
    method: str = clv_settings.METHOD,
    customers: Table | None = None,
    attribution_path: str | os.PathLike | xr.Dataset | None = None,
    seed: int = clv_settings.SEED,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
    draws: int = inference.DRAWS,
    tune: int = inference.TUNE,
    chains: int = inference.CHAINS,
    posterior: str = clv_settings.POSTERIOR,
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
    from workbench.pipelines.clv import clv as run

    return run(
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
        draws=draws,
        tune=tune,
        chains=chains,
        posterior=posterior,
        compare_models=compare_models,
    )


def cdnow_transactions(which: str = "sample") -> pd.DataFrame:
    """The CDNOW transactions of Fader, Hardie & Lee (2005), as shipped inside lifetimes, in the
    transactions contract: customer_id (str), timestamp (one per purchase day), amount (US
    dollars).

    Args:
        which: ``sample`` (the 2,357 customers the BG/NBD and Gamma-Gamma papers fit) or
            ``master`` (the full cohort of 23,570 customers who first bought in 1997 Q1). The
            papers calibrate to ``workbench.cdnow.CALIBRATION_END`` (1997-09-30) and hold out
            to ``workbench.cdnow.HOLDOUT_END`` (1998-06-30).
    """
    from workbench.cdnow import cdnow_transactions as load

    return load(which)


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
        against the current plan with 90% intervals, ``p_beats_current(scenario)``, the people
        each scenario newly reaches, response curves, the touch-curve and audience (reach and
        frequency) draws and KPIs (docs/contracts.md, "plan.nc").
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


def experiment(
    assignments: Table,
    conversions: Table,
    *,
    transactions: Table | None = None,
    clv: str | os.PathLike | xr.Dataset | None = None,
    control: str | None = None,
    split: str | dict[str, float] | None = None,
    metric: str = experiment_settings.DECISION_METRIC,
    end: str | None = None,
    channel: str | None = None,
    lift_test_out: str | os.PathLike | None = None,
    market_users: float | None = None,
    clv_absent: str = experiment_settings.CLV_ABSENT,
    draws: int = experiment_settings.POSTERIOR_DRAWS,
    seed: int = 1,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Bayesian analysis of an A/B test: each arm's conversion rate, revenue per user and
    customer value, the lift over the control, P(beats control) and the expected loss.

    Args:
        assignments: path or DataFrame with user_id, arm, assigned_at (one row per user; a user
            in several arms is left out and counted).
        conversions: path or DataFrame with user_id, timestamp [value]; only conversions from
            the user's assignment on count (earlier ones are counted apart).
        transactions: path or DataFrame with customer_id (= user_id), timestamp, amount for
            revenue per user; without it the conversions' value column is used when present.
        clv: clv.nc path (or its Dataset) from :func:`clv`: per-user predicted customer value
            (users absent from it are valued by ``clv_absent``).
        control: the arm the others are compared with (default ``control``, or ``holdout``
            when ``channel`` is given).
        split: planned shares for the sample-ratio check, ``"control=50,treatment=50"`` or a
            dict (default: equal).
        metric: what ``lift``, ``p_beats_control`` and ``expected_loss`` refer to:
            conversion_rate, revenue_per_user or customer_value (all metrics are also stored by
            metric).
        end: end of the test (exclusive, a date or ISO time); later events are not counted.
        channel: the arms are a hold-out of this channel; the result then carries a lift-test
            row (channel, start, end, incremental_conversions, standard_error).
        lift_test_out: write that row to this CSV/Parquet path.
        market_users: users in the whole market the channel addresses, for scaling the row
            (default: the users in the test).
        clv_absent: value of users absent from clv.nc: ``mean`` (of its customers) or ``zero``.
        draws: Monte Carlo draws per arm.
        seed: random seed (same inputs and seed, same numbers).
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically to this NetCDF path when given.

    Returns:
        The experiment Dataset: ``conversion_rate(draw, arm)``, ``revenue_per_user(draw, arm)``,
        ``customer_value(draw, arm)`` (with clv), ``lift(draw, arm)``, ``p_beats_control(arm)``,
        ``expected_loss(arm)``, counts per arm; checks in attrs (docs/contracts.md,
        "experiment.nc").
    """
    from workbench.pipelines.experiment import experiment as run

    return run(
        assignments,
        conversions,
        transactions=transactions,
        clv=clv,
        control=control,
        split=split,
        metric=metric,
        end=end,
        channel=channel,
        lift_test_out=lift_test_out,
        market_users=market_users,
        clv_absent=clv_absent,
        draws=draws,
        seed=seed,
        engine=engine,
        out=out,
    )


def experiment_size(
    baseline_rate: float,
    *,
    relative_mde: float | None = None,
    control_users: int | None = None,
    alpha: float = experiment_settings.PLAN_ALPHA,
    power: float = experiment_settings.PLAN_POWER,
    ratio: float = 1.0,
    arms: int = 2,
    daily_users: float | None = None,
) -> xr.Dataset:
    """Plan a conversion-rate test: users needed for a lift, or the lift a size can detect.

    Args:
        baseline_rate: the control's expected conversion rate (0.05 = 5%).
        relative_mde: the smallest relative lift worth detecting (0.1 = +10%); returns the
            users needed. Give this or ``control_users``.
        control_users: users in the control arm; returns the minimum detectable effect.
        alpha: two-sided significance level (split over the treatment arms, Bonferroni).
        power: probability of detecting an effect of the MDE.
        ratio: users in each treatment arm per control user.
        arms: arms including the control.
        daily_users: users entering the test per day, to give its length in days.

    Returns:
        A Dataset of scalars: ``control_users``, ``treatment_users`` (per treatment arm),
        ``total_users``, ``relative_mde``, ``absolute_mde`` [, ``days``].
    """
    from workbench.pipelines.experiment_size import experiment_size as run

    return run(
        baseline_rate,
        relative_mde=relative_mde,
        control_users=control_users,
        alpha=alpha,
        power=power,
        ratio=ratio,
        arms=arms,
        daily_users=daily_users,
    )


def simulate(
    users: int = 20_000,
    weeks: int = 12,
    scenario: str = "default",
    seed: int = 1,
    out_dir: str | os.PathLike | None = None,
    fmt: str = "parquet",
):
    """Simulated journeys, conversions, repeat purchases, spend, surveys and journey stages with
    known truth.

    Args:
        users: users who receive touches (unreached users who buy organically come on top).
        weeks: weeks of touches and spend (repeat purchases run 52 weeks beyond).
        scenario: shape of the true conversion model (``workbench simulate --help`` lists them).
        seed: random seed; the same arguments give the same data.
        out_dir: when given, write every table (``fmt``: parquet or csv) and truth.json there.
        fmt: file format of the written tables.

    Returns:
        ``workbench.simulate.SimulatedData`` with DataFrames ``touchpoints``, ``conversions``,
        ``transactions``, ``spend`` and the ``truth`` dict.
    """
    if out_dir is not None:
        from workbench.pipelines.simulate import simulate_to_folder

        return simulate_to_folder(
            out_dir, users=users, weeks=weeks, scenario=scenario, seed=seed, fmt=fmt
        )
    from workbench.simulate import simulate as run

    return run(users=users, weeks=weeks, scenario=scenario, seed=seed)


def report(
    results_dir: str | os.PathLike = "results", out_dir: str | os.PathLike = "reports"
) -> Path:
    """Render one self-contained HTML report (``report.html``) from a results folder, and the
    budget planner page (``planner.html``, as self-contained) beside it when plan.nc is there.

    Args:
        results_dir: folder holding attribution.nc, clv.nc, plan.nc (and the other jobs'
            results); a missing file leaves its sections saying so.
        out_dir: folder the report is written to (created when missing).

    Returns:
        The report's path.
    """
    from workbench.pipelines.report import report as run

    return run(results_dir, out_dir)


def cx(
    surveys: Table,
    *,
    touchpoints: Table | None = None,
    stages: str | os.PathLike | None = None,
    clv: str | os.PathLike | xr.Dataset | None = None,
    attribution: str | os.PathLike | xr.Dataset | None = None,
    transactions: Table | None = None,
    customers: Table | None = None,
    draws: int = cx_settings.POSTERIOR_DRAWS,
    seed: int = cx_settings.SEED,
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
) -> xr.Dataset:
    """Customer experience: NPS with posteriors, value by NPS group, coverage, stage funnel.

    Args:
        surveys: path or DataFrame with customer_id, timestamp, score (integers 0-10)
            [channel]; each answer counts once in NPS, a customer's latest answer sets their
            group for value comparisons.
        touchpoints: path or DataFrame with user_id, timestamp, channel [stage] for the
            journey-stage funnel (optional).
        stages: YAML with ``stages`` (names in funnel order; default awareness, consideration,
            conversion, retention, advocacy) and ``channels`` (channel: stage) for touches
            without a stage.
        clv: clv.nc (path or Dataset): predicted CLV and P(alive) per customer, value tiers as
            segments, acquisition shares when it was fitted with attribution.
        attribution: attribution.nc: acquisition channel = the channel with the largest credit
            in the customer's first converting journey (organic when none).
        transactions: the customers surveys are checked against (else clv.nc's customers).
        customers: customer_id with optional ``channel`` (acquisition) and ``segment`` columns;
            they take precedence over the results files.
        draws: posterior draws (exact Monte Carlo of the conjugate posterior).
        seed: seed of those draws.
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically to this NetCDF path when given.

    Returns:
        The cx Dataset: ``nps(draw)`` in points (-100..100), ``nps_by_month(draw, month)``,
        ``nps_by_channel(draw, channel)``, ``nps_by_segment(draw, segment)``,
        ``respondents[_by_*](..., group)``, ``clv_by_group(draw, group)``,
        ``p_alive_by_group``, coverage by channel, segment and value decile, and the stage
        funnel over ``(funnel_channel, stage)`` (docs/contracts.md, "cx.nc").
    """
    from workbench.pipelines.cx import cx as run

    return run(
        surveys,
        touchpoints=touchpoints,
        stages=stages,
        clv=clv,
        attribution=attribution,
        transactions=transactions,
        customers=customers,
        draws=draws,
        seed=seed,
        engine=engine,
        out=out,
    )


def calibration_split(transactions: str | os.PathLike) -> tuple[str, str]:
    """``(calibration_end, holdout_end)`` as YYYY-MM-DD for a transactions file: the holdout is
    the last ``1 - workbench.calibration.CALIBRATION_SHARE`` of the window from the first to the
    last purchase (the demo's split)."""
    from workbench.calibration import calibration_split as split

    return split(transactions)


def mmm(
    spend: Table,
    outcomes: Table | None = None,
    *,
    conversions: Table | None = None,
    controls: Table | None = None,
    experiments: Table | None = None,
    adstock: str = "geometric",
    saturation: str = "logistic",
    l_max: int = mmm_settings.L_MAX,
    roi_prior: dict[str, tuple[float, float]] | None = None,
    draws: int = inference.DRAWS,
    tune: int = inference.TUNE,
    chains: int = inference.CHAINS,
    seed: int = 1,
    holdout_check: bool = True,
    sampler: str = "pymc",
    engine: str = "duckdb",
    out: str | os.PathLike | None = None,
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
        adstock: ``geometric`` or ``delayed`` (delayed-peak) carry-over.
        saturation: ``logistic`` or ``hill``.
        l_max: longest carry-over in weeks.
        roi_prior: optional ``{channel: (mean, sd)}`` ROI priors, conversions per unit spend.
        draws, tune, chains: NUTS settings per chain.
        seed: random seed (same inputs and seed, same numbers).
        holdout_check: refit without the last 10% of weeks for the out-of-sample MAPE.
        sampler: ``pymc`` or ``nutpie``.
        engine: ``duckdb`` or ``spark`` for the SQL steps.
        out: write the Dataset atomically to this NetCDF path when given.

    Returns:
        The media-mix Dataset (docs/contracts.md, "mmm.nc"): ``contribution(chain, draw,
        channel)``, ``roi(chain, draw, channel)``, ``contribution_over_time(chain, draw,
        period, channel)``, ``baseline(chain, draw, period)``, ``response_curve(chain, draw,
        channel, spend_level)``, parameters, fit checks and diagnostics in attrs.
    """
    from workbench.pipelines.mmm import mmm as run

    return run(
        spend,
        outcomes,
        conversions=conversions,
        controls=controls,
        experiments=experiments,
        adstock=adstock,
        saturation=saturation,
        l_max=l_max,
        roi_prior=roi_prior,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        holdout_check=holdout_check,
        sampler=sampler,
        engine=engine,
        out=out,
    )


def simulate_media(
    world: str = "retail", seed: int = 1, geos: int = 0, out: str | os.PathLike | None = None
):
    """A weekly media world with known truth (``workbench.sim.media.WORLDS``: retail, brand,
    big_baseline, confounded). Returns the simulation (``spend``, ``outcomes``, ``controls``,
    ``experiments`` DataFrames and the ``truth`` dict); with ``out``, also writes them there as
    CSV plus truth.json."""
    from workbench.sim.media import simulate_media as sim
    from workbench.sim.media import write_media

    result = sim(world, seed=seed, geos=geos)
    if out is not None:
        write_media(result, out)
    return result


def demo(
    workdir: str | os.PathLike = ".",
    users: int = 20_000,
    seed: int = 1,
    notebooks: bool = True,
) -> dict[str, str]:
    """Simulate, attribute, clv, plan, media mix, experiment, customer experience, report and
    the notebooks, end to end, under ``workdir`` (data/sim, results, reports).

    Args:
        workdir: folder for data/, results/ and reports/.
        users: simulated users who receive touches.
        seed: random seed of the simulation and the samplers.
        notebooks: also execute the notebooks headless into reports/notebooks.

    Returns:
        Each stage's outcome: ``done`` or ``skipped: <why>`` (a failed stage raises
        ``workbench.pipelines.demo.DemoFailed`` at the end, after the other stages ran).
    """
    from workbench.pipelines.demo import demo as run

    return run(workdir=workdir, users=users, seed=seed, notebooks=notebooks)
