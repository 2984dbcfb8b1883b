"""A confounded journey world: one channel is sent to users who would convert anyway.

Each user has an active window (length uniform in ``WINDOW_DAYS``, inside the period) and an
unobserved intent: a share ``HIGH_INTENT_SHARE`` of users are high-intent, with an extra baseline
hazard ``HIGH_INTENT_HAZARD``. Touches of each channel arrive as a Poisson process over the
window at ``TOUCHES_PER_WEEK``; the confounded channel (``CONFOUNDED_CHANNEL``, e-mail) is
targeted: high-intent users get ``TARGETING_RATIO`` times the touches of the others. A user
decides at the end of their window plus an Exponential delay (a latent time that no touch moves)
and converts with the hazard model of ``workbench.sim.response`` (``P = 1 - exp(-H)``, ``H =
baseline_u + sum_c beta_c s_c(E_c)``), so the only thing the journey model gets wrong is that
the baseline differs between users, and it differs most where the e-mail goes.

Hold-out test: during the window [``TEST_START_DAY``, ``TEST_END_DAY``) a random
``HOLDOUT_SHARE`` of users gets no e-mail (their e-mail touches in the window are withheld; the
data show the world as it happened, hold-out included). Measured: conversions decided in the
window per user, exposed minus hold-out, times the exposed users (the users the channel addressed
in the data: docs/contracts.md, "Journey-model lift tests"), with the normal standard error of
the difference in means. True: the expected conversions the exposed users' in-window e-mail
touches caused (decision times held fixed).

True Shapley shares: per user, the exact Shapley value of ``P`` over the channels with the user's
own baseline; because ``P = 1 - exp(-b_u) exp(-sum)``, it is ``exp(-b_u)`` times the value with
a zero baseline (``workbench.sim.shapley.credit``). Shares = per-channel sums over all users /
their total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.sim.response import TrueConversionModel
from workbench.sim.scenarios import DAYS_PER_WEEK, LOOKBACK_DAYS, START_DATE
from workbench.sim.shapley import credit

WORLD = "confounded"
CHANNELS: tuple[str, ...] = ("display", "email", "paid_search", "social")
CONFOUNDED_CHANNEL = "email"
#: One fresh touch's hazard, recency decay (per day) and saturation theta per channel.
BETA = {"display": 0.02, "email": 0.05, "paid_search": 0.05, "social": 0.03}
DECAY = {"display": 0.1, "email": 0.3, "paid_search": 0.4, "social": 0.15}
SATURATION = {"display": 0.7, "email": 0.7, "paid_search": 0.5, "social": 0.7}
#: Touches per user and week of active window (the confounded channel: of an ordinary user).
TOUCHES_PER_WEEK = {"display": 0.8, "email": 0.4, "paid_search": 0.5, "social": 0.6}
#: High-intent users get this many times the confounded channel's touches.
TARGETING_RATIO = 6.0
BASELINE_HAZARD = 0.01
HIGH_INTENT_SHARE = 0.2
HIGH_INTENT_HAZARD = 0.15
WINDOW_DAYS = (7.0, 28.0)
DECISION_DELAY_MEAN_DAYS = 0.5
WEEKS = 12
#: The hold-out test's window (days from START_DATE; end exclusive) and hold-out share.
TEST_START_DAY = 28.0
TEST_END_DAY = 70.0
HOLDOUT_SHARE = 0.3


@dataclass(frozen=True)
class ConfoundedWorld:
    """The simulated tables and their truth."""

    touchpoints: pd.DataFrame
    conversions: pd.DataFrame
    experiments: pd.DataFrame
    assignments: pd.DataFrame
    truth: dict[str, Any]


def true_model(confounded_beta: float | None = None) -> TrueConversionModel:
    """The channels' part of the true hazard (baseline 0; each user's baseline is added);
    ``confounded_beta`` replaces the confounded channel's ``BETA``."""
    beta = {**BETA} if confounded_beta is None else {**BETA, CONFOUNDED_CHANNEL: confounded_beta}
    return TrueConversionModel(
        channels=CHANNELS,
        link="hazard",
        intercept=0.0,
        beta=np.array([beta[c] for c in CHANNELS]),
        decay=np.array([DECAY[c] for c in CHANNELS]),
        saturation=np.array([SATURATION[c] for c in CHANNELS]),
        lookback_days=LOOKBACK_DAYS,
    )


def _exposures(user, time, channel, decision, n_users, decay, keep=None) -> np.ndarray:
    """E (user, channel): sum of exp(-decay age) over touches with 0 < age <= lookback."""
    age = decision[user] - time
    ok = (age > 0.0) & (age <= LOOKBACK_DAYS)
    if keep is not None:
        ok &= keep
    flat = user[ok] * len(decay) + channel[ok]
    weights = np.exp(-decay[channel[ok]] * age[ok])
    return np.bincount(flat, weights=weights, minlength=n_users * len(decay)).reshape(
        n_users, len(decay)
    )


def simulate_confounded(
    users: int = 20_000,
    seed: int = 1,
    weeks: int = WEEKS,
    confounded_beta: float | None = None,
) -> ConfoundedWorld:
    """Simulate the world (module docstring): touchpoints, conversions, the hold-out's
    experiments row and the truth (true Shapley shares, the test's true lift).
    ``confounded_beta`` sets the confounded channel's true effect (default ``BETA``; 0: a
    channel that causes nothing)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(14,)))
    period = weeks * DAYS_PER_WEEK
    if not TEST_END_DAY <= period:
        raise ValueError(f"the test window needs at least {TEST_END_DAY / 7:g} weeks")
    n_channels = len(CHANNELS)
    e = CHANNELS.index(CONFOUNDED_CHANNEL)
    length = rng.uniform(*WINDOW_DAYS, size=users)
    start = rng.uniform(0.0, period - length - 1.0)
    high = rng.random(users) < HIGH_INTENT_SHARE
    baseline = BASELINE_HAZARD + HIGH_INTENT_HAZARD * high
    decision = np.minimum(
        start + length + rng.exponential(DECISION_DELAY_MEAN_DAYS, size=users), period - 1e-6
    )
    holdout = rng.random(users) < HOLDOUT_SHARE
    rate = np.array([TOUCHES_PER_WEEK[c] for c in CHANNELS])[None, :] * np.ones((users, 1))
    rate[:, e] *= np.where(high, TARGETING_RATIO, 1.0)
    counts = rng.poisson(rate * length[:, None] / DAYS_PER_WEEK)  # (user, channel)
    user = np.repeat(np.repeat(np.arange(users), n_channels), counts.ravel())
    channel = np.repeat(np.tile(np.arange(n_channels), users), counts.ravel())
    time = start[user] + rng.random(len(user)) * length[user]
    in_test = (time >= TEST_START_DAY) & (time < TEST_END_DAY) & (channel == e)
    withheld = in_test & holdout[user]
    user, time, channel, in_test = (
        user[~withheld],
        time[~withheld],
        channel[~withheld],
        in_test[~withheld],
    )

    model = true_model(confounded_beta)
    exposure = _exposures(user, time, channel, decision, users, model.decay)
    s = model.saturate(exposure)
    p = -np.expm1(-(baseline + s @ model.beta))
    converted = rng.random(users) < p
    touched = counts.sum(axis=1) > 0

    # the test: conversions decided in the window, exposed minus hold-out, per user
    decided_in = (decision >= TEST_START_DAY) & (decision < TEST_END_DAY)
    y = (converted & decided_in).astype(float)
    n_exp, n_hold = int((~holdout).sum()), int(holdout.sum())
    diff = y[~holdout].mean() - y[holdout].mean()
    se = np.sqrt(y[~holdout].var(ddof=1) / n_exp + y[holdout].var(ddof=1) / n_hold)
    without = _exposures(user, time, channel, decision, users, model.decay, keep=~in_test)
    p_without = -np.expm1(-(baseline + model.saturate(without) @ model.beta))
    true_lift = float(((p - p_without) * (decided_in & ~holdout)).sum())

    # true Shapley shares with each user's own baseline (module docstring)
    cr = credit(model, exposure)
    shapley = (cr.shapley * np.exp(-baseline)[:, None]).sum(axis=0)
    removal = (cr.removal * np.exp(-baseline)[:, None]).sum(axis=0)

    t0 = np.datetime64(START_DATE, "us")
    to_time = lambda d: t0 + np.round(d * 86_400e6).astype(np.int64).astype("timedelta64[us]")  # noqa: E731
    order = np.lexsort((time, user))
    touchpoints = pd.DataFrame(
        {
            "user_id": [f"c{u:06d}" for u in user[order]],
            "timestamp": to_time(time[order]),
            "channel": np.array(CHANNELS)[channel[order]],
        }
    )
    conv = np.flatnonzero(converted)
    conversions = pd.DataFrame(
        {"user_id": [f"c{u:06d}" for u in conv], "timestamp": to_time(decision[conv])}
    )
    test_start = str(np.datetime64(START_DATE) + np.timedelta64(int(TEST_START_DAY), "D"))
    test_end = str(np.datetime64(START_DATE) + np.timedelta64(int(TEST_END_DAY) - 1, "D"))
    experiments = pd.DataFrame(
        {
            "channel": [CONFOUNDED_CHANNEL],
            "start": [test_start],
            "end": [test_end],
            "incremental_conversions": [float(diff * n_exp)],
            "standard_error": [float(se * n_exp)],
        }
    )
    truth = {
        "scenario": WORLD,
        "seed": seed,
        "users": users,
        "weeks": weeks,
        "start_date": START_DATE,
        "lookback_days": LOOKBACK_DAYS,
        "channels": list(CHANNELS),
        "confounded_channel": CONFOUNDED_CHANNEL,
        "conversion_model": {
            **model.to_dict(),
            "baseline_hazard": BASELINE_HAZARD,
            "high_intent_share": HIGH_INTENT_SHARE,
            "high_intent_hazard": HIGH_INTENT_HAZARD,
            "targeting_ratio": TARGETING_RATIO,
            "touches_per_week": TOUCHES_PER_WEEK,
        },
        "shapley_conversions": dict(zip(CHANNELS, shapley.tolist(), strict=True)),
        "shapley_shares": dict(zip(CHANNELS, (shapley / shapley.sum()).tolist(), strict=True)),
        "removal_effects": dict(zip(CHANNELS, removal.tolist(), strict=True)),
        "expected_conversions": float(p.sum()),
        "touched_users": int(touched.sum()),
        "lift_tests": [
            {
                "channel": CONFOUNDED_CHANNEL,
                "start": test_start,
                "end": test_end,
                "true_incremental_conversions": true_lift,
                "measured_incremental_conversions": float(diff * n_exp),
                "standard_error": float(se * n_exp),
                "holdout_share": HOLDOUT_SHARE,
                "exposed_users": n_exp,
                "holdout_users": n_hold,
                "market_users": n_exp,
            }
        ],
    }
    # the hold-out's arms, assigned at the test's start (for ``workbench experiment --channel``)
    assignments = pd.DataFrame(
        {
            "user_id": [f"c{u:06d}" for u in range(users)],
            "arm": np.where(holdout, "holdout", "exposed"),
            "assigned_at": to_time(np.full(users, TEST_START_DAY)),
        }
    )
    return ConfoundedWorld(touchpoints, conversions, experiments, assignments, truth)


def write_world(world: ConfoundedWorld, out_dir, fmt: str = "parquet") -> dict:
    """Write touchpoints, conversions, experiments, assignments (``fmt``) and truth.json into
    ``out_dir``,
    atomically (``workbench.simulate``'s writer); returns the paths by name."""
    import json

    from workbench.simulate import TRUTH_FILE, _write_atomically

    frames = {
        "touchpoints": world.touchpoints,
        "conversions": world.conversions,
        "experiments": world.experiments,
        "assignments": world.assignments,
    }
    text = {TRUTH_FILE: json.dumps(world.truth, indent=2, sort_keys=True) + "\n"}
    return _write_atomically(out_dir, frames, text, fmt)
