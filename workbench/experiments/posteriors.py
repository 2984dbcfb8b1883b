"""Posterior draws for one arm: a conversion rate, the mean of a per-user amount, revenue per user.

Rates: Beta-Binomial. With ``x`` converting users out of ``n`` and a Beta(a0, b0) prior, the
posterior of the rate is Beta(a0 + x, b0 + n - x) (conjugate; defaults a0 = b0 = 1).

Means of per-user amounts (revenue of purchasers, predicted customer value): the Bayesian
bootstrap (Rubin 1981, "The Bayesian bootstrap", Ann. Statist. 9:130-134):
1. the population is a discrete distribution on the observed values with unknown weights;
2. the weights have a flat Dirichlet(1, ..., 1) posterior, one weight per user;
3. the population mean is then sum_i w_i x_i, drawn exactly by w_i = g_i / sum_j g_j,
   g_i ~ Exponential(1).
Users with the same value share one weight: a sum of k Exponential(1) is Gamma(k, 1), so a table
of distinct values with their counts gives the same posterior as the users one by one. Its mean
is the sample mean, its variance s^2 / (n + 1) (s^2 the variance with divisor n).

Revenue per user is a hurdle: P(purchase) x mean amount of a purchaser. The purchase rate gets
the Beta-Binomial above; the mean positive amount the Bayesian bootstrap. Why the bootstrap for
amounts with many zeros and heavy tails, and not a parametric model:
- a log-normal model (conjugate Normal-Inverse-Gamma on log amounts) puts the mean at
  exp(mu + sigma^2 / 2): when amounts are not log-normal (a Pareto tail, a mixture of small and
  bulk orders) that mean is wrong however many users there are, and a few large orders move
  sigma^2 and hence the mean exponentially;
- the bootstrap assumes nothing about the shape, its posterior mean is the sample mean (the
  unbiased estimate of revenue), and its intervals match the frequentist bootstrap's; it is
  consistent whenever the amounts have a finite variance;
- its known weakness: it puts no mass above the largest order seen, so with very heavy tails
  and few purchasers its intervals are somewhat too narrow (tests/test_experiment_posteriors.py
  measures the coverage on log-normal and Pareto amounts);
- the zeros are handled by the hurdle, so the rate and the basket size are reported separately
  and a change in either can be read on its own.
"""

from __future__ import annotations

import numpy as np

from workbench.experiments.settings import (
    BOOTSTRAP_BLOCK,
    EXACT_BOOTSTRAP_MAX_VALUES,
    PRIOR_FAILURES,
    PRIOR_SUCCESSES,
)


def rate_posterior(
    successes: int,
    trials: int,
    *,
    draws: int,
    rng: np.random.Generator,
    prior_successes: float = PRIOR_SUCCESSES,
    prior_failures: float = PRIOR_FAILURES,
) -> np.ndarray:
    """Draws (``draws``,) of a rate with ``successes`` out of ``trials`` (users): the conjugate
    Beta(prior_successes + successes, prior_failures + trials - successes) posterior."""
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} must be between 0 and trials {trials}")
    return rng.beta(prior_successes + successes, prior_failures + trials - successes, size=draws)


def mean_posterior(
    values: np.ndarray,
    counts: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bayesian-bootstrap draws (``draws``,) of the population mean of a per-user amount.

    ``values`` are the distinct amounts (currency per user), ``counts`` how many users have each.
    Exact (Gamma(count) weights) up to ``EXACT_BOOTSTRAP_MAX_VALUES`` distinct values; above
    that, the posterior's normal limit with the same mean and variance, s^2 / (n + 1).
    """
    values = np.asarray(values, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if values.shape != counts.shape or values.ndim != 1:
        raise ValueError("values and counts must be 1-D arrays of the same length")
    if len(values) == 0 or counts.sum() <= 0:
        raise ValueError("the Bayesian bootstrap needs at least one user")
    n = counts.sum()
    if len(values) > EXACT_BOOTSTRAP_MAX_VALUES:
        mean = float(np.dot(counts, values) / n)
        var = float(np.dot(counts, (values - mean) ** 2) / n)
        return rng.normal(mean, np.sqrt(var / (n + 1)), size=draws)
    # Values held by one user (the usual case for amounts) get Exponential(1) weights, which
    # numpy draws several times faster than Gamma(1); the rest Gamma(count).
    single = counts == 1
    out = np.empty(draws)
    block = max(1, BOOTSTRAP_BLOCK // len(values))
    for start in range(0, draws, block):
        size = min(draws, start + block) - start
        if single.all():
            g = rng.standard_exponential((size, len(values)))
        else:
            g = np.empty((size, len(values)))
            g[:, single] = rng.standard_exponential((size, int(single.sum())))
            g[:, ~single] = rng.gamma(counts[~single], size=(size, int((~single).sum())))
        out[start : start + size] = (g @ values) / g.sum(axis=1)
    return out


def revenue_posterior(
    n_users: int,
    purchasers: int,
    amounts: np.ndarray,
    counts: np.ndarray,
    *,
    draws: int,
    rng: np.random.Generator,
    prior_successes: float = PRIOR_SUCCESSES,
    prior_failures: float = PRIOR_FAILURES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hurdle posterior of revenue per user for one arm of ``n_users`` users (buyers or not), of
    whom ``purchasers`` bought.

    ``amounts`` are the distinct positive revenues per purchaser (currency over the test) and
    ``counts`` how many purchasers have each: normally the arm's own purchasers; an arm without
    any is given the other arms' (its purchase rate is then near 0 anyway). With no amounts at
    all, revenue is 0. Returns draws (``draws``,) of ``(purchase_rate, revenue_per_purchaser,
    revenue_per_user)``, the last the product of the first two.
    """
    rate = rate_posterior(
        purchasers,
        n_users,
        draws=draws,
        rng=rng,
        prior_successes=prior_successes,
        prior_failures=prior_failures,
    )
    if np.sum(counts) > 0:
        per_purchaser = mean_posterior(amounts, counts, draws=draws, rng=rng)
    else:
        per_purchaser = np.zeros(draws)
    return rate, per_purchaser, rate * per_purchaser
