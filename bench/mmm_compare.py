"""Media-mix model vs PyMC-Marketing's MMM on the project's simulated media worlds.

For each world (``workbench.sim.media.WORLDS``) the files are written once and both models read
them: ``workbench mmm`` (its defaults, held-out check included) and PyMC-Marketing's ``MMM`` with
its documented defaults (``bench/pymc_marketing_mmm.py``, run by the bench virtualenv
``.venv-bench``; PyMC-Marketing is never imported by the package). On the confounded world both
run without and with its lift test (``add_lift_test_measurements`` for PyMC-Marketing). Then the
geo run: 50 geos x 156 weeks x 8 channels, time and peak memory.

Scores: ROI MAPE = mean over channels of |posterior-mean ROI - true ROI| / true ROI; coverage =
channels whose true contribution lies in the 90% interval. Wall clock, CPU seconds and peak RSS
come from ``/usr/bin/time``.

    python -m bench.mmm_compare [--worlds retail brand ...] [--no-peer] [--no-geo] [--seed N]

Set up the peer once: ``python3 -m venv .venv-bench && .venv-bench/bin/pip install
pymc-marketing`` (0.19.2 is the last release for Python 3.11).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "mmm"
PEER_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
WORKBENCH = ROOT / ".venv" / "bin" / "workbench"
WORLDS = ("retail", "brand", "big_baseline", "confounded")
GEO_SHAPE = (50, "retail")  # geos, world (156 weeks, 8 channels)


def _timed(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` under /usr/bin/time; wall and CPU seconds, peak RSS (GB), and the 1-minute
    load average before and after (other processes on the machine inflate the wall clock)."""
    stats = log.with_suffix(".time")
    full = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(stats), *cmd]
    load_before = os.getloadavg()[0]
    with open(log, "w") as fh:
        proc = subprocess.run(full, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; see {log}")
    wall, user, system, rss = stats.read_text().split()[-4:]
    return {
        "wall_s": float(wall),
        "cpu_s": float(user) + float(system),
        "peak_gb": int(rss) / 1e6,
        "load": [load_before, os.getloadavg()[0]],
    }


def _write_world(world: str, seed: int, geos: int = 0) -> Path:
    from workbench.sim.media import simulate_media, write_media

    folder = OUT / (world if not geos else f"{world}_{geos}geos")
    write_media(simulate_media(world, seed=seed, geos=geos), folder)
    return folder


def _ours(folder: Path, name: str, lift: bool, extra: tuple[str, ...] = ()) -> dict:
    out = folder / f"{name}.nc"
    cmd = [
        str(WORKBENCH),
        "mmm",
        "--spend",
        str(folder / "spend.csv"),
        "--outcomes",
        str(folder / "outcomes.csv"),
        "--controls",
        str(folder / "controls.csv"),
        "--out",
        str(out),
        *extra,
    ]
    if lift:
        cmd += ["--experiments", str(folder / "experiments.csv")]
    timing = _timed(cmd, folder / f"{name}.log")
    from workbench.store import read_results

    ds = read_results(out)
    q = ds["contribution"].quantile([0.05, 0.95], ("chain", "draw"))
    result = {
        **timing,
        "channels": [str(c) for c in ds["channel"].values],
        "roi_mean": ds["roi"].mean(("chain", "draw")).values.tolist(),
        "contribution_q05": q.isel(quantile=0).values.tolist(),
        "contribution_q95": q.isel(quantile=1).values.tolist(),
        "checks": ds.attrs.get("checks"),
        "diagnostics": ds.attrs.get("diagnostics"),
        "form": f"{ds.attrs.get('adstock')}/{ds.attrs.get('saturation')}",
        "form_selection": ds.attrs.get("form_selection"),
        "stage_seconds": ds.attrs.get("stage_seconds"),
    }
    if "roi_uncalibrated" in ds:
        uq = ds["contribution_uncalibrated"].quantile([0.05, 0.95], ("chain", "draw"))
        result["uncalibrated"] = {
            "roi_mean": ds["roi_uncalibrated"].mean(("chain", "draw")).values.tolist(),
            "contribution_q05": uq.isel(quantile=0).values.tolist(),
            "contribution_q95": uq.isel(quantile=1).values.tolist(),
        }
    return result


def _peer(folder: Path, name: str, lift: bool, seed: int) -> dict:
    out = folder / f"{name}.json"
    cmd = [
        str(PEER_PYTHON),
        "bench/pymc_marketing_mmm.py",
        str(folder),
        str(out),
        "--seed",
        str(seed),
    ]
    if lift:
        cmd.append("--lift-test")
    timing = _timed(cmd, folder / f"{name}.log")
    return {**json.loads(out.read_text()), **timing}


def score(result: dict, truth: dict) -> dict:
    """ROI MAPE, per-channel relative ROI error and contribution coverage against the truth."""
    chans = result["channels"]
    true_roi = np.array([truth["roi"][c] for c in chans])
    true_contrib = np.array([truth["contribution"][c] for c in chans])
    err = (np.array(result["roi_mean"]) - true_roi) / true_roi
    inside = (np.array(result["contribution_q05"]) <= true_contrib) & (
        true_contrib <= np.array(result["contribution_q95"])
    )
    return {
        "mape": float(np.mean(np.abs(err))),
        "error": dict(zip(chans, err.tolist(), strict=True)),
        "covered": int(inside.sum()),
        "n": len(chans),
    }


def run(
    worlds: tuple[str, ...], seed: int, peer: bool, geo: bool, tag: str = "", ours: bool = True
) -> dict:
    results: dict = {"seed": seed, "worlds": {}}
    store = OUT / f"results{tag}.json"
    for world in worlds:
        folder = _write_world(world, seed)
        truth = json.loads((folder / "truth.json").read_text())
        lift = world == "confounded"
        entry: dict = {"truth_roi": truth["roi"]}
        if ours:
            print(f"[mmm bench] {world}: workbench", file=sys.stderr, flush=True)
            entry["workbench"] = _ours(folder, "workbench", lift)
            entry["workbench"]["score"] = score(entry["workbench"], truth)
        if ours and lift:
            un = {**entry["workbench"], **entry["workbench"]["uncalibrated"]}
            entry["workbench_uncalibrated"] = {
                "score": score(un, truth),
                "roi_mean": un["roi_mean"],
            }
        if peer and PEER_PYTHON.exists():
            print(f"[mmm bench] {world}: PyMC-Marketing", file=sys.stderr, flush=True)
            entry["pymc_marketing"] = _peer(folder, "pymc_marketing", False, seed)
            entry["pymc_marketing"]["score"] = score(entry["pymc_marketing"], truth)
            if lift:
                entry["pymc_marketing_lift"] = _peer(folder, "pymc_marketing_lift", True, seed)
                entry["pymc_marketing_lift"]["score"] = score(entry["pymc_marketing_lift"], truth)
        results["worlds"][world] = entry
        store.write_text(json.dumps(results, indent=1))
    if geo:
        from bench.mmm_geo import run_geo

        geos, world = GEO_SHAPE
        print(f"[mmm bench] {world} x {geos} geos: workbench", file=sys.stderr, flush=True)
        results["geo"] = run_geo(geos, world, seed=seed)
        store.write_text(json.dumps(results, indent=1))
    return results


def markdown(results: dict) -> str:
    """The RESULTS.md section from :func:`run`'s results."""
    lines = [
        "## Media-mix model vs PyMC-Marketing (issues 13 and 14)",
        "",
        "`python -m bench.mmm_compare` (seed {}). Each world's files are written once; both "
        "models read the same CSVs. ROI MAPE: mean |posterior-mean ROI - true ROI| / true ROI "
        "over channels; covered: channels whose true contribution is inside the 90% interval. "
        "Time from `/usr/bin/time` (wall clock; CPU = user + system).".format(results["seed"]),
        "",
        "| world | model | ROI MAPE | covered | wall s | CPU s | peak GB | load | R-hat max | "
        "divergences |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for world, entry in results["worlds"].items():
        for key, label in (
            ("workbench", "workbench"),
            ("workbench_uncalibrated", "workbench, without the lift test"),
            ("pymc_marketing", "PyMC-Marketing"),
            ("pymc_marketing_lift", "PyMC-Marketing + lift test"),
        ):
            if key not in entry:
                continue
            r = entry[key]
            s = r["score"]
            if key == "workbench" and world == "confounded":
                label = "workbench + lift test"
            if key == "workbench" and r.get("form"):
                label += f" ({r['form']})"
            load = r.get("load")
            diag = r.get("diagnostics") or {}
            lines.append(
                f"| {world} | {label} | {s['mape']:.3f} | {s['covered']}/{s['n']} | "
                + (
                    f"{r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['peak_gb']:.2f} | "
                    + (f"{load[0]:.1f}-{load[1]:.1f} | " if load else " | ")
                    if "wall_s" in r
                    else "(same run) | | | | "
                )
                + (f"{diag['rhat_max']:.3f} | " if "rhat_max" in diag else "| ")
                + f"{diag.get('divergences', r.get('divergences', ''))} |"
            )
    ratios = [
        f"{world} {e['workbench']['wall_s'] / e[peer]['wall_s']:.2f} wall, "
        f"{e['workbench']['cpu_s'] / e[peer]['cpu_s']:.2f} CPU"
        for world, e in results["worlds"].items()
        for peer in ("pymc_marketing_lift" if world == "confounded" else "pymc_marketing",)
        if "wall_s" in e.get("workbench", {}) and "wall_s" in e.get(peer, {})
    ]
    if ratios:
        lines += [
            "",
            "Time of workbench / PyMC-Marketing (the confounded world: both with the lift test; "
            "workbench's run includes its uncalibrated twin): " + "; ".join(ratios) + ".",
        ]
    lines += ["", "Per-channel relative ROI error (posterior mean vs truth):", ""]
    for world, entry in results["worlds"].items():
        keys = [
            k
            for k in (
                "workbench",
                "workbench_uncalibrated",
                "pymc_marketing",
                "pymc_marketing_lift",
            )
            if k in entry
        ]
        if not keys:
            continue
        chans = list(entry[keys[0]]["score"]["error"])
        lines.append(
            f"- **{world}**: "
            + "; ".join(
                f"{c} " + " / ".join(f"{entry[k]['score']['error'][c]:+.2f}" for k in keys)
                for c in chans
            )
            + f" ({' / '.join(keys)})"
        )
    conf = results["worlds"].get("confounded", {})
    if "workbench_uncalibrated" in conf and "workbench" in conf:
        lines += ["", _calibration_lines(conf)]
    if "geo" in results:
        from bench.mmm_geo import describe

        lines += ["", describe(results["geo"])]
    return "\n".join(lines) + "\n"


def _calibration_lines(entry: dict) -> str:
    """How far the lift test moved each channel of the confounded world, against the width of
    the calibrated 90% ROI interval (issue 14: the others may not get worse by more)."""
    cal = entry["workbench"]
    truth = entry["truth_roi"]
    spend = json.loads((OUT / "confounded" / "truth.json").read_text())["spend"]
    parts, worse = [], []
    for i, c in enumerate(cal["channels"]):
        width = (cal["contribution_q95"][i] - cal["contribution_q05"][i]) / spend[c]
        before = abs(entry["workbench_uncalibrated"]["roi_mean"][i] - truth[c])
        after = abs(cal["roi_mean"][i] - truth[c])
        parts.append(f"{c} {before * 1000:.1f} -> {after * 1000:.1f} (width {width * 1000:.1f})")
        if after - before > width:
            worse.append(c)
    return (
        "Confounded world, |ROI error| per 1,000 of spend without -> with the lift test "
        "(calibrated 90% interval width): " + "; ".join(parts) + ". Channels worse by more "
        "than their interval width: " + (", ".join(worse) if worse else "none") + "."
    )


def merge(tags: list[str]) -> dict:
    """One results dict from several runs' files (``results<TAG>.json``), world by world and
    model by model (a run that split the models over processes)."""
    merged: dict = {"worlds": {}}
    for tag in tags:
        path = OUT / f"results{tag}.json"
        if not path.exists():  # a run that has not finished a world yet
            continue
        part = json.loads(path.read_text())
        merged.setdefault("seed", part["seed"])
        for world, entry in part["worlds"].items():
            merged["worlds"].setdefault(world, {}).update(entry)
        if "geo" in part:
            merged["geo"] = part["geo"]
    return merged


def main(quick: bool = False) -> str:
    worlds = ("retail",) if quick else WORLDS
    return markdown(run(worlds, seed=1, peer=True, geo=not quick))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worlds", nargs="*", default=list(WORLDS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-geo", action="store_true")
    parser.add_argument("--no-ours", action="store_true", help="run the peer only")
    parser.add_argument(
        "--merge", nargs="*", default=None, help="with --markdown-only: results tags to merge"
    )
    parser.add_argument("--tag", default="", help="results file suffix: results<TAG>.json")
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="print the section from bench/out/mmm/results.json",
    )
    args = parser.parse_args()
    if args.markdown_only:
        print(markdown(merge([args.tag, *(args.merge or [])])))
    else:
        started = time.perf_counter()
        res = run(
            tuple(args.worlds),
            args.seed,
            not args.no_peer,
            not args.no_geo,
            args.tag,
            not args.no_ours,
        )
        print(markdown(res))
        print(f"[mmm bench] done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
