"""Exact Shapley credit and removal effects of the conversion model's probability."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import xarray as xr

from attribution.features import Patterns, decode_codes, encode_counts, recency_ages_days
from attribution.probability import conversion_probability
from attribution.shapley import shapley_credit, shapley_weights, unique_rows

CHANNELS = ("display", "email", "search")
AGES = recency_ages_days()
#: The recency bins of a 30-day lookback (days); a bin weighs its touches by the mean decay.
EDGES = [(0.0, 1.0), (1.0, 7.0), (7.0, 30.0)]


def bin_weight(decay: float, b: int) -> float:
    """Mean of exp(-decay * age) over bin b's ages, by hand."""
    lo, hi = EDGES[b]
    return (math.exp(-decay * lo) - math.exp(-decay * hi)) / (decay * (hi - lo))


def posterior(baseline, beta, decay, saturation, synergy=None, pairs=()):
    """A posterior Dataset (chain, draw[, channel][, channel_pair]) from arrays of draws."""
    baseline = np.atleast_1d(np.asarray(baseline, float))
    n = baseline.size

    def per_channel(x):
        return (("chain", "draw", "channel"), np.broadcast_to(x, (n, len(CHANNELS)))[None])

    data = {
        "baseline": (("chain", "draw"), baseline[None]),
        "beta": per_channel(beta),
        "decay": per_channel(decay),
        "saturation": per_channel(saturation),
    }
    coords = {"chain": [0], "draw": np.arange(n), "channel": list(CHANNELS)}
    if pairs:
        data["synergy"] = (
            ("chain", "draw", "channel_pair"),
            np.broadcast_to(synergy, (n, len(pairs)))[None],
        )
        coords["channel_pair"] = [f"{CHANNELS[a]}*{CHANNELS[b]}" for a, b in pairs]
        coords["pair_first"] = ("channel_pair", [CHANNELS[a] for a, _ in pairs])
        coords["pair_second"] = ("channel_pair", [CHANNELS[b] for _, b in pairs])
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["recency_ages_days"] = AGES.tolist()
    return ds


def patterns_from_counts(counts, n_journeys, n_conversions=None):
    counts = np.asarray(counts)
    n = np.asarray(n_journeys)
    k = n.copy() if n_conversions is None else np.asarray(n_conversions)
    return Patterns(CHANNELS, encode_counts(counts), n, k, np.zeros(len(n), bool))


def hand_probability(post, counts, coalition):
    """f(S) for one journey, written out from the model equations (no shared code)."""
    b0 = float(post.baseline.values.ravel()[0])
    beta = post.beta.values[0, 0]
    decay = post.decay.values[0, 0]
    theta = post.saturation.values[0, 0]
    s = []
    for c in range(len(CHANNELS)):
        e = sum(bin_weight(decay[c], b) * counts[c][b] for b in range(3))
        s.append((1 - math.exp(-theta[c] * e)) / (1 - math.exp(-theta[c])))
    h = b0 + sum(beta[c] * s[c] for c in coalition)
    if "synergy" in post:
        firsts, seconds = post.pair_first.values, post.pair_second.values
        for q, (a, b) in enumerate(zip(firsts, seconds, strict=True)):
            ia, ib = CHANNELS.index(str(a)), CHANNELS.index(str(b))
            if ia in coalition and ib in coalition:
                h += float(post.synergy.values[0, 0, q]) * s[ia] * s[ib]
    return 1 - math.exp(-h)


# Three channels, all present, with a synergy between email and search.
HAND_POST = posterior(
    0.02, [0.05, 0.10, 0.30], [0.1, 0.3, 0.05], [0.5, 1.0, 2.0], synergy=[0.2], pairs=[(1, 2)]
)
HAND_COUNTS = [[[1, 0, 2], [0, 3, 0], [2, 1, 1]]]


def test_shapley_equals_permutation_enumeration_on_three_channels_with_synergy():
    counts = HAND_COUNTS[0]
    brute = np.zeros(3)
    orders = list(itertools.permutations(range(3)))
    for order in orders:
        coalition: list[int] = []
        for c in order:
            before = hand_probability(HAND_POST, counts, coalition)
            coalition.append(c)
            brute[c] += hand_probability(HAND_POST, counts, coalition) - before
    brute /= len(orders)
    credit = shapley_credit(HAND_POST, patterns_from_counts(HAND_COUNTS, [1]))
    np.testing.assert_allclose(credit.attributed_conversions.values[0, 0], brute, rtol=1e-10)
    p_x = hand_probability(HAND_POST, counts, [0, 1, 2])
    np.testing.assert_allclose(credit.pattern_credit.values[0], brute / p_x, rtol=1e-10)


def test_removal_effect_is_probability_drop_without_the_channel():
    counts = HAND_COUNTS[0]
    credit = shapley_credit(HAND_POST, patterns_from_counts(HAND_COUNTS, [7]))
    for c in range(3):
        rest = [d for d in range(3) if d != c]
        expected = 7 * (
            hand_probability(HAND_POST, counts, [0, 1, 2])
            - hand_probability(HAND_POST, counts, rest)
        )
        assert credit.incremental_conversions.values[0, 0, c] == pytest.approx(expected, rel=1e-10)
    assert credit.model_conversions.values[0, 0] == pytest.approx(
        7 * hand_probability(HAND_POST, counts, [0, 1, 2]), rel=1e-10
    )
    assert credit.baseline_conversions.values[0, 0] == pytest.approx(
        7 * (1 - math.exp(-0.02)), rel=1e-10
    )


def random_patterns(rng, n_patterns):
    counts = rng.integers(0, 4, size=(n_patterns, 3, 3)) * (rng.random((n_patterns, 3, 1)) < 0.6)
    counts = counts[counts.sum(axis=(1, 2)) > 0]
    n = rng.integers(1, 50, size=len(counts))
    k = rng.binomial(n, 0.2)
    return patterns_from_counts(counts, n, k)


def test_shapley_credit_is_efficient_per_draw_and_per_pattern():
    rng = np.random.default_rng(3)
    n_draws = 5
    post = posterior(
        rng.uniform(0.005, 0.05, n_draws),
        rng.uniform(0, 0.3, (n_draws, 3)),
        rng.uniform(0.01, 0.5, (n_draws, 3)),
        rng.uniform(0.1, 2.0, (n_draws, 3)),
        synergy=rng.uniform(0, 0.2, (n_draws, 2)),
        pairs=[(0, 1), (1, 2)],
    )
    pats = random_patterns(rng, 400)
    credit = shapley_credit(post, pats)
    total = credit.attributed_conversions.sum("channel")
    np.testing.assert_allclose(
        total, credit.model_conversions - credit.baseline_conversions, rtol=1e-10
    )
    # the model's conversions equal n @ P from the independent probability function
    prob = conversion_probability(post, decode_codes(pats.codes, 3))
    np.testing.assert_allclose(
        credit.model_conversions, (prob * pats.n_journeys).sum("pattern"), rtol=1e-10
    )
    converted = pats.n_conversions > 0
    rows = credit.pattern_credit.sum("channel") + credit.pattern_baseline
    np.testing.assert_allclose(rows.values[converted], 1.0, rtol=1e-10)
    assert np.isnan(credit.pattern_baseline.values[~converted]).all()


def test_absent_channel_and_zero_effect_channel_get_no_credit():
    post = posterior(0.01, [0.2, 0.0, 0.1], 0.1, 1.0, synergy=[0.3], pairs=[(0, 2)])
    # journey 1 has no search touch (null player), journey 2 has email with beta 0
    counts = [[[1, 0, 0], [0, 0, 0], [0, 0, 0]], [[0, 1, 0], [2, 0, 0], [1, 1, 0]]]
    credit = shapley_credit(post, patterns_from_counts(counts, [10, 10]))
    assert credit.pattern_credit.sel(channel="email").values == pytest.approx([0.0, 0.0])
    assert credit.pattern_credit.sel(channel="search").values[0] == 0.0
    assert credit.incremental_conversions.sel(channel="email").item() == pytest.approx(0.0)
    assert credit.attributed_conversions.sel(channel="email").item() == pytest.approx(0.0)


def test_shapley_weights_sum_to_one_for_each_player_coalition_path():
    members, weights = shapley_weights(4)
    # f = indicator of the grand coalition: each of 4 symmetric players gets 1/4
    f = np.zeros(16)
    f[15] = 1.0
    np.testing.assert_allclose(f @ weights, 0.25)
    assert members.shape == (16, 4)


def test_exposure_scale_multiplies_exposure_in_conversion_probability():
    post = posterior(0.01, [0.2, 0.1, 0.1], [0.1, 0.2, 0.3], [0.5, 1.0, 2.0])
    counts = np.array(HAND_COUNTS, float)
    base = conversion_probability(post, counts)
    same = conversion_probability(post, counts, exposure_scale=np.ones(3))
    np.testing.assert_allclose(base, same)
    more = conversion_probability(post, counts, exposure_scale=np.array([1.2, 1.0, 1.0]))
    # scaling display's exposure by 1.2 equals the hand formula with 1.2 x display counts
    w = np.array([bin_weight(0.1, b) for b in range(3)])
    e = 1.2 * (w @ np.array(HAND_COUNTS[0][0], float))
    s_before = (1 - np.exp(-0.5 * (w @ np.array(HAND_COUNTS[0][0], float)))) / (1 - np.exp(-0.5))
    s_after = (1 - np.exp(-0.5 * e)) / (1 - np.exp(-0.5))
    h_before = -np.log1p(-base.values.ravel()[0])
    expected = 1 - np.exp(-(h_before + 0.2 * (s_after - s_before)))
    assert more.values.ravel()[0] == pytest.approx(expected, rel=1e-12)


def test_credit_thins_draws_above_the_cell_budget_and_says_so():
    rng = np.random.default_rng(0)
    n_draws = 400
    post = posterior(
        rng.uniform(0.005, 0.05, n_draws),
        rng.uniform(0, 0.3, (n_draws, 3)),
        0.1,
        1.0,
    )
    pats = random_patterns(rng, 50)
    credit = shapley_credit(post, pats, max_cells=pats.n_patterns * 100)
    assert credit.attrs["credit_thin_step"] == 4
    assert credit.sizes["draw"] == 100
    np.testing.assert_array_equal(credit.draw.values, np.arange(0, 400, 4))


@pytest.mark.parametrize(
    ("low", "high", "shape", "dtype"),
    [
        (-1, 64, (50_000, 8), np.int64),  # pattern keys: codes, opening (-1 unknown), closing
        (0, 2**40, (2_000, 3), np.int64),  # too wide to pack: numpy's own row sort
        (0, 5, (40, 2), np.int32),
        (0, 5, (0, 2), np.int64),  # no rows
    ],
)
def test_unique_rows_are_numpys_unique_rows_in_the_same_order(low, high, shape, dtype):
    key = np.random.default_rng(3).integers(low, high, shape).astype(dtype)
    expected, expected_inverse = np.unique(key, axis=0, return_inverse=True)
    rows, inverse = unique_rows(key)
    assert rows.dtype == expected.dtype
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(rows[inverse], key)
