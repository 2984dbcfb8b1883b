"""Inference helpers shared by the model packages (``attribution``, ``clv``): the interval
definition, default sampler settings (``settings``), NUTS and Laplace diagnostics with one pass/fail
key ``diagnostics_ok`` (``diagnostics``), the Laplace approximation (``laplace``, imports PyMC
lazily), draw thinning and interval summaries (``draws``). A leaf: it imports neither model
package nor ``workbench``."""

from posterior_tools.draws import interval, summarise, thin_draws
from posterior_tools.settings import CHAINS, DRAWS, INTERVAL, INTERVAL_QUANTILES, TUNE

__all__ = [
    "CHAINS",
    "DRAWS",
    "INTERVAL",
    "INTERVAL_QUANTILES",
    "TUNE",
    "interval",
    "summarise",
    "thin_draws",
]
