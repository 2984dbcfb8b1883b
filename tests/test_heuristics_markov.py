"""The baselines (first, last, linear, time-decay, position-based, first-order Markov) match
hand-computed values on a small example, and the Markov chain matches ChannelAttribution."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from attribution.markov import (
    CONVERSION_STATE,
    NULL_STATE,
    START_STATE,
    last_state_log_loss,
    markov_attribution,
)
from workbench import journeys as J
from workbench.engines import DuckDBEngine

END = pd.Timestamp("2024-03-01")


def _days_before(days: float) -> pd.Timestamp:
    return END - pd.Timedelta(days=days)


# Three converting journeys and one that does not convert (ages in days before the end):
#   a: search (10) -> display (3) -> email (0.5)  -> conversion
#   b: display (14) -> search (7)                 -> conversion
#   c: email (2)                                  -> conversion
#   d: email -> display (ends at its last touch)  -> no conversion
TOUCHES = pd.DataFrame(
    [
        ("a", _days_before(10), "search"),
        ("a", _days_before(3), "display"),
        ("a", _days_before(0.5), "email"),
        ("b", _days_before(14), "display"),
        ("b", _days_before(7), "search"),
        ("c", _days_before(2), "email"),
        ("d", _days_before(8), "email"),
        ("d", _days_before(5), "display"),
    ],
    columns=["user_id", "timestamp", "channel"],
)
CONVERSIONS = pd.DataFrame({"user_id": ["a", "b", "c"], "timestamp": [END, END, END]})


@pytest.fixture(scope="module")
def steps():
    engine = DuckDBEngine()
    engine.register("touchpoints", TOUCHES, timestamps=["timestamp"])
    engine.register("conversions", CONVERSIONS, timestamps=["timestamp"])
    tables = J.run_steps(engine, lookback_days=30.0)
    engine.close()
    return tables


def _credit(steps, method: str) -> dict[str, float]:
    frame = steps.heuristics.set_index("channel")[method]
    return {c: float(frame.get(c, 0.0)) for c in ("display", "email", "search")}


def test_first_and_last_touch_credit_the_end_touches_of_converting_journeys(steps):
    # first touches: a search, b display, c email
    assert _credit(steps, "first_touch") == {"display": 1.0, "email": 1.0, "search": 1.0}
    # last touches: a email, b search, c email; d does not convert
    assert _credit(steps, "last_touch") == {"display": 0.0, "email": 2.0, "search": 1.0}


def test_linear_shares_each_conversion_equally_among_its_touches(steps):
    # display: 1/3 (a) + 1/2 (b); email: 1/3 (a) + 1 (c); search: 1/3 (a) + 1/2 (b)
    expected = {"display": 5 / 6, "email": 4 / 3, "search": 5 / 6}
    for channel, value in _credit(steps, "linear").items():
        assert value == pytest.approx(expected[channel], abs=1e-12)


def test_time_decay_halves_a_touch_weight_every_seven_days(steps):
    # a: weights 2^(-10/7) = 0.371499, 2^(-3/7) = 0.742997 (twice the first), 2^(-0.5/7) =
    #    0.951695; total 2.066191 -> search 0.179799, display 0.359598, email 0.460604
    # b: weights 2^(-2) = 0.25 (display), 2^(-1) = 0.5 (search) -> 1/3 and 2/3
    # c: email 1
    expected = {
        "display": 0.359598 + 1 / 3,  # 0.692931
        "email": 0.460604 + 1.0,  # 1.460604
        "search": 0.179799 + 2 / 3,  # 0.846465
    }
    for channel, value in _credit(steps, "time_decay").items():
        assert value == pytest.approx(expected[channel], abs=2e-6)


def test_position_based_gives_forty_percent_to_each_end_and_splits_two_touch_journeys(steps):
    # a: search 0.4, display 0.2 (the only middle touch), email 0.4
    # b: two touches -> 0.5 each; c: one touch -> 1
    expected = {"display": 0.2 + 0.5, "email": 0.4 + 1.0, "search": 0.4 + 0.5}
    for channel, value in _credit(steps, "position_based").items():
        assert value == pytest.approx(expected[channel], abs=1e-12)


def test_every_rule_credits_exactly_the_touched_conversions(steps):
    for method in J.HEURISTIC_METHODS:
        assert steps.heuristics[method].sum() == pytest.approx(3.0, abs=1e-12)


def test_markov_removal_effects_match_the_hand_solved_absorbing_chain(steps):
    # Transitions: start -> search 1, display 1, email 2; search -> display 1, conv 1;
    # display -> email 1, search 1, null 1; email -> conv 2, display 1.
    # Absorption in conversion: a_s = a_d/2 + 1/2, a_d = (a_e + a_s)/3, a_e = 2/3 + a_d/3
    #   -> a_d = 7/13, a_s = 10/13, a_e = 11/13; P = (10 + 7)/52 + 11/26 = 3/4.
    # Without search: a_e = 3/4, a_d = 1/4 -> P = 7/16, removal effect 1 - 7/12 = 5/12.
    # Without display: a_s = 1/2, a_e = 2/3 -> P = 11/24, removal effect 1 - 11/18 = 7/18.
    # Without email: a_s = 3/5, a_d = 1/5 -> P = 1/5, removal effect 1 - 4/15 = 11/15.
    # Shares of 3 conversions: 5/12 : 7/18 : 11/15 = 75 : 70 : 132 (of 277).
    t = steps.markov_transitions
    result = markov_attribution(t["from_state"], t["to_state"], t["n_transitions"], steps.channels)
    assert steps.channels == ["display", "email", "search"]
    assert float(result["conversion_probability"]) == pytest.approx(3 / 4)
    np.testing.assert_allclose(result["removal_effect"], [7 / 18, 11 / 15, 5 / 12])
    np.testing.assert_allclose(
        result["attributed_conversions"], [3 * 70 / 277, 3 * 132 / 277, 3 * 75 / 277]
    )


def test_markov_log_loss_scores_held_out_journeys_by_their_last_channel():
    # Training: email ends 3 converting / 1 not (P = 3/4); search 1 / 3 (P = 1/4); overall 1/2.
    train = [
        ("email", CONVERSION_STATE, 3),
        ("email", NULL_STATE, 1),
        ("search", CONVERSION_STATE, 1),
        ("search", NULL_STATE, 3),
        (START_STATE, "email", 4),
    ]
    # Held out: one email journey converts, two search journeys do not, and a display journey
    # (never a last channel in training) does not: it gets the overall rate 1/2.
    test = [
        ("email", CONVERSION_STATE, 1),
        ("search", NULL_STATE, 2),
        ("display", NULL_STATE, 1),
        (START_STATE, "email", 1),
    ]
    expected = -(np.log(3 / 4) + 2 * np.log(3 / 4) + np.log(1 / 2)) / 4
    got = last_state_log_loss(*zip(*train, strict=True), *zip(*test, strict=True))
    assert got == pytest.approx(expected)


def _random_paths(seed: int, n: int) -> list[tuple[list[str], int]]:
    rng = np.random.default_rng(seed)
    channels = ["a", "b", "c", "d"]
    paths = []
    for _ in range(n):
        path = list(rng.choice(channels, rng.integers(1, 6), p=[0.4, 0.3, 0.2, 0.1]))
        converted = rng.random() < 0.05 + 0.25 * ("b" in path) + 0.1 * (path[-1] == "c")
        paths.append((path, int(converted)))
    return paths


def _transitions(paths) -> tuple[list[str], list[str], list[int]]:
    counts: Counter = Counter()
    for path, converted in paths:
        states = [START_STATE, *path, CONVERSION_STATE if converted else NULL_STATE]
        counts.update(zip(states[:-1], states[1:], strict=True))
    keys = sorted(counts)
    return [k[0] for k in keys], [k[1] for k in keys], [counts[k] for k in keys]


def test_markov_matches_channelattribution_markov_model_on_the_same_paths():
    ca = pytest.importorskip(
        "ChannelAttribution", reason="ChannelAttribution not installed (pip install '.[bench]')"
    )
    paths = _random_paths(seed=7, n=4000)
    frame = pd.DataFrame({"path": [" > ".join(p) for p, _ in paths], "conv": [c for _, c in paths]})
    frame["null"] = 1 - frame["conv"]
    frame = frame.groupby("path", as_index=False).sum()
    # ChannelAttribution simulates the chain; a long max_step and a tight convergence setting
    # make its Monte Carlo estimate close to the exact absorption probabilities.
    theirs = ca.markov_model(
        frame, "path", "conv", var_null="null", out_more=True, max_step=200,
        nsim_start=1e6, conv_par=0.005, seed=1, verbose=False, flg_pro=False,
    )  # fmt: skip
    ours = markov_attribution(*_transitions(paths), channels=["a", "b", "c", "d"])
    result = theirs["result"].set_index("channel_name")["total_conversions"]
    np.testing.assert_allclose(
        ours["attributed_conversions"].values, result.loc[["a", "b", "c", "d"]].values, rtol=0.02
    )
    effects = theirs["removal_effects"].set_index("channel_name")["removal_effect"]
    np.testing.assert_allclose(
        ours["removal_effect"].values, effects.loc[["a", "b", "c", "d"]].values, rtol=0.02
    )
    assert ours["attributed_conversions"].sum() == pytest.approx(frame["conv"].sum())
