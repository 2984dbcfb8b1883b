"""Can the model be trusted on these data? Fit quality in and out of sample.

- ``r2``: 1 - SSE / SST of the posterior-mean KPI against the observed KPI (national totals);
- ``mape_in_sample``: mean absolute percentage error of the posterior-mean KPI, fitted periods;
- ``mape_out_of_sample``: the same on the last ``HOLDOUT_SHARE`` of periods, forecast by a refit
  on the periods before them (spend and controls of the held-out periods are known, as in a plan);
- ``coverage_90``: share of fitted periods whose KPI lies in the 90% posterior predictive interval.

``fit_ok`` is False when R^2 < MIN_R2 or a MAPE is above its limit: the media estimates of a model
that cannot reproduce the KPI should not be read.
"""

from __future__ import annotations

import numpy as np

from attribution.mmm.settings import MAX_MAPE_IN_SAMPLE, MAX_MAPE_OUT_OF_SAMPLE, MIN_R2
from posterior_tools.settings import INTERVAL_QUANTILES


def r2(observed: np.ndarray, predicted: np.ndarray) -> float:
    """1 - sum (y - yhat)^2 / sum (y - mean y)^2."""
    sst = float(((observed - observed.mean()) ** 2).sum())
    return float(1 - ((observed - predicted) ** 2).sum() / sst) if sst > 0 else float("nan")


def mape(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Mean |y - yhat| / y over periods with y > 0."""
    keep = observed > 0
    return float(np.mean(np.abs(observed[keep] - predicted[keep]) / observed[keep]))


def fit_checks(
    kpi: np.ndarray,
    mean: np.ndarray,
    sigma: np.ndarray,
    kpi_scale: np.ndarray,
    n_fit: int,
    seed: int = 0,
) -> dict:
    """In-sample checks from the draws: ``kpi`` (G, T), ``mean`` (S, G, T) in KPI units,
    ``sigma`` (S, G) noise sd in KPI-mean units."""
    observed = kpi[:, :n_fit].sum(axis=0)
    fitted = mean[:, :, :n_fit].sum(axis=1)
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=mean[:, :, :n_fit].shape) * sigma[:, :, None]
    predictive = fitted + (noise * kpi_scale[None, :, None]).sum(axis=1)
    lo, hi = np.quantile(predictive, INTERVAL_QUANTILES, axis=0)
    return {
        "r2": r2(observed, fitted.mean(axis=0)),
        "mape_in_sample": mape(observed, fitted.mean(axis=0)),
        "coverage_90": float(np.mean((observed >= lo) & (observed <= hi))),
    }


def holdout_mape(kpi: np.ndarray, mean: np.ndarray, n_fit: int) -> float:
    """MAPE of the national KPI on periods >= n_fit from draws ``mean`` (S, G, T) of a fit that
    did not see them."""
    observed = kpi[:, n_fit:].sum(axis=0)
    return mape(observed, mean[:, :, n_fit:].sum(axis=1).mean(axis=0))


def fit_ok(checks: dict) -> bool:
    """Whether the fit is good enough to read (thresholds in attribution.mmm.settings)."""
    ok = checks["r2"] >= MIN_R2 and checks["mape_in_sample"] <= MAX_MAPE_IN_SAMPLE
    out = checks.get("mape_out_of_sample")
    return bool(ok and (out is None or not np.isfinite(out) or out <= MAX_MAPE_OUT_OF_SAMPLE))
