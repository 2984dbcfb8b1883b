"""NUTS sampling shared by the PyMC CLV models: run, collect parameter draws, diagnose."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from clv.settings import CHAINS, DRAWS, NUTS_MAX_ROWS, POSTERIOR_METHODS, TARGET_ACCEPT, TUNE

#: Convergence thresholds reported as ``diagnostics_ok``.
RHAT_MAX = 1.01
ESS_MIN = 100
#: Laplace: gradient tolerance of the mode search and finite-difference step (log scale).
LAPLACE_GTOL = 1e-6
LAPLACE_STEP = 1e-4


def choose_method(method: str, n_rows: int) -> str:
    """``nuts`` or ``laplace``: ``auto`` picks NUTS up to ``NUTS_MAX_ROWS`` compressed rows."""
    if method not in POSTERIOR_METHODS:
        raise ValueError(f"posterior method must be one of {POSTERIOR_METHODS}; got '{method}'")
    if method == "auto":
        return "nuts" if n_rows <= NUTS_MAX_ROWS else "laplace"
    return method


def laplace_params(
    model,
    names: Sequence[str],
    *,
    draws: int = DRAWS,
    chains: int = CHAINS,
    seed: int = 1,
    start: Mapping[str, float] | None = None,
) -> tuple[xr.DataArray, dict]:
    """Laplace approximation: the posterior mode of the ``log_<name>`` variables (L-BFGS from
    ``start``) and the inverse of the negative Hessian there as covariance (central differences
    of the exact gradient); returns ``chains x draws`` Gaussian draws mapped back to the natural
    scale, as ``params(chain, draw, param)``, and diagnostics.

    One compiled function gives the log posterior and its gradient; the symbolic Hessian would
    cost more to compile than the whole approximation costs to run."""
    from scipy.optimize import minimize

    log_names = [f"log_{k}" for k in names]
    order = [v.name for v in model.value_vars]
    if order != log_names:
        raise ValueError(f"model variables {order} do not match {log_names}")
    fn = model.compile_fn([model.logp(), model.dlogp()])

    def neg(v: np.ndarray) -> tuple[float, np.ndarray]:
        logp, grad = fn(dict(zip(log_names, v, strict=True)))
        return -float(logp), -np.asarray(grad, dtype=float)

    x0 = np.array([np.log((start or {}).get(k, 1.0)) for k in names], dtype=float)
    found = minimize(neg, x0, jac=True, method="L-BFGS-B", options={"gtol": LAPLACE_GTOL})
    center = found.x
    hessian = np.empty((center.size, center.size))
    for i in range(center.size):
        step = np.zeros(center.size)
        step[i] = LAPLACE_STEP
        hessian[:, i] = (neg(center + step)[1] - neg(center - step)[1]) / (2 * LAPLACE_STEP)
    hessian = (hessian + hessian.T) / 2
    hessian = np.asarray(hessian, dtype=float)
    eigen = np.linalg.eigvalsh(hessian)
    cov = np.linalg.inv(hessian)
    rng = np.random.default_rng(seed)
    log_draws = rng.multivariate_normal(center, cov, size=(chains, draws))
    params = xr.DataArray(
        np.exp(log_draws),
        dims=("chain", "draw", "param"),
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "param": list(names)},
    )
    diagnostics = {
        "posterior_method": "laplace",
        "optimiser_converged": bool(found.success),
        "hessian_min_eigenvalue": float(eigen.min()),
        "hessian_condition": float(eigen.max() / eigen.min()) if eigen.min() > 0 else np.inf,
        "diagnostics_ok": bool(eigen.min() > 0 and found.success),
    }
    return params, diagnostics


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
        "posterior_method": "nuts",
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
