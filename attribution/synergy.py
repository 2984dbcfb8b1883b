"""Which channel pairs get a synergy term, and which channels an opening-touch term: a score
test at the model without either.

A synergy term per candidate pair with a shared shrinkage scale is cheap to write down but not
to carry: each null pair's posterior is a half-normal-like bump above zero, so fifteen of them
add spurious hazard that Shapley credit splits between the pair's channels (on the simulator at
200k users a zero-effect channel got 0.035 of the credit this way with its own effect at ~0).

The screen fits the model without synergy (posterior mode), then for each candidate pair asks
whether the data want its term: the efficient score statistic for ``synergy_cd = 0``,

    U = sum_patterns (k / P - n) x,   x = s_c s_d   (dlogL/dH = k / P - n for P = 1 - exp(-H)),
    I = x' W x - x' W Z (Z' W Z)^-1 Z' W x,   W = n (1 - P) / P,   Z = [1, s_1 .. s_C],
    z = U / sqrt(I),

with ``Z`` the columns of the baseline and channel effects (the nuisance parameters the test
adjusts for; the recency and saturation parameters are held at the mode). Synergy is
non-negative, so the test is one-sided; a pair enters the model when ``z`` exceeds the
Bonferroni-corrected normal quantile at level ``alpha`` over the candidate pairs.

The opening-touch terms of ``attribution.model`` (``opening_c`` added to H when channel c opens
the journey) are screened the same way with ``x = 1[first_channel = c]``, one test per channel
that opens at least one converting journey, Bonferroni over those channels, and forward: the
channels that pass enter the model, which is refitted, and the others are tested again with the
entered terms among the nuisance columns, until none passes (``forward_openings``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from attribution.features import Patterns, exposure, saturation_curve

#: Family-wise level of the screen over the candidate pairs (Bonferroni, one-sided).
SCREEN_ALPHA = 0.05


@dataclass(frozen=True)
class Screen:
    """Result of the synergy screen.

    Attributes:
        candidates: int (pair, 2) candidate channel pairs (enough co-converting journeys).
        z: float (pair,) score statistic of each candidate.
        threshold: the z a pair must exceed.
        selected: int (kept pair, 2) the pairs that passed.
    """

    candidates: np.ndarray
    z: np.ndarray
    threshold: float
    selected: np.ndarray


def score_statistics(
    patterns: Patterns,
    pairs: np.ndarray,
    baseline: float,
    beta: np.ndarray,
    decay: np.ndarray,
    saturation: np.ndarray,
    ages_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Score ``U`` (pair,) and efficient information ``I`` (pair,) for adding each pair's
    synergy to the model given by the parameters (baseline hazard; beta, decay per day and
    saturation theta, each (channel,)); ``z = U / sqrt(I)``."""
    n_bins = len(ages_days)
    s = saturation_curve(exposure(patterns.touch_counts(n_bins), decay, ages_days), saturation)
    columns = np.column_stack([s[:, c] * s[:, d] for c, d in pairs]) if len(pairs) else None
    return efficient_scores(patterns, s, baseline + s @ beta, columns)


def efficient_scores(
    patterns: Patterns,
    s: np.ndarray,
    hazard: np.ndarray,
    columns: np.ndarray | None,
    fitted: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score ``U`` and efficient information ``I`` (column,) for adding each column of
    ``columns`` (pattern, q) to the hazard ``hazard`` (pattern,), adjusting for the baseline,
    the channel effects on ``s`` (pattern, channel) and the terms already in the model whose
    columns are ``fitted`` (pattern, r) (module doc)."""
    if columns is None or columns.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    p = -np.expm1(-hazard)
    n = patterns.n_journeys.astype(np.float64)
    k = patterns.n_conversions.astype(np.float64)
    residual = k / p - n
    weight = n * np.exp(-hazard) / p
    nuisance = np.column_stack([np.ones(len(s)), s, *([] if fitted is None else [fitted])])
    zwz = nuisance.T @ (weight[:, None] * nuisance)
    score, info = np.empty(columns.shape[1]), np.empty(columns.shape[1])
    for q in range(columns.shape[1]):
        x = columns[:, q]
        zwx = nuisance.T @ (weight * x)
        score[q] = residual @ x
        info[q] = x @ (weight * x) - zwx @ np.linalg.lstsq(zwz, zwx, rcond=None)[0]
    return score, info


def screen_pairs(
    patterns: Patterns,
    candidates: np.ndarray,
    mode: dict[str, np.ndarray],
    ages_days: np.ndarray,
    alpha: float = SCREEN_ALPHA,
) -> Screen:
    """Select the candidate pairs whose synergy the data support (module doc).

    ``mode``: the no-synergy model's mode with entries ``baseline``, ``beta``, ``decay``,
    ``saturation``.
    """
    if len(candidates) == 0:
        return Screen(candidates, np.zeros(0), np.inf, candidates)
    score, info = score_statistics(
        patterns,
        candidates,
        float(mode["baseline"]),
        np.asarray(mode["beta"]),
        np.asarray(mode["decay"]),
        np.asarray(mode["saturation"]),
        np.asarray(ages_days),
    )
    z = score / np.sqrt(np.maximum(info, np.finfo(float).tiny))
    threshold = float(st.norm.isf(alpha / len(candidates)))
    return Screen(candidates, z, threshold, candidates[z > threshold])


def screen_openings(
    patterns: Patterns,
    mode: dict[str, np.ndarray],
    ages_days: np.ndarray,
    alpha: float,
    selected: np.ndarray | None = None,
) -> Screen:
    """Select the channels whose opening-touch term the data support (module doc).

    Candidates: channels that open at least one converting journey. ``selected``: channels
    whose term is already in the model at ``mode`` (which then has ``opening`` (channel,)); they
    are adjusted for, not tested, and stay selected (the forward steps of
    :func:`forward_openings`). The Bonferroni correction is over all candidates. Returns a
    ``Screen`` whose ``candidates`` and ``selected`` are int (channel, 1) channel indices and
    whose ``z`` is NaN for the channels already selected."""
    n_channels = len(patterns.channels)
    first = patterns.first_channel
    opens = np.bincount(
        first[first >= 0], weights=patterns.n_conversions[first >= 0], minlength=n_channels
    )
    candidates = np.flatnonzero(opens > 0)[:, None].astype(np.int64)
    if len(candidates) == 0:
        return Screen(candidates, np.zeros(0), np.inf, candidates)
    done = np.zeros(0, np.int64) if selected is None else np.asarray(selected, np.int64)
    n_bins = len(ages_days)
    s = saturation_curve(
        exposure(patterns.touch_counts(n_bins), np.asarray(mode["decay"]), ages_days),
        np.asarray(mode["saturation"]),
    )
    fitted = (first[:, None] == done[None, :]).astype(np.float64)
    hazard = float(mode["baseline"]) + s @ np.asarray(mode["beta"])
    if len(done):
        hazard = hazard + fitted @ np.asarray(mode["opening"])[done]
    tested = candidates[~np.isin(candidates[:, 0], done)]
    columns = (first[:, None] == tested[:, 0][None, :]).astype(np.float64)
    score, info = efficient_scores(patterns, s, hazard, columns, fitted if len(done) else None)
    z = np.full(len(candidates), np.nan)
    z[~np.isin(candidates[:, 0], done)] = score / np.sqrt(np.maximum(info, np.finfo(float).tiny))
    threshold = float(st.norm.isf(alpha / len(candidates)))
    keep = np.isin(candidates[:, 0], done) | (np.nan_to_num(z, nan=-np.inf) > threshold)
    return Screen(candidates, z, threshold, candidates[keep])


def forward_openings(
    patterns: Patterns,
    mode: dict[str, np.ndarray],
    ages_days: np.ndarray,
    alpha: float,
    refit,
) -> Screen:
    """:func:`screen_openings` repeated forward: the channels that pass are added, the model is
    refitted with their terms (``refit(openers) -> mode dict`` with ``opening``), and the
    others are tested again at that model, until no more pass. One strong opening effect left
    out of the model can hide another (its journeys' excess conversions are absorbed by the
    effects the test adjusts for); on the ``roles`` simulator at 20,000 users the one-shot
    screen often kept one of the two opening channels. The returned screen's ``z`` is each
    channel's last score (the step at which it passed, or the final step)."""
    screen = screen_openings(patterns, mode, ages_days, alpha)
    z = screen.z.copy()
    while 0 < len(screen.selected) < len(screen.candidates):
        chosen = screen.selected[:, 0]
        screen = screen_openings(patterns, refit(chosen), ages_days, alpha, selected=chosen)
        fresh = ~np.isnan(screen.z)
        z[fresh] = screen.z[fresh]
        if len(screen.selected) == len(chosen):
            break
    return Screen(screen.candidates, z, screen.threshold, screen.selected)
