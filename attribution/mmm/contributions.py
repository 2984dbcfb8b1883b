"""What each posterior draw says about the past: every channel's conversions per period, the
baseline, the fitted KPI and the model's prediction of each lift test.

Contribution of a channel = the KPI it caused over the data period: sum_t m_g beta_gc s_c(...)_t,
i.e. the drop in expected conversions if the channel had not spent during the data period (the
channels add, so removing one leaves the others unchanged); carry-over past the last period is not
counted. ROI = contribution / spend, conversions per unit of currency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.mmm import equations
from attribution.mmm.settings import DRAW_CHUNK

#: Elements of the largest temporary array (draws x geo x period x channel x lag) per chunk.
_CHUNK_ELEMENTS = 20_000_000


@dataclass(frozen=True)
class PosteriorPaths:
    """Per draw (leading dim S = chains x draws), in KPI units: ``effect`` (S, T, C) summed over
    geos, ``contribution`` (S, C) and ``contribution_geo`` (S, G, C) over the fitted periods,
    ``baseline`` (S, T) and ``mean`` (S, G, T), ``max_effect`` (S, G, C) (conversions per period
    at saturation), ``lift`` (S, test)."""

    effect: np.ndarray
    contribution: np.ndarray
    contribution_geo: np.ndarray
    baseline: np.ndarray
    mean: np.ndarray
    max_effect: np.ndarray
    lift: np.ndarray


def posterior_paths(model) -> PosteriorPaths:
    """Evaluate the fitted ``MediaMixModel`` on its own data, draw by draw (in chunks)."""
    data, design, tests = model.data_, model.design_, model.lift_tests_
    p_all = model.draw_params()
    S = p_all["intercept"].shape[0]
    G, T, C = data.spend.shape
    per_draw = G * T * C * data.l_max
    chunk = int(max(1, min(DRAW_CHUNK, _CHUNK_ELEMENTS // per_draw)))
    x_lagged = data.x_lagged
    out = {
        k: []
        for k in (
            "effect",
            "contribution",
            "contribution_geo",
            "baseline",
            "mean",
            "max_effect",
            "lift",
        )
    }
    for lo in range(0, S, chunk):
        p = {k: v[lo : lo + chunk] for k, v in p_all.items()}
        sat = equations.saturated(p, x_lagged, model.adstock, model.saturation, data.l_max)
        beta = equations.beta(p, sat, data.spend_fit, data.kpi_scale, data.fit_mask)
        max_effect = beta * data.kpi_scale[None, :, None]
        effect = sat * max_effect[:, :, None, :]  # (B, G, T, C)
        base = equations.baseline(p, design) * data.kpi_scale[None, :, None]
        out["effect"].append(effect.sum(axis=1))
        out["contribution_geo"].append(effect[:, :, : data.n_fit].sum(axis=2))
        out["contribution"].append(effect[:, :, : data.n_fit].sum(axis=(1, 2)))
        out["baseline"].append(base.sum(axis=1))
        out["mean"].append(base + effect.sum(axis=-1))
        out["max_effect"].append(max_effect)
        if tests is not None:
            lifts = equations.test_lifts(
                p, sat, beta, data.kpi_scale, tests, model.adstock, model.saturation, data.l_max
            )
            out["lift"].append(np.stack(lifts, axis=1))
        else:
            out["lift"].append(np.zeros((sat.shape[0], 0)))
    return PosteriorPaths(**{k: np.concatenate(v, axis=0) for k, v in out.items()})
