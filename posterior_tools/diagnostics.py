"""Sampler diagnostics: R-hat, bulk/tail ESS, divergences, and one pass/fail flag.

Thresholds follow Vehtari et al. (2021, "Rank-normalization, folding, and localization"):
R-hat below 1.01 and an effective sample size of at least 100 per chain, plus no divergent
transitions. The Laplace approximation has no chains to compare; its flag says whether the
optimiser converged and the Hessian at the mode was negative definite.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

RHAT_MAX = 1.01
ESS_MIN_PER_CHAIN = 100
MAX_DIVERGENCES = 0
#: Keys of every diagnostics dict (NUTS and Laplace alike); ``diagnostics_ok`` is the pass/fail
#: flag, named as the attribute stored in result files.
DIAGNOSTIC_KEYS = ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "diagnostics_ok")


def nuts_diagnostics(
    posterior: xr.Dataset, sample_stats: xr.Dataset, chains: int | None = None
) -> dict:
    """Worst-case R-hat, bulk and tail ESS over all variables/elements, and divergences.

    ``posterior`` has dims (chain, draw, ...); ``sample_stats`` carries ``diverging``;
    ``chains`` defaults to the posterior's number of chains. Returns a dict with
    ``DIAGNOSTIC_KEYS`` (``diagnostics_ok``: all thresholds met).
    """
    import arviz as az

    data = posterior[[v for v in posterior.data_vars if posterior[v].size > 0]]
    rhat = _worst(az.rhat(data), np.nanmax)
    ess_bulk = _worst(az.ess(data, method="bulk"), np.nanmin)
    ess_tail = _worst(az.ess(data, method="tail"), np.nanmin)
    divergences = int(sample_stats["diverging"].sum()) if "diverging" in sample_stats else 0
    if chains is None:
        chains = posterior.sizes["chain"]
    ess_needed = ESS_MIN_PER_CHAIN * chains
    ok = bool(
        rhat <= RHAT_MAX
        and ess_bulk >= ess_needed
        and ess_tail >= ess_needed
        and divergences <= MAX_DIVERGENCES
    )
    return {
        "rhat_max": rhat,
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": ess_tail,
        "divergences": divergences,
        "diagnostics_ok": ok,
    }


def laplace_diagnostics(converged: bool, hessian_negative_definite: bool) -> dict:
    """Diagnostics of the Laplace approximation (no R-hat/ESS: draws are independent)."""
    return {
        "rhat_max": float("nan"),
        "ess_bulk_min": float("nan"),
        "ess_tail_min": float("nan"),
        "divergences": 0,
        "diagnostics_ok": bool(converged and hessian_negative_definite),
    }


def diagnostics_attrs(diagnostics: dict) -> dict:
    """The diagnostics as NetCDF-safe attrs named as in docs/contracts.md (booleans as 0/1)."""
    out = {}
    for key in DIAGNOSTIC_KEYS:
        value = diagnostics[key]
        out[key] = int(value) if isinstance(value, bool | np.bool_) else value
    return out


def warn_if_failed(diagnostics: dict, method: str) -> None:
    """Warn (``warnings.warn``) when the diagnostics fail, naming the failing checks."""
    if diagnostics["diagnostics_ok"]:
        return
    if method == "laplace":
        warnings.warn(
            "Laplace approximation did not converge cleanly (optimiser or Hessian at the mode); "
            "refit with method='nuts' before trusting the intervals",
            stacklevel=3,
        )
        return
    problems = []
    if not diagnostics["rhat_max"] <= RHAT_MAX:
        problems.append(f"R-hat {diagnostics['rhat_max']:.3f} > {RHAT_MAX}")
    if not min(diagnostics["ess_bulk_min"], diagnostics["ess_tail_min"]) >= ESS_MIN_PER_CHAIN:
        problems.append(
            f"ESS bulk/tail {diagnostics['ess_bulk_min']:.0f}/{diagnostics['ess_tail_min']:.0f}"
            f" below {ESS_MIN_PER_CHAIN} per chain"
        )
    if diagnostics["divergences"] > MAX_DIVERGENCES:
        problems.append(f"{diagnostics['divergences']} divergent transitions")
    warnings.warn(
        "NUTS diagnostics failed (" + "; ".join(problems or ["ESS below threshold"]) + "); "
        "increase draws/tune before trusting the intervals",
        stacklevel=3,
    )


def _worst(result: xr.Dataset, reduce) -> float:
    values = [np.asarray(result[v]).ravel() for v in result.data_vars]
    values = np.concatenate(values) if values else np.array([np.nan])
    return float(reduce(values))
