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
