"""Response of conversions and customer value to each channel's spend, per posterior draw.

Chain of reasoning, per posterior draw ``d`` and spend multiples ``m`` (one per channel):

1. touches: ``r_c = N_c(m_c S_c) / N_c(S_c)`` from the reach curve (``reach.py``); journeys keep
   their shape and every touch of channel ``c`` counts ``r_c`` times as much, i.e. the model's
   ``exposure_scale`` for that channel (``0`` removes the channel, as the removal effect does).
2. conversions: ``sum_j n_j P_dj(r)`` over the observed journey patterns ``j``, from the
   attribution model's conversion probability, plus the organic conversions (no touch in the
   window; spend does not move them).
3. value: each conversion is worth what a customer acquired by its crediting channels is worth
   (first order + CLV, ``value.py``), split by the channels' shares of the pattern's hazard; the
   baseline share and organic conversions are worth the mean over all customers. Hazard shares are
   ``H - H_without_c``, rescaled to ``H - H_baseline``: exactly the Shapley split of the hazard
   when there is no synergy, an even split of each synergy term between its pair otherwise.
   (The hazard split stands in for the Shapley split of P, which would cost 2^C model
   evaluations per scenario and optimiser step.)

Known simplification: more touches of a channel scale the exposure of the journeys it already
reaches; journeys it did not reach stay unreached (the data show no touches to extrapolate
from), and extra touches count whatever their timing.

Settings (multiplier grid) are the named constants below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from workbench.planning.reach import touch_ratio

#: Spend multiples at which response curves are drawn.
CURVE_MULTIPLIERS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
#: Smallest hazard treated as non-zero when splitting value by hazard shares.
HAZARD_EPS = 1e-12

#: ``hazard_parts(exposure_scale (sample, channel))`` -> ``(H (sample, pattern),
#: contribution (channel, sample, pattern))`` with ``contribution_c = H - H_without_c``.
HazardParts = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def model_hazard(
    posterior: xr.Dataset, counts: xr.DataArray, samples: np.ndarray | None = None
) -> tuple[HazardParts, int]:
    """The attribution model's hazard, and each channel's part of it, as a numpy function of a
    per-sample exposure scale.

    ``attribution.probability.conversion_probability`` takes one scale for all draws; planning
    pairs each posterior sample with its own reach-curve draw, so this evaluates the same
    equations (the model's ``Draws`` and ``hazard``; ``P = 1 - exp(-H)``) with a
    (sample, channel) scale. Exposure depends on a pattern only through its per-channel code
    (64 values), so ``s_c`` is evaluated per code and gathered, as the model itself does. A
    channel's contribution ``H - H_without_c`` is ``s_c (beta_c + sum_d synergy_cd s_d)``.

    ``posterior`` holds the parameters with dims ``(chain, draw[, channel][, channel_pair])``;
    ``counts`` is ``pattern_counts(pattern, channel, recency_bin)``; ``samples`` picks flattened
    ``chain x draw`` indices (chain-major) to keep, all when ``None``. Returns the function and
    the number of samples it evaluates.
    """
    from attribution.features import code_table, encode_counts
    from attribution.probability import posterior_draws

    if "recency_ages_days" not in posterior.attrs:
        posterior = posterior.assign_attrs(recency_ages_days=list(counts.attrs["ages_days"]))
    draws = posterior_draws(posterior)
    keep = np.arange(draws.n_samples) if samples is None else np.asarray(samples)
    counts = counts.sel(channel=posterior["channel"].values).transpose(
        "pattern", "channel", "recency_bin"
    )
    codes = encode_counts(np.rint(counts.values).astype(np.int64))  # (pattern, channel)
    table = code_table(len(draws.ages_days)).astype(np.float64)  # (code, bin)
    weights = np.exp(-draws.decay[keep][..., None] * draws.ages_days)  # (sample, channel, bin)
    code_exposure = weights @ table.T  # (sample, channel, code)
    theta = draws.saturation[keep][..., None]
    baseline, beta = draws.baseline[keep][:, None], draws.beta[keep]
    synergy, pairs = draws.synergy[keep], draws.pairs
    n_channels = codes.shape[1]

    def hazard_parts(scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.broadcast_to(np.asarray(scale, float), beta.shape)
        s_code = np.expm1(-theta * code_exposure * scale[..., None]) / np.expm1(-theta)
        # Channel-major (channel, sample, pattern): one contiguous gather per channel is much
        # faster than a 3-D fancy index or an einsum over (sample, pattern, channel).
        s = np.stack([np.take(s_code[:, c], codes[:, c], axis=1) for c in range(n_channels)])
        slope = np.broadcast_to(beta.T[:, :, None], s.shape).copy()
        for q, (c, d) in enumerate(pairs):
            slope[c] += synergy[:, q, None] * s[d]
            slope[d] += synergy[:, q, None] * s[c]
        contribution = s * slope
        # H = baseline + sum_c beta_c s_c + sum_pairs synergy s_c s_d: each pair term is in
        # two channels' contributions, so it is subtracted once.
        h = baseline + contribution.sum(axis=0)
        for q, (c, d) in enumerate(pairs):
            h -= synergy[:, q, None] * s[c] * s[d]
        return h, contribution

    return hazard_parts, int(keep.size)


@dataclass
class ResponseModel:
    """Expected conversions and value under per-channel spend multiples, per posterior sample.

    Attributes (dims in brackets): ``channels`` [channel]; ``hazard_parts`` see
    :data:`HazardParts`; ``n_journeys`` [pattern]; ``reach_k`` [sample, channel] reach-curve
    ``K`` per sample (currency per week, ``inf`` = proportional); ``weekly_spend`` [week,
    channel] current spend (currency per week); ``clv_by_channel`` [channel] or [sample,
    channel] value of a customer each channel acquires (currency; ``value.customer_worth``);
    ``clv_baseline`` value of a customer the model credits to no channel (currency);
    ``organic_conversions`` conversions with no touch in the window.
    """

    channels: Sequence[str]
    hazard_parts: HazardParts
    n_journeys: np.ndarray
    reach_k: np.ndarray
    weekly_spend: np.ndarray
    clv_by_channel: np.ndarray
    clv_baseline: float
    organic_conversions: float

    @property
    def n_samples(self) -> int:
        return int(self.reach_k.shape[0])

    def exposure_scale(self, multiplier: np.ndarray) -> np.ndarray:
        """Touch ratio per sample and channel (sample, channel) for multiples (channel,)."""
        return touch_ratio(np.asarray(multiplier, float), self.reach_k, self.weekly_spend)

    def __post_init__(self) -> None:
        # Baseline hazard per sample (sample, 1): H of a pattern with every exposure at zero.
        zero = np.zeros((self.n_samples, len(self.channels)))
        self._h0 = self.hazard_parts(zero)[0][:, :1]

    def outcomes(self, multiplier: np.ndarray) -> dict[str, np.ndarray]:
        """Expected conversions and value (sample,) over the data window when channel ``c``'s
        spend is ``multiplier[c]`` x current, and ``credited(sample, channel)``: the model's
        conversions split by hazard share (module docstring)."""
        h, contribution = self.hazard_parts(self.exposure_scale(multiplier))
        p = -np.expm1(-h)  # (sample, pattern)
        conv = p * self.n_journeys
        conversions = conv.sum(axis=1) + self.organic_conversions
        total = contribution.sum(axis=0)  # (sample, pattern)
        # Each channel's share of H is its contribution rescaled to H - baseline (the two agree
        # without synergy; with it, each synergy term is split evenly within its pair).
        touched = np.maximum(h - self._h0, 0.0)
        ok = (total > HAZARD_EPS) & (h > HAZARD_EPS)
        weight = np.divide(touched, total * h, out=np.zeros_like(h), where=ok)
        credited = (contribution * (conv * weight)).sum(axis=2).T  # (sample, channel)
        baseline = conversions - credited.sum(axis=1)
        value = (credited * self.clv_by_channel).sum(axis=1) + baseline * self.clv_baseline
        return {"conversions": conversions, "value": value, "credited": credited}


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
