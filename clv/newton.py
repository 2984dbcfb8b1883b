"""Maximum likelihood on log-parameters: Newton in a trust region, BFGS if that stops short.

Shared by the BG/NBD and Gamma-Gamma fits (``bgnbd_mle``, ``gamma_gamma_mle``), whose
likelihoods come with an exact gradient and Hessian in log-parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import minimize

#: Converged when the max |gradient| of the (mean) negative log-likelihood in log-parameters is
#: below this.
GRADIENT_TOL = 1e-6
#: Optimiser stopping tolerance on the gradient (tighter than GRADIENT_TOL so that a normal stop
#: leaves the parameters at the optimum to many digits).
BFGS_GTOL = 1e-9
MAX_ITER = 1000
#: Above this log-parameter the fit has run off to infinity (a parameter without bound).
MAX_LOG_PARAM = 30.0


def minimise_log_params(
    fun: Callable, hess: Callable, starts: Sequence[np.ndarray], args: tuple
) -> tuple[np.ndarray, bool, str]:
    """Minimise ``fun(x, *args) -> (value, gradient)`` from the best of ``starts``.

    Newton steps in a trust region with the exact Hessian ``hess(x, *args)`` (a handful of
    evaluations, even at a million customers); BFGS from where that stopped if it did not
    converge. Returns ``(x, converged, message)``: converged means finite, gradient below
    ``GRADIENT_TOL`` and no log-parameter beyond ``MAX_LOG_PARAM``.
    """
    values = [fun(s, *args)[0] for s in starts]
    start = starts[int(np.nanargmin(values))]
    options = {"gtol": BFGS_GTOL, "maxiter": MAX_ITER}
    try:
        result = minimize(
            fun, start, args=args, jac=True, hess=hess, method="trust-exact", options=options
        )
        x, success = result.x, result.success
    except (ValueError, np.linalg.LinAlgError):
        # The Hessian turned non-finite on the way (a parameter running off): BFGS from the start.
        x, success = start, False
    if not success:
        restart = x if np.all(np.isfinite(x)) else start
        result = minimize(fun, restart, args=args, jac=True, method="BFGS", options=options)
    grad = fun(result.x, *args)[1]
    converged = bool(
        np.all(np.isfinite(result.x))
        and np.max(np.abs(grad)) < GRADIENT_TOL
        and np.max(np.abs(result.x)) < MAX_LOG_PARAM
    )
    return result.x, converged, str(result.message)
