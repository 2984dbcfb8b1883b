"""Plan accuracy: the plan's promised change in conversions and value against the truth.

For each budget world (``workbench.sim.budget``: extra spend buying mostly new reach, mostly
frequency, or spread over very uneven people) and seed, a planner's data are simulated and go
through ``attribute`` (Laplace posterior), ``clv`` (maximum likelihood, undiscounted 52-week
horizon, as the truth's value) and ``plan`` with four scenarios; the plan's optimised allocation
is the fifth. Each allocation's TRUE expected change in conversions and value comes from the
world's parameters (``true_allocation_outcomes``). The table reports, per world and over all:
the share of 90% intervals that hold the true change, and the median absolute error of the
plan's mean change relative to the true change.

``--oracle`` also plans with the world's true conversion parameters in place of the posterior
(the response model's error without the attribution model's); ``--reach`` checks only the
audience (reach and frequency) model against each world's re-drawn touches.

Run: ``nice -n 10 python -m bench.plan_accuracy`` (``--quick`` for a smoke run: one world,
one seed, fewer users; ``--worlds``/``--seeds``/``--users`` to choose).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

USERS, QUICK_USERS = 40_000, 15_000
WEEKS = 10
#: Ten data sets per world: the medians and coverages of five moved by 0.05-0.1 between seeds 1-5
#: and 6-10 (bench/RESULTS.md), more than the changes they were meant to judge.
SEEDS = tuple(range(1, 11))
#: Scenarios every world is planned with (the optimiser's allocation is added).
SCENARIOS = [
    {"name": "search_up_50", "change": {"paid_search": 0.5}},
    {"name": "display_cut", "change": {"display": -1.0}},
    {"name": "email_x2", "multiplier": {"email": 2.0}},
    {"name": "social_from_dm", "move": [{"from": "direct_mail", "to": "social", "share": 0.3}]},
]
OPTIMISED = "optimised"
#: Targets from issue 18.
TARGET_COVERAGE, TARGET_RELATIVE_ERROR = 0.80, 0.25
ATTRIBUTION_DRAWS = 400


def run_world(
    world: str, seed: int, users: int, folder: Path, oracle: bool = False
) -> pd.DataFrame:
    """One world x seed: simulate, attribute, clv, plan; one row per allocation and metric."""
    from workbench.api import plan
    from workbench.sim.budget import (
        get_world,
        simulate_budget,
        true_allocation_outcomes,
        true_customer_value,
        with_true_parameters,
    )
    from workbench.sim.fits import attribute_and_value
    from workbench.store import read_results

    spec = get_world(world)
    tables = simulate_budget(spec, users, WEEKS, seed)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    started = time.perf_counter()
    attribute_and_value(folder, seed, draws=ATTRIBUTION_DRAWS)
    result = plan(
        folder / "attribution.nc",
        folder / "clv.nc",
        folder / "spend.parquet",
        scenarios=SCENARIOS,
        seed=seed,
    )
    seconds = time.perf_counter() - started
    plans = {"plan": result}
    if oracle:
        plans["oracle"] = plan(
            with_true_parameters(read_results(folder / "attribution.nc"), spec),
            folder / "clv.nc",
            folder / "spend.parquet",
            scenarios=SCENARIOS,
            seed=seed,
        )
    names = [s["name"] for s in SCENARIOS] + [OPTIMISED]
    mult = np.vstack(
        [np.ones(result.sizes["channel"])]
        + [result["spend_multiplier"].sel(scenario=n).values for n in names]
    )
    truth = true_allocation_outcomes(spec, users, WEEKS, seed, mult)
    worth = result["customer_value"].mean("draw").to_series().round(0).to_dict()
    print(
        f"{world} seed {seed}: customer value per channel, plan {worth}; "
        f"truth {dict(zip(worth, true_customer_value(spec)[:-1].round(0).tolist(), strict=True))}"
    )
    rows = []
    for method, planned in plans.items():
        # The oracle is judged on the plan's allocations (its own optimum may differ).
        truth_m = truth if method == "plan" else _truth_for(spec, users, seed, planned, names)
        for i, name in enumerate(names, start=1):
            row = planned.sel(scenario=name)
            for metric in ("conversions", "value"):
                rows.append(
                    {
                        "method": method,
                        "world": world,
                        "seed": seed,
                        "allocation": name,
                        "metric": metric,
                        "true": float(truth_m[metric][i] - truth_m[metric][0]),
                        "mean": float(row[f"delta_{metric}_mean"]),
                        "lower": float(row[f"delta_{metric}_q05"]),
                        "upper": float(row[f"delta_{metric}_q95"]),
                        "seconds": seconds,
                    }
                )
    return pd.DataFrame(rows)


def _truth_for(spec, users: int, seed: int, planned, names: list[str]) -> dict:
    from workbench.sim.budget import true_allocation_outcomes

    mult = np.vstack(
        [np.ones(planned.sizes["channel"])]
        + [planned["spend_multiplier"].sel(scenario=n).values for n in names]
    )
    return true_allocation_outcomes(spec, users, WEEKS, seed, mult)


REACH_MULTIPLIERS = (0.5, 1.5, 2.0, 3.0)
REACH_CHANNELS = ("display", "email", "paid_search")


def reach_check(world: str, seed: int, users: int) -> pd.DataFrame:
    """The audience model alone against the world: fit (m, k) to every user's touches of a
    channel in the lookback before their decision (the simulator's own journeys, no SQL, no
    attribution), scale the channel's spend, and compare the people newly reached (or lost)
    and the touches per kept person with the world's re-drawn touches."""
    from attribution.settings import COUNT_CAP, DEFAULT_LOOKBACK_DAYS
    from workbench.planning.audience import fit_channel_audience, reach_frequency
    from workbench.sim.budget import get_world, make_budget_world
    from workbench.sim.journeys import draw_touches
    from workbench.sim.scenarios import CHANNELS
    from workbench.sim.spend import touch_counts

    w = make_budget_world(get_world(world), users, WEEKS, seed, with_credit=False)

    def counts(touches) -> np.ndarray:
        age = w.decision[touches.user] - touches.time
        keep = (age > 0) & (age <= DEFAULT_LOOKBACK_DAYS)
        flat = touches.user[keep].astype(np.int64) * len(CHANNELS) + touches.channel[keep]
        return np.bincount(flat, minlength=users * len(CHANNELS)).reshape(users, -1)

    now = counts(w.touches)
    rows = []
    for name in REACH_CHANNELS:
        c = CHANNELS.index(name)
        weight = np.zeros((3 * COUNT_CAP + 1, 2))
        weight[:, 0] = np.bincount(np.minimum(now[:, c], 3 * COUNT_CAP), minlength=len(weight))
        theta, _ = fit_channel_audience(weight, COUNT_CAP)
        m, k = np.exp(theta)
        reached = now[:, c] > 0
        size = reached.sum() / -np.expm1(-k * np.log1p(m / k))
        for mult in REACH_MULTIPLIERS:
            factor = np.ones(len(CHANNELS))
            factor[c] = mult
            n = touch_counts(w.reach, w.spend * factor[:, None], w.count_uniforms)
            then = counts(draw_touches(w.population, n, w.stages, w.seed, w.rep, w.follows))
            ratio = then[:, c].sum() / now[:, c].sum()
            lost, scale, new = reach_frequency(
                np.array([ratio]), np.array([m]), np.array([k]), np.array([size]), 60
            )
            kept = reached & (then[:, c] > 0)
            rows.append(
                {
                    "world": world,
                    "channel": name,
                    "spend": mult,
                    "touch_ratio": ratio,
                    "new_reach_model": float(new.sum()),
                    "new_reach_true": int(((now[:, c] == 0) & (then[:, c] > 0)).sum()),
                    "lost_model": float(lost[0] * reached.sum()),
                    "lost_true": int((reached & (then[:, c] == 0)).sum()),
                    "touches_per_kept_model": float(scale[0]),
                    "touches_per_kept_true": then[kept, c].sum() / now[kept, c].sum(),
                }
            )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage and median relative error per world and metric, and over all worlds."""
    table = table.assign(
        inside=(table["lower"] <= table["true"]) & (table["true"] <= table["upper"]),
        relative_error=(table["mean"] - table["true"]).abs() / table["true"].abs(),
    )
    parts = []
    groups = [
        *table.groupby(["method", "metric", "world"]),
        *(((m, k, "all"), g) for (m, k), g in table.groupby(["method", "metric"])),
    ]
    for keys, group in groups:
        opt = group[group["allocation"] == OPTIMISED]
        parts.append(
            {
                "method": keys[0],
                "metric": keys[1],
                "world": keys[2],
                "cases": len(group),
                "coverage_90": group["inside"].mean(),
                "median_relative_error": group["relative_error"].median(),
                "optimised_inside": f"{int(opt['inside'].sum())}/{len(opt)}",
            }
        )
    return pd.DataFrame(parts)


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table for bench/RESULTS.md (numbers to 2 decimals)."""
    cells = frame.map(lambda v: f"{v:.2f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from workbench.sim.budget import WORLDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS))
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS))
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--out", default=None, help="CSV of every case (optional)")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="also plan with the world's true conversion parameters (response model alone)",
    )
    parser.add_argument(
        "--reach",
        action="store_true",
        help="only check the audience (reach and frequency) model against the worlds",
    )
    args = parser.parse_args(argv)
    worlds = args.worlds[:1] if args.quick else args.worlds
    seeds = args.seeds[:1] if args.quick else args.seeds
    users = args.users or (QUICK_USERS if args.quick else USERS)
    if args.reach:
        table = pd.concat([reach_check(w, seeds[0], users) for w in worlds], ignore_index=True)
        print(markdown(table))
        return 0
    frames = []
    started = time.perf_counter()
    for world in worlds:
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                frame = run_world(world, seed, users, Path(tmp), args.oracle)
            frames.append(frame)
            print(frame.drop(columns=["seconds"]).round(1).to_string(index=False), flush=True)
    table = pd.concat(frames, ignore_index=True)
    if args.out:
        table.to_csv(args.out, index=False)
    summary = summarise(table)
    print(f"\n{users:,} users x {WEEKS} weeks; {time.perf_counter() - started:,.0f} s in all")
    print(markdown(summary))
    for metric in ("conversions", "value"):
        row = summary[
            (summary.method == "plan") & (summary.metric == metric) & (summary.world == "all")
        ].iloc[0]
        ok = (
            row["coverage_90"] >= TARGET_COVERAGE
            and row["median_relative_error"] <= TARGET_RELATIVE_ERROR
        )
        print(
            f"{metric}: coverage {row['coverage_90']:.2f} (target >= {TARGET_COVERAGE}), "
            f"median relative error {row['median_relative_error']:.2f} "
            f"(target <= {TARGET_RELATIVE_ERROR}): {'met' if ok else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
