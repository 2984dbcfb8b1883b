"""Demo pipeline (``workbench demo``): simulate -> attribute -> clv -> media mix -> plan (both
models) -> experiment -> customer experience -> report -> notebooks, end to end.

Everything lands under ``workdir``: the simulated inputs in ``data/sim``, the result files in
``results``, the report and executed notebooks in ``reports``. Each stage is one call of the
typed API (:mod:`workbench.api`) and prints one line when it starts and one with its duration.
A stage that needs another's output which is missing says it is skipped; a stage that fails for
another reason is shown and the demo goes on, then fails at the end. Bad input
(:class:`InputError`) stops the demo with exit code 2.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from posterior_tools.settings import CHAINS, DRAWS, TUNE
from workbench import api
from workbench.calibration import calibration_split
from workbench.errors import InputError

#: Demo settings: sized so that ``make demo`` finishes in about ten minutes on two cores; the
#: sampler settings are the defaults of ``posterior_tools.settings``.
DEMO_USERS = 20_000
DEMO_WEEKS = 12
#: Budget scenarios the demo evaluates (their channel names are the simulator's).
EXAMPLE_SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios_example.yaml"
#: The simulated media world the demo's media-mix stage fits (workbench.sim.media.WORLDS).
DEMO_MEDIA_WORLD = "retail"


@dataclass
class _Paths:
    workdir: Path

    @property
    def data(self) -> Path:
        return self.workdir / "data" / "sim"

    @property
    def results(self) -> Path:
        return self.workdir / "results"

    @property
    def reports(self) -> Path:
        return self.workdir / "reports"

    def result(self, name: str) -> Path:
        return self.results / f"{name}.nc"


def demo(
    workdir: str | Path = ".",
    users: int = DEMO_USERS,
    seed: int = 1,
    notebooks: bool = True,
    *,
    draws: int = DRAWS,
    tune: int = TUNE,
    chains: int = CHAINS,
    weeks: int = DEMO_WEEKS,
    attribution_method: str = "auto",
) -> dict[str, str]:
    """Run every stage on simulated data of ``users`` users (``weeks`` weeks of touches), with
    ``chains`` x ``draws`` NUTS draws after ``tune`` tuning steps (``attribution_method``: auto,
    nuts or laplace, as ``workbench attribute --method``).

    Returns each stage's outcome: ``done``, ``skipped: <why>`` or ``failed: <why>``.
    """
    if int(users) < 1:
        raise InputError(f"--users must be at least 1; got {users}")
    if min(int(draws), int(tune), int(chains)) < 1:
        raise InputError("draws, tune and chains must be at least 1")
    paths = _Paths(Path(workdir))
    outcome: dict[str, str] = {}

    def done(stage: str) -> bool:
        # Only this run's outputs count: a file left by an earlier run may not match the data.
        return outcome.get(stage) == "done"

    stages: list[tuple[str, Callable[[], Any]]] = [
        ("simulate", lambda: _simulate(paths, users, weeks, seed)),
        (
            "attribute",
            lambda: _attribute(
                paths, seed, draws, tune, chains, attribution_method, done("simulate")
            ),
        ),
        ("clv", lambda: _clv(paths, seed, done("simulate"), done("attribute"))),
        ("mmm", lambda: _mmm(paths, seed, draws, tune, chains)),
        ("plan", lambda: _plan(paths, seed, done("attribute"), done("clv"), done("mmm"))),
        ("experiment", lambda: _experiment(paths, seed)),
        ("cx", lambda: _cx(paths, seed, done("simulate"), done("attribute"), done("clv"))),
        ("report", lambda: _report(paths, any(map(done, REPORTED_STAGES)))),
    ]
    if notebooks:
        stages.append(("notebooks", lambda: _notebooks(paths, seed)))

    started = time.perf_counter()
    for i, (name, step) in enumerate(stages, start=1):
        tag = f"[{i}/{len(stages)}] {name}"
        click.echo(f"{tag} ...")
        t0 = time.perf_counter()
        try:
            step()
        except _Skip as why:
            click.echo(f"{tag}: skipped ({why})")
            outcome[name] = f"skipped: {why}"
            continue
        except InputError:
            raise
        except Exception as err:
            # A bug or a model that failed: show it, keep going so the later stages still run
            # on what exists, and fail the demo at the end.
            click.echo(traceback.format_exc(), err=True)
            click.echo(f"{tag}: FAILED after {time.perf_counter() - t0:.1f} s ({_summary(err)})")
            outcome[name] = f"failed: {_summary(err)}"
            continue
        click.echo(f"{tag} done in {time.perf_counter() - t0:.1f} s")
        outcome[name] = "done"
    elapsed = time.perf_counter() - started
    failed = [name for name, what in outcome.items() if what.startswith("failed")]
    if failed:
        raise DemoFailed(f"demo: {', '.join(failed)} failed (see above); {elapsed:.1f} s", outcome)
    click.echo(f"demo finished in {elapsed:.1f} s; results in {paths.results}")
    return outcome


class DemoFailed(click.ClickException):
    """A stage failed for a reason other than bad input; the CLI exits with code 1."""

    def __init__(self, message: str, outcome: dict[str, str]) -> None:
        super().__init__(message)
        self.outcome = outcome


def _summary(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


class _Skip(Exception):
    """A stage cannot run because an earlier stage's output is missing."""


#: Stages whose results the report shows; it runs when any of them is done.
REPORTED_STAGES = ("attribute", "clv", "plan", "mmm", "experiment", "cx")


def _needs(ready: bool, what: str) -> None:
    if not ready:
        raise _Skip(f"needs {what}")


def _input(paths: _Paths, table: str) -> str:
    found = sorted(paths.data.glob(f"{table}.*"))
    if not found:
        raise _Skip(f"needs {table} in {paths.data} from simulate")
    return str(found[0])


def _simulate(paths: _Paths, users: int, weeks: int, seed: int) -> None:
    api.simulate(users=int(users), weeks=weeks, seed=seed, out_dir=paths.data)


def _attribute(
    paths: _Paths,
    seed: int,
    draws: int,
    tune: int,
    chains: int,
    method: str,
    simulated: bool,
) -> None:
    _needs(simulated, "the simulated data")
    api.attribute(
        _input(paths, "touchpoints"),
        _input(paths, "conversions"),
        out=str(paths.result("attribution")),
        seed=seed,
        draws=draws,
        tune=tune,
        chains=chains,
        method=method,
    )


def _clv(paths: _Paths, seed: int, simulated: bool, attributed: bool) -> None:
    _needs(simulated, "the simulated data")
    transactions = _input(paths, "transactions")
    calibration_end, holdout_end = calibration_split(transactions)
    click.echo(f"  calibration to {calibration_end}, holdout to {holdout_end}")
    api.clv(
        transactions,
        out=str(paths.result("clv")),
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        attribution_path=str(paths.result("attribution")) if attributed else None,
        seed=seed,
    )


def _plan(paths: _Paths, seed: int, attributed: bool, valued: bool, media_mix: bool) -> None:
    """Plan the journey channels, and the media-mix channels too when that stage ran."""
    _needs(attributed, "attribution.nc from attribute")
    _needs(valued, "clv.nc from clv")
    api.plan(
        str(paths.result("attribution")),
        str(paths.result("clv")),
        _input(paths, "spend"),
        mmm=str(paths.result("mmm")) if media_mix else None,
        scenarios=str(EXAMPLE_SCENARIOS) if EXAMPLE_SCENARIOS.is_file() else None,
        out=str(paths.result("plan")),
        seed=seed,
    )


def _cx(paths: _Paths, seed: int, simulated: bool, attributed: bool, valued: bool) -> None:
    """NPS, value by NPS group and the stage funnel from the simulator's surveys and
    stage-tagged touches, joined to attribution.nc and clv.nc when those were made."""
    from workbench.pipelines.cx import summary_line

    _needs(simulated, "the simulated data")
    stage_map = paths.data / "stages.yaml"
    ds = api.cx(
        _input(paths, "surveys"),
        touchpoints=_input(paths, "stage_touches"),
        stages=str(stage_map) if stage_map.is_file() else None,
        clv=str(paths.result("clv")) if valued else None,
        attribution=str(paths.result("attribution")) if attributed else None,
        transactions=_input(paths, "transactions"),
        seed=seed,
        out=str(paths.result("cx")),
    )
    click.echo(f"  {summary_line(ds)}")


def _report(paths: _Paths, any_results: bool) -> None:
    _needs(any_results, "results from " + ", ".join(REPORTED_STAGES))
    api.report(paths.results, paths.reports)


def _experiment(paths: _Paths, seed: int) -> None:
    """Simulate an A/B test with known truth (control 5%, treatment 6%) into data/sim/abtest
    and analyse it into results/experiment.nc."""
    from workbench.pipelines.experiment import describe
    from workbench.sim.abtest import ab_world

    inputs = ab_world(seed=seed).write(paths.data / "abtest")
    ds = api.experiment(
        str(inputs["assignments"]),
        str(inputs["conversions"]),
        transactions=str(inputs["transactions"]),
        seed=seed,
        out=str(paths.result("experiment")),
    )
    click.echo("  " + describe(ds).replace("\n", "\n  "))


def _mmm(paths: _Paths, seed: int, draws: int, tune: int, chains: int) -> None:
    """Simulate a weekly media world with known truth into data/media and fit the media-mix
    model into results/mmm.nc."""
    from workbench.pipelines.mmm import summary_lines

    folder = paths.data / "media"
    api.simulate_media(DEMO_MEDIA_WORLD, seed=seed, out=folder)
    ds = api.mmm(
        str(folder / "spend.csv"),
        str(folder / "outcomes.csv"),
        controls=str(folder / "controls.csv"),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        out=str(paths.result("mmm")),
    )
    click.echo("  " + "\n  ".join(summary_lines(ds)))


def _notebooks(paths: _Paths, seed: int) -> None:
    from workbench.notebooks import run_notebooks

    run_notebooks(
        paths.workdir,
        data_dir=paths.data,
        results_dir=paths.results,
        out_dir=paths.reports / "notebooks",
        seed=seed,
    )
