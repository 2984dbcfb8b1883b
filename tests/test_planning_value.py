"""What the plan says a customer acquired by each channel is worth, against known answers.

Customers of two channels buy by BG/NBD with different parameters (the budget worlds'
e-mail and social customers: 180 and 81 per new customer over 52 weeks at the same order
value); clv.nc gives their purchase histories, order values and acquisition shares. The plan
must value a new customer of each channel at first order + that channel's expected repeat
orders (not the pooled customers' value), with an interval that holds it. When credit is
shared, each customer was still acquired by one channel, drawn with probabilities equal to
their shares: the value must be each channel's, not a blend of the channels sharing credit.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

CHANNELS = ["email", "social"]
#: r, alpha (weeks), a, b per channel: workbench.sim.scenarios' e-mail and social customers.
PARAMS = {"email": (1.3, 5.0, 1.2, 4.5), "social": (0.6, 6.0, 1.6, 2.2)}
ORDER_VALUE, HORIZON, PER_CHANNEL = 30.0, 52.0, 1500


def bgnbd_histories(r, alpha, a, b, big_t, rng):
    """(frequency, recency) of customers buying by BG/NBD over their ``big_t`` weeks after the
    first order: Poisson(lambda) while alive, dropping out after a repeat order with prob p."""
    lam = rng.gamma(r, 1.0 / alpha, big_t.size)
    p = rng.beta(a, b, big_t.size)
    freq, rec = np.zeros(big_t.size), np.zeros(big_t.size)
    for i in range(big_t.size):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > big_t[i]:
                break
            freq[i], rec[i] = freq[i] + 1, t
            if rng.random() < p[i]:
                break
    return freq, rec


def two_channel_clv(shares: np.ndarray | None = None, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    parts = []
    for c in CHANNELS:
        big_t = rng.uniform(4.0, 14.0, PER_CHANNEL)  # acquired during a 10-week campaign
        parts.append((*bgnbd_histories(*PARAMS[c], big_t, rng), big_t))
    freq, rec, big_t = (np.concatenate(x) for x in zip(*parts, strict=True))
    n = freq.size
    if shares is None:
        shares = np.repeat(np.eye(len(CHANNELS)), PER_CHANNEL, axis=0)
    return xr.Dataset(
        {
            "frequency": ("customer_id", freq),
            "recency": ("customer_id", rec),
            "T": ("customer_id", big_t),
            "monetary_value": ("customer_id", np.full(n, ORDER_VALUE)),
            "expected_order_value": ("customer_id", np.full(n, ORDER_VALUE)),
            "clv": ("customer_id", np.full(n, 50.0)),
            "acquisition_channel_share": (("customer_id", "channel"), shares),
        },
        coords={"customer_id": [f"u{i}" for i in range(n)], "channel": CHANNELS},
        attrs={"time_unit": "W", "horizon": HORIZON, "annual_discount_rate": 0.0},
    )


def true_worth(channel: str) -> float:
    from workbench.sim.purchases import expected_clv
    from workbench.sim.scenarios import BGNBD, GammaGamma

    # Gamma-Gamma with mean order p v / (q - 1) = ORDER_VALUE
    gg = GammaGamma(p=6.0, q=4.0, v=ORDER_VALUE * 3.0 / 6.0)
    assert gg.mean_order_value == pytest.approx(ORDER_VALUE)
    return expected_clv(BGNBD(*PARAMS[channel]), gg, HORIZON)


def test_a_new_customer_is_worth_the_first_order_plus_the_channels_expected_repeats():
    from workbench.planning.value import customer_value

    truth = np.array([true_worth(c) for c in CHANNELS])
    assert truth[0] > 2 * truth[1]  # the channels' customers really differ
    value = customer_value(two_channel_clv(), CHANNELS)
    np.testing.assert_allclose(value.worth, truth, rtol=0.15)
    # The customer credited to no channel is the pooled customer: between the two.
    assert truth[1] < value.baseline < truth[0]
    draws = value.draw(2000, seed=1)
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    assert np.all((lo <= truth) & (truth <= hi)), (lo, truth, hi)
    assert np.all(hi - lo > 0)


def test_shared_credit_values_each_channel_by_the_customers_it_shares():
    from workbench.planning.value import customer_value

    # Every customer credited half to each channel: both channels acquired the same customers,
    # so both are worth the pooled customer.
    half = np.full((2 * PER_CHANNEL, 2), 0.5)
    value = customer_value(two_channel_clv(half), CHANNELS)
    assert value.worth[0] == pytest.approx(value.worth[1], rel=1e-6)
    assert value.worth[0] == pytest.approx(value.baseline, rel=0.05)


def test_without_purchase_histories_the_value_is_first_order_plus_clv_by_channel():
    from workbench.planning.value import customer_value

    clv = two_channel_clv().drop_vars(["frequency", "recency", "T"])
    clv["clv_by_channel"] = ("channel", [100.0, 40.0])
    value = customer_value(clv, CHANNELS)
    np.testing.assert_allclose(value.worth, [ORDER_VALUE + 100.0, ORDER_VALUE + 40.0])
    assert "clv_by_channel" in value.note


def shared_credit_clv(seed: int, n: int = 2 * PER_CHANNEL) -> xr.Dataset:
    """Customers with e-mail's credit share 0.9, 0.7, 0.5, 0.3 or 0.1 (social's the rest), each
    acquired by ONE channel drawn with those probabilities, buying by that channel's BG/NBD."""
    rng = np.random.default_rng(seed)
    email_share = rng.choice([0.9, 0.7, 0.5, 0.3, 0.1], n)
    social = rng.random(n) >= email_share
    big_t = rng.uniform(4.0, 14.0, n)
    freq, rec = np.zeros(n), np.zeros(n)
    for channel, members in (("email", ~social), ("social", social)):
        freq[members], rec[members] = bgnbd_histories(*PARAMS[channel], big_t[members], rng)
    shares = np.column_stack([email_share, 1.0 - email_share])
    clv = two_channel_clv(shares, seed)
    return clv.assign(
        frequency=("customer_id", freq), recency=("customer_id", rec), T=("customer_id", big_t)
    )


def test_shared_credit_keeps_each_channels_own_value():
    from workbench.planning.value import customer_value

    truth = np.array([true_worth(c) for c in CHANNELS])
    value = customer_value(shared_credit_clv(seed=3), CHANNELS)
    # A fit weighting every customer by their share values social's customers at a blend of
    # both channels' (about +40% to +60% on these data): the mixture keeps them apart.
    np.testing.assert_allclose(value.worth, truth, rtol=0.2)
    assert value.worth[0] / value.worth[1] > 1.75  # truth 2.2; the weighted fit gives 1.2-1.4


def test_per_customer_likelihood_sums_to_the_bgnbd_likelihood():
    from clv.bgnbd import BGNBDLikelihood, customer_loglik

    clv = two_channel_clv(seed=2)
    f, rec, big_t = (clv[k].values for k in ("frequency", "recency", "T"))
    theta = np.log([PARAMS["email"], PARAMS["social"]])
    loglik, grad = customer_loglik(theta, f, rec, big_t)
    for k in range(2):
        total, total_grad = BGNBDLikelihood(f, rec, big_t).loglik_and_grad(theta[k])
        assert loglik[:, k].sum() == pytest.approx(total, rel=1e-10)
        np.testing.assert_allclose(grad[:, k].sum(axis=0), total_grad, rtol=1e-8)


def test_channels_with_less_than_one_customer_take_the_pooled_model():
    from workbench.planning.value import customer_value

    # Every customer credited wholly to e-mail or social, except one credited half to display
    # and half to video: too little to fit either, so their customers are the pooled one.
    channels = [*CHANNELS, "display", "video"]
    shares = np.column_stack(
        [np.repeat(np.eye(2), PER_CHANNEL, axis=0), np.zeros((2 * PER_CHANNEL, 2))]
    )
    shares[0] = [0.0, 0.0, 0.5, 0.5]
    clv = two_channel_clv(seed=4).drop_vars(["acquisition_channel_share", "channel"])
    clv = clv.assign(acquisition_channel_share=(("customer_id", "channel"), shares))
    value = customer_value(clv.assign_coords(channel=channels), channels)
    assert np.all(np.isfinite(value.worth))
    np.testing.assert_allclose(value.worth[2:], value.baseline, rtol=1e-9)
    assert np.all(np.isfinite(value.draw(100, seed=1)))
