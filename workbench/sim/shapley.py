"""Exact Shapley values and removal effects of a conversion probability, by subset enumeration.

The game for one journey with exposures x (channel,) is v(S) = P(x restricted to S), S a subset
of the C channels (absent channels have zero exposure and are therefore null players). The
Shapley value is

    phi_c = sum_{S not containing c} |S|! (C - 1 - |S|)! / C! * (v(S + c) - v(S)),

computed for a block of journeys at once by evaluating v on all 2^C subsets (C = 6: 64
evaluations per journey), in chunks to bound memory. Differences are taken before weighting so
that a channel that never changes P gets exactly 0. Efficiency: sum_c phi_c = v(all) - v(empty).
The removal effect of c is v(all) - v(all without c).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import factorial

import numpy as np

from workbench.sim.response import TrueConversionModel

#: Journeys per chunk: 2^C subset values per journey are held at once (64 x 8 bytes at C = 6).
CHUNK_JOURNEYS = 65_536
#: Subset enumeration is exponential; beyond this many channels use a sampling estimator.
MAX_CHANNELS = 16

ProbFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Credit:
    """Per-journey credit. ``shapley`` and ``removal`` are (journey, channel); ``p_full`` and
    ``p_empty`` are (journey,): P with all of the journey's exposures and with none."""

    shapley: np.ndarray
    removal: np.ndarray
    p_full: np.ndarray
    p_empty: np.ndarray


def subset_masks(n_channels: int) -> np.ndarray:
    """(2^C, C) 0/1 masks; row k includes channel c when bit c of k is set."""
    k = np.arange(2**n_channels)[:, None]
    return ((k >> np.arange(n_channels)[None, :]) & 1).astype(float)


def _bit_view(values: np.ndarray, channel: int, bit: int) -> np.ndarray:
    """View of ``values`` (journey, 2^C) at the subsets where ``channel`` is in (bit 1) or out
    (bit 0), shaped (journey, 2, ..., 2) over the other channels. Subset k has channel c when
    bit c of k is set, so in C order channel c is axis C - c of the (journey, 2, ..., 2) view."""
    n_channels = int(np.log2(values.shape[1]))
    shaped = values.reshape((values.shape[0],) + (2,) * n_channels)
    index = [slice(None)] * (n_channels + 1)
    index[n_channels - channel] = bit
    return shaped[tuple(index)]


def _shapley_weights(n_channels: int) -> list[np.ndarray]:
    """Per channel, |S|! (C - 1 - |S|)! / C! over the subsets S without it, in _bit_view order."""
    sizes = subset_masks(n_channels).sum(axis=1).astype(int)[None, :]
    weight = np.array(
        [
            factorial(s) * factorial(n_channels - 1 - s) / factorial(n_channels)
            for s in range(n_channels)
        ]
    )
    return [weight[_bit_view(sizes, c, 0).reshape(-1)] for c in range(n_channels)]


def _subset_values(
    prob: ProbFn | TrueConversionModel, exposures: np.ndarray, first: np.ndarray | None = None
) -> np.ndarray:
    """v(S) for every journey and subset: (journey, 2^C). ``first`` (journey, channel) is the
    opening indicator; a removed channel takes its opening term with it."""
    masks = subset_masks(exposures.shape[1])
    if isinstance(prob, TrueConversionModel):
        return prob.prob_subsets(prob.saturate(exposures), masks, first)
    if first is not None:
        raise ValueError("an opening indicator needs a TrueConversionModel, not a function")
    return np.stack([np.asarray(prob(exposures * m), dtype=float) for m in masks], axis=1)


def credit(
    prob: ProbFn | TrueConversionModel | dict,
    exposures: np.ndarray,
    *,
    chunk: int = CHUNK_JOURNEYS,
    first: np.ndarray | None = None,
) -> Credit:
    """Exact Shapley values and removal effects of ``prob`` for each journey.

    ``prob`` maps exposures (journey, channel) to P (journey,); a :class:`TrueConversionModel` (or
    its parameters: truth.json's ``conversion_model``) is evaluated faster. ``exposures`` is
    (journey, channel), zero for absent channels; ``first`` (journey, channel), optional, marks
    the channel that opened each journey (worlds with roles).
    """
    if isinstance(prob, dict):
        prob = TrueConversionModel.from_dict(prob)
    exposures = np.asarray(exposures, dtype=float)
    if exposures.ndim != 2:
        raise ValueError(f"exposures must be (journey, channel); got shape {exposures.shape}")
    n, n_channels = exposures.shape
    if n_channels > MAX_CHANNELS:
        raise ValueError(f"exact Shapley over {n_channels} channels is too costly (max 16)")
    weights = _shapley_weights(n_channels)
    full = 2**n_channels - 1
    shapley = np.empty((n, n_channels))
    removal = np.empty((n, n_channels))
    p_full = np.empty(n)
    p_empty = np.empty(n)
    for lo in range(0, n, chunk):
        v = _subset_values(
            prob, exposures[lo : lo + chunk], None if first is None else first[lo : lo + chunk]
        )
        rows = len(v)
        for c in range(n_channels):
            # Differences first: a channel that never changes P gets exactly 0.
            diff = _bit_view(v, c, 1) - _bit_view(v, c, 0)
            shapley[lo : lo + chunk, c] = diff.reshape(rows, -1) @ weights[c]
            removal[lo : lo + chunk, c] = v[:, full] - v[:, full ^ (1 << c)]
        p_full[lo : lo + chunk] = v[:, full]
        p_empty[lo : lo + chunk] = v[:, 0]
    return Credit(shapley=shapley, removal=removal, p_full=p_full, p_empty=p_empty)


def shapley_values(
    prob: ProbFn | TrueConversionModel | dict, exposures: np.ndarray, *, chunk: int = CHUNK_JOURNEYS
) -> np.ndarray:
    """Exact Shapley values (journey, channel) of ``prob`` over the channels; see :func:`credit`."""
    return credit(prob, exposures, chunk=chunk).shapley
