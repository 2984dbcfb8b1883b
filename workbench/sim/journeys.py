"""Users, their touches, decision times and exposures (vectorised; times in days from the start).

Each user has an active (shopping) window [start, start + length] and affinities (a user-level
Gamma times a per-channel Gamma, mean 1) that set how many touches they tend to receive. The
touches a channel buys in a week go to users with probability proportional to affinity times the
share of the user's window-stage density that falls in that week; the touch time is drawn from
that density inside the week. Stage densities over the window position x in [0, 1]: ``any``
uniform, ``early`` (1 - x)^(k - 1), ``late`` x^(k - 1) — so awareness channels come first and
search last in the ``awareness`` scenario.

A user's decision time D is their last touch plus a small Exponential delay (untouched users get
a latent D at the end of their window), or, in ``campaign_end`` worlds, the campaign's last day
for every user, or, in ``window_end`` worlds, the end of each user's own window plus the delay.
A follow-up channel's touches are served within ``FOLLOW_UP_MAX_DAYS`` after a touch of the
channels it follows (same user); they are drawn after the other channels', so worlds without a
follow-up channel are unchanged. With common random numbers (one generator per channel and
week, drawn in order), more touches of a channel extend that channel's touch list and leave every
other channel's touches unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.sim.scenarios import (
    CHANNEL_AFFINITY_SHAPE,
    DAYS_PER_WEEK,
    DECISION_DELAY_MEAN_DAYS,
    DECISION_DELAY_MIN_DAYS,
    DECISION_TIMINGS,
    FOLLOW_UP_MAX_DAYS,
    STAGE_SHAPE,
    USER_AFFINITY_SHAPE,
    WINDOW_DAYS,
)

# Stream names for the seeded generators (a world is (seed, rep); rep 0 is the written data).
STREAM_SPEND = 1
STREAM_COUNTS = 2
STREAM_POPULATION = 3
STREAM_TOUCHES = 4
STREAM_CONVERT = 5
STREAM_ORGANIC = 6
STREAM_PURCHASES = 7
STREAM_SURVEYS = 8  # customer experience (workbench.sim.experience)


def rng_for(seed: int, rep: int, *key: int) -> np.random.Generator:
    """An independent generator for stream ``key`` of world ``(seed, rep)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(rep, *key)))


@dataclass(frozen=True)
class Population:
    """Per-user draws: window start and length, delay (user,) in days; affinity (user, channel)."""

    affinity: np.ndarray
    window_start: np.ndarray
    window_length: np.ndarray
    delay: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.window_start)


@dataclass(frozen=True)
class Touches:
    """Touches as parallel arrays: user index, time (days from start), channel index."""

    user: np.ndarray
    time: np.ndarray
    channel: np.ndarray

    def __len__(self) -> int:
        return len(self.user)


def draw_population(
    n_users: int, n_channels: int, weeks: int, rng: np.random.Generator
) -> Population:
    """Users' affinities, active windows (centre uniform over the period) and decision delays."""
    user = rng.gamma(USER_AFFINITY_SHAPE, 1.0 / USER_AFFINITY_SHAPE, size=n_users)
    per_channel = rng.gamma(
        CHANNEL_AFFINITY_SHAPE, 1.0 / CHANNEL_AFFINITY_SHAPE, size=(n_users, n_channels)
    )
    length = rng.uniform(*WINDOW_DAYS, size=n_users)
    centre = rng.uniform(0.0, weeks * DAYS_PER_WEEK, size=n_users)
    delay = np.maximum(
        rng.exponential(DECISION_DELAY_MEAN_DAYS, size=n_users), DECISION_DELAY_MIN_DAYS
    )
    return Population(
        affinity=user[:, None] * per_channel,
        window_start=centre - length / 2.0,
        window_length=length,
        delay=delay,
    )


def _stage_cdf(stage: str, x: np.ndarray) -> np.ndarray:
    if stage == "early":
        return 1.0 - (1.0 - x) ** STAGE_SHAPE
    if stage == "late":
        return x**STAGE_SHAPE
    return x


def _stage_inverse_cdf(stage: str, f: np.ndarray) -> np.ndarray:
    if stage == "early":
        return 1.0 - (1.0 - f) ** (1.0 / STAGE_SHAPE)
    if stage == "late":
        return f ** (1.0 / STAGE_SHAPE)
    return f


def draw_touches(
    pop: Population,
    counts: np.ndarray,
    stages: list[str],
    seed: int,
    rep: int,
    follows: list[tuple[int, ...]] | None = None,
) -> Touches:
    """Assign ``counts`` (channel, week) touches to users and times; unsorted.

    Each (channel, week) has its own generator, and the k-th touch uses the k-th pair of
    uniforms, so raising a count only appends touches (common random numbers). ``follows[c]``
    (channel indices) makes channel c a follow-up channel (:func:`_follow_up_touches`).
    """
    n_channels, weeks = counts.shape
    follows = follows or [()] * n_channels
    users, times, chans = [], [], []
    for w in range(weeks):
        lo, hi = w * DAYS_PER_WEEK, (w + 1) * DAYS_PER_WEEK
        # The week's overlap with each window, in window-position units [a, b] within [0, 1].
        a = np.clip((lo - pop.window_start) / pop.window_length, 0.0, 1.0)
        b = np.clip((hi - pop.window_start) / pop.window_length, 0.0, 1.0)
        active = np.flatnonzero(b > a)
        a, b = a[active], b[active]
        for c in range(n_channels):
            n = int(counts[c, w])
            if n == 0 or len(active) == 0 or follows[c]:
                continue
            fa, fb = _stage_cdf(stages[c], a), _stage_cdf(stages[c], b)
            mass = fb - fa
            cum = np.cumsum(pop.affinity[active, c] * mass)
            u = rng_for(seed, rep, STREAM_TOUCHES, c, w).random((n, 2))
            pick = np.minimum(np.searchsorted(cum, u[:, 0] * cum[-1], side="right"), len(cum) - 1)
            who = active[pick]
            x = _stage_inverse_cdf(stages[c], fa[pick] + u[:, 1] * mass[pick])
            t = pop.window_start[who] + x * pop.window_length[who]
            users.append(who.astype(np.int32))
            times.append(np.clip(t, lo, np.nextafter(hi, lo)))
            chans.append(np.full(n, c, dtype=np.int8))
    if not users:
        return Touches(np.empty(0, np.int32), np.empty(0), np.empty(0, np.int8))
    touches = Touches(np.concatenate(users), np.concatenate(times), np.concatenate(chans))
    if any(follows):
        touches = _follow_up_touches(touches, counts, follows, seed, rep)
    return touches


def _follow_up_touches(
    touches: Touches, counts: np.ndarray, follows: list[tuple[int, ...]], seed: int, rep: int
) -> Touches:
    """Append the follow-up channels' touches: week w's k-th touch of follow-up channel c picks
    the touch it follows among that week's touches of the channels in ``follows[c]`` (uniform
    k, 0) and comes up to ``FOLLOW_UP_MAX_DAYS`` after it (uniform k, 1), same user."""
    n_channels, weeks = counts.shape
    period = weeks * DAYS_PER_WEEK
    users, times, chans = [touches.user], [touches.time], [touches.channel]
    week = np.floor(touches.time / DAYS_PER_WEEK).astype(np.int64)
    for c in range(n_channels):
        if not follows[c]:
            continue
        leading = np.isin(touches.channel, np.asarray(follows[c]))
        for w in range(weeks):
            pool = np.flatnonzero(leading & (week == w))
            n = int(counts[c, w])
            if n == 0 or len(pool) == 0:
                continue
            u = rng_for(seed, rep, STREAM_TOUCHES, c, w).random((n, 2))
            lead = pool[np.minimum((u[:, 0] * len(pool)).astype(np.int64), len(pool) - 1)]
            t = touches.time[lead] + u[:, 1] * FOLLOW_UP_MAX_DAYS
            keep = t < period
            users.append(touches.user[lead][keep])
            times.append(t[keep])
            chans.append(np.full(int(keep.sum()), c, dtype=np.int8))
    return Touches(np.concatenate(users), np.concatenate(times), np.concatenate(chans))


def sort_touches(touches: Touches) -> Touches:
    """Touches ordered by user, then time.

    One float key (user + time scaled into [0, 1)) sorts several times faster than a two-key
    lexsort; within a user, touches closer than ~1e-9 of the period (ms) may swap, which no
    downstream step can notice.
    """
    if len(touches) == 0:
        return touches
    # Adding a day to the span keeps the scaled time strictly below 1.
    scaled = (touches.time - touches.time.min()) / (np.ptp(touches.time) + 1.0)
    order = np.argsort(touches.user + scaled)
    return Touches(touches.user[order], touches.time[order], touches.channel[order])


def decision_times(
    touches: Touches, pop: Population, period_days: float, timing: str = "after_last_touch"
) -> tuple[np.ndarray, np.ndarray]:
    """Decision time D (user,) in days and whether the user was touched (user,).

    ``after_last_touch``: touched users decide at their last touch + delay; untouched ones at
    the end of their window (capped at the period end) + delay, a latent time used when a
    counterfactual plan reaches them. ``campaign_end``: everyone decides at ``period_days``.
    ``window_end``: everyone decides at the end of their window (capped) + delay.
    """
    if timing not in DECISION_TIMINGS:
        raise ValueError(f"timing must be one of {DECISION_TIMINGS}; got {timing!r}")
    last = np.full(pop.n_users, -np.inf)
    np.maximum.at(last, touches.user, touches.time)
    touched = np.isfinite(last)
    if timing == "campaign_end":
        return np.full(pop.n_users, float(period_days)), touched
    window_end = np.minimum(pop.window_start + pop.window_length, period_days)
    if timing == "window_end":
        return window_end + pop.delay, touched
    d = np.where(touched, last, window_end) + pop.delay
    return d, touched


def opening_channels(
    touches: Touches, decision: np.ndarray, n_channels: int, lookback_days: float
) -> np.ndarray:
    """One-hot (user, channel) of the channel whose touch opens each user's journey: the
    earliest touch with 0 < age <= lookback at the decision (ties: lower channel index).
    All zeros for a user with no touch in the window."""
    n_users = len(decision)
    age = decision[touches.user] - touches.time
    keep = np.flatnonzero((age > 0.0) & (age <= lookback_days))
    # oldest first, then lowest channel: the first row per user after sorting is the opener
    order = keep[np.lexsort((touches.channel[keep], -age[keep], touches.user[keep]))]
    user = touches.user[order]
    first = order[np.r_[True, user[1:] != user[:-1]]] if len(order) else order
    out = np.zeros((n_users, n_channels))
    out[touches.user[first], touches.channel[first].astype(np.int64)] = 1.0
    return out


def exposures(
    touches: Touches, decision: np.ndarray, decay: np.ndarray, lookback_days: float
) -> np.ndarray:
    """E (user, channel) = sum of exp(-decay_c * age) over touches with 0 < age <= lookback,
    age = D - touch time (days). Touches at or after D (counterfactual plans) do not count."""
    n_users, n_channels = len(decision), len(decay)
    age = decision[touches.user] - touches.time
    keep = (age > 0.0) & (age <= lookback_days)
    ch = touches.channel[keep].astype(np.int64)
    weight = np.exp(-decay[ch] * age[keep])
    flat = touches.user[keep].astype(np.int64) * n_channels + ch
    return np.bincount(flat, weights=weight, minlength=n_users * n_channels).reshape(
        n_users, n_channels
    )
