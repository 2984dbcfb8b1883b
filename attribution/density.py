"""The conversion model's log posterior and its gradient in numpy: the Laplace path without PyMC.

The same model as ``attribution.model.build_model`` (same priors, transforms, Jacobians and
normalising constants, same unconstrained variables in the same order), written out with its
analytic gradient. A Laplace fit needs only ``log p`` and its gradient at a few hundred points,
each a few milliseconds on the sufficient statistics; building and compiling the PyMC model for
them cost ~8 of the ~15 seconds of a 200,000-journey run (``import pymc`` 2 s, graph building
and PyTensor's rewrites and C-module cache ~1 s per compiled function, nine of them). NUTS and
lift tests still use the PyMC model; ``tests/test_attribution_density.py`` checks that the two
agree to rounding at random points, values and gradients alike.

The density exposes the small part of ``pm.Model``'s interface that
``posterior_tools.laplace`` and ``attribution.sparsity`` use: ``value_vars`` (objects with a
``name``), ``initial_point()``, ``coords``, ``named_vars_to_dims``, plus ``logp_dlogp(x)``
and ``transform(samples)`` in place of compiled PyTensor functions.

Unconstrained variables (PyMC's names; ``_log__`` is the log transform of a positive one):
``log_baseline``, ``beta_scale_log__``, ``beta_recent_log__`` (``beta_recent_free_log__`` when
some channels' effects are fixed at 0), ``decay_mu``, ``decay_sigma_log__``, ``decay_z``,
``log_saturation_recent``, then ``synergy_log__`` and ``opening_selected_log__`` when the model
has pairs or openers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from attribution.features import code_exposure, count_table, log_bin_weights

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_LOG_2_OVER_PI = 0.5 * math.log(2.0 / math.pi)
_NONE = np.zeros(0)  # "no such array" for the compiled kernel


@dataclass(frozen=True)
class _Var:
    name: str


def _normal(x, mu: float, sd: float):
    """log N(x | mu, sd) summed, and its derivative in x."""
    z = (x - mu) / sd
    return float(np.sum(-0.5 * z**2 - math.log(sd) - _HALF_LOG_2PI)), -z / sd


def _converting_terms(codes, s, beta, baseline, k, extra, by_code, g_h) -> tuple[float, float]:
    """numpy version of ``attribution.density_kernel.converting_terms`` (same arguments and
    results): a few passes over the rows, no compile, which suits the few hundred evaluations
    of a Laplace fit."""
    return _NumpyRows(codes, by_code.shape[1])(codes, s, beta, baseline, k, extra, by_code, g_h)


class _NumpyRows:
    """:func:`_converting_terms` for one table of codes (row, channel), with the index arrays
    that depend on the codes alone computed once: the rows' positions in ``s.ravel()`` (a
    gather from them takes a fifth of the time of ``s[channel, codes]``'s broadcast index) and
    each channel's codes as a contiguous column (for its ``bincount``). The same values are
    gathered and summed in the same order, so the results are identical to the last bit.
    Called with other codes it computes them for those."""

    def __init__(self, codes: np.ndarray, n_codes: int) -> None:
        self.codes = codes
        self.flat = codes + np.arange(codes.shape[1]) * n_codes  # (row, channel)
        self.columns = np.ascontiguousarray(codes.T)  # (channel, row)

    def __call__(self, codes, s, beta, baseline, k, extra, by_code, g_h) -> tuple[float, float]:
        if codes is not self.codes:
            return _NumpyRows(codes, by_code.shape[1])(
                codes, s, beta, baseline, k, extra, by_code, g_h
            )
        n_rows, n_channels = codes.shape
        h = baseline + np.ascontiguousarray(s).ravel()[self.flat] @ beta
        if extra.shape[0] == n_rows:
            h = h + extra
        if not np.all(h > 0):
            return -math.inf, 0.0
        g = k / np.expm1(h)
        if g_h.shape[0] == n_rows:
            g_h[:] = g
        for c in range(n_channels):
            by_code[c] = np.bincount(self.columns[c], weights=g, minlength=by_code.shape[1])
        return float(np.sum(k * np.log(-np.expm1(-h)))), float(g.sum())


def _half_normal_log(u, sd):
    """log HalfNormal(exp(u) | sd) + u (the log transform's Jacobian) summed, its derivative in
    u, and its derivative in log(sd) (``sd`` a scalar)."""
    x = np.exp(u)
    r2 = (x / sd) ** 2
    value = float(np.sum(_HALF_LOG_2_OVER_PI - np.log(sd) - 0.5 * r2 + u))
    return value, 1.0 - r2, float(np.sum(r2 - 1.0))


class ConversionDensity:
    """Log posterior of the conversion model on its sufficient statistics (module doc).

    Arguments as ``attribution.model.build_model`` without ``lift``: ``stats``
    (``SufficientStats``), ``channels``, ``ages_days`` (recency_bin,), ``priors``
    (``Priors``), ``zero_channels`` (effects fixed at 0).
    """

    def __init__(
        self,
        stats,
        channels: Sequence[str],
        ages_days: np.ndarray,
        priors,
        zero_channels: Sequence[int] = (),
    ) -> None:
        from attribution.model import MAX_LOG_SATURATION_FACTOR, pair_labels

        self.priors = priors
        self.channels = list(channels)
        n_channels = len(self.channels)
        zero = {int(c) for c in zero_channels}
        self.active = np.array([c for c in range(n_channels) if c not in zero], dtype=np.int64)
        self.ages = np.asarray(ages_days, dtype=np.float64)
        # (channel, code, recency_bin); a cell at the cap counts stats.capped_counts touches
        self.counts = count_table(len(self.ages), n_channels, stats.capped_counts)
        self.n_codes = self.counts.shape[1]
        self.max_log_factor = MAX_LOG_SATURATION_FACTOR
        self.pairs = np.asarray(stats.pairs, dtype=np.int64).reshape(-1, 2)
        keep_openers = np.array([c not in zero for c in stats.openers], dtype=bool)
        self.openers = np.asarray(stats.openers, dtype=np.int64)[keep_openers]
        self.by_first = np.asarray(stats.nonconv_by_first, dtype=np.float64)[keep_openers]
        # (converting pattern, channel), rows contiguous for the kernel
        self.codes = np.ascontiguousarray(stats.conv_codes, dtype=np.int64)
        self.opened = (np.asarray(stats.conv_first)[None, :] == self.openers[:, None]).astype(
            np.float64
        )  # (opener, converting pattern)
        self.nonconv_total = float(stats.nonconv_total)
        self.by_code = np.asarray(stats.nonconv_by_code, dtype=np.float64)
        self.by_pair = np.asarray(stats.nonconv_by_pair, dtype=np.float64)
        self.k = np.ascontiguousarray(stats.conv_k, dtype=np.float64)
        self.coords = {"channel": self.channels}
        if len(self.pairs):
            self.coords["channel_pair"] = pair_labels(self.channels, self.pairs)
        beta_name = "beta_recent" if len(self.active) == n_channels else "beta_recent_free"
        sizes = [
            ("log_baseline", 1),
            ("beta_scale_log__", 1),
            (f"{beta_name}_log__", len(self.active)),
            ("decay_mu", 1),
            ("decay_sigma_log__", 1),
            ("decay_z", n_channels),
            ("log_saturation_recent", n_channels),
        ]
        if len(self.pairs):
            sizes.append(("synergy_log__", len(self.pairs)))
        if len(self.openers):
            sizes.append(("opening_selected_log__", len(self.openers)))
        self.value_vars = [_Var(name) for name, _ in sizes]
        bounds = np.cumsum([0] + [size for _, size in sizes])
        self._slices = {
            name: slice(int(a), int(b))
            for (name, _), a, b in zip(sizes, bounds[:-1], bounds[1:], strict=True)
        }
        self._beta_name = beta_name
        # compile_rows() swaps in the numba kernel
        self._rows = _NumpyRows(self.codes, self.n_codes)
        self.named_vars_to_dims = {
            "beta_recent": ("channel",),
            "decay_z": ("channel",),
            "log_saturation_recent": ("channel",),
            "decay": ("channel",),
            "saturation": ("channel",),
            "beta": ("channel",),
            "opening": ("channel",),
            "synergy": ("channel_pair",),
        }

    def compile_rows(self) -> ConversionDensity:
        """Evaluate the converting patterns' rows with the numba kernel of
        ``attribution.density_kernel`` from now on (releases the GIL; ~2x numpy's speed on
        large tables, after ~0.6 s of import and cache loading): for NUTS's 10^5 evaluations,
        not a Laplace fit's few hundred. Returns ``self``."""
        from attribution.density_kernel import converting_terms

        self._rows = converting_terms
        return self

    @property
    def size(self) -> int:
        """Number of unconstrained dimensions."""
        return max(s.stop for s in self._slices.values())

    def initial_point(self) -> dict[str, np.ndarray]:
        """PyMC's initial point of the same model: the priors' centres, log(sd) of half-normals
        (the effects' sd is the scale's initial value)."""
        p = self.priors
        n = len(self.channels)
        point = {
            "log_baseline": np.array(math.log(p.baseline_median)),
            "beta_scale_log__": np.array(math.log(p.beta_scale_sd)),
            f"{self._beta_name}_log__": np.full(len(self.active), math.log(p.beta_scale_sd)),
            "decay_mu": np.array(math.log(p.decay_median)),
            "decay_sigma_log__": np.array(math.log(p.decay_sigma_sd)),
            "decay_z": np.zeros(n),
            "log_saturation_recent": np.full(n, math.log(p.saturation_median)),
        }
        if len(self.pairs):
            point["synergy_log__"] = np.full(len(self.pairs), math.log(p.synergy_sd))
        if len(self.openers):
            point["opening_selected_log__"] = np.full(len(self.openers), math.log(p.opening_sd))
        return point

    def _parts(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: x[..., s] for name, s in self._slices.items()}

    def _response(self, decay: np.ndarray, theta_recent: np.ndarray):
        """``s_recent`` (channel, code) and its derivatives in log decay and log theta_recent."""
        log_w, dlog_w = log_bin_weights(decay, self.ages)  # (channel, bin)
        relative = np.exp(log_w - log_w[:, :1])  # bin 0: 1
        exposure = code_exposure(relative, self.counts)  # (channel, code)
        d_exposure = code_exposure(relative * (dlog_w - dlog_w[:, :1]), self.counts)
        t = theta_recent[:, None]
        em = np.expm1(-t)
        fresh = np.exp(-t * exposure)
        s = np.expm1(-t * exposure) / em
        ds_dexposure = -t * fresh / em
        ds_dlog_theta = t * (-exposure * fresh / em + np.expm1(-t * exposure) * np.exp(-t) / em**2)
        return s, ds_dexposure * d_exposure, ds_dlog_theta

    def _fresh_scale(self, log_factor: np.ndarray, theta_recent: np.ndarray):
        """The saturation of a fresh touch ``theta = theta_recent / w_0(decay)`` (``w_0`` the
        most recent bin's weight, ``log_factor = -log w_0``: ``_log_factor``; capped as in
        ``build_model``) and ``k = expm1(-theta_recent)
        / expm1(-theta)``, with which ``s = k s_recent`` and ``beta = beta_recent / k``
        (``attribution.model``)."""
        theta = theta_recent * np.exp(np.minimum(log_factor, self.max_log_factor))
        return theta, np.expm1(-theta_recent) / np.expm1(-theta)

    def _log_factor(self, decay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``-log w_0(decay)`` (channel,) and its derivative in log decay."""
        log_w, dlog_w = log_bin_weights(decay, self.ages)
        return -log_w[..., 0], -dlog_w[..., 0]

    def logp_dlogp(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log posterior density at the unconstrained point ``x`` (D,) and its gradient (D,);
        ``(-inf, 0)`` where they are not finite (far tails a sampler or line search may try)."""
        with np.errstate(all="ignore"):
            logp, grad = self._logp_dlogp(np.asarray(x, dtype=np.float64))
        if not (np.isfinite(logp) and np.all(np.isfinite(grad))):
            return -np.inf, np.zeros(self.size)
        return logp, grad

    def _logp_dlogp(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        p = self.priors
        v = self._parts(np.asarray(x, dtype=np.float64))
        n = len(self.channels)
        grad = {name: np.zeros(np.size(val)) for name, val in v.items()}
        lb = v["log_baseline"][0]
        u_scale = v["beta_scale_log__"][0]
        u_beta = v[f"{self._beta_name}_log__"]
        decay_mu, u_dsig = v["decay_mu"][0], v["decay_sigma_log__"][0]
        z, log_theta = v["decay_z"], v["log_saturation_recent"]

        # priors (PyMC's normalised log densities, log-transform Jacobians included)
        logp, g = _normal(lb, math.log(p.baseline_median), p.baseline_log_sd)
        grad["log_baseline"] += g
        val, g, _ = _half_normal_log(u_scale, p.beta_scale_sd)
        logp += val
        grad["beta_scale_log__"] += g
        scale = np.exp(u_scale)
        val, g, g_scale = _half_normal_log(u_beta, scale)
        logp += val
        grad[f"{self._beta_name}_log__"] += g
        grad["beta_scale_log__"] += g_scale
        val, g = _normal(decay_mu, math.log(p.decay_median), p.decay_mu_sd)
        logp += val
        grad["decay_mu"] += g
        val, g, _ = _half_normal_log(u_dsig, p.decay_sigma_sd)
        logp += val
        grad["decay_sigma_log__"] += g
        val, g = _normal(z, 0.0, 1.0)
        logp += val
        grad["decay_z"] += g
        val, g = _normal(log_theta, math.log(p.saturation_median), p.saturation_log_sd)
        logp += val
        grad["log_saturation_recent"] += g
        synergy = opening = np.zeros(0)
        if len(self.pairs):
            val, g, _ = _half_normal_log(v["synergy_log__"], p.synergy_sd)
            logp += val
            grad["synergy_log__"] += g
            synergy = np.exp(v["synergy_log__"])
        if len(self.openers):
            val, g, _ = _half_normal_log(v["opening_selected_log__"], p.opening_sd)
            logp += val
            grad["opening_selected_log__"] += g
            opening = np.exp(v["opening_selected_log__"])

        # likelihood on the sufficient statistics (attribution.model module doc)
        sigma = np.exp(u_dsig)
        decay = np.exp(decay_mu + sigma * z)
        theta_recent = np.exp(log_theta)
        s_recent, ds_dlog_decay, ds_dlog_theta = self._response(decay, theta_recent)
        beta_recent = np.zeros(n)
        beta_recent[self.active] = np.exp(u_beta)
        baseline = np.exp(lb)
        n_rows = len(self.k)
        with_terms = len(self.pairs) or len(self.openers)
        extra = np.zeros(n_rows) if with_terms else _NONE  # synergy and opening terms of h
        nonconv_h = baseline * self.nonconv_total + float(
            np.sum(beta_recent[:, None] * s_recent * self.by_code)
        )
        log_factor, dlog_factor = self._log_factor(decay)
        capped = log_factor >= self.max_log_factor
        theta, k_scale = self._fresh_scale(log_factor, theta_recent)
        s = s_recent * k_scale[:, None]
        pair_conv = []
        for q, (c, d) in enumerate(self.pairs):
            pair_conv.append(s[c, self.codes[:, c]] * s[d, self.codes[:, d]])
            extra += synergy[q] * pair_conv[-1]
            nonconv_h += synergy[q] * float(s[c] @ self.by_pair[q] @ s[d])
        for q in range(len(self.openers)):
            extra += opening[q] * self.opened[q]
            nonconv_h += opening[q] * self.by_first[q]
        # d loglik / d h per converting pattern (kept only when the terms above need it), and
        # its sums per (channel, code)
        g_h = np.empty(n_rows) if with_terms else _NONE
        by_code = np.empty((n, self.n_codes))
        loglik, g_sum = self._rows(
            self.codes, s_recent, beta_recent, baseline, self.k, extra, by_code, g_h
        )
        if not np.isfinite(loglik):
            return -np.inf, np.zeros(self.size)
        logp += loglik - nonconv_h
        grad["log_baseline"] += baseline * (g_sum - self.nonconv_total)
        by_code -= self.by_code  # (channel, code): d log p / d (beta_recent_c s_recent[c, code])
        g_beta = np.sum(by_code * s_recent, axis=1)
        grad[f"{self._beta_name}_log__"] += beta_recent[self.active] * g_beta[self.active]
        g_s_recent = beta_recent[:, None] * by_code
        if len(self.pairs):
            g_s = np.zeros_like(s)
            for q, (c, d) in enumerate(self.pairs):
                g_syn = float(g_h @ pair_conv[q]) - float(s[c] @ self.by_pair[q] @ s[d])
                grad["synergy_log__"][q] += synergy[q] * g_syn
                w_c = g_h * s[d, self.codes[:, d]]
                w_d = g_h * s[c, self.codes[:, c]]
                g_s[c] += synergy[q] * (
                    np.bincount(self.codes[:, c], weights=w_c, minlength=self.n_codes)
                    - self.by_pair[q] @ s[d]
                )
                g_s[d] += synergy[q] * (
                    np.bincount(self.codes[:, d], weights=w_d, minlength=self.n_codes)
                    - self.by_pair[q].T @ s[c]
                )
            g_s_recent = g_s_recent + g_s * k_scale[:, None]
            g_log_k = np.sum(g_s * s, axis=1)
            r_recent = np.where(theta_recent > 700, 0.0, theta_recent / np.expm1(theta_recent))
            r_full = np.where(theta > 700, 0.0, theta / np.expm1(theta))
            dlogk_dlog_theta = r_recent - r_full
            dlogk_dlog_decay = np.where(capped, 0.0, -r_full * dlog_factor)
        else:
            g_log_k = dlogk_dlog_theta = dlogk_dlog_decay = np.zeros(n)
        for q in range(len(self.openers)):
            g_open = float(g_h @ self.opened[q]) - self.by_first[q]
            grad["opening_selected_log__"][q] += opening[q] * g_open
        g_log_decay = np.sum(g_s_recent * ds_dlog_decay, axis=1) + g_log_k * dlogk_dlog_decay
        g_log_theta = np.sum(g_s_recent * ds_dlog_theta, axis=1) + g_log_k * dlogk_dlog_theta
        grad["log_saturation_recent"] += g_log_theta
        grad["decay_mu"] += g_log_decay.sum()
        grad["decay_z"] += sigma * g_log_decay
        grad["decay_sigma_log__"] += sigma * float(g_log_decay @ z)
        out = np.zeros(self.size)
        for name, s_ in self._slices.items():
            out[s_] = grad[name]
        return logp, out

    def transform(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """Unconstrained draws (sample, D) -> every free and derived variable, as the PyMC
        model names them (arrays (sample, ...))."""
        v = self._parts(np.atleast_2d(np.asarray(samples, dtype=np.float64)))
        n_rows, n = v["log_baseline"].shape[0], len(self.channels)
        beta_recent = np.zeros((n_rows, n))
        beta_recent[:, self.active] = np.exp(v[f"{self._beta_name}_log__"])
        sigma = np.exp(v["decay_sigma_log__"][:, 0])
        decay = np.exp(v["decay_mu"] + sigma[:, None] * v["decay_z"])
        theta_recent = np.exp(v["log_saturation_recent"])
        with np.errstate(over="ignore"):
            theta, k_scale = self._fresh_scale(self._log_factor(decay)[0], theta_recent)
        out = {
            "log_baseline": v["log_baseline"][:, 0],
            "baseline": np.exp(v["log_baseline"][:, 0]),
            "beta_scale": np.exp(v["beta_scale_log__"][:, 0]),
            self._beta_name: np.exp(v[f"{self._beta_name}_log__"]),
            "decay_mu": v["decay_mu"][:, 0],
            "decay_sigma": sigma,
            "decay_z": v["decay_z"],
            "log_saturation_recent": v["log_saturation_recent"],
            "decay": decay,
            "saturation": theta,
            "beta": beta_recent / k_scale,
        }
        if len(self.pairs):
            out["synergy"] = np.exp(v["synergy_log__"])
        if len(self.openers):
            selected = np.exp(v["opening_selected_log__"])
            opening = np.zeros((n_rows, n))
            opening[:, self.openers] = selected
            out["opening_selected"] = selected
            out["opening"] = opening
        return out
