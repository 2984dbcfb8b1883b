"""A/B tests with known truth: assignments, conversions and transactions of simulated users.

Each user is assigned once, at a uniform time in the first half of the test window, to an arm
drawn with the arms' planned shares. In arm k:
1. the user converts (at least once during the test) with probability ``conversion_rate``;
2. a converter orders 1 + Poisson(``extra_orders``) times, at uniform times between assignment
   and the end of the test; every order is one conversion and one transaction;
3. order amounts are log-normal with mean ``order_mean`` and log-scale sd ``order_sigma`` (a
   heavy right tail: at sigma = 1.2 the top 1% of orders are about 10x the median).
So the true revenue per user is conversion_rate x (1 + extra_orders) x order_mean and the true
conversions per user conversion_rate x (1 + extra_orders).

Worlds: ``ab_world`` (a treatment that converts better), ``aa_world`` (identical arms),
``srm_world`` (a share of the treatment's users is lost from the log after assignment: a
sample-ratio mismatch) and ``holdout_world`` (a channel hold-out with a known number of
incremental conversions). ``contaminate`` adds the faults the analysis must catch: users in two
arms, conversions before assignment, conversions of users never assigned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: First day of simulated tests, their length (days), and the default number of users.
TEST_START = pd.Timestamp("2024-03-04")
TEST_DAYS = 28
TEST_USERS = 20_000
#: Users of the sample-ratio-mismatch world: enough that a 5% loss in one arm is always caught.
SRM_USERS = 100_000
#: Log-scale sd of order amounts (heavy right tail).
ORDER_SIGMA = 1.2


@dataclass(frozen=True)
class TrueArm:
    """One arm's truth: planned share (any positive weight), conversion probability per user,
    mean extra orders of a converter, mean and log-scale sd of an order amount (currency)."""

    name: str
    conversion_rate: float
    share: float = 1.0
    extra_orders: float = 0.5
    order_mean: float = 60.0
    order_sigma: float = ORDER_SIGMA

    @property
    def conversions_per_user(self) -> float:
        return self.conversion_rate * (1 + self.extra_orders)

    @property
    def revenue_per_user(self) -> float:
        return self.conversions_per_user * self.order_mean


@dataclass
class SimulatedTest:
    """Input tables (assignments, conversions, transactions) and the truth behind them."""

    assignments: pd.DataFrame
    conversions: pd.DataFrame
    transactions: pd.DataFrame
    truth: dict = field(default_factory=dict)

    def write(self, folder: str | Path, fmt: str = "parquet") -> dict[str, Path]:
        """Write the three tables as ``<table>.<fmt>`` and ``truth.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("assignments", "conversions", "transactions"):
            frame = getattr(self, name)
            path = folder / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            paths[name] = path
        (folder / "truth.json").write_text(json.dumps(self.truth, indent=2))
        return paths


def simulate_test(
    arms: Sequence[TrueArm],
    users: int = TEST_USERS,
    *,
    seed: int = 1,
    lost_share: Mapping[str, float] | None = None,
    start: pd.Timestamp = TEST_START,
    days: int = TEST_DAYS,
) -> SimulatedTest:
    """Simulate one test of ``users`` users over ``arms``. ``lost_share`` maps an arm to the
    share of its users whose assignment (and everything after it) never reaches the logs."""
    rng = np.random.default_rng(seed)
    names = [a.name for a in arms]
    shares = np.array([a.share for a in arms], dtype=float)
    arm_of = rng.choice(len(arms), size=users, p=shares / shares.sum())
    assigned = rng.uniform(0, days / 2, size=users)
    keep = np.ones(users, dtype=bool)
    for name, share in (lost_share or {}).items():
        in_arm = arm_of == names.index(name)
        keep &= ~(in_arm & (rng.uniform(size=users) < share))
    user_ids = np.array([f"u{i:07d}" for i in range(users)])

    rate = np.array([a.conversion_rate for a in arms])[arm_of]
    converted = rng.uniform(size=users) < rate
    extra = np.array([a.extra_orders for a in arms])[arm_of]
    n_orders = np.where(converted, 1 + rng.poisson(extra), 0)
    who = np.repeat(np.arange(users), n_orders)
    when = assigned[who] + rng.uniform(size=len(who)) * (days - assigned[who])
    mean = np.array([a.order_mean for a in arms])[arm_of[who]]
    sigma = np.array([a.order_sigma for a in arms])[arm_of[who]]
    amount = rng.lognormal(np.log(mean) - sigma**2 / 2, sigma)

    logged = keep[who]
    assignments = pd.DataFrame(
        {
            "user_id": user_ids[keep],
            "arm": np.array(names)[arm_of[keep]],
            "assigned_at": _timestamps(start, assigned[keep]),
        }
    )
    conversions = pd.DataFrame(
        {"user_id": user_ids[who[logged]], "timestamp": _timestamps(start, when[logged])}
    )
    transactions = pd.DataFrame(
        {
            "customer_id": user_ids[who[logged]],
            "timestamp": _timestamps(start, when[logged]),
            "amount": np.round(amount[logged], 2),
        }
    )
    control = names[0]
    truth = {
        "arms": [asdict(a) for a in arms],
        "control": control,
        "conversion_rate": {a.name: a.conversion_rate for a in arms},
        "revenue_per_user": {a.name: a.revenue_per_user for a in arms},
        "conversions_per_user": {a.name: a.conversions_per_user for a in arms},
        "lift": {
            a.name: a.conversion_rate / arms[0].conversion_rate - 1
            for a in arms
            if a.name != control
        },
        "lost_share": dict(lost_share or {}),
        "users": int(users),
        "start": str(start.date()),
        "days": int(days),
        "seed": int(seed),
    }
    return SimulatedTest(assignments, conversions, transactions, truth)


def contaminate(
    test: SimulatedTest,
    *,
    several_arms: int = 0,
    converted_before: int = 0,
    unassigned: int = 0,
    seed: int = 1,
) -> SimulatedTest:
    """Add faults: ``several_arms`` users also assigned to another arm a day later,
    ``converted_before`` users with a conversion (and order) a day before their assignment, and
    ``unassigned`` conversions of users who were never assigned. Counts go into the truth."""
    rng = np.random.default_rng(seed)
    a = test.assignments
    arms = sorted(a["arm"].unique())
    picked = a.sample(n=several_arms + converted_before, random_state=rng.integers(2**31))
    twice = picked.iloc[:several_arms].copy()
    twice["arm"] = [arms[(arms.index(x) + 1) % len(arms)] for x in twice["arm"]]
    twice["assigned_at"] = twice["assigned_at"] + pd.Timedelta(days=1)
    early = picked.iloc[several_arms:]
    early_times = early["assigned_at"] - pd.Timedelta(days=1)
    strangers = [f"x{i:07d}" for i in range(unassigned)]
    stranger_times = _timestamps(TEST_START, rng.uniform(0, TEST_DAYS, size=unassigned))
    conversions = pd.concat(
        [
            test.conversions,
            pd.DataFrame({"user_id": early["user_id"].to_numpy(), "timestamp": early_times}),
            pd.DataFrame({"user_id": strangers, "timestamp": stranger_times}),
        ],
        ignore_index=True,
    )
    transactions = pd.concat(
        [
            test.transactions,
            pd.DataFrame(
                {
                    "customer_id": early["user_id"].to_numpy(),
                    "timestamp": early_times.to_numpy(),
                    "amount": 10.0,
                }
            ),
        ],
        ignore_index=True,
    )
    truth = {
        **test.truth,
        "users_in_several_arms": int(several_arms),
        "conversions_before_assignment": int(converted_before),
        "unassigned_conversions": int(unassigned),
    }
    return SimulatedTest(pd.concat([a, twice], ignore_index=True), conversions, transactions, truth)


def ab_world(users: int = TEST_USERS, seed: int = 1) -> SimulatedTest:
    """Control 5% against a treatment at 6% (+20%) with the same basket: revenue +20% too."""
    return simulate_test([TrueArm("control", 0.05), TrueArm("treatment", 0.06)], users, seed=seed)


def aa_world(users: int = TEST_USERS, seed: int = 1) -> SimulatedTest:
    """Two identical arms: every true lift is 0."""
    return simulate_test([TrueArm("control", 0.05), TrueArm("treatment", 0.05)], users, seed=seed)


def srm_world(users: int = SRM_USERS, seed: int = 1, lost: float = 0.05) -> SimulatedTest:
    """A 50/50 test whose treatment loses ``lost`` of its users from the log after assignment.

    At the default size the arms differ by 7.9 binomial standard deviations on average, so the
    chi-square test at p < 0.001 (3.3 sd) catches it in all but about 2 tests in a million."""
    return simulate_test(
        [TrueArm("control", 0.05), TrueArm("treatment", 0.05)],
        users,
        seed=seed,
        lost_share={"treatment": lost},
    )


def holdout_world(
    users: int = TEST_USERS,
    seed: int = 1,
    *,
    holdout_share: float = 0.2,
    holdout_rate: float = 0.04,
    exposed_rate: float = 0.05,
) -> SimulatedTest:
    """A channel hold-out: ``holdout_share`` of the market sees none of the channel. The truth
    holds the expected incremental conversions in the whole market (all ``users``)."""
    holdout = TrueArm("holdout", holdout_rate, share=holdout_share)
    exposed = TrueArm("exposed", exposed_rate, share=1 - holdout_share)
    test = simulate_test([holdout, exposed], users, seed=seed)
    per_user = exposed.conversions_per_user - holdout.conversions_per_user
    test.truth["incremental_conversions"] = per_user * users
    return test


def _timestamps(start: pd.Timestamp, days: np.ndarray) -> pd.Series:
    # Whole seconds, like most event logs.
    return pd.Series(start + pd.to_timedelta(np.round(np.asarray(days) * 86_400), unit="s"))
