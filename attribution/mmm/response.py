"""Response to a steady weekly spend: the planner's view of a fitted media-mix model.

At a steady spend S per period the (normalised) adstock equals S, so a channel's expected
conversions per period are sum_g max_effect_gc * s_c(S * share_gc / scale_gc): the national spend
is split over geos as it was in the data (``share``), each geo's curve is evaluated in its own
typical-spend units (``scale``). These functions read only a results Dataset (``mmm.nc``), so a
planner needs nothing else:

>>> ds = workbench.store.read_results("results/mmm.nc")
>>> expected_conversions(ds, {"tv": 50_000.0, "radio": 8_000.0})   # DataArray (draw, channel)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from attribution.mmm import saturation as _saturation


def _stacked(ds: xr.Dataset, name: str) -> xr.DataArray:
    da = ds[name].stack(sample=("chain", "draw")).transpose("sample", ...)
    return da.drop_vars(["sample", "chain", "draw"], errors="ignore")


def steady_state(
    max_effect: np.ndarray,
    params: Mapping[str, np.ndarray],
    saturation: str,
    spend_scale: np.ndarray,
    share: np.ndarray,
    weekly_spend: np.ndarray,
) -> np.ndarray:
    """Conversions per period (S, C, K) at steady national spends ``weekly_spend`` (C, K):
    ``max_effect`` (S, G, C), saturation ``params`` (S, C) each, ``spend_scale`` and ``share``
    (G, C)."""
    x = weekly_spend[None, :, :] * share[:, :, None] / spend_scale[:, :, None]  # (G, C, K)
    x = x[None]  # (1, G, C, K)
    if saturation == "logistic":
        s = _saturation.logistic(x, params["saturation_lam"][:, None, :, None])
    else:
        s = _saturation.hill(
            x,
            params["saturation_k"][:, None, :, None],
            params["saturation_slope"][:, None, :, None],
        )
    return (max_effect[..., None] * s).sum(axis=1)


def _inputs(ds: xr.Dataset):
    saturation = str(ds.attrs.get("saturation", "logistic"))
    names = (
        ("saturation_lam",) if saturation == "logistic" else ("saturation_k", "saturation_slope")
    )
    params = {n: _stacked(ds, n).transpose("sample", "channel").values for n in names}
    max_effect = _stacked(ds, "max_effect").transpose("sample", "geo", "channel").values
    scale = ds["spend_scale"].transpose("geo", "channel").values
    share = ds["geo_spend_share"].transpose("geo", "channel").values
    return saturation, params, max_effect, scale, share


def expected_conversions(
    results: xr.Dataset, weekly_spend: Mapping[str, float] | xr.DataArray
) -> xr.DataArray:
    """Expected conversions per period caused by each channel at a steady weekly spend, per
    posterior draw.

    ``results``: a media-mix results Dataset (``mmm.nc``); ``weekly_spend``: currency per period
    per channel (a mapping or a DataArray over ``channel``); channels not given spend 0. Returns
    a DataArray (draw, channel) in conversions per period, draws = chains x draws flattened.
    Raises ValueError for a channel the model does not know or a negative spend."""
    channels = [str(c) for c in results["channel"].values]
    if isinstance(weekly_spend, xr.DataArray):
        weekly_spend = {
            str(c): float(v)
            for c, v in zip(weekly_spend["channel"].values, weekly_spend.values, strict=True)
        }
    unknown = sorted(set(weekly_spend) - set(channels))
    if unknown:
        raise ValueError(f"channels not in the media-mix model: {', '.join(unknown)}")
    spend = np.array([float(weekly_spend.get(c, 0.0)) for c in channels])
    if (spend < 0).any() or not np.isfinite(spend).all():
        raise ValueError("weekly spend must be finite and >= 0")
    saturation, params, max_effect, scale, share = _inputs(results)
    out = steady_state(max_effect, params, saturation, scale, share, spend[:, None])[..., 0]
    return xr.DataArray(
        out,
        dims=("draw", "channel"),
        coords={"draw": np.arange(out.shape[0]), "channel": channels},
        name="expected_conversions",
        attrs={"units": "conversions per period"},
    )


def response_curves(results: xr.Dataset, multiples: np.ndarray) -> xr.Dataset:
    """``response_curve(chain, draw, channel, spend_level)``: conversions per period at a steady
    spend of ``multiples`` x each channel's mean weekly spend in the data, and
    ``response_spend(channel, spend_level)``, that spend in currency per period."""
    saturation, params, max_effect, scale, share = _inputs(results)
    mean_spend = results["spend"].sum("geo").mean("period").transpose("channel").values
    levels = mean_spend[:, None] * np.asarray(multiples)[None, :]
    curves = steady_state(max_effect, params, saturation, scale, share, levels)
    n_chain, n_draw = results.sizes["chain"], results.sizes["draw"]
    curves = curves.reshape(n_chain, n_draw, *curves.shape[1:])
    coords = {"channel": results["channel"].values, "spend_level": np.asarray(multiples)}
    return xr.Dataset(
        {
            "response_curve": (("chain", "draw", "channel", "spend_level"), curves),
            "response_spend": (("channel", "spend_level"), levels),
        },
        coords=coords,
    )
