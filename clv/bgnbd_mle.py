"""BG/NBD maximum likelihood with an analytic gradient, on the per-customer statistics.

The likelihood is lifetimes' BetaGeoFitter's (FHL 2005 eq. 6, the mean over customers, no
penalty), so the optimum is the same point; what differs is the cost of each evaluation.
lifetimes differentiates the whole expression with autograd on every row; here:
- the terms that depend on x alone (A1, A2 and their derivatives: gammaln, digamma) are computed
  once per distinct frequency and weighted by its customer count;
- log(alpha + T) and log(alpha + t_x) once per distinct T and t_x (hundreds at a million
  customers), gathered to the rows;
- per row, only the log-sum-exp of A3 and A4 and its softmax weight remain.
The optimiser works in the log-parameters (as lifetimes) from a start chosen on a small grid, on
times rescaled like lifetimes (so that alpha is of order one): trust-region Newton steps with the
exact Hessian, BFGS as a fallback, and the gradient test of ``clv.newton.GRADIENT_TOL`` as the
convergence criterion (``clv.newton``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from clv.newton import minimise_log_params

#: Time rescaling: times are multiplied by TIME_SCALE_TARGET / max(T) (lifetimes' _scale_time).
TIME_SCALE_TARGET = 10.0
#: Starting grid: r and alpha (scaled time units), a and b.
START_R_ALPHA = ((0.5, 1.0), (1.0, 5.0), (0.2, 0.5))
START_A_B = ((1.0, 3.0), (0.5, 5.0), (2.0, 2.0))


class _Data:
    """Unique (x, t_x, T) rows with customer counts, and their distinct values precomputed.

    Rows are compressed through integer codes of the distinct values of each column (one sort of
    an int64 key), much cheaper than a lexsort of three float columns at a million customers."""

    def __init__(self, x, t_x, big_t, w):
        xs, x_code = np.unique(x, return_inverse=True)
        rs, r_code = np.unique(t_x, return_inverse=True)
        ts, t_code = np.unique(big_t, return_inverse=True)
        key = (x_code.astype(np.int64) * rs.size + r_code) * ts.size + t_code
        keys, first, row = np.unique(key, return_index=True, return_inverse=True)
        self.w = np.bincount(row, weights=w, minlength=keys.size)
        self.x = x[first]
        self.xs, x_idx = xs, x_code[first]
        self.rs, self.r_idx = rs, r_code[first]
        self.ts, self.t_idx = ts, t_code[first]
        self.total = self.w.sum()
        self.n_x = np.bincount(x_idx, weights=self.w, minlength=xs.size)
        self.repeat = self.x > 0
        # log(b + x - 1) needs x >= 1; for x = 0 the A4 term is dropped anyway.
        self.x_floor = np.maximum(self.x, 1.0)


def _negative_loglik(log_params, d: _Data):
    """Mean negative log-likelihood (lifetimes' objective) and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    xs, x = d.xs, d.x
    # Terms of x alone, summed with the customer counts per distinct frequency.
    a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
    g_r_x = digamma(r + xs) - digamma(r) + np.log(alpha)
    g_a_x = digamma(a + b) - digamma(a + b + xs)
    g_b_x = g_a_x + digamma(b + xs) - digamma(b)
    log_t = np.log(alpha + d.ts)[d.t_idx]
    log_tx = np.log(alpha + d.rs)[d.r_idx]
    inv_t = (1.0 / (alpha + d.ts))[d.t_idx]
    inv_tx = (1.0 / (alpha + d.rs))[d.r_idx]
    rx = r + x
    a3 = -rx * log_t
    a4 = np.log(a) - np.log(b + d.x_floor - 1.0) - rx * log_tx
    a4 = np.where(d.repeat, a4, -np.inf)
    lse = np.logaddexp(a3, a4)
    pi4 = np.exp(a4 - lse)  # share of the "dropped out right after the last purchase" term
    pi3 = 1.0 - pi4
    w = d.w
    value = d.n_x @ (a1 + a2) + w @ lse
    g_r = d.n_x @ g_r_x - w @ (pi3 * log_t + pi4 * log_tx)
    g_alpha = r * d.total / alpha - w @ (rx * (pi3 * inv_t + pi4 * inv_tx))
    g_a = d.n_x @ g_a_x + (w @ pi4) / a
    g_b = d.n_x @ g_b_x - w @ (pi4 / (b + d.x_floor - 1.0))
    grad = np.array([r * g_r, alpha * g_alpha, a * g_a, b * g_b])
    return -value / d.total, -grad / d.total


def _negative_loglik_hessian(log_params, d: _Data) -> np.ndarray:
    """Hessian (4 x 4) of the mean negative log-likelihood in the log-parameters.

    Per row, log(e^A3 + e^A4) has Hessian pi3 H(A3) + pi4 H(A4) + pi3 pi4 (g3 - g4)(g3 - g4)^T
    (g = gradients in r, alpha, a, b); the x-only terms add trigamma terms per distinct x."""
    theta = np.exp(log_params)
    r, alpha, a, b = theta
    xs, x, w = d.xs, d.x, d.w
    inv_t = (1.0 / (alpha + d.ts))[d.t_idx]
    inv_tx = (1.0 / (alpha + d.rs))[d.r_idx]
    log_t = np.log(alpha + d.ts)[d.t_idx]
    log_tx = np.log(alpha + d.rs)[d.r_idx]
    rx = r + x
    inv_b = 1.0 / (b + d.x_floor - 1.0)
    a3 = -rx * log_t
    a4 = np.where(d.repeat, np.log(a) + np.log(inv_b) - rx * log_tx, -np.inf)
    pi4 = np.exp(a4 - np.logaddexp(a3, a4))
    pi3 = 1.0 - pi4
    h = np.zeros((4, 4))
    # x-only terms.
    h[0, 0] = d.n_x @ (polygamma(1, r + xs) - polygamma(1, r))
    h[0, 1] = d.total / alpha
    h[1, 1] = -d.total * r / alpha**2
    tri_ab = polygamma(1, a + b) - polygamma(1, a + b + xs)
    h[2, 2] = d.n_x @ tri_ab
    h[2, 3] = d.n_x @ tri_ab
    h[3, 3] = d.n_x @ (tri_ab + polygamma(1, b + xs) - polygamma(1, b))
    # Second derivatives of A3 and A4, weighted by their shares.
    h[0, 1] -= w @ (pi3 * inv_t + pi4 * inv_tx)
    h[1, 1] += w @ (rx * (pi3 * inv_t**2 + pi4 * inv_tx**2))
    h[2, 2] -= (w @ pi4) / a**2
    h[3, 3] += w @ (pi4 * inv_b**2)
    # Outer product of the difference of the gradients of A3 and A4.
    diff = np.stack([-log_t + log_tx, -rx * inv_t + rx * inv_tx, -np.full_like(x, 1.0 / a), inv_b])
    weight = w * pi3 * pi4
    h += (diff * weight) @ diff.T
    # Only the upper triangle holds every term (the outer product is symmetric): mirror it.
    h = np.triu(h) + np.triu(h, 1).T
    grad_log = -_negative_loglik(log_params, d)[1] * d.total
    out = theta[:, None] * theta[None, :] * h + np.diag(grad_log)
    return -out / d.total


def fit(frequency, recency, T, weights=None) -> tuple[dict[str, float], bool, str]:
    """``(params, converged, message)``: maximum-likelihood r, alpha (time units of ``T``), a, b
    from per-customer statistics (shape (n,) each), optionally unique rows with ``weights``."""
    x = np.asarray(frequency, dtype=float)
    big_t = np.asarray(T, dtype=float)
    scale = TIME_SCALE_TARGET / float(np.max(big_t))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    d = _Data(x, np.asarray(recency, dtype=float) * scale, big_t * scale, w)
    starts = [np.log([r, al, a, b]) for r, al in START_R_ALPHA for a, b in START_A_B]
    x_opt, converged, message = minimise_log_params(
        _negative_loglik, _negative_loglik_hessian, starts, (d,)
    )
    r, alpha, a, b = np.exp(x_opt)
    params = {"r": float(r), "alpha": float(alpha / scale), "a": float(a), "b": float(b)}
    return params, converged, message
