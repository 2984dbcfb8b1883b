"""Every true parameter of the simulator, in one place.

Units: decay rates per day, spend in currency per week, reach in touches per week, BG/NBD
purchase rates per week (``alpha`` in weeks), Gamma-Gamma amounts in currency. Spend and reach
are given per 1,000 users so that the per-user world does not change with ``users`` (but a
longer period gives each user more touches: spend and reach are per week).

Scenarios (``--scenario``):
- ``default``: hazard model with a synergy pair (social x paid_search); display has no effect.
- ``additive``: the same hazard without the synergy term.
- ``logistic``: P = sigmoid(...) on the log-odds scale, with a stronger synergy pair.
- ``awareness``: display and social are early-journey (mostly first touch) and carry real effect;
  paid_search and email are late-journey (mostly last touch); search's effect is modest and
  email has none.
- ``roles``: display and social work mostly as the journey's **opening touch** (a large extra
  hazard when they open the journey, a small one per touch); email is a **follow-up channel**,
  served only within days after a display or social touch, with a modest effect of its own;
  direct_mail has no effect.
- ``<world>_campaign_end`` (``additive``, ``logistic``, ``roles``): the same world, but every
  user decides on one common date, the campaign's end, instead of minutes after their last touch.
- ``<world>_window_end`` (``additive``, ``roles``): the same world, but every user decides at
  the end of their own active window (plus the delay), days to weeks after their last touch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

#: The six channels, in sorted order (the contract indexes channels by sorted name).
CHANNELS: tuple[str, ...] = (
    "call_centre",
    "direct_mail",
    "display",
    "email",
    "paid_search",
    "social",
)

LOOKBACK_DAYS = 30.0
START_DATE = "2024-01-01"  # a Monday: weeks run Monday to Sunday
DAYS_PER_WEEK = 7.0
#: Repeat purchases are simulated this many weeks past the touch period (CLV holdout room).
PURCHASE_WEEKS_AFTER = 52
#: Horizon of the truth's expected CLV per acquisition channel, weeks after the first order.
CLV_HORIZON_WEEKS = 52.0

#: When users decide: shortly after their last touch, all on the campaign's last day, or at the
#: end of their own active (shopping) window, whatever their touches (as in the budget worlds).
DECISION_TIMINGS: tuple[str, ...] = ("after_last_touch", "campaign_end", "window_end")
#: A follow-up touch comes this long after the touch it follows, at most (days; uniform).
FOLLOW_UP_MAX_DAYS = 3.0

#: Decision delay after a user's last touch: Exponential with this mean (days; 2 hours) ...
DECISION_DELAY_MEAN_DAYS = 2.0 / 24.0
#: ... and at least this (days; one minute) so a conversion is strictly after its touches.
DECISION_DELAY_MIN_DAYS = 1.0 / 1440.0

#: A user's active (shopping) window: length uniform in these days; centre uniform in the period.
WINDOW_DAYS = (7.0, 42.0)
#: Per-user affinity (how many touches a user tends to receive): Gamma(shape, mean 1).
USER_AFFINITY_SHAPE = 1.0
#: Per-user, per-channel affinity multiplier: Gamma(shape, mean 1).
CHANNEL_AFFINITY_SHAPE = 2.0
#: Shape of the early/late journey-stage densities over the window: (1-x)^(k-1) or x^(k-1).
STAGE_SHAPE = 4.0

#: Weekly spend varies uniformly by this fraction around its base, so reach is identifiable.
SPEND_VARIATION = 0.30

#: Organic converters: an unreachable audience (no touches) of this size relative to ``users``,
#: converting with this probability once over the touch period (whatever its length). Reachable
#: users whom no touch reaches also convert, with P(no exposure); both count as organic.
UNREACHABLE_RATIO = 0.25
ORGANIC_RATE = 0.02


@dataclass(frozen=True)
class Channel:
    """True parameters of one channel.

    ``beta``: effect at one fresh touch (s(1) = 1) on the hazard (or log-odds for ``logistic``);
    ``decay``: recency decay per day; ``saturation``: theta of s(E) = (1-e^-theta E)/(1-e^-theta);
    ``stage``: where in a user's window its touches fall (``any``, ``early``, ``late``);
    ``touches``: expected touches per 1,000 users per week at base spend;
    ``spend``: base weekly spend per 1,000 users; ``spend_over_k``: base spend / K (how far up
    the reach curve the base spend sits);
    ``opening``: extra hazard (or log-odds) when this channel's touch opens the journey (the
    first touch in the lookback window before the decision);
    ``follows``: when set, the channel is a follow-up: each of its touches is served within
    ``FOLLOW_UP_MAX_DAYS`` after a touch of one of these channels (same user).
    """

    beta: float
    decay: float
    saturation: float
    touches: float
    spend: float
    spend_over_k: float
    stage: str = "any"
    opening: float = 0.0
    follows: tuple[str, ...] = ()


@dataclass(frozen=True)
class BGNBD:
    """BG/NBD parameters (weeks): purchase rate ~ Gamma(r, rate alpha); dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma (Fader, Hardie & Lee 2005): amount ~ Gamma(p, rate nu), nu ~ Gamma(q, rate v)."""

    p: float = 6.0
    q: float = 4.0
    v: float = 15.0

    @property
    def mean_order_value(self) -> float:
        """Population mean order amount, p v / (q - 1) (currency)."""
        return self.p * self.v / (self.q - 1.0)


@dataclass(frozen=True)
class WorldSpec:
    """A complete true world: conversion model, channels, synergy, repeat-purchase behaviour."""

    name: str
    link: str  # "hazard": P = 1 - exp(-H); "logistic": P = sigmoid(H)
    intercept: float
    channels: dict[str, Channel]
    synergy: tuple[str, str, float] | None
    bgnbd: dict[str, BGNBD] = field(default_factory=dict)
    gamma_gamma: GammaGamma = field(default_factory=GammaGamma)
    decision: str = "after_last_touch"  # one of DECISION_TIMINGS

    @property
    def zero_effect_channels(self) -> list[str]:
        """Channels whose true effect is exactly zero (and that are in no synergy pair)."""
        pair = set(self.synergy[:2]) if self.synergy else set()
        return [
            c
            for c, ch in self.channels.items()
            if ch.beta == 0.0 and ch.opening == 0.0 and c not in pair
        ]

    @property
    def has_roles(self) -> bool:
        """Some channel's effect depends on opening the journey."""
        return any(ch.opening != 0.0 for ch in self.channels.values())


# Repeat-purchase behaviour differs by acquisition channel ('organic': no channel credited).
# Weeks: alpha is a time scale, mean rate r/alpha purchases per week; mean dropout a/(a+b).
_BGNBD = {
    "call_centre": BGNBD(r=1.1, alpha=6.0, a=1.3, b=5.0),
    "direct_mail": BGNBD(r=1.0, alpha=7.0, a=1.4, b=6.0),
    "display": BGNBD(r=0.7, alpha=7.0, a=1.5, b=2.5),
    "email": BGNBD(r=1.3, alpha=5.0, a=1.2, b=4.5),
    "paid_search": BGNBD(r=0.9, alpha=6.0, a=1.3, b=3.0),
    "social": BGNBD(r=0.6, alpha=6.0, a=1.6, b=2.2),
    "organic": BGNBD(r=0.8, alpha=6.0, a=1.3, b=3.5),
}

# Default world: display is the frequent, useless channel; direct_mail decays slowly (offline),
# call_centre decays fast but is strong; social x paid_search is the synergy pair.
# Spend levels are calibrated so that the demo's economics read like a real business's: ROAS
# (first order + CLV per unit spend) about 2-6 and CLV:CAC about 1-3.5 for the channels with an
# effect, display (no effect) well below 1. Spend only sets the currency scale (K moves with it
# through spend_over_k), so the touches and the conversion model do not depend on it.
_DEFAULT_CHANNELS = {
    "call_centre": Channel(0.040, 0.80, 1.2, touches=30, spend=8, spend_over_k=0.9),
    "direct_mail": Channel(0.014, 0.04, 1.0, touches=30, spend=9, spend_over_k=0.7),
    "display": Channel(0.000, 0.25, 0.6, touches=250, spend=15, spend_over_k=1.2),
    "email": Channel(0.010, 0.30, 0.9, touches=80, spend=6, spend_over_k=1.0),
    "paid_search": Channel(0.022, 0.20, 0.8, touches=100, spend=15, spend_over_k=0.8),
    "social": Channel(0.010, 0.15, 0.7, touches=120, spend=16, spend_over_k=0.6),
}

_DEFAULT = WorldSpec(
    name="default",
    link="hazard",
    intercept=0.012,
    channels=_DEFAULT_CHANNELS,
    synergy=("social", "paid_search", 0.020),
    bgnbd=_BGNBD,
)

_LOGISTIC_BETAS = {
    "call_centre": 1.0,
    "direct_mail": 0.45,
    "display": 0.0,
    "email": 0.35,
    "paid_search": 0.6,
    "social": 0.3,
}

_AWARENESS_CHANNELS = {
    "call_centre": replace(_DEFAULT_CHANNELS["call_centre"], beta=0.030),
    "direct_mail": replace(_DEFAULT_CHANNELS["direct_mail"], beta=0.012),
    "display": replace(_DEFAULT_CHANNELS["display"], beta=0.014, stage="early"),
    "email": replace(_DEFAULT_CHANNELS["email"], beta=0.0, stage="late"),
    "paid_search": replace(_DEFAULT_CHANNELS["paid_search"], beta=0.008, stage="late"),
    "social": replace(_DEFAULT_CHANNELS["social"], beta=0.016, stage="early"),
}

# Roles world: awareness channels earn mostly as the opening touch, email follows them.
_ROLES_CHANNELS = {
    "call_centre": replace(_DEFAULT_CHANNELS["call_centre"], beta=0.030),
    "direct_mail": replace(_DEFAULT_CHANNELS["direct_mail"], beta=0.0),
    "display": replace(_DEFAULT_CHANNELS["display"], beta=0.003, opening=0.030, stage="early"),
    "email": replace(
        _DEFAULT_CHANNELS["email"], beta=0.008, touches=60, follows=("display", "social")
    ),
    "paid_search": replace(_DEFAULT_CHANNELS["paid_search"], beta=0.020, stage="late"),
    "social": replace(_DEFAULT_CHANNELS["social"], beta=0.004, opening=0.035, stage="early"),
}
_ROLES = replace(_DEFAULT, name="roles", channels=_ROLES_CHANNELS, synergy=None)

SCENARIOS: dict[str, WorldSpec] = {
    "default": _DEFAULT,
    "additive": replace(_DEFAULT, name="additive", synergy=None),
    "logistic": replace(
        _DEFAULT,
        name="logistic",
        link="logistic",
        intercept=-4.4,  # logit(0.012)
        channels={c: replace(ch, beta=_LOGISTIC_BETAS[c]) for c, ch in _DEFAULT_CHANNELS.items()},
        synergy=("social", "paid_search", 0.8),
    ),
    "awareness": replace(
        _DEFAULT,
        name="awareness",
        channels=_AWARENESS_CHANNELS,
        synergy=("social", "paid_search", 0.015),
    ),
    "roles": _ROLES,
}
# The same worlds when every user decides on the campaign's last day (new names: the worlds
# above keep their data for a given seed).
for _name in ("additive", "logistic", "roles"):
    SCENARIOS[f"{_name}_campaign_end"] = replace(
        SCENARIOS[_name], name=f"{_name}_campaign_end", decision="campaign_end"
    )
for _name in ("additive", "roles"):
    SCENARIOS[f"{_name}_window_end"] = replace(
        SCENARIOS[_name], name=f"{_name}_window_end", decision="window_end"
    )


def get_scenario(name: str) -> WorldSpec:
    """The scenario called ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(
            f"unknown scenario '{name}'; expected one of {', '.join(SCENARIOS)}"
        ) from None
