"""Model criticism: posterior predictive conversions by group with a pass/fail rule, held-out
log-loss against a logistic regression and gradient-boosted trees, and the flags that follow.

- Posterior predictive check (Gelman et al., BDA3 ch. 6): observed conversions per path length
  (total capped touches), per channel (journeys that saw the channel), per opening channel, per
  closing channel and per number of distinct channels, against the model's predictive
  distribution. The predictive sum over a group's journeys, a sum of independent Binomials, is
  drawn per posterior draw from its moment-matched normal (mean sum n P, variance sum n P (1 -
  P)): accurate for group sums of many journeys and cheap at millions of patterns.
- Pass/fail rule: a group fails when its observed conversions lie outside the predictive
  distribution at a two-sided level ``PPC_ALPHA`` Bonferroni-corrected over all groups (z from
  the predictive mean and standard deviation, parameter uncertainty included) **and** differ
  from the predictive mean by more than ``PPC_MIN_RELATIVE_GAP`` of it (at millions of journeys
  a misfit of a few percent is significant yet does not change the credit). Groups with fewer
  than ``PPC_MIN_GROUP_CONVERSIONS`` expected conversions are not judged. A failed opening or
  closing channel names that channel's credit as unreliable; a failed path-length or
  distinct-channel group questions every channel's credit.
- Held-out log-loss: mean Bernoulli negative log-likelihood per journey (nats) on the
  ``holdout`` patterns, for the Bayesian model fitted on the other patterns, a logistic
  regression on the journey features (capped counts per channel and recency bin, opening and
  closing channel; scikit-learn's unpenalised LogisticRegression, journeys as weights) and its
  gradient-boosted trees on the same features (a flexible baseline: any shape of response and
  interaction). The model is flagged as beaten when a baseline's log-loss is lower than its own
  by more than ``BEATEN_TOLERANCE`` (relative).
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
from scipy import stats as st

from attribution.features import RECENCY_EDGES_DAYS, Patterns, decode_codes
from attribution.probability import code_probability, posterior_draws
from attribution.shapley import thin_posterior, unique_codes, unique_rows
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
#: Family-wise two-sided level of the posterior predictive check over all groups (Bonferroni).
PPC_ALPHA = 0.01
#: ... and a failing group's observed conversions differ from the prediction by more than this
#: fraction of it.
PPC_MIN_RELATIVE_GAP = 0.10
#: Groups expecting fewer conversions than this are shown but not judged.
PPC_MIN_GROUP_CONVERSIONS = 20.0
#: Group dims of the posterior predictive check, in the order they are reported.
PPC_GROUPS = ("path_length", "distinct_channels", "channel", "opening_channel", "closing_channel")
#: The model counts as beaten when a baseline's held-out log-loss is lower by more than this
#: fraction of the model's.
BEATEN_TOLERANCE = 0.01
#: Logistic baseline (scikit-learn LogisticRegression, no penalty: C = inf): Newton iterations
#: until the largest gradient entry is below ``tol`` (the log-loss is then exact to far more
#: digits than reported).
LOGISTIC = {"tol": 1e-10, "max_iter": 100}
#: Threads of the baselines' OpenMP and BLAS pools. Their fits are small (tens of thousands of
#: rows): on the shared 2-core machine, at load 12, two threads spent 2.7 s CPU and 17 s wall on
#: the two baselines at 200,000 journeys, one thread 0.3 s CPU and 2.6 s (same log-losses).
BASELINE_THREADS = 1
#: Gradient-boosted trees (scikit-learn HistGradientBoostingClassifier): settings of the
#: flexible baseline; early stopping on 10% of its training rows picks the number of trees.
BOOSTED_TREES = {
    "learning_rate": 0.1,
    "max_iter": 300,
    "max_leaf_nodes": 15,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
}


def posterior_predictive_checks(
    posterior: xr.Dataset, patterns: Patterns, *, seed: int = 0
) -> xr.Dataset:
    """Observed vs posterior predictive conversions by group, with the pass/fail rule.

    Returns a Dataset with, for each group dim of ``PPC_GROUPS`` (``path_length``: total capped
    touches; ``distinct_channels``; ``channel``: journeys that saw it; ``opening_channel`` and
    ``closing_channel``: journeys it opened / closed, when the pattern table has them):
    ``observed_by_<g>``, ``journeys_by_<g>``, ``predicted_by_<g>_mean``,
    ``predicted_by_<g>_q05``, ``predicted_by_<g>_q95`` (conversions, journeys),
    ``ppc_z_by_<g>`` (standardised gap) and ``ppc_ok_by_<g>`` (1 pass, 0 fail). Attrs
    ``ppc_ok`` (1 when every judged group passes), ``ppc_failed`` (labels of failed groups),
    ``ppc_threshold_z``.
    """
    max_cells = min(CHECK_MAX_CELLS, PPC_MAX_DRAWS * patterns.n_patterns)
    thinned, _ = thin_posterior(posterior, patterns.n_patterns, max_cells)
    draws = posterior_draws(thinned, observational=True)
    # P depends on the codes (and the opening channel); the groups are functions of the codes
    # and the opening and closing channels: sums over rows merged on those are the same sums.
    roles = patterns.has_roles
    if roles:
        patterns = _merged(patterns)
    else:
        patterns = unique_codes(patterns).patterns
    n_bins = len(thinned.attrs["recency_ages_days"])
    counts = decode_codes(patterns.codes, n_bins)  # (pattern, channel, bin)
    present = (patterns.codes > 0).astype(np.float64)  # (pattern, channel)
    membership = {
        "path_length": _one_hot(counts.sum(axis=(1, 2))),
        "distinct_channels": _one_hot(present.sum(axis=1).astype(np.int64)),
        "channel": (list(patterns.channels), present),
    }
    if roles:
        n_channels = len(patterns.channels)
        for dim, which in (
            ("opening_channel", patterns.first_channel),
            ("closing_channel", patterns.last_channel),
        ):
            onehot = (which[:, None] == np.arange(n_channels)[None, :]).astype(np.float64)
            membership[dim] = (list(patterns.channels), onehot)
    n = patterns.n_journeys.astype(np.float64)
    k = patterns.n_conversions.astype(np.float64)
    n_samples = draws.n_samples
    sums = {
        dim: [np.zeros((n_samples, m.shape[1])) for _ in range(2)]
        for dim, (_, m) in membership.items()
    }
    first = patterns.first_channel if roles else None
    for start in range(0, patterns.n_patterns, PPC_CHUNK_PATTERNS):
        sl = slice(start, start + PPC_CHUNK_PATTERNS)
        prob = code_probability(draws, patterns.codes[sl], None if first is None else first[sl])
        expected = prob * n[sl]
        # variance = expected (1 - P), written over P: one (draw x pattern) array fewer to
        # allocate and fault in (at 200,000 journeys 14.5M cells, 0.49 -> 0.24 CPU s)
        variance = np.multiply(np.subtract(1.0, prob, out=prob), expected, out=prob)
        for dim, (_, m) in membership.items():
            sums[dim][0] += expected @ m[sl]
            sums[dim][1] += variance @ m[sl]
    rng = np.random.default_rng(seed)
    out = xr.Dataset()
    z_all, judged_all = {}, {}
    for dim, (labels, m) in membership.items():
        mean, var = sums[dim]
        predicted = np.maximum(mean + np.sqrt(var) * rng.standard_normal(mean.shape), 0.0)
        lo, hi = np.quantile(predicted, PPC_QUANTILES, axis=0)
        observed = k @ m
        centre = mean.mean(axis=0)
        # predictive sd: binomial noise plus the parameters' uncertainty
        sd = np.sqrt(var.mean(axis=0) + mean.var(axis=0))
        z = (observed - centre) / np.maximum(sd, 1e-12)
        gap = np.abs(observed - centre) / np.maximum(centre, 1.0)
        judged = centre >= PPC_MIN_GROUP_CONVERSIONS
        z_all[dim], judged_all[dim] = (z, gap), judged
        out[f"observed_by_{dim}"] = xr.DataArray(observed, dims=dim)
        out[f"journeys_by_{dim}"] = xr.DataArray(n @ m, dims=dim)
        out[f"predicted_by_{dim}_mean"] = xr.DataArray(predicted.mean(axis=0), dims=dim)
        out[f"predicted_by_{dim}_q05"] = xr.DataArray(lo, dims=dim)
        out[f"predicted_by_{dim}_q95"] = xr.DataArray(hi, dims=dim)
        out[f"ppc_z_by_{dim}"] = xr.DataArray(z, dims=dim)
        out = out.assign_coords({dim: labels})
    n_judged = max(1, int(sum(j.sum() for j in judged_all.values())))
    threshold = float(st.norm.isf(PPC_ALPHA / 2.0 / n_judged))
    failed = []
    for dim in membership:
        z, gap = z_all[dim]
        bad = judged_all[dim] & (np.abs(z) > threshold) & (gap > PPC_MIN_RELATIVE_GAP)
        out[f"ppc_ok_by_{dim}"] = xr.DataArray((~bad).astype(np.int8), dims=dim)
        failed += [f"{dim}={label}" for label in out[dim].values[bad]]
    out.attrs.update(
        {"ppc_ok": int(not failed), "ppc_failed": failed, "ppc_threshold_z": round(threshold, 3)}
    )
    return out


def _one_hot(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, one-hot (row, label)) of integer group values."""
    labels = np.unique(values)
    return labels, (values[:, None] == labels[None, :]).astype(np.float64)


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
    draws = posterior_draws(thinned, observational=True)
    merged = unique_codes(patterns, by_first=draws.has_roles).patterns
    first = merged.first_channel if draws.has_roles else None
    prob = code_probability(draws, merged.codes, first).mean(axis=0)
    return binomial_log_loss(prob, merged.n_journeys, merged.n_conversions)


def journey_features(patterns: Patterns) -> np.ndarray:
    """Baseline features per pattern (pattern, feature): capped counts per channel and recency
    bin, then one-hot opening and closing channel when known."""
    n_bins = len(RECENCY_EDGES_DAYS)
    x = decode_codes(patterns.codes, n_bins).reshape(patterns.n_patterns, -1).astype(np.float64)
    if not patterns.has_roles:
        return x
    channels = np.arange(len(patterns.channels))
    first = (patterns.first_channel[:, None] == channels[None, :]).astype(np.float64)
    last = (patterns.last_channel[:, None] == channels[None, :]).astype(np.float64)
    # one level of each dropped: the intercept carries it
    return np.column_stack([x, first[:, 1:], last[:, 1:]])


def _merged(patterns: Patterns) -> Patterns:
    """Rows merged on everything the baselines see (codes, opening and closing channel)."""
    key = np.column_stack([patterns.codes, patterns.first_channel, patterns.last_channel])
    uniq, inverse = unique_rows(key)
    rows, c = len(uniq), patterns.codes.shape[1]
    return Patterns(
        patterns.channels,
        np.ascontiguousarray(uniq[:, :c]),
        np.bincount(inverse, weights=patterns.n_journeys, minlength=rows).astype(np.int64),
        np.bincount(inverse, weights=patterns.n_conversions, minlength=rows).astype(np.int64),
        np.zeros(rows, dtype=bool),
        uniq[:, c],
        uniq[:, c + 1],
        patterns.capped_counts,
    )


def logistic_log_loss(train: Patterns, test: Patterns) -> float:
    """Held-out log-loss of a logistic regression on the journey features (``journey_features``).

    scikit-learn's ``LogisticRegression`` without penalty (the maximum-likelihood fit; Newton
    steps with a Cholesky solve) on each training pattern as two weighted rows (converted:
    weight k; not: n - k), the same likelihood as one Bernoulli row per journey. The same
    coefficients as statsmodels' GLM Binomial with ``freq_weights`` (to 1e-13 at 200,000
    journeys), about 8x faster (its IRLS solves a pseudo-inverse per iteration).
    """
    import warnings

    from scipy.linalg import LinAlgWarning
    from sklearn.linear_model import LogisticRegression

    x, y, weight = _weighted_rows(train)
    # features constant over the training rows (a channel that never opened a journey) carry
    # no information and make the Hessian singular: their coefficient is 0
    varying = np.ptp(x, axis=0) > 0
    if not varying.any():  # the intercept alone: the training conversion rate
        rate = np.sum(weight * y) / np.sum(weight)
        return binomial_log_loss(
            np.full(test.n_patterns, rate), test.n_journeys, test.n_conversions
        )
    fit = LogisticRegression(C=np.inf, solver="newton-cholesky", **LOGISTIC)
    with warnings.catch_warnings():
        # other collinear features: scikit-learn continues with L-BFGS (the predicted
        # probabilities, all the log-loss uses, are unique even when the coefficients are not)
        warnings.simplefilter("ignore", LinAlgWarning)
        fit.fit(x[:, varying], y, sample_weight=weight)
    prob = fit.predict_proba(journey_features(test)[:, varying])[:, 1]
    return binomial_log_loss(prob, test.n_journeys, test.n_conversions)


def _weighted_rows(train: Patterns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features, label, weight)``: each pattern as a converted row of weight k and a
    non-converted row of weight n - k (zero-weight rows dropped), after merging rows with equal
    features (the same likelihood, from about half the rows at scale)."""
    train = _merged(train)
    x = journey_features(train)
    k = train.n_conversions.astype(np.float64)
    rest = (train.n_journeys - train.n_conversions).astype(np.float64)
    rows = np.concatenate([np.flatnonzero(k > 0), np.flatnonzero(rest > 0)])
    y = np.concatenate([np.ones(int((k > 0).sum())), np.zeros(int((rest > 0).sum()))])
    weight = np.concatenate([k[k > 0], rest[rest > 0]])
    return x[rows], y, weight


def boosted_trees_log_loss(train: Patterns, test: Patterns, seed: int = 0) -> float:
    """Held-out log-loss of gradient-boosted trees (scikit-learn's
    ``HistGradientBoostingClassifier``, settings ``BOOSTED_TREES``) on the journey features
    (training rows as in ``_weighted_rows``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, weight = _weighted_rows(train)
    trees = HistGradientBoostingClassifier(random_state=seed, **BOOSTED_TREES)
    trees.fit(x, y, sample_weight=weight)
    prob = trees.predict_proba(journey_features(test))[:, 1]
    return binomial_log_loss(prob, test.n_journeys, test.n_conversions)


def baseline_threads():
    """Context manager: the baselines' OpenMP and BLAS pools limited to ``BASELINE_THREADS``.

    scikit-learn's estimators are imported first: threadpoolctl limits only the libraries
    loaded when the limit is entered, and scikit-learn ships its own OpenMP runtime, loaded
    with ``sklearn.ensemble``. Imported inside the limit (as before), the boosted trees kept two
    OpenMP threads whose spinning cost 0.7-15.9 CPU s at 200,000 journeys on the shared 2-core
    machine, against 0.19 s on one thread (same log-loss; bench/RESULTS.md, issue 17).
    """
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime)
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(BASELINE_THREADS)


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

    Returns ``{"bayes": ..., "logistic": ..., "boosted_trees": ...}`` (nats per journey; lower
    is better).
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
    openers = getattr(model, "opening_channels_", None)
    fitted = dataclasses.replace(
        model,
        method=method,
        draws=draws,
        synergy=synergy,
        start=start,
        opening_channels=None if openers is None else list(openers),
        # the log-loss scores the posterior-mean P, which the spike barely moves
        spike_and_slab=False,
    ).fit(train)
    with baseline_threads():
        logistic = logistic_log_loss(train, test)
        trees = boosted_trees_log_loss(train, test, seed=int(model.seed or 0))
    return {
        "bayes": model_log_loss(fitted.posterior_, test),
        "logistic": logistic,
        "boosted_trees": trees,
    }


def criticism(ppc: xr.Dataset, log_loss: dict[str, float]) -> dict:
    """The flags of the checks: which channels' credit is unreliable, and why (plain words).

    Returns ``{"model_ok": 0|1, "beaten_by": [...], "unreliable_channels": [...],
    "reasons": [...]}``: ``beaten_by`` lists baselines whose held-out log-loss is lower than
    the model's by more than ``BEATEN_TOLERANCE``; a channel is unreliable when its opening or
    closing group fails the predictive check, every channel when a path-length or
    distinct-channel group fails or the model is beaten."""
    channels = [str(c) for c in ppc["channel"].values] if "channel" in ppc.coords else []
    reasons, unreliable = [], []
    bayes = log_loss.get("bayes")
    beaten = [
        name
        for name, value in log_loss.items()
        if name not in ("bayes", "markov")
        and bayes is not None
        and np.isfinite(value)
        and value < bayes * (1.0 - BEATEN_TOLERANCE)
    ]
    if beaten:
        reasons.append(
            "a simpler baseline predicts held-out journeys better ("
            + ", ".join(f"{b} {log_loss[b]:.4f}" for b in beaten)
            + f" vs the model's {bayes:.4f} nats per journey)"
        )
        unreliable = list(channels)
    failed = list(ppc.attrs.get("ppc_failed", []))
    for dim in ("opening_channel", "closing_channel"):
        role = "open" if dim.startswith("opening") else "close"
        bad = [f.split("=", 1)[1] for f in failed if f.startswith(f"{dim}=")]
        if bad:
            reasons.append(
                f"conversions of journeys that {', '.join(bad)} {role} differ from the model's "
                "prediction"
            )
            unreliable += [c for c in bad if c not in unreliable]
    shape = [f for f in failed if f.startswith(("path_length=", "distinct_channels="))]
    if shape:
        reasons.append(
            "conversions by journey length differ from the model's prediction ("
            + ", ".join(shape)
            + ")"
        )
        unreliable = list(channels)
    other = [f.split("=", 1)[1] for f in failed if f.startswith("channel=")]
    if other:
        reasons.append(
            f"conversions of journeys that saw {', '.join(other)} differ from the model's "
            "prediction"
        )
        unreliable += [c for c in other if c not in unreliable]
    return {
        "model_ok": int(not reasons),
        "beaten_by": beaten,
        "unreliable_channels": [c for c in channels if c in unreliable],
        "reasons": reasons,
    }
