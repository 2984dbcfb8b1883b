"""Defaults of the journey attribution model, in one place (import-light: the CLI's help texts
read them). Times are in days."""

from __future__ import annotations

#: Recency bin edges (days before the journey's end); the last bin runs to the lookback.
RECENCY_EDGES_DAYS: tuple[float, ...] = (0.0, 1.0, 7.0)
#: Touches older than this before a conversion (or the journey's end) get no credit.
DEFAULT_LOOKBACK_DAYS: float = 30.0
#: Touch counts per channel and recency bin are capped at this in the pattern table.
COUNT_CAP: int = 3

#: Above this many converting patterns "auto" uses the Laplace approximation instead of NUTS.
#: NUTS cost grows with the converting patterns (one log-likelihood + gradient per leapfrog step)
#: and is already ~2 minutes at the smallest sizes (measured on 2 cores: 20k simulated users,
#: 647 converting patterns, NUTS 149 s vs Laplace 20 s; 50k users, 1,532 patterns, 133 s vs
#: 12 s), so the switch sits where NUTS starts to exceed ~2 minutes. The Laplace approximation
#: is validated against NUTS in tests/test_attribution_model.py.
NUTS_MAX_CONVERTING_PATTERNS: int = 1_000
#: From this many converting patterns NUTS samples the numpy density (``attribution.density``,
#: its row loop compiled by numba) instead of the PyMC model compiled by nutpie. Per log density
#: and gradient, measured on 2 cores: 647 patterns 0.11 ms vs PyMC's 0.04 ms (its graph has
#: less per-call overhead), 8,077 patterns 0.26 vs 0.33 ms, 43,033 patterns 1.0 vs 2.3 ms; and
#: the density needs no compile (PyMC's: 4-9 s). bench/RESULTS.md, issue 17.
NUTS_DENSITY_MIN_CONVERTING_PATTERNS: int = 5_000
#: Posterior methods: NUTS below the size above, a Laplace approximation above it, or forced.
METHODS: tuple[str, ...] = ("auto", "nuts", "laplace")
