"""``workbench simulate``: write simulated data with known truth into one folder."""

from __future__ import annotations

import time

import click


def run(
    out_dir: str = "data/sim",
    users: int = 20_000,
    weeks: int = 12,
    scenario: str = "default",
    seed: int = 1,
    fmt: str = "parquet",
) -> dict:
    """Simulate and write touchpoints, conversions, transactions, spend and truth.json.

    Prints progress lines and what was written; returns the paths by table name.
    """
    from workbench.simulate import simulate, write, write_experience

    started = time.perf_counter()

    def say(msg: str) -> None:
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {msg}")

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
    return {**paths, **extra}
