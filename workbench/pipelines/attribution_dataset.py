"""The attribution.nc layout (docs/contracts.md, "attribution.nc"): the fitted model, its credit
and checks, the baselines, the pattern table, per-journey credit and weekly touches assembled
into one Dataset, with its diagnostics and provenance attrs. Defined here once; the report and
the planner read these names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

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
    key = [
        *[f"k_{c}" for c in range(len(tables.channels))],
        "first_channel",
        "last_channel",
        "holdout",
    ]
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


def assemble(tables, patterns, model, credit, checks, lookback_days) -> xr.Dataset:
    from attribution.features import pattern_counts

    posterior = model.posterior_
    if credit.sizes["draw"] != posterior.sizes["draw"]:
        # the credit thinned the draws at this size; keep the parameters on the same draws
        posterior = posterior.sel(draw=credit["draw"].values)
    credit_vars = ["attributed_conversions", "incremental_conversions", "baseline_conversions"]
    ds = xr.Dataset(coords={"channel": tables.channels})
    ds = ds.merge(posterior.drop_attrs())
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
    # a coordinate, so that pattern_counts carries each journey's opening channel (the hazard
    # of a posterior with opening terms needs it: attribution.probability.hazard_parts)
    ds = ds.assign_coords(
        pattern_first_channel=("pattern", tables.patterns["first_channel"].to_numpy())
    )
    ds["pattern_last_channel"] = ("pattern", tables.patterns["last_channel"].to_numpy())
    ds["pattern_holdout"] = ("pattern", patterns.holdout.astype(np.int8))
    ds = ds.merge(_journey_credit(tables, credit))
    ds = ds.merge(_weekly(tables))
    ds = ds.merge(checks["ppc"].drop_attrs())
    ds["attributed_conversions"].attrs["units"] = "conversions"
    ds["incremental_conversions"].attrs["units"] = "conversions"
    return ds


def diagnostic_attrs(model, credit, checks, tables=None) -> dict:
    from posterior_tools.diagnostics import diagnostics_attrs

    criticism = checks["criticism"]
    timing = getattr(tables, "decision_timing", None)
    return {
        # model criticism (attribution.checks): 1 when every check passes and no baseline beats
        # the model; the channels whose credit is unreliable, and why, in plain words
        "model_ok": int(criticism["model_ok"]),
        "unreliable_channels": list(criticism["unreliable_channels"]),
        "criticism_reasons": list(criticism["reasons"]),
        "beaten_by": list(criticism["beaten_by"]),
        "ppc_ok": int(checks["ppc"].attrs.get("ppc_ok", 1)),
        "ppc_failed": list(checks["ppc"].attrs.get("ppc_failed", [])),
        "ppc_threshold_z": checks["ppc"].attrs.get("ppc_threshold_z", float("nan")),
        **({} if timing is None else timing.attrs()),
        **{k: v for k, v in model.posterior_.attrs.items() if k.startswith("opening_")},
        "posterior_method": model.method_,
        **diagnostics_attrs(model.diagnostics_),
        "holdout_log_loss": checks["log_loss"],
        # the held-out refit's posterior method (Laplace by default, whatever the main fit)
        "holdout_refit_method": checks["refit_method"],
        "credit_thin_step": int(credit.attrs.get("credit_thin_step", 1)),
        "credit_method": credit.attrs.get("credit_method", "shapley"),
        "recency_ages_days": model.posterior_.attrs.get("recency_ages_days"),
        # the count of a cell at the cap per (channel, bin) the fit used (absent: the cap)
        **{k: v for k, v in model.posterior_.attrs.items() if k == "capped_counts"},
        # the synergy screen: candidate pairs, their score statistics and the threshold
        **{k: v for k, v in model.posterior_.attrs.items() if k.startswith("synergy_")},
    }


def provenance_attrs(touchpoints, conversions, tables, n_touch, n_conv, seed, settings) -> dict:
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
