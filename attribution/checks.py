"""Model checks: posterior predictive conversions by group, held-out log-loss vs logistic.

- Posterior predictive check (Gelman et al., BDA3 ch. 6): observed conversions per path length
  (total capped touches) and per channel (journeys that saw the channel) against the model's
  predictive distribution. The predictive sum over a group's journeys, a sum of independent
  Binomials, is drawn per posterior draw from its moment-matched normal (mean sum n P, variance
  sum n P (1 - P)): accurate for group sums of many journeys and cheap at millions of patterns.
- Held-out log-loss: mean Bernoulli negative log-likelihood per journey (nats) on the
  ``holdout`` patterns, for the Bayesian model fitted on the other patterns and for a logistic
  regression on the capped counts (statsmodels GLM Binomial, journeys as frequency weights).
  The Bayesian refit uses the Laplace approximation by default (``HOLDOUT_REFIT_METHOD``)
  whatever the main fit used: a second NUTS run would double the cost of a default run, and
  the log-loss of the posterior-mean probability depends on the posterior's centre far more
  than on its tails (the Laplace approximation is validated against NUTS in the tests).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import xarray as xr

from attribution.features import RECENCY_EDGES_DAYS, Patterns, decode_codes
from attribution.probability import code_probability, posterior_draws
from attribution.shapley import thin_posterior, unique_codes
from posterior_tools.settings import INTERVAL_QUANTILES as PPC_QUANTILES

# Patterns per chunk when summing predicted conversions by group.
PPC_CHUNK_PATTERNS = 50_000
# (pattern x draw) budget of the checks: group sums need fewer draws than the credit.
CHECK_MAX_CELLS = 20_000_000
# ... and at most about this many draws: enough for the 5% and 95% predictive quantiles.
PPC_MAX_DRAWS = 400
# Posterior draws behind the held-out log-loss: it scores the posterior-mean probability per
# pattern, whose Monte Carlo error with 200 draws is far below the differences between models.
LOG_LOSS_MAX_DRAWS = 200
# Probabilities are clipped away from 0 and 1 before taking logs in the log-loss.
LOG_LOSS_EPS = 1e-12
# Posterior method of the held-out refit ("laplace", "nuts" or "auto"; None = the model's own).
HOLDOUT_REFIT_METHOD: str | None = "laplace"


def posterior_predictive_checks(
    posterior: xr.Dataset, patterns: Patterns, *, seed: int = 0
) -> xr.Dataset:
    """Observed vs posterior predictive conversions by path length and by channel.

    Returns a Dataset with, for group dims ``path_length`` (total capped touches) and
    ``channel``: ``observed_by_<g>``, ``journeys_by_<g>``, ``predicted_by_<g>_mean``,
    ``predicted_by_<g>_q05``, ``predicted_by_<g>_q95`` (conversions, counts of journeys).
    """
    max_cells = min(CHECK_MAX_CELLS, PPC_MAX_DRAWS * patterns.n_patterns)
    thinned, _ = thin_posterior(posterior, patterns.n_patterns, max_cells)
    draws = posterior_draws(thinned)
    # P depends on the codes only, and the groups (path length, channels present) are functions
    # of the codes too: sums over the unique code rows with journeys merged are the same sums.
    patterns = unique_codes(patterns).patterns
    n_bins = len(thinned.attrs["recency_ages_days"])
    counts = decode_codes(patterns.codes, n_bins)  # (pattern, channel, bin)
    length = counts.sum(axis=(1, 2))
    lengths = np.unique(length)
    length_group = np.searchsorted(lengths, length)
    present = (patterns.codes > 0).astype(np.float64)  # (pattern, channel)
    n = patterns.n_journeys.astype(np.float64)
    n_samples = draws.n_samples
    mean_len = np.zeros((n_samples, len(lengths)))
    var_len = np.zeros_like(mean_len)
    mean_ch = np.zeros((n_samples, len(patterns.channels)))
    var_ch = np.zeros_like(mean_ch)
    for start in range(0, patterns.n_patterns, PPC_CHUNK_PATTERNS):
        sl = slice(start, start + PPC_CHUNK_PATTERNS)
        prob = code_probability(draws, patterns.codes[sl])
        expected = prob * n[sl]
        variance = expected * (1 - prob)
        onehot = np.eye(len(lengths))[length_group[sl]]
        mean_len += expected @ onehot
        var_len += variance @ onehot
        mean_ch += expected @ present[sl]
        var_ch += variance @ present[sl]
    rng = np.random.default_rng(seed)
    k = patterns.n_conversions.astype(np.float64)
    groups = {
        "path_length": (
            lengths,
            mean_len,
            var_len,
            np.bincount(length_group, weights=k, minlength=len(lengths)),
            np.bincount(length_group, weights=n, minlength=len(lengths)),
        ),
        "channel": (list(patterns.channels), mean_ch, var_ch, k @ present, n @ present),
    }
    out = xr.Dataset()
    for dim, (labels, mean, var, observed, journeys) in groups.items():
        predicted = np.maximum(mean + np.sqrt(var) * rng.standard_normal(mean.shape), 0.0)
        lo, hi = np.quantile(predicted, PPC_QUANTILES, axis=0)
        out[f"observed_by_{dim}"] = xr.DataArray(observed, dims=dim)
        out[f"journeys_by_{dim}"] = xr.DataArray(journeys, dims=dim)
        out[f"predicted_by_{dim}_mean"] = xr.DataArray(predicted.mean(axis=0), dims=dim)
        out[f"predicted_by_{dim}_q05"] = xr.DataArray(lo, dims=dim)
        out[f"predicted_by_{dim}_q95"] = xr.DataArray(hi, dims=dim)
        out = out.assign_coords({dim: labels})
    return out


def binomial_log_loss(probability: np.ndarray, n: np.ndarray, k: np.ndarray) -> float:
    """Mean per-journey Bernoulli negative log-likelihood (nats) of pattern probabilities."""
    p = np.clip(np.asarray(probability, dtype=np.float64), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    return float(-(k * np.log(p) + (n - k) * np.log1p(-p)).sum() / n.sum())


def model_log_loss(posterior: xr.Dataset, patterns: Patterns) -> float:
    """Log-loss of the posterior predictive probability (mean P over draws) on ``patterns``.

    Uses at most about ``LOG_LOSS_MAX_DRAWS`` evenly spaced draws (nats per journey).
    """
    max_cells = min(CHECK_MAX_CELLS, LOG_LOSS_MAX_DRAWS * patterns.n_patterns)
    thinned, _ = thin_posterior(posterior, patterns.n_patterns, max_cells)
    # the log-loss sums k log P + (n - k) log(1 - P): merging rows with equal codes (equal P)
    # and summing their n and k gives the same sum
    merged = unique_codes(patterns).patterns
    prob = code_probability(posterior_draws(thinned), merged.codes).mean(axis=0)
    return binomial_log_loss(prob, merged.n_journeys, merged.n_conversions)


def logistic_log_loss(train: Patterns, test: Patterns) -> float:
    """Held-out log-loss of a logistic regression on capped counts (channel x recency bin).

    statsmodels GLM Binomial (logit link) on the conversion rate per pattern with
    ``freq_weights = n_journeys``: the same likelihood as one Bernoulli row per journey.
    """
    import statsmodels.api as sm

    n_bins = len(RECENCY_EDGES_DAYS)

    def design(p: Patterns) -> np.ndarray:
        x = decode_codes(p.codes, n_bins).reshape(p.n_patterns, -1).astype(np.float64)
        return sm.add_constant(x, has_constant="add")

    # rows with equal codes have equal designs: merged (n and k summed) they give the same
    # likelihood, hence the same fit, from about half the rows at scale
    train = unique_codes(train).patterns
    rate = train.n_conversions / train.n_journeys
    glm = sm.GLM(rate, design(train), family=sm.families.Binomial(), freq_weights=train.n_journeys)
    fitted = glm.fit()
    return binomial_log_loss(fitted.predict(design(test)), test.n_journeys, test.n_conversions)


def holdout_log_loss(
    model, patterns: Patterns, *, refit_method: str | None = HOLDOUT_REFIT_METHOD
) -> dict[str, float]:
    """Fit a copy of ``model`` (a ``ConversionModel``) and the logistic baseline on the
    non-holdout patterns; return their log-loss per journey on the holdout patterns.

    ``refit_method`` is the copy's posterior method ("laplace" by default, see the module
    docstring; None keeps ``model.method``). The copy keeps at most about
    ``LOG_LOSS_MAX_DRAWS`` draws in total (all that the log-loss uses). When ``model`` is
    fitted and its posterior has no synergy term (none passed its selection on the full
    data), the copy is fitted without synergy too: the same model structure, without repeating
    the selection's extra mode search (the structure is then chosen on all journeys, as for
    the main fit; the parameters are still learned on the training split only).

    Returns ``{"bayes": ..., "logistic": ...}`` (nats per journey; lower is better).
    """
    if not patterns.holdout.any() or patterns.holdout.all():
        raise ValueError("holdout log-loss needs both holdout and training patterns")
    train = patterns.subset(~patterns.holdout)
    test = patterns.subset(patterns.holdout)
    method = model.method if refit_method is None else refit_method
    draws = min(model.draws, max(1, math.ceil(LOG_LOSS_MAX_DRAWS / model.chains)))
    posterior = getattr(model, "posterior_", None)
    synergy = model.synergy and (posterior is None or "synergy" in posterior)
    # Start the refit's mode search at the full fit's mode (same structure: ignored otherwise).
    mode = getattr(model, "mode_", None)
    start = None if mode is None else mode.x
    fitted = dataclasses.replace(
        model, method=method, draws=draws, synergy=synergy, start=start
    ).fit(train)
    return {
        "bayes": model_log_loss(fitted.posterior_, test),
        "logistic": logistic_log_loss(train, test),
    }
