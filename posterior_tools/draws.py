"""Posterior draws: even thinning over chains and draws, and the interval summary.

Every interval in the project is the central ``INTERVAL`` of the draws (the quantiles
``INTERVAL_QUANTILES``), summarised here so that the mean and bounds are computed one way.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from posterior_tools.settings import INTERVAL_QUANTILES

#: Dimensions that index posterior draws.
SAMPLE_DIMS = ("chain", "draw")


def thin_draws(params: xr.DataArray, n: int) -> xr.DataArray:
    """At most ``n`` draws of ``params(chain, draw, ...)``, evenly spaced over the chains and
    draws, stacked on a new first dim ``sample``; a point estimate (no ``chain``) becomes a
    single ``sample``."""
    if "chain" not in params.dims:
        return params.expand_dims(sample=1)
    others = [d for d in params.dims if d not in SAMPLE_DIMS]
    stacked = params.stack(sample=SAMPLE_DIMS).transpose("sample", *others)
    keep = np.unique(np.linspace(0, stacked.sizes["sample"] - 1, min(n, stacked.sizes["sample"])))
    return stacked.isel(sample=keep.astype(int)).drop_vars(["sample", *SAMPLE_DIMS])


def interval(per_draw: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, lower, upper)`` of ``per_draw`` over ``axis``: the mean and the central
    ``INTERVAL``."""
    lower, upper = np.quantile(per_draw, INTERVAL_QUANTILES, axis=axis)
    return per_draw.mean(axis=axis), lower, upper


def summarise(per_draw: np.ndarray, name: str, dims: tuple[str, ...], coords: dict) -> xr.Dataset:
    """``name`` (the mean over the first axis of ``per_draw(sample, *dims)``) and, with more than
    one draw, ``name_lower`` and ``name_upper`` (the central ``INTERVAL``)."""
    if per_draw.shape[0] == 1:
        return xr.Dataset({name: (dims, per_draw[0])}, coords=coords)
    mean, lower, upper = interval(per_draw)
    return xr.Dataset(
        {name: (dims, mean), f"{name}_lower": (dims, lower), f"{name}_upper": (dims, upper)},
        coords=coords,
    )
