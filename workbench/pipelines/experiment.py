"""Pipeline of ``workbench experiment``: an A/B test read with posteriors, and its checks.

Steps, top to bottom: check the options -> validate and stage the assignments, conversions and
(optional) transactions -> SQL data step (``workbench/sql/experiment_*.sql``: per-user outcomes
from the assignment on, then per-arm sufficient statistics and the exclusion counts) -> checks
(arms, control, sample-ratio mismatch) -> ``workbench.experiments.ABTest`` -> results Dataset
with provenance -> for a channel hold-out, the lift-test row -> atomic writes.

Also ``experiment_size``: users needed / minimum detectable effect of a planned test.
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

from workbench.contracts import Column, Contract
from workbench.errors import InputError
from workbench.experiments.settings import (
    CLV_ABSENT,
    CLV_ABSENT_RULES,
    CONTROL_ARM,
    DECISION_METRIC,
    HOLDOUT_ARM,
    METRICS,
    PLAN_ALPHA,
    PLAN_POWER,
    POSTERIOR_DRAWS,
    SRM_ALPHA,
)

if TYPE_CHECKING:
    from workbench.engines import Engine

#: The assignments contract: who was put in which arm, and when.
ASSIGNMENTS = Contract(
    "assignments",
    (Column("user_id", "id"), Column("arm", "label"), Column("assigned_at", "time")),
)
#: Columns of a lift-test row (the experiments contract).
LIFT_TEST_COLUMNS = ("channel", "start", "end", "incremental_conversions", "standard_error")
#: No end given: count every event after the assignment (a day far beyond any data).
NO_END_DAY = 1.0e9
#: Revenue source -> the SQL step that makes the revenue events.
REVENUE_STEPS = {
    "transactions": "experiment_revenue_transactions",
    "conversion values": "experiment_revenue_conversion_values",
    "none": "experiment_revenue_none",
}


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
    """Analyse an A/B test; see :func:`workbench.api.experiment` for the parameters."""
    control = control or (HOLDOUT_ARM if channel else CONTROL_ARM)
    planned = _check_options(metric, clv_absent, draws, split, channel, lift_test_out, clv)
    end_day = _end_day(end)
    eng = _make_engine(engine)
    try:
        rows = _stage(eng, assignments, conversions, transactions)
        revenue_source = _revenue_source(eng, transactions)
        stats = _data_step(eng, revenue_source, end_day)
        values, absent = _customer_values(eng, clv, clv_absent) if clv is not None else (None, {})
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


# --- staging and the SQL data step -------------------------------------------------------------


def _stage(eng: Engine, assignments, conversions, transactions) -> dict[str, int]:
    """Validate every input against its contract and register the views."""
    from workbench.io import stage
    from workbench.validation import validate_source

    label = None if isinstance(assignments, str | os.PathLike) else "<assignments DataFrame>"
    n_assignments, _ = validate_source(ASSIGNMENTS, assignments, label)
    eng.register("assignments__input", assignments, timestamps=["assigned_at"])
    eng.execute(
        "CREATE OR REPLACE TEMPORARY VIEW assignments AS SELECT CAST(user_id AS STRING) AS "
        "user_id, CAST(arm AS STRING) AS arm, assigned_at FROM assignments__input"
    )
    rows = {"assignments": n_assignments, "conversions": stage(eng, "conversions", conversions)}
    if transactions is not None:
        rows["transactions"] = stage(eng, "transactions", transactions)
    return rows


def _revenue_source(eng: Engine, transactions) -> str:
    if transactions is not None:
        return "transactions"
    columns = eng.query("SELECT * FROM conversions LIMIT 0").columns
    return "conversion values" if "value" in columns else "none"


def _materialise(eng: Engine, name: str, sql: str) -> None:
    # A table, not a view: every later step reads it, and a view would repeat the joins.
    if eng.name == "spark":
        eng.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")
        eng.execute(f"CACHE TABLE {name}")
    else:
        eng.execute(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS {sql}")


def _data_step(eng: Engine, revenue_source: str, end_day: float) -> dict[str, pd.DataFrame]:
    """Per-user outcomes, then the per-arm tables the posteriors need."""
    from workbench.engines import load_sql

    _materialise(eng, "experiment_assigned", load_sql("experiment_assigned"))
    eng.execute(
        "CREATE OR REPLACE TEMPORARY VIEW experiment_revenue_events AS "
        + load_sql(REVENUE_STEPS[revenue_source])
    )
    _materialise(eng, "experiment_users", load_sql("experiment_users", end_day=repr(end_day)))
    return {
        "arms": eng.query(load_sql("experiment_arms")),
        "arm_users": eng.query(load_sql("experiment_arm_users")),
        "checks": eng.query(load_sql("experiment_checks")).iloc[0],
        "revenue": eng.query(load_sql("experiment_revenue_amounts")),
        "conversion_counts": eng.query(load_sql("experiment_conversion_counts")),
    }


def _customer_values(eng: Engine, clv, rule: str) -> tuple[pd.DataFrame, dict]:
    """Each arm's distinct predicted customer values with user counts; absent users valued by
    ``rule``. Returns the table and a description of the rule for the attrs."""
    from workbench.engines import load_sql

    table = _clv_table(clv)
    eng.register("customer_values", table)
    values = eng.query(load_sql("experiment_customer_values"))
    fill = float(table["clv"].mean()) if rule == "mean" else 0.0
    is_absent = values["clv"].isna()
    absent_users = values[is_absent].groupby("arm")["n_users"].sum()
    values["clv"] = values["clv"].fillna(fill)
    values = values.groupby(["arm", "clv"], as_index=False)["n_users"].sum()
    described = {
        "rule": rule,
        "value": fill,
        "customers_in_clv": len(table),
        "absent_users": {str(k): int(v) for k, v in absent_users.items()},
        "note": (
            "users absent from clv.nc (no purchase history there) are valued at "
            + (f"the mean predicted CLV of its {len(table)} customers" if rule == "mean" else "0")
        ),
    }
    return values.rename(columns={"clv": "value"}), described


def _clv_table(clv) -> pd.DataFrame:
    if isinstance(clv, xr.Dataset):
        ds, label = clv, "<clv Dataset>"
    else:
        from workbench.store import read_results

        label = str(clv)
        if not Path(clv).is_file():
            raise InputError("file not found; expected a clv.nc from `workbench clv`", file=label)
        try:
            ds = read_results(clv)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read as a results file: {err}", file=label) from err
    if "clv" not in ds or ds["clv"].dims != ("customer_id",):
        raise InputError(
            "has no per-customer 'clv' variable (dim customer_id); expected a clv.nc from "
            "`workbench clv`",
            file=label,
        )
    return pd.DataFrame(
        {
            "customer_id": ds["customer_id"].to_numpy().astype(str),
            "clv": ds["clv"].to_numpy().astype(float),
        }
    )


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


# --- planning ----------------------------------------------------------------------------------


def experiment_size(
    baseline_rate: float,
    *,
    relative_mde: float | None = None,
    control_users: int | None = None,
    alpha: float = PLAN_ALPHA,
    power: float = PLAN_POWER,
    ratio: float = 1.0,
    arms: int = 2,
    daily_users: float | None = None,
) -> xr.Dataset:
    """Users needed for ``relative_mde``, or the MDE of ``control_users``; see
    :func:`workbench.api.experiment_size`."""
    from workbench.experiments.power import detectable_effect, users_needed

    if (relative_mde is None) == (control_users is None):
        raise InputError("give exactly one of --mde (to get users) and --users (to get the MDE)")
    if not 0 < baseline_rate < 1:
        raise InputError(f"--baseline-rate must be between 0 and 1; got {baseline_rate}")
    for name, value in (("--alpha", alpha), ("--power", power)):
        if not 0 < value < 1:
            raise InputError(f"{name} must be between 0 and 1; got {value}")
    if not ratio > 0 or int(arms) < 2:
        raise InputError(f"--ratio must be > 0 and --arms at least 2; got {ratio}, {arms}")
    if daily_users is not None and not daily_users > 0:
        raise InputError(f"--daily-users must be > 0; got {daily_users}")
    options = {"alpha": alpha, "power": power, "ratio": ratio, "arms": int(arms)}
    if relative_mde is not None:
        if not relative_mde > 0 or baseline_rate * (1 + relative_mde) >= 1:
            raise InputError(
                f"--mde {relative_mde} must be > 0 and keep the treated rate "
                f"{baseline_rate} x (1 + mde) below 1"
            )
        plan = users_needed(baseline_rate, relative_mde, **options)
    else:
        if int(control_users) < 2:
            raise InputError(f"--users must be at least 2; got {control_users}")
        plan = detectable_effect(baseline_rate, int(control_users), **options)
    ds = xr.Dataset(
        {
            "baseline_rate": plan.baseline_rate,
            "relative_mde": plan.relative_mde,
            "absolute_mde": plan.absolute_mde,
            "control_users": plan.control_users,
            "treatment_users": plan.treatment_users,
            "total_users": plan.total_users,
        },
        attrs={
            "alpha": alpha,
            "power": power,
            "ratio": ratio,
            "arms": int(arms),
            "test": "two-sided z-test on Cohen's h, Bonferroni over treatment arms",
        },
    )
    if daily_users is not None:
        ds["days"] = math.ceil(plan.total_users / daily_users)
    return ds


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


def describe_size(ds: xr.Dataset) -> str:
    """The plan in two lines for the terminal."""
    text = (
        f"baseline {float(ds['baseline_rate']):.2%}, detectable lift "
        f"{float(ds['relative_mde']):+.1%} ({float(ds['absolute_mde']):+.3%} points) at "
        f"alpha {ds.attrs['alpha']}, power {ds.attrs['power']}\n"
        f"users: {int(ds['control_users'])} control, {int(ds['treatment_users'])} per treatment "
        f"arm, {int(ds['total_users'])} in all"
    )
    if "days" in ds:
        text += f"; {int(ds['days'])} days at the given daily users"
    return text
