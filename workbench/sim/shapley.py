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

from workbench.sim.response import ConversionModel

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


def _shapley_terms(n_channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each channel, subsets without it, the same subsets with it, and Shapley weights."""
    subsets = np.arange(2**n_channels)
    sizes = np.array([bin(int(k)).count("1") for k in subsets])
    weight_by_size = np.array(
        [
            factorial(s) * factorial(n_channels - 1 - s) / factorial(n_channels)
            for s in range(n_channels)
        ]
    )
    without, with_, weights = [], [], []
    for c in range(n_channels):
        w_out = subsets[(subsets >> c) & 1 == 0]
        without.append(w_out)
        with_.append(w_out | (1 << c))
        weights.append(weight_by_size[sizes[w_out]])
    return np.array(without), np.array(with_), np.array(weights)


def _subset_values(prob: ProbFn | ConversionModel, exposures: np.ndarray) -> np.ndarray:
    """v(S) for every journey and subset: (journey, 2^C)."""
    masks = subset_masks(exposures.shape[1])
    if isinstance(prob, ConversionModel):
        # Saturate once; s(0) = 0, so masking s equals masking the exposures.
        s = prob.saturate(exposures)
        return np.stack([prob.prob_saturated(s * m) for m in masks], axis=1)
    return np.stack([np.asarray(prob(exposures * m), dtype=float) for m in masks], axis=1)


def credit(
    prob: ProbFn | ConversionModel, exposures: np.ndarray, *, chunk: int = CHUNK_JOURNEYS
) -> Credit:
    """Exact Shapley values and removal effects of ``prob`` for each journey.

    ``prob`` maps exposures (journey, channel) to P (journey,) (a :class:`ConversionModel` is
    evaluated faster); ``exposures`` is (journey, channel), zero for absent channels.
    """
    exposures = np.asarray(exposures, dtype=float)
    if exposures.ndim != 2:
        raise ValueError(f"exposures must be (journey, channel); got shape {exposures.shape}")
    n, n_channels = exposures.shape
    if n_channels > MAX_CHANNELS:
        raise ValueError(f"exact Shapley over {n_channels} channels is too costly (max 16)")
    without, with_, weights = _shapley_terms(n_channels)
    full = 2**n_channels - 1
    shapley = np.empty((n, n_channels))
    removal = np.empty((n, n_channels))
    p_full = np.empty(n)
    p_empty = np.empty(n)
    for lo in range(0, n, chunk):
        v = _subset_values(prob, exposures[lo : lo + chunk])
        for c in range(n_channels):
            shapley[lo : lo + chunk, c] = (v[:, with_[c]] - v[:, without[c]]) @ weights[c]
            removal[lo : lo + chunk, c] = v[:, full] - v[:, full ^ (1 << c)]
        p_full[lo : lo + chunk] = v[:, full]
        p_empty[lo : lo + chunk] = v[:, 0]
    return Credit(shapley=shapley, removal=removal, p_full=p_full, p_empty=p_empty)


def shapley_values(
    prob: ProbFn | ConversionModel, exposures: np.ndarray, *, chunk: int = CHUNK_JOURNEYS
) -> np.ndarray:
    """Exact Shapley values (journey, channel) of ``prob`` over the channels; see :func:`credit`."""
    return credit(prob, exposures, chunk=chunk).shapley
