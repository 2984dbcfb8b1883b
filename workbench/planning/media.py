"""Response of conversions to spend for the channels the media-mix model covers (mmm.nc), over
the plan's window, per posterior draw.

The plan asks: had channel ``c``'s spend in each week of the window been ``m_c`` times what it
was, how many conversions would its spend have caused in the window? With the media-mix
model's equations (docs/contracts.md, "mmm.nc"), per draw ``d``, geo ``g`` and week ``t`` of
the window:

    conversions_c(m) = sum_t sum_g max_effect_dgc * s_dc(adstock_dc(x_gc)_t)
    x_gc             = (history, m_c x window spend) * geo_spend_share_gc / spend_scale_gc

- the spend path: the window's weekly spend of the channel (from the plan's spend table when it
  has the channel, else the media-mix model's own last weeks), with the ``l_max - 1`` weeks
  before the window as carry-in (from the same source) kept as they were: a scenario changes
  the window's spend only;
- carry-over past the window's last week is not counted, as in mmm.nc's ``contribution``; so
  over the media-mix model's own weeks, ``conversions(1)`` is its ``contribution``;
- national spend is spread over geos as in the data (``geo_spend_share``), each geo's curve in
  its own typical-spend units (``spend_scale``), as ``attribution.mmm.response`` does.

Only mmm.nc is read (the variables in :data:`REQUIRED`); the adstock and saturation equations
are the model package's own (``attribution.mmm.adstock`` and ``.saturation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError

#: Variables of mmm.nc the plan reads (besides the saturation parameters of its curve).
REQUIRED = ("max_effect", "spend", "spend_scale", "geo_spend_share", "adstock_alpha")
#: Saturation parameters by the ``saturation`` attribute of mmm.nc.
SATURATION_PARAMETERS = {
    "logistic": ("saturation_lam",),
    "hill": ("saturation_k", "saturation_slope"),
}


def check_media_results(ds: xr.Dataset, label: str | None) -> None:
    """Raise :class:`InputError` naming the file and what it lacks when ``ds`` is not a
    media-mix results file the plan can use."""
    saturation = str(ds.attrs.get("saturation", "logistic"))
    adstock = str(ds.attrs.get("adstock", "geometric"))
    names = [*REQUIRED, *SATURATION_PARAMETERS.get(saturation, ("saturation_lam",))]
    if adstock == "delayed":
        names.append("adstock_theta")
    missing = [n for n in names if n not in ds]
    if missing or "l_max" not in ds.attrs or "chain" not in ds.dims:
        what = ", ".join(missing) if missing else "the l_max attribute and posterior draws"
        raise InputError(
            f"media-mix results lack {what}; is this an mmm.nc from `workbench mmm`?", file=label
        )


def media_channels(ds: xr.Dataset) -> list[str]:
    return [str(c) for c in ds["channel"].values]


@dataclass(frozen=True)
class MediaPaths:
    """Weekly national spend (currency) of the media-mix channels for the plan: ``window``
    (week, channel), the current plan, and ``history`` (week, channel), the ``l_max - 1`` weeks
    before it; ``source`` (channel,) says where each channel's weeks came from."""

    channels: list[str]
    window: np.ndarray
    history: np.ndarray
    source: list[str]


def media_paths(
    ds: xr.Dataset,
    n_weeks: int,
    spend_table: pd.DataFrame | None,
    window_start: float | None,
) -> MediaPaths:
    """The window's weekly spend of every media-mix channel and the weeks before it.

    A channel with rows in ``spend_table`` (``load_spend`` layout: days since the epoch) takes
    its ``n_weeks`` weeks from ``window_start`` on from there, and its carry-in from the rows
    of the weeks before; any other channel takes the media-mix model's last ``n_weeks`` weeks
    (national: summed over geos) and the weeks before them.
    """
    channels = media_channels(ds)
    n_hist = int(ds.attrs["l_max"]) - 1
    fitted = ds["spend"].sum("geo").transpose("period", "channel").values.astype(float)
    if n_weeks > fitted.shape[0]:
        raise InputError(
            f"the plan's window has {n_weeks} weeks, more than the {fitted.shape[0]} weeks of "
            "the media-mix results"
        )
    own = np.vstack([np.zeros((n_hist, len(channels))), fitted])
    window = own[-n_weeks:].copy()
    history = own[-n_weeks - n_hist : own.shape[0] - n_weeks].copy()
    source = ["media-mix model's last weeks"] * len(channels)
    if spend_table is not None and window_start is not None:
        for c, name in enumerate(channels):
            rows = spend_table[spend_table["channel"] == name]
            if rows.empty:
                continue
            week = np.floor((rows["period_start"].to_numpy() - window_start) / 7.0 + 1e-9)
            weekly = np.zeros(n_hist + n_weeks)
            inside = (week >= -n_hist) & (week < n_weeks)
            np.add.at(weekly, (week[inside] + n_hist).astype(int), rows["spend"].to_numpy()[inside])
            history[:, c], window[:, c] = weekly[:n_hist], weekly[n_hist:]
            source[c] = "spend table"
    return MediaPaths(channels, window, history, source)


@dataclass
class MediaResponse:
    """Conversions caused by each media-mix channel in the plan's window, per paired draw.

    ``max_effect`` (sample, geo, channel) conversions per week at saturation; ``weights``
    (sample, channel, lag) carry-over weights; ``saturation`` ``logistic`` or ``hill`` with
    ``params`` (sample, channel) each; ``unit`` (geo, channel) = geo_spend_share / spend_scale
    (national currency -> the geo's typical-spend units); ``paths`` the weekly spend.
    """

    channels: list[str]
    max_effect: np.ndarray
    weights: np.ndarray
    saturation: str
    params: dict[str, np.ndarray]
    unit: np.ndarray
    paths: MediaPaths

    @property
    def n_samples(self) -> int:
        return int(self.max_effect.shape[0])

    @property
    def current(self) -> np.ndarray:
        """Current spend per channel over the window (currency)."""
        return self.paths.window.sum(axis=0)

    def conversions(self, multiplier: np.ndarray) -> np.ndarray:
        """Conversions (sample, channel) caused in the window by each channel's spend when its
        window spend is ``multiplier[c]`` x current (the carry-in unchanged)."""
        from attribution.mmm import saturation as sat

        mult = np.asarray(multiplier, float)
        spend = np.vstack([self.paths.history, self.paths.window * mult[None, :]])  # (T, C)
        n_hist, n_weeks = self.paths.history.shape[0], self.paths.window.shape[0]
        x = spend[None, :, :] * self.unit[:, None, :]  # (G, T, C)
        adstock = np.zeros((self.n_samples, x.shape[0], n_weeks, x.shape[2]))
        for lag in range(self.weights.shape[2]):
            shifted = x[:, n_hist - lag : n_hist - lag + n_weeks, :]  # (G, W, C)
            adstock += self.weights[:, None, None, :, lag] * shifted[None]
        if self.saturation == "logistic":
            s = sat.logistic(adstock, self.params["saturation_lam"][:, None, None, :])
        else:
            s = sat.hill(
                adstock,
                self.params["saturation_k"][:, None, None, :],
                self.params["saturation_slope"][:, None, None, :],
            )
        return (s.sum(axis=2) * self.max_effect).sum(axis=1)


def _flat(ds: xr.Dataset, name: str, draws: np.ndarray, *dims: str) -> np.ndarray:
    da = ds[name].stack(sample=("chain", "draw")).transpose("sample", *dims)
    return da.values[draws].astype(float)


def media_response(ds: xr.Dataset, paths: MediaPaths, draws: np.ndarray) -> MediaResponse:
    """The media-mix response for the flattened ``chain x draw`` indices ``draws`` (chain-major,
    repeats allowed: draws are paired with another model's samples)."""
    from attribution.mmm import adstock

    saturation = str(ds.attrs.get("saturation", "logistic"))
    l_max = int(ds.attrs["l_max"])
    alpha = _flat(ds, "adstock_alpha", draws, "channel")
    if str(ds.attrs.get("adstock", "geometric")) == "delayed":
        theta = _flat(ds, "adstock_theta", draws, "channel")
        weights = adstock.delayed_weights(alpha, theta, l_max)
    else:
        weights = adstock.geometric_weights(alpha, l_max)
    params = {n: _flat(ds, n, draws, "channel") for n in SATURATION_PARAMETERS.get(saturation, ())}
    share = ds["geo_spend_share"].transpose("geo", "channel").values.astype(float)
    scale = ds["spend_scale"].transpose("geo", "channel").values.astype(float)
    unit = np.divide(share, scale, out=np.zeros_like(share), where=scale > 0)
    return MediaResponse(
        channels=paths.channels,
        max_effect=_flat(ds, "max_effect", draws, "geo", "channel"),
        weights=weights,
        saturation=saturation,
        params=params,
        unit=unit,
        paths=paths,
    )


def pair_draws(
    n_media: int, n_samples: int, n_optimiser: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Media-mix draws paired with the plan's samples and with the optimiser's.

    The journey model and the media-mix model are fitted to different data, so their
    posteriors are independent: the joint posterior is their product, and pairing each plan
    sample with a media-mix draw picked at random (without replacement while there are
    enough) samples it. The optimiser's draws are disjoint from the reported ones when the
    media-mix posterior has enough draws (as for the journey model's)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_media)
    if n_media >= n_samples + n_optimiser:
        return order[:n_samples], order[n_samples : n_samples + n_optimiser]
    pick = rng.choice(n_media, size=n_samples, replace=n_media < n_samples)
    opt = rng.choice(n_media, size=n_optimiser, replace=n_media < n_optimiser)
    return pick, opt


def window_curves(
    media: MediaResponse, channels: Sequence[str], multipliers: Sequence[float]
) -> xr.DataArray:
    """``mmm_response_conversions(channel, multiplier, draw)``: conversions caused in the
    window by each of ``channels`` (media-mix channels) when only its spend is scaled."""
    out = np.empty((len(channels), len(multipliers), media.n_samples))
    for i, name in enumerate(channels):
        c = media.channels.index(name)
        for j, m in enumerate(multipliers):
            mult = np.ones(len(media.channels))
            mult[c] = m
            out[i, j] = media.conversions(mult)[:, c]
    return xr.DataArray(
        out,
        dims=("channel", "multiplier", "draw"),
        coords={"channel": list(channels), "multiplier": np.asarray(multipliers, float)},
        attrs={"units": "conversions caused by the channel over the plan's window (media mix)"},
    )
