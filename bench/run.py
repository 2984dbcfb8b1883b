"""`make bench`: every side-by-side comparison with the peers, in one run, into bench/RESULTS.md.

Each bench module exposes ``main(quick: bool) -> str`` returning a Markdown section. Sizes are
set in the modules; ``--quick`` shrinks them for a smoke run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

MODULES = ["bench.attribution_accuracy", "bench.attribution_scale", "bench.clv_scale"]
RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", nargs="*", default=None, help="module names to run")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    header = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (`python -m bench.run`) on {dt.date.today()}, commit {commit};",
        f"machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}.",
        "Each table was measured in the same run, peers and workbench on the same files.",
        "",
    ]
    sections = []
    for name in MODULES:
        if args.only and name.split(".")[-1] not in args.only:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            sections.append(f"## {name}\n\nnot available: {err}\n")
            continue
        start = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        sections.append(module.main(quick=args.quick))
        print(f"[bench] {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    RESULTS.write_text("\n".join(header + sections))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
