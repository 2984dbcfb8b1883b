"""Customer value by NPS group, and who answered the survey.

Value by group: the mean predicted CLV (and P(alive)) of the customers whose latest answer puts
them in each group, with a posterior from the Bayesian bootstrap (Rubin 1981): the population
mean is sum_i w_i x_i with w ~ Dirichlet(1, ..., 1) over the group's customers, i.e. weights
normalised from Exponential(1) draws. It assumes nothing about the shape of CLV (heavy-tailed)
and gives the difference promoters minus detractors per draw.

Coverage: customers and respondents per acquisition channel, value segment and value decile,
so that a sample that over-represents engaged or valuable customers is visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from workbench.experience.settings import BOOTSTRAP_CHUNK, GROUPS, POSTERIOR_DRAWS


def bootstrap_mean(
    values: np.ndarray, *, draws: int = POSTERIOR_DRAWS, rng: np.random.Generator
) -> np.ndarray:
    """Bayesian-bootstrap draws (draws,) of the mean of ``values`` (NaN when empty)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return np.full(int(draws), np.nan)
    out = np.empty(int(draws))
    step = max(1, BOOTSTRAP_CHUNK // n)
    for start in range(0, int(draws), step):
        stop = min(int(draws), start + step)
        w = rng.standard_exponential((stop - start, n))
        out[start:stop] = (w @ values) / w.sum(axis=1)
    return out


def value_by_group(
    customers: pd.DataFrame,
    column: str,
    *,
    draws: int = POSTERIOR_DRAWS,
    rng: np.random.Generator,
) -> xr.DataArray:
    """Draws of the mean of ``customers[column]`` per NPS group, dims ``(draw, group)``, over
    customers with a ``nps_group`` and a finite value."""
    ok = customers["nps_group"].notna() & np.isfinite(customers[column].astype(float))
    block = np.stack(
        [
            bootstrap_mean(
                customers.loc[ok & (customers["nps_group"] == g), column].to_numpy(float),
                draws=draws,
                rng=rng,
            )
            for g in GROUPS
        ],
        axis=1,
    )
    return xr.DataArray(
        block,
        dims=("draw", "group"),
        coords={"draw": np.arange(int(draws)), "group": list(GROUPS)},
    )


def coverage(customers: pd.DataFrame, by: str, labels: list) -> xr.Dataset:
    """``customers_by_<by>``, ``answered_by_<by>`` and ``response_rate_by_<by>`` (their ratio)
    over ``labels``; a customer responded when they have an ``nps_group``."""
    frame = customers[[by]].assign(answered=customers["nps_group"].notna())
    grouped = frame.groupby(by, observed=True)["answered"]
    n = grouped.size().reindex(labels, fill_value=0)
    k = grouped.sum().reindex(labels, fill_value=0)
    rate = (k / n.where(n > 0)).astype(float)
    return xr.Dataset(
        {
            f"customers_by_{by}": (by, n.to_numpy(np.int64)),
            f"answered_by_{by}": (by, k.to_numpy(np.int64)),
            f"response_rate_by_{by}": (by, rate.to_numpy()),
        },
        coords={by: labels},
    )
