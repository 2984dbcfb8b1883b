"""The ``workbench`` command line. Options and help live here; each command's work lives in
``workbench/commands/<name>.py`` (imported only when that command runs, so ``--help`` is fast).

Bad input raises :class:`workbench.errors.InputError`; it is printed as one line on stderr and the
process exits with code 2. Nothing is written when that happens.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

import posterior_tools.settings as inference
from attribution import settings as attribution_settings
from workbench import __version__
from workbench.errors import InputError

EXIT_BAD_INPUT = 2

PATH = click.Path(dir_okay=False)
ENGINE = click.Choice(["duckdb", "spark"])


def _run(command: str, **options: object) -> None:
    try:
        module = importlib.import_module(f"workbench.commands.{command}")
        module.run(**options)
    except InputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)


def _call(function_name: str, **options: object) -> Any:
    """Call ``workbench.api.<function_name>(**options)``; bad input becomes one line and exit 2."""
    from workbench import api

    try:
        return getattr(api, function_name)(**options)
    except InputError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="workbench")
def main() -> None:
    """Multi-touch attribution, customer lifetime value and budget planning.

    \b
    Inputs (CSV or Parquet, chosen by extension):
      touchpoints   user_id, timestamp, channel        [campaign, cost]
      conversions   user_id, timestamp                 [value]
      transactions  customer_id, timestamp, amount
      spend         channel, period_start, spend       [period_end]

    Results are xarray Datasets in NetCDF files; bad input exits with code 2 and one line
    naming the file, column and rows.
    """


@main.command()
@click.option(
    "--out",
    "out_dir",
    default="data/sim",
    show_default=True,
    help="Folder for the generated files.",
)
@click.option("--users", default=20_000, show_default=True, help="Users who receive touches.")
@click.option("--weeks", default=12, show_default=True, help="Weeks of touches and spend.")
@click.option(
    "--scenario",
    default="default",
    show_default=True,
    help="Shape of the true conversion model: default, additive, logistic, awareness.",
)
@click.option("--seed", default=1, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True
)
def simulate(**options):
    """Simulate journeys, conversions, repeat purchases and spend with known truth.

    Writes touchpoints, conversions, transactions and spend, plus truth.json (each channel's true
    incremental conversions and Shapley shares, the BG/NBD and Gamma-Gamma parameters per
    acquisition channel, the spend response) beside them.
    """
    _run("simulate", **options)


@main.command()
@click.option(
    "--touchpoints", required=True, type=PATH, help="user_id, timestamp, channel [campaign, cost]."
)
@click.option("--conversions", required=True, type=PATH, help="user_id, timestamp [value].")
@click.option("--out", default="results/attribution.nc", show_default=True, type=PATH)
@click.option(
    "--lookback-days",
    default=attribution_settings.DEFAULT_LOOKBACK_DAYS,
    show_default=True,
    help="Touches older than this (days) before a conversion get no credit.",
)
@click.option("--seed", default=1, show_default=True)
@click.option("--draws", default=inference.DRAWS, show_default=True, help="Draws per chain.")
@click.option("--tune", default=inference.TUNE, show_default=True, help="Tuning steps per chain.")
@click.option("--chains", default=inference.CHAINS, show_default=True)
@click.option(
    "--method",
    type=click.Choice(attribution_settings.METHODS),
    default="auto",
    show_default=True,
    help="Posterior: NUTS, a Laplace approximation, or auto (NUTS up to "
    f"{attribution_settings.NUTS_MAX_CONVERTING_PATTERNS:,} converting patterns, Laplace above; "
    "the held-out check always refits by Laplace).",
)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
def attribute(**options):
    """Bayesian multi-touch attribution from user journeys.

    Fits a conversion model on journeys (converting and not), credits channels by the exact
    Shapley value of the model's conversion probability per posterior draw, and stores the
    heuristic (first, last, linear, time-decay, position-based) and Markov baselines beside it.
    """
    _call("attribute", **options)


@main.command()
@click.option("--transactions", required=True, type=PATH, help="customer_id, timestamp, amount.")
@click.option("--out", default="results/clv.nc", show_default=True, type=PATH)
@click.option(
    "--calibration-end",
    default=None,
    help="Last day of the calibration period (YYYY-MM-DD); default: last transaction.",
)
@click.option("--holdout-end", default=None, help="Last day of the holdout period (YYYY-MM-DD).")
@click.option(
    "--time-unit",
    type=click.Choice(["D", "W", "M"]),
    default="W",
    show_default=True,
    help="Days, weeks (days/7) or months (days/30.4375).",
)
@click.option("--horizon", default=52.0, show_default=True, help="CLV horizon in time units.")
@click.option("--annual-discount-rate", default=0.1, show_default=True)
@click.option("--method", type=click.Choice(["mle", "bayes"]), default="mle", show_default=True)
@click.option(
    "--customers",
    default=None,
    type=PATH,
    help="Optional customer_id + attribute columns for segments.",
)
@click.option(
    "--attribution",
    "attribution_path",
    default=None,
    type=PATH,
    help="attribution.nc, to summarise CLV by acquisition channel.",
)
@click.option("--seed", default=1, show_default=True)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
def clv(**options):
    """Customer lifetime value: BG/NBD + Gamma-Gamma (lifetimes MLE or PyMC posterior)."""
    _run("clv", **options)


@main.command()
@click.option("--attribution", required=True, type=PATH, help="attribution.nc from attribute.")
@click.option("--clv", required=True, type=PATH, help="clv.nc from clv.")
@click.option(
    "--spend", required=True, type=PATH, help="channel, period_start, spend [period_end]."
)
@click.option(
    "--scenarios", default=None, type=PATH, help="YAML or CSV of per-channel spend changes."
)
@click.option("--out", default="results/plan.nc", show_default=True, type=PATH)
@click.option(
    "--budget",
    default=None,
    type=float,
    help="Total budget for the optimiser (default: current total).",
)
@click.option(
    "--objective",
    default="mean",
    show_default=True,
    help="'mean' or a lower quantile such as 'q10'.",
)
@click.option("--seed", default=1, show_default=True)
def plan(**options):
    """Budget scenarios and an optimiser, valued with conversions and CLV, with intervals."""
    from workbench.pipelines.plan import summary_lines

    ds = _call("plan", **options)
    click.echo("\n".join([*summary_lines(ds), f"wrote {options['out']}"]))


@main.command()
@click.option(
    "--results",
    "results_dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option(
    "--out", "out_dir", default="reports", show_default=True, type=click.Path(file_okay=False)
)
def report(**options):
    """Render one self-contained HTML report from a results folder."""
    _run("report", **options)


@main.command()
@click.option(
    "--workdir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where data/, results/ and reports/ are written.",
)
@click.option("--users", default=20_000, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--notebooks/--no-notebooks", default=True, show_default=True)
def demo(**options):
    """Simulate, attribute, clv, plan, report and execute the notebooks, end to end."""
    _run("demo", **options)


if __name__ == "__main__":  # pragma: no cover
    main()
