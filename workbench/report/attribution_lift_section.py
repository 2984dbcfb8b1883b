"""The report's section on lift tests that calibrated the journey (attribution) model, from
attribution.nc written by ``workbench attribute --experiments`` (docs/contracts.md,
"Journey-model lift tests").

Shown only when attribution.nc holds lift tests: each test as measured and as the model
predicted it without and with the tests, then each channel's share of the attributed
conversions without and with them, and a figure of the shares.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from posterior_tools.settings import INTERVAL
from workbench.report.figures import COLOURS, new_figure, text
from workbench.report.markup import Section, esc, figure, num, pct, table, with_interval
from workbench.report.summaries import mean_interval


def has_lift_tests(ds: xr.Dataset | None) -> bool:
    return ds is not None and "lift_test_measured" in ds


def shares(credit: xr.DataArray) -> xr.DataArray:
    """Each channel's share of the attributed conversions, per posterior draw."""
    return credit / credit.sum("channel")


def journey_lift_section(ds: xr.Dataset) -> Section:
    """The section for an attribution Dataset with lift tests."""
    label = f"{INTERVAL:.0%} interval"
    rows = []
    for t in ds["lift_test"].values:
        sel = {"lift_test": t}
        rows.append(
            [
                esc(ds["lift_test_channel"].sel(sel).values),
                esc(ds["lift_test_start"].sel(sel).values)
                + " to "
                + esc(ds["lift_test_end"].sel(sel).values),
                esc(num(float(ds["lift_test_measured"].sel(sel))))
                + " ± "
                + esc(num(float(ds["lift_test_standard_error"].sel(sel)))),
                with_interval(*mean_interval(ds["lift_test_predicted_uncalibrated"].sel(sel))),
                with_interval(*mean_interval(ds["lift_test_predicted"].sel(sel))),
            ]
        )
    body = (
        "<p>Observational journeys credit a channel with conversions that its audience would "
        "have made anyway when it is sent to people who already mean to buy (e-mail to loyal "
        "customers, retargeting). A lift test measures what the channel caused; here each test "
        "is part of the journey model's likelihood, and the model is also fitted without them "
        "to show how far each channel moved. Ranges are "
        f"{esc(label)}s of the posterior.</p>"
        + table(
            ["Channel", "Window", "Measured lift (± s.e.)", "Model before", "Model after"],
            rows,
            numeric_from=2,
        )
    )
    before = shares(ds["attributed_conversions_uncalibrated"])
    after = shares(ds["attributed_conversions"])
    share_rows = []
    for c in ds["channel"].values:
        b, a = mean_interval(before.sel(channel=c)), mean_interval(after.sel(channel=c))
        share_rows.append(
            [
                esc(c),
                with_interval(*b, fmt=lambda v: pct(v, 1)),
                with_interval(*a, fmt=lambda v: pct(v, 1)),
                esc(f"{(a[0] - b[0]) * 100:+.1f} points"),
            ]
        )
    body += "<h3>Channel shares without and with the tests</h3>" + table(
        ["Channel", "Share without tests", "Share with tests", "Moved"], share_rows
    )
    body += figure(
        share_figure(ds),
        "Each channel's share of attributed conversions without and with the lift tests",
        f"Points are posterior means, bars {label}s.",
    )
    return Section("journey-lift-tests", "Lift tests in the journey model", body)


def share_figure(ds: xr.Dataset) -> Figure:
    """Each channel's share of attributed conversions without and with the lift tests."""
    fig = new_figure()
    ax = fig.add_subplot()
    channels = [str(c) for c in ds["channel"].values]
    y = np.arange(len(channels))
    for offset, name, colour, what in (
        (0.15, "attributed_conversions_uncalibrated", COLOURS[1], "without tests"),
        (-0.15, "attributed_conversions", COLOURS[0], "with tests"),
    ):
        per_draw = shares(ds[name])
        stats = np.array([mean_interval(per_draw.sel(channel=c)) for c in channels]) * 100
        ax.errorbar(
            stats[:, 0],
            y + offset,
            xerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]],
            fmt="o",
            color=colour,
            label=what,
        )
    ax.set_yticks(y, [text(c) for c in channels])
    ax.set_xlabel("share of attributed conversions (%)")
    ax.legend()
    return fig
