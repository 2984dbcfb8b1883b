"""Spike-and-slab on each channel's effect: P(effect > 0), and intervals that can include 0.

Prior. Each channel's effect (its ``beta`` and its ``opening`` term, with the synergy pairs it is
in) is exactly 0 with probability ``1 - PRIOR_INCLUSION`` (the spike) and otherwise follows the
model's priors (the slab, ``attribution.model.Priors``).

Posterior inclusion, one channel at a time given the others in the model:

    P(in_c | y) = pi Z / (pi Z + (1 - pi) Z_{-c}),

with ``Z`` the marginal likelihood of the model and ``Z_{-c}`` that of the model without channel
c's effect, each by the Laplace approximation in the model's unconstrained space (Tierney &
Kadane 1986; Kass & Raftery 1995): ``log Z = log p(y, x*) + D/2 log(2 pi) - 1/2 log det H(x*)``
at the mode ``x*`` (``posterior_tools.laplace.Mode``). ``P(effect > 0) = P(in_c | y)``.

Why a spike and slab. With a continuous shrinkage prior (the half-normal here, or a horseshoe)
the posterior of a no-effect channel has no mass at exactly 0: its 5% quantile stays above 0, so
its share interval never includes the truth and the report tells a reader that a useless channel
earned conversions. The spike puts mass on "no effect" itself, the quantity a marketing reader
asks about, and with the Laplace evidence it costs one mode search per tested channel.

Only channels whose slab posterior is compatible with 0 are tested: those with
``mean / sd`` of the recent-touch effect below ``TEST_MAX_Z`` (a channel at 4 standard deviations
from 0 has a Bayes factor for inclusion far above 1,000 and ``P(in) = 1`` at the precision the
report shows); the others get ``P(in) = 1``.

Draws. In each posterior draw channel c is out with probability ``1 - P(in_c | y)`` (independent
across channels, seeded): its ``beta``, ``opening`` and synergy are 0 in that draw and the other
parameters keep their slab values (an approximation: a channel whose effect is compatible with 0
barely moves the others). Credit computed on these draws gives a channel that is out in more than
5% of the draws a 90% interval that starts at exactly 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

#: Prior probability that a channel has an effect at all (the slab's weight).
PRIOR_INCLUSION = 0.5
#: Channels whose recent-touch effect is at least this many posterior sds from 0 are not tested.
TEST_MAX_Z = 4.0


def log_evidence(mode) -> float:
    """Laplace approximation of the log marginal likelihood from a ``Mode`` (see module doc);
    NaN when the Hessian is not positive definite."""
    eig = np.asarray(mode.eigvals, dtype=np.float64)
    if not np.all(eig > 0) or not np.isfinite(mode.log_density):
        return float("nan")
    return float(
        mode.log_density + 0.5 * eig.size * math.log(2 * math.pi) - 0.5 * np.log(eig).sum()
    )


def inclusion_probability(log_z_full: float, log_z_without: float, prior: float) -> float:
    """P(in | y) from the two log evidences and the prior inclusion probability."""
    log_odds = math.log(prior) - math.log1p(-prior) + log_z_full - log_z_without
    return float(1.0 / (1.0 + math.exp(-log_odds))) if log_odds > -700 else 0.0


def channels_to_test(posterior: xr.Dataset, max_z: float = TEST_MAX_Z) -> np.ndarray:
    """Channels whose recent-touch effect (and opening term) is compatible with 0:
    ``mean / sd`` of ``beta`` below ``max_z`` and no opening term that is not."""
    beta = posterior["beta"].stack(sample=("chain", "draw"))
    z = beta.mean("sample") / np.maximum(beta.std("sample"), 1e-300)
    weak = z.values < max_z
    if "opening" in posterior:
        opening = posterior["opening"].stack(sample=("chain", "draw"))
        oz = opening.mean("sample") / np.maximum(opening.std("sample"), 1e-300)
        weak &= ~(oz.values >= max_z)
    return np.flatnonzero(weak)


def apply_spike(
    posterior: xr.Dataset, p_in: np.ndarray, seed: int | None, pairs: np.ndarray
) -> xr.Dataset:
    """Posterior draws with each channel switched off in a random ``1 - p_in`` share of the
    draws (module doc); adds ``p_effect_positive(channel)``."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 0x5EED])
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    channels = list(posterior["channel"].values)
    out_mask = rng.random((n_chain, n_draw, len(channels))) >= np.asarray(p_in)[None, None, :]
    keep = xr.DataArray(~out_mask, dims=("chain", "draw", "channel"))
    result = posterior.copy()
    for name in ("beta", "opening"):
        if name in result:
            result[name] = result[name].where(keep, 0.0)
    if "synergy" in result and len(pairs):
        both = ~out_mask[..., pairs[:, 0]] & ~out_mask[..., pairs[:, 1]]
        pair_keep = xr.DataArray(both, dims=("chain", "draw", "channel_pair"))
        result["synergy"] = result["synergy"].where(pair_keep, 0.0)
    result["p_effect_positive"] = xr.DataArray(np.asarray(p_in, float), dims="channel")
    return result


def spike_and_slab(
    model,
    data,
    ages: np.ndarray,
    pairs: np.ndarray,
    openers: np.ndarray,
    *,
    prior: float = PRIOR_INCLUSION,
    tested: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """P(in_c | y) (channel,) and log Bayes factors for inclusion (channel,; NaN when not
    tested) for a fitted ``ConversionModel`` (its ``model_`` and ``mode_``; the mode is found
    when the fit was by NUTS)."""
    from attribution.features import code_table
    from attribution.model import laplace_model, sufficient_stats
    from posterior_tools.laplace import find_mode

    n_channels = len(data.channels)
    p_in = np.ones(n_channels)
    log_bf = np.full(n_channels, np.nan)
    channels = channels_to_test(model.posterior_) if tested is None else np.asarray(tested)
    if len(channels) == 0:
        return p_in, log_bf
    n_codes = code_table(len(ages)).shape[0]
    full_model = model.model_
    if model.mode_ is None:  # a NUTS fit: its mode on the Laplace path's (same) model
        stats = sufficient_stats(data, pairs, n_codes, openers)
        full_model = laplace_model(stats, data.channels, ages, model.priors)
    full = model.mode_ if model.mode_ is not None else find_mode(full_model)
    log_z = log_evidence(full)
    for c in channels:
        keep_pair = (pairs != c).all(axis=1) if len(pairs) else np.zeros(0, dtype=bool)
        stats = sufficient_stats(data, pairs[keep_pair], n_codes, openers[openers != c])
        reduced = laplace_model(stats, data.channels, ages, model.priors, zero_channels=[int(c)])
        start = _warm_start(full_model, full, reduced, int(c), openers != c, keep_pair)
        log_z_c = log_evidence(find_mode(reduced, start))
        if np.isfinite(log_z) and np.isfinite(log_z_c):
            log_bf[c] = log_z - log_z_c
            p_in[c] = inclusion_probability(log_z, log_z_c, prior)
    return p_in, log_bf


def _warm_start(full_model, full, reduced, channel: int, keep_opener, keep_pair):
    """The full model's mode mapped onto the reduced model's unconstrained variables (channel
    ``channel``'s effect, opening term and pairs dropped): a start near the reduced mode."""
    values, offset = {}, 0
    for v in full_model.value_vars:
        size = int(np.size(full.point[v.name]))
        values[v.name] = full.x[offset : offset + size]
        offset += size
    parts = []
    point = reduced.initial_point()
    for v in reduced.value_vars:
        name = v.name
        if name.startswith("beta_recent_free"):
            arr = np.delete(
                values.get(name.replace("beta_recent_free", "beta_recent"), []), channel
            )
        elif name.startswith("opening_selected"):
            arr = np.asarray(values.get(name, []))[keep_opener[: len(values.get(name, []))]]
        elif name.startswith("synergy"):
            arr = np.asarray(values.get(name, []))[keep_pair]
        else:
            arr = np.asarray(values.get(name, []))
        if np.size(arr) != np.size(point[name]):
            return None
        parts.append(np.ravel(arr))
    return np.concatenate(parts) if parts else None
