"""The response model as compact data: what the planner page needs to value any allocation.

``workbench plan`` values an allocation with :meth:`ResponseModel.outcomes`; the planner page
(``workbench/report/planner.py``) evaluates the same equations in the browser. This module turns
the fitted pieces into plain arrays (``planner_*`` variables of plan.nc, docs/contracts.md) and
gives :func:`outcomes_from_payload`, the reference implementation of the page's formulas in
numpy, which the tests hold equal to ``ResponseModel.outcomes`` for arbitrary allocations.

Reductions, all exact for the response model's equations:

- posterior samples thinned evenly to at most ``PAYLOAD_DRAWS``;
- the attribution model's code responses are rebuilt from the per-channel parameters (beta,
  decay, saturation, opening) and the recency bins' ages, not stored per code;
- patterns that share every channel's code (and the opening channel, when the model has
  opening terms) are merged, their journeys summed: the equations see a pattern only through
  these;
- the newly reached people's exposure mix ``new_reach_mix`` does not depend on the draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from workbench.planning.cross_model import JOURNEY
from workbench.planning.response import HAZARD_EPS, ResponseModel

#: Most posterior samples the page carries (evenly thinned from the plan's samples).
PAYLOAD_DRAWS = 200
#: Prefix of the payload's variables and dimensions in plan.nc.
PREFIX = "planner_"


def thin(n: int, most: int = PAYLOAD_DRAWS) -> np.ndarray:
    """Indices of at most ``most`` samples spread evenly over ``n`` (all when ``n <= most``)."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(int))


def response_payload(
    model: ResponseModel,
    posterior: xr.Dataset,
    counts: xr.DataArray,
    samples: np.ndarray,
    most: int = PAYLOAD_DRAWS,
) -> xr.Dataset:
    """The planner's payload for ``model``, built from the same posterior samples.

    ``posterior`` holds the attribution model's parameters (dims ``(chain, draw[, channel][,
    channel_pair])``), ``counts`` is ``pattern_counts(pattern, channel, recency_bin)`` and
    ``samples`` the flattened ``chain x draw`` indices ``model`` was built on. Returns the
    ``planner_*`` variables (docs/contracts.md, "plan.nc: the planner's payload").
    """
    from attribution.features import CODE_BASE, bin_spans, encode_counts
    from attribution.probability import posterior_draws

    if "recency_ages_days" not in posterior.attrs:
        posterior = posterior.assign_attrs(recency_ages_days=list(counts.attrs["ages_days"]))
    draws = posterior_draws(posterior)
    keep = thin(model.n_samples, most)
    rows = np.asarray(samples)[keep]
    channels = [str(c) for c in model.channels]
    counts = counts.sel(channel=channels).transpose("pattern", "channel", "recency_bin")
    codes = encode_counts(np.rint(counts.values).astype(np.int64))
    first = counts.coords.get("pattern_first_channel")
    first = np.full(codes.shape[0], -1, np.int64) if first is None else np.asarray(first, np.int64)
    if not np.any(draws.opening[rows] != 0.0):
        first = np.full_like(first, -1)  # no opening terms: the opening channel plays no part
    codes, first, n_journeys = _merge_patterns(codes, first, np.asarray(model.n_journeys, float))
    d, c = f"{PREFIX}draw", "channel"
    per = {
        "beta": draws.beta[rows],
        "decay": draws.decay[rows],
        "saturation": draws.saturation[rows],
        "opening": draws.opening[rows],
        "reach_k": model.reach_k[keep],
        "audience_m": model.audience_m[keep],
        "audience_k": model.audience_k[keep],
        "audience_size": model.audience_size[keep],
        "customer_value": model.clv_by_channel[keep],
    }
    data: dict[str, Any] = {f"{PREFIX}{k}": ((d, c), np.asarray(v, float)) for k, v in per.items()}
    data[f"{PREFIX}baseline"] = (d, draws.baseline[rows])
    data[f"{PREFIX}synergy"] = ((d, f"{PREFIX}pair"), draws.synergy[rows])
    data[f"{PREFIX}pair_channels"] = ((f"{PREFIX}pair", f"{PREFIX}side"), draws.pairs)
    data[f"{PREFIX}ages_days"] = (f"{PREFIX}bin", np.asarray(draws.ages_days, float))
    lower, width = bin_spans(draws.ages_days)
    data[f"{PREFIX}bin_lower"] = (f"{PREFIX}bin", lower)
    data[f"{PREFIX}bin_width"] = (f"{PREFIX}bin", width)
    data[f"{PREFIX}weekly_spend"] = ((f"{PREFIX}week", c), np.asarray(model.weekly_spend, float))
    data[f"{PREFIX}codes"] = ((f"{PREFIX}pattern", c), codes.astype(np.int16))
    data[f"{PREFIX}first_channel"] = (f"{PREFIX}pattern", first.astype(np.int16))
    data[f"{PREFIX}n_journeys"] = (f"{PREFIX}pattern", n_journeys)
    data[f"{PREFIX}new_mix"] = ((c, f"{PREFIX}total", f"{PREFIX}code"), model.new_mix)
    # Scalars are variables, not attrs: the pipeline's provenance replaces plan.nc's attrs.
    data[f"{PREFIX}clv_baseline"] = ((), float(model.clv_baseline))
    data[f"{PREFIX}organic_conversions"] = ((), float(model.organic_conversions))
    data[f"{PREFIX}code_base"] = ((), int(CODE_BASE))
    # touches per code, channel and recency bin (a cell at the cap counts the data's mean there)
    data[f"{PREFIX}code_counts"] = ((c, f"{PREFIX}code", f"{PREFIX}bin"), draws.count_table())
    return xr.Dataset(data, coords={c: channels, f"{PREFIX}sample": (d, rows)})


def _merge_patterns(
    codes: np.ndarray, first: np.ndarray, n_journeys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patterns with the same codes and opening channel merged (journeys summed); patterns
    without journeys dropped."""
    key = np.concatenate([codes, first[:, None]], axis=1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    total = np.zeros(len(uniq))
    np.add.at(total, inverse.ravel(), n_journeys)
    on = total > 0
    return uniq[on, :-1], uniq[on, -1], total[on]


def payload_from_plan(plan: xr.Dataset) -> dict[str, Any] | None:
    """The payload as plain numpy arrays from plan.nc (``None`` when it has none)."""
    from attribution.features import code_table

    if f"{PREFIX}baseline" not in plan:
        return None
    if "planned_with" in plan:
        # the page replays the journey model: channels the media-mix model plans are left out
        journey = plan["planned_with"].values == JOURNEY
        plan = plan.isel(channel=np.flatnonzero(journey))
    out: dict[str, Any] = {
        name[len(PREFIX) :]: np.asarray(plan[name].values)
        for name in plan.data_vars
        if str(name).startswith(PREFIX)
    }
    out["channels"] = [str(c) for c in plan["channel"].values]
    if "bin_lower" not in out:  # plan.nc written before bins were averaged: point ages
        out["bin_lower"] = np.asarray(out["ages_days"], float)
        out["bin_width"] = np.zeros_like(out["bin_lower"])
    if "code_counts" not in out:  # plan.nc written before the table was kept: capped counts
        codes = code_table(len(out["ages_days"]))
        out["code_counts"] = np.broadcast_to(codes, (len(out["channels"]), *codes.shape))
    for name in ("codes", "first_channel"):  # integers (a merge beside other channels makes float)
        out[name] = np.asarray(out[name]).astype(np.int64)
    return out


def current_spend(payload: Mapping[str, Any]) -> np.ndarray:
    """Current spend per channel (currency over the data window): the weekly spend summed."""
    return np.asarray(payload["weekly_spend"], float).sum(axis=0)


def outcomes_from_payload(payload: Mapping[str, Any], spend: np.ndarray) -> dict[str, np.ndarray]:
    """Expected conversions and value (draw,) over the data window for planned ``spend``
    (channel,) in currency: the page's formulas in numpy (the equations of
    ``workbench.planning.response``, ``reach.touch_ratio`` and ``audience.reach_frequency``).
    Channels without current spend keep multiplier 1, as in ``workbench plan``."""
    from attribution.features import span_weights
    from workbench.planning.audience import reach_frequency
    from workbench.planning.reach import touch_ratio

    p = payload
    current = current_spend(p)
    spend = np.asarray(spend, float)
    mult = np.where(current > 0, spend / np.where(current > 0, current, 1.0), 1.0)
    codes = np.asarray(p["codes"], np.int64)
    first = np.asarray(p["first_channel"], np.int64)
    n_j = np.asarray(p["n_journeys"], float)
    beta, theta, opening = p["beta"], p["saturation"], p["opening"]
    baseline = np.asarray(p["baseline"], float)
    n_s, n_c = beta.shape

    # The code table: touches per recency bin of every per-channel code (channel, code, bin).
    table = np.asarray(p["code_counts"], float)
    # each recency bin's weight: the mean of exp(-decay age) over the bin, as the page computes
    weights = span_weights(p["decay"], p["bin_lower"], p["bin_width"])
    code_exposure = np.einsum("scb,cxb->scx", weights, table)  # (draw, channel, code)

    # Newly reached people (draw-wise constants): P and the channel's credit per total touches.
    unit = np.expm1(-theta[..., None] * code_exposure) / np.expm1(-theta[..., None])
    b = unit * beta[..., None] + opening[..., None]
    h0 = baseline[:, None, None]
    p_code = -np.expm1(-(h0 + b))
    p_new = np.einsum("scx,cjx->scj", p_code, p["new_mix"])
    credit_new = np.einsum("scx,cjx->scj", p_code * b / (h0 + b), p["new_mix"])
    p0 = -np.expm1(-baseline)

    ratio = touch_ratio(mult, p["reach_k"], p["weekly_spend"])
    lost, scale, new = reach_frequency(
        ratio, p["audience_m"], p["audience_k"], p["audience_size"], p["new_mix"].shape[1]
    )
    s_code = np.expm1(-theta[..., None] * code_exposure * scale[..., None]) / np.expm1(
        -theta[..., None]
    )
    s = np.stack([s_code[:, c][:, codes[:, c]] for c in range(n_c)])  # (channel, draw, pattern)
    is_first = np.stack([(first == c) for c in range(n_c)])[:, None, :]
    part = s * beta.T[:, :, None] + opening.T[:, :, None] * is_first * (scale.T[:, :, None] > 0)
    for q, (c, d) in enumerate(np.asarray(p["pair_channels"], np.int64)):
        half = 0.5 * p["synergy"][:, q, None] * s[c] * s[d]
        part[c] += half
        part[d] += half
    keep = (1.0 - lost).T[:, :, None]
    eff = -np.log(lost.T[:, :, None] + keep * np.exp(-part))
    h = baseline[:, None] + eff.sum(axis=0)
    conv = -np.expm1(-h) * n_j
    share = np.divide(conv, h, out=np.zeros_like(h), where=h > HAZARD_EPS)
    credited = (eff * share).sum(axis=2).T + (new * credit_new).sum(axis=2)
    gained = (new * (p_new - p0[:, None, None])).sum(axis=(1, 2))
    conversions = conv.sum(axis=1) + gained + float(p["organic_conversions"])
    unattributed = conversions - credited.sum(axis=1)
    value = (credited * p["customer_value"]).sum(axis=1) + unattributed * float(p["clv_baseline"])
    del n_s
    return {"conversions": conversions, "value": value}
