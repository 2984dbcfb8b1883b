"""Calibration of the attribution model's 90% intervals over many simulated data sets.

For each world and seed the simulator (``workbench.simulate``) writes a fresh data set with
known true Shapley shares; ``workbench attribute`` (Laplace approximation, no held-out refit)
gives each channel's share posterior. The table reports, per world, how often the 90% interval
of a channel's share covers its true share (over channels x data sets), the mean absolute error
of the shares, and how often a no-effect channel's interval includes 0. Coverage near 90% means
the intervals mean what they say; the target (issue 12) is at least 85% of channel-world pairs.

This is coverage calibration under fixed true parameters per world (the data vary with the
seed), not the rank statistics of simulation-based calibration with parameters drawn from the
prior (Talts et al. 2018): the worlds' parameters are fixed, realistic values.

Run: ``python -m bench.attribution_calibration --seeds 20`` (``--users``, ``--worlds``; results
are pickled after every data set with ``--save`` so that a partial run still reports).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import pandas as pd

WORLDS = ("additive", "roles", "additive_campaign_end")
USERS = 20_000
WEEKS = 12
FIRST_SEED = 101
INTERVAL = (0.05, 0.95)


def score(world: str, seed: int, users: int) -> dict:
    """One simulated data set of ``world``: shares, intervals and truth per channel."""
    from workbench.api import attribute
    from workbench.simulate import simulate

    sim = simulate(users=users, weeks=WEEKS, scenario=world, seed=seed)
    started = time.process_time()
    ds = attribute(
        sim.touchpoints, sim.conversions, seed=seed, method="laplace", holdout_check=False
    )
    channels = [str(c) for c in ds["channel"].values]
    truth = pd.Series(sim.truth["shapley_shares"]).reindex(channels).to_numpy(dtype=float)
    credit = ds["attributed_conversions"]
    shares = credit / credit.sum("channel")
    lower, upper = (shares.quantile(q, dim=("chain", "draw")).to_numpy() for q in INTERVAL)
    return {
        "world": world,
        "seed": seed,
        "channels": channels,
        "truth": truth,
        "mean": shares.mean(("chain", "draw")).to_numpy(),
        "lower": lower,
        "upper": upper,
        "zero_effect": [channels.index(c) for c in sim.truth["zero_effect_channels"]],
        "conversions": int(ds["observed_conversions"]),
        "cpu_seconds": time.process_time() - started,
    }


def markdown(results: list[dict], users: int) -> str:
    frame = []
    for r in results:
        # ends compared up to float rounding (a share that is 0 in every draw can be -1e-19)
        covered = (r["truth"] >= r["lower"] - 1e-12) & (r["truth"] <= r["upper"] + 1e-12)
        for i, c in enumerate(r["channels"]):
            frame.append(
                {
                    "world": r["world"],
                    "seed": r["seed"],
                    "channel": c,
                    "covered": bool(covered[i]),
                    "abs_error": abs(r["mean"][i] - r["truth"][i]),
                    "zero_effect": i in r["zero_effect"],
                    "zero_in_interval": r["lower"][i] <= 1e-12,
                    "conversions": r["conversions"],
                }
            )
    df = pd.DataFrame(frame)
    lines = [
        "## Attribution interval calibration over simulated data sets",
        "",
        f"`python -m bench.attribution_calibration` — {users:,} users x {WEEKS} weeks per data "
        "set, seeds from "
        f"{FIRST_SEED}; `workbench attribute --method laplace` (held-out refit skipped). "
        "Coverage: share of (channel, data set) pairs whose 90% share interval holds the true "
        "Shapley share.",
        "",
        "| world | data sets | conversions per set | 90% coverage | share MAE | no-effect "
        "channel: interval includes 0 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for world, g in df.groupby("world", sort=False):
        zero = g[g["zero_effect"]]
        zero_cell = f"{zero['zero_in_interval'].mean():.0%}" if len(zero) else "-"
        lines.append(
            f"| {world} | {g['seed'].nunique()} | {g['conversions'].mean():,.0f} | "
            f"{g['covered'].mean():.1%} | {g['abs_error'].mean():.4f} | {zero_cell} |"
        )
    lines.append(
        f"| all | {df[['world', 'seed']].drop_duplicates().shape[0]} | "
        f"{df['conversions'].mean():,.0f} | {df['covered'].mean():.1%} | "
        f"{df['abs_error'].mean():.4f} | "
        f"{df[df['zero_effect']]['zero_in_interval'].mean():.0%} |"
    )
    by_channel = df.groupby(["world", "channel"], sort=False)["covered"].mean()
    lines += [
        "",
        "Coverage per channel: "
        + "; ".join(f"{w}/{c} {v:.0%}" for (w, c), v in by_channel.items()),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS))
    parser.add_argument("--save", default=None, help="pickle the results here after each set")
    parser.add_argument("--load", nargs="*", default=None, help="report from saved pickles")
    parser.add_argument("--out", default=None, help="also write the Markdown section here")
    args = parser.parse_args()
    if args.load:
        results = [r for f in args.load for r in pickle.loads(Path(f).read_bytes())]
    else:
        results = []
        for seed in range(FIRST_SEED, FIRST_SEED + args.seeds):
            for world in args.worlds:
                results.append(score(world, seed, args.users))
                r = results[-1]
                print(
                    f"[calibration] {world} seed {seed}: {r['conversions']} conversions, "
                    f"{r['cpu_seconds']:.0f} s CPU",
                    file=sys.stderr,
                    flush=True,
                )
                if args.save:
                    Path(args.save).write_bytes(pickle.dumps(results))
    text = markdown(results, args.users)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
