"""Defaults every model reads: the posterior interval and PyMC's sampler settings.

These are the one place each default is defined; model packages, pipelines and ``--help`` texts
read them from here."""

from __future__ import annotations

#: Posterior intervals are central 90% intervals: the 5% and 95% quantiles of the draws.
INTERVAL = 0.90
#: The interval's quantiles, rounded so that they are exactly 0.05 and 0.95 (not 0.0499...).
INTERVAL_QUANTILES = (round((1 - INTERVAL) / 2, 12), round(1 - (1 - INTERVAL) / 2, 12))
#: Label of the interval in prose, tables and figure legends.
INTERVAL_LABEL = f"{INTERVAL:.0%} interval"

#: NUTS settings (PyMC's own defaults: 2 x (1,000 tune + 1,000 draws)).
DRAWS = 1000
TUNE = 1000
CHAINS = 2

#: Chains start at the model's initial point plus uniform(-INIT_JITTER, INIT_JITTER) noise per
#: unconstrained coordinate (PyMC's and nutpie's default) unless the caller gives a start.
INIT_JITTER = 1.0

#: NUTS implementation: nutpie (Rust NUTS on the model compiled once by numba) or PyMC's own.
NUTS_SAMPLERS = ("nutpie", "pymc")
NUTS_SAMPLER = "nutpie"

#: PyTensor's compile cache of the project (``posterior_tools.compiledir``): a directory of its
#: own under the user's cache directory, so a process re-reads only the project's modules.
PYTENSOR_CACHE_NAME = "workbench"

#: Threads of numpy's and scipy's BLAS (OpenBLAS) while a model is fitted and credited
#: (``posterior_tools.threads``). The fits' matrices are small (a (pattern, channel) product per
#: log-density evaluation, a few hundred of them): a second BLAS thread gains nothing on them,
#: but after every call it spins waiting for the next one, which doubled the CPU time of the
#: Laplace fit at 2M journeys (bench/RESULTS.md, issue 17). One thread gives the same numbers.
BLAS_THREADS = 1
