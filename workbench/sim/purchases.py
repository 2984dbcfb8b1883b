"""First orders and repeat purchases of converters: BG/NBD counts, Gamma-Gamma amounts.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), time in weeks:
1. while alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, rate alpha);
2. after each repeat purchase they drop out with probability p ~ Beta(a, b);
3. lambda and p are independent across customers; (r, alpha, a, b) depend on the acquisition
   channel here.
Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): each order amount ~ Gamma(p, rate nu),
nu ~ Gamma(q, rate v) per customer; the first order is drawn the same way.

Given a Poisson count N over the horizon, arrival times are N sorted uniforms; the customer makes
the first min(N, K) of them, K ~ Geometric(p) being the purchase after which they drop out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import hyp2f1

from workbench.sim.scenarios import BGNBD, DAYS_PER_WEEK, GammaGamma


@dataclass(frozen=True)
class Purchases:
    """Orders as parallel arrays: customer index, time (days from start), amount (currency).

    The customers' latent draws come along (per customer, by index): purchase ``rate`` lambda
    (per week), ``dropout`` p and Gamma-Gamma ``order_rate`` nu (the mean order is p_gg / nu);
    the customer-experience simulation derives engagement from them."""

    customer: np.ndarray
    time: np.ndarray
    amount: np.ndarray
    rate: np.ndarray | None = None
    dropout: np.ndarray | None = None
    order_rate: np.ndarray | None = None


def draw_purchases(
    first_time: np.ndarray,
    acquisition: np.ndarray,
    labels: list[str],
    bgnbd: dict[str, BGNBD],
    gamma_gamma: GammaGamma,
    end_days: float,
    rng: np.random.Generator,
) -> Purchases:
    """First order at ``first_time`` (days) plus BG/NBD repeats up to ``end_days``.

    ``acquisition`` (customer,) indexes ``labels``, whose names key ``bgnbd``.
    """
    m = len(first_time)
    r, alpha, a, b = (
        np.array([getattr(bgnbd[lab], k) for lab in labels])[acquisition]
        for k in ("r", "alpha", "a", "b")
    )
    lam = rng.gamma(r, 1.0 / alpha) if m else np.empty(0)  # per week
    p_drop = rng.beta(a, b) if m else np.empty(0)
    nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.v, size=m)
    horizon = np.maximum(end_days - first_time, 0.0) / DAYS_PER_WEEK  # weeks
    n_poisson = rng.poisson(lam * horizon)
    n_made = np.minimum(n_poisson, rng.geometric(p_drop) if m else np.empty(0, np.int64))

    cust = np.repeat(np.arange(m), n_poisson)
    pos = rng.random(len(cust))
    order = np.lexsort((pos, cust))
    cust, pos = cust[order], pos[order]
    starts = np.repeat(np.cumsum(n_poisson) - n_poisson, n_poisson)
    rank = np.arange(len(cust)) - starts
    keep = rank < n_made[cust]
    cust, pos = cust[keep], pos[keep]
    repeat_time = first_time[cust] + pos * horizon[cust] * DAYS_PER_WEEK

    customers = np.concatenate([np.arange(m), cust])
    times = np.concatenate([first_time, repeat_time])
    amounts = rng.gamma(gamma_gamma.p, 1.0 / nu[customers])
    order = np.lexsort((times, customers))
    return Purchases(
        customers[order],
        times[order],
        np.round(amounts[order], 2),
        rate=lam,
        dropout=p_drop,
        order_rate=nu,
    )


def expected_repeat_purchases(params: BGNBD, t: float) -> float:
    """E[X(t)], expected repeat purchases in t weeks after the first (Fader et al. 2005, eq. 9)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + t)
    return (
        (a + b - 1.0)
        / (a - 1.0)
        * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z))
    )


def expected_clv(params: BGNBD, gamma_gamma: GammaGamma, horizon_weeks: float) -> float:
    """Expected undiscounted value over the horizon: first order + E[X(t)] repeat orders, each
    worth the mean order value p v / (q - 1) (currency)."""
    mean_order = gamma_gamma.mean_order_value
    return mean_order * (1.0 + expected_repeat_purchases(params, horizon_weeks))
