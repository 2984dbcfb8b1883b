"""The BG/NBD likelihood: one implementation, used by the maximum-likelihood fit (value,
gradient and Hessian) and by the PyMC model (value and gradient, through ``clv.inference``).

Model (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
1. While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha).
2. After each purchase the customer drops out with probability p ~ Beta(a, b).
3. lambda and p are independent across and within customers.
4. The likelihood of (x, t_x, T) is closed-form (eq. 6): A1 + A2 + log(e^A3 + [x > 0] e^A4),
   written as lifetimes' ``BetaGeoFitter`` writes it, so the optimum is lifetimes' to many digits.

Cost: customers sharing (x, t_x, T) add the same term, so the sums run over unique rows times
their customer counts; the terms of x alone (A1, A2 and their derivatives: gammaln, digamma) run
once per distinct frequency, and log(alpha + T), log(alpha + t_x) once per distinct T and t_x
(hundreds at a million customers), gathered to the rows.

Times are rescaled internally like lifetimes' (by TIME_SCALE_TARGET / max(T), so that alpha is of
order one for the optimiser); parameters in and out are in the caller's time units, and the
rescaling only adds the constant sum(x) log(scale) to the log-likelihood, which is added back.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from clv.data import compress, weighted_sum
from clv.settings import BGNBD_PARAMS

#: Time rescaling: times are multiplied by TIME_SCALE_TARGET / max(T) (lifetimes' _scale_time).
TIME_SCALE_TARGET = 10.0
#: Starting grid of the maximum-likelihood fit: r and alpha (rescaled time units), a and b.
START_R_ALPHA = ((0.5, 1.0), (1.0, 5.0), (0.2, 0.5))
START_A_B = ((1.0, 3.0), (0.5, 5.0), (2.0, 2.0))


class BGNBDLikelihood:
    """Log-likelihood of BG/NBD over customers' (frequency, recency, T) (shape (n,) each, time
    units; ``weights``: customers per row), as a function of the log-parameters
    ``log([r, alpha, a, b])`` (alpha in the same time units)."""

    names = BGNBD_PARAMS

    def __init__(self, frequency, recency, T, weights=None):
        big_t = np.asarray(T, dtype=float)
        self.scale = TIME_SCALE_TARGET / float(np.max(big_t)) if np.max(big_t) > 0 else 1.0
        rows = compress(
            weights=weights,
            frequency=frequency,
            recency=np.asarray(recency) * self.scale,
            T=big_t * self.scale,
        )
        x = rows.columns["frequency"]
        self.w = rows.weights.astype(float)
        self.total = self.w.sum()
        self.n_rows = len(rows)
        self.x = x
        self.xs, x_idx = np.unique(x, return_inverse=True)
        self.rs, self.r_idx = np.unique(rows.columns["recency"], return_inverse=True)
        self.ts, self.t_idx = np.unique(rows.columns["T"], return_inverse=True)
        self.n_x = np.bincount(x_idx, weights=self.w, minlength=self.xs.size)
        self.repeat = x > 0
        # log(b + x - 1) needs x >= 1; for x = 0 the A4 term is dropped anyway.
        self.x_floor = np.maximum(x, 1.0)
        # The rescaling's constant: L(unscaled) = L(rescaled) + sum(w x) log(scale).
        self.offset = float(self.w @ x) * np.log(self.scale)

    def starts(self) -> list[np.ndarray]:
        """Starting points (log-parameters, caller's time units) of the maximum-likelihood fit."""
        return [
            np.log([r, alpha / self.scale, a, b])
            for r, alpha in START_R_ALPHA
            for a, b in START_A_B
        ]

    def _pieces(self, log_params):
        r, alpha, a, b = np.exp(log_params)
        alpha = alpha * self.scale
        log_t = np.log(alpha + self.ts)[self.t_idx]
        log_tx = np.log(alpha + self.rs)[self.r_idx]
        rx = r + self.x
        a3 = -rx * log_t
        a4 = np.log(a) - np.log(b + self.x_floor - 1.0) - rx * log_tx
        a4 = np.where(self.repeat, a4, -np.inf)
        lse = np.logaddexp(a3, a4)
        # Share of the "dropped out right after the last purchase" term in each row's sum.
        pi4 = np.exp(a4 - lse)
        return r, alpha, a, b, log_t, log_tx, rx, lse, pi4

    def loglik_and_grad(self, log_params, constant: bool = True) -> tuple[float, np.ndarray]:
        """Total log-likelihood (sum over customers) and its gradient in the log-parameters;
        ``constant=False`` leaves out the rescaling's constant (the optimiser's objective, whose
        differences then keep every digit)."""
        r, alpha, a, b, log_t, log_tx, rx, lse, pi4 = self._pieces(log_params)
        xs, w = self.xs, self.w
        pi3 = 1.0 - pi4
        a1 = gammaln(r + xs) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
        g_r_x = digamma(r + xs) - digamma(r) + np.log(alpha)
        g_a_x = digamma(a + b) - digamma(a + b + xs)
        g_b_x = g_a_x + digamma(b + xs) - digamma(b)
        inv_t = (1.0 / (alpha + self.ts))[self.t_idx]
        inv_tx = (1.0 / (alpha + self.rs))[self.r_idx]
        value = self.n_x @ (a1 + a2) + weighted_sum(w, lse) + (self.offset if constant else 0.0)
        g_r = self.n_x @ g_r_x - weighted_sum(w, pi3 * log_t + pi4 * log_tx)
        g_alpha = r * self.total / alpha - weighted_sum(w, rx * (pi3 * inv_t + pi4 * inv_tx))
        g_a = self.n_x @ g_a_x + weighted_sum(w, pi4) / a
        g_b = self.n_x @ g_b_x - weighted_sum(w, pi4 / (b + self.x_floor - 1.0))
        return float(value), np.array([r * g_r, alpha * g_alpha, a * g_a, b * g_b])

    def hessian(self, log_params) -> np.ndarray:
        """Hessian (4 x 4) of the total log-likelihood in the log-parameters.

        Per row, log(e^A3 + e^A4) has Hessian pi3 H(A3) + pi4 H(A4) + pi3 pi4 (g3 - g4)(g3 - g4)^T
        (g = gradients in r, alpha, a, b); the x-only terms add trigamma terms per distinct x."""
        r, alpha, a, b, log_t, log_tx, rx, _, pi4 = self._pieces(log_params)
        theta = np.array([r, alpha, a, b])
        xs, w = self.xs, self.w
        pi3 = 1.0 - pi4
        inv_t = (1.0 / (alpha + self.ts))[self.t_idx]
        inv_tx = (1.0 / (alpha + self.rs))[self.r_idx]
        inv_b = 1.0 / (b + self.x_floor - 1.0)
        h = np.zeros((4, 4))
        # x-only terms.
        h[0, 0] = self.n_x @ (polygamma(1, r + xs) - polygamma(1, r))
        h[0, 1] = self.total / alpha
        h[1, 1] = -self.total * r / alpha**2
        tri_ab = polygamma(1, a + b) - polygamma(1, a + b + xs)
        h[2, 2] = self.n_x @ tri_ab
        h[2, 3] = self.n_x @ tri_ab
        h[3, 3] = self.n_x @ (tri_ab + polygamma(1, b + xs) - polygamma(1, b))
        # Second derivatives of A3 and A4, weighted by their shares.
        h[0, 1] -= weighted_sum(w, pi3 * inv_t + pi4 * inv_tx)
        h[1, 1] += weighted_sum(w, rx * (pi3 * inv_t**2 + pi4 * inv_tx**2))
        h[2, 2] -= weighted_sum(w, pi4) / a**2
        h[3, 3] += weighted_sum(w, pi4 * inv_b**2)
        # Outer product of the difference of the gradients of A3 and A4.
        diff = np.stack(
            [-log_t + log_tx, -rx * inv_t + rx * inv_tx, -np.full_like(self.x, 1.0 / a), inv_b]
        )
        h += np.einsum("in,jn->ij", diff * (w * pi3 * pi4), diff)
        # Only the upper triangle holds every term (the outer product is symmetric): mirror it.
        h = np.triu(h) + np.triu(h, 1).T
        # Chain rule to log-parameters: theta_i theta_j H_ij + delta_ij theta_i dL/dtheta_i.
        grad_log = self.loglik_and_grad(log_params)[1]
        return theta[:, None] * theta[None, :] * h + np.diag(grad_log)


def customer_loglik(
    theta: np.ndarray, frequency: np.ndarray, recency: np.ndarray, big_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD log-likelihood of each customer's (frequency, recency, T) (time units) under each
    row of ``theta`` (K, 4) = log(r, alpha, a, b): (customer, K), and its gradient in the
    log-parameters (customer, K, 4). Fader, Hardie & Lee (2005) eq. 6, the terms of
    ``BGNBDLikelihood`` kept per customer, for several parameter sets at once (a mixture of
    BG/NBDs, one per acquiring channel, needs them one by one)."""
    from scipy.special import expit

    r, alpha, a, b = (np.exp(np.asarray(theta, float)[:, j])[None, :] for j in range(4))
    # Terms of x alone on the distinct frequencies (few), then gathered per customer.
    xs, at = np.unique(frequency, return_inverse=True)
    xs = xs[:, None]
    d_ab = digamma(a + b) - digamma(a + b + xs)
    with np.errstate(divide="ignore"):  # log(b + x - 1) is only used for x >= 1
        log_b = np.where(xs > 0, np.log(a) - np.log(b + np.maximum(xs, 1.0) - 1.0), -np.inf)
    x_only = (
        gammaln(r + xs)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + xs)
        - gammaln(b)
        - gammaln(a + b + xs)
    )[at]
    rx = r + frequency[:, None]
    log_t, log_tx = np.log(alpha + big_t[:, None]), np.log(alpha + recency[:, None])
    # log(e^A3 + e^A4) = A3 + log(1 + e^(A4 - A3)); pi4 = e^A4 / (e^A3 + e^A4), the share of
    # "dropped out right after the last purchase" (0 without a repeat purchase).
    gap = log_b[at] + rx * (log_t - log_tx)
    loglik = x_only - rx * log_t + np.logaddexp(0.0, gap)
    pi4 = expit(gap)
    inv_t, inv_tx = 1.0 / (alpha + big_t[:, None]), 1.0 / (alpha + recency[:, None])
    grad = np.empty((*loglik.shape, 4))
    grad[..., 0] = r * ((digamma(r + xs) - digamma(r) + np.log(alpha))[at] - log_t)
    grad[..., 0] += r * pi4 * (log_t - log_tx)
    grad[..., 1] = r - alpha * rx * (inv_t + pi4 * (inv_tx - inv_t))
    grad[..., 2] = (a * d_ab)[at] + pi4
    grad[..., 3] = (b * (d_ab + digamma(b + xs) - digamma(b)))[at]
    grad[..., 3] -= b * pi4 / (b + np.maximum(xs, 1.0) - 1.0)[at]
    return loglik, grad
