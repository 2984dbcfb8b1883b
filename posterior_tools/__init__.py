"""Inference helpers shared by the model packages (``attribution``, ``clv``): the interval
definition, default sampler settings (``settings``), NUTS and Laplace diagnostics with one pass/fail
key ``diagnostics_ok`` (``diagnostics``), the Laplace approximation (``laplace``, imports PyMC
lazily), draw thinning and interval summaries (``draws``). A leaf: it imports neither model
package nor ``workbench``.

``import posterior_tools.settings`` stays light (the CLI's help texts read it): the submodules
that need xarray are imported on first use of their names (PEP 562)."""

from importlib import import_module

from posterior_tools.settings import CHAINS, DRAWS, INTERVAL, INTERVAL_QUANTILES, TUNE

_LAZY = {"interval": "draws", "summarise": "draws", "thin_draws": "draws"}

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


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"posterior_tools.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'posterior_tools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
