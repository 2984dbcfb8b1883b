"""The ``workbench`` command line. Options and help live here; each command calls the typed
Python API (``workbench.api``, imported only when a command runs, so ``--help`` is fast).

Bad input raises :class:`workbench.errors.InputError`; it is printed as one line on stderr and the
process exits with code 2. Nothing is written when that happens.
"""

from __future__ import annotations

import sys
from typing import Any

import click

import posterior_tools.settings as inference
from attribution import settings as attribution_settings
from attribution.mmm import settings as mmm_settings
from clv import settings as clv_settings
from workbench import __version__
from workbench.errors import InputError
from workbench.experience import settings as cx_settings
from workbench.experiments import settings as experiment_settings

EXIT_BAD_INPUT = 2

PATH = click.Path(dir_okay=False)
ENGINE = click.Choice(["duckdb", "spark"])


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
      spend         channel, period_start, spend       [period_end, geo]
      outcomes      period_start, conversions          [revenue, geo]  (media mix)
      controls      period_start, numeric columns      [geo]           (media mix)
      experiments   channel, start, end, incremental_conversions, standard_error
      assignments   user_id, arm, assigned_at          (A/B tests)

    Results are xarray Datasets in NetCDF files; bad input exits with code 2 and one line
    naming the file, column and rows.
    """
    from posterior_tools.compiledir import use_project_cache

    # every command's PyTensor compiles go to the project's own cache (cheap first compile)
    use_project_cache()


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
    help="Shape of the true conversion model: default, additive, logistic, awareness, roles, "
    "additive_campaign_end, logistic_campaign_end, roles_campaign_end, additive_window_end, "
    "roles_window_end; or confounded (e-mail "
    "sent to high-intent users, with a hold-out test in experiments).",
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
    _call("simulate", **options)


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
@click.option(
    "--experiments",
    default=None,
    type=PATH,
    help="Lift tests: channel, start, end, incremental_conversions, standard_error (one row a "
    "test); each adds its measured lift to the model's likelihood.",
)
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
    type=click.Choice(list(clv_settings.UNIT_DAYS)),
    default=clv_settings.TIME_UNIT,
    show_default=True,
    help="Days, weeks (days/7) or months (days/{M:g}).".format(**clv_settings.UNIT_DAYS),
)
@click.option(
    "--horizon", default=clv_settings.HORIZON, show_default=True, help="CLV horizon in time units."
)
@click.option(
    "--annual-discount-rate",
    default=clv_settings.ANNUAL_DISCOUNT_RATE,
    show_default=True,
    help="Yearly discount rate as a fraction.",
)
@click.option(
    "--method",
    type=click.Choice(clv_settings.METHODS),
    default=clv_settings.METHOD,
    show_default=True,
    help="Maximum likelihood (lifetimes' likelihoods) or PyMC posteriors with intervals.",
)
@click.option(
    "--posterior",
    type=click.Choice(clv_settings.POSTERIORS),
    default=clv_settings.POSTERIOR,
    show_default=True,
    help="With --method bayes: NUTS, a Laplace approximation, or auto (NUTS up to "
    f"{clv_settings.NUTS_MAX_ROWS:,} unique frequency/recency/T rows, Laplace above).",
)
@click.option("--draws", default=inference.DRAWS, show_default=True, help="Draws per chain.")
@click.option("--tune", default=inference.TUNE, show_default=True, help="Tuning steps per chain.")
@click.option("--chains", default=inference.CHAINS, show_default=True)
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
@click.option(
    "--compare-models/--no-compare-models",
    default=True,
    show_default=True,
    help="With a holdout, also score the modified BG/NBD and Pareto/NBD on it.",
)
@click.option("--seed", default=clv_settings.SEED, show_default=True)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
def clv(**options):
    """Customer lifetime value: BG/NBD + Gamma-Gamma (lifetimes MLE or PyMC posterior)."""
    _call("clv", **options)


@main.command()
@click.option(
    "--attribution",
    default=None,
    type=PATH,
    help="attribution.nc from attribute: the journey model plans channels with touches.",
)
@click.option("--clv", default=None, type=PATH, help="clv.nc from clv (needed with --attribution).")
@click.option(
    "--spend",
    default=None,
    type=PATH,
    help="channel, period_start, spend [period_end], weekly (needed with --attribution).",
)
@click.option(
    "--mmm",
    default=None,
    type=PATH,
    help="mmm.nc from mmm: the media-mix model plans channels without user-level touches.",
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
    """Budget scenarios and an optimiser, valued with conversions and CLV, with intervals.

    Give --attribution (with --clv and --spend), --mmm, or both: channels with user-level
    touches are planned with the journey model, the others with the media-mix model, in one
    optimiser; a channel in both models is planned with the journey model and both estimates
    are stored side by side in plan.nc."""
    from workbench.pipelines.plan_summary import summary_lines

    ds = _call("plan", **options)
    click.echo("\n".join([*summary_lines(ds), f"wrote {options['out']}"]))


@main.command()
@click.option(
    "--assignments", required=True, type=PATH, help="user_id, arm, assigned_at (one arm a user)."
)
@click.option("--conversions", required=True, type=PATH, help="user_id, timestamp [value].")
@click.option(
    "--transactions",
    default=None,
    type=PATH,
    help="customer_id, timestamp, amount: revenue per user (else the conversions' value).",
)
@click.option("--clv", default=None, type=PATH, help="clv.nc: predicted customer value per arm.")
@click.option(
    "--control",
    default=None,
    help=f"The arm others are compared with [default: {experiment_settings.CONTROL_ARM}, or "
    f"{experiment_settings.HOLDOUT_ARM} with --channel].",
)
@click.option(
    "--split", default=None, help="Planned shares, e.g. control=50,treatment=50 [default: equal]."
)
@click.option(
    "--metric",
    type=click.Choice(experiment_settings.METRICS),
    default=experiment_settings.DECISION_METRIC,
    show_default=True,
    help="What lift, P(beats control) and expected loss refer to.",
)
@click.option("--end", default=None, help="End of the test (exclusive); later events not counted.")
@click.option(
    "--channel", default=None, help="The arms are a hold-out of this channel (lift-test row)."
)
@click.option(
    "--lift-test-out",
    default=None,
    type=PATH,
    help="Write the hold-out's lift-test row (channel, start, end, incremental_conversions, "
    "standard_error) to this CSV/Parquet file.",
)
@click.option(
    "--market-users",
    default=None,
    type=float,
    help="Users in the whole market, to scale the lift-test row [default: users in the test].",
)
@click.option(
    "--clv-absent",
    type=click.Choice(experiment_settings.CLV_ABSENT_RULES),
    default=experiment_settings.CLV_ABSENT,
    show_default=True,
    help="Value of users absent from clv.nc: the mean of its customers, or zero.",
)
@click.option("--draws", default=experiment_settings.POSTERIOR_DRAWS, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
@click.option("--out", default="results/experiment.nc", show_default=True, type=PATH)
def experiment(**options):
    """A/B test with posteriors: conversion rate, revenue per user and customer value per arm,
    lift over the control with intervals, P(beats control), expected loss; checks for
    sample-ratio mismatch, users in several arms and conversions before assignment.
    """
    from workbench.pipelines.experiment import describe

    ds = _call("experiment", **options)
    click.echo(describe(ds))
    click.echo(f"wrote {options['out']}")
    if options["lift_test_out"]:
        click.echo(f"wrote {options['lift_test_out']}")


@main.command("experiment-size")
@click.option(
    "--baseline-rate", required=True, type=float, help="Control conversion rate (0.05 = 5%)."
)
@click.option(
    "--mde",
    "relative_mde",
    default=None,
    type=float,
    help="Smallest relative lift to detect (0.1 = +10%): gives the users needed.",
)
@click.option(
    "--users",
    "control_users",
    default=None,
    type=int,
    help="Users in the control arm: gives the minimum detectable effect.",
)
@click.option(
    "--alpha", default=experiment_settings.PLAN_ALPHA, show_default=True, help="Two-sided."
)
@click.option("--power", default=experiment_settings.PLAN_POWER, show_default=True)
@click.option("--ratio", default=1.0, show_default=True, help="Treatment users per control user.")
@click.option("--arms", default=2, show_default=True, help="Arms including the control.")
@click.option("--daily-users", default=None, type=float, help="Users entering per day.")
def experiment_size(**options):
    """Plan a conversion-rate test: users needed for a lift (--mde), or the lift a size can
    detect (--users), with statsmodels' power tools."""
    from workbench.pipelines.experiment_size import describe_size

    click.echo(describe_size(_call("experiment_size", **options)))


@main.command()
@click.option(
    "--surveys", required=True, type=PATH, help="customer_id, timestamp, score (0-10) [channel]."
)
@click.option(
    "--touchpoints",
    default=None,
    type=PATH,
    help="user_id, timestamp, channel [stage]: touches for the journey-stage funnel.",
)
@click.option(
    "--stages",
    default=None,
    type=PATH,
    help="YAML: 'stages' in funnel order (default "
    + ", ".join(cx_settings.DEFAULT_STAGES)
    + ") and 'channels' (channel: stage) for touches without a stage.",
)
@click.option("--clv", default=None, type=PATH, help="clv.nc: CLV and P(alive) by NPS group.")
@click.option(
    "--attribution",
    default=None,
    type=PATH,
    help="attribution.nc: each customer's acquisition channel (largest credit).",
)
@click.option(
    "--transactions",
    default=None,
    type=PATH,
    help="customer_id, timestamp, amount: surveys of unknown customers are reported.",
)
@click.option(
    "--customers",
    default=None,
    type=PATH,
    help="customer_id [channel, segment]: acquisition channel and segment per customer.",
)
@click.option("--out", default="results/cx.nc", show_default=True, type=PATH)
@click.option(
    "--draws",
    default=cx_settings.POSTERIOR_DRAWS,
    show_default=True,
    help="Posterior draws (exact, from the conjugate Dirichlet posterior).",
)
@click.option("--seed", default=cx_settings.SEED, show_default=True)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
def cx(**options):
    """Customer experience: NPS by month, channel and segment with intervals, customer value by
    NPS group, who answered, and the journey-stage funnel."""
    from workbench.pipelines.cx import summary_line

    ds = _call("cx", **options)
    click.echo(f"{summary_line(ds)}; wrote {options['out']}")


def _roi_priors(_ctx, _param, values) -> dict[str, tuple[float, float]] | None:
    priors = {}
    for text in values:
        channel, _, rest = text.partition("=")
        mean, _, sd = rest.partition(":")
        try:
            priors[channel.strip()] = (float(mean), float(sd))
        except ValueError:
            raise click.BadParameter(
                f"'{text}': expected CHANNEL=MEAN:SD such as tv=0.01:0.005"
            ) from None
        if not (channel.strip() and float(mean) > 0 and float(sd) > 0):
            raise click.BadParameter(f"'{text}': needs a channel and a positive mean and sd")
    return priors or None


@main.command()
@click.option(
    "--spend", required=True, type=PATH, help="channel, period_start, spend [period_end, geo]."
)
@click.option(
    "--outcomes", default=None, type=PATH, help="period_start, conversions [revenue, geo]."
)
@click.option(
    "--conversions",
    default=None,
    type=PATH,
    help="Instead of --outcomes: user-level conversions (user_id, timestamp), counted per week.",
)
@click.option("--controls", default=None, type=PATH, help="period_start [geo] + numeric columns.")
@click.option(
    "--experiments",
    default=None,
    type=PATH,
    help="Lift tests: channel, start, end, incremental_conversions, standard_error.",
)
@click.option("--out", default="results/mmm.nc", show_default=True, type=PATH)
@click.option(
    "--adstock",
    type=click.Choice((mmm_settings.AUTO, *mmm_settings.ADSTOCKS)),
    default=mmm_settings.DEFAULT_ADSTOCK,
    show_default=True,
    help=f"Carry-over form; {mmm_settings.AUTO}: fit each and keep the better PSIS-LOO fit.",
)
@click.option(
    "--saturation",
    type=click.Choice((mmm_settings.AUTO, *mmm_settings.SATURATIONS)),
    default=mmm_settings.DEFAULT_SATURATION,
    show_default=True,
    help=f"Saturation form; {mmm_settings.AUTO}: as for --adstock.",
)
@click.option(
    "--l-max", default=mmm_settings.L_MAX, show_default=True, help="Longest carry-over, weeks."
)
@click.option(
    "--roi-prior",
    multiple=True,
    callback=_roi_priors,
    help="CHANNEL=MEAN:SD, a prior on the channel's ROI (conversions per unit spend); repeat.",
)
@click.option("--draws", default=inference.DRAWS, show_default=True)
@click.option("--tune", default=inference.TUNE, show_default=True)
@click.option("--chains", default=inference.CHAINS, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--holdout-check/--no-holdout-check",
    default=True,
    show_default=True,
    help=f"Refit without the last {mmm_settings.HOLDOUT_SHARE:.0%} of weeks (out-of-sample MAPE).",
)
@click.option(
    "--sampler",
    type=click.Choice(mmm_settings.SAMPLERS),
    default=mmm_settings.SAMPLER,
    show_default=True,
)
@click.option("--engine", type=ENGINE, default="duckdb", show_default=True)
def mmm(**options):
    """Bayesian media-mix model on weekly spend: contribution, ROI, carry-over and saturation
    per channel with 90% intervals, response curves, fit checks; lift tests calibrate it.
    """
    from workbench.pipelines.mmm import summary_lines

    ds = _call("mmm", **options)
    click.echo("\n".join([*summary_lines(ds), f"wrote {options['out']}"]))


@main.command("simulate-media")
@click.option("--out", "out", default="data/media", show_default=True, type=click.Path())
@click.option(
    "--world",
    default="retail",
    show_default=True,
    help="retail, brand, big_baseline or confounded (workbench.sim.media.WORLDS).",
)
@click.option("--geos", default=0, show_default=True, help="Split the world into this many geos.")
@click.option("--seed", default=1, show_default=True)
def simulate_media(**options):
    """Simulate a weekly media world with known truth: spend.csv, outcomes.csv, controls.csv,
    experiments.csv (confounded world) and truth.json (true contribution and ROI per channel)."""
    _call("simulate_media", **options)
    click.echo(f"wrote {options['out']}")


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
    """Render one self-contained HTML report (and the budget planner page, planner.html,
    when plan.nc is there) from a results folder."""
    path = _call("report", **options)
    click.echo(f"report: {path}")


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
    _call("demo", **options)


if __name__ == "__main__":  # pragma: no cover
    main()
