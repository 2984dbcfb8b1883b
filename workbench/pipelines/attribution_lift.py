"""Lift tests for the journey model (``workbench attribute --experiments F``): validate the
experiments table against the journeys, run the ``attribution_lift_rows`` SQL step, and store the
calibrated and uncalibrated answers side by side in attribution.nc.

Steps used by :mod:`workbench.pipelines.attribution`: :func:`check_tests` (right after staging:
validation), :func:`stage_tests` (after the journey SQL steps, on the same engine: the rows the
model's lift needs, as ``attribution.lift.LiftTests``), then :func:`lift_results` (after the
calibrated fit: the same model refitted without the tests by Laplace, its credit, and each
test's predicted lift under both fits). The experiments contract and the variables are in
docs/contracts.md ("Journey-model lift tests").
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError

#: The model without the tests is refitted by this method (cheap; the shares it gives are what
#: the calibration moved).
UNCALIBRATED_METHOD = "laplace"
SECONDS_PER_DAY = 86_400.0
LIFT_TESTS_VIEW = "lift_tests"


def read_experiments(
    experiments: str | os.PathLike | pd.DataFrame,
    channels: list[str],
    first_day: float,
    last_day: float,
) -> pd.DataFrame:
    """The lift tests (channel, start, end, incremental_conversions, standard_error) as a typed
    DataFrame. Raises InputError (one line: file, column, rows) for a missing column, a
    non-numeric lift, a standard error that is not > 0, a channel not in the touchpoints, an end
    before the start, or a window outside the journeys' dates ``[first_day, last_day]`` (days
    since 1970-01-01 of the first touch and of the data end)."""
    from workbench.validation import validate_source
    from workbench.validation_media import EXPERIMENTS, check_experiments, label, read_table

    where = label(experiments, "experiments")
    validate_source(EXPERIMENTS, experiments, where)
    frame = read_table(experiments)
    if "incremental_conversions" not in frame.columns:
        raise InputError("required column is missing", file=where, column="incremental_conversions")
    first = pd.Timestamp(_day_to_date(first_day))
    last = pd.Timestamp(_day_to_date(last_day))
    return check_experiments(
        experiments, frame, channels, first, last, channels_from="the touchpoints"
    ).reset_index(drop=True)


def _day_to_date(day: float) -> str:
    """Days since 1970-01-01 -> the calendar date (YYYY-MM-DD) it falls on."""
    return str(np.datetime64("1970-01-01") + np.timedelta64(int(np.floor(day)), "D"))


def _days(values: pd.Series) -> np.ndarray:
    """Naive UTC timestamps -> days since 1970-01-01."""
    return (values - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy() / SECONDS_PER_DAY


def test_labels(tests: pd.DataFrame) -> list[str]:
    """``"<channel> <start>..<end>"`` per test (a test number is added to repeated labels)."""
    labels = [
        f"{c} {s.date()}..{e.date()}"
        for c, s, e in zip(tests["channel"], tests["start"], tests["end"], strict=True)
    ]
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if labels.count(lab) == 1 else f"{lab} #{seen[lab]}")
    return out


def check_tests(engine, experiments: Any) -> pd.DataFrame:
    """Validate the experiments against the staged touchpoints and conversions (before any SQL
    step runs, so bad input fails fast): :func:`read_experiments` with the channels and the
    dates of the staged views."""
    row = engine.query(
        "SELECT (SELECT MIN(timestamp) FROM touchpoints) AS first_day, GREATEST("
        "(SELECT MAX(timestamp) FROM touchpoints), (SELECT MAX(timestamp) FROM conversions)) "
        "AS last_day"
    ).iloc[0]
    names = engine.query("SELECT DISTINCT channel FROM touchpoints")["channel"]
    channels = sorted(str(c) for c in names)
    return read_experiments(experiments, channels, float(row["first_day"]), float(row["last_day"]))


def stage_tests(engine, frame: pd.DataFrame, tables, lookback_days: float):
    """Run the lift rows step for the validated tests ``frame`` (:func:`check_tests`).

    Returns ``(frame, attribution.lift.LiftTests)``. Needs the engine's ``journey_touches`` and
    ``journey_codes`` (``workbench.journeys.run_steps``)."""
    from attribution.features import CODE_BASE, COUNT_CAP, RECENCY_EDGES_DAYS
    from attribution.lift import lift_tests
    from workbench import journeys as steps
    from workbench.engines import load_sql

    start = _days(frame["start"])
    # the window runs to the end of its last day
    end = _days(frame["end"].dt.normalize()) + 1.0
    index = {c: i for i, c in enumerate(tables.channels)}
    view = pd.DataFrame(
        {
            "test": np.arange(len(frame), dtype=np.int64),
            "channel_index": frame["channel"].map(index).to_numpy(dtype=np.int64),
            "start_day": start,
            "end_day": end,
        }
    )
    engine.register(LIFT_TESTS_VIEW, view)
    n_bins = len(RECENCY_EDGES_DAYS)
    names = steps.code_names(len(tables.channels))
    cells = ",\n        ".join(
        f"CAST(SUM(CASE WHEN in_window = 0 AND recency_bin = {b} THEN 1 ELSE 0 END) AS BIGINT)"
        f" AS r_{b}"
        for b in range(n_bins)
    )
    removed = " + ".join(f"LEAST(p.r_{b}, {COUNT_CAP}) * {CODE_BASE**b}" for b in range(n_bins))
    sql = load_sql(
        "attribution_lift_rows",
        lookback_days=repr(float(lookback_days)),
        age_decimals=steps.AGE_DECIMALS,
        recency_bin_cases=steps.recency_bin_cases(),
        count_cap=COUNT_CAP,
        code_base=CODE_BASE,
        removed_cells=cells,
        removed_code=removed,
        code_columns=", ".join(f"c.{n} AS {n}" for n in names),
        code_names=", ".join(names),
    )
    rows = engine.query(sql)
    rows = rows.sort_values(["test", *names, "first_channel", "removed_code"], ignore_index=True)
    tests = lift_tests(
        rows,
        view["channel_index"].to_numpy(),
        frame["incremental_conversions"].to_numpy(),
        frame["standard_error"].to_numpy(),
        len(tables.channels),
        test_labels(frame),
    )
    return frame, tests


def lift_results(model, patterns, credit: xr.Dataset, frame: pd.DataFrame, tests) -> xr.Dataset:
    """Each test's measured and predicted lift (calibrated fit ``model``, and the same model
    refitted without the tests by ``UNCALIBRATED_METHOD``) and the uncalibrated credit, as
    attribution.nc variables (docs/contracts.md, "Journey-model lift tests")."""
    import dataclasses

    from attribution.lift import SELECTION_SD, predicted_lift

    plain = dataclasses.replace(model, lift_tests=None, method=UNCALIBRATED_METHOD, start=None)
    plain.fit(patterns)
    plain_credit = plain.credit(patterns)
    # both fits have chains x draws draws and the credit thins them alike: one (chain, draw) grid
    kept = credit["draw"].values
    posterior = model.posterior_.sel(draw=kept)
    plain_posterior = plain.posterior_.sel(draw=kept)
    ds = xr.Dataset(
        {
            "lift_test_measured": ("lift_test", tests.measured),
            "lift_test_standard_error": ("lift_test", tests.standard_error),
            "lift_test_journeys": ("lift_test", tests.journeys_by_test()),
            "lift_test_predicted": predicted_lift(posterior, tests),
            "lift_test_predicted_uncalibrated": predicted_lift(plain_posterior, tests),
            "attributed_conversions_uncalibrated": plain_credit["attributed_conversions"].sel(
                draw=kept
            ),
        },
        coords={
            "lift_test": list(tests.labels),
            "lift_test_channel": ("lift_test", frame["channel"].astype(str).tolist()),
            "lift_test_start": ("lift_test", [str(t.date()) for t in frame["start"]]),
            "lift_test_end": ("lift_test", [str(t.date()) for t in frame["end"]]),
        },
    )
    for name in ("lift_test_measured", "lift_test_standard_error", "lift_test_predicted"):
        ds[name].attrs["units"] = "conversions"
    ds.attrs["uncalibrated_method"] = plain.method_
    ds.attrs["lift_selection_sd"] = SELECTION_SD
    return ds
