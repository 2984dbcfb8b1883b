"""``workbench --help`` and every subcommand's help work, show the data contracts, and stay on
the fast path: no PyMC, PyTensor, ArviZ, xarray or pyspark import just to print help."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench import __version__
from workbench.cli import main

#: What each command's help must show: the input contract or what it produces.
CONTRACT_IN_HELP = {
    "simulate": ["touchpoints, conversions, transactions and spend", "truth.json"],
    "attribute": ["user_id, timestamp, channel [campaign, cost]", "user_id, timestamp [value]"],
    "clv": ["customer_id, timestamp, amount"],
    "plan": ["channel, period_start, spend [period_end]"],
    "report": ["HTML report"],
    "demo": ["Simulate, attribute, clv, plan, report"],
}
HEAVY_MODULES = ("pymc", "pytensor", "arviz", "xarray", "pyspark", "lifetimes")


def test_every_command_is_listed_with_the_input_contracts():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in CONTRACT_IN_HELP:
        assert f"  {name} " in result.output
    for line in (
        "touchpoints   user_id, timestamp, channel        [campaign, cost]",
        "conversions   user_id, timestamp                 [value]",
        "transactions  customer_id, timestamp, amount",
        "spend         channel, period_start, spend       [period_end, geo]",
        "outcomes      period_start, conversions          [revenue, geo]  (media mix)",
        "experiments   channel, start, end, incremental_conversions, standard_error",
    ):
        assert line in result.output


@pytest.mark.parametrize("command", list(CONTRACT_IN_HELP))
def test_each_command_help_exits_0_and_shows_its_contract(command):
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # help text is re-wrapped to the terminal
    for phrase in CONTRACT_IN_HELP[command]:
        assert phrase in text


def test_version_is_reported():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_does_not_import_the_heavy_libraries():
    probe = (
        "import sys\n"
        "from workbench.cli import main\n"
        f"for args in [['--help']] + [[c, '--help'] for c in {list(CONTRACT_IN_HELP)!r}]:\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip().splitlines()[-1]
    assert loaded == "LOADED=", f"--help imported {loaded.removeprefix('LOADED=')}"


def test_the_installed_console_script_answers_help():
    """Runs the real ``workbench`` entry point; prints its wall time for the record (the time
    is measured, not asserted: this machine's load varies)."""
    script = Path(sys.executable).with_name("workbench")
    if not script.exists():
        pytest.skip(f"no console script at {script}; install with `make install`")
    started = time.perf_counter()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: workbench")
    print(f"workbench --help wall time: {elapsed:.2f} s")
