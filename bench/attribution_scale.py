"""Attribution at scale: ``workbench attribute`` vs ChannelAttribution's Markov model, end to end
on the same Parquet files.

Data: synthetic journeys written to Parquet (6 channels, ~7.5 touches per user over 12 weeks,
conversions from an additive hazard of the capped touch counts). Every user decides a short
delay after their last touch (Exponential, mean 2 hours, at least 1 minute); converters convert
at that decision time, so converters' and non-converters' touch ages are alike. Each measured
run is a separate process timed by ``/usr/bin/time -v`` (wall clock and peak resident memory):

- ``workbench attribute`` with its defaults (DuckDB, ``--method auto``, the default draws,
  held-out check included), optionally again with ``--method nuts``;
- the peer: pandas reads the same files, builds the same journeys (next conversion strictly
  after each touch, 30-day lookback) and paths, and ChannelAttribution's ``markov_model``
  (first order, its defaults) attributes them.

Run: ``python -m bench.attribution_scale [--quick] [--sizes 200000 2000000] [--nuts]``;
``--steps duckdb|spark`` times the data steps one by one at the first size instead (engine
start, staging, each SQL statement; wall, driver CPU and the JVM's CPU seconds).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SIZES, QUICK_SIZES = (200_000, 2_000_000), (20_000,)
CHANNELS = ("affiliate", "display", "email", "paid_search", "social", "video")
CHANNEL_MIX = (0.10, 0.30, 0.15, 0.20, 0.15, 0.10)
MEAN_EXTRA_TOUCHES = 6.5  # touches per user = 1 + Poisson(6.5)
PERIOD_DAYS = 84.0
# Additive hazard of the synthetic truth (per capped touch count of each channel).
BASELINE_HAZARD = 0.01
BETA = (0.004, 0.0, 0.01, 0.03, 0.012, 0.006)
LOOKBACK_DAYS = 30.0
# Every user decides (converts or not) a short delay after their last touch, as in
# workbench/sim/journeys.py: Exponential with mean 2 hours, at least 1 minute. Converters and
# non-converters then have the same touch ages, so recency carries no label leak.
DECISION_DELAY_MEAN_DAYS = 2.0 / 24.0
DECISION_DELAY_MIN_DAYS = 1.0 / 1440.0
SEED = 5
TIME_LIMIT_SECONDS = 3_600


def write_journeys(n_users: int, folder: Path, seed: int = SEED) -> tuple[Path, Path, int]:
    """Synthetic touchpoints and conversions as Parquet; returns paths and touchpoint rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_touch = 1 + rng.poisson(MEAN_EXTRA_TOUCHES, n_users)
    user = np.repeat(np.arange(n_users, dtype=np.int64), n_touch)
    t = rng.uniform(0.0, PERIOD_DAYS, len(user))
    channel = rng.choice(len(CHANNELS), len(user), p=CHANNEL_MIX)
    counts = np.zeros((n_users, len(CHANNELS)))
    np.add.at(counts, (user, channel), 1.0)
    last = np.full(n_users, -np.inf)
    np.maximum.at(last, user, t)
    decision = last + np.maximum(
        rng.exponential(DECISION_DELAY_MEAN_DAYS, n_users), DECISION_DELAY_MIN_DAYS
    )
    # every touch is before the user's decision time, so all of them count towards the hazard
    hazard = BASELINE_HAZARD + np.minimum(counts, 3) @ np.asarray(BETA)
    converts = rng.random(n_users) < -np.expm1(-hazard)
    conv_users = np.flatnonzero(converts)
    conv_time = decision[conv_users]
    start = np.datetime64("2024-01-01T00:00:00", "us")

    def stamps(days: np.ndarray) -> np.ndarray:
        return start + np.round(days * 86_400e6).astype(np.int64).astype("timedelta64[us]")

    tp = pa.table(
        {
            "user_id": pa.array(user),
            "timestamp": pa.array(stamps(t)),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(channel.astype(np.int32)), pa.array(list(CHANNELS))
            ).cast(pa.string()),
        }
    )
    cv = pa.table({"user_id": pa.array(conv_users), "timestamp": pa.array(stamps(conv_time))})
    tp_path, cv_path = folder / "touchpoints.parquet", folder / "conversions.parquet"
    pq.write_table(tp, tp_path)
    pq.write_table(cv, cv_path)
    return tp_path, cv_path, len(user)


def markov_peer(touchpoints: str, conversions: str, lookback_days: float = LOOKBACK_DAYS):
    """ChannelAttribution end to end: pandas journeys and paths, then ``markov_model``."""
    from ChannelAttribution import markov_model

    tp = pd.read_parquet(touchpoints).sort_values("timestamp")
    cv = pd.read_parquet(conversions).sort_values("timestamp")
    cv = cv.rename(columns={"timestamp": "conversion_time"})
    # next conversion strictly after each touch, per user
    tp = pd.merge_asof(
        tp,
        cv,
        left_on="timestamp",
        right_on="conversion_time",
        by="user_id",
        direction="forward",
        allow_exact_matches=False,
    )
    last_touch = tp.groupby("user_id")["timestamp"].transform("max")
    tp["end"] = tp["conversion_time"].fillna(last_touch)
    tp = tp[(tp["end"] - tp["timestamp"]) <= pd.Timedelta(days=lookback_days)]
    tp = tp.sort_values(["user_id", "end", "timestamp", "channel"])
    journeys = tp.groupby(["user_id", "end"], sort=False).agg(
        path=("channel", " > ".join), converted=("conversion_time", "count")
    )
    journeys["conv"] = (journeys["converted"] > 0).astype(int)
    journeys["null"] = 1 - journeys["conv"]
    paths = journeys.groupby("path", as_index=False)[["conv", "null"]].sum()
    result = markov_model(paths, "path", "conv", var_null="null", verbose=False, flg_pro=False)
    return result, len(journeys), len(paths)


def _timed(command: list[str]) -> dict:
    """Run ``command`` under /usr/bin/time -v: wall seconds, CPU seconds, peak RSS (MB), exit
    code, and the 1-minute load average before and after (the machine may be shared)."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_SECONDS,
    )
    wall = time.perf_counter() - started
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(
        float(m.group(1))
        for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)
    )
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "code": proc.returncode,
        "load": (load_before, os.getloadavg()[0]),
        "stderr": proc.stderr,
        "stdout": proc.stdout,
    }


def measure(n_users: int, folder: Path, nuts: bool) -> dict:
    tp, cv, n_touch = write_journeys(n_users, folder)
    workbench = str(Path(sys.executable).parent / "workbench")
    out = folder / "attribution.nc"
    row = {"users": n_users, "touchpoints": n_touch}
    row["workbench"] = _timed(
        [workbench, "attribute", "--touchpoints", str(tp), "--conversions", str(cv),
         "--out", str(out)]
    )  # fmt: skip
    if row["workbench"]["code"] == 0:
        from workbench.store import read_results

        ds = read_results(out)
        row["journeys"] = int(ds["pattern_n_journeys"].sum())
        row["patterns"] = int(ds.sizes["pattern"])
        row["method"] = ds.attrs["posterior_method"]
        row["stage_log"] = [
            line for line in row["workbench"]["stderr"].splitlines() if "[attribute" in line
        ]
    row["markov"] = _timed(
        [sys.executable, "-m", "bench.attribution_scale", "--peer", str(tp), str(cv)]
    )
    if nuts:
        row["nuts"] = _timed(
            [workbench, "attribute", "--touchpoints", str(tp), "--conversions", str(cv),
             "--out", str(folder / "attribution_nuts.nc"), "--method", "nuts"]
        )  # fmt: skip
    return row


class _TimedEngine:
    """An engine that records wall seconds, driver CPU seconds and the CPU seconds of the
    driver's child processes (Spark's JVM) for every statement, labelled by the SQL step's name
    (the first word of its leading comment)."""

    def __init__(self, engine):
        self.engine, self.name, self.rows = engine, engine.name, []

    def _timed(self, method: str, sql: str):
        step = re.search(r"--\s*(\w+):", sql)
        label = sql if step is None else step.group(1)
        if step is not None and sql.lstrip().upper().startswith("CREATE"):
            label = f"{label} (materialised)"
        started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
        result = getattr(self.engine, method)(sql)
        self.rows.append(
            (
                " ".join(label.split())[:60],
                time.perf_counter() - started,
                time.process_time() - cpu,
                _children_cpu() - children,
            )
        )
        return result

    def execute(self, sql: str) -> None:
        return self._timed("execute", sql)

    def query(self, sql: str):
        return self._timed("query", sql)

    def register(self, *args, **kwargs):
        return self.engine.register(*args, **kwargs)

    def close(self) -> None:
        self.engine.close()


def _children_cpu() -> float:
    """User + system CPU seconds of this process's live child processes (Spark's JVM)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def step_times(touchpoints: str, conversions: str, engine: str) -> str:
    """Where the attribution data steps spend their time on ``engine``: engine start, staging
    (validation on the driver and registering the views) and every SQL statement of
    ``workbench.journeys.run_steps``, as a Markdown table (wall s, driver CPU s, child CPU s)."""
    from workbench import io, journeys
    from workbench.engines import make_engine

    load = os.getloadavg()[0]
    rows = []
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    sql = make_engine(engine)
    rows.append(("engine start", time.perf_counter() - started, time.process_time() - cpu,
                 _children_cpu() - children))  # fmt: skip
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    # staged as workbench attribute stages them (integer user ids stay integers)
    io.stage(sql, "touchpoints", touchpoints, integer_ids=True)
    io.stage(sql, "conversions", conversions, integer_ids=True)
    rows.append(("staging (validation + views)", time.perf_counter() - started,
                 time.process_time() - cpu, _children_cpu() - children))  # fmt: skip
    timed = _TimedEngine(sql)
    tables = journeys.run_steps(timed, LOOKBACK_DAYS)
    sql.close()
    steps: dict[str, list[float]] = {}
    for label, *values in timed.rows:
        acc = steps.setdefault(label, [0.0, 0.0, 0.0, 0])
        for i, v in enumerate(values):
            acc[i] += v
        acc[3] += 1
    lines = [
        f"`{engine}`: {tables.n_journeys:,} journeys -> {len(tables.patterns):,} patterns "
        f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)",
        "",
        "| step | statements | wall s | driver CPU s | child CPU s (JVM) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, wall, driver, child in rows:
        lines.append(f"| {label} | | {wall:.1f} | {driver:.1f} | {child:.1f} |")
    for label, (wall, driver, child, n) in sorted(steps.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| {label} | {n} | {wall:.1f} | {driver:.1f} | {child:.1f} |")
    total = [sum(r[i] for r in rows) + sum(v[i - 1] for v in steps.values()) for i in (1, 2, 3)]
    lines.append(f"| total | | {total[0]:.1f} | {total[1]:.1f} | {total[2]:.1f} |")
    return "\n".join(lines) + "\n"


def _cell(run: dict | None) -> str:
    if run is None:
        return "not run"
    if run["code"] != 0:
        return f"failed (exit {run['code']}) after {run['seconds']:.0f} s"
    return (
        f"{run['seconds']:.0f} s wall, {run['cpu_seconds']:.0f} s CPU, {run['peak_mb']:,.0f} MB"
        f" (load {run['load'][0]:.1f}-{run['load'][1]:.1f})"
    )


def _markdown(rows: list[dict], nuts: bool) -> str:
    lines = [
        "## Attribution at scale: workbench vs ChannelAttribution Markov",
        "",
        "Synthetic journeys in Parquet (6 channels, ~7.5 touches per user, 30-day lookback). "
        "Each cell: wall clock and peak resident memory of one process (`/usr/bin/time -v`), "
        "from reading the Parquet files to the attribution result. workbench: "
        "`workbench attribute` with its defaults (DuckDB, `--method auto`, held-out "
        "refit included). Peer: pandas builds the same journeys and paths, then "
        "`ChannelAttribution.markov_model` (order 1, its defaults: simulation, 1 core). The "
        "machine (2 cores) is shared with other jobs: each cell gives the 1-minute load average "
        "before and after the run; both sides ran one after the other. CPU time (user + system) "
        "is less sensitive to the load than wall clock and is the ratio reported.",
        "",
        "| journeys | touchpoints | patterns | workbench (posterior) | ChannelAttribution "
        "Markov | workbench / Markov CPU time" + (" | workbench --method nuts |" if nuts else " |"),
        "|---:|---:|---:|---|---|---:|" + ("---|" if nuts else ""),
    ]
    for r in rows:
        ratio = r["workbench"]["cpu_seconds"] / max(r["markov"]["cpu_seconds"], 1e-9)
        lines.append(
            f"| {r.get('journeys', r['users']):,} | {r['touchpoints']:,} | "
            f"{r.get('patterns', 0):,} | {_cell(r['workbench'])} ({r.get('method', '?')}) | "
            f"{_cell(r['markov'])} | {ratio:.2f} |" + (f" {_cell(r.get('nuts'))} |" if nuts else "")
        )
    lines.append("")
    for r in rows:
        if r.get("stage_log"):
            lines.append(f"workbench stages at {r.get('journeys', r['users']):,} journeys:")
            lines.append("```")
            lines.extend(r["stage_log"])
            lines.append("```")
    return "\n".join(lines) + "\n"


def main(quick: bool = False, sizes: tuple[int, ...] | None = None, nuts: bool = False) -> str:
    rows = []
    for n_users in sizes or (QUICK_SIZES if quick else SIZES):
        print(f"[attribution_scale] {n_users:,} users ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="attribution_scale_") as tmp:
            rows.append(measure(n_users, Path(tmp), nuts))
        r = rows[-1]
        print(
            f"[attribution_scale] {n_users:,}: workbench {_cell(r['workbench'])}, "
            f"markov {_cell(r['markov'])}" + (f", nuts {_cell(r.get('nuts'))}" if nuts else ""),
            file=sys.stderr,
            flush=True,
        )
        for key in ("workbench", "markov", "nuts"):
            if key in r and r[key]["code"] != 0:
                print(r[key]["stderr"][-2000:], file=sys.stderr)
    return _markdown(rows, nuts)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", nargs="*", type=int, default=None, help="users per size")
    parser.add_argument("--nuts", action="store_true", help="also time --method nuts")
    parser.add_argument("--peer", nargs=2, metavar=("TOUCHPOINTS", "CONVERSIONS"), default=None)
    parser.add_argument(
        "--steps",
        choices=("duckdb", "spark"),
        default=None,
        help="time the data steps one by one on this engine (first size only)",
    )
    parser.add_argument("--out", default=None, help="also write the Markdown section here")
    args = parser.parse_args()
    if args.steps:
        size = (args.sizes or (QUICK_SIZES if args.quick else SIZES))[0]
        with tempfile.TemporaryDirectory(prefix="attribution_steps_") as tmp:
            tp, cv, _ = write_journeys(size, Path(tmp))
            print(step_times(str(tp), str(cv), args.steps))
    elif args.peer:
        res, n_journeys, n_paths = markov_peer(*args.peer)
        print(f"{n_journeys} journeys, {n_paths} paths")
        print(res)
    else:
        text = main(
            quick=args.quick, sizes=tuple(args.sizes) if args.sizes else None, nuts=args.nuts
        )
        print(text)
        if args.out:
            Path(args.out).write_text(text)
