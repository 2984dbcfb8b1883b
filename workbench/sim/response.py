"""The true conversion probability of a journey from its per-channel exposures.

For a journey decided at time D, channel c's exposure is
    E_c = sum over its touches t in [D - lookback, D) of exp(-decay_c * (D - t))   (days),
its diminishing-returns response is s_c(E) = (1 - exp(-theta_c E)) / (1 - exp(-theta_c))
(so one fresh touch gives s = 1 and s(0) = 0), and
    H = intercept + sum_c (beta_c s_c + opening_c f_c) + gamma s_a s_b   (synergy pair a, b)
    P = 1 - exp(-H)   (link "hazard")   or   P = 1 / (1 + exp(-H))   (link "logistic"),
where f_c = 1 when channel c's touch opens the journey (its first touch in the lookback window
before D), else 0. Because s_c(0) = 0 and f_c = 0 for an absent channel, a channel absent from a
journey is a null player for the Shapley value. In the Shapley game a removed channel takes its
opening term with it and no other touch is promoted to opener (the definition of the roles game
in ``attribution.model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.sim.scenarios import LOOKBACK_DAYS, WorldSpec

LINKS = ("hazard", "logistic")


@dataclass(frozen=True)
class TrueConversionModel:
    """Conversion probability as a function of exposures; arrays are indexed by ``channels``."""

    channels: tuple[str, ...]
    link: str
    intercept: float
    beta: np.ndarray  # (channel,)
    decay: np.ndarray  # (channel,) per day
    saturation: np.ndarray  # (channel,) theta
    synergy: tuple[int, int, float] | None = None  # channel indices a, b and gamma
    lookback_days: float = LOOKBACK_DAYS
    opening: np.ndarray | None = None  # (channel,) extra hazard of the opening touch

    @property
    def has_roles(self) -> bool:
        return self.opening is not None and bool(np.any(self.opening != 0.0))

    @classmethod
    def from_scenario(cls, scenario: WorldSpec, channels: tuple[str, ...]) -> TrueConversionModel:
        chans = [scenario.channels[c] for c in channels]
        synergy = None
        if scenario.synergy is not None:
            a, b, gamma = scenario.synergy
            synergy = (channels.index(a), channels.index(b), float(gamma))
        return cls(
            channels=tuple(channels),
            link=scenario.link,
            intercept=float(scenario.intercept),
            beta=np.array([ch.beta for ch in chans], dtype=float),
            decay=np.array([ch.decay for ch in chans], dtype=float),
            saturation=np.array([ch.saturation for ch in chans], dtype=float),
            synergy=synergy,
            opening=np.array([ch.opening for ch in chans], dtype=float),
        )

    def saturate(self, exposures: np.ndarray) -> np.ndarray:
        """s_c(E_c) for exposures of shape (journey, channel); s(0) = 0, s(1) = 1."""
        theta = self.saturation
        return -np.expm1(-theta * exposures) / -np.expm1(-theta)

    def hazard_saturated(self, s: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """H (journey,) from saturated exposures s (journey, channel) and the opening indicator
        ``first`` (journey, channel) (1 for the channel that opened the journey)."""
        h = self.intercept + s @ self.beta
        if first is not None and self.has_roles:
            h = h + first @ self.opening
        if self.synergy is not None:
            a, b, gamma = self.synergy
            h = h + gamma * s[:, a] * s[:, b]
        return h

    def prob_saturated(self, s: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """P (journey,) from saturated exposures s (journey, channel)."""
        return self._link(self.hazard_saturated(s, first))

    def prob_subsets(
        self, s: np.ndarray, masks: np.ndarray, first: np.ndarray | None = None
    ) -> np.ndarray:
        """P (journey, subset) with each journey's saturated exposures s (journey, channel)
        restricted to each subset in ``masks`` (subset, channel) of 0/1.

        The hazard is accumulated channel by channel in a fixed order, so two subsets that
        differ only by a channel with beta = 0 (and no synergy) get bit-identical P.
        """
        sb = s * self.beta
        if first is not None and self.has_roles:
            sb = sb + first * self.opening
        h = np.full((len(s), len(masks)), self.intercept)
        for c in range(s.shape[1]):
            h += sb[:, c : c + 1] * masks[None, :, c]
        if self.synergy is not None:
            a, b, gamma = self.synergy
            h += (gamma * s[:, a] * s[:, b])[:, None] * (masks[:, a] * masks[:, b])[None, :]
        return self._link(h)

    def _link(self, h: np.ndarray) -> np.ndarray:
        if self.link == "hazard":
            return -np.expm1(-h)
        return 1.0 / (1.0 + np.exp(-h))

    def prob(self, exposures: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
        """P (journey,) from exposures E (journey, channel) and the opening indicator."""
        return self.prob_saturated(self.saturate(exposures), first)

    def __call__(self, exposures: np.ndarray) -> np.ndarray:
        return self.prob(exposures)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (channel-keyed), as written to truth.json."""
        synergy = None
        if self.synergy is not None:
            a, b, gamma = self.synergy
            synergy = {"channels": [self.channels[a], self.channels[b]], "gamma": gamma}
        out = {
            "link": self.link,
            "intercept": self.intercept,
            "beta": dict(zip(self.channels, self.beta.tolist(), strict=True)),
            "decay_per_day": dict(zip(self.channels, self.decay.tolist(), strict=True)),
            "saturation_theta": dict(zip(self.channels, self.saturation.tolist(), strict=True)),
            "synergy": synergy,
            "lookback_days": self.lookback_days,
            "formula": (
                "E_c = sum_touches exp(-decay_c * age_days) over touches in the lookback; "
                "s_c = (1 - exp(-theta_c E_c)) / (1 - exp(-theta_c)); "
                "H = intercept + sum_c beta_c s_c + gamma s_a s_b; "
                + ("P = 1 - exp(-H)" if self.link == "hazard" else "P = 1 / (1 + exp(-H))")
            ),
        }
        if self.has_roles:
            # only in worlds with roles, so the other worlds' truth.json stays as it was
            out["opening"] = dict(zip(self.channels, self.opening.tolist(), strict=True))
            out["formula"] = out["formula"].replace(
                "sum_c beta_c s_c", "sum_c (beta_c s_c + opening_c first_c)"
            )
        return out

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> TrueConversionModel:
        """Inverse of :meth:`to_dict` (reads the ``conversion_model`` entry of truth.json)."""
        channels = tuple(params["beta"])
        synergy = None
        if params.get("synergy"):
            a, b = params["synergy"]["channels"]
            synergy = (channels.index(a), channels.index(b), float(params["synergy"]["gamma"]))
        return cls(
            channels=channels,
            link=params["link"],
            intercept=float(params["intercept"]),
            beta=np.array([params["beta"][c] for c in channels], dtype=float),
            decay=np.array([params["decay_per_day"][c] for c in channels], dtype=float),
            saturation=np.array([params["saturation_theta"][c] for c in channels], dtype=float),
            synergy=synergy,
            lookback_days=float(params["lookback_days"]),
            opening=np.array([params.get("opening", {}).get(c, 0.0) for c in channels], float),
        )
