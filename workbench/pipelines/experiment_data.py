"""The data step of ``workbench experiment``: validate and stage the inputs, then reduce them in
SQL (``workbench/sql/experiment_*.sql``, the same text on DuckDB and Spark) to per-user outcomes
and the per-arm tables the posteriors need; and the per-customer values of a clv.nc.

Contract **assignments** ``(user_id, arm, assigned_at)``: who was put in which arm, and when.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from workbench.contracts import Column, Contract
from workbench.errors import InputError

if TYPE_CHECKING:
    from workbench.engines import Engine

#: The assignments contract: who was put in which arm, and when.
ASSIGNMENTS = Contract(
    "assignments",
    (Column("user_id", "id"), Column("arm", "label"), Column("assigned_at", "time")),
)
#: No end given: count every event after the assignment (a day far beyond any data).
NO_END_DAY = 1.0e9
#: Revenue source -> the SQL step that makes the revenue events.
REVENUE_STEPS = {
    "transactions": "experiment_revenue_transactions",
    "conversion values": "experiment_revenue_conversion_values",
    "none": "experiment_revenue_none",
}


def stage_inputs(eng: Engine, assignments, conversions, transactions) -> dict[str, int]:
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


def revenue_source(eng: Engine, transactions) -> str:
    """Where revenue comes from: the transactions, else the conversions' value, else none."""
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


def data_step(eng: Engine, revenue_source: str, end_day: float) -> dict[str, pd.DataFrame]:
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


def customer_values(eng: Engine, clv, rule: str) -> tuple[pd.DataFrame, dict]:
    """Each arm's distinct predicted customer values with user counts; absent users valued by
    ``rule``. Returns the table and a description of the rule for the attrs."""
    from workbench.engines import load_sql

    table = clv_table(clv)
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


def clv_table(clv) -> pd.DataFrame:
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
