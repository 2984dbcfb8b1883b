"""Where non-converting journeys decide, and what it does to the fit on a budget world.

Users of the budget worlds (``workbench.sim.budget``) decide at the end of their own active
window, days to weeks after their last touch. The same simulated data go through the journey
SQL steps with non-converting journeys evaluated

- ``median``: at the converted journeys' median decision position (the convention before the
  selection correction; ``workbench.journeys.decision_timing``),
- ``corrected``: at the selection-corrected positions per touch-count class
  (``workbench.decisions``, what ``workbench attribute`` does),
- ``true``: at each user's TRUE decision time (known only to the simulator),

and the conversion model (Laplace) is fitted on each pattern table. The table gives the
posterior means of the baseline hazard and of each channel's effect, decay and saturation next
to the world's true values.

For the journey simulator's window-end worlds (``--world additive_window_end``, 12 weeks) it
prints each convention's share MAE against the true Shapley shares instead.

Run: ``python -m bench.attribution_timing --world new_reach --seed 1``.
"""

from __future__ import annotations

import argparse
import sys
from unittest import mock

import numpy as np
import pandas as pd

USERS, WEEKS, LOOKBACK_DAYS = 40_000, 10, 30.0
CONVENTIONS = ("median", "corrected", "true")
#: Journey-simulator worlds (``workbench simulate``, 12 weeks) scored by share MAE instead.
SIMULATOR_WORLDS = ("additive_window_end", "roles_window_end")
SIMULATOR_WEEKS = 12


def _stage_codes(engine, names, timing, convention: str, decisions_days: pd.DataFrame) -> None:
    """journey_codes with ``convention``'s placement; ``decisions_days`` (user_id, decision in
    days since 1970-01-01) for the true decision times."""
    from workbench import decisions
    from workbench import journeys as steps

    if convention == "median":
        steps.stage_journey_codes(engine, len(names), LOOKBACK_DAYS, timing)
    elif convention == "corrected":
        decisions.place(engine, names, LOOKBACK_DAYS, timing)
    else:
        # each user's true decision time as the position (D - L) / window of journey_codes
        engine.register("true_decision", decisions_days)
        # clipped to the observable window (a decision after the data end is censored there)
        true_position = (
            "(SELECT LEAST(1.0, GREATEST(0.0, (d.decision - end_time) / LEAST("
            f"{timing.data_end!r} - end_time, {LOOKBACK_DAYS!r}))) "
            "FROM true_decision AS d WHERE d.user_id = counted.user_id)"
        )
        with mock.patch.object(decisions, "placement_sql", _true_placement(true_position)):
            steps.stage_journey_codes(engine, len(names), LOOKBACK_DAYS, timing)


def _true_placement(true_position: str):
    """A stand-in for ``workbench.decisions.placement_sql`` placing every non-converting
    journey at ``true_position`` (an SQL expression of its true decision position)."""

    def placement(timing, n_channels: int) -> dict[str, str]:
        return {
            "decision_position": true_position,
            "journey_touch_count": "CAST(0 AS BIGINT)",
            "journey_span": "0.0",
            "journey_last_channel": "CAST(0 AS BIGINT)",
        }

    return placement


def _simulator_fit(world: str, seed: int, users: int, convention: str) -> dict:
    """Share MAE against the true Shapley shares on a journey-simulator world."""
    from attribution import as_patterns
    from workbench import io
    from workbench import journeys as steps
    from workbench.engines import make_engine
    from workbench.simulate import simulate

    sim = simulate(users=users, weeks=SIMULATOR_WEEKS, scenario=world, seed=seed)
    engine = make_engine("duckdb")
    io.stage(engine, "touchpoints", sim.touchpoints)
    io.stage(engine, "conversions", sim.conversions)
    names = steps.channels(engine)
    steps.stage_journeys(engine, LOOKBACK_DAYS)
    timing = steps.decision_timing(engine, LOOKBACK_DAYS)
    days = (sim.journeys["decision_time"] - pd.Timestamp("1970-01-01")).dt.total_seconds()
    true_days = pd.DataFrame(
        {"user_id": sim.journeys["user_id"].astype(str), "decision": days / 86_400.0}
    )
    _stage_codes(engine, names, timing, convention, true_days)
    patterns = as_patterns(steps.patterns(engine, len(names)), names)
    engine.close()
    model = _fit(names, patterns, seed)
    credit = model.credit(patterns)["attributed_conversions"]
    shares = (credit / credit.sum("channel")).mean(("chain", "draw")).to_numpy()
    truth = pd.Series(sim.truth["shapley_shares"]).reindex(names).to_numpy(dtype=float)
    print(
        f"{world} seed {seed}, {users:,} users, {convention}: share MAE "
        f"{np.abs(shares - truth).mean():.4f}; shares "
        + ", ".join(f"{c} {v:.3f} ({t:.3f})" for c, v, t in zip(names, shares, truth, strict=True))
        + " (truth in brackets)",
        flush=True,
    )
    return {"convention": convention}


def fit(world: str, seed: int, users: int, convention: str) -> dict:
    """Posterior means of the model fitted with ``convention``'s decision placement."""
    from attribution import as_patterns
    from workbench import decisions, io
    from workbench import journeys as steps
    from workbench.engines import make_engine
    from workbench.sim.budget import get_world, make_budget_world, simulate_budget
    from workbench.sim.scenarios import START_DATE

    if world in SIMULATOR_WORLDS:
        return _simulator_fit(world, seed, users, convention)
    spec = get_world(world)
    tables = simulate_budget(spec, users, WEEKS, seed)
    engine = make_engine("duckdb")
    io.stage(engine, "touchpoints", tables["touchpoints"])
    io.stage(engine, "conversions", tables["conversions"])
    names = steps.channels(engine)
    steps.stage_journeys(engine, LOOKBACK_DAYS)
    timing = steps.decision_timing(engine, LOOKBACK_DAYS)
    if convention == "median":
        steps.stage_journey_codes(engine, len(names), LOOKBACK_DAYS, timing)
    elif convention == "corrected":
        timing = decisions.place(engine, names, LOOKBACK_DAYS, timing)
    else:
        # each user's true decision time as the position (D - L) / window of journey_codes
        world_draw = make_budget_world(spec, users, WEEKS, seed, with_credit=False)
        epoch = (np.datetime64(START_DATE, "D") - np.datetime64("1970-01-01", "D")).astype(int)
        engine.register(
            "true_decision",
            pd.DataFrame(
                {
                    "user_id": [f"u{i:07d}" for i in range(users)],
                    "decision": world_draw.decision + epoch,
                }
            ),
        )
        # clipped to the observable window (a decision after the data end is censored there)
        true_position = (
            "(SELECT LEAST(1.0, GREATEST(0.0, (d.decision - end_time) / LEAST("
            f"{timing.data_end!r} - end_time, {LOOKBACK_DAYS!r}))) "
            "FROM true_decision AS d WHERE d.user_id = counted.user_id)"
        )
        with mock.patch.object(decisions, "placement_sql", _true_placement(true_position)):
            steps.stage_journey_codes(engine, len(names), LOOKBACK_DAYS, timing)
    patterns = steps.patterns(engine, len(names))
    engine.close()
    model = _fit(names, as_patterns(patterns, names), seed)
    post = model.posterior_.mean(("chain", "draw"))
    row = {"convention": convention, "baseline": float(post["baseline"])}
    for name in ("beta", "decay", "saturation"):
        row.update({f"{name}_{c}": float(post[name].sel(channel=c)) for c in names})
    row["journeys"] = int(patterns["n_journeys"].sum())
    row["truth"] = spec
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="new_reach")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--conventions", nargs="*", default=list(CONVENTIONS))
    args = parser.parse_args(argv)
    rows = [fit(args.world, args.seed, args.users, c) for c in args.conventions]
    if args.world in SIMULATOR_WORLDS:
        return 0
    spec = rows[0]["truth"]
    channels = list(spec.scenario.channels)
    print(
        f"\nBudget world {args.world}, {args.users:,} users x {WEEKS} weeks, seed {args.seed}; "
        "posterior means (Laplace), truth in the last column"
    )
    labels = {"true": "true decision times"}
    print(
        "| parameter | "
        + " | ".join(labels.get(r["convention"], r["convention"]) for r in rows)
        + " | world's truth |"
    )
    print("|---|" + "---:|" * (len(rows) + 1))
    print(
        "| baseline | "
        + " | ".join(f"{r['baseline']:.4f}" for r in rows)
        + f" | {spec.scenario.intercept:.4f} |"
    )
    for name in ("beta", "decay", "saturation"):
        for c in channels:
            true = getattr(spec.scenario.channels[c], name)
            cells = " | ".join(f"{r[f'{name}_{c}']:.3g}" for r in rows)
            print(f"| {name} {c} | {cells} | {true:.3g} |")
    print("| journeys in the table | " + " | ".join(f"{r['journeys']:,}" for r in rows) + " | |")
    return 0


def _fit(names: list[str], patterns, seed: int):
    """The journey model as the bench fits it (Laplace, 200 draws, one chain)."""
    from attribution import ConversionModel, recency_ages_days

    return ConversionModel(
        channels=names,
        recency_ages_days=recency_ages_days(LOOKBACK_DAYS),
        method="laplace",
        draws=200,
        chains=1,
        seed=seed,
    ).fit(patterns)


if __name__ == "__main__":
    sys.exit(main())
