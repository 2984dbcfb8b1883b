"""Decision quantities from posterior draws of a metric per arm (dims ``draw``, ``arm``).

- lift: the arm's metric relative to the control's, theta_arm / theta_control - 1, per draw;
- P(beats control): P(theta_arm > theta_control), ties counted half (identical arms give 0.5);
- expected loss of choosing an arm: E[max_b theta_b - theta_arm], in the metric's own units
  (Stucchio 2015, "Bayesian A/B testing at VWO"): what is given up, on average over the
  posterior, by choosing this arm if another is in fact better. It is 0 for an arm that is
  surely best and never negative.
"""

from __future__ import annotations

import numpy as np
import xarray as xr


def lift(samples: xr.DataArray, control: str) -> xr.DataArray:
    """Relative lift over ``control`` per draw, dims ``(draw, arm)`` (0 for the control)."""
    base = samples.sel(arm=control, drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = samples / base - 1.0
    return out.rename("lift")


def p_beats_control(samples: xr.DataArray, control: str) -> xr.DataArray:
    """P(arm's metric > control's), dim ``arm``; NaN for the control itself."""
    base = samples.sel(arm=control, drop=True)
    p = (samples > base).mean("draw") + 0.5 * (samples == base).mean("draw")
    return p.where(samples["arm"] != control).rename("p_beats_control")


def expected_loss(samples: xr.DataArray) -> xr.DataArray:
    """E[best arm's metric - this arm's metric] over the draws, dim ``arm`` (metric units)."""
    return (samples.max("arm") - samples).mean("draw").rename("expected_loss")
