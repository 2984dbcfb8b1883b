"""Bayesian multi-touch attribution: pattern table -> posterior -> channel credit.

Pure modelling (numpy/xarray/PyMC in, xarray out): no file I/O, never imports ``workbench``.
PyMC is imported only inside the functions that fit, so importing this package stays fast.
"""

from attribution.checks import holdout_log_loss, logistic_log_loss, posterior_predictive_checks
from attribution.features import (
    COUNT_CAP,
    DEFAULT_LOOKBACK_DAYS,
    RECENCY_EDGES_DAYS,
    Patterns,
    as_patterns,
    decode_codes,
    encode_counts,
    pattern_counts,
    recency_ages_days,
)
from attribution.model import ConversionModel, Priors
from attribution.probability import conversion_probability
from attribution.shapley import shapley_credit

__all__ = [
    "COUNT_CAP",
    "DEFAULT_LOOKBACK_DAYS",
    "RECENCY_EDGES_DAYS",
    "ConversionModel",
    "Patterns",
    "Priors",
    "as_patterns",
    "conversion_probability",
    "decode_codes",
    "encode_counts",
    "holdout_log_loss",
    "logistic_log_loss",
    "pattern_counts",
    "posterior_predictive_checks",
    "recency_ages_days",
    "shapley_credit",
]
