"""NUTS draws of a PyMC model, by nutpie (default) or PyMC's own sampler, with the diagnostics.

nutpie (a Rust NUTS for PyMC models) compiles the model's log density and gradient once with
numba and runs the chains in parallel threads; PyMC's sampler evaluates the same graph through
PyTensor's C backend step by step from Python. Same model, same NUTS (multinomial, diagonal
mass matrix adapted in the warm-up); on the attribution model at 200,000 journeys nutpie took
about a quarter of PyMC's CPU seconds per draw (bench/RESULTS.md, issue 17).
"""

from __future__ import annotations

import warnings

import xarray as xr

from posterior_tools.diagnostics import nuts_diagnostics
from posterior_tools.settings import NUTS_SAMPLER, NUTS_SAMPLERS


def sample_nuts(
    model,
    var_names: list[str],
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    seed: int | None,
    target_accept: float,
    sampler: str = NUTS_SAMPLER,
) -> tuple[xr.Dataset, dict]:
    """``draws`` NUTS draws per chain of ``model`` (a ``pm.Model``) after ``tune`` warm-up steps.

    Args:
        var_names: variables kept in the returned posterior (free or deterministic).
        chains, cores: chains, run in parallel on up to ``cores`` threads (nutpie) or processes.
        seed: random seed (same seed, same draws for a given sampler); None for fresh entropy.
        target_accept: target acceptance rate of the step-size adaptation.
        sampler: ``"nutpie"`` or ``"pymc"`` (``posterior_tools.settings.NUTS_SAMPLERS``).

    Returns:
        ``(posterior, diagnostics)``: posterior dims (chain, draw, ...) without attrs;
        diagnostics from ``posterior_tools.diagnostics.nuts_diagnostics``.
    """
    if sampler not in NUTS_SAMPLERS:
        raise ValueError(f"sampler must be one of {NUTS_SAMPLERS}; got {sampler!r}")
    with warnings.catch_warnings():
        # The samplers' own convergence warnings are replaced by the diagnostics (one warning).
        warnings.simplefilter("ignore", UserWarning)
        if sampler == "nutpie":
            import nutpie

            compiled = nutpie.compile_pymc_model(model)
            idata = nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                cores=max(1, min(chains, cores)),
                seed=seed,
                target_accept=target_accept,
                progress_bar=False,
            )
        else:
            import pymc as pm

            with model:
                idata = pm.sample(
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    cores=cores,
                    random_seed=seed,
                    target_accept=target_accept,
                    progressbar=False,
                    compute_convergence_checks=False,
                )
    posterior = idata.posterior[var_names].drop_attrs()
    return posterior, nuts_diagnostics(posterior, idata.sample_stats, chains)
