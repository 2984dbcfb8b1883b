"""The report's A/B test section, from ``experiment.nc`` (written by ``workbench experiment``).

The section is shown only when the results folder holds an experiment.nc. It leads with the
checks that can void the reading (sample-ratio mismatch, users left out), then per arm the
conversion rate, revenue per user and customer value with their lift over the control, the
chance each arm beats the control and the expected loss of choosing it.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from posterior_tools.settings import INTERVAL
from workbench.report.figures import COLOURS, STYLE, new_figure, text
from workbench.report.markup import Section, esc, figure, num, pct, table, with_interval
from workbench.report.results import Results
from workbench.report.summaries import mean_interval

#: Metric names in prose, with the formatter of their values.
METRIC_LABELS = {
    "conversion_rate": ("Conversion rate", lambda v: pct(v, 2)),
    "revenue_per_user": ("Revenue per user", lambda v: num(v, 2)),
    "customer_value": ("Predicted customer value per user", lambda v: num(v, 2)),
}
#: Reasons users or events were left out, in prose.
LEFT_OUT = {
    "assigned_to_several_arms": "Users assigned to more than one arm (left out of every arm)",
    "conversions_before_assignment": "Conversions before the user's assignment (not counted)",
    "orders_before_assignment": "Orders before the user's assignment (not counted)",
    "conversions_after_end": "Conversions after the end of the test (not counted)",
    "unassigned_conversions": "Conversions of users not in the test (not counted)",
}


def experiment_sections(res: Results) -> list[Section]:
    """The A/B test section, or no section when the folder has no experiment.nc; then the
    journey model's lift tests when attribution.nc has them
    (``workbench.report.attribution_lift_section``)."""
    from workbench.report.attribution_lift_section import has_lift_tests, journey_lift_section

    ds = res.experiment
    out = [] if ds is None else [experiment_section(ds)]
    if has_lift_tests(res.attribution):
        out.append(journey_lift_section(res.attribution))
    return out


def experiment_section(ds: xr.Dataset) -> Section:
    """The section for one experiment Dataset."""
    control = str(ds.attrs.get("control"))
    label = f"{INTERVAL:.0%} interval"
    body = _checks_html(ds)
    body += (
        f"<p>Each arm is compared with the control arm <strong>{esc(control)}</strong>. "
        f"Ranges are {esc(label)}s of the posterior. <em>Chance it beats control</em> is the "
        "posterior probability that the arm's true value is higher; in a test with no real "
        "difference it is as likely to be anywhere between 0% and 100%, so read it with the "
        "interval. <em>Expected loss</em> is what choosing the arm gives up, on average, if "
        "another arm is in fact better (in the metric's units; near 0 for a safe choice).</p>"
    )
    for metric in ds.coords["metric"].values:
        body += _metric_table(ds, str(metric), control)
    body += figure(
        lift_figure(ds),
        "Lift of each arm over the control, per metric, with intervals",
        f"Points are posterior means, bars {label}s; the line at 0 is the control.",
    )
    row = ds.attrs.get("lift_test")
    if isinstance(row, dict):
        body += (
            "<h3>As a lift test</h3>"
            f"<p>A hold-out of {esc(row['channel'])}: the channel caused "
            f"{esc(num(row['incremental_conversions']))} conversions "
            f"(standard error {esc(num(row['standard_error']))}) in a market of "
            f"{esc(num(row['market_users']))} users from {esc(row['start'])} to "
            f"{esc(row['end'])}. This row can calibrate the media-mix and journey models.</p>"
        )
    return Section("experiment", "A/B test", body)


def _checks_html(ds: xr.Dataset) -> str:
    p = float(ds.attrs.get("srm_p_value", np.nan))
    alpha = float(ds.attrs.get("srm_alpha", np.nan))
    if int(ds.attrs.get("srm_mismatch", 0)):
        verdict = (
            '<p class="missing"><strong>Sample-ratio mismatch.</strong> The arms\' sizes differ '
            f"from the planned split far more than chance allows (p = {esc(f'{p:.2g}')}, below "
            f"{esc(alpha)}). Users were lost or added unevenly after assignment, so the arms "
            "are no longer comparable: do not act on the results below until the cause is "
            "found.</p>"
        )
    else:
        verdict = (
            f"<p>Sample ratio: the arms' sizes agree with the planned split (chi-square test, "
            f"p = {esc(f'{p:.2g}')}).</p>"
        )
    counts = {**ds.attrs.get("excluded_users", {}), **ds.attrs.get("not_counted", {})}
    rows = [[esc(LEFT_OUT[k]), esc(num(counts[k]))] for k in LEFT_OUT if k in counts]
    return verdict + table(["Left out", "Count"], rows)


def _metric_table(ds: xr.Dataset, metric: str, control: str) -> str:
    if metric not in ds:
        return ""
    name, fmt = METRIC_LABELS.get(metric, (metric, num))
    headers = ["Arm", "Users", name, "Lift over control", "Chance it beats control"]
    headers.append("Expected loss")
    rows = []
    for arm in ds["arm"].values:
        value = mean_interval(ds[metric].sel(arm=arm))
        lift = mean_interval(ds["lift_by_metric"].sel(metric=metric, arm=arm))
        is_control = arm == control
        p_beats = float(ds["p_beats_control_by_metric"].sel(metric=metric, arm=arm))
        loss = float(ds["expected_loss_by_metric"].sel(metric=metric, arm=arm))
        rows.append(
            [
                esc(arm) + (" (control)" if is_control else ""),
                esc(num(int(ds["n_users"].sel(arm=arm)))),
                with_interval(*value, fmt),
                "–" if is_control else with_interval(*lift, lambda v: pct(v, 1)),
                "–" if is_control else esc(pct(p_beats, 1)),
                esc(fmt(loss)),
            ]
        )
    note = ""
    if metric == "customer_value" and "customer_value_absent" in ds.attrs:
        note = f"<p>{esc(ds.attrs['customer_value_absent'].get('note', ''))}.</p>"
    return f"<h3>{esc(name)}</h3>" + table(headers, rows) + note


def lift_figure(ds: xr.Dataset) -> Figure | None:
    """Posterior mean and interval of each non-control arm's lift over the control, one row per
    (metric, arm); None when there is no treatment arm."""
    control = ds.attrs.get("control")
    arms = [a for a in ds["arm"].values if a != control]
    metrics = [str(m) for m in ds.coords["metric"].values]
    if not arms or "lift_by_metric" not in ds:
        return None
    entries = [(m, a) for m in metrics for a in arms]
    with mpl.rc_context(STYLE):
        fig = new_figure(max(1.6, 0.35 * len(entries) + 1.0))
        ax = fig.add_subplot()
        for i, (metric, arm) in enumerate(entries):
            mean, lo, hi = mean_interval(ds["lift_by_metric"].sel(metric=metric, arm=arm))
            y = len(entries) - 1 - i
            colour = COLOURS[metrics.index(metric) % len(COLOURS)]
            ax.errorbar(
                100 * mean,
                y,
                xerr=[[100 * (mean - lo)], [100 * (hi - mean)]],
                fmt="o",
                color=colour,
                capsize=3,
            )
        ax.axvline(0, color="#666666", linewidth=1)
        ax.set_yticks(
            range(len(entries))[::-1],
            [f"{text(a)}: {METRIC_LABELS.get(m, (m,))[0].lower()}" for m, a in entries],
        )
        ax.set_xlabel(f"lift over {text(control)} (%)")
        ax.set_title("How much better (or worse) than the control")
    return fig
