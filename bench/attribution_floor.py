"""The accuracy floor of the attribution targets: the TRUE conversion model, fitted by maximum
likelihood on the same simulated data, scored like ``bench.attribution_accuracy``.

For each scenario and seed the simulator's world (``workbench.sim.world.make_world``, the data
``workbench simulate`` writes) is refitted with the true model's own form
(``workbench.sim.response``: the true link, each channel's effect, decay and saturation, the
true opening terms and synergy pair; nothing else), every touched user's true decision time and
exact touch ages, by maximum likelihood on the realised conversions (scipy L-BFGS-B). Its
channel shares (the exact Shapley value of the fitted model, summed over the touched users as
the truth is) are compared with the true shares. No method that sees only the touch data can
expect to beat this on average; when the floor's share MAE is above a target, the target is
out of reach at that sample size.

Run: ``python -m bench.attribution_floor --users 20000 --seeds 11``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from bench.attribution_accuracy import SCENARIOS as ACCURACY_WORLDS

WEEKS = 12
#: Bounds of the fitted parameters (effects on the hazard or logit scale, decay per day,
#: saturation theta): wide enough that the truth is well inside.
BOUNDS = {"effect": (0.0, 5.0), "decay": (1e-3, 20.0), "saturation": (1e-3, 30.0)}


def fit_true_form(world, converted: np.ndarray):
    """The world's TrueConversionModel refitted by maximum likelihood on ``converted`` (user,)
    over the touched users; returns the fitted model."""
    from dataclasses import replace

    from workbench.sim.journeys import exposures

    true = world.model
    n_channels = len(true.beta)
    users = np.flatnonzero(world.touched)
    y = converted[users].astype(np.float64)
    first = None if world.first is None else world.first[users]
    openers = np.flatnonzero(true.opening) if true.has_roles else np.zeros(0, int)
    has_synergy = true.synergy is not None

    def unpack(x: np.ndarray):
        c = n_channels
        model = replace(
            true,
            intercept=float(x[0]),
            beta=x[1 : 1 + c],
            decay=x[1 + c : 1 + 2 * c],
            saturation=x[1 + 2 * c : 1 + 3 * c],
        )
        rest = x[1 + 3 * c :]
        if len(openers):
            opening = np.zeros(c)
            opening[openers] = rest[: len(openers)]
            model = replace(model, opening=opening)
            rest = rest[len(openers) :]
        if has_synergy:
            a, b, _ = true.synergy
            model = replace(model, synergy=(a, b, float(rest[0])))
        return model

    def nll(x: np.ndarray) -> float:
        model = unpack(x)
        exp_ = exposures(world.touches, world.decision, model.decay, model.lookback_days)[users]
        p = np.clip(model.prob(exp_, first), 1e-12, 1 - 1e-12)
        return -float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))

    link_low = (-10.0, 5.0) if true.link == "logistic" else (1e-6, 1.0)
    x0 = np.concatenate(
        [
            [true.intercept],
            np.full(n_channels, 0.05),
            np.full(n_channels, 0.2),
            np.full(n_channels, 1.0),
            np.full(len(openers), 0.05),
            [0.05] if has_synergy else [],
        ]
    )
    bounds = (
        [link_low]
        + [BOUNDS["effect"]] * n_channels
        + [BOUNDS["decay"]] * n_channels
        + [BOUNDS["saturation"]] * n_channels
        + [BOUNDS["effect"]] * len(openers)
        + ([(-5.0, 5.0)] if has_synergy else [])
    )
    # Two starts, the generic one and the truth (the floor is the likelihood's best point; a
    # local search from one start alone stopped on ridges of decay against effect); the
    # better optimum wins.
    at_truth = np.concatenate(
        [
            [true.intercept],
            true.beta,
            np.clip(true.decay, *BOUNDS["decay"]),
            np.clip(true.saturation, *BOUNDS["saturation"]),
            true.opening[openers] if len(openers) else [],
            [true.synergy[2]] if has_synergy else [],
        ]
    )
    results = [minimize(nll, start, method="L-BFGS-B", bounds=bounds) for start in (x0, at_truth)]
    return unpack(min(results, key=lambda r: r.fun).x)


def score(scenario: str, users: int, seed: int) -> dict:
    """Simulate (as ``workbench simulate``), refit the true form, score its shares."""
    from workbench.sim.journeys import STREAM_CONVERT, exposures, rng_for
    from workbench.sim.scenarios import SCENARIOS
    from workbench.sim.shapley import credit
    from workbench.sim.world import make_world

    started = time.perf_counter()
    world = make_world(SCENARIOS[scenario], users, WEEKS, seed)
    # the same realised conversions as workbench simulate writes
    converted = rng_for(seed, 0, STREAM_CONVERT).random(world.population.n_users)
    converted = converted < world.credit.p_full
    fitted = fit_true_form(world, converted)
    t = world.touched
    exp_ = exposures(world.touches, world.decision, fitted.decay, fitted.lookback_days)[t]
    fitted_credit = credit(fitted, exp_, first=None if world.first is None else world.first[t])
    shares = fitted_credit.shapley.sum(axis=0)
    shares = shares / shares.sum()
    truth = world.credit.shapley[t].sum(axis=0)
    truth = truth / truth.sum()
    return {
        "scenario": scenario,
        "users": users,
        "seed": seed,
        "conversions": int(converted[t].sum()),
        "mae": float(np.abs(shares - truth).mean()),
        "shares": dict(zip(world.channels, np.round(shares, 3), strict=True)),
        "truth": dict(zip(world.channels, np.round(truth, 3), strict=True)),
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--seeds", nargs="*", type=int, default=[11])
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=list(ACCURACY_WORLDS),
    )
    args = parser.parse_args(argv)
    rows = []
    for scenario in args.scenarios:
        for seed in args.seeds:
            row = score(scenario, args.users, seed)
            rows.append(row)
            print(
                f"{scenario} seed {seed}: {row['conversions']:,} touched conversions, "
                f"floor MAE {row['mae']:.4f} ({row['seconds']:.0f} s); fitted {row['shares']}; "
                f"truth {row['truth']}",
                flush=True,
            )
    table = pd.DataFrame(rows).groupby("scenario", sort=False)[["conversions", "mae"]].mean()
    print(f"\nTrue model refitted by maximum likelihood, {args.users:,} users, seeds {args.seeds}")
    print("| world | touched conversions | share MAE of the true model's ML fit |")
    print("|---|---:|---:|")
    for scenario, r in table.iterrows():
        print(f"| {scenario} | {r['conversions']:,.0f} | {r['mae']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
