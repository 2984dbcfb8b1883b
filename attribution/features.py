"""Pattern codes -> exposure counts: the model's view of one journey.

The SQL step (see docs/contracts.md, "Pattern table") stores, per channel, one integer code
``k_c = sum_b min(n_cb, COUNT_CAP) * (COUNT_CAP + 1) ** b`` where ``n_cb`` is the number of
touches of channel ``c`` in recency bin ``b`` (``b = 0`` is the most recent bin). With three
bins and a cap of 3 there are ``4 ** 3 = 64`` possible codes per channel; the model evaluates
its per-channel response on those 64 codes once and gathers, which is why the codes are kept.

Exposure (days-discounted touches) of channel ``c``:

    E_c = sum_b w_b(decay_c) * n_cb,  w_b(d) = mean of exp(-d * age) over bin b's ages

with bin ``b``'s touches spread evenly over the bin (``log_bin_weights``; ``age_b``, the
representative age in days of ``recency_ages_days``, is the bin's mid-point), so a wide bin
(7-30 days) does not weigh its touches as if all were at its mid-point.

A cell at the cap stands for "COUNT_CAP or more" touches. Its count in the exposure is the
data's mean count over the cells at or above the cap, per channel and bin (``capped_counts``,
from the data step; the cap itself when not given): heavily touched people (retargeting,
frequent e-mail) keep their frequency in the model without a wider code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xarray as xr

from attribution.settings import COUNT_CAP, DEFAULT_LOOKBACK_DAYS, RECENCY_EDGES_DAYS

# Named settings shared with the SQL step (docs/contracts.md); one place for the defaults.
CODE_BASE: int = COUNT_CAP + 1
# Representative age of the first two bins (days): mid-point of [0, 1) and a point inside
# [1, 7) nearer its start, because touch frequency declines with age inside a journey.
RECENT_BIN_AGES_DAYS: tuple[float, ...] = (0.5, 4.0)

PATTERN_COUNT_COLUMNS = ("n_journeys", "n_conversions")


def recency_ages_days(lookback_days: float = DEFAULT_LOOKBACK_DAYS) -> np.ndarray:
    """Representative age (days) of each recency bin: 0.5, 4 and (7 + lookback) / 2.

    Returns an array of shape (recency_bin,), one age per bin of ``RECENCY_EDGES_DAYS`` +
    lookback. The last bin's age is its mid-point, so it moves with the lookback window.
    """
    last_edge = RECENCY_EDGES_DAYS[-1]
    if lookback_days <= last_edge:
        raise ValueError(
            f"lookback_days must exceed the last recency edge ({last_edge} days); "
            f"got {lookback_days}"
        )
    return np.array([*RECENT_BIN_AGES_DAYS, (last_edge + lookback_days) / 2.0])


def bin_spans(ages_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each recency bin's lower edge and width (days), (recency_bin,) each: bin ``b`` runs
    from ``RECENCY_EDGES_DAYS[b]`` to ``2 age_b - RECENCY_EDGES_DAYS[b]`` (its representative
    age is its mid-point). Ages for another number of bins are points (width 0)."""
    ages = np.asarray(ages_days, dtype=np.float64)
    if len(ages) != len(RECENCY_EDGES_DAYS):
        return ages, np.zeros_like(ages)
    lower = np.asarray(RECENCY_EDGES_DAYS, dtype=np.float64)
    return lower, 2.0 * (ages - lower)


def log_bin_weights(decay: np.ndarray, ages_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log weight of one touch in each recency bin and its derivative in ``log decay``,
    each (..., recency_bin) for ``decay`` (...,).

    A touch's weight is ``exp(-decay * age)``; a bin's touches are taken as spread evenly over
    the bin (``bin_spans``: lower edge ``l``, width ``w``), so the bin's weight is the mean
    ``exp(-decay l) h(decay w)`` with ``h(x) = (1 - exp(-x)) / x``: a 7-30 day old touch with
    a decay of 0.2 per day weighs 0.053, where the bin's mid-point (18.5 days) alone gives
    0.025. The derivative is ``-decay l + x / expm1(x) - 1`` with ``x = decay w``."""
    return log_span_weights(decay, *bin_spans(ages_days))


def log_span_weights(
    decay: np.ndarray, lower: np.ndarray, width: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_bin_weights` for bins given by their lower edges and widths (bin,)."""
    d = np.asarray(decay, dtype=np.float64)[..., None]
    lower, width = np.asarray(lower, np.float64), np.asarray(width, np.float64)
    x = d * width
    with np.errstate(all="ignore"):
        small = np.abs(x) < 1e-8
        log_h = np.where(small, -x / 2.0, np.log(np.where(small, 1.0, -np.expm1(-x) / x)))
        ratio = np.where(small, 1.0 - x / 2.0, x / np.expm1(np.where(small, 1.0, x)))
        ratio = np.where(np.isfinite(ratio), ratio, 0.0)  # x / expm1(x) -> 0 for large x
    return -d * lower + log_h, -d * lower + ratio - 1.0


def bin_weights(decay: np.ndarray, ages_days: np.ndarray) -> np.ndarray:
    """The weight of one touch in each recency bin (..., recency_bin) for ``decay`` (...,):
    ``exp`` of :func:`log_bin_weights`."""
    return np.exp(log_bin_weights(decay, ages_days)[0])


def span_weights(decay: np.ndarray, lower: np.ndarray, width: np.ndarray) -> np.ndarray:
    """:func:`bin_weights` for bins given by their lower edges and widths (bin,)."""
    return np.exp(log_span_weights(decay, lower, width)[0])


def n_codes(n_bins: int) -> int:
    """Number of distinct per-channel codes for ``n_bins`` recency bins (64 for 3 bins)."""
    return CODE_BASE**n_bins


def decode_codes(codes: np.ndarray, n_bins: int) -> np.ndarray:
    """Decode per-channel codes into capped counts.

    ``codes`` of any shape (...,) -> int array (..., recency_bin) with
    ``counts[..., b] = (code // CODE_BASE**b) % CODE_BASE``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    powers = CODE_BASE ** np.arange(n_bins, dtype=np.int64)
    return (codes[..., None] // powers) % CODE_BASE


def encode_counts(counts: np.ndarray) -> np.ndarray:
    """Inverse of ``decode_codes``: counts (..., recency_bin) -> codes (...), capping at 3."""
    counts = np.minimum(np.asarray(counts, dtype=np.int64), COUNT_CAP)
    powers = CODE_BASE ** np.arange(counts.shape[-1], dtype=np.int64)
    return counts @ powers


def code_table(n_bins: int) -> np.ndarray:
    """Counts of every possible code: int array (code, recency_bin), shape (4**n_bins, n_bins)."""
    return decode_codes(np.arange(n_codes(n_bins)), n_bins)


def count_table(
    n_bins: int, n_channels: int, capped_counts: np.ndarray | None = None
) -> np.ndarray:
    """Touch counts of every code per channel, float (channel, code, recency_bin): the code's
    counts, a cell at the cap counting ``capped_counts[c, b]`` (channel, recency_bin) touches
    (the cap itself when None)."""
    table = code_table(n_bins).astype(np.float64)
    out = np.broadcast_to(table, (n_channels, *table.shape)).copy()
    if capped_counts is not None:
        capped = np.asarray(capped_counts, dtype=np.float64).reshape(n_channels, n_bins)
        at_cap = np.broadcast_to(table == COUNT_CAP, out.shape)
        out[at_cap] = np.broadcast_to(capped[:, None, :], out.shape)[at_cap]
    return out


def code_exposure(weights: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Exposure of every code: ``weights`` (..., channel, recency_bin) (each bin's weight,
    :func:`bin_weights`) and ``table`` (channel, code, recency_bin) from :func:`count_table`
    -> (..., channel, code)."""
    return np.einsum("...cb,cxb->...cx", weights, table)


@dataclass(frozen=True)
class Patterns:
    """The pattern table as arrays (one row per unique exposure pattern).

    Attributes:
        channels: channel names, index c matches column ``k_c``.
        codes: int (pattern, channel) per-channel codes.
        n_journeys: int (pattern,) journeys with this pattern.
        n_conversions: int (pattern,) converting journeys among them.
        holdout: bool (pattern,) rows in the evaluation split (all False when absent).
        first_channel: int (pattern,) channel index of the opening touch (-1 when unknown).
        last_channel: int (pattern,) channel index of the closing touch (-1 when unknown).
        capped_counts: float (channel, recency_bin) mean count of the data's cells at the cap
            (``count_table``); None: the cap.
    """

    channels: tuple[str, ...]
    codes: np.ndarray
    n_journeys: np.ndarray
    n_conversions: np.ndarray
    holdout: np.ndarray
    first_channel: np.ndarray | None = None
    last_channel: np.ndarray | None = None
    capped_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        unknown = np.full(self.codes.shape[0], -1, dtype=np.int64)
        for name in ("first_channel", "last_channel"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, unknown)

    @property
    def n_patterns(self) -> int:
        return int(self.codes.shape[0])

    @property
    def has_roles(self) -> bool:
        """The opening channel is known for every pattern with a touch."""
        touched = (self.codes > 0).any(axis=1)
        return bool(np.all(self.first_channel[touched] >= 0))

    def subset(self, rows: np.ndarray) -> Patterns:
        """Patterns restricted to ``rows`` (a boolean mask or integer index over patterns)."""
        return Patterns(
            self.channels,
            self.codes[rows],
            self.n_journeys[rows],
            self.n_conversions[rows],
            self.holdout[rows],
            self.first_channel[rows],
            self.last_channel[rows],
            self.capped_counts,
        )

    def counts(self, n_bins: int) -> np.ndarray:
        """Capped counts, int (pattern, channel, recency_bin)."""
        return decode_codes(self.codes, n_bins)

    def touch_counts(self, n_bins: int) -> np.ndarray:
        """The model's touch counts, float (pattern, channel, recency_bin): a cell at the cap
        counts ``capped_counts`` touches (``count_table``)."""
        table = count_table(n_bins, len(self.channels), self.capped_counts)
        return table[np.arange(len(self.channels))[None, :], self.codes]


def as_patterns(
    table: pd.DataFrame | Patterns,
    channels: Sequence[str],
    capped_counts: np.ndarray | None = None,
) -> Patterns:
    """Validate a pattern table (docs/contracts.md) and return it as ``Patterns`` arrays.

    ``table`` needs columns ``k_0 .. k_{C-1}`` (C = len(channels)), ``n_journeys`` and
    ``n_conversions``; ``holdout``, ``first_channel`` and ``last_channel`` are optional.
    ``capped_counts`` (channel, recency_bin): the mean count of the cells at the cap
    (``count_table``), at least the cap; None: the cap.
    Raises ``ValueError`` naming the column and the first offending rows on bad input (the
    application layer turns it into an InputError).
    """
    if isinstance(table, Patterns):
        if capped_counts is None:
            return table
        return replace(table, capped_counts=_checked_capped(capped_counts, len(table.channels)))
    channels = tuple(str(c) for c in channels)
    if len(channels) == 0:
        raise ValueError("channels is empty: the pattern table needs at least one channel")
    if len(set(channels)) != len(channels):
        raise ValueError(f"channels has duplicate names: {list(channels)}")
    code_cols = [f"k_{c}" for c in range(len(channels))]
    missing = [col for col in (*code_cols, *PATTERN_COUNT_COLUMNS) if col not in table.columns]
    if missing:
        raise ValueError(
            f"pattern table is missing column(s) {missing}; expected k_0..k_{len(channels) - 1} "
            f"for channels {list(channels)} plus n_journeys and n_conversions"
        )
    codes = table[code_cols].to_numpy(dtype=np.int64)
    n = table["n_journeys"].to_numpy(dtype=np.int64)
    k = table["n_conversions"].to_numpy(dtype=np.int64)
    _check_rows(codes.min(axis=1) < 0, "k_*", "negative channel code")
    max_code = n_codes(len(RECENCY_EDGES_DAYS)) - 1
    _check_rows(codes.max(axis=1) > max_code, "k_*", f"channel code above {max_code}")
    _check_rows(n < 1, "n_journeys", "n_journeys below 1")
    _check_rows((k < 0) | (k > n), "n_conversions", "n_conversions outside [0, n_journeys]")
    holdout = (
        table["holdout"].to_numpy(dtype=bool)
        if "holdout" in table.columns
        else np.zeros(len(table), dtype=bool)
    )
    roles = {}
    for name in ("first_channel", "last_channel"):
        if name in table.columns:
            values = table[name].to_numpy(dtype=np.int64)
            present = codes[np.arange(len(values)), np.clip(values, 0, len(channels) - 1)] > 0
            _check_rows(
                (values >= len(channels)) | ((values >= 0) & ~present),
                name,
                "a channel index that is not among the journey's channels",
            )
            roles[name] = values
    capped = None if capped_counts is None else _checked_capped(capped_counts, len(channels))
    return Patterns(channels, codes, n, k, holdout, **roles, capped_counts=capped)


def _checked_capped(capped_counts: np.ndarray, n_channels: int) -> np.ndarray:
    capped = np.asarray(capped_counts, dtype=np.float64)
    n_bins = len(RECENCY_EDGES_DAYS)
    if capped.shape != (n_channels, n_bins) or not np.all(capped >= COUNT_CAP):
        raise ValueError(
            f"capped_counts must be ({n_channels} channels, {n_bins} recency bins), each at "
            f"least the cap {COUNT_CAP}; got {capped.tolist()}"
        )
    return capped


def _check_rows(bad: np.ndarray, column: str, what: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"pattern table column {column}: {what} in row(s) {rows}")


def pattern_counts(
    patterns: Patterns, lookback_days: float = DEFAULT_LOOKBACK_DAYS
) -> xr.DataArray:
    """Capped touch counts as a DataArray (pattern, channel, recency_bin).

    Coordinate ``recency_bin`` is 0..B-1 with attrs ``edges_days`` (bin edges incl. the
    lookback) and ``ages_days`` (representative ages used by the model).
    """
    n_bins = len(RECENCY_EDGES_DAYS)
    counts = patterns.counts(n_bins)
    return xr.DataArray(
        counts,
        dims=("pattern", "channel", "recency_bin"),
        coords={
            "pattern": np.arange(patterns.n_patterns),
            "channel": list(patterns.channels),
            "recency_bin": np.arange(n_bins),
        },
        name="pattern_counts",
        attrs={
            "edges_days": [*RECENCY_EDGES_DAYS, float(lookback_days)],
            "ages_days": recency_ages_days(lookback_days).tolist(),
            "count_cap": COUNT_CAP,
        },
    )


def exposure(counts: np.ndarray, decay: np.ndarray, ages_days: np.ndarray) -> np.ndarray:
    """Decay-weighted exposure E_c = sum_b w_b(decay_c) * n_cb (``bin_weights``).

    ``counts`` (..., channel, recency_bin); ``decay`` (per day) broadcastable to
    (..., channel); ``ages_days`` (recency_bin,). Returns (..., channel).
    """
    return np.sum(bin_weights(decay, ages_days) * counts, axis=-1)


def saturation_curve(exposure_: np.ndarray, saturation: np.ndarray) -> np.ndarray:
    """Diminishing returns s(E) = (1 - exp(-theta E)) / (1 - exp(-theta)), so s(1) = 1, s(0) = 0.

    ``theta`` (saturation) > 0; as theta -> 0 the curve tends to the linear s(E) = E.
    """
    theta = np.asarray(saturation)
    return np.expm1(-theta * exposure_) / np.expm1(-theta)
