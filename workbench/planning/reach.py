"""Spend -> touches: a saturating reach curve per channel, fitted from weekly spend and touches.

Model (per channel c, week w)::

    N_cw = A_c * (1 - exp(-S_cw / K_c))          touches bought by spend S_cw (currency)
    log N_cw_observed = log N_cw + eps,   eps ~ Normal(0, sigma_c)

``A_c`` is the touch ceiling and ``K_c`` the spend (currency per week) at which 63% of it is
reached. Weekly spend rarely moves far from its usual level, so ``K`` is weakly identified; a
weak prior ``log K ~ Normal(log median weekly spend, PRIOR_LOG_K_SD)`` keeps it finite, and the
posterior is the Laplace (normal) approximation of (log A, log K) at the MAP, sampled per draw.
Planning only needs the touch *ratio* ``N(m S) / N(S)`` under a spend multiple ``m``, in which
``A`` cancels, so the uncertainty that matters is the curvature ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

#: Prior sd of log K around the log median weekly spend: K within x/7 of it at 95%.
PRIOR_LOG_K_SD = 1.0
#: Prior sd of log A around log(max weekly touches) + 1 (weak: A is well identified).
PRIOR_LOG_A_SD = 3.0
#: Residual sd floor on the log scale, so a perfect fit still has finite uncertainty.
SIGMA_FLOOR = 0.02
#: Fewer weeks with both spend and touches than this: touches are taken as proportional to spend.
MIN_WEEKS = 3


@dataclass(frozen=True)
class ChannelReach:
    """Fitted reach curve of one channel: MAP and Laplace covariance of (log A, log K)."""

    channel: str
    log_a: float
    log_k: float
    cov: np.ndarray  # (2, 2) covariance of (log A, log K)
    sigma: float  # residual sd of log touches
    n_weeks: int
    proportional: bool  # too few weeks: touches proportional to spend (K -> infinity)


def fit_channel(channel: str, spend: np.ndarray, touches: np.ndarray) -> ChannelReach:
    """Fit ``N = A (1 - exp(-S/K))`` to one channel's weekly spend and touches (1-D arrays)."""
    from scipy.optimize import least_squares

    spend, touches = np.asarray(spend, float), np.asarray(touches, float)
    ok = (spend > 0) & (touches > 0) & np.isfinite(spend) & np.isfinite(touches)
    s, n = spend[ok], touches[ok]
    if s.size < MIN_WEEKS:
        return ChannelReach(channel, np.nan, np.inf, np.zeros((2, 2)), np.nan, int(s.size), True)
    log_n = np.log(n)
    mu_k, mu_a = np.log(np.median(s)), np.log(n.max()) + 1.0

    def residuals(theta: np.ndarray, sigma: float) -> np.ndarray:
        log_a, log_k = theta
        fitted = log_a + np.log(-np.expm1(-s / np.exp(log_k)))
        return np.concatenate(
            [
                (log_n - fitted) / sigma,
                [(log_k - mu_k) / PRIOR_LOG_K_SD, (log_a - mu_a) / PRIOR_LOG_A_SD],
            ]
        )

    theta = np.array([mu_a, mu_k])
    sigma = 0.1
    # Two passes: fit with a guessed noise level, then refit with the residual sd it implies.
    for _ in range(2):
        fit = least_squares(residuals, theta, args=(sigma,), method="lm")
        theta = fit.x
        raw = residuals(theta, 1.0)[: s.size]
        dof = max(s.size - 2, 1)
        sigma = max(float(np.sqrt(np.sum(raw**2) / dof)), SIGMA_FLOOR)
    fit = least_squares(residuals, theta, args=(sigma,), method="lm")
    jac = fit.jac
    cov = np.linalg.pinv(jac.T @ jac)
    return ChannelReach(channel, float(fit.x[0]), float(fit.x[1]), cov, sigma, int(s.size), False)


def fit_reach(
    weekly_spend: xr.DataArray, weekly_touches: xr.DataArray, n_draws: int, seed: int
) -> xr.Dataset:
    """Fit every channel's reach curve and sample its parameters.

    ``weekly_spend`` and ``weekly_touches`` have dims ``(week, channel)`` on the same coords
    (currency per week; touches per week). Returns a Dataset with ``reach_k(draw, channel)``
    (currency per week; ``inf`` for channels taken as proportional), ``reach_a(draw, channel)``
    (touches per week), MAP values ``reach_k_map(channel)``, ``reach_a_map(channel)``,
    ``reach_sigma(channel)``, ``reach_n_weeks(channel)`` and ``reach_proportional(channel)``.
    """
    rng = np.random.default_rng(seed)
    channels = list(weekly_spend["channel"].values)
    fits = [
        fit_channel(
            c,
            weekly_spend.sel(channel=c).values,
            weekly_touches.sel(channel=c).values,
        )
        for c in channels
    ]
    log_a = np.empty((n_draws, len(fits)))
    log_k = np.empty((n_draws, len(fits)))
    for j, f in enumerate(fits):
        if f.proportional:
            log_a[:, j], log_k[:, j] = np.nan, np.inf
            continue
        sample = rng.multivariate_normal([f.log_a, f.log_k], f.cov, size=n_draws)
        log_a[:, j], log_k[:, j] = sample[:, 0], sample[:, 1]
    coords = {"draw": np.arange(n_draws), "channel": channels}
    return xr.Dataset(
        {
            "reach_a": (("draw", "channel"), np.exp(log_a)),
            "reach_k": (("draw", "channel"), np.exp(log_k)),
            "reach_a_map": ("channel", np.exp([f.log_a for f in fits])),
            "reach_k_map": ("channel", np.exp([f.log_k for f in fits])),
            "reach_sigma": ("channel", [f.sigma for f in fits]),
            "reach_n_weeks": ("channel", [f.n_weeks for f in fits]),
            "reach_proportional": ("channel", [f.proportional for f in fits]),
        },
        coords=coords,
    )


def touch_ratio(multiplier: np.ndarray, k: np.ndarray, weekly_spend: np.ndarray) -> np.ndarray:
    """Touches under spend ``multiplier x`` current, relative to current touches.

    ``multiplier`` (..., channel); ``k`` (draw, channel) currency per week (``inf`` =
    proportional); ``weekly_spend`` (week, channel) current spend per week. Each week's spend is
    scaled by the multiplier, so ratio = sum_w N(m S_w) / sum_w N(S_w); ``A`` cancels.
    Returns (..., draw, channel) where ``...`` are the multiplier's leading dims.
    """
    m = np.asarray(multiplier, float)[..., None, None, :]  # (..., 1, 1, channel)
    s = np.asarray(weekly_spend, float)[:, None, :]  # (week, 1, channel)
    k = np.asarray(k, float)[None, :, :]  # (1, draw, channel)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = s / k
        now = -np.expm1(-x)
        new = -np.expm1(-m * x)
        # K = inf: the curve is linear in spend, so the ratio is the multiplier itself.
        linear = ~np.isfinite(k) | (x == 0)
        now = np.where(linear, s, now)
        new = np.where(linear, m * s, new)
    num, den = new.sum(axis=-3), now.sum(axis=-3)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / den, np.broadcast_to(m[..., 0, :, :], num.shape))
    return ratio
