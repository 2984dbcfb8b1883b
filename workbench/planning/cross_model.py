"""One plan across the journey model and the media-mix model.

Which model answers for a channel (:data:`RULE`): a channel with user-level touches (in
attribution.nc) is planned with the journey model's response (``response.py``); a channel only
the media-mix model covers (television, radio, print, out-of-home) with the media-mix model's
(``media.py``). A channel both models cover is planned with the journey model, which sees who
each touch reached; the media-mix model's estimate is shown beside it as a cross-check.

Per posterior sample ``d`` (the journey model's sample paired with a media-mix draw, see
``media.pair_draws``), for spend multiples ``m`` over all planned channels:

    conversions_d(m) = journey_d(m_journey) + sum_{c media-only} media_dc(m_c)
    value_d(m)       = journey value_d + sum_{c media-only} media_dc(m_c) x worth_dc

``worth_dc`` is what clv.nc says a customer acquired by ``c`` is worth (first order + CLV; the
mean customer when clv.nc has no credit for ``c``). Without clv.nc the value is unknown (NaN)
and the plan ranks and optimises on conversions. The two models' conversions add because the
media-mix channels' conversions are counted apart from the journeys': the assumption is that
the offline channels' effect and the journey channels' effect do not overlap (no synergy
between an offline and a digital channel is modelled).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench.planning.media import MediaResponse
from workbench.planning.response import ResponseModel

#: The stated rule for a channel in both models: the plan uses this model's response.
RULE = "journey"
#: Labels of the model that plans each channel (plan.nc ``planned_with(channel)``).
JOURNEY, MEDIA_MIX = "journey", "media_mix"
#: KPIs (plan.nc ``kpi`` metrics) the media-mix model gives its channels: spend, conversions
#: its spend causes in the window, spend per conversion, value per unit of spend.
MEDIA_KPIS = ("spend", "conversions", "cpa", "roas")


@dataclass
class PlanResponse:
    """Expected conversions and value of any allocation across both models, per sample.

    ``channels`` all planned channels; ``journey`` the journey model's response over its
    channels (or None); ``media`` the media-mix response over its channels (or None);
    ``media_worth`` (sample, media channel) value of a conversion of each media-mix channel
    (currency; NaN without clv.nc); ``value_known``: whether clv.nc valued the conversions.
    """

    channels: Sequence[str]
    journey: ResponseModel | None
    media: MediaResponse | None
    media_worth: np.ndarray | None
    value_known: bool

    def __post_init__(self) -> None:
        names = list(self.channels)
        jc = list(self.journey.channels) if self.journey is not None else []
        mc = list(self.media.channels) if self.media is not None else []
        self._j = np.array([names.index(c) for c in jc], int)
        # media-mix channels the plan answers with the media-mix model, and those it only
        # shows beside the journey model's answer
        self._planned = np.array([c not in jc for c in mc], bool)
        self._m_in_plan = np.array([names.index(c) for c in mc], int)

    @property
    def n_samples(self) -> int:
        model = self.journey if self.journey is not None else self.media
        return int(model.n_samples)

    def planned_with(self) -> list[str]:
        """Which model answers for each planned channel (:data:`JOURNEY` or :data:`MEDIA_MIX`)."""
        jc = set(self.journey.channels) if self.journey is not None else set()
        return [JOURNEY if c in jc else MEDIA_MIX for c in self.channels]

    def media_conversions(self, multiplier: np.ndarray) -> np.ndarray | None:
        """Conversions (sample, media channel) caused by every media-mix channel (the planned
        ones and the cross-checks) at ``multiplier`` (channel,) over all planned channels."""
        if self.media is None:
            return None
        return self.media.conversions(np.asarray(multiplier, float)[self._m_in_plan])

    def outcomes(self, multiplier: np.ndarray) -> dict[str, np.ndarray]:
        """``conversions`` and ``value`` (sample,), ``credited`` (sample, channel): conversions
        each channel's spend causes (journey: credited by hazard share), ``new_reach`` (sample,
        channel) people newly reached (NaN for media-mix channels: it does not see people)."""
        mult = np.asarray(multiplier, float)
        n, n_c = self.n_samples, len(self.channels)
        conversions, value = np.zeros(n), np.zeros(n)
        credited, new_reach = np.zeros((n, n_c)), np.full((n, n_c), np.nan)
        if self.journey is not None:
            out = self.journey.outcomes(mult[self._j])
            conversions += out["conversions"]
            value += out["value"]
            credited[:, self._j] = out["credited"]
            new_reach[:, self._j] = out["new_reach"]
        if self.media is not None and self._planned.any():
            caused = self.media_conversions(mult)[:, self._planned]
            conversions += caused.sum(axis=1)
            value += (caused * self.media_worth[:, self._planned]).sum(axis=1)
            credited[:, self._m_in_plan[self._planned]] = caused
        if not self.value_known:
            value = np.full(n, np.nan)
        return {
            "conversions": conversions,
            "value": value,
            "credited": credited,
            "new_reach": new_reach,
        }

    def objective_outcome(self) -> str:
        """What the optimiser maximises: ``value`` when clv.nc valued conversions, else
        ``conversions``."""
        return "value" if self.value_known else "conversions"


def side_by_side(model: PlanResponse) -> xr.Dataset | None:
    """Both models' estimate of each shared channel's incremental conversions: the conversions
    its current spend causes in the window (journey: outcome at current spend minus outcome
    with the channel's spend at zero; media mix: its conversions at current spend), per sample,
    with 90% intervals and whether the intervals overlap (``models_agree``).

    Returns ``incremental_journey(channel_both, draw)``, ``incremental_media_mix(channel_both,
    draw)``, their ``_mean``, ``_q05``, ``_q95`` (channel_both) and ``models_agree
    (channel_both)`` (1 when the intervals overlap), or None when no channel is in both.
    """
    if model.journey is None or model.media is None:
        return None
    both = [c for c in model.journey.channels if c in model.media.channels]
    if not both:
        return None
    names = list(model.channels)
    n_c = len(names)
    journey = np.empty((len(both), model.n_samples))
    media = np.empty_like(journey)
    now = model.journey.outcomes(np.ones(len(model.journey.channels)))["conversions"]
    caused_now = model.media_conversions(np.ones(n_c))
    for i, c in enumerate(both):
        mult = np.ones(len(model.journey.channels))
        mult[list(model.journey.channels).index(c)] = 0.0
        journey[i] = now - model.journey.outcomes(mult)["conversions"]
        media[i] = caused_now[:, model.media.channels.index(c)]
    data = {}
    bounds = {}
    for name, draws in (("journey", journey), ("media_mix", media)):
        lo, hi = np.quantile(draws, INTERVAL_QUANTILES, axis=1)
        bounds[name] = (lo, hi)
        data[f"incremental_{name}"] = (
            ("channel_both", "draw"),
            draws,
            {"units": f"conversions the channel's current spend causes in the window ({name})"},
        )
        data[f"incremental_{name}_mean"] = ("channel_both", draws.mean(axis=1))
        data[f"incremental_{name}_q05"] = ("channel_both", lo)
        data[f"incremental_{name}_q95"] = ("channel_both", hi)
    (jlo, jhi), (mlo, mhi) = bounds["journey"], bounds["media_mix"]
    data["models_agree"] = (
        "channel_both",
        ((jlo <= mhi) & (mlo <= jhi)).astype(int),
        {"description": "1 when the two models' 90% intervals overlap"},
    )
    return xr.Dataset(data, coords={"channel_both": both, "draw": np.arange(model.n_samples)})


def media_kpis(model: PlanResponse, current: np.ndarray, worth: np.ndarray) -> xr.Dataset | None:
    """``kpi``, ``kpi_lower``, ``kpi_upper(channel, metric)`` of the channels the media-mix model
    plans (:data:`MEDIA_KPIS`; ``current`` spend (channel,) over the window, ``worth`` (sample,
    channel) value of a conversion): the point is the plug-in at the posterior mean, the bounds
    the 90% interval over the paired draws; None when no channel is planned that way."""
    names = list(model.channels)
    offline = [c for c, how in zip(names, model.planned_with(), strict=True) if how == MEDIA_MIX]
    if not offline:
        return None
    cols = [names.index(c) for c in offline]
    caused = model.media_conversions(np.ones(len(names)))
    conv = caused[:, [model.media.channels.index(c) for c in offline]]
    spend = np.broadcast_to(current[cols], conv.shape)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN ROAS without clv.nc
        draws = {
            "spend": spend,
            "conversions": conv,
            "cpa": np.where(conv > 0, spend / conv, np.nan),
            "roas": np.where(spend > 0, conv * worth[:, cols] / spend, np.nan),
        }
        point = {k: np.nanmean(v, axis=0) for k, v in draws.items()}
        mean_conv = point["conversions"]
        point["cpa"] = np.where(mean_conv > 0, current[cols] / mean_conv, np.nan)
        bounds = {k: np.nanquantile(v, INTERVAL_QUANTILES, axis=0) for k, v in draws.items()}
    dims = ("channel", "metric")
    return xr.Dataset(
        {
            "kpi": (dims, _by_metric(point)),
            "kpi_lower": (dims, _by_metric({k: b[0] for k, b in bounds.items()})),
            "kpi_upper": (dims, _by_metric({k: b[1] for k, b in bounds.items()})),
        },
        coords={"channel": offline, "metric": list(MEDIA_KPIS)},
    )


def _by_metric(parts: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([parts[k] for k in MEDIA_KPIS], axis=1)
