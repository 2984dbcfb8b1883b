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
Gamma(2, 2) puts a typical week near half the channel's maximum effect; the intercept is near an
average week, the trend a few tens of percent a year at most, seasonality and per-sd control
effects around +-20% of an average week; all weakly informative on the KPI's own scale.
"""

from __future__ import annotations

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
    HILL_K,
    HILL_SLOPE,
    INTERCEPT_SD,
    L_MAX,
    LOGISTIC_LAM,
    MEDIA_SHARE_PRIOR,
    NOISE_SD,
    ROI_GEO_TAU_SD,
    ROI_MU_SD,
    ROI_TAU_SD,
    SATURATIONS,
    SEASONALITY_SD,
    TREND_CHANGE_SCALE,
    TREND_CHANGEPOINT_EVERY,
    TREND_SLOPE_SD,
    YEARLY_FOURIER_ORDER,
)
from posterior_tools.settings import CHAINS, DRAWS, TUNE

#: NUTS target acceptance: above PyMC's 0.8 because the ROI/saturation posterior is curved.
TARGET_ACCEPT = 0.9
SAMPLERS = ("pymc", "nutpie")


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
    sampler : "pymc" (PyMC's NUTS) or "nutpie" (if installed).

    Fitted attributes: ``data_`` (scaled inputs), ``lift_tests_`` (or None), ``posterior_``
    (xarray, dims chain, draw, ...), ``sample_stats_``, ``design_``.
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
        sampler: str = "pymc",
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
        model = self._build(data, self.design_, tests)
        self.posterior_, self.sample_stats_ = self._sample(model)
        return self

    def _design(self, data: MediaData) -> equations.Design:
        t = basis.years(len(data.periods))
        if self.changepoint_every > 0:
            hinges = basis.changepoint_hinges(t, self.changepoint_every, n_fit=data.n_fit)
        else:
            hinges = np.zeros((len(t), 0))
        f = basis.fourier(t, self.yearly_order) if self.yearly_order else np.zeros((len(t), 0))
        return equations.Design(t, hinges, f, data.controls)

    def _roi_prior_centre(self, data: MediaData) -> float:
        """log of the ROI at which all media would drive MEDIA_SHARE_PRIOR of the KPI."""
        kpi = data.kpi[:, : data.n_fit].sum()
        spend = data.spend_fit.sum()
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
            # ROI: non-centred log-normal, pooled across channels unless the user gives a prior.
            mu = pm.Normal("roi_log_mu", self._roi_prior_centre(data), ROI_MU_SD)
            tau = pm.HalfNormal("roi_log_tau", ROI_TAU_SD)
            z = pm.Normal("roi_z", 0.0, 1.0, dims="channel")
            centre = pt.ones(C) * mu
            scale = pt.ones(C) * tau
            for ch, (mean, sd) in self.roi_prior.items():
                c = data.channels.index(ch)
                s2 = np.log1p((sd / mean) ** 2)
                centre = pt.set_subtensor(centre[c], np.log(mean) - s2 / 2)
                scale = pt.set_subtensor(scale[c], np.sqrt(s2))
            log_roi = pm.Deterministic("roi_log", centre + scale * z, dims="channel")
            pm.Deterministic("roi_channel", pt.exp(log_roi), dims="channel")
            if G > 1:
                tau_g = pm.HalfNormal("roi_geo_tau", ROI_GEO_TAU_SD)
                zg = pm.Normal("roi_geo_z", 0.0, 1.0, dims=("geo", "channel"))
                roi = pt.exp(log_roi[None, :] + tau_g * zg)
            else:
                roi = pt.exp(log_roi)[None, :]
            p["roi"] = roi[None]  # (1, G, C)
            p["adstock_alpha"] = pm.Beta("adstock_alpha", *ADSTOCK_ALPHA, dims="channel")[None]
            if self.adstock == "delayed":
                theta = pm.Uniform("adstock_theta", 0.0, ADSTOCK_THETA_MAX, dims="channel")
                p["adstock_theta"] = theta[None]
            if self.saturation == "logistic":
                lam = pm.Gamma("saturation_lam", *_gamma(LOGISTIC_LAM), dims="channel")
                p["saturation_lam"] = lam[None]
            else:
                k = pm.Gamma("saturation_k", *_gamma(HILL_K), dims="channel")
                slope = pm.Gamma("saturation_slope", *_gamma(HILL_SLOPE), dims="channel")
                p["saturation_k"], p["saturation_slope"] = k[None], slope[None]
            p["intercept"] = pm.Normal("intercept", 1.0, INTERCEPT_SD, dims="geo")[None]
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
            sigma = pm.HalfNormal("sigma", NOISE_SD)

            sat = equations.saturated(
                p, data.x_lagged, self.adstock, self.saturation, self.l_max, xp=pt
            )
            beta = equations.beta(p, sat, data.spend_fit, data.kpi_scale, data.n_fit, xp=pt)
            mean = equations.baseline(p, design) + (sat * beta[:, :, None, :]).sum(axis=-1)
            y = data.kpi / data.kpi_scale[:, None]
            pm.Normal("kpi", mean[0, :, : data.n_fit], sigma, observed=y[:, : data.n_fit])
            if tests is not None:
                model.add_coords({"lift_test": list(tests.names)})
                lifts = equations.test_lifts(
                    p,
                    sat,
                    beta,
                    data.kpi_scale,
                    tests,
                    self.adstock,
                    self.saturation,
                    self.l_max,
                    xp=pt,
                )
                predicted = pt.stack([lift[0] for lift in lifts])
                pm.Normal(
                    "lift_measured",
                    predicted,
                    tests.standard_error,
                    observed=tests.measured,
                    dims="lift_test",
                )
        return model

    def _sample(self, model):
        import pymc as pm

        if self.sampler == "nutpie":
            try:
                import nutpie  # noqa: F401
            except ImportError as err:
                raise ValueError(
                    "sampler 'nutpie' needs the nutpie package: pip install nutpie"
                ) from err
        with model:
            if self.sampler == "nutpie":
                idata = pm.sample(
                    draws=self.draws,
                    tune=self.tune,
                    chains=self.chains,
                    random_seed=self.seed,
                    nuts_sampler="nutpie",
                    progressbar=False,
                    target_accept=TARGET_ACCEPT,
                )
            else:
                idata = pm.sample(
                    draws=self.draws,
                    tune=self.tune,
                    chains=self.chains,
                    cores=min(self.chains, 2),
                    random_seed=self.seed,
                    progressbar=False,
                    target_accept=TARGET_ACCEPT,
                    compute_convergence_checks=False,
                )
        return idata.posterior, idata.sample_stats

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
        p["sigma"] = arr("sigma")
        return p


def _gamma(shape_rate: tuple[float, float]) -> tuple[float, float]:
    """PyMC's Gamma(alpha, beta) takes shape and rate positionally: pass them through."""
    return shape_rate


def _lift_tests(data: MediaData, tests: pd.DataFrame) -> LiftTests:
    return lift_tests(data, tests)
