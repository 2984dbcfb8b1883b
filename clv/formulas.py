"""Closed forms of the BG/NBD and Gamma-Gamma models, vectorised with numpy (their likelihoods
are in ``clv.bgnbd`` and ``clv.gamma_gamma``).

Every function broadcasts: parameters may be scalars (a point estimate) or arrays of shape
``(S, 1)`` (posterior draws) against customer arrays of shape ``(n,)``, giving ``(S, n)``.
Equations follow Fader, Hardie & Lee (2005), "Counting your customers the easy way" (BG/NBD),
and Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025); the
implementations mirror lifetimes 0.11 so that point estimates agree to floating-point precision.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, hyp2f1, roots_jacobi

from clv.settings import RETENTION_NODES, RETENTION_QUANTILES


def alive_odds_denominator(r, alpha, a, b, x, t_x, T):
    """1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x): the reciprocal of
    P(alive) and the denominator of FHL eq. 10. The only factor that depends on recency."""
    x = np.asarray(x, dtype=float)
    log_ratio = (r + x) * np.log((alpha + T) / (alpha + t_x))
    odds = np.exp(np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + log_ratio)
    return 1.0 + np.where(x > 0, odds, 0.0)


def p_alive(r, alpha, a, b, x, t_x, T):
    """P(alive at T | x, t_x, T): probability the customer has not dropped out (FHL eq. 13)."""
    x = np.asarray(x, dtype=float)
    log_div = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(
        a / (b + np.maximum(x, 1.0) - 1.0)
    )
    return np.where(x == 0, 1.0, expit(-log_div))


def expected_purchases_numerator(t, r, alpha, a, b, x, T):
    """The numerator of FHL eq. 10, which depends on (x, T) but not on recency: expected
    purchases in the next ``t`` units of a customer known to be alive."""
    x = np.asarray(x, dtype=float)
    hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1.0
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        hyp = hyp2f1(hyp_a, hyp_b, hyp_c, z)
        # Euler's transformation when the series overflows (large x), as lifetimes does.
        hyp_alt = hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z)
        ln_hyp = np.log(np.abs(hyp))
        ln_hyp_alt = np.log(np.abs(hyp_alt)) + (hyp_c - hyp_a - hyp_b) * np.log1p(-z)
    overflow = np.isinf(ln_hyp)
    ln_hyp = np.where(overflow, ln_hyp_alt, ln_hyp)
    # The function is negative for some a + b + x < 1 (a posterior draw with a + b < 1 at x = 0);
    # lifetimes takes its log and returns NaN there, so the log is of |2F1| and the sign kept.
    sign = np.where(overflow, np.sign(hyp_alt), np.sign(hyp))
    first = (a + b + x - 1.0) / (a - 1.0)
    second = 1.0 - sign * np.exp(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + T + t)))
    return first * second


def expected_purchases(t, r, alpha, a, b, x, t_x, T):
    """E[X(T, T + t] | x, t_x, T]: expected purchases in the next ``t`` units (FHL eq. 10)."""
    return expected_purchases_numerator(t, r, alpha, a, b, x, T) / alive_odds_denominator(
        r, alpha, a, b, x, t_x, T
    )


def unconditional_expected_purchases(t, r, alpha, a, b):
    """E[X(t)]: expected repeat purchases of a new customer within ``t`` units (FHL eq. 9)."""
    hyp = hyp2f1(r, b, a + b - 1.0, t / (alpha + t))
    return (a + b - 1.0) / (a - 1.0) * (1.0 - hyp * (alpha / (alpha + t)) ** r)


def retention(t, r, alpha, a, b, nodes: int = RETENTION_NODES):
    """P(a new customer is still alive ``t`` units after the first purchase).

    Given purchase rate lambda and dropout probability p, the customer survives each of a
    Poisson(lambda t) number of purchases with probability 1 - p, so P(alive) = exp(-lambda p t);
    averaging over lambda ~ Gamma(r, alpha) gives (alpha / (alpha + p t))^r, and the average over
    p ~ Beta(a, b) is done by Gauss-Jacobi quadrature. ``t`` has shape (m,); parameters are
    scalars or shape (S,); the result has shape (S, m) (S = 1 for scalars).
    """
    t = np.asarray(t, dtype=float)
    r, alpha, a, b = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (r, alpha, a, b))
    out = np.empty((r.size, t.size))
    for s in range(r.size):
        # Jacobi weight (1-u)^(b-1) (1+u)^(a-1) on [-1, 1] is Beta(a, b) for p = (1 + u) / 2.
        with np.errstate(over="ignore"):
            u, w = roots_jacobi(nodes, b[s] - 1.0, a[s] - 1.0)
        p = (1.0 + u) / 2.0
        if not np.all(np.isfinite(w)):
            # a or b in the thousands overflow the weights' common scale: average over evenly
            # spaced quantiles of Beta(a, b) instead (the distribution is then narrow).
            from scipy.stats import beta as beta_distribution

            p = beta_distribution.ppf(
                (np.arange(RETENTION_QUANTILES) + 0.5) / RETENTION_QUANTILES, a[s], b[s]
            )
            w = np.ones_like(p)
        surv = (alpha[s] / (alpha[s] + p[:, None] * t[None, :])) ** r[s]
        out[s] = w @ surv / w.sum()
    return out


def expected_order_value(p, q, v, x, m):
    """E[spend per purchase | x, m]: the population mean p v / (q - 1) shrunk towards the
    customer's own mean ``m`` with weight p x / (p x + q - 1) (note 025, eq. 5)."""
    x = np.asarray(x, dtype=float)
    weight = p * x / (p * x + q - 1.0)
    return (1.0 - weight) * (p * v / (q - 1.0)) + weight * m
