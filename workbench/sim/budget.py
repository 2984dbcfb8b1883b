"""Budget worlds: weekly spend buys touches, touches buy reach and frequency, and the TRUE
change in expected conversions and customer value of any allocation is known.

A budget world is the journey simulator (:mod:`workbench.sim.journeys`: users' active windows,
touches placed by affinity inside them, the additive
hazard of decayed, saturating exposure of :mod:`workbench.sim.response`) with three things
chosen per world, so that extra spend buys new people or more touches for the same people:

1. **Spend -> touches**: ``N_cw = A_c (1 - exp(-S_cw / K_c))`` touches in week ``w``
   (:mod:`workbench.sim.spend`), weekly spend varying uniformly by ``SPEND_VARIATION``.
2. **Who can be touched**: channel ``c`` reaches only its addressable audience, a random
   ``audience[c]`` share of the users; nobody outside it is ever touched by ``c``.
3. **How touches spread**: a touch of ``c`` goes to an active addressable user with probability
   proportional to ``u_i v_ic`` (user propensity ``u_i ~ Gamma(user_shape)``, per-channel
   ``v_ic ~ Gamma(channel_shape)``, both mean 1). Small shapes concentrate touches on few
   people (extra spend mostly buys frequency); a large audience with flat propensities spreads
   them (extra spend mostly buys new reach). Users no channel touched are absent from the
   touch data; they convert with the baseline hazard (organic conversions).

Every user decides at the end of their active window (plus a small delay), whatever their
touches, and converts with the hazard of the exposure they have then: decisions do not depend
on spend, so an allocation's counterfactual is unambiguous (unlike a world where people decide
right after their last touch, where removing a channel would move decisions).

The truth of an allocation (spend multiples per channel, applied to every week) re-draws the
touches with common random numbers (more spend only adds touches) at the same decision times.
Expected conversions = ``sum_i P_i``; expected value = ``sum_i P_i CLV(acq_i)``, with ``CLV``
the true expected 52-week value (first order + BG/NBD repeats, undiscounted) of the
acquisition channel (largest true Shapley credit; organic when none). Both are averaged over
``n_reps`` worlds drawn under the same spend plan, so they are expectations, not one draw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xarray as xr

from workbench.sim.journeys import (
    STREAM_CONVERT,
    STREAM_COUNTS,
    STREAM_POPULATION,
    STREAM_PURCHASES,
    STREAM_SPEND,
    Population,
    decision_times,
    draw_population,
    draw_touches,
    exposures,
    rng_for,
    sort_touches,
)
from workbench.sim.purchases import draw_purchases, expected_clv
from workbench.sim.response import TrueConversionModel
from workbench.sim.scenarios import (
    CHANNELS,
    CLV_HORIZON_WEEKS,
    DAYS_PER_WEEK,
    SCENARIOS,
    START_DATE,
    Channel,
    WorldSpec,
)
from workbench.sim.spend import Reach, reach_for, touch_counts
from workbench.sim.world import (
    ORGANIC,
    World,
    _credit_all,
    acquisition,
    counterfactual,
    follow_ups,
)

#: Weekly spend varies uniformly by this fraction around its base (the planner's only signal).
SPEND_VARIATION = 0.20
#: Stream of the addressable-audience and propensity draws (other streams: sim.journeys).
STREAM_AUDIENCE = 21
#: Worlds averaged for the true expected outcome of an allocation.
TRUTH_REPS = 3
#: Repeat purchases are written up to this many weeks after the touch period: the planner's
#: CLV then predicts the year after the campaign, as the truth's value counts the year after
#: each first order.
PURCHASE_WEEKS_AFTER = 4
#: Each world's conversion model: baseline hazard over a user's decision.
INTERCEPT = 0.012


@dataclass(frozen=True)
class BudgetWorld:
    """One budget world: the channels' true parameters (``scenario``; no synergy, hazard link)
    and how touches spread over people. ``audience`` (channel,) is the share of users each
    channel can reach; ``user_shape`` / ``channel_shape`` are the Gamma shapes of the
    propensities (smaller = more heterogeneous)."""

    name: str
    description: str
    scenario: WorldSpec
    audience: tuple[float, ...]
    user_shape: float
    channel_shape: float


def _channels(betas, decays, thetas, touches, spends, spend_over_k) -> dict[str, Channel]:
    return {
        c: Channel(b, d, t, touches=n, spend=s, spend_over_k=k)
        for c, b, d, t, n, s, k in zip(
            CHANNELS, betas, decays, thetas, touches, spends, spend_over_k, strict=True
        )
    }


def _world(name, description, channels, audience, user_shape, channel_shape) -> BudgetWorld:
    base = SCENARIOS["additive"]
    scenario = replace(
        base, name=f"budget_{name}", intercept=INTERCEPT, channels=channels, synergy=None
    )
    return BudgetWorld(name, description, scenario, tuple(audience), user_shape, channel_shape)


# Channels in CHANNELS order: call_centre, direct_mail, display, email, paid_search, social.
# Spend per 1,000 users per week; touches per 1,000 users per week at base spend.
_BETAS = (0.045, 0.030, 0.020, 0.035, 0.050, 0.030)
_DECAYS = (0.50, 0.05, 0.20, 0.25, 0.20, 0.12)
_THETAS = (1.2, 0.9, 0.8, 1.0, 1.0, 0.8)
_SPEND = (120.0, 150.0, 200.0, 40.0, 160.0, 120.0)

WORLDS: dict[str, BudgetWorld] = {
    w.name: w
    for w in (
        _world(
            "new_reach",
            "every user addressable, flat propensities, few touches per person: extra spend "
            "mostly reaches people not touched before",
            _channels(
                _BETAS,
                _DECAYS,
                _THETAS,
                (20, 25, 40, 30, 35, 30),
                _SPEND,
                (0.6, 0.5, 0.8, 0.5, 0.7, 0.6),
            ),
            audience=(1.0,) * 6,
            user_shape=8.0,
            channel_shape=8.0,
        ),
        _world(
            "frequency",
            "small addressable audiences touched often: extra spend mostly adds touches for "
            "people already reached",
            _channels(
                _BETAS,
                _DECAYS,
                _THETAS,
                (40, 45, 90, 60, 70, 60),
                _SPEND,
                (0.6, 0.5, 0.8, 0.5, 0.7, 0.6),
            ),
            audience=(0.12, 0.15, 0.25, 0.15, 0.20, 0.18),
            user_shape=4.0,
            channel_shape=4.0,
        ),
        _world(
            "heterogeneous",
            "half the users addressable per channel, strongly uneven propensities: a few people "
            "get many touches, many get one or none",
            _channels(
                _BETAS,
                _DECAYS,
                _THETAS,
                (30, 35, 70, 45, 50, 45),
                _SPEND,
                (0.6, 0.5, 0.8, 0.5, 0.7, 0.6),
            ),
            audience=(0.5, 0.6, 0.7, 0.4, 0.6, 0.5),
            user_shape=0.5,
            channel_shape=0.7,
        ),
    )
}


def get_world(name: str) -> BudgetWorld:
    """The budget world called ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return WORLDS[name]
    except KeyError:
        raise KeyError(
            f"unknown budget world '{name}'; expected one of {', '.join(WORLDS)}"
        ) from None


def _population(spec: BudgetWorld, users: int, weeks: int, seed: int, rep: int) -> Population:
    """Users' windows and delays as in the journey simulator; affinities from the world's
    audiences and propensity shapes."""
    pop = draw_population(users, len(CHANNELS), weeks, rng_for(seed, rep, STREAM_POPULATION))
    rng = rng_for(seed, rep, STREAM_AUDIENCE)
    u = rng.gamma(spec.user_shape, 1.0 / spec.user_shape, size=users)
    v = rng.gamma(spec.channel_shape, 1.0 / spec.channel_shape, size=(users, len(CHANNELS)))
    addressable = rng.random((users, len(CHANNELS))) < np.asarray(spec.audience)
    return replace(pop, affinity=u[:, None] * v * addressable)


def _spend(spec: BudgetWorld, users: int, weeks: int, seed: int) -> np.ndarray:
    """Spend (channel, week) in currency: base x uniform(1 - SPEND_VARIATION, 1 + ...)."""
    base = np.array([spec.scenario.channels[c].spend for c in CHANNELS]) * users / 1000.0
    rng = rng_for(seed, 0, STREAM_SPEND)
    factor = 1.0 + rng.uniform(-SPEND_VARIATION, SPEND_VARIATION, size=(len(CHANNELS), weeks))
    return np.round(base[:, None] * factor, 2)


def _decisions(touches, pop: Population, period_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Decision time (user,) in days, independent of the touches: the end of the user's active
    window (capped at the period's end) plus their delay; and whether the user was touched."""
    _, touched = decision_times(touches, pop, period_days)
    window_end = np.minimum(pop.window_start + pop.window_length, period_days)
    return window_end + pop.delay, touched


def make_budget_world(
    spec: BudgetWorld, users: int, weeks: int, seed: int, rep: int = 0, with_credit: bool = True
) -> World:
    """World ``(seed, rep)`` of a budget world: the same spend plan in every rep (drawn from
    ``seed``), fresh users and touches per rep. Same arguments, same world."""
    model = TrueConversionModel.from_scenario(spec.scenario, CHANNELS)
    reach: Reach = reach_for(spec.scenario, CHANNELS, users)
    spend = _spend(spec, users, weeks, seed)
    uniforms = rng_for(seed, rep, STREAM_COUNTS).random(spend.shape)
    pop = _population(spec, users, weeks, seed, rep)
    sc = spec.scenario
    stages = [sc.channels[c].stage for c in CHANNELS]
    counts = touch_counts(reach, spend, uniforms)
    touches = draw_touches(pop, counts, stages, seed, rep, follow_ups(sc, CHANNELS))
    decision, touched = _decisions(touches, pop, weeks * DAYS_PER_WEEK)
    exp_ = exposures(touches, decision, model.decay, model.lookback_days)
    return World(
        scenario=sc,
        channels=CHANNELS,
        model=model,
        reach=reach,
        spend=spend,
        count_uniforms=uniforms,
        population=pop,
        touches=touches,
        decision=decision,
        touched=touched,
        exposures=exp_,
        first=None,  # no opening-touch roles in budget worlds
        credit=_credit_all(model, exp_, touched) if with_credit else None,
        seed=seed,
        rep=rep,
    )


def true_customer_value(spec: BudgetWorld) -> np.ndarray:
    """True expected 52-week value (first order + repeats, undiscounted) per acquisition
    label: the channels, then organic (currency)."""
    sc = spec.scenario
    return np.array(
        [
            expected_clv(sc.bgnbd[lab], sc.gamma_gamma, CLV_HORIZON_WEEKS)
            for lab in (*CHANNELS, ORGANIC)
        ]
    )


def true_allocation_outcomes(
    spec: BudgetWorld,
    users: int,
    weeks: int,
    seed: int,
    multipliers: np.ndarray,
    n_reps: int = TRUTH_REPS,
) -> dict[str, np.ndarray]:
    """True expected conversions and value (currency) over the touch period, for each row of
    ``multipliers`` (allocation, channel) of every week's spend, averaged over ``n_reps``
    worlds (rep 0 is the written data). Returns ``conversions`` and ``value`` (allocation,),
    plus ``reached`` (allocation, channel): users with at least one touch of each channel."""
    mult = np.atleast_2d(np.asarray(multipliers, float))
    clv = true_customer_value(spec)
    conv = np.zeros(len(mult))
    value = np.zeros(len(mult))
    reached = np.zeros((len(mult), len(CHANNELS)))
    for rep in range(n_reps):
        world = make_budget_world(spec, users, weeks, seed, rep, with_credit=False)
        for a, m in enumerate(mult):
            exp_, cr = counterfactual(world, m, decisions="fixed")
            conv[a] += cr.p_full.sum() / n_reps
            value[a] += (cr.p_full @ clv[acquisition(cr.shapley)]) / n_reps
            reached[a] += (exp_ > 0).sum(axis=0) / n_reps
    return {"conversions": conv, "value": value, "reached": reached}


def with_true_parameters(attribution: xr.Dataset, spec: BudgetWorld) -> xr.Dataset:
    """attribution.nc results with the posterior replaced by the world's TRUE conversion
    parameters (every draw the same, no synergy, no opening terms): what a plan says when the
    attribution model is exactly right, so the response model's own error shows apart from the
    attribution model's."""
    ds = attribution.drop_vars([v for v in ("synergy", "opening") if v in attribution])
    channels = [str(c) for c in ds["channel"].values]
    true = [spec.scenario.channels[c] for c in channels]
    shape = (ds.sizes["chain"], ds.sizes["draw"])
    ds["baseline"] = (("chain", "draw"), np.full(shape, spec.scenario.intercept))
    for name in ("beta", "decay", "saturation"):
        values = np.array([getattr(ch, name) for ch in true])
        ds[name] = (("chain", "draw", "channel"), np.broadcast_to(values, (*shape, len(values))))
    return ds


def _timestamps(days: np.ndarray) -> np.ndarray:
    micros = np.round(np.asarray(days) * 86_400_000_000).astype(np.int64)
    return np.datetime64(START_DATE, "us") + micros.astype("timedelta64[us]")


def simulate_budget(
    spec: BudgetWorld, users: int, weeks: int, seed: int
) -> dict[str, pd.DataFrame]:
    """The data a planner would have: ``touchpoints``, ``conversions``, ``transactions`` and
    weekly ``spend`` tables (the contracts of docs/contracts.md) of world ``(seed, 0)``.

    Every user converts with their true probability at their decision time (untouched users
    too: those conversions have no touch and are organic); converters then buy again by BG/NBD
    with their acquisition channel's parameters, order amounts by Gamma-Gamma."""
    world = make_budget_world(spec, users, weeks, seed)
    touches = sort_touches(world.touches)
    cr = world.credit
    convert = np.flatnonzero(rng_for(seed, 0, STREAM_CONVERT).random(users) < cr.p_full)
    labels = [*CHANNELS, ORGANIC]
    acq = acquisition(cr.shapley)[convert]
    acq = np.where(acq < 0, len(labels) - 1, acq)
    first_time = world.decision[convert]
    buys = draw_purchases(
        first_time,
        acq,
        labels,
        spec.scenario.bgnbd,
        spec.scenario.gamma_gamma,
        (weeks + PURCHASE_WEEKS_AFTER) * DAYS_PER_WEEK,
        rng_for(seed, 0, STREAM_PURCHASES),
    )
    ids = np.array([f"u{i:07d}" for i in range(users)], dtype=object)
    weeks_start = np.datetime64(START_DATE, "us") + (
        np.arange(weeks) * np.timedelta64(7, "D")
    ).astype("timedelta64[us]")
    return {
        "touchpoints": pd.DataFrame(
            {
                "user_id": ids[touches.user],
                "timestamp": _timestamps(touches.time),
                "channel": np.array(CHANNELS, dtype=object)[touches.channel],
            }
        ),
        "conversions": pd.DataFrame(
            {"user_id": ids[convert], "timestamp": _timestamps(first_time)}
        ),
        "transactions": pd.DataFrame(
            {
                "customer_id": ids[convert][buys.customer],
                "timestamp": _timestamps(buys.time),
                "amount": buys.amount,
            }
        ),
        "spend": pd.DataFrame(
            {
                "channel": np.repeat(np.array(CHANNELS, dtype=object), weeks),
                "period_start": np.tile(weeks_start, len(CHANNELS)),
                "period_end": np.tile(weeks_start + np.timedelta64(6, "D"), len(CHANNELS)),
                "spend": world.spend.reshape(-1),
            }
        ),
    }
