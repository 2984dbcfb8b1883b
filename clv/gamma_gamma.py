"""The Gamma-Gamma spend likelihood: one implementation, used by the maximum-likelihood fit
(value, gradient and Hessian) and by the PyMC model (value and gradient, ``clv.inference``).

Model (Fader & Hardie 2013, note 025; Colombo & Jiang 1999):
1. Each purchase's value is Gamma(p, nu) around the customer's mean.
2. The customer's scale nu ~ Gamma(q, v) across customers.
3. Spend is independent of the purchase process (check with the correlation of x and m).
4. The mean m of x repeat purchases has a closed-form marginal likelihood (eq. 1a, as lifetimes'
   ``GammaGammaFitter`` writes it); only repeat customers with m > 0 contribute.

Why not lifetimes' own fit: it starts BFGS at log-parameters 0.1 (p = q = v = 1.1) whatever the
currency scale, and with amounts in the tens or hundreds v lies orders of magnitude away, the
curvature along log v and log q is nearly singular, and BFGS stops with "precision loss" a hair
from the optimum (it happened on the simulator's data at 10,000 users). Here, for the same
likelihood: amounts are rescaled by their weighted mean (the model is scale-equivariant: m -> m / s
gives v -> v / s with p, q unchanged and moves the log-likelihood by the constant -log s per
customer, added back), the start is the best point of a small (p, q) grid with v set so that the
population mean spend p v / (q - 1) equals the sample mean, and the optimiser is Newton with the
exact Hessian (``clv.newton``).

Cost: only (p x + q) log(x m + v) couples the parameters with each row's m; the rest depends on x
alone or is linear in sum(log m) per x, so gammaln/digamma run once per distinct frequency.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from clv.data import weighted_sum
from clv.settings import GG_PARAMS

#: Grid of starting (p, q); q > 1 so the population mean spend exists.
START_P = (0.5, 2.0, 8.0)
START_Q = (1.5, 4.0, 16.0)


class GammaGammaLikelihood:
    """Log-likelihood of the Gamma-Gamma model over repeat customers' (frequency, mean spend)
    (shape (n,) each: frequency > 0, monetary_value > 0; ``weights``: customers per row), as a
    function of ``log([p, q, v])`` (v in the currency of the spends). Rows need not be unique:
    mean spends are continuous, so compressing would cost a sort and save few rows."""

    names = GG_PARAMS

    def __init__(self, frequency, monetary_value, weights=None):
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        self.scale = float(w @ m / w.sum())
        m = m / self.scale
        self.x, self.w = x, w
        self.n_rows = x.size
        self.xm = x * m
        self.wx = w * x
        self.total = w.sum()
        self.xs, x_idx = np.unique(x, return_inverse=True)
        self.n_x = np.bincount(x_idx, weights=w, minlength=self.xs.size)
        self.log_m_x = np.bincount(x_idx, weights=w * np.log(m), minlength=self.xs.size)
        self.offset = -self.total * np.log(self.scale)

    def starts(self) -> list[np.ndarray]:
        """Starting points (log-parameters, currency units): p v / (q - 1) = the sample mean."""
        return [np.log([p, q, (q - 1.0) / p * self.scale]) for p in START_P for q in START_Q]

    def loglik_and_grad(self, log_params, constant: bool = True) -> tuple[float, np.ndarray]:
        """Total log-likelihood (sum over customers) and its gradient in the log-parameters;
        ``constant=False`` leaves out the rescaling's constant (the optimiser's objective, whose
        differences then keep every digit)."""
        p, q, v = np.exp(log_params)
        v = v / self.scale
        xs = self.xs
        pxs = p * xs
        log_xs = np.log(xs)
        log_xmv = np.log(self.xm + v)
        per_x = self.n_x * (
            gammaln(pxs + q) - gammaln(pxs) - gammaln(q) + q * np.log(v) + pxs * log_xs
        )
        value = (
            per_x.sum()
            + (pxs - 1.0) @ self.log_m_x
            - weighted_sum(p * self.wx + q * self.w, log_xmv)
        ) + (self.offset if constant else 0.0)
        psi_pxq = digamma(pxs + q)
        d_p = (self.n_x * xs) @ (psi_pxq - digamma(pxs) + log_xs) + xs @ self.log_m_x
        d_p -= weighted_sum(self.wx, log_xmv)
        d_q = self.n_x @ (psi_pxq - digamma(q) + np.log(v)) - weighted_sum(self.w, log_xmv)
        d_v = self.total * q / v - weighted_sum(p * self.wx + q * self.w, 1.0 / (self.xm + v))
        return float(value), np.array([p * d_p, q * d_q, v * d_v])

    def hessian(self, log_params) -> np.ndarray:
        """Hessian (3 x 3) of the total log-likelihood in the log-parameters."""
        p, q, v = np.exp(log_params)
        v = v / self.scale
        theta = np.array([p, q, v])
        xs = self.xs
        pxs = p * xs
        inv_xmv = 1.0 / (self.xm + v)
        tri_pxq = polygamma(1, pxs + q)
        h = np.empty((3, 3))
        h[0, 0] = (self.n_x * xs**2) @ (tri_pxq - polygamma(1, pxs))
        h[0, 1] = (self.n_x * xs) @ tri_pxq
        h[0, 2] = -weighted_sum(self.wx, inv_xmv)
        h[1, 1] = self.n_x @ (tri_pxq - polygamma(1, q))
        h[1, 2] = self.total / v - weighted_sum(self.w, inv_xmv)
        h[2, 2] = -self.total * q / v**2 + weighted_sum(p * self.wx + q * self.w, inv_xmv**2)
        h = np.triu(h) + np.triu(h, 1).T
        # Chain rule to log-parameters: theta_i theta_j H_ij + delta_ij theta_i dL/dtheta_i.
        grad_log = self.loglik_and_grad(log_params)[1]
        return theta[:, None] * theta[None, :] * h + np.diag(grad_log)
