"""The customer-experience job: NPS with posteriors by month, acquisition channel and segment;
customer value by NPS group; who answered; the journey-stage funnel. Writes ``cx.nc``.

Steps, top to bottom: validate and stage the surveys (and the optional transactions, touchpoints
and stage map) -> SQL: answers with their NPS group, the stage funnel -> join what is known about
each customer (clv.nc, attribution.nc, a customers table) -> posteriors (Dirichlet-multinomial
NPS, Bayesian-bootstrap group means) -> Dataset with provenance -> atomic write. The layout is in
docs/contracts.md, "cx.nc".
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from posterior_tools.settings import INTERVAL
from workbench.errors import InputError
from workbench.experience import inputs, nps, value
from workbench.experience.customers import customer_table, load_results
from workbench.experience.settings import (
    ALL_CHANNELS,
    GROUPS,
    PASSIVE_MIN,
    POSTERIOR_DRAWS,
    PRIOR_CONCENTRATION,
    PROMOTER_MIN,
    SEED,
    VALUE_DECILES,
)

#: Ids quoted in the data-quality note (the count is always given).
QUALITY_EXAMPLES = 5
#: Label format of the ``month`` coordinate.
MONTH_FORMAT = "%Y-%m"


def cx(
    surveys: Any,
    *,
    touchpoints: Any = None,
    stages: str | os.PathLike | None = None,
    clv: Any = None,
    attribution: Any = None,
    transactions: Any = None,
    customers: Any = None,
    draws: int = POSTERIOR_DRAWS,
    seed: int = SEED,
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
    from workbench.engines import make_engine

    _check_options(touchpoints, stages, draws)
    eng = make_engine(engine)
    try:
        answers = _stage_answers(eng, surveys)
        funnel = _stage_variables(eng, touchpoints, stages) if touchpoints is not None else None
        clv_ds = load_results(clv, "clv")
        attr_ds = load_results(attribution, "attribution")
        known_ids, universe = _known_customers(eng, transactions, clv_ds)
        table = _customers(answers, known_ids, clv_ds, attr_ds, customers)
        rng = np.random.default_rng(seed)
        parts = [
            _nps_variables(answers, table, draws, rng),
            _value_variables(table, clv_ds, draws, rng),
            _coverage_variables(table, has_channel=table["channel"].notna().any()),
        ]
        ds = xr.merge(parts + ([funnel] if funnel is not None else []))
    finally:
        eng.close()
    ds.attrs = _attrs(
        surveys=surveys,
        touchpoints=touchpoints,
        stages=stages,
        clv=clv,
        attribution=attribution,
        transactions=transactions,
        customers=customers,
        answers=answers,
        quality=_data_quality(answers, known_ids, universe, table),
        draws=draws,
        seed=seed,
        engine=engine,
    )
    if out is not None:
        from workbench.store import write_results

        write_results(ds, out)
    return ds


# --- input ---------------------------------------------------------------------------------


def _check_options(touchpoints: Any, stages: Any, draws: int) -> None:
    if stages is not None and touchpoints is None:
        raise InputError("--stages needs --touchpoints (the touches whose stages it names)")
    if int(draws) < 1:
        raise InputError(f"--draws must be at least 1; got {draws}")


def _stage_answers(engine, surveys: Any) -> pd.DataFrame:
    """Validated answers: customer_id, timestamp (days), score, survey_channel, nps_group,
    latest, month."""
    from workbench.engines import load_sql

    present = inputs.validate_surveys(surveys)
    engine.register("cx_surveys", surveys, timestamps=["timestamp"])
    channel = (
        "NULLIF(trim(CAST(channel AS STRING)), '')"
        if "channel" in present
        else "CAST(NULL AS STRING)"
    )
    answers = engine.query(
        load_sql(
            "cx_survey_answers",
            promoter_min=PROMOTER_MIN,
            passive_min=PASSIVE_MIN,
            survey_channel=channel,
        )
    )
    answers = answers.astype({"customer_id": str, "timestamp": float, "score": np.int64})
    when = pd.to_datetime(answers["timestamp"], unit="D", origin="unix")
    answers["month"] = when.dt.strftime(MONTH_FORMAT)
    answers["latest"] = answers["latest"].astype(bool)
    return answers.sort_values(["timestamp", "customer_id"]).reset_index(drop=True)


def _known_customers(
    engine, transactions: Any, clv_ds: xr.Dataset | None
) -> tuple[set[str] | None, str | None]:
    """The ids surveys are checked against: transactions when given, else clv.nc's customers."""
    if transactions is not None:
        from workbench import io
        from workbench.engines import load_sql

        io.stage(engine, "transactions", transactions)
        ids = engine.query(load_sql("cx_transaction_customers"))["customer_id"].astype(str)
        return set(ids), "transactions"
    if clv_ds is not None:
        return set(clv_ds["customer_id"].values.astype(str)), "clv.nc"
    return None, None


def _customers(answers, known_ids, clv_ds, attr_ds, customers) -> pd.DataFrame:
    """One row per customer (known customers and respondents) with their latest NPS group."""
    ids = set(answers["customer_id"])
    if clv_ds is not None:
        ids |= set(clv_ds["customer_id"].values.astype(str))
    elif known_ids is not None:
        ids |= known_ids
    given = inputs.read_customers(customers) if customers is not None else None
    table = customer_table(np.array(sorted(ids)), clv=clv_ds, attribution=attr_ds, customers=given)
    latest = answers.loc[answers["latest"]].set_index("customer_id")["nps_group"]
    table["nps_group"] = latest.reindex(table.index)
    return table


# --- NPS -----------------------------------------------------------------------------------


def _nps_variables(answers, table, draws: int, rng) -> xr.Dataset:
    """``nps(draw)``, ``nps_by_<dim>(draw, <dim>)`` and ``respondents[_by_<dim>](..., group)``."""
    groups = answers["nps_group"].to_numpy()
    everyone = nps.group_counts(np.zeros(len(answers), dtype=int), groups, "all", [0])
    counts = everyone.isel(all=0, drop=True)
    share = nps.share_draws(counts, draws=draws, rng=rng)
    ds = xr.Dataset(
        {
            "respondents": counts,
            "nps": 100.0 * (share.sel(group="promoter") - share.sel(group="detractor")),
            "nps_share": share,
        }
    )
    months = sorted(answers["month"].unique())
    by = {"month": (answers["month"].to_numpy(), months)}
    where = answers["survey_channel"].to_numpy(dtype=object)
    answered_in = sorted({x for x in where if isinstance(x, str)})
    if answered_in:
        by["survey_channel"] = (where, answered_in)
    for dim in ("channel", "segment"):
        labels = table[dim].reindex(answers["customer_id"]).to_numpy(dtype=object)
        present = sorted({x for x in labels if isinstance(x, str)})
        if present:
            by[dim] = (labels, present)
    for dim, (labels, coords) in by.items():
        c = nps.group_counts(labels, groups, dim, coords)
        ds[f"respondents_by_{dim}"] = c
        ds[f"nps_by_{dim}"] = nps.nps_draws(c, draws=draws, rng=rng)
    ds["nps"].attrs["units"] = "NPS points, -100 to 100"
    return ds


# --- value and coverage --------------------------------------------------------------------


def _value_variables(table, clv_ds, draws: int, rng) -> xr.Dataset:
    """``clv_by_group(draw, group)``, ``p_alive_by_group`` and the promoter-minus-detractor
    differences, when clv.nc is given."""
    ds = xr.Dataset()
    if clv_ds is None:
        return ds
    for column in ("clv", "p_alive"):
        if table[column].notna().any():
            block = value.value_by_group(table, column, draws=draws, rng=rng)
            ds[f"{column}_by_group"] = block
            ds[f"{column}_promoter_minus_detractor"] = block.sel(
                group="promoter", drop=True
            ) - block.sel(group="detractor", drop=True)
            answered = table["nps_group"].notna() & table[column].notna()
            ds[f"customers_by_group_{column}"] = (
                "group",
                [int((answered & (table["nps_group"] == g)).sum()) for g in GROUPS],
            )
    return ds


def _coverage_variables(table, *, has_channel: bool) -> xr.Dataset:
    """Customers, respondents and response rate by channel, segment and value decile."""
    parts = []
    for dim in ("channel", "segment"):
        present = table[dim].dropna()
        if dim == "channel" and not has_channel or present.empty:
            continue
        parts.append(value.coverage(table.dropna(subset=[dim]), dim, sorted(present.unique())))
    if table["value_decile"].notna().any():
        deciled = table.dropna(subset=["value_decile"]).assign(
            value_decile=lambda t: t["value_decile"].astype(int)
        )
        parts.append(value.coverage(deciled, "value_decile", list(range(1, VALUE_DECILES + 1))))
    return xr.merge(parts) if parts else xr.Dataset()


# --- stages --------------------------------------------------------------------------------


def _stage_variables(engine, touchpoints: Any, stages: Any) -> xr.Dataset:
    from workbench.experience import stages as funnel

    names, channel_map = inputs.read_stage_map(stages)
    has_stage = inputs.validate_touch_stages(touchpoints, names, channel_map)
    funnel.stage_touches(engine, touchpoints, names, channel_map, has_stage=has_stage)
    return funnel.funnel_dataset(funnel.funnel_table(engine), names)


# --- provenance and data quality -----------------------------------------------------------


def _data_quality(answers, known_ids, universe, table) -> dict[str, Any]:
    """What the analysis could not use, for the attrs and the report (never fatal)."""
    note: dict[str, Any] = {}
    respondents = sorted(set(answers["customer_id"]))
    if known_ids is not None:
        unknown = [c for c in respondents if c not in known_ids]
        note["checked_against"] = universe
        note["respondents_not_in_customers"] = len(unknown)
        note["respondents_not_in_customers_examples"] = unknown[:QUALITY_EXAMPLES]
    rows = table.loc[respondents]
    note["respondents_without_channel"] = int(rows["channel"].isna().sum())
    note["respondents_without_clv"] = int(rows["clv"].isna().sum())
    note["customers_with_several_answers"] = int(answers["customer_id"].duplicated().sum())
    return note


def _attrs(
    *,
    surveys,
    touchpoints,
    stages,
    clv,
    attribution,
    transactions,
    customers,
    answers,
    quality,
    draws,
    seed,
    engine,
) -> dict[str, Any]:
    from workbench.store import provenance

    sources = {
        "surveys": surveys,
        "touchpoints": touchpoints,
        "stages": stages,
        "clv": clv,
        "attribution": attribution,
        "transactions": transactions,
        "customers": customers,
    }
    return provenance(
        inputs={k: v for k, v in sources.items() if v is not None},
        row_counts={"surveys": len(answers), "respondents": int(answers["customer_id"].nunique())},
        seed=seed,
        settings={
            "draws": int(draws),
            "prior_concentration": PRIOR_CONCENTRATION,
            "promoter_min": PROMOTER_MIN,
            "passive_min": PASSIVE_MIN,
            "all_channels_label": ALL_CHANNELS,
            "engine": engine,
        },
        interval=INTERVAL,
        data_quality=quality,
    )


def summary_line(ds: xr.Dataset) -> str:
    """One line for the command line: overall NPS with its interval and the answers counted."""
    from posterior_tools.settings import INTERVAL_QUANTILES

    lo, hi = np.quantile(ds["nps"].values, INTERVAL_QUANTILES)
    n = int(ds["respondents"].sum())
    return (
        f"NPS {float(ds['nps'].mean()):+.1f} ({INTERVAL:.0%} interval {lo:+.1f} to {hi:+.1f}) "
        f"from {n:,} answers"
    )
