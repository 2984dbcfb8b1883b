"""One simulated world: spend -> touches -> users' exposures at their decision times -> credit.

A world is identified by ``(seed, rep)``; rep 0 is the data that ``simulate`` writes, other reps
are fresh worlds under the same spend plan (for averaging true outcomes). Counterfactual plans
reuse the world's uniforms (common random numbers) and hold every user's decision time fixed,
which is the same notion of effect as the Shapley truth: the journey's end is given, and a
channel's touches are added or removed before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.sim.journeys import (
    STREAM_COUNTS,
    STREAM_POPULATION,
    STREAM_SPEND,
    Population,
    Touches,
    decision_times,
    draw_population,
    draw_touches,
    exposures,
    opening_channels,
    rng_for,
)
from workbench.sim.response import TrueConversionModel
from workbench.sim.scenarios import CHANNELS, DAYS_PER_WEEK, WorldSpec
from workbench.sim.shapley import Credit, credit
from workbench.sim.spend import Reach, reach_for, touch_counts, weekly_spend

ORGANIC = "organic"
#: How counterfactual plans treat decision times (see :func:`counterfactual`).
DECISIONS = ("fixed", "moving")


@dataclass
class World:
    """Everything about one world's reachable users; arrays are indexed by user or channel."""

    scenario: WorldSpec
    channels: tuple[str, ...]
    model: TrueConversionModel
    reach: Reach
    spend: np.ndarray  # (channel, week), currency
    count_uniforms: np.ndarray  # (channel, week), the Poisson quantiles' uniforms
    population: Population
    touches: Touches
    decision: np.ndarray  # (user,) days
    touched: np.ndarray  # (user,) bool
    exposures: np.ndarray  # (user, channel)
    first: np.ndarray | None  # (user, channel) opening one-hot in worlds with roles, else None
    credit: Credit | None  # for every user (untouched: zeros and P(empty)); None if not asked
    seed: int
    rep: int

    @property
    def stages(self) -> list[str]:
        return [self.scenario.channels[c].stage for c in self.channels]

    @property
    def period_days(self) -> float:
        return self.spend.shape[1] * DAYS_PER_WEEK

    @property
    def follows(self) -> list[tuple[int, ...]]:
        return follow_ups(self.scenario, self.channels)


def follow_ups(scenario: WorldSpec, channels: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Per channel, the indices of the channels it follows (empty: not a follow-up)."""
    return [tuple(channels.index(d) for d in scenario.channels[c].follows) for c in channels]


def _opening(
    model: TrueConversionModel, touches: Touches, decision: np.ndarray
) -> np.ndarray | None:
    if not model.has_roles:
        return None
    return opening_channels(touches, decision, len(model.beta), model.lookback_days)


def acquisition(shapley: np.ndarray) -> np.ndarray:
    """Acquisition channel index per journey: largest true Shapley credit; -1 (organic) when no
    channel has positive credit (e.g. only zero-effect channels touched the user)."""
    best = np.argmax(shapley, axis=1)
    return np.where(shapley.max(axis=1, initial=0.0) > 0.0, best, -1)


def make_world(
    scenario: WorldSpec, users: int, weeks: int, seed: int, rep: int = 0, with_credit: bool = True
) -> World:
    """Simulate world ``(seed, rep)`` under the scenario's spend plan (the same plan in every
    rep: the plan is drawn from ``(seed, 0)``). ``with_credit=False`` skips the Shapley step
    (counterfactuals need only the decision times)."""
    channels = CHANNELS
    model = TrueConversionModel.from_scenario(scenario, channels)
    reach = reach_for(scenario, channels, users)
    spend = weekly_spend(scenario, channels, users, weeks, rng_for(seed, 0, STREAM_SPEND))
    uniforms = rng_for(seed, rep, STREAM_COUNTS).random(spend.shape)
    pop = draw_population(users, len(channels), weeks, rng_for(seed, rep, STREAM_POPULATION))
    stages = [scenario.channels[c].stage for c in channels]
    counts = touch_counts(reach, spend, uniforms)
    touches = draw_touches(pop, counts, stages, seed, rep, follow_ups(scenario, channels))
    decision, touched = decision_times(touches, pop, weeks * DAYS_PER_WEEK, scenario.decision)
    exp_ = exposures(touches, decision, model.decay, model.lookback_days)
    first = _opening(model, touches, decision)
    return World(
        scenario=scenario,
        channels=channels,
        model=model,
        reach=reach,
        spend=spend,
        count_uniforms=uniforms,
        population=pop,
        touches=touches,
        decision=decision,
        touched=touched,
        exposures=exp_,
        first=first,
        credit=_credit_all(model, exp_, touched, first) if with_credit else None,
        seed=seed,
        rep=rep,
    )


def _credit_all(
    model: TrueConversionModel,
    exp_: np.ndarray,
    reached: np.ndarray,
    first: np.ndarray | None = None,
) -> Credit:
    """Credit for every user; the enumeration runs only for users with exposure (``first``:
    the opening one-hot (user, channel) in worlds with roles)."""
    n, n_channels = exp_.shape
    p0 = float(model.prob(np.zeros((1, n_channels)))[0])
    out = Credit(
        shapley=np.zeros((n, n_channels)),
        removal=np.zeros((n, n_channels)),
        p_full=np.full(n, p0),
        p_empty=np.full(n, p0),
    )
    idx = np.flatnonzero(reached)
    part = credit(model, exp_[idx], first=None if first is None else first[idx])
    out.shapley[idx], out.removal[idx] = part.shapley, part.removal
    out.p_full[idx], out.p_empty[idx] = part.p_full, part.p_empty
    return out


def counterfactual(
    world: World, multipliers: np.ndarray, decisions: str = "fixed"
) -> tuple[np.ndarray, Credit]:
    """Exposures and credit of every user when each channel's weekly spend is multiplied by
    ``multipliers`` (channel,), with the world's uniforms held fixed.

    ``decisions="fixed"`` (default) keeps every user's decision time, so touches a bigger plan
    adds after it are wasted and a zero-effect channel changes nothing; ``"moving"`` re-times
    each decision to the plan's last touch + the same delay, as the data were generated (then
    extra late touches of any channel, even a useless one, delay decisions and decay the rest).
    """
    if decisions not in DECISIONS:
        raise ValueError(f"decisions must be one of {DECISIONS}; got {decisions!r}")
    spend = world.spend * np.asarray(multipliers, dtype=float)[:, None]
    counts = touch_counts(world.reach, spend, world.count_uniforms)
    touches = draw_touches(
        world.population, counts, world.stages, world.seed, world.rep, world.follows
    )
    decision = world.decision
    if decisions == "moving":
        decision, _ = decision_times(
            touches, world.population, world.period_days, world.scenario.decision
        )
    exp_ = exposures(touches, decision, world.model.decay, world.model.lookback_days)
    first = _opening(world.model, touches, decision)
    return exp_, _credit_all(world.model, exp_, exp_.sum(axis=1) > 0.0, first)
