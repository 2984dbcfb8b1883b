"""The model's mean, written once for PyMC tensors and for numpy posterior draws.

Every parameter carries a leading batch dim B (B = 1 inside the PyMC model, B = draws when
evaluating the posterior); data arrays have dims (geo G, period T, channel C, lag L)::

    kpi_gt / m_g = baseline_gt + sum_c beta_gc s_c(adstock_c(x_gc)_t) + noise
    baseline_gt  = intercept_g + trend_t + seasonality_t + controls_gt . gamma
    beta_gc      = roi_gc * spend_gc / (m_g * sum_{t fitted} s_c(adstock_c(x_gc)_t))

``m_g`` is the geo's mean KPI and ``x`` spend in typical-spend units. The last line is the ROI
parameterisation (as in Google's Meridian): the model samples each channel's return on spend
directly, so a user's ROI prior or a lift test speaks to the quantity it is about, and the
channel's weekly effect ``beta`` follows from its ROI and the curve's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.mmm import adstock as _adstock
from attribution.mmm import saturation as _saturation

#: Guards a division by a channel's total saturated spend when it never spent in a geo.
_TINY = 1e-12


@dataclass(frozen=True)
class Design:
    """Baseline regressors: time in years (T,), trend hinges (T, K), Fourier terms (T, F),
    standardised controls (G, T, X)."""

    t_years: np.ndarray
    hinges: np.ndarray
    fourier: np.ndarray
    controls: np.ndarray


def weights(p: dict, adstock, l_max: int):
    """Carry-over weights (B, C, L). ``adstock`` is ``"geometric"``, ``"delayed"`` or, inside
    the PyMC model, a 0/1 switch (1: delayed) given as data, so that one compiled model serves
    both forms."""
    if isinstance(adstock, str):
        if adstock == "geometric":
            return _adstock.geometric_weights(p["adstock_alpha"], l_max)
        return _adstock.delayed_weights(p["adstock_alpha"], p["adstock_theta"], l_max)
    return adstock * weights(p, "delayed", l_max) + (1 - adstock) * weights(p, "geometric", l_max)


def saturate(x, p: dict, saturation, xp=np):
    """Saturated adstock (B, G, T, C) from adstock ``x`` (B, G, T, C). ``saturation`` is
    ``"logistic"``, ``"hill"`` or a 0/1 switch (1: Hill) as for :func:`weights`."""
    if not isinstance(saturation, str):
        hill = saturate(x, p, "hill", xp)
        return saturation * hill + (1 - saturation) * saturate(x, p, "logistic", xp)
    if saturation == "logistic":
        return _saturation.logistic(x, p["saturation_lam"][:, None, None, :], xp)
    k = p["saturation_k"][:, None, None, :]
    slope = p["saturation_slope"][:, None, None, :]
    return _saturation.hill(x, k, slope, xp)


def saturated(p: dict, x_lagged, adstock, saturation, l_max: int, xp=np):
    """s_c(adstock_c(x)) for every geo, period and channel, (B, G, T, C)."""
    w = weights(p, adstock, l_max)  # (B, C, L)
    ad = _adstock.apply(x_lagged[None], w[:, None, None, :, :])
    return saturate(ad, p, saturation, xp)


def beta(p: dict, sat, spend_fit, kpi_scale: np.ndarray, fit_mask, xp=np):
    """Weekly effect at full saturation, in KPI-mean units (B, G, C), from the ROI over the
    fitted periods: ``spend_fit`` (G, C) their spend, ``fit_mask`` (T,) 1 where fitted."""
    total = (sat * fit_mask[None, None, :, None]).sum(axis=2)
    return p["roi"] * spend_fit[None] / (kpi_scale[None, :, None] * xp.maximum(total, _TINY))


def baseline(p: dict, design: Design):
    """Baseline in KPI-mean units (B, G, T)."""
    trend = p["trend_slope"][:, None] * design.t_years[None, :]
    if design.hinges.shape[1]:
        trend = trend + p["trend_change"] @ design.hinges.T
    season = p["seasonality"] @ design.fourier.T
    base = p["intercept"][:, :, None] + (trend + season)[:, None, :]
    if design.controls.shape[-1]:
        base = base + (design.controls[None] * p["control_coef"][:, None, None, :]).sum(axis=-1)
    return base


def lift(
    p: dict,
    sat,
    beta_,
    kpi_scale: np.ndarray,
    channel: int,
    window: np.ndarray,
    x_cf_lagged: np.ndarray,
    adstock: str,
    saturation: str,
    l_max: int,
    xp=np,
):
    """The model's incremental conversions of one lift test, (B,): conversions in the window
    caused by the channel's spend in the window, sum_g m_g beta_gc sum_{t in W} (s(ad_t) -
    s(ad_t without the window's spend)); carry-over from spend before the window stays in both
    terms and cancels."""
    w = weights(p, adstock, l_max)[:, channel, :]  # (B, L)
    ad_cf = (x_cf_lagged[None] * w[:, None, None, :]).sum(axis=-1)  # (B, G, W)
    one = {k: v[:, channel : channel + 1] for k, v in p.items() if k.startswith("saturation_")}
    s_cf = saturate(ad_cf[..., None], one, saturation, xp)[..., 0]
    s_actual = sat[:, :, window, channel]
    diff = (s_actual - s_cf).sum(axis=2)  # (B, G)
    return (kpi_scale[None, :] * beta_[:, :, channel] * diff).sum(axis=1)


def test_lifts(
    p: dict,
    sat,
    beta_,
    kpi_scale: np.ndarray,
    tests,
    adstock: str,
    saturation: str,
    l_max: int,
    xp=np,
) -> list:
    """:func:`lift` of every test in ``tests`` (``channel``, ``windows``, ``x_cf_lagged``), in
    order: one (B,) array (or tensor) per test."""
    return [
        lift(p, sat, beta_, kpi_scale, int(c), w, x_cf, adstock, saturation, l_max, xp=xp)
        for c, w, x_cf in zip(tests.channel, tests.windows, tests.x_cf_lagged, strict=True)
    ]
