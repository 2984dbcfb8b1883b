"""The Bayesian media-mix model as an estimator: weekly spend per channel -> posterior of each
channel's carry-over, saturation and return on spend, beside a trend/seasonality/controls
baseline.

Assumptions (equations in :mod:`attribution.mmm.equations`):

1. The KPI of a period is a baseline plus each channel's effect plus Normal noise; channels add.
2. A channel's effect is its spend carried over (geometric or delayed-peak adstock, at most
   ``l_max`` periods) and then saturated (logistic or Hill) (Jin et al. 2017).
3. The baseline is an intercept per geo, a piecewise-linear trend, yearly Fourier seasonality and
   linear effects of the controls; nothing unobserved drives both spend and the KPI (when
   something does, only a lift test can correct the estimate: ``fit(..., lift_tests=...)``).
4. Each channel's return on spend (ROI) is log-normal, partially pooled across channels (and
   across geos within a channel), unless the user gives a prior for it.

Priors (scales: KPI / its mean per geo, spend / the channel's typical active-week spend, time in
years; constants in :mod:`attribution.mmm.settings`): the pooled log ROI is centred on the ROI at
which paid media would drive ``MEDIA_SHARE_PRIOR`` of the KPI, give or take a factor of e; the
carry-over rate Beta(2, 3) (mean 0.4) allows anything from none to long; the logistic rate
Gamma(2, 2) puts a typical week near half the channel's maximum effect; the geo's mean KPI level
is near an average week (the intercept is that level minus the other terms' means over the
fitted weeks, a centred parameterisation of the same model), the trend a few tens of percent a
year at most, seasonality and per-sd control effects around +-20% of an average week, the noise
sd per geo; all weakly informative on the KPI's own scale. The carry-over and saturation forms
are switches given as data (one compiled model serves every form, the held-out check and the
fit without lift tests: :meth:`MediaMixModel.resample`, :meth:`MediaMixModel.held_out`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from attribution.mmm import basis, equations
from attribution.mmm.data import LiftTests, MediaData, lift_tests, prepare
from attribution.mmm.settings import (
    ADSTOCK_ALPHA,
    ADSTOCK_THETA_MAX,
    ADSTOCKS,
    CONTROL_SD,
    CORES,
    HILL_K,
    HILL_SLOPE,
    L_MAX,
    LEVEL_SD,
    LOGISTIC_LAM,
    LOW_RANK_MASS_MATRIX,
    MEDIA_SHARE_PRIOR,
    NOISE_SD,
    ROI_GEO_TAU_SD,
    ROI_MU_SD,
    ROI_TAU_SD,
    SAMPLER,
    SAMPLERS,
    SATURATIONS,
    SEASONALITY_SD,
    TARGET_ACCEPT,
    TREND_CHANGE_SCALE,
    TREND_CHANGEPOINT_EVERY,
    TREND_SLOPE_SD,
    YEARLY_FOURIER_ORDER,
)
from posterior_tools.settings import CHAINS, DRAWS, TUNE


class MediaMixModel:
    """Bayesian media-mix model (see the module docstring for the equations and priors).

    Parameters
    ----------
    adstock : "geometric" or "delayed" (delayed-peak) carry-over.
    saturation : "logistic" or "hill".
    l_max : longest carry-over, periods.
    yearly_order : Fourier order of yearly seasonality (0: none).
    changepoint_every : a trend changepoint every this many periods (0: a straight trend).
    roi_prior : optional ``{channel: (mean, sd)}`` of the channel's ROI (conversions per unit of
        currency), a log-normal with that mean and sd replaces the pooled prior for it.
    draws, tune, chains : NUTS settings per chain.
    seed : random seed; the same inputs and seed give the same draws.
    sampler : "nutpie" (the default: Rust NUTS on the model compiled once, about 3-4x the
        effective draws per second of PyMC's sampler here) or "pymc" (PyMC's own NUTS).

    Fitted attributes: ``data_`` (scaled inputs), ``lift_tests_`` (or None), ``posterior_``
    (xarray, dims chain, draw, ...), ``sample_stats_``, ``design_``, ``pymc_model_``.
    """

    def __init__(
        self,
        adstock: str = "geometric",
        saturation: str = "logistic",
        l_max: int = L_MAX,
        yearly_order: int = YEARLY_FOURIER_ORDER,
        changepoint_every: int = TREND_CHANGEPOINT_EVERY,
        roi_prior: Mapping[str, tuple[float, float]] | None = None,
        draws: int = DRAWS,
        tune: int = TUNE,
        chains: int = CHAINS,
        seed: int = 0,
        sampler: str = SAMPLER,
    ) -> None:
        if adstock not in ADSTOCKS:
            raise ValueError(f"adstock must be one of {ADSTOCKS}, not {adstock!r}")
        if saturation not in SATURATIONS:
            raise ValueError(f"saturation must be one of {SATURATIONS}, not {saturation!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {sampler!r}")
        self.adstock = adstock
        self.saturation = saturation
        self.l_max = int(l_max)
        self.yearly_order = int(yearly_order)
        self.changepoint_every = int(changepoint_every)
        self.roi_prior = dict(roi_prior or {})
        self.draws = int(draws)
        self.tune = int(tune)
        self.chains = int(chains)
        self.seed = int(seed)
        self.sampler = sampler
        self._compiled = None  # nutpie's compiled model, shared by copies made after fit

    # -- fitting -----------------------------------------------------------------------------

    def fit(
        self,
        spend: xr.DataArray,
        kpi: xr.DataArray,
        controls: xr.DataArray | None = None,
        lift_tests: pd.DataFrame | None = None,
        n_fit: int | None = None,
    ) -> MediaMixModel:
        """Sample the posterior.

        ``spend`` (period, channel[, geo]): currency per period (weeks); ``kpi`` (period[, geo]):
        conversions per period; ``controls`` (period, control[, geo]) or None; ``lift_tests``: a
        DataFrame ``channel, start, end, incremental_conversions, standard_error`` or None;
        ``n_fit``: fit the first ``n_fit`` periods only (the held-out check). Returns self.
        """
        data = prepare(spend, kpi, controls, self.l_max, n_fit)
        unknown = sorted(set(self.roi_prior) - set(data.channels))
        if unknown:
            raise ValueError(f"roi_prior names channels without spend: {', '.join(unknown)}")
        tests = None
        if lift_tests is not None and len(lift_tests):
            tests = _lift_tests(data, lift_tests)
        self.data_ = data
        self.lift_tests_ = tests
        self.design_ = self._design(data)
        self._compiled = None
        self.pymc_model_ = self._build(data, self.design_, tests)
        self.posterior_, self.sample_stats_ = self._sample(self.pymc_model_)
        return self

    def _design(self, data: MediaData) -> equations.Design:
        t = basis.years(len(data.periods))
        if self.changepoint_every > 0:
            hinges = basis.changepoint_hinges(t, self.changepoint_every, n_fit=data.n_scale)
        else:
            hinges = np.zeros((len(t), 0))
        f = basis.fourier(t, self.yearly_order) if self.yearly_order else np.zeros((len(t), 0))
        return equations.Design(t, hinges, f, data.controls)

    def _roi_prior_centre(self, data: MediaData) -> float:
        """log of the ROI at which all media would drive MEDIA_SHARE_PRIOR of the KPI."""
        kpi = data.kpi[:, : data.n_scale].sum()
        spend = data.spend[:, : data.n_scale].sum()
        return float(np.log(MEDIA_SHARE_PRIOR * kpi / spend))

    def _build(self, data: MediaData, design: equations.Design, tests: LiftTests | None):
        import pymc as pm
        import pytensor.tensor as pt

        G, C = len(data.geos), len(data.channels)
        coords = {"geo": list(data.geos), "channel": list(data.channels)}
        coords["changepoint"] = list(range(design.hinges.shape[1]))
        coords["fourier"] = list(range(design.fourier.shape[1]))
        coords["control"] = list(data.controls_names)
        with pm.Model(coords=coords) as model:
            p: dict = {}
            # ROI: log-normal, pooled across channels unless the user gives a prior. Centred:
            # each channel's log ROI is sampled itself, not as a standardised deviation from the
            # pooled mean. Three years of a channel's own spend inform its ROI, and channels'
            # ROIs differ by factors, so the pooled sd is well away from 0: the regime where the
            # centred form mixes better (Betancourt & Girolami 2015). Non-centred, the pooled sd
            # mixed worst of all parameters (R-hat 1.015-1.017, bulk ESS 157-247 of 2,000 draws
            # on the retail and confounded worlds; centred 1.000, 390-566).
            mu = pm.Normal("roi_log_mu", self._roi_prior_centre(data), ROI_MU_SD)
            tau = pm.HalfNormal("roi_log_tau", ROI_TAU_SD)
            centre = pt.ones(C) * mu
            scale = pt.ones(C) * tau
            for ch, (mean, sd) in self.roi_prior.items():
                c = data.channels.index(ch)
                s2 = np.log1p((sd / mean) ** 2)
                centre = pt.set_subtensor(centre[c], np.log(mean) - s2 / 2)
                scale = pt.set_subtensor(scale[c], np.sqrt(s2))
            log_roi = pm.Normal("roi_log", centre, scale, dims="channel")
            pm.Deterministic("roi_channel", pt.exp(log_roi), dims="channel")
            if G > 1:
                tau_g = pm.HalfNormal("roi_geo_tau", ROI_GEO_TAU_SD)
                zg = pm.Normal("roi_geo_z", 0.0, 1.0, dims=("geo", "channel"))
                roi = pt.exp(log_roi[None, :] + tau_g * zg)
            else:
                roi = pt.exp(log_roi)[None, :]
            p["roi"] = roi[None]  # (1, G, C)
            # Every form's parameters are in the model and the form is a 0/1 switch given as
            # data, so one compiled model serves every form (the selection, the full fit and the
            # held-out check sample it with other data). The parameters of the forms not used
            # only meet their priors and are dropped from the posterior.
            adstock = pm.Data("adstock_delayed", _flag(self.adstock, "delayed"))
            saturation = pm.Data("saturation_hill", _flag(self.saturation, "hill"))
            p["adstock_alpha"] = pm.Beta("adstock_alpha", *ADSTOCK_ALPHA, dims="channel")[None]
            theta = pm.Uniform("adstock_theta", 0.0, ADSTOCK_THETA_MAX, dims="channel")
            p["adstock_theta"] = theta[None]
            lam = pm.Gamma("saturation_lam", *_gamma(LOGISTIC_LAM), dims="channel")
            p["saturation_lam"] = lam[None]
            k = pm.Gamma("saturation_k", *_gamma(HILL_K), dims="channel")
            slope = pm.Gamma("saturation_slope", *_gamma(HILL_SLOPE), dims="channel")
            p["saturation_k"], p["saturation_slope"] = k[None], slope[None]
            # The geo's mean scaled KPI over the fitted weeks (1 by construction of the scale);
            # the intercept is what is left of it after the other terms' means (see below).
            level = pm.Normal("kpi_level", 1.0, LEVEL_SD, dims="geo")
            p["intercept"] = pt.zeros((1, G))
            p["trend_slope"] = pm.Normal("trend_slope", 0.0, TREND_SLOPE_SD)[None]
            if design.hinges.shape[1]:
                delta = pm.Laplace("trend_change", 0.0, TREND_CHANGE_SCALE, dims="changepoint")
                p["trend_change"] = delta[None]
            if design.fourier.shape[1]:
                season = pm.Normal("seasonality", 0.0, SEASONALITY_SD, dims="fourier")
            else:
                season = pt.zeros(0)
            p["seasonality"] = season[None]
            if design.controls.shape[-1]:
                p["control_coef"] = pm.Normal("control_coef", 0.0, CONTROL_SD, dims="control")[None]
            # Noise per geo: a small geo's KPI is relatively noisier than a large one's.
            sigma = pm.HalfNormal("sigma", NOISE_SD, dims="geo")

            # Periods the likelihood sees, as data: the held-out check changes only this mask
            # and samples the same compiled model (see ``held_out``).
            mask = pm.Data("fit_mask", data.fit_mask)
            n_fit = mask.sum()
            spend_fit = (data.spend * mask[None, :, None]).sum(axis=1)  # (G, C)
            sat = equations.saturated(p, data.x_lagged, adstock, saturation, self.l_max, xp=pt)
            beta = equations.beta(p, sat, spend_fit, data.kpi_scale, mask, xp=pt)
            # Centred parameterisation: intercept = level - the fitted-period mean of trend,
            # seasonality, controls and media (the media mean is roi x spend / KPI scale / weeks
            # by the ROI parameterisation). Sampling the level rather than the intercept removes
            # the strong posterior correlation of the intercept with every ROI, the trend slope
            # and the geo's other terms; the model is the same.
            media = (sat * beta[:, :, None, :]).sum(axis=-1)  # (1, G, T)
            rest = equations.baseline(p, design)  # intercept 0 here
            media_mean = (p["roi"] * spend_fit[None]).sum(axis=-1) / (data.kpi_scale[None] * n_fit)
            intercept = level[None] - (rest * mask).sum(axis=-1) / n_fit - media_mean
            p["intercept"] = pm.Deterministic("intercept", intercept[0], dims="geo")[None]
            mean = rest + p["intercept"][:, :, None] + media
            y = data.kpi / data.kpi_scale[:, None]
            # Normal likelihood of the fitted periods (masked: a Potential, not an observed RV).
            loglik = pm.logp(pm.Normal.dist(mean[0], sigma[:, None]), y)  # (G, T)
            pm.Potential("kpi_loglik", (loglik * mask[None, :]).sum())
            if tests is not None:
                model.add_coords({"lift_test": list(tests.names)})
                lifts = equations.test_lifts(
                    p,
                    sat,
                    beta,
                    data.kpi_scale,
                    tests,
                    adstock,
                    saturation,
                    self.l_max,
                    xp=pt,
                )
                predicted = pt.stack([lift[0] for lift in lifts])
                # On/off as data: the uncalibrated twin samples the same compiled model.
                on = pm.Data("lift_tests_on", 1.0)
                fit = pm.logp(pm.Normal.dist(predicted, tests.standard_error), tests.measured)
                pm.Potential("lift_loglik", on * fit.sum())
        return model

    def resample(
        self,
        draws: int,
        tune: int,
        adstock: str | None = None,
        saturation: str | None = None,
        lift_tests: bool = True,
    ) -> MediaMixModel:
        """A copy of this fitted model with new draws (``draws``, ``tune`` per chain), with
        another carry-over or saturation form when given, and without the lift tests when
        ``lift_tests`` is False, sampled from the model compiled by :meth:`fit` (forms and the
        tests' switch are data, nothing is recompiled with nutpie): the candidates of the form
        selection, the full fit after a brief one, the uncalibrated twin."""
        clone = copy.copy(self)
        if not lift_tests:
            clone.lift_tests_ = None
        clone.draws, clone.tune = int(draws), int(tune)
        clone.adstock = self.adstock if adstock is None else adstock
        clone.saturation = self.saturation if saturation is None else saturation
        if clone.adstock not in ADSTOCKS or clone.saturation not in SATURATIONS:
            raise ValueError(f"unknown form {clone.adstock!r}/{clone.saturation!r}")
        clone.posterior_, clone.sample_stats_ = clone._sample(self.pymc_model_)
        return clone

    def held_out(self, n_fit: int, draws: int, tune: int) -> MediaMixModel:
        """A copy of this fitted model refitted on the first ``n_fit`` periods only (the
        out-of-sample check), with ``draws``, ``tune`` per chain: the same model and scales, only
        the likelihood's ``fit_mask`` changes, so nutpie samples the compiled model again."""
        if not 0 < n_fit <= len(self.data_.periods):
            raise ValueError(f"n_fit must be in 1..{len(self.data_.periods)}; got {n_fit}")
        clone = copy.copy(self)
        clone.data_ = dataclasses.replace(self.data_, n_fit=int(n_fit))
        clone.draws, clone.tune = int(draws), int(tune)
        clone.posterior_, clone.sample_stats_ = clone._sample(self.pymc_model_)
        return clone

    def _model_data(self) -> dict[str, np.ndarray]:
        """The ``pm.Data`` values of this fit: the form switches and the periods fitted."""
        values = {
            "adstock_delayed": _flag(self.adstock, "delayed"),
            "saturation_hill": _flag(self.saturation, "hill"),
            "fit_mask": self.data_.fit_mask,
        }
        if "lift_tests_on" in self.pymc_model_.named_vars:
            values["lift_tests_on"] = np.asarray(float(self.lift_tests_ is not None))
        return values

    def _sample(self, model):
        """NUTS draws of ``model`` with its data set to this fit's (:meth:`_model_data`):
        nutpie (Rust NUTS on the model compiled once by numba, reused by every copy; chains in
        parallel threads) or PyMC's own sampler. Returns (posterior, sample_stats) without the
        parameters of forms not used; sample_stats.attrs carry ``compile_seconds`` and
        ``sampling_seconds``."""
        import time

        started = time.perf_counter()
        values = self._model_data()
        if self.sampler == "nutpie":
            try:
                import nutpie
            except ImportError as err:
                raise ValueError(
                    "sampler 'nutpie' needs the nutpie package: pip install nutpie"
                ) from err
            if self._compiled is None:
                self._compiled = nutpie.compile_pymc_model(model)
            compiled_at = time.perf_counter()
            idata = nutpie.sample(
                self._compiled.with_data(**values),
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                cores=min(self.chains, CORES),
                seed=self.seed,
                progress_bar=False,
                target_accept=TARGET_ACCEPT,
                low_rank_modified_mass_matrix=LOW_RANK_MASS_MATRIX,
            )
        else:
            import pymc as pm

            compiled_at = started
            with model:
                pm.set_data(values)
                idata = pm.sample(
                    draws=self.draws,
                    tune=self.tune,
                    chains=self.chains,
                    cores=min(self.chains, CORES),
                    random_seed=self.seed,
                    progressbar=False,
                    target_accept=TARGET_ACCEPT,
                    compute_convergence_checks=False,
                )
        unused = [
            name
            for name, (kind, form) in _FORM_PARAMETERS.items()
            if getattr(self, kind) != form and name in idata.posterior
        ]
        stats = idata.sample_stats
        stats.attrs["compile_seconds"] = compiled_at - started
        stats.attrs["sampling_seconds"] = time.perf_counter() - compiled_at
        return idata.posterior.drop_vars(unused), stats

    # -- the posterior as numbers ------------------------------------------------------------

    def draw_params(self) -> dict[str, np.ndarray]:
        """Posterior parameters with (chain, draw) flattened to a leading batch dim, in the
        shapes :mod:`attribution.mmm.equations` takes."""
        post = self.posterior_.stack(sample=("chain", "draw"))
        G = len(self.data_.geos)

        def arr(name, *dims):
            return np.asarray(post[name].transpose("sample", *dims).values, dtype=float)

        p = {
            "adstock_alpha": arr("adstock_alpha", "channel"),
            "intercept": arr("intercept", "geo"),
            "trend_slope": arr("trend_slope"),
        }
        if G > 1:
            p["roi"] = np.exp(
                arr("roi_log", "channel")[:, None, :]
                + arr("roi_geo_tau")[:, None, None] * arr("roi_geo_z", "geo", "channel")
            )
        else:
            p["roi"] = arr("roi_channel", "channel")[:, None, :]
        for name in ("adstock_theta", "saturation_lam", "saturation_k", "saturation_slope"):
            if name in post:
                p[name] = arr(name, "channel")
        n = p["intercept"].shape[0]
        p["trend_change"] = (
            arr("trend_change", "changepoint") if "trend_change" in post else np.zeros((n, 0))
        )
        p["seasonality"] = (
            arr("seasonality", "fourier") if "seasonality" in post else np.zeros((n, 0))
        )
        p["control_coef"] = (
            arr("control_coef", "control") if "control_coef" in post else np.zeros((n, 0))
        )
        p["sigma"] = arr("sigma", "geo")
        return p


def _flag(form: str, when: str) -> np.ndarray:
    """The 0/1 form switch of the model's data (1.0 when ``form`` is ``when``)."""
    return np.asarray(float(form == when))


#: Parameters that only one form uses: dropped from the posterior of a fit with another form.
_FORM_PARAMETERS = {
    "adstock_theta": ("adstock", "delayed"),
    "saturation_lam": ("saturation", "logistic"),
    "saturation_k": ("saturation", "hill"),
    "saturation_slope": ("saturation", "hill"),
}


def _gamma(shape_rate: tuple[float, float]) -> tuple[float, float]:
    """PyMC's Gamma(alpha, beta) takes shape and rate positionally: pass them through."""
    return shape_rate


def _lift_tests(data: MediaData, tests: pd.DataFrame) -> LiftTests:
    return lift_tests(data, tests)
