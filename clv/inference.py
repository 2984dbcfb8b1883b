"""Fitting a CLV likelihood: maximum likelihood, or a PyMC posterior over the same likelihood.

A likelihood here is an object with ``names`` (parameter labels), ``n_rows`` (rows it sums over),
``total`` (customers), ``starts()`` (starting log-parameters), ``loglik_and_grad(log_params,
constant=True)`` (total log-likelihood and gradient in the log-parameters) and
``hessian(log_params)``: ``clv.bgnbd.BGNBDLikelihood`` and ``clv.gamma_gamma.GammaGammaLikelihood``.
The PyMC model wraps ``loglik_and_grad`` in one PyTensor Op, so NUTS and the Laplace approximation
use exactly the function the maximum-likelihood fit maximises; only the priors are added.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

from clv.newton import minimise_log_params
from clv.settings import LOG_PRIOR_SD, NUTS_MAX_ROWS, POSTERIORS, TARGET_ACCEPT


class FitError(RuntimeError):
    """The optimiser did not converge; the message says which model and a likely reason."""


def maximum_likelihood(likelihood) -> tuple[dict[str, float], bool, str]:
    """``(params, converged, message)``: the maximum-likelihood parameters (natural scale) from
    the best of the likelihood's starting points (``clv.newton``), on the mean log-likelihood
    per customer (lifetimes' objective, so its tolerances mean the same)."""
    total = likelihood.total

    def objective(log_params):
        value, grad = likelihood.loglik_and_grad(log_params, constant=False)
        return -value / total, -grad / total

    def hessian(log_params):
        return -likelihood.hessian(log_params) / total

    x, converged, message = minimise_log_params(objective, hessian, likelihood.starts(), ())
    params = dict(zip(likelihood.names, np.exp(x).tolist(), strict=True))
    return params, converged, message


def choose_posterior(posterior: str, n_rows: int) -> str:
    """``nuts`` or ``laplace``: ``auto`` picks NUTS up to ``NUTS_MAX_ROWS`` compressed rows."""
    if posterior not in POSTERIORS:
        raise ValueError(f"posterior must be one of {POSTERIORS}; got {posterior!r}")
    if posterior == "auto":
        return "nuts" if n_rows <= NUTS_MAX_ROWS else "laplace"
    return posterior


def pymc_model(likelihood):
    """A PyMC model: ``log_<name> ~ Normal(0, LOG_PRIOR_SD)`` per parameter, the parameters as
    deterministics, and the likelihood as one Potential."""
    import pymc as pm
    import pytensor.tensor as pt

    op = _loglik_op(likelihood)
    with pm.Model() as model:
        logs = [pm.Normal(f"log_{k}", 0.0, LOG_PRIOR_SD) for k in likelihood.names]
        for name, log_value in zip(likelihood.names, logs, strict=True):
            pm.Deterministic(name, pt.exp(log_value))
        pm.Potential("loglik", op(pt.stack(logs))[0])
    return model


def posterior_draws(
    likelihood,
    *,
    posterior: str,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    start: Mapping[str, float],
) -> tuple[xr.DataArray, dict]:
    """``(params(chain, draw, param), diagnostics)`` of the PyMC model over ``likelihood``, by
    NUTS (every chain starting at ``start``, e.g. the maximum-likelihood estimate) or a Laplace
    approximation (``posterior_tools.laplace``, its mode search starting there)."""
    from posterior_tools.diagnostics import nuts_diagnostics
    from posterior_tools.laplace import find_mode, laplace_posterior

    names = list(likelihood.names)
    method = choose_posterior(posterior, likelihood.n_rows)
    model = pymc_model(likelihood)
    if method == "laplace":
        x0 = np.log([start[k] for k in names])
        draws_ds, diagnostics = laplace_posterior(
            model, names, draws=draws, chains=chains, seed=seed, mode=find_mode(model, x0)
        )
    else:
        draws_ds, sample_stats = _nuts(model, names, draws, tune, chains, seed, start)
        diagnostics = nuts_diagnostics(draws_ds, sample_stats, chains)
    params = xr.concat([draws_ds[k] for k in names], dim="param").assign_coords(param=names)
    params = params.transpose("chain", "draw", "param")
    keep = ("chain", "draw", "param")
    params = params.drop_vars([c for c in params.coords if c not in keep]).drop_attrs()
    return params, {"posterior_method": method, **diagnostics}


def _nuts(model, names, draws, tune, chains, seed, start):
    import pymc as pm

    initvals = {f"log_{k}": float(np.log(v)) for k, v in start.items() if k in names}
    # A dense mass matrix: r/alpha, a/b and p/q are strongly correlated, and with a diagonal one
    # NUTS needs several times more leapfrog steps per draw. Chains run one after another
    # (cores=1): the process may share a small machine, and the likelihood is vectorised.
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
            initvals=initvals,
            progressbar=False,
            compute_convergence_checks=False,
        )
    return idata.posterior[names], idata.sample_stats


def _loglik_op(likelihood):
    """A PyTensor Op: log-parameters (vector) -> (total log-likelihood, its gradient)."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class LogLikelihood(Op):
        def make_node(self, log_params):
            log_params = pt.as_tensor_variable(log_params)
            return Apply(self, [log_params], [pt.dscalar(), pt.dvector()])

        def perform(self, node, inputs, outputs):
            value, grad = likelihood.loglik_and_grad(inputs[0])
            outputs[0][0] = np.asarray(value, dtype=float)
            outputs[1][0] = np.asarray(grad, dtype=float)

        def connection_pattern(self, node):
            # Only the value is differentiated; its gradient is the second output.
            return [[True, False]]

        def grad(self, inputs, output_grads):
            return [output_grads[0] * self(*inputs)[1]]

    return LogLikelihood()
