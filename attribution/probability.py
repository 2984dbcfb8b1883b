"""The fitted model's conversion probability per posterior draw (a pure function of draws).

``P = 1 - exp(-H)``, ``H = baseline + sum_c (beta_c s_c(E_c) + opening_c f_c) + sum_{c<d}
synergy_cd s_c s_d`` with ``f_c = 1`` when channel c opened the journey (see
``attribution.model``). Used by the credit (``shapley.py``), the checks and planning
(:func:`hazard_parts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from attribution.features import bin_weights, code_exposure, count_table

# Patterns per chunk when evaluating probabilities, so that (draws x chunk x channel) stays
# within a few hundred MB whatever the pattern table's size.
MAX_CHUNK_CELLS = 20_000_000
# Cells per chunk of ``code_probability``: a gather and a sum are memory-bound, so chunks that
# fit in the CPU cache are faster (as for the credit's blocks, attribution.shapley).
CODE_CHUNK_CELLS = 1_000_000


@dataclass(frozen=True)
class Draws:
    """Posterior draws flattened to one ``sample`` axis (chain-major) as numpy arrays.

    baseline (sample,); beta, decay, saturation, opening (sample, channel); synergy (sample,
    pair); pairs int (pair, 2) channel indices; ages_days (recency_bin,).
    """

    baseline: np.ndarray
    beta: np.ndarray
    decay: np.ndarray
    saturation: np.ndarray
    synergy: np.ndarray
    pairs: np.ndarray
    ages_days: np.ndarray
    opening: np.ndarray | None = None
    capped_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.opening is None:
            object.__setattr__(self, "opening", np.zeros_like(self.beta))

    @property
    def has_roles(self) -> bool:
        return bool(np.any(self.opening != 0.0))

    @property
    def n_samples(self) -> int:
        return int(self.baseline.shape[0])

    def count_table(self) -> np.ndarray:
        """Touch counts of every code (channel, code, recency_bin) (``features.count_table``)."""
        return count_table(len(self.ages_days), self.beta.shape[1], self.capped_counts)

    def code_response(self) -> np.ndarray:
        """s_c evaluated on every per-channel code: (sample, channel, code)."""
        weights = bin_weights(self.decay, self.ages_days)  # (sample, channel, bin)
        exposure = code_exposure(weights, self.count_table())  # (sample, channel, code)
        theta = self.saturation[..., None]
        return np.expm1(-theta * exposure) / np.expm1(-theta)


def posterior_draws(posterior: xr.Dataset, observational: bool = False) -> Draws:
    """Extract ``Draws`` from a posterior Dataset written by ``ConversionModel``.

    With ``observational``, a channel's ``beta`` is its effect plus its ``selection`` term (a
    channel with a lift test, ``attribution.lift``): the hazard the journeys show, which is what
    the predictive checks and the held-out log-loss compare with the data. The credit and the
    plan use the causal effect alone (the default).
    """
    channels = [str(c) for c in posterior["channel"].values]
    stacked = posterior.stack(sample=("chain", "draw"))

    def per_channel(name: str) -> np.ndarray:
        return np.asarray(stacked[name].transpose("sample", "channel").values, dtype=np.float64)

    if "synergy" in posterior:
        index = {c: i for i, c in enumerate(channels)}
        first = [index[str(c)] for c in posterior["pair_first"].values]
        second = [index[str(c)] for c in posterior["pair_second"].values]
        pairs = np.stack([first, second], axis=1).astype(np.int64)
        synergy = np.asarray(stacked["synergy"].transpose("sample", "channel_pair").values)
    else:
        pairs = np.zeros((0, 2), dtype=np.int64)
        synergy = np.zeros((stacked.sizes["sample"], 0))
    beta = per_channel("beta")
    if observational and "selection" in posterior:
        beta = beta + per_channel("selection")
    return Draws(
        baseline=np.asarray(stacked["baseline"].values, dtype=np.float64),
        beta=beta,
        decay=per_channel("decay"),
        saturation=per_channel("saturation"),
        synergy=synergy.astype(np.float64),
        pairs=pairs,
        ages_days=np.asarray(posterior.attrs["recency_ages_days"], dtype=np.float64),
        opening=per_channel("opening") if "opening" in posterior else None,
        capped_counts=capped_counts(posterior),
    )


def capped_counts(posterior: xr.Dataset) -> np.ndarray | None:
    """The count of a cell at the cap (channel, recency_bin) the fit used (posterior attribute
    ``capped_counts``); None when it used the cap."""
    flat = posterior.attrs.get("capped_counts")
    if flat is None:
        return None
    n_bins = len(posterior.attrs["recency_ages_days"])
    return np.asarray(flat, dtype=np.float64).reshape(-1, n_bins)


def opening_hazard(draws: Draws, first: np.ndarray | None) -> np.ndarray | float:
    """opening_{first_j} per draw and pattern (sample, pattern); 0 for an unknown opener (-1)
    or a posterior without roles."""
    if first is None or not draws.has_roles:
        return 0.0
    first = np.asarray(first, dtype=np.int64)
    padded = np.concatenate([draws.opening, np.zeros((draws.n_samples, 1))], axis=1)
    return padded[:, np.where(first >= 0, first, draws.opening.shape[1])]


def hazard(draws: Draws, s: np.ndarray, first: np.ndarray | None = None) -> np.ndarray:
    """H for channel responses ``s`` (sample, pattern, channel) and opening channels ``first``
    (pattern,) -> (sample, pattern)."""
    h = draws.baseline[:, None] + np.einsum("spc,sc->sp", s, draws.beta)
    h = h + opening_hazard(draws, first)
    if draws.pairs.shape[0]:
        pair_s = s[..., draws.pairs[:, 0]] * s[..., draws.pairs[:, 1]]
        h = h + np.einsum("spq,sq->sp", pair_s, draws.synergy)
    return h


def code_probability(
    draws: Draws, codes: np.ndarray, first: np.ndarray | None = None
) -> np.ndarray:
    """P(convert) of patterns given by their per-channel codes (and opening channels ``first``
    (pattern,) when the model has roles): (sample, pattern).

    The same P as ``conversion_probability`` on the decoded counts, but each channel's
    response is looked up in ``Draws.code_response`` (64 codes per channel) instead of being
    evaluated per pattern, so the cost per pattern is a gather and a sum. Chunked over
    patterns (``CODE_CHUNK_CELLS``).
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_channels = draws.beta.shape[1]
    if codes.ndim != 2 or codes.shape[1] != n_channels:
        raise ValueError(f"codes must have dims (pattern, channel={n_channels}); got {codes.shape}")
    s_table = draws.code_response()  # (sample, channel, code)
    chunk = max(1, CODE_CHUNK_CELLS // max(1, draws.n_samples * n_channels))
    out = np.empty((draws.n_samples, codes.shape[0]))
    channel = np.arange(n_channels)[None, :]
    for start in range(0, codes.shape[0], chunk):
        block = codes[start : start + chunk]
        s = s_table[:, channel, block]  # (sample, pattern, channel)
        f = None if first is None else first[start : start + chunk]
        out[:, start : start + chunk] = -np.expm1(-hazard(draws, s, f))
    return out


def conversion_probability(
    posterior: xr.Dataset,
    counts: xr.DataArray | np.ndarray,
    exposure_scale: xr.DataArray | np.ndarray | None = None,
    first_channel: xr.DataArray | np.ndarray | None = None,
) -> xr.DataArray:
    """Conversion probability of each pattern under each posterior draw.

    Args:
        posterior: ``ConversionModel.posterior_`` (dims chain, draw, channel[, channel_pair]).
        counts: touch counts (pattern, channel, recency_bin), e.g. ``features.pattern_counts``;
            channels in the posterior's order. Counts need not be integers.
        exposure_scale: optional (channel,) multiplier of each channel's exposure E_c, e.g.
            1.2 for "this channel delivered 20% more touches" (planning).
        first_channel: optional (pattern,) index of the channel that opened each journey
            (-1 unknown); needed for a posterior with opening terms (``pattern_first_channel``).

    Returns:
        DataArray (chain, draw, pattern) of probabilities in [0, 1).
    """
    draws = posterior_draws(posterior)
    counts_arr = np.asarray(counts, dtype=np.float64)
    n_channels = draws.beta.shape[1]
    if counts_arr.ndim != 3 or counts_arr.shape[1] != n_channels:
        raise ValueError(
            f"counts must have dims (pattern, channel={n_channels}, recency_bin); "
            f"got shape {counts_arr.shape}"
        )
    scale = np.ones(n_channels) if exposure_scale is None else np.asarray(exposure_scale, float)
    if scale.shape != (n_channels,):
        raise ValueError(f"exposure_scale must have shape ({n_channels},); got {scale.shape}")
    weights = bin_weights(draws.decay, draws.ages_days)  # (sample, channel, bin)
    theta = draws.saturation[:, None, :]
    n_patterns = counts_arr.shape[0]
    first = None if first_channel is None else np.asarray(first_channel, dtype=np.int64)
    chunk = max(1, MAX_CHUNK_CELLS // max(1, draws.n_samples * n_channels))
    out = np.empty((draws.n_samples, n_patterns))
    for start in range(0, n_patterns, chunk):
        block = counts_arr[start : start + chunk]
        exposure = np.einsum("pcb,scb->spc", block, weights) * scale
        s = np.expm1(-theta * exposure) / np.expm1(-theta)
        f = None if first is None else first[start : start + chunk]
        out[:, start : start + chunk] = -np.expm1(-hazard(draws, s, f))
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    pattern = (
        counts.coords["pattern"].values
        if isinstance(counts, xr.DataArray) and "pattern" in counts.coords
        else np.arange(n_patterns)
    )
    return xr.DataArray(
        out.reshape(n_chain, n_draw, n_patterns),
        dims=("chain", "draw", "pattern"),
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            "pattern": pattern,
        },
        name="conversion_probability",
    )


@dataclass(frozen=True)
class HazardParts:
    """The model's hazard as a function of a per-sample, per-channel exposure scale
    (``__call__``, see :func:`hazard_parts`), with what planning needs beside it.

    Attributes:
        baseline: (sample,) baseline hazard.
        single_channel: (sample, channel, code) hazard above the baseline of a journey with only
            channel c's touches at that code, c opening it.
        codes: (pattern, channel) per-channel codes of the patterns.
    """

    evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    baseline: np.ndarray
    single_channel: np.ndarray
    codes: np.ndarray

    def __call__(self, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.evaluate(scale)


def hazard_parts(
    posterior: xr.Dataset,
    counts: xr.DataArray,
    first_channel: xr.DataArray | np.ndarray | None = None,
    samples: np.ndarray | None = None,
):
    """The model's hazard and each channel's part of it, as a function of a per-sample,
    per-channel exposure scale (planning pairs each posterior sample with its own reach draw).

    Args:
        posterior: parameters with dims ``(chain, draw[, channel][, channel_pair])`` and attr
            ``recency_ages_days`` (or ``counts.attrs["ages_days"]``).
        counts: ``pattern_counts(pattern, channel, recency_bin)`` (capped counts).
        first_channel: (pattern,) opening channel (``pattern_first_channel``), or None.
        samples: flattened ``chain x draw`` indices (chain-major) to keep; all when None.

    Returns:
        ``(parts, n_samples)``; ``parts`` is a :class:`HazardParts`: ``parts(scale)`` takes
        ``scale`` (sample, channel) and returns
        ``H`` (sample, pattern) and ``part`` (channel, sample, pattern), each channel's part of
        ``H - baseline``: ``beta_c s_c + opening_c f_c`` plus half of each synergy term it is
        in (the parts sum to ``H - baseline``). A scale of 0 removes the channel's touches and
        its opening term (the roles game of ``attribution.model``); other scales multiply the
        exposure only.
    """
    from attribution.features import encode_counts

    if "recency_ages_days" not in posterior.attrs:
        posterior = posterior.assign_attrs(recency_ages_days=list(counts.attrs["ages_days"]))
    draws = posterior_draws(posterior)
    keep = np.arange(draws.n_samples) if samples is None else np.asarray(samples)
    counts = counts.sel(channel=posterior["channel"].values).transpose(
        "pattern", "channel", "recency_bin"
    )
    codes = encode_counts(np.rint(counts.values).astype(np.int64))  # (pattern, channel)
    weights = bin_weights(draws.decay[keep], draws.ages_days)  # (sample, channel, bin)
    exposure_by_code = code_exposure(weights, draws.count_table())  # (sample, channel, code)
    theta = draws.saturation[keep][..., None]
    baseline, beta = draws.baseline[keep][:, None], draws.beta[keep]
    synergy, pairs = draws.synergy[keep], draws.pairs
    n_channels = codes.shape[1]
    first = (
        np.full(codes.shape[0], -1, dtype=np.int64)
        if first_channel is None
        else np.asarray(first_channel, dtype=np.int64)
    )
    # (channel, sample, pattern) opening term of the journeys each channel opened
    opening = np.stack(
        [draws.opening[keep][:, c, None] * (first == c)[None, :] for c in range(n_channels)]
    )

    def parts(scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = np.broadcast_to(np.asarray(scale, float), beta.shape)
        s_code = np.expm1(-theta * exposure_by_code * scale[..., None]) / np.expm1(-theta)
        # Channel-major (channel, sample, pattern): one contiguous gather per channel is much
        # faster than a 3-D fancy index or an einsum over (sample, pattern, channel).
        s = np.stack([np.take(s_code[:, c], codes[:, c], axis=1) for c in range(n_channels)])
        # a removed channel (scale 0) loses its opening term too
        part = s * beta.T[:, :, None] + opening * (scale.T[:, :, None] > 0)
        for q, (c, d) in enumerate(pairs):
            half = 0.5 * synergy[:, q, None] * s[c] * s[d]
            part[c] += half
            part[d] += half
        return baseline + part.sum(axis=0), part

    # A journey with only channel c's touches at a code: beta_c s_c(code) plus c's opening
    # term (it opened the journey; zero without roles).
    unit = np.expm1(-theta * exposure_by_code) / np.expm1(-theta)
    single = unit * beta[..., None] + draws.opening[keep][..., None]
    return HazardParts(parts, baseline[:, 0], single, codes), int(keep.size)
