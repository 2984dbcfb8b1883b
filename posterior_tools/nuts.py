"""NUTS draws of a PyMC model, by nutpie (default) or PyMC's own sampler, with the diagnostics.

nutpie (a Rust NUTS for PyMC models) compiles the model's log density and gradient once with
numba and runs the chains in parallel threads; PyMC's sampler evaluates the same graph through
PyTensor's C backend step by step from Python. Same model, same NUTS (multinomial, diagonal
mass matrix adapted in the warm-up); on the attribution model at 200,000 journeys nutpie took
about a quarter of PyMC's CPU seconds per draw (bench/RESULTS.md, issue 17).

A model may instead be a density with its own ``logp_dlogp`` and ``transform`` (the attribution
model's numpy density on large tables): nutpie samples it from Python with nothing to compile.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr

from posterior_tools.diagnostics import nuts_diagnostics
from posterior_tools.settings import INIT_JITTER, NUTS_SAMPLER, NUTS_SAMPLERS


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
    start: Callable[[np.random.Generator], np.ndarray] | None = None,
) -> tuple[xr.Dataset, dict]:
    """``draws`` NUTS draws per chain of ``model`` after ``tune`` warm-up steps.

    ``model`` is a ``pm.Model``, or a density that brings its own ``logp_dlogp(x)`` and
    ``transform(samples)`` (as ``posterior_tools.laplace`` accepts, e.g.
    ``attribution.density.ConversionDensity``): nutpie samples that directly, with nothing to
    compile (see :func:`_nutpie_density`).

    Args:
        var_names: variables kept in the returned posterior (free or deterministic).
        chains, cores: chains, run in parallel on up to ``cores`` threads (nutpie) or processes.
        seed: random seed (same seed, same draws for a given sampler); None for fresh entropy.
        target_accept: target acceptance rate of the step-size adaptation.
        sampler: ``"nutpie"`` or ``"pymc"`` (``posterior_tools.settings.NUTS_SAMPLERS``);
            a density is always sampled by nutpie.
        start: for a density, ``start(rng)`` gives a chain's unconstrained starting point (e.g.
            a draw of the Laplace approximation); None: the initial point jittered by
            uniform(-INIT_JITTER, INIT_JITTER) per coordinate, as PyMC and nutpie do.

    Returns:
        ``(posterior, diagnostics)``: posterior dims (chain, draw, ...) without attrs;
        diagnostics from ``posterior_tools.diagnostics.nuts_diagnostics``.
    """
    if sampler not in NUTS_SAMPLERS:
        raise ValueError(f"sampler must be one of {NUTS_SAMPLERS}; got {sampler!r}")
    with warnings.catch_warnings():
        # The samplers' own convergence warnings are replaced by the diagnostics (one warning).
        warnings.simplefilter("ignore", UserWarning)
        density = hasattr(model, "logp_dlogp")
        if density or sampler == "nutpie":
            import nutpie

            compiled = (
                _nutpie_density(model, var_names, start)
                if density
                else nutpie.compile_pymc_model(model)
            )
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


def _nutpie_density(model, var_names, start):
    """nutpie's model of a density's ``logp_dlogp``: no graph to build or compile. nutpie calls
    the Python function from its chain threads; the attribution density's row loop releases
    the GIL (``attribution.density_kernel``), so chains still run in parallel."""
    import nutpie

    point = model.initial_point()
    x0 = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars]).astype(np.float64)
    example = model.transform(x0[None, :])
    shapes = [tuple(np.shape(example[name])[1:]) for name in var_names]
    dims = {
        name: tuple(model.named_vars_to_dims[name])
        for name in var_names
        if name in model.named_vars_to_dims
    }

    def make_logp():
        def logp(x, **_):
            value, grad = model.logp_dlogp(x)
            return float(value), np.asarray(grad, dtype=np.float64)

        return logp

    def make_expand(seed1, seed2, chain):
        def expand(x, **_):
            out = model.transform(np.asarray(x, dtype=np.float64)[None, :])
            return {name: np.array(out[name][0], dtype=np.float64) for name in var_names}

        return expand

    def initial(seed):
        rng = np.random.default_rng(seed)
        if start is not None:
            return np.asarray(start(rng), dtype=np.float64)
        return x0 + rng.uniform(-INIT_JITTER, INIT_JITTER, x0.size)

    return nutpie.compiled_pyfunc.from_pyfunc(
        ndim=x0.size,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        expanded_dtypes=[np.dtype("float64")] * len(var_names),
        expanded_shapes=shapes,
        expanded_names=list(var_names),
        coords=dict(model.coords),
        dims=dims,
        make_initial_point_fn=initial,
    )
