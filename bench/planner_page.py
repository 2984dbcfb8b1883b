"""The planner page at the issue's size: 12 channels x 200 draws; its size and the time of one
update in headless Chromium.

Usage: ``python -m bench.planner_page RESULTS_DIR [--copies 2] [--updates 30]``, where
RESULTS_DIR holds a plan.nc written by ``workbench plan`` (e.g. ``workbench demo``'s
``results/``). The demo world has 6 channels; ``--copies 2`` puts two copies of every channel
side by side (a world with twice the channels and twice the journey patterns: each copy's
patterns touch only its own channels), which is the page's worst case at that size. Prints a
Markdown section (size of planner.html, median and 90th percentile of one update, measured by
the page's own ``performance.now()`` around one ``update()`` call, and the command).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def widen(plan: xr.Dataset, copies: int) -> xr.Dataset:
    """``copies`` copies of every channel: per-channel variables repeated, the pattern table
    block-diagonal (copy ``i``'s patterns touch only copy ``i``'s channels), synergy pairs
    repeated within each copy."""
    from workbench.planning.payload import PREFIX

    if copies == 1:
        return plan
    names = [str(c) for c in plan["channel"].values]
    n_c = len(names)
    channels = [f"{c} {i + 1}" if copies > 1 else c for i in range(copies) for c in names]
    keep = ["spend", "description", "response_value", "conversions", "value"]
    keep += [v for v in plan.data_vars if str(v).startswith(PREFIX)]
    out = {}
    for name in keep:
        da = plan[name]
        if name in (f"{PREFIX}codes", f"{PREFIX}first_channel", f"{PREFIX}n_journeys"):
            continue
        if name == f"{PREFIX}pair_channels":
            pairs = da.values
            block = np.concatenate([pairs + i * n_c for i in range(copies)])
            out[name] = ((f"{PREFIX}pair", f"{PREFIX}side"), block)
            continue
        if name == f"{PREFIX}synergy":
            out[name] = (da.dims, np.concatenate([da.values] * copies, axis=-1))
            continue
        if "channel" in da.dims:
            axis = da.dims.index("channel")
            out[name] = (da.dims, np.concatenate([da.values] * copies, axis=axis))
        else:
            out[name] = (da.dims, da.values)
    codes = plan[f"{PREFIX}codes"].values
    first = plan[f"{PREFIX}first_channel"].values.astype(int)
    n_p = codes.shape[0]
    wide = np.zeros((n_p * copies, n_c * copies), codes.dtype)
    firsts = np.empty(n_p * copies, int)
    for i in range(copies):
        wide[i * n_p : (i + 1) * n_p, i * n_c : (i + 1) * n_c] = codes
        firsts[i * n_p : (i + 1) * n_p] = np.where(first >= 0, first + i * n_c, -1)
    pattern = f"{PREFIX}pattern"
    out[f"{PREFIX}codes"] = ((pattern, "channel"), wide)
    out[f"{PREFIX}first_channel"] = (pattern, firsts)
    out[f"{PREFIX}n_journeys"] = (pattern, np.tile(plan[f"{PREFIX}n_journeys"].values, copies))
    coords = {k: plan[k].values for k in ("scenario", "multiplier", "draw") if k in plan.coords}
    coords["channel"] = channels
    return xr.Dataset(out, coords=coords)


def _renderer_cpu_seconds() -> float:
    """CPU time (user + system) of this process's Chromium renderers so far: on a shared,
    busy machine wall-clock times of the page measure the queue as much as the page."""
    import psutil

    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "--type=renderer" in " ".join(proc.cmdline()):
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


#: Moves of the spend per update: one channel (typing, a slider) or every channel (a preset).
LOOP = """([n, every]) => {
    const p = window.planner, out = [];
    for (let i = 0; i < n; i++) {
        for (let c = 0; c < p.spend.length; c++) {
            if (every || c === i % p.spend.length) p.spend[c] *= i % 2 ? 0.8 : 1.25;
        }
        const t = performance.now();
        p.update();
        out.push(performance.now() - t);
    }
    return out;
}"""


def measure(page_path: Path, updates: int) -> dict[str, tuple[np.ndarray, float]]:
    """Per kind of change (``one`` channel, ``every`` channel): the wall-clock milliseconds of
    each update and the renderers' CPU milliseconds per update."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            page.evaluate(LOOP, [10, False])  # warm-up: the script engine compiles the loop
            for kind, every in (("one", False), ("every", True)):
                cpu0 = _renderer_cpu_seconds()
                wall = np.array(page.evaluate(LOOP, [updates, every]))
                cpu = (_renderer_cpu_seconds() - cpu0) * 1e3 / updates
                out[kind] = (wall, cpu)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> str:
    from workbench.planning.payload import payload_from_plan
    from workbench.report.planner import write_planner
    from workbench.store import read_results

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--updates", type=int, default=30)
    args = parser.parse_args(argv)
    plan = widen(read_results(args.results / "plan.nc"), args.copies)
    payload = payload_from_plan(plan)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_planner(plan, tmp)
        size = path.stat().st_size
        times = measure(path, args.updates)
    n_c, n_s = payload["beta"].shape[1], payload["beta"].shape[0]
    rows = []
    for kind, label in (("one", "one channel moved"), ("every", "every channel moved (preset)")):
        wall, cpu = times[kind]
        rows.append(
            f"| {n_c} | {n_s} | {payload['n_journeys'].size:,} | {size / 1e6:.2f} MB | {label} "
            f"| {cpu:.0f} ms | {np.median(wall):.0f} ms | {np.quantile(wall, 0.9):.0f} ms |"
        )
    lines = [
        "## Planner page (issue 15)",
        "",
        f"`python -m bench.planner_page {args.results} --copies {args.copies} "
        f"--updates {args.updates}` (headless Chromium {CHROMIUM}); CPU is the renderer's CPU "
        "time per update, wall the page's own `performance.now()` around one `update()`:",
        "",
        "| channels | draws | journey patterns | planner.html | change | CPU per update "
        "| wall: median | wall: 90th pct |",
        "|---:|---:|---:|---:|---|---:|---:|---:|",
        *rows,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
