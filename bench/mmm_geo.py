"""The media-mix model at geo scale: ``workbench mmm`` on a world split into geos (issue 13: 50
geos x 156 weeks x 8 channels must fit on this machine in under 10 minutes), timed by
``/usr/bin/time`` (wall clock, CPU seconds, peak RSS) with the load average before and after,
scored against the simulator's truth, with the sampler's diagnostics.

    python -m bench.mmm_geo [--geos 50] [--world retail] [--draws 1000] [--tune 1000]
        [--adstock auto] [--saturation auto] [--holdout-check | --no-holdout-check]

The defaults are those of ``workbench mmm`` (forms chosen on the national total, the full geo
fit, the held-out check); ``--adstock geometric --saturation logistic --no-holdout-check``
times the geo fit alone. The stages' seconds (``stage_seconds`` of the results) are printed.
"""

from __future__ import annotations

import argparse
import json

from bench.mmm_compare import OUT, _ours, _write_world, score


def run_geo(
    geos: int = 50,
    world: str = "retail",
    draws: int = 1000,
    tune: int = 1000,
    adstock: str = "auto",
    saturation: str = "auto",
    holdout_check: bool = True,
    seed: int = 1,
) -> dict:
    """Simulate ``world`` in ``geos`` geos, fit it with ``workbench mmm`` and score it."""
    folder = _write_world(world, seed, geos=geos)
    truth = json.loads((folder / "truth.json").read_text())
    options = (
        "--draws",
        str(draws),
        "--tune",
        str(tune),
        "--adstock",
        adstock,
        "--saturation",
        saturation,
        "--holdout-check" if holdout_check else "--no-holdout-check",
        "--seed",
        str(seed),
    )
    entry = _ours(folder, "workbench", False, options)
    entry["score"] = score(entry, truth)
    entry.update(geos=geos, world=world, options=list(options))
    (OUT / f"geo_{world}_{geos}.json").write_text(json.dumps(entry, indent=1))
    return entry


def describe(entry: dict) -> str:
    """One paragraph for bench/RESULTS.md."""
    d = entry["diagnostics"]
    return (
        f"Geo run: {entry['geos']} geos x 156 weeks x {entry['score']['n']} channels "
        f"(`{entry['world']}` world), `workbench mmm {' '.join(entry['options'])}`: "
        f"{entry['wall_s']:.0f} s wall, {entry['cpu_s']:.0f} s CPU, peak {entry['peak_gb']:.2f} "
        f"GB, load average {entry['load'][0]:.1f} before / {entry['load'][1]:.1f} after; ROI "
        f"MAPE {entry['score']['mape']:.3f}, covered {entry['score']['covered']}/"
        f"{entry['score']['n']}; R-hat max {d['rhat_max']:.3f}, bulk ESS min "
        f"{d['ess_bulk_min']:.0f}, divergences {d['divergences']}; form "
        f"{entry['form']}; seconds per stage {entry.get('stage_seconds')}; out-of-sample MAPE "
        f"{entry['checks'].get('mape_out_of_sample', float('nan')):.3f}."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--geos", type=int, default=50)
    parser.add_argument("--world", default="retail")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--adstock", default="auto")
    parser.add_argument("--saturation", default="auto")
    parser.add_argument("--holdout-check", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run_geo(
        args.geos,
        args.world,
        args.draws,
        args.tune,
        args.adstock,
        args.saturation,
        args.holdout_check,
        args.seed,
    )
    print(describe(result))
