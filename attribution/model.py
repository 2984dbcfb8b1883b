"""Bayesian conversion model over the pattern table (PyMC).

Model, for a journey with capped touch counts ``n_cb`` (channel c, recency bin b):

1. Exposure decays with age: ``E_c = sum_b w_b(decay_c) * n_cb``, ``w_b`` the mean of
   ``exp(-decay_c * age)`` over recency bin b's ages (``features.log_bin_weights``); a
   cell at the cap counts as the data's mean count of such cells (``capped_counts``,
   ``features.count_table``).
2. Returns diminish with frequency: ``s_c = (1 - exp(-theta_c E_c)) / (1 - exp(-theta_c))``
   (theta = saturation), so one fresh touch gives ``s = 1``: ``beta_c`` is one touch's effect.
3. Channels add hazard: ``H = baseline + sum_c (beta_c s_c + opening_c f_c) + sum_{c<d}
   synergy_cd s_c s_d``, with ``f_c = 1`` when channel c's touch opens the journey (its first
   touch in the lookback window; the pattern table's ``first_channel``), else 0.
4. The journey converts with ``P = 1 - exp(-H)``; patterns are Binomial(n_journeys, P).

Roles. ``opening_c`` is what a channel adds by opening the journey, beyond its touches' effect
(awareness channels may work mostly as the first touch). A channel gets the term only when a
forward score test finds it (``attribution.synergy.forward_openings``), so the
structure stays that of a model without roles where the data show none. Later touches, the
closing one included, act through ``beta_c s_c`` and its recency decay (the most recent bin is
the closing touch's); the criticism (``attribution.checks``) compares observed conversions by
opening and by closing channel with the model's prediction.

The Shapley game with roles. Players are the channels of a journey; the value of a coalition S
is ``v(S) = 1 - exp(-H_S)``, ``H_S = baseline + sum_{c in S} (beta_c s_c + opening_c f_c) +
sum_{c<d in S} synergy_cd s_c s_d``: removing a channel removes its touches and, when it opened
the journey, its opening term; no other touch is promoted to opener (the order of the other
channels' first touches is not in the sufficient statistics, and the opening touch of the
counterfactual journey is not observed). Channels absent from the journey are null players
(``s_c = 0``, ``f_c = 0``), so the exact Shapley value over the channels present is the one over
all channels (``attribution.shapley``).

Timing. Each journey is evaluated at its decision: a converted journey at its conversion, a
non-converting one at an estimated decision time (the data step's decision positions, from
where converted journeys' decisions fall between their last touch and the end of what can be
observed, weighted by ``(1 - P) / P`` per class of touch count when decisions are spread in
time; ``workbench.decisions``), so the recency of touches means the same for both. With one
position drawn per non-converting journey, ``-(n - k) H`` summed over a pattern's journeys
estimates ``-sum_j E_x[H_j(x)]`` over the unknown decision position x, the first-order term of
``log E_x[exp(-H_j(x))]`` (docs/contracts.md, "Journeys").

The likelihood uses the pattern table's sufficient statistics. Because ``-(n - k) H`` is a sum
over channels of functions of one channel's code (or one pair's codes), the non-converting part
reduces to per-channel totals of ``n - k`` by code (64 codes) and per pair by code pair (64 x 64),
computed once in numpy; only patterns with conversions enter ``k log(1 - exp(-H))``.

Two implementations of one model. ``build_model`` is the PyMC model (NUTS on small tables, lift
tests); ``attribution.density.ConversionDensity`` is the same log posterior with its analytic
gradient in numpy (its row loop compiled by numba), which Laplace fits and NUTS on large tables
use (``laplace_model``): no ``import pymc``, no graph building, no PyTensor compile.
``tests/test_attribution_density.py`` holds them equal, value and gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
import xarray as xr

from attribution.features import (
    DEFAULT_LOOKBACK_DAYS,
    Patterns,
    as_patterns,
    bin_spans,
    code_table,
    count_table,
)
from attribution.features import recency_ages_days as default_recency_ages
from attribution.lift import LiftTests
from attribution.lift import add_to_model as add_lift
from attribution.settings import (
    METHODS,
    NUTS_DENSITY_MIN_CONVERTING_PATTERNS,
    NUTS_MAX_CONVERTING_PATTERNS,
)
from attribution.sparsity import PRIOR_INCLUSION
from attribution.synergy import SCREEN_ALPHA, Screen, forward_openings, screen_pairs
from posterior_tools.diagnostics import diagnostics_attrs, warn_if_failed
from posterior_tools.settings import CHAINS, DRAWS, TUNE

# A synergy pair enters the model only when enough converting journeys saw both channels;
# with fewer the pair is unidentified and only slows sampling.
MIN_PAIR_CONVERSIONS = 30
DEFAULT_DRAWS = DRAWS
DEFAULT_TUNE = TUNE
DEFAULT_CHAINS = CHAINS
# Chains run in parallel processes; the draws do not depend on it (one seed per chain).
DEFAULT_CORES = 2
# 0.97: at 0.9 a few divergences remained (2 in 2 x 1,000 draws at 20k simulated users); at
# 0.95 one in 2 x 1,000 at 2M journeys in 3 of 5 seeded runs, in the no-effect channel's tail
# (at 0.97 none in 3 of 3, for ~35% more gradient evaluations per draw; bench/RESULTS.md).
DEFAULT_TARGET_ACCEPT = 0.97
PARAMETERS = ("baseline", "beta", "decay", "saturation", "opening", "synergy")
# exp(690) ~ 4e299: the fresh-touch saturation theta_recent / w_0(decay) stays finite (w_0, the
# most recent bin's weight, falls like 1 / decay for a fast decay: the cap is a guard only).
MAX_LOG_SATURATION_FACTOR = 690.0


@dataclass(frozen=True)
class Priors:
    """Weakly informative priors, chosen on the probability scale.

    - ``baseline``: log-normal, median ``baseline_median`` = 0.5% conversion without any
      channel effect; a log-sd of 1.5 puts 95% of the prior mass on about 0.03%..9%.
    - ``beta``: the effect of one touch in the most recent recency bin (``beta_recent``, the
      parameter that is sampled; ``beta`` is derived from it) has
      ``beta_recent_c ~ HalfNormal(beta_scale)``, ``beta_scale ~ HalfNormal(beta_scale_sd)``
      shared by the channels (hierarchical shrinkage: channels borrow strength, a channel with
      no effect is pulled to 0). With ``beta_scale_sd = 0.1`` the prior predictive probability
      that one recent touch converts, ``1 - exp(-(baseline + beta_recent))``, has its 5%..95%
      range at about 0.5%..21% (2.5%..97.5%: 0.3%..26%), covering realistic per-touch
      conversion rates without pushing mass to "every touch converts".
    - ``decay``: ``log decay_c ~ Normal(decay_mu, decay_sigma)`` with ``decay_mu ~
      Normal(log(decay_median), 1)``, median decay 0.1 per day (half-life 7 days, within the
      30-day lookback) and ``decay_sigma ~ HalfNormal(0.5)``: channels share a typical decay.
    - ``saturation``: on the same recent-touch scale, ``log theta_recent_c ~ Normal(log(0.5),
      1)`` (``saturation`` = theta_recent / w_0(decay) is derived, ``w_0`` the most recent
      bin's weight): at the median three recent touches are worth about two single touches;
      the 95% range runs from nearly linear (theta 0.07) to strongly saturating (theta 3.5:
      extra touches add almost nothing).
    - ``synergy``: ``synergy_cd ~ HalfNormal(0.02)`` for each pair that passed the score
      screen (``attribution.synergy``): strong shrinkage, a pair's extra hazard is a
      small fraction of a typical ``beta`` unless the data insist.
    - ``opening``: ``opening_c ~ HalfNormal(0.05)`` for each channel whose opening term passed
      the score screen: the extra hazard of opening the journey is of the order of a few
      recent touches' effect (about 5% conversion at the prior's sd) unless the data insist.
    """

    baseline_median: float = 0.005
    baseline_log_sd: float = 1.5
    beta_scale_sd: float = 0.1
    decay_median: float = 0.1
    decay_mu_sd: float = 1.0
    decay_sigma_sd: float = 0.5
    saturation_median: float = 0.5
    saturation_log_sd: float = 1.0
    synergy_sd: float = 0.02
    opening_sd: float = 0.05


@dataclass(frozen=True)
class SufficientStats:
    """Numpy summaries of the pattern table that the likelihood needs (computed once).

    Attributes:
        nonconv_total: scalar, sum of (n - k) over all patterns.
        nonconv_by_code: float (channel, code) sum of (n - k) over patterns with that code.
        nonconv_by_pair: float (pair, code, code) sum of (n - k) by the pair's two codes.
        conv_codes: int (converting pattern, channel) codes of patterns with k > 0.
        conv_k: float (converting pattern,) their conversions.
        pairs: int (pair, 2) channel indices of the synergy pairs.
        openers: int (opener,) channels with an opening term.
        nonconv_by_first: float (opener,) sum of (n - k) over patterns each opener opened.
        conv_first: int (converting pattern,) opening channel (-1 when unknown).
        capped_counts: float (channel, recency_bin) count of a cell at the cap
            (``features.count_table``); None: the cap.
    """

    nonconv_total: float
    nonconv_by_code: np.ndarray
    nonconv_by_pair: np.ndarray
    conv_codes: np.ndarray
    conv_k: np.ndarray
    pairs: np.ndarray
    openers: np.ndarray
    nonconv_by_first: np.ndarray
    conv_first: np.ndarray
    capped_counts: np.ndarray | None = None


def synergy_pairs(patterns: Patterns, min_conversions: int = MIN_PAIR_CONVERSIONS) -> np.ndarray:
    """Channel pairs (c < d) seen together in at least ``min_conversions`` converting journeys.

    Returns int array (pair, 2).
    """
    present = (patterns.codes > 0).astype(np.float64)
    co_conv = present.T @ (present * patterns.n_conversions[:, None])
    c, d = np.triu_indices(len(patterns.channels), k=1)
    keep = co_conv[c, d] >= min_conversions
    return np.stack([c[keep], d[keep]], axis=1).astype(np.int64)


def sufficient_stats(
    patterns: Patterns, pairs: np.ndarray, n_codes: int, openers: np.ndarray | None = None
) -> SufficientStats:
    """Reduce the pattern table to the likelihood's sufficient statistics (see module doc)."""
    openers = np.zeros(0, dtype=np.int64) if openers is None else np.asarray(openers, np.int64)
    n_channels = len(patterns.channels)
    nonconv = (patterns.n_journeys - patterns.n_conversions).astype(np.float64)
    by_code = np.zeros((n_channels, n_codes))
    for c in range(n_channels):
        by_code[c] = np.bincount(patterns.codes[:, c], weights=nonconv, minlength=n_codes)
    by_pair = np.zeros((len(pairs), n_codes, n_codes))
    for q, (c, d) in enumerate(pairs):
        flat = patterns.codes[:, c] * n_codes + patterns.codes[:, d]
        by_pair[q] = np.bincount(flat, weights=nonconv, minlength=n_codes**2).reshape(
            n_codes, n_codes
        )
    conv = patterns.n_conversions > 0
    by_first = np.array([nonconv[patterns.first_channel == c].sum() for c in openers])
    return SufficientStats(
        nonconv_total=float(nonconv.sum()),
        nonconv_by_code=by_code,
        nonconv_by_pair=by_pair,
        conv_codes=patterns.codes[conv],
        conv_k=patterns.n_conversions[conv].astype(np.float64),
        pairs=pairs,
        openers=openers,
        nonconv_by_first=by_first.astype(np.float64),
        conv_first=patterns.first_channel[conv],
        capped_counts=patterns.capped_counts,
    )


def build_model(
    stats: SufficientStats,
    channels: Sequence[str],
    ages_days: np.ndarray,
    priors: Priors,
    zero_channels: Sequence[int] = (),
    lift: LiftTests | None = None,
):
    """The PyMC model on the sufficient statistics; returns ``pm.Model``.

    ``lift``: lift tests whose likelihood (and tested channels' selection terms) the model
    includes (``attribution.lift``).

    ``zero_channels``: channels whose effect (``beta`` and ``opening``) is fixed at 0 (the
    spike of ``attribution.sparsity``); their decay and saturation keep their priors.

    Free variables (dims ``channel``, ``channel_pair``) are named as in ``PARAMETERS``
    plus the hyper-parameters ``beta_scale``, ``decay_mu``, ``decay_sigma``; ``opening``
    (dim ``channel``) is 0 for channels without an opening term.
    """
    import pymc as pm
    import pytensor.sparse as ps
    import pytensor.tensor as pt
    from scipy import sparse

    n_bins = len(ages_days)
    n_channels = len(channels)
    table = count_table(n_bins, n_channels, stats.capped_counts)  # (channel, code, bin)
    n_codes = table.shape[1]
    pairs = stats.pairs
    coords = {"channel": list(channels)}
    if len(pairs):
        coords["channel_pair"] = pair_labels(channels, pairs)
    # Row (pattern, channel) of the gather picks s.ravel()[channel * n_codes + code].
    flat_idx = (np.arange(n_channels)[None, :] * n_codes + stats.conv_codes).ravel()
    gather = sparse.csr_matrix(
        (np.ones(flat_idx.size), (np.arange(flat_idx.size), flat_idx)),
        shape=(flat_idx.size, n_channels * n_codes),
    )

    with pm.Model(coords=coords) as model:
        log_b0 = pm.Normal(
            "log_baseline", mu=math.log(priors.baseline_median), sigma=priors.baseline_log_sd
        )
        baseline = pm.Deterministic("baseline", pt.exp(log_b0))
        beta_scale = pm.HalfNormal("beta_scale", sigma=priors.beta_scale_sd)
        # Sampled: the effect of one touch in the most recent recency bin (age ages_days[0]),
        # which the data pin down whatever the decay. Parameterised by a fresh touch (age 0)
        # instead, a channel with no effect could trade a fast decay for a large beta along a
        # ridge on which NUTS diverged (seen at 20k simulated users).
        # Centred: with thousands of journeys per channel the data dominate each effect.
        active = np.array([c for c in range(n_channels) if c not in set(zero_channels)])
        if len(active) == n_channels:
            beta_recent = pm.HalfNormal("beta_recent", sigma=beta_scale, dims="channel")
        else:
            free = pm.HalfNormal("beta_recent_free", sigma=beta_scale, shape=len(active))
            beta_recent = pt.set_subtensor(pt.zeros(n_channels)[active], free)
        decay_mu = pm.Normal("decay_mu", mu=math.log(priors.decay_median), sigma=priors.decay_mu_sd)
        decay_sigma = pm.HalfNormal("decay_sigma", sigma=priors.decay_sigma_sd)
        # Non-centred: recency is weakly identified (three bins), so the hierarchy dominates.
        decay_z = pm.Normal("decay_z", 0.0, 1.0, dims="channel")
        decay = pm.Deterministic("decay", pt.exp(decay_mu + decay_sigma * decay_z), dims="channel")
        # Saturation of the response measured in recent-bin touches (theta_recent), as above.
        log_theta = pm.Normal(
            "log_saturation_recent",
            mu=math.log(priors.saturation_median),
            sigma=priors.saturation_log_sd,
            dims="channel",
        )
        theta_recent = pt.exp(log_theta)
        # each bin's weight: the mean of exp(-decay age) over the bin (features.log_bin_weights)
        lower, width = bin_spans(ages_days)
        log_w = pt.stack(
            [
                -decay * lower[b]
                + (
                    pt.log(-pt.expm1(-decay * width[b])) - pt.log(decay * width[b])
                    if width[b] != 0
                    else 0.0
                )
                for b in range(n_bins)
            ],
            axis=1,
        )  # (channel, bin)
        relative = pt.exp(log_w - log_w[:, :1])  # (channel, bin); bin 0: 1
        s_recent = (
            pt.expm1(-theta_recent[:, None] * (relative[:, None, :] * table).sum(axis=2))
            / pt.expm1(-theta_recent)[:, None]
        )  # (channel, code); one recent touch: 1
        # The same response in the module's (fresh-touch) parameters, which every consumer of
        # the posterior uses: E = w_0 E_recent gives theta = theta_recent / w_0, and beta s =
        # beta_recent s_recent with s = k s_recent below.
        # Capped so theta stays finite for any draw (a zero-effect channel's decay is only
        # prior-bound and Laplace draws reach its tails): theta * 0 must be 0, not inf * 0.
        theta = pm.Deterministic(
            "saturation",
            theta_recent * pt.exp(pt.minimum(-log_w[:, 0], MAX_LOG_SATURATION_FACTOR)),
            dims="channel",
        )
        k = pt.expm1(-theta_recent) / pt.expm1(-theta)
        beta = pm.Deterministic("beta", beta_recent / k, dims="channel")
        s = s_recent * k[:, None]

        nonconv_h = baseline * stats.nonconv_total + pt.sum(
            beta[:, None] * s * stats.nonconv_by_code
        )
        # Gather s at each converting pattern's codes as a sparse one-hot product: its gradient
        # is a sparse product too, far faster than the scatter-add of an indexed gather.
        s_conv = ps.structured_dot(gather, s.reshape((-1, 1))).reshape(
            (len(stats.conv_k), n_channels)
        )
        # Columns as views and elementwise sums: without a linked BLAS, PyTensor's fallback for
        # tall-skinny dot products (and their gradients) was ~50x slower at 50k patterns.
        cols = [s_conv[:, c] for c in range(n_channels)]
        h_conv = baseline + sum(beta[c] * cols[c] for c in range(n_channels))
        if len(pairs):
            # One scale per pair, no shared hyper-scale: the screen already chose the pairs,
            # and scale x z with one or two pairs is a ridge (only the product is identified)
            # on which NUTS diverged.
            synergy = pm.HalfNormal("synergy", sigma=priors.synergy_sd, dims="channel_pair")
            pair_sums = pt.stack(
                [
                    pt.dot(s[c], pt.dot(stats.nonconv_by_pair[q], s[d]))
                    for q, (c, d) in enumerate(pairs)
                ]
            )
            nonconv_h = nonconv_h + pt.dot(synergy, pair_sums)
            h_conv = h_conv + sum(synergy[q] * cols[c] * cols[d] for q, (c, d) in enumerate(pairs))
        openers = np.array([c for c in stats.openers if c not in set(zero_channels)], np.int64)
        if len(openers):
            # One scale per opener, like synergy (the screen chose them).
            selected = pm.HalfNormal(
                "opening_selected", sigma=priors.opening_sd, shape=len(openers)
            )
            pm.Deterministic(
                "opening",
                pt.set_subtensor(pt.zeros(n_channels)[openers], selected),
                dims="channel",
            )
            by_first = stats.nonconv_by_first[np.isin(stats.openers, openers)]
            nonconv_h = nonconv_h + pt.dot(selected, by_first)
            h_conv = h_conv + sum(
                selected[q] * (stats.conv_first == c).astype(np.float64)
                for q, c in enumerate(openers)
            )
        if lift is not None:  # lift tests: attribution.lift
            h_conv, nonconv_h = add_lift(
                model, lift, stats, h_conv, nonconv_h, s=s, baseline=baseline, beta=beta
            )
        pm.Potential("loglik", pt.sum(stats.conv_k * pt.log1mexp(-h_conv)) - nonconv_h)
    return model


def laplace_model(
    stats: SufficientStats,
    channels: Sequence[str],
    ages_days: np.ndarray,
    priors: Priors,
    zero_channels: Sequence[int] = (),
    lift: LiftTests | None = None,
):
    """The model a Laplace fit uses: the numpy density of ``attribution.density`` (the same
    model as :func:`build_model`, no PyMC or compile), or the PyMC model when ``lift`` tests
    are included (their likelihood is in PyMC only)."""
    if lift is not None:
        return build_model(stats, channels, ages_days, priors, zero_channels, lift)
    from attribution.density import ConversionDensity

    return ConversionDensity(stats, channels, ages_days, priors, zero_channels)


def _screen_attrs(channels: Sequence[str], screen: Screen | None) -> dict:
    """The synergy screen's candidates, statistics and threshold as netCDF-ready attrs."""
    if screen is None:
        return {}
    return {
        "synergy_candidates": ", ".join(pair_labels(channels, screen.candidates)),
        "synergy_screen_z": [round(float(z), 3) for z in screen.z],
        "synergy_screen_threshold": round(screen.threshold, 3),
    }


def _opening_attrs(channels: Sequence[str], screen: Screen | None, openers: np.ndarray) -> dict:
    """The opening-term screen and the channels given a term, as netCDF-ready attrs."""
    out = {"opening_channels": ", ".join(channels[c] for c in openers)}
    if screen is not None:
        out.update(
            {
                "opening_candidates": ", ".join(channels[c] for c in screen.candidates[:, 0]),
                "opening_screen_z": [round(float(z), 3) for z in screen.z],
                "opening_screen_threshold": round(screen.threshold, 3),
            }
        )
    return out


def capped_attrs(capped_counts: np.ndarray | None) -> dict:
    """The posterior attribute ``capped_counts`` (flattened channel x recency_bin):
    the count of a cell at the cap that the fit used; absent when it used the cap."""
    if capped_counts is None:
        return {}
    return {"capped_counts": [float(x) for x in np.ravel(capped_counts)]}


def pair_labels(channels: Sequence[str], pairs: np.ndarray) -> list[str]:
    """Labels ``"a*b"`` of channel pairs (pair, 2) for the ``channel_pair`` coordinate."""
    return [f"{channels[c]}*{channels[d]}" for c, d in pairs]


@dataclass
class ConversionModel:
    """Bayesian conversion model (module docstring) fitted on the pattern table.

    Settings (scikit-learn style; learned state ends in ``_``):
        channels: channel names, index c matches the pattern table's ``k_c``.
        recency_ages_days: representative age (days) per recency bin; default for a 30-day
            lookback (``features.recency_ages_days``).
        synergy: include pairwise synergy for pairs with enough co-converting journeys.
        roles: give channels an opening-touch term where the score screen finds one (needs the
            pattern table's ``first_channel``).
        opening_channels: fix the channels with an opening term (indices) instead of screening
            (the held-out refit keeps the full fit's structure this way).
        spike_and_slab, prior_inclusion: give each channel's effect a spike at 0 with prior
            weight ``1 - prior_inclusion`` (``attribution.sparsity``): the posterior gets
            ``p_effect_positive(channel)`` and draws in which a channel's effect is exactly 0.
        screen_synergy, synergy_alpha: keep only the candidate pairs that pass the score test
            of ``attribution.synergy`` at family-wise level ``synergy_alpha``.
        lift_tests: lift tests added to the likelihood (``attribution.lift``); their channels
            get a selection term, and the spike-and-slab is not run (its evidence comparison
            has no lift terms): ``p_effect_positive`` is 1.
        start: unconstrained starting point of the Laplace mode search, e.g. ``mode_.x`` of a
            fit of the same structure on other rows (ignored when its size differs).
        method: "auto" (NUTS up to ``nuts_max_converting_patterns`` converting patterns,
            Laplace above), "nuts" or "laplace".
        nuts_density_min_converting_patterns: from this many converting patterns NUTS samples
            the numpy density instead of the PyMC model (same posterior; faster on large
            tables, ``attribution.settings``).
        draws, tune, chains, seed, cores, target_accept: sampler settings (Laplace uses
            draws x chains independent draws, laid out as (chain, draw)).

    After ``fit``: ``posterior_`` (xarray Dataset, dims (chain, draw[, channel][,
    channel_pair])), ``diagnostics_`` (dict), ``method_`` ("nuts" | "laplace"), ``model_``,
    ``mode_`` (``posterior_tools.laplace.Mode`` of the numpy density: the Laplace fit's, or
    the mode at which NUTS on a large table started; None after NUTS on the PyMC model),
    ``opening_channels_`` (int array of the channels given an opening term).
    """

    channels: Sequence[str]
    recency_ages_days: Sequence[float] | None = None
    synergy: bool = True
    roles: bool = True
    opening_channels: Sequence[int] | None = None
    spike_and_slab: bool = True
    prior_inclusion: float = PRIOR_INCLUSION
    method: str = "auto"
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    chains: int = DEFAULT_CHAINS
    seed: int | None = 0
    cores: int = DEFAULT_CORES
    target_accept: float = DEFAULT_TARGET_ACCEPT
    priors: Priors = field(default_factory=Priors)
    nuts_max_converting_patterns: int = NUTS_MAX_CONVERTING_PATTERNS
    nuts_density_min_converting_patterns: int = NUTS_DENSITY_MIN_CONVERTING_PATTERNS
    min_pair_conversions: int = MIN_PAIR_CONVERSIONS
    screen_synergy: bool = True
    synergy_alpha: float = SCREEN_ALPHA
    start: np.ndarray | None = None
    lift_tests: LiftTests | None = None

    def fit(self, patterns: pd.DataFrame | Patterns) -> ConversionModel:
        """Fit on a pattern table (DataFrame per docs/contracts.md, or ``Patterns``)."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}")
        data = as_patterns(patterns, self.channels)
        if data.n_conversions.sum() == 0:
            raise ValueError("the pattern table has no conversions: nothing to attribute")
        ages = (
            default_recency_ages(DEFAULT_LOOKBACK_DAYS)
            if self.recency_ages_days is None
            else np.asarray(self.recency_ages_days, dtype=np.float64)
        )
        candidates = (
            synergy_pairs(data, self.min_pair_conversions)
            if self.synergy and len(data.channels) > 1
            else np.zeros((0, 2), dtype=np.int64)
        )
        screen_roles = self.roles and self.opening_channels is None and data.has_roles
        screen, opening_screen, base, base_mode = self._screen(
            data, candidates if self.screen_synergy else candidates[:0], ages, screen_roles
        )
        pairs = candidates if screen is None else screen.selected
        if not self.roles or not data.has_roles:
            openers = np.zeros(0, dtype=np.int64)
        elif self.opening_channels is not None:
            openers = np.asarray(self.opening_channels, dtype=np.int64)
        else:
            openers = opening_screen.selected[:, 0]
        self.opening_channels_ = openers
        stats = sufficient_stats(data, pairs, code_table(len(ages)).shape[0], openers)
        n_conv_patterns = len(stats.conv_k)
        method = self.method
        if method == "auto":
            method = "nuts" if n_conv_patterns <= self.nuts_max_converting_patterns else "laplace"
        self.method_ = method
        # The numpy density (attribution.density) serves the Laplace fit and NUTS on large
        # tables, where its compiled row loop beats PyTensor's graph and nothing is compiled;
        # NUTS on small tables (PyTensor's per-call cost is lower) and lift tests use PyMC.
        numpy_density = self.lift_tests is None and (
            method == "laplace" or n_conv_patterns >= self.nuts_density_min_converting_patterns
        )
        # When the screen keeps no term the model is the screen's: reuse it and its mode.
        reuse = numpy_density and base is not None and len(pairs) == 0 and len(openers) == 0
        if reuse:
            self.model_ = base
        elif method == "laplace" or numpy_density:
            self.model_ = laplace_model(
                stats, data.channels, ages, self.priors, lift=self.lift_tests
            )
        else:
            self.model_ = build_model(stats, data.channels, ages, self.priors, lift=self.lift_tests)
        names = [
            p
            for p in PARAMETERS
            if (p != "synergy" or len(pairs)) and (p != "opening" or len(openers))
        ]
        hyper = ["beta_scale", "decay_mu", "decay_sigma"] + ["selection"] * (
            self.lift_tests is not None
        )
        self.mode_ = None
        if method == "nuts":
            posterior, self.diagnostics_ = self._sample_nuts(
                names + hyper, base_mode if reuse else None
            )
        else:
            from posterior_tools.laplace import find_mode, laplace_posterior

            self.mode_ = base_mode if reuse else find_mode(self.model_, self.start)
            posterior, self.diagnostics_ = laplace_posterior(
                self.model_,
                names + hyper,
                draws=self.draws,
                chains=self.chains,
                seed=self.seed,
                mode=self.mode_,
            )
        if len(pairs):
            posterior = posterior.assign_coords(
                pair_first=("channel_pair", [data.channels[c] for c in pairs[:, 0]]),
                pair_second=("channel_pair", [data.channels[d] for d in pairs[:, 1]]),
            )
        spike_attrs = {}
        if self.spike_and_slab:
            from attribution.sparsity import apply_spike, spike_and_slab

            self.posterior_ = posterior
            p_in, log_bf = spike_and_slab(
                self,
                data,
                ages,
                pairs,
                openers,
                prior=self.prior_inclusion,
                tested=None if self.lift_tests is None else [],
            )
            posterior = apply_spike(posterior, p_in, self.seed, pairs)
            spike_attrs = {
                "prior_inclusion": self.prior_inclusion,
                "inclusion_log_bayes_factor": [round(float(b), 3) for b in log_bf],
            }
        posterior.attrs.update(
            {
                "posterior_method": method,
                "recency_ages_days": ages.tolist(),
                **capped_attrs(data.capped_counts),
                "n_patterns": data.n_patterns,
                "n_converting_patterns": n_conv_patterns,
                "n_journeys": int(data.n_journeys.sum()),
                "n_conversions": int(data.n_conversions.sum()),
                "synergy": int(bool(len(pairs))),
                **_screen_attrs(data.channels, screen),
                **_opening_attrs(data.channels, opening_screen, openers),
                **spike_attrs,
                "seed": -1 if self.seed is None else int(self.seed),
                **{f"prior_{k}": v for k, v in asdict(self.priors).items()},
                **diagnostics_attrs(self.diagnostics_),
            }
        )
        self.posterior_ = posterior
        warn_if_failed(self.diagnostics_, method)
        return self

    def predict_proba(self, patterns: pd.DataFrame | Patterns) -> xr.DataArray:
        """P(convert) of each pattern under each posterior draw: DataArray (chain, draw,
        pattern), from the fitted ``posterior_`` (``attribution.probability``); with the
        opening terms of a fit with roles (the patterns' ``first_channel``)."""
        from attribution.features import pattern_counts
        from attribution.probability import capped_counts, conversion_probability

        self._check_fitted()
        # the counts at the cap the fit used (the cap itself when it used none)
        fitted = capped_counts(self.posterior_)
        data = replace(as_patterns(patterns, self.channels), capped_counts=fitted)
        first = data.first_channel if data.has_roles else None
        counts = pattern_counts(data)
        counts = counts.copy(data=data.touch_counts(counts.sizes["recency_bin"]))
        return conversion_probability(self.posterior_, counts, first_channel=first)

    def credit(self, patterns: pd.DataFrame | Patterns) -> xr.Dataset:
        """Exact Shapley credit and removal effects per posterior draw over ``patterns``
        (``attribution.shapley.shapley_credit``): ``attributed_conversions(chain, draw,
        channel)``, ``incremental_conversions``, ``baseline_conversions`` (conversions)."""
        from attribution.shapley import shapley_credit

        self._check_fitted()
        return shapley_credit(self.posterior_, as_patterns(patterns, self.channels))

    def _check_fitted(self) -> None:
        if not hasattr(self, "posterior_"):
            raise ValueError("this ConversionModel is not fitted yet: call fit(patterns) first")

    def _screen(self, data: Patterns, candidates: np.ndarray, ages: np.ndarray, roles: bool):
        """Score-test the candidate pairs (and, with ``roles``, each channel's opening term) at
        the mode of the model without synergy and roles.

        Returns ``(synergy screen, opening screen, base model, its Mode)``; None for what was
        not screened (all None when nothing is).
        """
        if len(candidates) == 0 and not roles:
            return None, None, None, None
        from posterior_tools.laplace import find_mode

        n_codes = code_table(len(ages)).shape[0]
        stats = sufficient_stats(data, candidates[:0], n_codes)
        base = laplace_model(stats, data.channels, ages, self.priors)
        mode = find_mode(base, self.start)
        values = mode.values(base, ["baseline", "beta", "decay", "saturation"])
        pairs = (
            screen_pairs(data, candidates, values, ages, self.synergy_alpha)
            if len(candidates)
            else None
        )
        openings = None
        if roles:

            def refit(openers: np.ndarray) -> dict[str, np.ndarray]:
                stats = sufficient_stats(data, candidates[:0], n_codes, openers)
                model = laplace_model(stats, data.channels, ages, self.priors)
                found = find_mode(model, self.start)
                return found.values(model, ["baseline", "beta", "decay", "saturation", "opening"])

            openings = forward_openings(data, values, ages, self.synergy_alpha, refit)
        return pairs, openings, base, mode

    def _sample_nuts(self, names: list[str], mode) -> tuple[xr.Dataset, dict]:
        """NUTS draws (nutpie, Rust NUTS). On the numpy density (no lift tests) the chains
        start at draws of the Laplace approximation, whose mode the spike-and-slab needs
        anyway (``mode_``); the PyMC model (lift tests) starts at its jittered initial point."""
        from posterior_tools.nuts import sample_nuts

        start = None
        if hasattr(self.model_, "logp_dlogp"):
            from posterior_tools.laplace import find_mode

            self.mode_ = find_mode(self.model_, self.start) if mode is None else mode
            start = self.mode_.draw
            self.model_.compile_rows()
        return sample_nuts(
            self.model_,
            names,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            cores=self.cores,
            seed=self.seed,
            target_accept=self.target_accept,
            start=start,
        )
