"""Response of conversions and customer value to each channel's spend, per posterior draw.

Chain of reasoning, per posterior draw ``d`` and spend multiples ``m`` (one per channel):

1. touches: ``r_c = N_c(m_c S_c) / N_c(S_c)`` from the touch curve (``reach.py``).
2. reach and frequency: where those touches land (``audience.py``): the journeys the channel
   reaches now keep it (a share ``lost_c`` loses it when ``r_c < 1``) and see ``scale_c`` times
   their touches of ``c``; when ``r_c > 1``, ``new_cj`` people not reached now get ``j``
   touches.
3. conversions of the observed journeys: ``sum_j n_j (1 - E[exp(-H_j)])`` over the pattern
   table, with the attribution model's hazard (``model_hazard``). Without synergy
   ``exp(-H) = exp(-baseline) prod_c exp(-part_c)`` factorises over channels, so losing a
   channel with probability ``lost_c`` is exact: ``E[exp(-part_c)] = lost_c + (1 - lost_c)
   exp(-part_c(scale_c))`` (each synergy term is split evenly between its pair: approximate).
4. conversions of the newly reached: ``sum_cj new_cj (P_cj - P_0)``. **Assumption**: a newly
   reached person is like the untouched baseline plus this channel: hazard ``baseline +
   beta_c s_c(E)``, their exposure ``E`` distributed like the channel's current journeys with
   the same number ``j`` of its touches (``new_reach_mix``); they would otherwise have
   converted at ``P_0 = 1 - exp(-baseline)`` (organic or untouched by this channel).
5. organic conversions (no touch in the window) do not move with spend.
6. value: each conversion is worth what a customer acquired by its crediting channels is worth
   (first order + CLV, ``value.py``), split by the channels' shares of the pattern's hazard
   (``part_c / H``; the newly reached split between baseline and channel); the baseline share
   and organic conversions are worth ``value.py``'s ``CustomerValue.baseline`` (a new customer
   of the pooled purchase model; the mean customer when clv.nc has no purchase histories).
   (The hazard split stands in
   for the Shapley split of P, which would cost 2^C model evaluations per step.)

Per draw the whole computation needs: the model parameters (baseline, beta, decay,
saturation, synergy), the touch curve's ``K`` and the audience's ``m``, ``k``, ``M`` per
channel, plus the pattern table, the new-reach mix, current weekly spend and customer value.
Settings (multiplier grid) are the named constants below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from workbench.planning.audience import reach_frequency
from workbench.planning.reach import touch_ratio

#: Spend multiples at which response curves are drawn.
CURVE_MULTIPLIERS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
#: Smallest hazard treated as non-zero when splitting value by hazard shares.
HAZARD_EPS = 1e-12


@dataclass(frozen=True)
class ModelHazard:
    """The attribution model's hazard as numpy, for the posterior samples kept.

    ``parts(scale (sample, channel))`` -> ``(H (sample, pattern), part (channel, sample,
    pattern))``: the hazard of every pattern when channel ``c``'s exposure is multiplied by
    ``scale_c``, and each channel's part of ``H - baseline`` (``beta_c s_c`` plus half of each
    synergy term it is in; the parts sum to ``H - baseline``). ``baseline`` (sample,);
    ``code_part`` (sample, channel, code): ``beta_c s_c`` (+ the channel's opening term) of a
    journey with only this channel's touches, per code; ``codes`` (pattern, channel) the
    patterns' per-channel codes.
    """

    parts: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    baseline: np.ndarray
    code_part: np.ndarray
    codes: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.baseline.shape[0])


def model_hazard(
    posterior: xr.Dataset, counts: xr.DataArray, samples: np.ndarray | None = None
) -> ModelHazard:
    """The attribution model's hazard as a numpy function of a per-sample exposure scale: the
    one place where planning reads the model's parameterisation.

    ``attribution.probability.conversion_probability`` takes one scale for all draws; planning
    pairs each posterior sample with its own touch-curve and audience draw, so this evaluates
    the same equations (the model's ``Draws``; ``P = 1 - exp(-H)``) with a (sample, channel)
    scale. Exposure depends on a pattern only through its per-channel code (64 values), so
    ``s_c`` is evaluated per code and gathered, as the model itself does.

    ``posterior`` holds the parameters with dims ``(chain, draw[, channel][, channel_pair])``;
    ``counts`` is ``pattern_counts(pattern, channel, recency_bin)``; ``samples`` picks flattened
    ``chain x draw`` indices (chain-major) to keep, all when ``None``.
    """
    # H and each channel's part of it (opening-touch terms included) from the model package
    from attribution.probability import hazard_parts

    parts, _ = hazard_parts(posterior, counts, counts.coords.get("pattern_first_channel"), samples)
    return ModelHazard(parts, parts.baseline, parts.single_channel, parts.codes)


def new_reach_mix(counts: xr.DataArray, n_journeys: np.ndarray, cap: int) -> np.ndarray:
    """Codes of a newly reached person with ``j`` touches of a channel: the channel's current
    journeys with ``j`` touches (capped total), weighted by journeys. Returns (channel, total,
    code) with total ``1 .. bins x cap`` (index ``j - 1``), rows summing to 1; a total no
    journey has borrows the nearest smaller one (one touch in the newest bin at worst)."""
    from attribution.features import decode_codes, encode_counts, n_codes

    arr = np.rint(counts.transpose("pattern", "channel", "recency_bin").values).astype(np.int64)
    n_bins = arr.shape[2]
    codes = encode_counts(arr)  # (pattern, channel)
    totals = decode_codes(codes, n_bins).sum(axis=2)
    max_total = n_bins * cap
    mix = np.zeros((arr.shape[1], max_total, n_codes(n_bins)))
    for c in range(arr.shape[1]):
        on = totals[:, c] > 0
        np.add.at(mix[c], (totals[on, c] - 1, codes[on, c]), np.asarray(n_journeys)[on])
        for j in range(max_total):
            if mix[c, j].sum() == 0:
                if j == 0:
                    mix[c, 0, 1] = 1.0  # code 1: one touch in the most recent bin
                else:
                    mix[c, j] = mix[c, j - 1]
        mix[c] /= mix[c].sum(axis=1, keepdims=True)
    return mix


def single_channel_check(
    hazard: ModelHazard,
    n_journeys: np.ndarray,
    n_conversions: np.ndarray,
    channels: Sequence[str],
    seed: int,
) -> xr.Dataset:
    """The data's say on assumption (b) of the response model (newly reached people are like
    the untouched baseline plus one channel): the journeys that saw only channel ``c`` are such
    people; their observed conversions against the model's expectation.

    Returns ``single_channel_journeys(channel)``, ``single_channel_observed(channel)`` and
    ``single_channel_expected(channel)`` (posterior mean) with a 90% posterior predictive
    interval ``single_channel_expected_lower`` / ``_upper`` (Poisson noise per draw).
    """
    from posterior_tools.settings import INTERVAL_QUANTILES

    rng = np.random.default_rng(seed)
    present = hazard.codes > 0  # (pattern, channel)
    only = present & (present.sum(axis=1, keepdims=True) == 1)
    n_c = len(channels)
    journeys, observed = np.zeros(n_c), np.zeros(n_c)
    expected = np.zeros((hazard.n_samples, n_c))
    h0 = hazard.baseline[:, None]
    for c in range(n_c):
        rows = np.flatnonzero(only[:, c])
        journeys[c] = n_journeys[rows].sum()
        observed[c] = n_conversions[rows].sum()
        p = -np.expm1(-(h0 + hazard.code_part[:, c, hazard.codes[rows, c]]))
        expected[:, c] = p @ n_journeys[rows]
    lo, hi = np.quantile(rng.poisson(expected), INTERVAL_QUANTILES, axis=0)
    return xr.Dataset(
        {
            "single_channel_journeys": ("channel", journeys),
            "single_channel_observed": ("channel", observed),
            "single_channel_expected": ("channel", expected.mean(axis=0)),
            "single_channel_expected_lower": ("channel", lo),
            "single_channel_expected_upper": ("channel", hi),
        },
        coords={"channel": list(channels)},
    )


@dataclass
class ResponseModel:
    """Expected conversions and value under per-channel spend multiples, per posterior sample.

    Attributes (dims in brackets): ``channels`` [channel]; ``hazard`` (:class:`ModelHazard`);
    ``n_journeys`` [pattern]; ``reach_k`` [sample, channel] touch-curve ``K`` (currency per
    week, ``inf`` = proportional); ``weekly_spend`` [week, channel] current spend (currency per
    week); ``audience_m``, ``audience_k``, ``audience_size`` [sample, channel] the audience
    model (``audience.py``; NaN = none); ``new_mix`` [channel, total, code]
    (:func:`new_reach_mix`); ``clv_by_channel`` [sample, channel] value of a customer each
    channel acquires (currency); ``clv_baseline`` value of a customer credited to no channel;
    ``organic_conversions`` conversions with no touch in the window.
    """

    channels: Sequence[str]
    hazard: ModelHazard
    n_journeys: np.ndarray
    reach_k: np.ndarray
    weekly_spend: np.ndarray
    audience_m: np.ndarray
    audience_k: np.ndarray
    audience_size: np.ndarray
    new_mix: np.ndarray
    clv_by_channel: np.ndarray
    clv_baseline: float
    organic_conversions: float

    @property
    def n_samples(self) -> int:
        return int(self.reach_k.shape[0])

    def __post_init__(self) -> None:
        # Newly reached with j touches of c (sample, channel, total): P and the channel's share.
        h0 = self.hazard.baseline[:, None, None]
        b = self.hazard.code_part  # (sample, channel, code)
        p = -np.expm1(-(h0 + b))
        self._p0 = -np.expm1(-self.hazard.baseline)  # (sample,)
        self._p_new = np.einsum("scx,cjx->scj", p, self.new_mix)
        self._credit_new = np.einsum("scx,cjx->scj", p * b / (h0 + b), self.new_mix)

    def touch_ratio(self, multiplier: np.ndarray) -> np.ndarray:
        """Touches relative to now (sample, channel) for spend multiples (channel,)."""
        return touch_ratio(np.asarray(multiplier, float), self.reach_k, self.weekly_spend)

    def outcomes(self, multiplier: np.ndarray) -> dict[str, np.ndarray]:
        """Expected conversions and value (sample,) over the data window when channel ``c``'s
        spend is ``multiplier[c]`` x current, ``credited(sample, channel)`` (the conversions
        split by hazard share) and ``new_reach(sample, channel)`` (people newly reached)."""
        ratio = self.touch_ratio(multiplier)
        lost, scale, new = reach_frequency(
            ratio,
            self.audience_m,
            self.audience_k,
            self.audience_size,
            self.new_mix.shape[1],
        )
        _, part = self.hazard.parts(scale)  # (channel, sample, pattern)
        keep = (1.0 - lost).T[:, :, None]
        # -log E[exp(-part)] when the channel is lost with probability ``lost``.
        eff = -np.log(lost.T[:, :, None] + keep * np.exp(-part)) if lost.any() else part
        h = self.hazard.baseline[:, None] + eff.sum(axis=0)
        p = -np.expm1(-h)  # (sample, pattern)
        conv = p * self.n_journeys
        share = np.divide(conv, h, out=np.zeros_like(h), where=h > HAZARD_EPS)
        credited = (eff * share).sum(axis=2).T  # (sample, channel)
        gained = (new * (self._p_new - self._p0[:, None, None])).sum(axis=2)
        credited = credited + (new * self._credit_new).sum(axis=2)
        conversions = conv.sum(axis=1) + gained.sum(axis=1) + self.organic_conversions
        baseline = conversions - credited.sum(axis=1)
        value = (credited * self.clv_by_channel).sum(axis=1) + baseline * self.clv_baseline
        return {
            "conversions": conversions,
            "value": value,
            "credited": credited,
            "new_reach": new.sum(axis=2),
        }


def response_curves(
    model: ResponseModel, multipliers: Sequence[float] = CURVE_MULTIPLIERS
) -> xr.Dataset:
    """Expected conversions and value when one channel's spend is scaled and the others stay.

    Returns ``response_conversions(channel, multiplier, draw)`` and
    ``response_value(channel, multiplier, draw)`` (conversions and currency over the data
    window), ``draw`` being the flattened posterior sample.
    """
    n_c = len(model.channels)
    conv = np.empty((n_c, len(multipliers), model.n_samples))
    val = np.empty_like(conv)
    for c in range(n_c):
        for i, m in enumerate(multipliers):
            mult = np.ones(n_c)
            mult[c] = m
            out = model.outcomes(mult)
            conv[c, i], val[c, i] = out["conversions"], out["value"]
    coords = {
        "channel": list(model.channels),
        "multiplier": np.asarray(multipliers, float),
        "draw": np.arange(model.n_samples),
    }
    dims = ("channel", "multiplier", "draw")
    return xr.Dataset(
        {
            "response_conversions": (dims, conv, {"units": "conversions over the data window"}),
            "response_value": (dims, val, {"units": "currency (CLV) over the data window"}),
        },
        coords=coords,
    )
