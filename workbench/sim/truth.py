"""The truth written beside simulated data, and true outcomes of spend plans (planning checks).

Expected conversions of a plan = sum over reachable users of P(x_i) at their decision time
(untouched users: P(empty)) + the unreachable audience's organic conversions. Expected value =
each of those conversions times the expected 52-week CLV of its acquisition channel (largest true
Shapley credit; organic when no channel is credited). Both are exact expectations given the
touches: no Bernoulli noise, so with common random numbers a channel with no effect changes
nothing at all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.sim.purchases import expected_clv, expected_repeat_purchases
from workbench.sim.scenarios import (
    CHANNELS,
    CLV_HORIZON_WEEKS,
    DAYS_PER_WEEK,
    LOOKBACK_DAYS,
    ORGANIC_RATE,
    PURCHASE_WEEKS_AFTER,
    SCENARIOS,
    START_DATE,
    UNREACHABLE_RATIO,
    WorldSpec,
    get_scenario,
)
from workbench.sim.shapley import Credit
from workbench.sim.world import (
    DECISIONS,
    ORGANIC,
    World,
    acquisition,
    counterfactual,
    make_world,
)

#: Worlds kept in memory between true_outcomes calls (each holds its users and touches).
WORLD_CACHE_SIZE = 4


def clv_by_label(scenario: WorldSpec, labels: list[str]) -> np.ndarray:
    """Expected undiscounted CLV over CLV_HORIZON_WEEKS per acquisition label (currency)."""
    return np.array(
        [
            expected_clv(scenario.bgnbd[lab], scenario.gamma_gamma, CLV_HORIZON_WEEKS)
            for lab in labels
        ]
    )


def n_unreachable(users: int) -> int:
    """Size of the audience that no spend reaches (source of organic conversions)."""
    return int(round(users * UNREACHABLE_RATIO))


def expected_outcome(world: World, cr: Credit) -> dict[str, Any]:
    """Expected conversions and value given a world's credit table (see module docstring),
    with the reachable/organic split and the true Shapley conversions per channel."""
    labels = list(world.channels) + [ORGANIC]
    clv = clv_by_label(world.scenario, labels)
    acq = acquisition(cr.shapley)  # -1 -> organic, the last label
    reached = float(cr.p_full.sum())
    organic = n_unreachable(world.population.n_users) * ORGANIC_RATE
    value = float(cr.p_full @ clv[acq] + organic * clv[-1])
    return {
        "conversions": reached + organic,
        "value": value,
        "reachable_conversions": reached,
        "organic_unreachable_conversions": organic,
        "shapley_conversions": _by_channel(world.channels, cr.shapley.sum(axis=0)),
    }


def credit_weighted_clv(world: World, cr: Credit) -> dict[str, float | None]:
    """Expected CLV of the customers each channel brings, weighted by its true Shapley credit:
    sum_i phi_ic CLV(acq_i) / sum_i phi_ic over all journeys (an expectation over conversions),
    the truth for credit-weighted CLV by channel. None (JSON null) for a channel with no credit."""
    labels = list(world.channels) + [ORGANIC]
    clv = clv_by_label(world.scenario, labels)[acquisition(cr.shapley)]
    credit_sum = cr.shapley.sum(axis=0)
    weighted = clv @ cr.shapley
    return {
        c: float(weighted[i] / credit_sum[i]) if credit_sum[i] > 0 else None
        for i, c in enumerate(world.channels)
    }


def _by_channel(channels: tuple[str, ...], values: np.ndarray) -> dict[str, float]:
    return {c: float(v) for c, v in zip(channels, values, strict=True)}


def build_truth(world: World, counts: dict[str, int], acquired: dict[str, int]) -> dict[str, Any]:
    """The truth dictionary (JSON-ready) for world rep 0; see docs/contracts.md, Simulator."""
    sc, ch, cr, t = world.scenario, world.channels, world.credit, world.touched
    shapley = cr.shapley[t].sum(axis=0)
    total = shapley.sum()
    labels = list(ch) + [ORGANIC]
    clv = clv_by_label(sc, labels)
    weekly = world.spend.mean(axis=1)
    touches = world.reach.expected_touches(world.spend)  # (channel, week)
    outcome = expected_outcome(world, cr)
    return {
        "scenario": sc.name,
        "seed": world.seed,
        "users": world.population.n_users,
        "weeks": int(world.spend.shape[1]),
        "start_date": START_DATE,
        "purchases_end_date": str(
            np.datetime64(START_DATE)
            + np.timedelta64(int((world.spend.shape[1] + PURCHASE_WEEKS_AFTER) * 7), "D")
        ),
        "lookback_days": LOOKBACK_DAYS,
        "channels": list(ch),
        "zero_effect_channels": sc.zero_effect_channels,
        "conversion_model": world.model.to_dict(),
        "counts": counts,
        "expected": {
            "conversions": outcome["conversions"],
            "touched_conversions": float(cr.p_full[t].sum()),
            "organic_conversions": outcome["conversions"] - float(cr.p_full[t].sum()),
            "value_52w": float(outcome["value"]),
        },
        "shapley_conversions": _by_channel(ch, shapley),
        "shapley_shares": _by_channel(ch, shapley / total if total > 0 else shapley),
        "removal_effects": _by_channel(ch, cr.removal[t].sum(axis=0)),
        "baseline_conversions": float(cr.p_empty[t].sum()),
        "acquired_customers": acquired,
        "time_unit": "weeks",
        "bgnbd": {lab: vars(sc.bgnbd[lab]).copy() for lab in labels},
        "gamma_gamma": {
            **vars(sc.gamma_gamma),
            "mean_order_value": sc.gamma_gamma.mean_order_value,
        },
        "expected_repeat_purchases_52w": {
            lab: float(expected_repeat_purchases(sc.bgnbd[lab], CLV_HORIZON_WEEKS))
            for lab in labels
        },
        "expected_clv_52w": dict(zip(labels, clv.tolist(), strict=True)),
        "expected_clv_52w_credit_weighted": credit_weighted_clv(world, cr),
        "clv_horizon_weeks": CLV_HORIZON_WEEKS,
        "spend_response": {
            c: {
                "A": float(world.reach.A[i]),
                "K": float(world.reach.K[i]),
                "formula": "touches_per_week = A * (1 - exp(-spend_per_week / K))",
                "current_weekly_spend": float(weekly[i]),
                "weekly_spend": world.spend[i].tolist(),
                "expected_weekly_touches": float(touches[i].mean()),
            }
            for i, c in enumerate(ch)
        },
        "organic": {
            "unreachable_users": n_unreachable(world.population.n_users),
            "conversion_rate": ORGANIC_RATE,
        },
        "period_days": world.spend.shape[1] * DAYS_PER_WEEK,
        # new worlds only (the other worlds' truth.json is unchanged)
        **({"decision_timing": sc.decision} if sc.decision != "after_last_touch" else {}),
        **(
            {
                "follow_up_channels": {
                    c: list(sc.channels[c].follows) for c in ch if sc.channels[c].follows
                }
            }
            if any(sc.channels[c].follows for c in ch)
            else {}
        ),
    }


@lru_cache(maxsize=WORLD_CACHE_SIZE)
def _base_world(scenario: str, users: int, weeks: int, seed: int, rep: int) -> World:
    """The world as simulated, without credit; cached because planning checks evaluate many
    plans on the same worlds (only the counterfactual touches and credit change)."""
    return make_world(get_scenario(scenario), users, weeks, seed, rep, with_credit=False)


def true_outcomes(
    truth: dict[str, Any],
    spend_multipliers: dict[str, float] | None = None,
    *,
    seed: int | None = None,
    n_reps: int = 1,
    decisions: str = "fixed",
) -> dict[str, Any]:
    """True expected conversions and 52-week value when each week's spend of each channel is
    multiplied (missing channels: 1), averaged over ``n_reps`` worlds.

    World 0 is the written data (so multipliers of 1 give exactly the truth's expected
    conversions); each world is simulated again, once as is and once under the plan, with common
    random numbers. ``seed`` defaults to the truth's seed.

    ``decisions="fixed"`` (default) holds each user's decision time, the notion of effect behind
    the Shapley truth: a zero-effect channel changes nothing, and touches a bigger plan places
    after a user's decision are wasted (about 10% of the extra touches at 1.5x paid_search
    spend), so true gains from more spend are somewhat below what a model fitted on the data
    extrapolates. ``"moving"`` re-times decisions to the plan's last touch (the data-generating
    rule taken literally); then extra touches of any channel delay decisions. Compare both to
    bound that modelling choice.
    """
    if decisions not in DECISIONS:
        raise InputError(f"decisions must be one of {', '.join(DECISIONS)}; got '{decisions}'")
    multipliers = dict(spend_multipliers or {})
    channels = tuple(truth["channels"])
    unknown = sorted(set(multipliers) - set(channels))
    if unknown:
        raise InputError(
            f"unknown channel(s) {', '.join(unknown)} in spend multipliers; "
            f"expected some of {', '.join(channels)}"
        )
    bad = sorted(c for c, m in multipliers.items() if not np.isfinite(m) or m < 0)
    if bad:
        raise InputError(f"spend multipliers must be finite and >= 0; got {bad}")
    if n_reps < 1:
        raise InputError(f"n_reps must be at least 1; got {n_reps}")
    if truth["scenario"] not in SCENARIOS or tuple(truth["channels"]) != CHANNELS:
        raise InputError(
            f"truth of scenario '{truth['scenario']}' with channels {truth['channels']} was not "
            "written by this simulator; expected one of " + ", ".join(SCENARIOS)
        )
    mult = np.array([float(multipliers.get(c, 1.0)) for c in channels])
    seed = truth["seed"] if seed is None else seed
    reps = []
    for rep in range(n_reps):
        world = _base_world(truth["scenario"], truth["users"], truth["weeks"], seed, rep)
        _, cr = counterfactual(world, mult, decisions)
        reps.append(expected_outcome(world, cr))

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in reps]))

    return {
        "conversions": mean("conversions"),
        "value": mean("value"),
        "reachable_conversions": mean("reachable_conversions"),
        "organic_unreachable_conversions": mean("organic_unreachable_conversions"),
        "shapley_conversions": {
            c: float(np.mean([r["shapley_conversions"][c] for r in reps])) for c in channels
        },
        "conversions_reps": [r["conversions"] for r in reps],
        "value_reps": [r["value"] for r in reps],
        "multipliers": dict(zip(channels, mult.tolist(), strict=True)),
        "decisions": decisions,
        "weekly_spend": {
            c: truth["spend_response"][c]["current_weekly_spend"] * m
            for c, m in zip(channels, mult, strict=True)
        },
    }
