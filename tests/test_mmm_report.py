"""The report's media-mix section reads an mmm.nc-shaped Dataset: every number shown comes from
it, channel names are escaped, a poor fit is flagged, and lift tests appear with before/after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from workbench.report.mmm_section import mmm_section, summary_items


def _dataset(fit_ok: bool = True) -> xr.Dataset:
    rng = np.random.default_rng(0)
    chans = ["<b>tv</b>", "search"]
    periods = pd.date_range("2024-01-01", periods=30, freq="7D").to_numpy()
    roi = np.stack([rng.normal(0.01, 0.001, (1, 50)), rng.normal(0.02, 0.002, (1, 50))], -1)
    spend_total = np.array([1e5, 5e4])
    return xr.Dataset(
        {
            "roi": (("chain", "draw", "channel"), roi),
            "roi_uncalibrated": (("chain", "draw", "channel"), roi * 1.5),
            "contribution": (("chain", "draw", "channel"), roi * spend_total),
            "spend_total": (("channel",), spend_total),
            "kpi": (("period",), np.full(30, 1000.0)),
            "baseline": (("chain", "draw", "period"), np.full((1, 50, 30), 900.0)),
            "contribution_over_time": (
                ("chain", "draw", "period", "channel"),
                np.full((1, 50, 30, 2), 50.0),
            ),
            "response_curve": (
                ("chain", "draw", "channel", "spend_level"),
                np.cumsum(rng.uniform(0, 1, (1, 50, 2, 3)), axis=-1),
            ),
            "response_spend": (
                ("channel", "spend_level"),
                np.array([[0, 1e3, 2e3], [0, 5e2, 1e3]]),
            ),
            "lift_test_measured": (("lift_test",), np.array([1234.0])),
            "lift_test_standard_error": (("lift_test",), np.array([100.0])),
            "lift_test_predicted": (("chain", "draw", "lift_test"), np.full((1, 50, 1), 1200.0)),
            "lift_test_predicted_uncalibrated": (
                ("chain", "draw", "lift_test"),
                np.full((1, 50, 1), 3000.0),
            ),
        },
        coords={
            "channel": chans,
            "period": periods,
            "spend_level": [0.0, 1.0, 2.0],
            "lift_test": ["test_1"],
            "lift_test_channel": (("lift_test",), ["search"]),
            "lift_test_start": (("lift_test",), periods[3:4]),
            "lift_test_end": (("lift_test",), periods[6:7]),
        },
        attrs={
            "checks": {
                "r2": 0.9 if fit_ok else 0.2,
                "mape_in_sample": 0.02,
                "mape_out_of_sample": 0.04,
                "holdout_periods": 3,
                "coverage_90": 0.9,
                "fit_ok": fit_ok,
            },
            "diagnostics": {"rhat_max": 1.003, "divergences": 0},
            "diagnostics_ok": 1,
        },
    )


def test_the_section_shows_roi_with_and_without_lift_tests_and_escapes_channel_names():
    body = mmm_section(_dataset()).body
    assert "&lt;b&gt;tv&lt;/b&gt;" in body and "<b>tv</b>" not in body
    assert "ROI without lift tests" in body
    assert "1,234 ± 100" in body  # the lift test as measured
    assert "3,000" in body and "1,200" in body  # predicted before and after
    assert "reproduces the weekly conversions well" in body


def test_a_poor_fit_is_flagged():
    body = mmm_section(_dataset(fit_ok=False)).body
    assert "Read with care" in body and "the fit is poor" in body


def test_the_summary_names_the_channel_with_the_highest_roi():
    ds = _dataset()
    (line,) = summary_items(ds)
    mean = float(ds["roi"].sel(channel="search").mean()) * 1000
    assert f"<strong>search</strong> returns the most per unit of spend ({mean:.2f}" in line
    # media share: ~(0.01 x 100,000 + 0.02 x 50,000) / 30,000 conversions = 7%
    assert "credits paid media with 7% of conversions" in line
