"""Reach and frequency: the audience model behind the plan's response to spend.

Known answers: a Gamma-Poisson audience simulated here (so the true mean ``m`` and shape ``k``
are known, and the people a larger budget newly reaches can be counted one by one), the
conservation of touches and people that the model's equations must satisfy, and the budget
worlds' own truth (a world built to buy new reach must show more of it than one built to buy
frequency).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from workbench.planning.audience import fit_audience, journey_counts, reach_frequency

CAP, BINS = 3, 3
MAX_TOTAL = CAP * BINS


def simulated_audience(m: float, k: float, people: int, seed: int):
    """Touch rates of an audience, its counts per journey split over recency bins (capped as
    the SQL caps them), as a pattern table of one channel: (pattern_counts, n_journeys)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(k, m / k, size=people)
    n = rng.poisson(rate)
    bins = np.stack([rng.binomial(n, 1 / 3)], axis=1)
    rest = n - bins[:, 0]
    second = rng.binomial(rest, 0.5)
    per_bin = np.stack([bins[:, 0], second, rest - second], axis=1).clip(0, CAP)
    reached = per_bin[n > 0]
    uniq, n_journeys = np.unique(reached, axis=0, return_counts=True)
    counts = xr.DataArray(
        uniq[:, None, :],
        dims=("pattern", "channel", "recency_bin"),
        coords={"channel": ["tv_like"]},
    )
    return counts, n_journeys, rate


@pytest.mark.parametrize(("m", "k"), [(0.8, 0.7), (2.5, 3.0)])
def test_audience_fit_recovers_mean_and_unevenness_of_touches(m, k):
    counts, n_journeys, _ = simulated_audience(m, k, 40_000, seed=3)
    fit = fit_audience(counts, n_journeys, CAP, n_draws=400, seed=1)
    for name, true in (("audience_m", m), ("audience_k", k)):
        draws = np.log(fit[name].values[:, 0])
        lo, hi = np.quantile(draws, [0.005, 0.995])
        assert lo <= np.log(true) <= hi, (name, np.exp([lo, hi]), true)
    # The audience includes the people never touched: M = R / P(N >= 1).
    size = float(fit["audience_size"].median())
    assert size == pytest.approx(40_000, rel=0.1)


def test_capped_counts_are_censored_not_taken_at_face_value():
    counts = xr.DataArray(
        np.array([[[1, 0, 0]], [[3, 1, 0]], [[3, 3, 3]]]),
        dims=("pattern", "channel", "recency_bin"),
    )
    weight, totals, _ = journey_counts(counts.values, np.array([5.0, 2.0, 1.0]), CAP)
    assert totals[-1] == MAX_TOTAL
    assert weight[0, 1, 0] == 5.0  # one touch, exact
    assert weight[0, 4, 1] == 2.0  # a capped bin: at least four touches
    assert weight[0, 9, 1] == 1.0


def test_more_touches_reach_exactly_the_people_a_gamma_poisson_audience_adds():
    # Scale every person's rate by r and count who is newly reached: the model's expectation
    # from (m, k, M) must match the count (the truth is per person, not from the formula).
    m, k, people, r = 1.2, 0.9, 200_000, 1.6
    rng = np.random.default_rng(11)
    rate = rng.gamma(k, m / k, size=people)
    now = rng.poisson(rate)
    extra = rng.poisson((r - 1) * rate)
    newly = (now == 0) & (extra > 0)
    lost, scale, new = reach_frequency(
        np.array([[r]]), np.array([[m]]), np.array([[k]]), np.array([[float(people)]]), 60
    )
    assert lost[0, 0] == 0.0
    assert new[0, 0].sum() == pytest.approx(newly.sum(), rel=0.02)
    j = np.arange(1, 61)
    assert new[0, 0, :3] == pytest.approx([(extra[newly] == i).sum() for i in j[:3]], rel=0.05)
    # Frequency: the reached-now get scale x their touches on average.
    reached = now > 0
    got = (now[reached] + extra[reached]).sum() / now[reached].sum()
    assert scale[0, 0] == pytest.approx(got, rel=0.01)


def test_fewer_touches_thin_the_reached_and_conserve_touches():
    m, k, size, r = 1.5, 2.0, 10_000.0, 0.6
    lost, scale, new = reach_frequency(
        np.array([[r]]), np.array([[m]]), np.array([[k]]), np.array([[size]]), MAX_TOTAL
    )
    q, q_r = 1 - (1 + m / k) ** -k, 1 - (1 + r * m / k) ** -k
    assert new.sum() == 0.0
    assert 1 - lost[0, 0] == pytest.approx(q_r / q, rel=1e-12)
    # Touches after = (reached kept) x (their touches) = r x touches now.
    kept_touches = size * q * (1 - lost[0, 0]) * (m / q) * scale[0, 0]
    assert kept_touches == pytest.approx(r * size * m, rel=1e-12)


def test_no_spend_removes_the_channel_and_unchanged_spend_changes_nothing():
    args = (np.array([[2.0]]), np.array([[0.8]]), np.array([[1000.0]]), MAX_TOTAL)
    lost, _, new = reach_frequency(np.array([[0.0]]), *args)
    assert lost[0, 0] == 1.0 and new.sum() == 0.0
    lost, scale, new = reach_frequency(np.array([[1.0]]), *args)
    assert lost[0, 0] == 0.0 and scale[0, 0] == 1.0 and new.sum() == 0.0


def test_without_an_audience_fit_touches_scale_the_exposure_of_the_reached():
    lost, scale, new = reach_frequency(
        np.array([[1.5]]), np.array([[np.nan]]), np.array([[np.nan]]), np.array([[np.nan]]), 9
    )
    assert (lost[0, 0], scale[0, 0], new.sum()) == (0.0, 1.5, 0.0)


def test_budget_worlds_buy_new_reach_or_frequency_as_designed():
    from workbench.sim.budget import get_world, true_allocation_outcomes

    more = np.ones((2, 6))
    more[1, 4] = 1.5  # paid_search +50%
    ratios = {}
    for name in ("new_reach", "frequency"):
        out = true_allocation_outcomes(get_world(name), 6000, 8, 1, more, n_reps=1)
        ratios[name] = out["reached"][1, 4] / out["reached"][0, 4]
        assert out["conversions"][1] > out["conversions"][0]  # search works in both
    assert ratios["new_reach"] > 1.15
    assert ratios["frequency"] < 1.08
