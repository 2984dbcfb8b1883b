"""The plan in a few lines of text, for the CLI (``workbench plan``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from posterior_tools.settings import INTERVAL_QUANTILES as INTERVAL


def summary_lines(ds: xr.Dataset) -> list[str]:
    """The plan in a few lines of text: each scenario's change against current spend (mean and
    interval) and P(beats current), then the optimised allocation."""
    lo, hi = (f"q{round(q * 100):02d}" for q in INTERVAL)
    lines = [
        "change vs current spend over the data window: mean "
        f"[{round((INTERVAL[1] - INTERVAL[0]) * 100)}% interval]"
    ]
    for name in ds["scenario"].values.tolist()[1:]:  # the first is the current plan
        row = ds.sel(scenario=name)
        lines.append(
            f"{name:>20}: conversions {float(row.delta_conversions_mean):+,.1f} "
            f"[{float(row[f'delta_conversions_{lo}']):+,.1f}, "
            f"{float(row[f'delta_conversions_{hi}']):+,.1f}]"
            + _value_text(row, lo, hi)
            + f"  P(beats current) {_probability(float(row.p_beats_current))}"
        )
    best = ds["spend_multiplier"].sel(scenario="optimised")
    lines.append(
        f"optimised ({ds.attrs['settings']['objective']}"
        + (" of conversions" if ds.attrs.get("optimised_outcome") == "conversions" else "")
        + "): "
        + ", ".join(
            f"{c} x{m:.2f}" for c, m in zip(best["channel"].values, best.values, strict=True)
        )
    )
    return lines


def _value_text(row: xr.Dataset, lo: str, hi: str) -> str:
    """The change in value, or nothing when clv.nc was not given (value unknown)."""
    if not np.isfinite(float(row.delta_value_mean)):
        return ""
    return (
        f"  value {float(row.delta_value_mean):+,.0f} "
        f"[{float(row[f'delta_value_{lo}']):+,.0f}, {float(row[f'delta_value_{hi}']):+,.0f}]"
    )


def _probability(p: float) -> str:
    """A probability for people: never "1.00" or "0.00" unless every draw agrees."""
    if 0 < p < 0.01:
        return "<0.01"
    if 0.99 < p < 1:
        return ">0.99"
    return f"{p:.2f}"
