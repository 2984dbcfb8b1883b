"""What an acquired customer is worth (currency): the first order plus the expected value of the
repeat orders of a NEW customer acquired by each channel, with its uncertainty per draw.

clv.nc gives per-customer purchase histories (``frequency``, ``recency``, ``T``), expected
order values and, when attribution results were given, ``acquisition_channel_share(customer_id,
channel)`` (the credit of each customer's first converting journey).

**Per-channel purchase model** (when clv.nc has the histories and the shares): a finite mixture
of BG/NBDs, one per acquisition class (the channels, plus an ``unattributed`` class for the part
of each customer no channel is credited with, organic customers entirely). Each customer was
acquired by ONE class, unknown; the prior probability of class ``c`` is the customer's credit
share ``w_ic`` (the unattributed class ``1 - sum_c w_ic``), so the likelihood is

    sum_i log sum_c w_ic L_i(theta_c)

(``L_i`` the customer's BG/NBD likelihood of their (frequency, recency, T)), with a normal prior
on every class's log-parameters centred on the fit to all customers (sd
``CHANNEL_PRIOR_LOG_SD``: partial pooling, so a class with few customers stays near the pooled
model). Maximised jointly (L-BFGS with the analytic gradient; the Hessian by differences of the
gradient); each channel's block of the Laplace covariance is sampled per draw. (A fit weighting
every customer by their share instead puts each channel's likelihood on a blend of several
channels' customers, which pulls every channel towards the others: on the budget worlds'
e-mail and social customers, 180 and 81 true, with shared credit as in
tests/test_planning_value.py, it gives 142 and 116; the mixture 168 and 85.) The mixture
assumes the shares are the probabilities of the acquiring channel; where each customer's
channel is in fact the one with the largest share, it separates the channels somewhat too
much (the same customers credited 70/30 to their own channel: social 55-72 against 81).
A channel's customer is worth

    aov_c x (1 + E[X_c(horizon)])

with ``aov_c`` the mean expected order value of its customers weighted by the mixture's
responsibilities (each customer's posterior probability of the class; a normal draw with the
sampling error of that mean, sd / sqrt(effective n)) and ``E[X_c(t)]`` the expected repeat
purchases of a new customer within ``t`` (FHL eq. 9), discounted as clv.nc's CLV is (its
``horizon``, ``time_unit`` and ``annual_discount_rate``). The plan needs exactly this: extra
conversions are new customers, valued from their acquisition on. (The per-customer ``clv`` of
clv.nc is another quantity: the remaining value of existing customers after their observed
weeks, each shrunk towards the pooled model, which compresses the channels' differences.) A
customer credited to no channel is worth the pooled model's new customer (the unattributed class
only keeps those customers out of the channels' classes; its own estimate rests on few customers
and is noisier than the pooled model's).

Without purchase histories or shares, the older rule: the share-weighted mean order value plus
``clv_by_channel`` (or the mean CLV), with the sampling error of a credit-weighted mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

#: z-score of the 95% quantile: turns a 90% interval into a standard deviation.
Z90 = 1.6448536269514722
#: Prior sd of a channel's log BG/NBD parameters around the pooled fit (partial pooling).
CHANNEL_PRIOR_LOG_SD = 1.0
#: A channel whose customers' shares sum to less than this takes the pooled purchase model.
MIN_CHANNEL_CUSTOMERS = 1.0
#: Step (log-parameters) of the forward differences of the mixture's gradient (its Hessian).
HESSIAN_STEP = 1e-5
#: L-BFGS settings of the mixture's fit (more correction pairs than scipy's 10: the classes'
#: parameters are strongly coupled through the shared customers).
LBFGS_OPTIONS = {"maxcor": 30}
#: ``a`` of the BG/NBD this close to 1 is moved off it (E[X(t)]'s closed form is 0/0 there).
A_NEAR_ONE = 1e-6
#: Time unit and horizon when clv.nc's attrs do not say (clv.settings' defaults).
DEFAULT_TIME_UNIT, DEFAULT_HORIZON = "W", 52.0
PURCHASE_COLUMNS = ("frequency", "recency", "T")


def credit_weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Credit-weighted mean per channel: values (customer,), weights (customer, channel)."""
    ok = np.isfinite(values)
    total = weights[ok].sum(axis=0)
    out = np.full(total.shape, np.nan)
    np.divide(values[ok] @ weights[ok], total, out=out, where=total > 0)
    return out


def _mean_sd(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sampling sd of the credit-weighted mean per channel: sd(values) / sqrt(effective n),
    effective n = (sum w)^2 / sum w^2 (0 for a channel without customers)."""
    ok = np.isfinite(values)
    w, v = weights[ok], values[ok]
    n_eff = np.divide(w.sum(0) ** 2, (w**2).sum(0), out=np.zeros(w.shape[1]), where=w.sum(0) > 0)
    spread = np.std(v, ddof=1) if v.size > 1 else 0.0
    return np.divide(spread, np.sqrt(n_eff), out=np.zeros_like(n_eff), where=n_eff > 0)


@dataclass(frozen=True)
class CustomerValue:
    """Value of a customer acquired by each channel (currency): ``worth`` (channel,) the point
    value, ``baseline`` a customer credited to no channel, ``note`` how it was computed, and
    ``draw(n_samples, seed)`` (sample, channel) its uncertainty."""

    worth: np.ndarray
    baseline: float
    note: str
    aov: np.ndarray  # (channel,) currency per order
    aov_sd: np.ndarray  # (channel,)
    theta: np.ndarray | None  # (channel, 4) MAP log(r, alpha, a, b); None: older rule
    theta_cov: np.ndarray | None  # (channel, 4, 4)
    worth_sd: np.ndarray  # (channel,) older rule's sd
    steps: tuple[np.ndarray, np.ndarray] | None  # discount step ends and factors

    def draw(self, n_samples: int, seed: int) -> np.ndarray:
        """Per-sample value of a customer acquired by each channel (sample, channel)."""
        rng = np.random.default_rng(seed)
        n_c = self.worth.size
        if self.theta is None:
            z = rng.standard_normal((n_samples, n_c))
            return np.maximum(self.worth[None, :] + self.worth_sd[None, :] * z, 0.0)
        aov = self.aov[None, :] + self.aov_sd[None, :] * rng.standard_normal((n_samples, n_c))
        repeats = np.empty((n_samples, n_c))
        for c in range(n_c):
            theta = rng.multivariate_normal(self.theta[c], self.theta_cov[c], size=n_samples)
            repeats[:, c] = _new_customer_repeats(theta, *self.steps)
        # A customer is never worth less than nothing.
        return np.maximum(aov * (1.0 + repeats), 0.0)


def customer_value(clv: xr.Dataset, channels: list[str]) -> CustomerValue:
    """The value of a customer each channel acquires (module docstring): the per-channel
    purchase model when clv.nc has purchase histories and acquisition shares, else the older
    rule. Raises ``InputError`` when clv.nc has nothing to value customers with."""
    order = order_values(clv)
    share = acquisition_share(clv, channels)
    histories = all(k in clv for k in PURCHASE_COLUMNS) and np.isfinite(order).any()
    if share is not None and histories:
        fitted = _per_channel_model(clv, order, share)
        if fitted is not None:
            return fitted
    return _older_rule(clv, channels, order, share)


def _per_channel_model(clv: xr.Dataset, order: np.ndarray, share: np.ndarray):
    from clv.bgnbd import BGNBDLikelihood
    from clv.inference import FitError, maximum_likelihood
    from clv.settings import UNIT_DAYS
    from clv.value import discount_steps

    f, rec, big_t = (clv[k].values.astype(float) for k in PURCHASE_COLUMNS)
    ok = np.isfinite(f) & np.isfinite(rec) & np.isfinite(big_t) & np.isfinite(order)
    if ok.sum() < 2 or not (f[ok] > 0).any():
        return None
    f, rec, big_t, order, share = f[ok], rec[ok], big_t[ok], order[ok], share[ok]
    try:
        pooled, converged, _ = maximum_likelihood(BGNBDLikelihood(f, rec, big_t))
    except (FitError, FloatingPointError, ValueError):
        return None
    if not converged:
        return None
    theta0 = np.log([pooled[k] for k in ("r", "alpha", "a", "b")])
    unit = str(clv.attrs.get("time_unit", DEFAULT_TIME_UNIT))
    horizon = float(clv.attrs.get("horizon", DEFAULT_HORIZON))
    rate = float(clv.attrs.get("annual_discount_rate", 0.0) or 0.0)
    steps = discount_steps(horizon, UNIT_DAYS.get(unit, UNIT_DAYS[DEFAULT_TIME_UNIT]), rate)
    n_c = share.shape[1]
    # Classes: the channels with customers, then the unattributed rest (when there is any;
    # credit of a channel too small to fit goes to the rest).
    fitted = np.flatnonzero(share.sum(axis=0) >= MIN_CHANNEL_CUSTOMERS)
    rest = np.clip(1.0 - share[:, fitted].sum(axis=1), 0.0, None)
    prior = np.column_stack([share[:, fitted], rest] if rest.sum() > 0 else [share[:, fitted]])
    theta = np.tile(theta0, (n_c, 1))
    cov = np.zeros((n_c, 4, 4))
    aov_all = float(np.mean(order))
    aov, aov_sd = np.full(n_c, aov_all), np.zeros(n_c)
    if fitted.size:
        mix_theta, mix_cov, resp = mixture_fit(f, rec, big_t, prior, theta0)
        theta[fitted], cov[fitted] = mix_theta[: fitted.size], mix_cov[: fitted.size]
        aov[fitted] = credit_weighted_mean(order, resp[:, : fitted.size])
        aov_sd[fitted] = _mean_sd(order, resp[:, : fitted.size])
    worth = aov * (1.0 + _new_customer_repeats(theta, *steps))
    baseline = aov_all * (1.0 + float(_new_customer_repeats(theta0[None, :], *steps)[0]))
    note = (
        "first order + expected repeat orders of a new customer, per acquiring channel: a "
        "mixture of BG/NBDs, one per acquiring channel, each customer's acquisition shares as "
        f"prior class probabilities, partially pooled (prior sd {CHANNEL_PRIOR_LOG_SD} on log "
        f"parameters), {horizon:g} {unit}, annual discount {rate:g}"
    )
    return CustomerValue(worth, baseline, note, aov, aov_sd, theta, cov, np.zeros(n_c), steps)


def mixture_fit(
    frequency: np.ndarray,
    recency: np.ndarray,
    big_t: np.ndarray,
    prior: np.ndarray,
    theta0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class BG/NBD of a mixture with known prior class probabilities ``prior`` (customer,
    K) (module docstring): MAP of log(r, alpha, a, b) (K, 4) under ``Normal(theta0,
    CHANNEL_PRIOR_LOG_SD)``, each class's block of the Laplace covariance (K, 4, 4) and the
    responsibilities (customer, K), each customer's posterior class probabilities."""
    from scipy.optimize import minimize

    from clv.bgnbd import customer_loglik

    n_k = prior.shape[1]
    precision = 1.0 / CHANNEL_PRIOR_LOG_SD**2
    # Customers with the same history and shares count once, with their number as weight
    # (e.g. single-channel customers of one day without a repeat purchase).
    rows = np.column_stack([frequency, recency, big_t, prior])
    rows, customer_row, count = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    frequency, recency, big_t, prior = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3:]
    with np.errstate(divide="ignore"):
        log_prior = np.log(prior)

    def parts(flat: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        theta = flat.reshape(n_k, 4)
        loglik, grad = customer_loglik(theta, frequency, recency, big_t)
        joint = log_prior + loglik
        top = joint.max(axis=1, keepdims=True)
        total = top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))
        resp = np.exp(joint - total[:, None])
        d = theta - theta0
        value = -count @ total + 0.5 * precision * (d * d).sum()
        score = np.einsum("nk,nkj->kj", resp * count[:, None], grad)
        return value, (precision * d - score).ravel(), resp

    start = np.tile(theta0, n_k)
    with np.errstate(all="ignore"):
        fit = minimize(
            lambda v: parts(v)[:2], start, jac=True, method="L-BFGS-B", options=LBFGS_OPTIONS
        )
        flat = fit.x if np.all(np.isfinite(fit.x)) else start
        _, grad, resp = parts(flat)
        step = HESSIAN_STEP * np.eye(flat.size)
        h = np.array([(parts(flat + e)[1] - grad) / HESSIAN_STEP for e in step])
    h = (h + h.T) / 2
    theta = flat.reshape(n_k, 4)
    if np.all(np.isfinite(h)) and np.all(np.linalg.eigvalsh(h) > 0):
        full = np.linalg.inv(h)
        cov = np.stack([full[4 * k : 4 * k + 4, 4 * k : 4 * k + 4] for k in range(n_k)])
    else:
        cov = np.broadcast_to(np.eye(4) / precision, (n_k, 4, 4)).copy()
    return theta, cov, resp[customer_row.ravel()]


def _new_customer_repeats(theta: np.ndarray, ends: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Discounted expected repeat purchases of a new customer over the steps ``ends`` (time
    units) with discount ``factors``, for log(r, alpha, a, b) rows ``theta`` (n, 4) -> (n,)."""
    from clv.formulas import unconditional_expected_purchases

    r, alpha, a, b = np.exp(np.asarray(theta, float)).T
    a = np.where(np.abs(a - 1.0) < A_NEAR_ONE, 1.0 + A_NEAR_ONE, a)
    with np.errstate(all="ignore"):
        cumulative = unconditional_expected_purchases(
            ends[None, :], r[:, None], alpha[:, None], a[:, None], b[:, None]
        )
    steps = np.diff(cumulative, axis=1, prepend=0.0)
    return np.nan_to_num(steps @ factors, nan=0.0, posinf=0.0)


def _older_rule(clv: xr.Dataset, channels: list[str], order: np.ndarray, share) -> CustomerValue:
    """First order + ``clv_by_channel`` (or the mean CLV), sd of a credit-weighted mean."""
    clv_all = clv["clv"].values.astype(float) if "clv" in clv else np.full(order.shape, np.nan)
    baseline = float(np.nanmean(order) + np.nanmean(clv_all))
    by_order = (
        credit_weighted_mean(order, share)
        if share is not None
        else np.full(len(channels), np.nanmean(order))
    )
    if "clv_by_channel" in clv:
        by_clv = clv["clv_by_channel"].reindex(channel=channels).values.astype(float)
        note = "first order + clv_by_channel (credit-weighted CLV per acquiring channel)"
    else:
        by_clv = np.full(len(channels), np.nanmean(clv_all))
        note = "first order + mean CLV of all customers (no clv_by_channel in clv.nc)"
    if not np.isfinite(baseline):
        from workbench.errors import InputError

        raise InputError("clv results have no clv or order values to value customers with")
    worth = by_order + by_clv
    worth = np.where(np.isfinite(worth), worth, baseline)
    sd = np.zeros(len(channels))
    if {"clv_by_channel_lower", "clv_by_channel_upper"} <= set(clv.data_vars):
        lo = clv["clv_by_channel_lower"].reindex(channel=channels).values.astype(float)
        hi = clv["clv_by_channel_upper"].reindex(channel=channels).values.astype(float)
        sd = np.nan_to_num((hi - lo) / (2 * Z90))
    elif share is not None and "clv" in clv:
        sd = _mean_sd(order + clv_all, share)
    nan = np.full(len(channels), np.nan)
    return CustomerValue(worth, baseline, note, nan, nan, None, None, sd, None)


def customer_worth(clv: xr.Dataset, channels: list[str]) -> tuple[np.ndarray, float, str]:
    """Value of an acquired customer (currency) per channel (channel,), of a customer credited
    to no channel, and a note saying how (:func:`customer_value`)."""
    value = customer_value(clv, channels)
    return value.worth, value.baseline, value.note


def worth_draws(
    clv: xr.Dataset, channels: list[str], worth: np.ndarray, n_samples: int, seed: int
) -> np.ndarray:
    """Per-sample value of a customer acquired by each channel (sample, channel), currency:
    :meth:`CustomerValue.draw` (``worth`` is the point value, kept for callers of the older
    rule, which draw around it)."""
    value = customer_value(clv, channels)
    if value.theta is None:
        value = CustomerValue(
            np.asarray(worth, float),
            value.baseline,
            value.note,
            value.aov,
            value.aov_sd,
            None,
            None,
            value.worth_sd,
            None,
        )
    return value.draw(n_samples, seed)


def order_values(clv: xr.Dataset) -> np.ndarray:
    """Expected order value per customer (currency): the Gamma-Gamma expectation when clv.nc
    has it, else the observed mean order value."""
    name = "expected_order_value" if "expected_order_value" in clv else "monetary_value"
    return clv[name].values.astype(float)


def acquisition_share(clv: xr.Dataset, channels: list[str]) -> np.ndarray | None:
    """Credit shares (customer, channel) of each customer's acquisition, or None."""
    if "acquisition_channel_share" not in clv:
        return None
    share = clv["acquisition_channel_share"].reindex(channel=channels, fill_value=0.0)
    return np.nan_to_num(share.transpose("customer_id", "channel").values.astype(float))
