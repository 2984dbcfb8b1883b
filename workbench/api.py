"""The Python API for notebooks: the same code paths as the CLI, returning xarray Datasets.

Inputs are paths (CSV/Parquet) or pandas DataFrames. Nothing is written unless ``out=`` is given.
Each job's function is its pipeline's (``workbench.pipelines.<job>``), with explicit, typed
parameters and their defaults, so ``help()`` and tab completion show all of them.

>>> from workbench import api
>>> ds = api.attribute("data/sim/touchpoints.parquet", "data/sim/conversions.parquet")
"""

from __future__ import annotations

import os

import pandas as pd

from workbench.pipelines.attribution import attribute
from workbench.pipelines.clv import clv
from workbench.pipelines.cx import cx
from workbench.pipelines.experiment import experiment
from workbench.pipelines.experiment_size import experiment_size
from workbench.pipelines.mmm import mmm
from workbench.pipelines.plan import plan
from workbench.pipelines.report import report

__all__ = [
    "attribute",
    "calibration_split",
    "cdnow_transactions",
    "clv",
    "cx",
    "demo",
    "experiment",
    "experiment_size",
    "mmm",
    "plan",
    "report",
    "simulate",
    "simulate_media",
]


def cdnow_transactions(which: str = "sample") -> pd.DataFrame:
    """The CDNOW transactions of Fader, Hardie & Lee (2005), as shipped inside lifetimes, in the
    transactions contract: customer_id (str), timestamp (one per purchase day), amount (US
    dollars).

    Args:
        which: ``sample`` (the 2,357 customers the BG/NBD and Gamma-Gamma papers fit) or
            ``master`` (the full cohort of 23,570 customers who first bought in 1997 Q1). The
            papers calibrate to ``workbench.cdnow.CALIBRATION_END`` (1997-09-30) and hold out
            to ``workbench.cdnow.HOLDOUT_END`` (1998-06-30).
    """
    from workbench.cdnow import cdnow_transactions as load

    return load(which)


def simulate(
    users: int = 20_000,
    weeks: int = 12,
    scenario: str = "default",
    seed: int = 1,
    out_dir: str | os.PathLike | None = None,
    fmt: str = "parquet",
):
    """Simulated journeys, conversions, repeat purchases, spend, surveys and journey stages with
    known truth.

    Args:
        users: users who receive touches (unreached users who buy organically come on top).
        weeks: weeks of touches and spend (repeat purchases run 52 weeks beyond).
        scenario: shape of the true conversion model (``workbench simulate --help`` lists them).
        seed: random seed; the same arguments give the same data.
        out_dir: when given, write every table (``fmt``: parquet or csv) and truth.json there.
        fmt: file format of the written tables.

    Returns:
        ``workbench.simulate.SimulatedData`` with DataFrames ``touchpoints``, ``conversions``,
        ``transactions``, ``spend`` and the ``truth`` dict.
    """
    if out_dir is not None:
        from workbench.pipelines.simulate import simulate_to_folder

        return simulate_to_folder(
            out_dir, users=users, weeks=weeks, scenario=scenario, seed=seed, fmt=fmt
        )
    from workbench.simulate import simulate as run

    return run(users=users, weeks=weeks, scenario=scenario, seed=seed)


def calibration_split(transactions: str | os.PathLike) -> tuple[str, str]:
    """``(calibration_end, holdout_end)`` as YYYY-MM-DD for a transactions file: the holdout is
    the last ``1 - workbench.calibration.CALIBRATION_SHARE`` of the window from the first to the
    last purchase (the demo's split)."""
    from workbench.calibration import calibration_split as split

    return split(transactions)


def simulate_media(
    world: str = "retail", seed: int = 1, geos: int = 0, out: str | os.PathLike | None = None
):
    """A weekly media world with known truth (``workbench.sim.media.WORLDS``: retail, brand,
    big_baseline, confounded). Returns the simulation (``spend``, ``outcomes``, ``controls``,
    ``experiments`` DataFrames and the ``truth`` dict); with ``out``, also writes them there as
    CSV plus truth.json."""
    from workbench.sim.media import simulate_media as sim
    from workbench.sim.media import write_media

    result = sim(world, seed=seed, geos=geos)
    if out is not None:
        write_media(result, out)
    return result


def demo(
    workdir: str | os.PathLike = ".",
    users: int = 20_000,
    seed: int = 1,
    notebooks: bool = True,
) -> dict[str, str]:
    """Simulate, attribute, clv, media mix, plan (both models), experiment, customer experience,
    report and the notebooks, end to end, under ``workdir`` (data/sim, results, reports).

    Args:
        workdir: folder for data/, results/ and reports/.
        users: simulated users who receive touches.
        seed: random seed of the simulation and the samplers.
        notebooks: also execute the notebooks headless into reports/notebooks.

    Returns:
        Each stage's outcome: ``done`` or ``skipped: <why>`` (a failed stage raises
        ``workbench.pipelines.demo.DemoFailed`` at the end, after the other stages ran).
    """
    from workbench.pipelines.demo import demo as run

    return run(workdir=workdir, users=users, seed=seed, notebooks=notebooks)
