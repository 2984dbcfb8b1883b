"""Customer lifetime value: BG/NBD and Gamma-Gamma by maximum likelihood (lifetimes) and as PyMC
models, on compressed RFM statistics, with per-customer values and population checks.

Pure modelling: numpy/pandas/xarray/PyMC in, xarray or arrays out; no file I/O, no CLI, and no
import of ``workbench`` (which calls this package). Modules: ``formulas`` (closed forms),
``data`` (unique rows + weights), ``mle`` (lifetimes fits), ``bgnbd`` / ``gamma_gamma`` (PyMC),
``value`` (per-customer values), ``tracking`` (population curves), ``plots`` (figures).
"""
