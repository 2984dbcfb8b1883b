"""Simulation pipeline (``workbench simulate``): simulated data with known truth, written into one
folder."""

from __future__ import annotations

import os
import sys
import time


def simulate_to_folder(
    out_dir: str | os.PathLike,
    *,
    users: int,
    weeks: int,
    scenario: str,
    seed: int,
    fmt: str = "parquet",
):
    """Simulate and write touchpoints, conversions, transactions, spend, the survey and stage
    files and truth.json into ``out_dir``. Progress lines go to stderr; returns the simulated
    data (``workbench.simulate.SimulatedData``)."""
    from workbench.simulate import simulate, write, write_experience

    started = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    if scenario == "confounded":  # the confounded journey world (workbench.sim.confounded)
        return _confounded(out_dir, users=users, weeks=weeks, seed=seed, fmt=fmt, say=say)
    sim = simulate(users=users, weeks=weeks, scenario=scenario, seed=seed, progress=say)
    say(f"writing {fmt} files to {out_dir}")
    paths = write(sim, out_dir, fmt=fmt)
    for name, path in paths.items():
        rows = len(getattr(sim, name)) if name != "truth" else None
        say(f"  wrote {path}" + (f" ({rows:,} rows)" if rows is not None else ""))
    extra = write_experience(sim, out_dir, fmt=fmt)
    for name, path in extra.items():
        rows = len(getattr(sim.experience, name)) if name != "stages" else None
        say(f"  wrote {path}" + (f" ({rows:,} rows)" if rows is not None else ""))
    shares = sim.truth["shapley_shares"]
    say(
        "true Shapley shares: "
        + ", ".join(f"{c} {v:.3f}" for c, v in sorted(shares.items(), key=lambda kv: -kv[1]))
    )
    return sim


def _confounded(out_dir, *, users: int, weeks: int, seed: int, fmt: str, say):
    """Simulate and write the confounded journey world with its hold-out test."""
    from workbench.errors import InputError
    from workbench.sim.confounded import simulate_confounded, write_world

    try:
        world = simulate_confounded(users=users, seed=seed, weeks=weeks)
    except ValueError as err:
        raise InputError(str(err)) from err
    for path in write_world(world, out_dir, fmt).values():
        say(f"  wrote {path}")
    test = world.truth["lift_tests"][0]
    say(
        f"hold-out test on {test['channel']}: measured "
        f"{test['measured_incremental_conversions']:.0f} +/- {test['standard_error']:.0f}, "
        f"true {test['true_incremental_conversions']:.0f}"
    )
    return world
