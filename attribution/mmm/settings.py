"""Every default of the media-mix model, in one place (priors, carry-over length, checks).

Units: the KPI is scaled by its mean per geo (so 1.0 is an average week), spend by each channel's
mean positive weekly spend (so 1.0 is a typical active week), time in years. Priors are stated on
those scales; the docstring of :class:`attribution.mmm.model.MediaMixModel` justifies each.
"""

from __future__ import annotations

#: Longest carry-over modelled, in periods (weeks): a week's spend acts for at most this long.
L_MAX = 8
#: Carry-over forms and saturation forms the model offers.
ADSTOCKS = ("geometric", "delayed")
SATURATIONS = ("logistic", "hill")
#: "auto": fit each form briefly and keep the one the data support (attribution.mmm.selection);
#: the default for both, since a user rarely knows the shape of a channel's response.
AUTO = "auto"
DEFAULT_ADSTOCK = AUTO
DEFAULT_SATURATION = AUTO
#: Tuning steps and draws per chain of each candidate fit in the form selection.
SELECTION_DRAWS = 300

#: Fourier order of the yearly seasonality (sin/cos pairs) and the period length in weeks.
YEARLY_FOURIER_ORDER = 2
WEEKS_PER_YEAR = 365.25 / 7
#: One trend changepoint per this many periods (a piecewise-linear trend, Prophet-style).
TREND_CHANGEPOINT_EVERY = 26

# -- priors (on the scales above) --------------------------------------------------------------
#: Prior median share of the KPI driven by all paid media together; sets the prior median ROI
#: (share x total KPI / total spend) that every channel's ROI is pooled towards.
MEDIA_SHARE_PRIOR = 0.2
#: sd of the log pooled ROI (a factor of e~2.7 either way at one sd).
ROI_MU_SD = 1.0
#: HalfNormal scale of the spread of log ROI between channels.
ROI_TAU_SD = 1.0
#: HalfNormal scale of the spread of log ROI between geos within a channel.
ROI_GEO_TAU_SD = 0.3
#: Beta prior of the geometric carry-over rate (mean 0.4; excludes neither short nor long).
ADSTOCK_ALPHA = (2.0, 3.0)
#: Uniform upper bound of the delayed-peak lag, periods.
ADSTOCK_THETA_MAX = 4.0
#: Gamma(shape, rate) of the logistic saturation rate per unit of typical spend (mean 1: a
#: typical active week reaches about half of the channel's maximum weekly effect).
LOGISTIC_LAM = (2.0, 2.0)
#: Gamma(shape, rate) of the Hill half-saturation point (in typical spends) and of its slope.
HILL_K = (2.0, 1.5)
HILL_SLOPE = (3.0, 2.0)
#: Baseline: the geo's mean KPI over the fitted weeks ~ Normal(1, sd) in KPI-mean units (the
#: intercept is that level minus the other terms' means); slope per year ~ Normal(0, sd);
#: each trend change per year ~ Laplace(0, scale); seasonality and per-sd control coefficients.
LEVEL_SD = 0.5
TREND_SLOPE_SD = 0.3
TREND_CHANGE_SCALE = 0.05
SEASONALITY_SD = 0.2
CONTROL_SD = 0.2
#: HalfNormal scale of the observation noise sd, in KPI-mean units.
NOISE_SD = 0.2

# -- sampler ------------------------------------------------------------------------------------
#: NUTS implementations offered; the default compiles the model once (numba) and runs Rust NUTS.
SAMPLERS = ("nutpie", "pymc")
SAMPLER = "nutpie"
#: NUTS target acceptance: above PyMC's 0.8 because the ROI/saturation posterior is curved.
TARGET_ACCEPT = 0.9
#: nutpie's low-rank mass matrix adaptation: learns the strongest posterior correlations (the
#: trend slope and its changepoints, a level shift's two changes) besides the diagonal; on the
#: big_baseline world the worst bulk ESS of 2 x 1,000 draws rose from 55 to 431 and the
#: leapfrog steps per draw fell from 34 to 15.
LOW_RANK_MASS_MATRIX = True
#: Chains run in parallel on at most this many cores.
CORES = 2

# -- checks -------------------------------------------------------------------------------------
#: The out-of-sample check refits on all but the last HOLDOUT_SHARE of periods.
HOLDOUT_SHARE = 0.10
#: The held-out refit uses this many tuning steps and draws per chain (a check, not the estimate).
HOLDOUT_DRAWS = 300
#: Posterior predictive R^2 below this, or MAPE above these, flag the fit as poor.
MIN_R2 = 0.5
MAX_MAPE_IN_SAMPLE = 0.15
MAX_MAPE_OUT_OF_SAMPLE = 0.25

#: Spend levels of the response curves: multiples of each channel's typical active-week spend.
RESPONSE_SPEND_MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
#: Posterior draws are summarised in chunks of this many to bound memory with many geos.
DRAW_CHUNK = 100
