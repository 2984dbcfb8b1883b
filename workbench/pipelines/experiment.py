"""Pipeline of ``workbench experiment``: an A/B test read with posteriors, and its checks.

Steps, top to bottom: check the options -> validate and stage the assignments, conversions and
(optional) transactions -> SQL data step (``workbench/sql/experiment_*.sql``: per-user outcomes
from the assignment on, then per-arm sufficient statistics and the exclusion counts) -> checks
(arms, control, sample-ratio mismatch) -> ``workbench.experiments.ABTest`` -> results Dataset
with provenance -> for a channel hold-out, the lift-test row -> atomic writes.

The data step is in :mod:`workbench.pipelines.experiment_data`; planning a test (users needed,
minimum detectable effect) in :mod:`workbench.pipelines.experiment_size`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError
from workbench.experiments.settings import (
    CLV_ABSENT,
    CLV_ABSENT_RULES,
    CONTROL_ARM,
    DECISION_METRIC,
    HOLDOUT_ARM,
    METRICS,
    POSTERIOR_DRAWS,
    SRM_ALPHA,
)
from workbench.pipelines import experiment_data as data
from workbench.pipelines.experiment_data import NO_END_DAY

if TYPE_CHECKING:
    from workbench.engines import Engine

#: Columns of a lift-test row (the experiments contract).
LIFT_TEST_COLUMNS = ("channel", "start", "end", "incremental_conversions", "standard_error")


def experiment(
    assignments: Any,
    conversions: Any,
    *,
    transactions: Any = None,
    clv: Any = None,
    control: str | None = None,
    split: str | Mapping[str, float] | None = None,
    metric: str = DECISION_METRIC,
    end: str | None = None,
    channel: str | None = None,
    lift_test_out: str | os.PathLike | None = None,
    market_users: float | None = None,
    clv_absent: str = CLV_ABSENT,
    draws: int = POSTERIOR_DRAWS,
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
    control = control or (HOLDOUT_ARM if channel else CONTROL_ARM)
    planned = _check_options(metric, clv_absent, draws, split, channel, lift_test_out, clv)
    end_day = _end_day(end)
    eng = _make_engine(engine)
    try:
        rows = data.stage_inputs(eng, assignments, conversions, transactions)
        revenue_source = data.revenue_source(eng, transactions)
        stats = data.data_step(eng, revenue_source, end_day)
        values, absent = (None, {}) if clv is None else data.customer_values(eng, clv, clv_absent)
    finally:
        eng.close()
    arms = stats["arms"]
    _check_arms(arms, stats["arm_users"], control, planned, assignments)
    srm = _sample_ratio(arms, planned)
    ds = _analyse(stats, values, revenue_source, control, metric, draws, seed)
    ds = _annotate(ds, stats, srm, planned, revenue_source, absent, end)
    settings = {
        "control": control,
        "split": planned,
        "metric": metric,
        "end": end,
        "channel": channel,
        "market_users": market_users,
        "clv_absent": clv_absent,
        "draws": int(draws),
        "engine": engine,
    }
    ds.attrs.update(_provenance(assignments, conversions, transactions, clv, rows, seed, settings))
    row = None
    if channel is not None:
        row = _lift_test_row(stats, channel, control, market_users, end_day, draws, seed)
        ds.attrs["lift_test"] = row
    if out is not None:
        from workbench.store import write_results

        write_results(ds, out)
    if lift_test_out is not None and row is not None:
        _write_row(row, lift_test_out)
    return ds


# --- options -----------------------------------------------------------------------------------


def _check_options(metric, clv_absent, draws, split, channel, lift_test_out, clv):
    if metric not in METRICS:
        raise InputError(
            f"--metric: unknown metric '{metric}'; expected one of {', '.join(METRICS)}"
        )
    if metric == "customer_value" and clv is None:
        raise InputError("--metric customer_value needs --clv (a clv.nc with per-customer clv)")
    if clv_absent not in CLV_ABSENT_RULES:
        raise InputError(
            f"--clv-absent: unknown rule '{clv_absent}'; expected {' or '.join(CLV_ABSENT_RULES)}"
        )
    if int(draws) < 1:
        raise InputError(f"--draws must be at least 1; got {draws}")
    if lift_test_out is not None and channel is None:
        raise InputError("--lift-test-out needs --channel (the channel the hold-out tested)")
    if lift_test_out is not None:
        from workbench.engines import file_format

        file_format(lift_test_out)  # .csv or .parquet, checked before anything is written
    return parse_split(split)


def parse_split(split: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """The planned split as ``{arm: weight}`` from ``"control=50,treatment=50"`` or a mapping;
    weights are any positive numbers (normalised later). None: an equal split."""
    if split is None:
        return None
    if isinstance(split, Mapping):
        items = [(str(k), v) for k, v in split.items()]
    else:
        items = []
        for part in str(split).split(","):
            arm, sep, weight = part.partition("=")
            if not sep or not arm.strip():
                raise InputError(
                    f"--split: cannot read '{part.strip()}'; expected arm=weight pairs such as "
                    "control=50,treatment=50"
                )
            items.append((arm.strip(), weight.strip()))
    planned = {}
    for arm, weight in items:
        try:
            value = float(weight)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"--split: weight of arm '{arm}' is '{weight}'; expected a number > 0")
        planned[arm] = value
    return planned


def _end_day(end: str | None) -> float:
    from workbench.io import parse_date, to_epoch_days

    ts = parse_date(end, option="--end")
    return NO_END_DAY if ts is None else float(to_epoch_days(ts))


def _make_engine(name: str) -> Engine:
    from workbench.engines import make_engine

    return make_engine(name)


# --- checks ------------------------------------------------------------------------------------


def _check_arms(arms: pd.DataFrame, arm_users: pd.DataFrame, control, planned, source) -> None:
    label = source if isinstance(source, str | os.PathLike) else "<assignments DataFrame>"
    found = list(arms["arm"])
    for row in arm_users.itertuples():
        if row.users_kept == 0:
            raise InputError(
                f"arm '{row.arm}' has no users left: all {row.users_assigned} of its users were "
                "also assigned to another arm (users in several arms are left out)",
                file=str(label),
                column="arm",
            )
    if control not in found:
        raise InputError(
            f"--control '{control}' is not an arm with users; arms found: {', '.join(found)}",
            file=str(label),
            column="arm",
        )
    if planned is not None:
        for arm in planned:
            if arm not in found:
                raise InputError(
                    f"arm '{arm}' of --split has no users in the assignments; arms found: "
                    f"{', '.join(found)}",
                    file=str(label),
                    column="arm",
                )
        for arm in found:
            if arm not in planned:
                raise InputError(f"--split gives no share for arm '{arm}'", file=str(label))
    if len(found) < 2:
        raise InputError(
            f"only one arm has users ('{found[0]}'); an A/B test needs at least two",
            file=str(label),
            column="arm",
        )


def _sample_ratio(arms: pd.DataFrame, planned):
    from workbench.experiments.checks import sample_ratio_check

    observed = dict(zip(arms["arm"], arms["n_users"].astype(int), strict=True))
    return sample_ratio_check(observed, planned, alpha=SRM_ALPHA)


# --- model and results -------------------------------------------------------------------------


def _analyse(stats, values, revenue_source, control, metric, draws, seed) -> xr.Dataset:
    from workbench.experiments import ABTest

    if metric == "revenue_per_user" and revenue_source == "none":
        raise InputError(
            "--metric revenue_per_user needs revenue: --transactions, or a value column in the "
            "conversions"
        )
    revenue = stats["revenue"] if revenue_source != "none" else None
    model = ABTest(control, metric=metric, draws=int(draws), seed=seed)
    return model.fit(stats["arms"], revenue=revenue, customer_value=values).results()


def _annotate(ds, stats, srm, planned, revenue_source, absent, end) -> xr.Dataset:
    checks = stats["checks"]
    arms = stats["arms"].set_index("arm").loc[list(ds["arm"].values)]
    ds["n_conversions"] = ("arm", arms["n_conversions"].to_numpy().astype(int))
    ds["srm_expected_users"] = ("arm", [srm.expected[a] for a in ds["arm"].values])
    ds.attrs.update(
        srm_p_value=srm.p_value,
        srm_chi2=srm.chi2,
        srm_alpha=srm.alpha,
        srm_mismatch=int(srm.mismatch),
        planned_split=planned or "equal",
        excluded_users={"assigned_to_several_arms": int(checks["users_in_several_arms"])},
        not_counted={
            "conversions_before_assignment": int(checks["conversions_before_assignment"]),
            "users_converted_before_assignment": int(checks["users_converted_before_assignment"]),
            "orders_before_assignment": int(checks["orders_before_assignment"]),
            "conversions_after_end": int(checks["conversions_after_end"]),
            "unassigned_conversions": int(checks["unassigned_conversions"]),
        },
        users_assigned=int(checks["users_assigned"]),
        assignment_rows=int(checks["assignment_rows"]),
        revenue_source=revenue_source,
        test_start=_date(arms["first_assigned"].min()),
        test_end=end if end is not None else _date(_last_event(stats["arms"])),
    )
    if absent:
        ds.attrs["customer_value_absent"] = absent
    return ds


def _provenance(assignments, conversions, transactions, clv, rows, seed, settings) -> dict:
    from workbench.store import provenance

    inputs = {"assignments": assignments, "conversions": conversions}
    if transactions is not None:
        inputs["transactions"] = transactions
    if clv is not None:
        inputs["clv"] = clv
    return provenance(inputs=inputs, row_counts=rows, seed=seed, settings=settings)


def _last_event(arms: pd.DataFrame) -> float:
    last = pd.concat([arms["last_assigned"], arms["last_conversion"]]).max()
    return float(last)


def _date(days: float) -> str:
    return str((pd.Timestamp("1970-01-01") + pd.to_timedelta(float(days), unit="D")).date())


# --- channel hold-out -> lift-test row ---------------------------------------------------------


def _lift_test_row(stats, channel, control, market_users, end_day, draws, seed) -> dict:
    from workbench.experiments.holdout import holdout_lift

    arms = list(stats["arms"]["arm"])
    others = [a for a in arms if a != control]
    if len(others) != 1:
        raise InputError(
            f"--channel: a hold-out has two arms, the hold-out ('{control}') and the exposed one; "
            f"found {len(arms)}: {', '.join(arms)}"
        )
    users = float(stats["arms"]["n_users"].sum())
    if market_users is not None and not (market_users > 0 and math.isfinite(market_users)):
        raise InputError(f"--market-users must be a number > 0; got {market_users}")
    lift = holdout_lift(
        stats["conversion_counts"],
        exposed=others[0],
        holdout=control,
        market_users=users if market_users is None else float(market_users),
        draws=int(draws),
        rng=np.random.default_rng(seed),
    )
    if not lift.standard_error > 0:
        # Every user of both arms has the same number of conversions (usually none): the
        # contract needs a positive standard error, and there is no lift to measure.
        raise InputError(
            f"--channel {channel}: every user of both arms has the same number of conversions "
            "in the test; a lift test needs conversions to compare"
        )
    arms_table = stats["arms"]
    start = _date(arms_table["first_assigned"].min())
    last = (end_day - 1e-9) if end_day < NO_END_DAY else _last_event(arms_table)
    return {
        "channel": channel,
        "start": start,
        "end": _date(last),
        "incremental_conversions": lift.incremental_conversions,
        "standard_error": lift.standard_error,
        "market_users": lift.market_users,
        "exposed_arm": others[0],
        "holdout_arm": control,
    }


def _write_row(row: dict, path: str | os.PathLike) -> Path:
    """Write the lift-test row (the experiments contract) to CSV/Parquet atomically."""
    import tempfile

    from workbench.engines import file_format

    path = Path(path)
    fmt = file_format(path)
    frame = pd.DataFrame([{k: row[k] for k in LIFT_TEST_COLUMNS}])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def describe(ds: xr.Dataset) -> str:
    """A few lines for the terminal: per arm the decision metric, lift, P(beats), and checks."""
    from posterior_tools.settings import INTERVAL

    metric = ds.attrs.get("metric", DECISION_METRIC)
    lines = [
        f"arm: users, {metric}, lift over '{ds.attrs['control']}' ({INTERVAL:.0%}), "
        "P(beats control), expected loss"
    ]
    samples = ds[metric]
    for arm in ds["arm"].values:
        lift = ""
        if arm != ds.attrs["control"]:
            lift = (
                f", {float(ds['lift'].sel(arm=arm).mean()):+.1%} "
                f"({float(ds['lift_lower'].sel(arm=arm)):+.1%} to "
                f"{float(ds['lift_upper'].sel(arm=arm)):+.1%}), "
                f"P = {float(ds['p_beats_control'].sel(arm=arm)):.3f}"
            )
        lines.append(
            f"  {arm}: {int(ds['n_users'].sel(arm=arm))}, "
            f"{float(samples.sel(arm=arm).mean()):.4g}{lift}, "
            f"loss {float(ds['expected_loss'].sel(arm=arm)):.3g}"
        )
    srm = "MISMATCH" if ds.attrs["srm_mismatch"] else "ok"
    lines.append(f"sample ratio: {srm} (p = {ds.attrs['srm_p_value']:.3g})")
    excluded = ds.attrs["excluded_users"]["assigned_to_several_arms"]
    before = ds.attrs["not_counted"]["conversions_before_assignment"]
    lines.append(
        f"excluded: {excluded} users in several arms; not counted: {before} "
        "conversions before assignment"
    )
    return "\n".join(lines)
