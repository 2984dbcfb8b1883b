"""Touches -> reach and frequency: whom a channel's extra (or fewer) touches land on.

Model (per channel ``c``; Gamma-Poisson, i.e. negative binomial, audience):

1. The channel's addressable audience has ``M_c`` people, people the touch data never saw
   included. Over a journey's lookback window a member receives ``N ~ Poisson(lambda)``
   touches, ``lambda ~ Gamma(shape k_c, mean m_c)``: ``k`` small = uneven (a few people get
   many touches), ``k -> inf`` = even.
2. A journey shows the channel when ``N >= 1``: ``q = 1 - p0``, ``p0 = (1 + m/k)^-k``; so the
   ``R_c`` journeys the channel reached give ``M_c = R_c / q``.
3. Spend that buys ``r`` times the touches (``reach.touch_ratio``) scales every member's
   ``lambda`` by ``r`` (who is addressable and how uneven does not change).

What follows, per ``r`` (the equations the response model and the planner page evaluate):

- ``r >= 1``, frequency: a reached person's expected extra touches are ``(r-1) E[lambda | N]``;
  on average over the reached their touches scale by
  ``sigma = 1 + (r - 1) (1 - (1 + m/k)^-(k+1))``.
- ``r >= 1``, new reach: a member not reached now (``N = 0``) has
  ``lambda ~ Gamma(k, rate k/m + 1)``, so their new touches are negative binomial with shape
  ``k`` and mean ``mu = (r - 1) k m / (k + m)``; ``M_c p0 NB(j; k, mu)`` people get ``j >= 1``.
- ``r < 1``: each touch is kept with probability ``r`` (thinning); a share
  ``pi = 1 - q_r / q`` of the reached lose the channel (``q_r = 1 - (1 + r m/k)^-k``) and the
  rest keep ``sigma = r q / q_r`` times their touches on average.

``(log m, log k)`` are fitted to the journeys' touch counts of the channel (zero-truncated
negative binomial; counts below the per-bin cap ``COUNT_CAP`` exactly, larger ones as ``N >=
COUNT_CAP``) with weak priors; the posterior is the Laplace approximation at the MAP, sampled per
draw. A dozen weeks of +-20% spend cannot separate reach from frequency; thousands of journeys'
counts can. The weekly counts check it: the observed elasticity of weekly distinct users to
weekly touches (slope of log reach on log touches across weeks) against the model's, with the
same ``k`` and the weekly mean frequency (``audience_check_*``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import gammaln

#: Prior sd of log k around log 1 and of log m around log(mean touches per reached journey).
PRIOR_LOG_K_SD = 2.0
PRIOR_LOG_M_SD = 2.0
#: Fewer reached journeys than this: no audience model (extra touches scale exposure only).
MIN_JOURNEYS = 30
#: Finite-difference step (log scale) of the Laplace Hessian.
HESSIAN_STEP = 1e-3
#: Weeks needed for the weekly elasticity check.
MIN_CHECK_WEEKS = 4


def _log_p0(log_m: np.ndarray, log_k: np.ndarray) -> np.ndarray:
    """log P(N = 0) = -k log(1 + m/k)."""
    k = np.exp(log_k)
    return -k * np.log1p(np.exp(log_m - log_k))


def _log_nb(j: np.ndarray, m: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log NB(j; shape k, mean m)."""
    return (
        gammaln(j + k)
        - gammaln(k)
        - gammaln(j + 1.0)
        - k * np.log1p(m / k)
        + j * (np.log(m) - np.log(k + m))
    )


def journey_counts(
    counts: np.ndarray, n_journeys: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel, the distribution of touches per reached journey.

    ``counts`` (pattern, channel, recency_bin) capped counts, ``n_journeys`` (pattern,).
    Returns ``weight`` (channel, total, censored): journeys with that total count of the
    channel (0 .. bins x cap) and whether a bin hit the cap; and ``totals`` (total,).
    """
    counts = np.rint(counts).astype(np.int64)
    n_bins = counts.shape[2]
    total = counts.sum(axis=2)  # (pattern, channel)
    censored = (counts >= cap).any(axis=2).astype(np.int64)
    max_total = n_bins * cap
    weight = np.zeros((counts.shape[1], max_total + 1, 2))
    for c in range(counts.shape[1]):
        np.add.at(weight[c], (total[:, c], censored[:, c]), n_journeys)
    return weight, np.arange(max_total + 1), total


def _neg_log_post(theta: np.ndarray, exact: np.ndarray, tail: float, mu_m: float) -> float:
    """Zero-truncated NB: ``exact[j - 1]`` journeys with ``j`` touches (``j < cap``) and
    ``tail`` journeys with at least ``cap``, plus the priors."""
    log_m, log_k = theta
    m, k = np.exp(log_m), np.exp(log_k)
    j = np.arange(1, exact.size + 1)
    log_pmf = _log_nb(j, m, k)
    log_p0 = _log_p0(log_m, log_k)
    log_q = np.log(-np.expm1(log_p0))
    below = np.exp(log_p0) + np.exp(log_pmf).sum()
    log_tail = np.log(max(1.0 - below, 1e-300))
    ll = exact @ (log_pmf - log_q) + tail * (log_tail - log_q)
    prior = ((log_m - mu_m) / PRIOR_LOG_M_SD) ** 2 / 2 + (log_k / PRIOR_LOG_K_SD) ** 2 / 2
    return float(-ll + prior)


def fit_channel_audience(weight: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray] | None:
    """MAP and Laplace covariance of ``(log m, log k)`` from one channel's ``weight`` (total,
    censored) of :func:`journey_counts`; ``None`` with fewer than ``MIN_JOURNEYS`` reached.

    A journey with fewer than ``cap`` touches of the channel shows its exact count; one with a
    capped total of ``cap`` or more only says ``N >= cap`` (capping per recency bin makes the
    larger totals depend on how touches fell over the bins), an exact coarsening of ``N``."""
    from scipy.optimize import minimize

    by_total = weight.sum(axis=1)
    reached = by_total[1:].sum()
    if reached < MIN_JOURNEYS:
        return None
    exact, tail = by_total[1:cap], float(by_total[cap:].sum())
    j = np.arange(by_total.size)
    mu_m = np.log(max(float(j @ by_total / reached), 1e-3))
    args = (exact, tail, mu_m)
    fit = minimize(
        _neg_log_post,
        np.array([mu_m, 0.0]),
        args=args,
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000},
    )
    theta = fit.x
    h = np.empty((2, 2))
    e = np.eye(2) * HESSIAN_STEP
    f0 = _neg_log_post(theta, *args)
    for a in range(2):
        for b in range(2):
            h[a, b] = (
                _neg_log_post(theta + e[a] + e[b], *args)
                - _neg_log_post(theta + e[a], *args)
                - _neg_log_post(theta + e[b], *args)
                + f0
            ) / HESSIAN_STEP**2
    h = (h + h.T) / 2
    cov = np.linalg.pinv(h) if np.all(np.linalg.eigvalsh(h) > 0) else np.diag([1.0, 1.0])
    return theta, cov


def fit_audience(
    counts: xr.DataArray,
    n_journeys: np.ndarray,
    cap: int,
    n_draws: int,
    seed: int,
    weekly_touches: xr.DataArray | None = None,
    weekly_reach: xr.DataArray | None = None,
) -> xr.Dataset:
    """Fit every channel's audience and sample it.

    ``counts`` is ``pattern_counts(pattern, channel, recency_bin)``; ``n_journeys`` (pattern,).
    Returns ``audience_m(draw, channel)`` (mean touches per audience member per journey
    window), ``audience_k(draw, channel)`` (Gamma shape), ``audience_size(draw, channel)``
    (``M``, people), ``audience_reached(channel)`` (``R``, journeys), ``audience_fitted(channel)``
    and the weekly check ``audience_check_observed`` / ``_lower`` / ``_upper`` /
    ``audience_check_model(channel)`` (elasticity of weekly reach to weekly touches; NaN
    without weekly counts). Channels without a fit get NaN draws (exposure scaling only).
    """
    rng = np.random.default_rng(seed)
    channels = [str(c) for c in counts["channel"].values]
    arr = counts.transpose("pattern", "channel", "recency_bin").values
    weight, _, _ = journey_counts(arr, np.asarray(n_journeys, float), cap)
    n_c = len(channels)
    log_m = np.full((n_draws, n_c), np.nan)
    log_k = np.full((n_draws, n_c), np.nan)
    fitted = np.zeros(n_c, bool)
    for c in range(n_c):
        fit = fit_channel_audience(weight[c], cap)
        if fit is None:
            continue
        theta, cov = fit
        draws = rng.multivariate_normal(theta, cov, size=n_draws)
        log_m[:, c], log_k[:, c] = draws[:, 0], draws[:, 1]
        fitted[c] = True
    reached = weight[:, 1:].sum(axis=(1, 2))
    size = reached / -np.expm1(_log_p0(log_m, log_k))
    dims = ("draw", "channel")
    ds = xr.Dataset(
        {
            "audience_m": (dims, np.exp(log_m), {"units": "touches per member per journey"}),
            "audience_k": (dims, np.exp(log_k), {"description": "Gamma shape of touch rates"}),
            "audience_size": (dims, size, {"units": "people (journeys) addressable"}),
            "audience_reached": ("channel", reached, {"units": "journeys reached now"}),
            "audience_fitted": ("channel", fitted),
        },
        coords={"draw": np.arange(n_draws), "channel": channels},
    )
    return ds.merge(_weekly_check(ds, weekly_touches, weekly_reach))


def _weekly_check(
    ds: xr.Dataset, touches: xr.DataArray | None, reach: xr.DataArray | None
) -> xr.Dataset:
    """Observed elasticity of weekly reach to weekly touches (OLS slope of log on log, with a
    90% interval) and the model's at the weekly mean frequency, per channel."""
    from scipy.optimize import brentq

    from posterior_tools.settings import INTERVAL_QUANTILES

    channels = list(ds["channel"].values)
    obs = np.full((3, len(channels)), np.nan)
    model = np.full(len(channels), np.nan)
    if touches is not None and reach is not None:
        from scipy.stats import t as student

        t_all = touches.transpose("week", "channel").sel(channel=channels).values.astype(float)
        r_all = reach.transpose("week", "channel").sel(channel=channels).values.astype(float)
        for c in range(len(channels)):
            ok = (t_all[:, c] > 0) & (r_all[:, c] > 0)
            if ok.sum() < MIN_CHECK_WEEKS or not ds["audience_fitted"].values[c]:
                continue
            x, y = np.log(t_all[ok, c]), np.log(r_all[ok, c])
            if np.ptp(x) == 0:
                continue
            slope, intercept = np.polyfit(x, y, 1)
            resid = y - (slope * x + intercept)
            se = np.sqrt(resid @ resid / max(len(x) - 2, 1) / np.sum((x - x.mean()) ** 2))
            z = student.ppf(INTERVAL_QUANTILES[1], max(len(x) - 2, 1))
            obs[:, c] = slope, slope - z * se, slope + z * se
            k = float(np.median(ds["audience_k"].values[:, c]))
            freq = t_all[ok, c].sum() / r_all[ok, c].sum()  # touches per reached person

            def gap(log_mw: float, k: float = k, freq: float = freq) -> float:
                mw = np.exp(log_mw)
                return mw / -np.expm1(_log_p0(np.log(mw), np.log(k))) - freq

            if freq <= 1.0 + 1e-9:
                model[c] = 1.0
                continue
            try:
                mw = np.exp(brentq(gap, -12.0, 8.0))
            except ValueError:
                continue
            q = -np.expm1(_log_p0(np.log(mw), np.log(k)))
            model[c] = mw * np.exp(-(k + 1) * np.log1p(mw / k)) / q
    return xr.Dataset(
        {
            "audience_check_observed": ("channel", obs[0]),
            "audience_check_observed_lower": ("channel", obs[1]),
            "audience_check_observed_upper": ("channel", obs[2]),
            "audience_check_model": ("channel", model),
        },
        coords={"channel": channels},
    )


def reach_frequency(
    ratio: np.ndarray, m: np.ndarray, k: np.ndarray, size: np.ndarray, max_total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``ratio`` times the touches land (module docstring), elementwise over
    (sample, channel) arrays; NaN ``m`` (no audience fit) means exposure scaling only.

    Returns ``lost`` (share of the reached journeys that lose the channel), ``scale`` (touches
    of the journeys that keep it, relative to now) and ``new`` (sample, channel, total): newly
    reached people by their number of touches ``1 .. max_total`` (the last lumps the tail).
    """
    r = np.asarray(ratio, float)
    fitted = np.isfinite(m) & np.isfinite(k)
    m = np.where(fitted, m, 1.0)
    k = np.where(fitted, k, 1.0)
    log_p0 = -k * np.log1p(m / k)
    q = -np.expm1(log_p0)
    q_r = -np.expm1(-k * np.log1p(np.maximum(r, 0.0) * m / k))
    up = r >= 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_up = 1.0 + (r - 1.0) * -np.expm1(-(k + 1.0) * np.log1p(m / k))
        scale_down = np.where(q_r > 0, r * q / q_r, 1.0)
    scale = np.where(up, scale_up, scale_down)
    lost = np.where(up, 0.0, 1.0 - q_r / q)
    mu = np.maximum(r - 1.0, 0.0) * k * m / (k + m)
    j = np.arange(1, max_total + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf = np.exp(_log_nb(j, mu[..., None], k[..., None]))
    pmf = np.where(mu[..., None] > 0, np.nan_to_num(pmf), 0.0)
    # The last count lumps the tail: P(N >= max_total) = P(N >= 1) - P(1 <= N < max_total).
    p_any = np.where(mu > 0, -np.expm1(-k * np.log1p(mu / k)), 0.0)
    pmf[..., -1] = np.maximum(p_any - pmf[..., :-1].sum(axis=-1), 0.0)
    new = (size * np.exp(log_p0))[..., None] * pmf
    # No audience fit: the old rule, every touch scales the exposure of the journeys reached.
    scale = np.where(fitted, scale, r)
    lost = np.where(fitted, lost, 0.0)
    new = np.where(fitted[..., None], np.nan_to_num(new), 0.0)
    return lost, scale, new
