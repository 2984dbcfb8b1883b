"""Customer lifetime value: BG/NBD and Gamma-Gamma (maximum likelihood with lifetimes'
likelihoods, or PyMC posteriors over the same likelihoods) as estimators, on compressed RFM
statistics, with per-customer values and population checks.

>>> import clv
>>> purchases = clv.BetaGeo().fit(rfm)        # frequency, recency, T per customer
>>> spend = clv.GammaGamma().fit(rfm)         # + monetary_value
>>> values = spend.clv(purchases, rfm, horizon=52.0, annual_discount_rate=0.1)

Pure modelling: numpy/pandas/xarray/PyMC in, xarray out; no file I/O, no CLI, no import of
``workbench``. Modules: ``estimators`` (BetaGeo, GammaGamma), ``compared`` (ParetoNBD,
ModifiedBetaGeo), ``bgnbd`` / ``gamma_gamma`` (the likelihoods), ``inference`` (maximum
likelihood and the PyMC posterior over a likelihood), ``newton`` (the optimiser), ``data``
(input checks, unique rows + weights), ``formulas`` (closed forms), ``value`` (per-customer
values), ``tracking`` (population curves), ``plots`` (figures), ``settings`` (defaults).
"""

from __future__ import annotations

import importlib

#: Public names and the module each lives in; imported on first use, so that reading
#: ``clv.settings`` (the CLI's option defaults) does not import scipy and xarray.
_PUBLIC = {
    "BetaGeo": "clv.estimators",
    "GammaGamma": "clv.estimators",
    "ParetoNBD": "clv.compared",
    "ModifiedBetaGeo": "clv.compared",
    "DataError": "clv.data",
    "FitError": "clv.inference",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'clv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
