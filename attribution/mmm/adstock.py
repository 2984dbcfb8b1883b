"""Carry-over (adstock): a period's spend acts on this and the next ``L_MAX - 1`` periods.

adstock(x)_t = sum_{l=0}^{L-1} w_l x_{t-l}, with weights normalised to sum to one, so a steady
spend s has steady adstock s and the total effect of a unit of spend does not depend on the
carry-over rate (Jin et al. 2017, "Bayesian methods for media mix modeling with carryover and
shape effects", eqs. 1-2):

- geometric: w_l = alpha^l (the effect peaks in the week of spend and decays by alpha a week);
- delayed:   w_l = alpha^((l - theta)^2) (the effect peaks theta periods after the spend).

The functions take numpy arrays or PyTensor tensors alike (the same expression builds the PyMC
model and evaluates posterior draws).
"""

from __future__ import annotations

import numpy as np


def lagged(x: np.ndarray, l_max: int) -> np.ndarray:
    """Spend shifted by 0..l_max-1 periods: ``x`` (..., period, channel) -> (..., period, channel,
    lag), zeros before the first period (no spend is known before the data starts)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape + (l_max,))
    n = x.shape[-2]
    for lag in range(l_max):
        out[..., lag:, :, lag] = x[..., : n - lag, :]
    return out


def geometric_weights(alpha, l_max: int):
    """w_l = alpha^l / sum_k alpha^k; ``alpha`` (..., channel) -> (..., channel, lag)."""
    lags = np.arange(l_max, dtype=float)
    w = alpha[..., None] ** lags
    return w / w.sum(axis=-1, keepdims=True)


def delayed_weights(alpha, theta, l_max: int):
    """w_l = alpha^((l - theta)^2) / sum_k ...; ``alpha``, ``theta`` (..., channel)."""
    lags = np.arange(l_max, dtype=float)
    w = alpha[..., None] ** ((lags - theta[..., None]) ** 2)
    return w / w.sum(axis=-1, keepdims=True)


def apply(x_lagged, weights):
    """adstock_t = sum_l w_l x_{t-l}: ``x_lagged`` (..., period, channel, lag) from
    :func:`lagged`, ``weights`` (channel, lag) -> (..., period, channel)."""
    return (x_lagged * weights).sum(axis=-1)
