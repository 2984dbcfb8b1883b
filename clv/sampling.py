"""NUTS sampling shared by the PyMC CLV models: run, collect parameter draws, diagnose."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from clv.settings import CHAINS, DRAWS, TARGET_ACCEPT, TUNE

#: Convergence thresholds reported as ``diagnostics_ok``.
RHAT_MAX = 1.01
ESS_MIN = 100


def sample_params(
    model,
    names: Sequence[str],
    *,
    draws: int = DRAWS,
    tune: int = TUNE,
    chains: int = CHAINS,
    seed: int = 1,
    start: Mapping[str, float] | None = None,
) -> tuple[xr.DataArray, dict]:
    """Sample ``model`` with NUTS and return ``(params(chain, draw, param), diagnostics)``.

    The model has a ``log_<name>`` free variable per parameter; ``start`` (natural scale, e.g. the
    maximum-likelihood estimate) sets every chain's starting point so tuning begins in the bulk.
    Chains run one after another (``cores=1``): the process may share a small machine, and the
    model's log-likelihood is already vectorised over all rows.
    """
    import arviz as az
    import pymc as pm

    initvals = {f"log_{k}": float(np.log(v)) for k, v in (start or {}).items() if k in names}
    # A dense mass matrix: r/alpha, a/b and p/q are strongly correlated, and with a diagonal one
    # NUTS needs several times more leapfrog steps per draw.
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="QuadPotentialFullAdapt is an experimental")
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=1,
            random_seed=seed,
            target_accept=TARGET_ACCEPT,
            init="adapt_full",
            initvals=initvals or None,
            progressbar=False,
            compute_convergence_checks=False,
        )
    post = idata.posterior
    params = xr.concat([post[k] for k in names], dim="param").assign_coords(param=list(names))
    params = params.transpose("chain", "draw", "param")
    summary = az.summary(idata, var_names=list(names), kind="diagnostics")
    diverging = int(idata.sample_stats["diverging"].sum()) if "sample_stats" in idata else 0
    diagnostics = {
        "rhat_max": float(summary["r_hat"].max()),
        "ess_bulk_min": float(summary["ess_bulk"].min()),
        "ess_tail_min": float(summary["ess_tail"].min()),
        "divergences": diverging,
    }
    diagnostics["diagnostics_ok"] = bool(
        diagnostics["rhat_max"] <= RHAT_MAX
        and diagnostics["ess_bulk_min"] >= ESS_MIN
        and diverging == 0
    )
    return params.drop_vars([c for c in params.coords if c not in ("chain", "draw", "param")]), (
        diagnostics
    )
