"""Laplace approximation of a PyMC model's posterior: fast enough for millions of rows.

``model`` is a ``pm.Model``, or any object with the same ``value_vars``, ``initial_point()``,
``coords`` and ``named_vars_to_dims`` that also brings its own ``logp_dlogp(x)`` (log density
and gradient at an unconstrained point) and ``transform(samples)`` (unconstrained draws to named
variables): such a model needs no PyTensor compile (``attribution.density``).

1. Find the mode of the log posterior in the model's unconstrained space (log for positive
   variables, Jacobian included) with L-BFGS-B on a PyTensor-compiled log density + gradient.
2. Take the Hessian at the mode by central differences of the exact gradient (2 x D gradient
   evaluations for D unconstrained dimensions; cheaper than compiling a symbolic Hessian).
3. Draw from the multivariate normal N(mode, -Hessian^-1) and map each draw back through the
   model's transforms and deterministics, so the result has the same variables as NUTS.

The approximation is good when the posterior is close to normal in the unconstrained space,
which large data sets tend to give (Bernstein-von Mises); ``tests/test_attribution_model.py``
and ``tests/test_clv_models.py`` check it against NUTS on small simulated sets.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import xarray as xr

from posterior_tools.diagnostics import laplace_diagnostics

# Relative step of the central-difference Hessian (gradient is exact, so ~sqrt(machine eps)
# balances truncation and rounding error).
HESSIAN_STEP = 1e-5
OPTIMISER_MAX_ITER = 5_000
OPTIMISER_GTOL = 1e-6
# L-BFGS-B stops on a relative change of log p (~2e-9, i.e. ~2e-5 nats on a log posterior of
# ~1e4) with gradients of ~0.1 left along flat directions, where the mode, the curvature and so
# the Laplace evidence then depend on the optimiser's path. Newton steps on the Hessian the
# approximation needs anyway finish the search (at most NEWTON_STEPS, each 2 x D gradients)
# until a further step would gain less than NEWTON_DECREMENT_TOL / 2 nats.
NEWTON_STEPS = 4
NEWTON_DECREMENT_TOL = 1e-9
# Restarts when the optimiser stops off a mode, and the step (in standard deviations of the
# negative-curvature direction) taken away from a saddle before restarting.
SADDLE_RESTARTS = 3
SADDLE_STEP = 1.0
# Compiled transforms per model (``_transform_function``), dropped with the model.
_TRANSFORMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Mode:
    """The posterior mode in the model's unconstrained space.

    Attributes:
        x: unconstrained mode (D,), variables in ``model.value_vars`` order.
        point: the model's initial point (names and shapes of the value variables).
        eigvals, eigvecs: eigen-decomposition of the Hessian of -log density at ``x``.
        log_density: log posterior density at ``x``; iterations: optimiser iterations.
        converged: the curvature at ``x`` is positive and the optimiser reported success or
            the Newton steps reached ``NEWTON_DECREMENT_TOL``.
    """

    x: np.ndarray
    point: dict
    eigvals: np.ndarray
    eigvecs: np.ndarray
    log_density: float
    iterations: int
    converged: bool

    def cov_sqrt(self) -> np.ndarray:
        """``L`` (D, D) with ``L L' = H^-1``, the Laplace approximation's covariance; eigenvalues
        clipped to a small positive floor so that draws exist when ``H`` is not positive definite
        (``converged`` says so)."""
        eigvals = np.maximum(self.eigvals, np.max(np.abs(self.eigvals)) * 1e-10 + 1e-12)
        return self.eigvecs / np.sqrt(eigvals)  # cov = V diag(1/ev) V^T

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One draw (D,) of the Laplace approximation N(x, H^-1) (unconstrained)."""
        return self.x + self.cov_sqrt() @ rng.standard_normal(self.x.size)

    def values(self, model, var_names: list[str]) -> dict[str, np.ndarray]:
        """The named model variables (constrained, deterministics included) at the mode."""
        out = _transform(model, model.value_vars, var_names, self.point, self.x[None, :])
        return {name: arr[0] for name, arr in out.items()}


def find_mode(model, start: np.ndarray | None = None) -> Mode:
    """Maximise the log posterior of ``model`` (L-BFGS-B, restarts off saddles); see module doc.

    ``start``: an unconstrained starting point (e.g. ``Mode.x`` of the same model fitted on
    other rows), used when its size matches the model's; the model's initial point otherwise.
    """
    from scipy import optimize

    point = model.initial_point()
    value_vars = model.value_vars
    logp_dlogp = getattr(model, "logp_dlogp", None) or _compiled_logp_dlogp(model, point)
    x0 = np.concatenate([np.ravel(point[v.name]) for v in value_vars]).astype(np.float64)
    if start is not None and np.size(start) == x0.size:
        x0 = np.asarray(start, dtype=np.float64).copy()

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = logp_dlogp(x)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(x)
        return -float(value), -np.asarray(grad, dtype=np.float64)

    def minimise(start: np.ndarray, ftol: float | None = None):
        options = {"maxiter": OPTIMISER_MAX_ITER, "gtol": OPTIMISER_GTOL}
        if ftol is not None:
            options["ftol"] = ftol
        return optimize.minimize(negative, start, jac=True, method="L-BFGS-B", options=options)

    result = minimise(x0)
    iterations = int(result.nit)
    mode = result.x
    hessian = _hessian(lambda x: negative(x)[1], mode)  # of -logp: positive definite at a mode
    eigvals, eigvecs = np.linalg.eigh(hessian)
    # L-BFGS-B can stop at a saddle or on a failed line search (seen on the additive simulator
    # at 80k users: negative curvature along the decay hierarchy). Step down the direction of
    # most negative curvature and restart, keeping the better point.
    for _ in range(SADDLE_RESTARTS):
        if result.success and eigvals[0] > 0:
            break
        step = SADDLE_STEP / np.sqrt(abs(eigvals[0])) if eigvals[0] < 0 else 0.0
        starts = [mode + step * eigvecs[:, 0], mode - step * eigvecs[:, 0]] if step else [mode]
        retry = min((minimise(x) for x in starts), key=lambda r: r.fun)
        iterations += int(retry.nit)
        if retry.fun > result.fun:
            break
        result, mode = retry, retry.x
        hessian = _hessian(lambda x: negative(x)[1], mode)
        eigvals, eigvecs = np.linalg.eigh(hessian)
    mode, value, grad, eigvals, eigvecs, decrement = _newton_polish(
        negative, mode, float(result.fun), np.asarray(result.jac), eigvals, eigvecs
    )
    if decrement >= NEWTON_DECREMENT_TOL and eigvals[0] > 0:
        # Newton could not finish (a step left the concave region): L-BFGS-B at full precision
        result = minimise(mode, ftol=0.0)
        iterations += int(result.nit)
        if result.fun <= value:
            mode, value, grad = result.x, float(result.fun), np.asarray(result.jac)
            eigvals, eigvecs = np.linalg.eigh(_hessian(lambda x: negative(x)[1], mode))
            decrement = float(np.sum((eigvecs.T @ grad) ** 2 / eigvals))
    converged = bool(eigvals[0] > 0 and (result.success or decrement < NEWTON_DECREMENT_TOL))
    return Mode(mode, point, eigvals, eigvecs, -value, iterations, converged)


def _newton_polish(negative, mode, value, grad, eigvals, eigvecs):
    """At most ``NEWTON_STEPS`` Newton steps from ``mode`` on the central-difference Hessian
    (backtracking on the log density, keeping the Hessian positive definite); returns ``(mode,
    value, grad, eigvals, eigvecs, decrement)`` at the last point reached, ``decrement`` being
    ``g' H^-1 g`` there (inf when the Hessian is not positive definite)."""
    decrement = np.inf
    for taken in range(NEWTON_STEPS + 1):
        if eigvals[0] <= 0:
            break
        step = eigvecs @ ((eigvecs.T @ grad) / eigvals)  # H^-1 g of -log p
        decrement = float(grad @ step)  # twice the log density a full step would gain
        if decrement < NEWTON_DECREMENT_TOL or taken == NEWTON_STEPS:
            break
        for scale in (1.0, 0.5, 0.25, 0.125):
            trial_value, trial_grad = negative(mode - scale * step)
            if trial_value <= value:
                break
        else:
            break
        trial = mode - scale * step
        trial_eigvals, trial_eigvecs = np.linalg.eigh(_hessian(lambda x: negative(x)[1], trial))
        if trial_eigvals[0] <= 0:  # off the region where the log density is concave: keep
            break
        mode, value, grad = trial, trial_value, trial_grad
        eigvals, eigvecs = trial_eigvals, trial_eigvecs
        decrement = np.inf
    return mode, value, grad, eigvals, eigvecs, decrement


def _compiled_logp_dlogp(model, point):
    """``x -> (log p, gradient)`` of a PyMC model, compiled by PyTensor."""
    import pytensor
    from pymc.pytensorf import join_nonshared_inputs

    (logp, dlogp), joined = join_nonshared_inputs(
        point, [model.logp(), model.dlogp()], model.value_vars
    )
    return pytensor.function([joined], [logp, dlogp])


def laplace_posterior(
    model,
    var_names: list[str],
    *,
    draws: int,
    chains: int,
    seed: int | None,
    mode: Mode | None = None,
) -> tuple[xr.Dataset, dict]:
    """Laplace draws of ``var_names`` from ``model`` laid out as (chain, draw, ...).

    Returns ``(posterior, diagnostics)``; the posterior has the model's dims/coords and
    attrs ``laplace_log_density_at_mode``, ``laplace_optimiser_iterations``. ``mode``: a
    ``find_mode(model)`` result already at hand (it is found here otherwise).
    """
    mode = find_mode(model) if mode is None else mode
    # If the Hessian is not positive definite the flag says so; cov_sqrt clips so draws exist.
    positive = bool(np.all(mode.eigvals > 0))
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((chains * draws, mode.x.size))
    samples = mode.x + z @ mode.cov_sqrt().T

    values = _transform(model, model.value_vars, var_names, mode.point, samples)
    posterior = xr.Dataset(
        {
            name: _as_dataarray(model, name, arr.reshape(chains, draws, *arr.shape[1:]))
            for name, arr in values.items()
        }
    )
    posterior.attrs.update(
        {
            "laplace_log_density_at_mode": mode.log_density,
            "laplace_optimiser_iterations": mode.iterations,
        }
    )
    return posterior, laplace_diagnostics(mode.converged, positive)


def _hessian(grad, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian from an exact gradient, symmetrised."""
    n = x.size
    out = np.empty((n, n))
    for i in range(n):
        step = HESSIAN_STEP * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        out[i] = (grad(up) - grad(down)) / (2 * step)
    return (out + out.T) / 2


def _transform(model, value_vars, var_names, point, samples: np.ndarray) -> dict:
    """Map unconstrained draws (sample, D) to the named model variables."""
    if hasattr(model, "transform"):  # a model with its own numpy transforms
        values = model.transform(samples)
        return {name: values[name] for name in var_names}
    fn, names = _transform_function(model, value_vars)
    picks = [names.index(name) for name in var_names]
    sizes = [int(np.size(point[v.name])) for v in value_vars]
    shapes = [np.shape(point[v.name]) for v in value_vars]
    splits = np.cumsum(sizes)[:-1]
    collected: dict[str, list] = {name: [] for name in var_names}
    for row in samples:
        parts = [p.reshape(s) for p, s in zip(np.split(row, splits), shapes, strict=True)]
        values = fn(*parts)
        for name, pick in zip(var_names, picks, strict=True):
            collected[name].append(values[pick])
    return {name: np.asarray(v) for name, v in collected.items()}


def _transform_function(model, value_vars) -> tuple:
    """One compiled map from the value variables to every free and deterministic variable of
    ``model``, and their names; compiled once per model (the mode's values and the draws of
    the same model reuse it: a PyTensor compile costs far more than the draws it maps)."""
    import pytensor

    cached = _TRANSFORMS.get(model)
    if cached is None:
        names = [v.name for v in [*model.free_RVs, *model.deterministics]]
        outs = model.replace_rvs_by_values([model[name] for name in names])
        fn = pytensor.function(value_vars, outs, on_unused_input="ignore")
        cached = _TRANSFORMS[model] = (fn, names)
    return cached


def _as_dataarray(model, name: str, values: np.ndarray) -> xr.DataArray:
    dims = ["chain", "draw", *model.named_vars_to_dims.get(name, ())]
    coords = {d: list(model.coords[d]) for d in dims[2:]}
    coords.update({"chain": np.arange(values.shape[0]), "draw": np.arange(values.shape[1])})
    return xr.DataArray(values, dims=dims, coords=coords)
