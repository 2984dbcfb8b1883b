"""The converting patterns' part of the conversion model's log likelihood, in one compiled pass.

Per converting pattern ``i`` (``k_i`` conversions) the hazard is

    h_i = baseline + sum_c beta_c s[c, code_ic] + extra_i

(``extra``: the synergy and opening terms, computed by the caller when the model has them) and
the pattern contributes ``k_i log(1 - exp(-h_i))``. Its derivative in ``h_i`` is
``g_i = k_i / expm1(h_i)``; the pass sums ``g_i`` into each (channel, code) cell the pattern
reads, which is all the gradient needs of the 10^4-10^6 rows (``attribution.density`` does the
rest on the small (channel, code) tables).

numpy needs a gather, a product, a log, an exponential and one ``bincount`` per channel over
the rows, each a pass over memory; fused, the loop reads each row once, and it releases the
GIL, so NUTS chains evaluate it in parallel threads (``posterior_tools.nuts``). On the 2M-journey
benchmark (43,033 converting patterns, 6 channels) one evaluation of the whole log density and
gradient took 1.9 ms with the numpy rows, 2.2-2.3 ms in PyTensor's numba-compiled graph (what
nutpie samples for a PyMC model) and 1.0 ms with this loop (0.8 ms of it here); two threads
evaluated 2 x 1,000 in 1.1 s against 0.95 s for 1,000 in one (bench/RESULTS.md, issue 17).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(nogil=True, cache=True, fastmath=False)
def converting_terms(
    codes: np.ndarray,
    s: np.ndarray,
    beta: np.ndarray,
    baseline: float,
    k: np.ndarray,
    extra: np.ndarray,
    by_code: np.ndarray,
    g_h: np.ndarray,
) -> tuple[float, float]:
    """``(sum_i k_i log(1 - exp(-h_i)), sum_i g_i)``; fills ``by_code`` (channel, code) with
    ``sum_{i: code_ic = code} g_i`` and, when it has one entry per row, ``g_h`` with ``g_i``.

    Args:
        codes: (row, channel) int64 codes of the converting patterns.
        s: (channel, code) response of each code; ``beta`` (channel,) the effects.
        k: (row,) conversions per pattern.
        extra: (row,) further hazard terms, or an empty array for none.

    Returns ``(-inf, 0)`` when some ``h_i`` is not positive (the log likelihood's domain).
    """
    n_rows, n_channels = codes.shape
    with_extra = extra.shape[0] == n_rows
    keep_g = g_h.shape[0] == n_rows
    by_code[:, :] = 0.0
    loglik = 0.0
    g_sum = 0.0
    for i in range(n_rows):
        h = baseline
        for c in range(n_channels):
            h += beta[c] * s[c, codes[i, c]]
        if with_extra:
            h += extra[i]
        if not h > 0.0:
            return -math.inf, 0.0
        p = -math.expm1(-h)  # P(convert) = 1 - exp(-h), accurate for small h
        loglik += k[i] * math.log(p)
        g = k[i] * (1.0 - p) / p  # = k / expm1(h)
        g_sum += g
        if keep_g:
            g_h[i] = g
        for c in range(n_channels):
            by_code[c, codes[i, c]] += g
    return loglik, g_sum
