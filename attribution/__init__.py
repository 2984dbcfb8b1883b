"""Bayesian multi-touch attribution: pattern table -> posterior -> channel credit.

Pure modelling (numpy/xarray/PyMC in, xarray out): no file I/O, never imports ``workbench``.
PyMC is imported only inside the functions that fit, so importing this package stays fast.

Typical use on the pattern table of docs/contracts.md (channels sorted by name)::

    patterns = as_patterns(pattern_table, channels)          # validates, ValueError on bad rows
    model = ConversionModel(channels, recency_ages_days(lookback_days), seed=0).fit(patterns)
    credit = shapley_credit(model.posterior_, patterns)      # attributed/incremental/baseline
    checks = posterior_predictive_checks(model.posterior_, patterns)
    losses = holdout_log_loss(model, patterns)               # refits on non-holdout patterns
    prob = conversion_probability(model.posterior_, pattern_counts(patterns), exposure_scale)
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
from attribution.shapley import shapley_credit, thin_posterior

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
    "thin_posterior",
]
