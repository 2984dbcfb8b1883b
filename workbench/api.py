"""The Python API for notebooks: the same code paths as the CLI, returning xarray Datasets.

Inputs are paths (CSV/Parquet) or pandas DataFrames. Nothing is written unless ``out=`` is given.

>>> from workbench import api
>>> ds = api.attribute("data/sim/touchpoints.parquet", "data/sim/conversions.parquet")
"""

from __future__ import annotations

from typing import Any


def attribute(touchpoints: Any, conversions: Any, **options: Any):
    """Bayesian attribution; see ``workbench attribute --help`` for the options."""
    from workbench.commands.attribute import attribute as _attribute

    return _attribute(touchpoints, conversions, **options)


def clv(transactions: Any, **options: Any):
    """BG/NBD + Gamma-Gamma CLV; see ``workbench clv --help`` for the options."""
    from workbench.commands.clv import clv as _clv

    return _clv(transactions, **options)


def plan(attribution: Any, clv: Any, spend: Any, **options: Any):
    """Budget scenarios and optimiser; see ``workbench plan --help`` for the options."""
    from workbench.commands.plan import plan as _plan

    return _plan(attribution, clv, spend, **options)


def simulate(**options: Any):
    """Simulated data with known truth; see ``workbench simulate --help``."""
    from workbench.simulate import simulate as _simulate

    return _simulate(**options)


def report(results_dir: Any = "results", out_dir: Any = "reports", **options: Any):
    """Render the HTML report from a results folder; returns the report's path."""
    from workbench.commands.report import report as _report

    return _report(results_dir, out_dir, **options)
