"""Journey-model lift tests (issue 14) on the confounded journey world.

The world (``workbench simulate --scenario confounded``, ``workbench.sim.confounded``) sends
e-mail preferentially to users who would convert anyway and runs a hold-out test of e-mail
(its measured lift and standard error are the experiments row). ``workbench attribute
--experiments`` fits the journey model with the test as a likelihood term and stores the same
model refitted without it (Laplace) beside, so one run gives both answers.

Reported per channel: the true Shapley share, the share without the test and with it (posterior
mean and 90% interval of attributed_conversions / their total per draw), and for the
confounded channel the over-credit without the test (share / true share) and the relative error
with it. Targets: with the test the confounded channel's share within 25% of the truth; every
other channel's absolute error grows by no more than its interval width (without the test).

Run: ``python -m bench.attribution_lift --users 100000 --seed 1`` (``--method laplace|nuts``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posterior_tools.settings import INTERVAL_QUANTILES

TARGET_RELATIVE_ERROR = 0.25


def shares(credit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and interval of each channel's share of attributed conversions."""
    per_draw = credit / credit.sum("channel")
    q = per_draw.quantile(list(INTERVAL_QUANTILES), dim=("chain", "draw"))
    return (
        per_draw.mean(("chain", "draw")).values,
        q.isel(quantile=0).values,
        q.isel(quantile=1).values,
    )


def run(users: int, seed: int, method: str, email_beta: float | None = None) -> dict:
    from workbench.api import attribute
    from workbench.sim.confounded import CONFOUNDED_CHANNEL, simulate_confounded, write_world

    with tempfile.TemporaryDirectory() as tmp:
        world = simulate_confounded(users=users, seed=seed, confounded_beta=email_beta)
        paths = write_world(world, tmp)
        started = time.perf_counter()
        ds = attribute(
            str(paths["touchpoints"]),
            str(paths["conversions"]),
            experiments=str(paths["experiments"]),
            method=method,
            seed=seed,
            holdout_check=False,
        )
        seconds = time.perf_counter() - started
    channels = [str(c) for c in ds["channel"].values]
    truth = np.array([world.truth["shapley_shares"][c] for c in channels])
    cal, cal_lo, cal_hi = shares(ds["attributed_conversions"])
    unc, unc_lo, unc_hi = shares(ds["attributed_conversions_uncalibrated"])
    e = channels.index(CONFOUNDED_CHANNEL)
    width = unc_hi - unc_lo
    worse = np.abs(cal - truth) - np.abs(unc - truth)
    others = [c for c in range(len(channels)) if c != e]
    test = world.truth["lift_tests"][0]
    return {
        "users": users,
        "seed": seed,
        "method": str(ds.attrs["posterior_method"]),
        "seconds": round(seconds, 1),
        "channels": channels,
        "true_share": truth.tolist(),
        "uncalibrated": [unc.tolist(), unc_lo.tolist(), unc_hi.tolist()],
        "calibrated": [cal.tolist(), cal_lo.tolist(), cal_hi.tolist()],
        "selection": ds["selection"].mean(("chain", "draw")).values.tolist(),
        "confounded": CONFOUNDED_CHANNEL,
        "over_credit_ratio": float(unc[e] / truth[e]) if truth[e] > 0 else float("inf"),
        "calibrated_relative_error": float(abs(cal[e] - truth[e]) / truth[e])
        if truth[e] > 0
        else float("nan"),
        "others_worse_by": {channels[c]: float(worse[c]) for c in others},
        "others_interval_width": {channels[c]: float(width[c]) for c in others},
        "others_ok": bool(all(worse[c] <= width[c] for c in others)),
        "test": {
            "measured": test["measured_incremental_conversions"],
            "standard_error": test["standard_error"],
            "true": test["true_incremental_conversions"],
            "predicted_uncalibrated": float(ds["lift_test_predicted_uncalibrated"].mean()),
            "predicted_calibrated": float(ds["lift_test_predicted"].mean()),
        },
    }


def table(r: dict) -> str:
    """The result as a Markdown table (RESULTS.md)."""
    lines = [
        "| channel | true share | without test (90% interval) | with test (90% interval) |",
        "|---|---|---|---|",
    ]
    unc, cal = r["uncalibrated"], r["calibrated"]
    for c, name in enumerate(r["channels"]):
        lines.append(
            f"| {name}{' (confounded)' if name == r['confounded'] else ''} | "
            f"{r['true_share'][c]:.3f} | {unc[0][c]:.3f} ({unc[1][c]:.3f}-{unc[2][c]:.3f}) | "
            f"{cal[0][c]:.3f} ({cal[1][c]:.3f}-{cal[2][c]:.3f}) |"
        )
    t = r["test"]
    lines.append("")
    lines.append(
        f"Test: measured {t['measured']:.0f} +/- {t['standard_error']:.0f} conversions (true "
        f"{t['true']:.0f}); the model predicted {t['predicted_uncalibrated']:.0f} without the test "
        f"and {t['predicted_calibrated']:.0f} with it. Over-credit without the test: "
        f"{r['over_credit_ratio']:.2f} x the true share; relative error with it: "
        f"{r['calibrated_relative_error']:.1%} (target <= {TARGET_RELATIVE_ERROR:.0%}; inf and "
        "nan when the true share is 0). Other "
        "channels' error change vs their interval width: "
        + ", ".join(
            f"{c} {r['others_worse_by'][c]:+.3f} / {r['others_interval_width'][c]:.3f}"
            for c in r["others_worse_by"]
        )
        + f" ({'met' if r['others_ok'] else 'not met'}). Fit: {r['method']}, {r['seconds']:.0f} s."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", default="laplace", choices=("laplace", "nuts", "auto"))
    parser.add_argument("--json", type=Path, default=None, help="Also write the result here.")
    parser.add_argument(
        "--email-beta", type=float, default=None, help="The confounded channel's true effect."
    )
    args = parser.parse_args(argv)
    result = run(args.users, args.seed, args.method, args.email_beta)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(table(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
