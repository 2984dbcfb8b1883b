"""Defaults of the CLV models, in one place. Times are in the run's time unit unless the name
says days; money is in the currency of the transactions. The posterior interval and the NUTS
draws, tune and chains are shared by every model: ``posterior_tools.settings``."""

from __future__ import annotations

#: Parameter labels of ``params(param)``: BG/NBD (r, alpha, a, b) then Gamma-Gamma (p, q, v);
#: Pareto/NBD (r, alpha, s, beta) for the compared purchase model.
BGNBD_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")
PARAMS = BGNBD_PARAMS + GG_PARAMS
PARETO_NBD_PARAMS = ("r", "alpha", "s", "beta")

#: Fit methods of the estimators: maximum likelihood or a PyMC posterior.
METHODS = ("mle", "bayes")
METHOD = "mle"
#: How the posterior is computed for method="bayes": NUTS up to ``NUTS_MAX_ROWS`` compressed
#: rows, above it a Laplace approximation (a Gaussian in the log parameters at the posterior
#: mode). With hundreds of thousands of distinct rows the posterior of four parameters is
#: Gaussian to any visible precision (Bernstein-von Mises) and NUTS would spend minutes
#: confirming it.
POSTERIORS = ("auto", "nuts", "laplace")
POSTERIOR = "auto"
NUTS_MAX_ROWS = 50_000
TARGET_ACCEPT = 0.9
SEED = 1

#: Time units: days per unit for D, W (days/7) and M (the mean Gregorian month, 365.25 / 12).
UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4375}
TIME_UNIT = "W"
#: CLV horizon (time units) and annual discount rate (a fraction).
HORIZON = 52.0
ANNUAL_DISCOUNT_RATE = 0.1
#: CLV is discounted step by step, as lifetimes' ``customer_lifetime_value`` does: the expected
#: purchases of each step are valued at the discount factor of the step's end. A step is one mean
#: month, so a 52-week horizon has 12 steps.
CLV_STEP_DAYS = 30.4375
DAYS_PER_YEAR = 365.25

#: Posterior draws used for per-customer figures (evenly thinned over chains and draws): the 5% and
#: 95% quantiles are then the 5th and 95th order statistics, and a million customers take 100 x
#: 1e6 values per quantity, which stays vectorised in memory-bounded blocks.
VALUE_DRAWS = 100
#: Customers (or unique rows) per vectorised block in per-draw computations, to bound memory.
CHUNK_ROWS = 20_000

#: Priors for the PyMC models, on the log of each parameter: Normal(0, LOG_PRIOR_SD). Wide enough
#: for days, weeks or months as the time unit (alpha scales with it).
LOG_PRIOR_SD = 3.0

#: Degenerate data, checked before any fit: the purchase models need customers with repeat
#: purchases (MIN_CUSTOMERS customers, MIN_REPEAT_CUSTOMERS of them repeat buyers), and the spend
#: model MIN_SPEND_CUSTOMERS repeat buyers with a positive mean spend.
MIN_CUSTOMERS = 2
MIN_REPEAT_CUSTOMERS = 1
MIN_SPEND_CUSTOMERS = 3
#: Mean spends that differ by less than this (relative to their mean) count as one amount: the
#: Gamma-Gamma model then has no finite optimum and the common amount is the order value.
SPEND_SPREAD_TOL = 1e-9

#: Retention curve: RETENTION_POINTS times from 0 to RETENTION_SPAN x the horizon, averaged over
#: the dropout probability with RETENTION_NODES Gauss-Jacobi nodes (or RETENTION_QUANTILES
#: quantiles of its Beta distribution when a or b is too large for the Jacobi weights).
RETENTION_POINTS = 60
RETENTION_SPAN = 1.0
RETENTION_NODES = 64
RETENTION_QUANTILES = 400
#: Calibration frequencies 0..N-1 get their own group in the conditional-expectations check;
#: higher frequencies share the last group ("N+").
HOLDOUT_FREQUENCY_GROUPS = 8
#: Purchase models scored on holdout error beside BG/NBD (labels of ``purchase_model``).
COMPARED_MODELS = ("bgnbd", "mbgnbd", "paretonbd")
