"""Inference helpers shared by the model packages (``attribution``, ``clv``): the interval
definition, default sampler settings, NUTS diagnostics, draw thinning and the Laplace
approximation. A leaf: it imports neither model package nor ``workbench``."""

from posterior_tools.settings import CHAINS, DRAWS, INTERVAL, INTERVAL_QUANTILES, TUNE

__all__ = ["CHAINS", "DRAWS", "INTERVAL", "INTERVAL_QUANTILES", "TUNE"]
