"""The baseline's design: a piecewise-linear trend and yearly Fourier seasonality.

Time is measured in years from the first period. The trend is
``slope * t + sum_j delta_j * max(0, t - c_j)`` with changepoints c_j every
``TREND_CHANGEPOINT_EVERY`` periods (Taylor & Letham 2018, Prophet, eq. 3), so level changes of a
real business are absorbed by the baseline rather than by a channel flighted at the same time.
Seasonality is ``sum_k a_k sin(2 pi k t) + b_k cos(2 pi k t)`` (Prophet eq. 5).
"""

from __future__ import annotations

import numpy as np

from attribution.mmm.settings import TREND_CHANGEPOINT_EVERY, WEEKS_PER_YEAR, YEARLY_FOURIER_ORDER


def years(n_periods: int, period_weeks: float = 1.0) -> np.ndarray:
    """Time of each period in years from the first, (period,)."""
    return np.arange(n_periods) * period_weeks / WEEKS_PER_YEAR


def fourier(t_years: np.ndarray, order: int = YEARLY_FOURIER_ORDER) -> np.ndarray:
    """Yearly Fourier terms (period, 2*order): sin(2 pi k t), cos(2 pi k t) for k = 1..order."""
    k = np.arange(1, order + 1)
    arg = 2 * np.pi * t_years[:, None] * k[None, :]
    return np.concatenate([np.sin(arg), np.cos(arg)], axis=1)


def changepoint_hinges(
    t_years: np.ndarray, every: int = TREND_CHANGEPOINT_EVERY, n_fit: int | None = None
) -> np.ndarray:
    """Hinges max(0, t - c_j) at changepoints every ``every`` periods inside the fitted span
    [0, n_fit), excluding its first and last ``every`` periods (a change there is not
    identified), (period, changepoint). Periods after n_fit continue the last slope."""
    n_fit = len(t_years) if n_fit is None else n_fit
    idx = np.arange(every, n_fit - every + 1, every)
    if len(idx) == 0:
        return np.zeros((len(t_years), 0))
    c = t_years[idx]
    return np.maximum(0.0, t_years[:, None] - c[None, :])
