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

from importlib import import_module

# Public names and the module each lives in, imported on first use (PEP 562) so that
# ``import attribution.settings`` (the CLI's help texts) does not load xarray or PyMC.
_EXPORTS = {
    "holdout_log_loss": "checks",
    "logistic_log_loss": "checks",
    "posterior_predictive_checks": "checks",
    "COUNT_CAP": "settings",
    "DEFAULT_LOOKBACK_DAYS": "settings",
    "RECENCY_EDGES_DAYS": "settings",
    "Patterns": "features",
    "as_patterns": "features",
    "decode_codes": "features",
    "encode_counts": "features",
    "pattern_counts": "features",
    "recency_ages_days": "features",
    "ConversionModel": "model",
    "Priors": "model",
    "conversion_probability": "probability",
    "shapley_credit": "shapley",
    "thin_posterior": "shapley",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"attribution.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'attribution' has no attribute {name!r}")


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


def __dir__() -> list[str]:
    return sorted(__all__)
