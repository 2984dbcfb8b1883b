"""Net Promoter Score with a posterior: Dirichlet-multinomial over promoters, passives and
detractors.

Model, per group of answers (a month, a channel, a segment or all answers):
1. each answer is a promoter (score 9-10), passive (7-8) or detractor (0-6) with shares
   theta = (theta_p, theta_o, theta_d), independently;
2. theta ~ Dirichlet(a, a, a) (``PRIOR_CONCENTRATION`` a = 1: uniform on the simplex);
3. so theta | counts n ~ Dirichlet(a + n) (conjugate), and NPS = 100 (theta_p - theta_d) in
   points from -100 to 100, with posterior mean 100 (n_p - n_d) / (N + 3a).
Draws are exact Monte Carlo from that Dirichlet (normalised Gamma draws); no MCMC.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from workbench.experience.settings import (
    GROUPS,
    PASSIVE_MIN,
    POSTERIOR_DRAWS,
    PRIOR_CONCENTRATION,
    PROMOTER_MIN,
)


def nps_group(score: np.ndarray) -> np.ndarray:
    """The NPS group (``promoter``, ``passive``, ``detractor``) of integer scores 0-10."""
    score = np.asarray(score)
    return np.where(
        score >= PROMOTER_MIN, "promoter", np.where(score >= PASSIVE_MIN, "passive", "detractor")
    )


def observed_nps(counts: xr.DataArray) -> xr.DataArray:
    """100 (n_p - n_d) / N from counts with a ``group`` dim (NaN with no answers)."""
    total = counts.sum("group")
    diff = counts.sel(group="promoter", drop=True) - counts.sel(group="detractor", drop=True)
    return (100.0 * diff / total.where(total > 0)).rename("nps_observed")


def share_draws(
    counts: xr.DataArray,
    *,
    draws: int = POSTERIOR_DRAWS,
    rng: np.random.Generator,
    prior: float = PRIOR_CONCENTRATION,
) -> xr.DataArray:
    """Posterior draws of the group shares theta, dims ``(draw, *other dims, group)``, from
    counts with a ``group`` dim (the groups in :data:`GROUPS` order)."""
    counts = counts.transpose(..., "group").sel(group=list(GROUPS))
    alpha = counts.values.astype(float) + prior
    gamma = rng.gamma(alpha, size=(int(draws), *alpha.shape))
    theta = gamma / gamma.sum(axis=-1, keepdims=True)
    return xr.DataArray(
        theta,
        dims=("draw", *counts.dims),
        coords={**{k: v for k, v in counts.coords.items()}, "draw": np.arange(int(draws))},
        name="share",
    )


def nps_draws(
    counts: xr.DataArray,
    *,
    draws: int = POSTERIOR_DRAWS,
    rng: np.random.Generator,
    prior: float = PRIOR_CONCENTRATION,
) -> xr.DataArray:
    """Posterior draws of NPS in points (-100..100), dims ``(draw, *other dims)``."""
    theta = share_draws(counts, draws=draws, rng=rng, prior=prior)
    nps = 100.0 * (theta.sel(group="promoter") - theta.sel(group="detractor"))
    return nps.drop_vars("group", errors="ignore").rename("nps")


def posterior_mean_nps(counts: xr.DataArray, prior: float = PRIOR_CONCENTRATION) -> xr.DataArray:
    """The exact posterior mean of NPS, 100 (n_p - n_d) / (N + 3a) (no sampling)."""
    total = counts.sum("group") + len(GROUPS) * prior
    diff = counts.sel(group="promoter", drop=True) - counts.sel(group="detractor", drop=True)
    return (100.0 * diff / total).rename("nps_mean")


def group_counts(labels: np.ndarray, groups: np.ndarray, dim: str, coords: list) -> xr.DataArray:
    """Answers per (``dim`` label, NPS group) as a DataArray ``(dim, group)``; ``coords`` fixes
    the labels (ones with no answers get zeros)."""
    import pandas as pd

    table = pd.crosstab(
        pd.Categorical(labels, categories=coords),
        pd.Categorical(groups, categories=list(GROUPS)),
        dropna=False,
    ).reindex(index=coords, columns=list(GROUPS), fill_value=0)
    return xr.DataArray(
        table.to_numpy(np.int64),
        dims=(dim, "group"),
        coords={dim: list(coords), "group": list(GROUPS)},
    )
