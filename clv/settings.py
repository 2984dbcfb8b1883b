"""Defaults for the CLV models, in one place. Times are in the run's time unit unless the name
says days; money is in the currency of the transactions."""

from __future__ import annotations

#: Parameter labels of ``params(param)``: BG/NBD (r, alpha, a, b) then Gamma-Gamma (p, q, v).
BGNBD_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")
PARAMS = BGNBD_PARAMS + GG_PARAMS

#: CLV is discounted step by step, as lifetimes' ``customer_lifetime_value`` does: the expected
#: purchases of each step are valued at the discount factor of the step's end. A step is one mean
#: month, so a 52-week horizon has 12 steps.
CLV_STEP_DAYS = 30.4375
DAYS_PER_YEAR = 365.25

#: Posterior intervals: central 90%.
INTERVAL = 0.90
#: Posterior draws used for per-customer figures (evenly thinned over chains and draws): the 5% and
#: 95% quantiles are then the 5th and 95th order statistics, and a million customers take 100 x
#: 1e6 values per quantity, which stays vectorised in memory-bounded blocks.
VALUE_DRAWS = 100
#: Customers (or unique rows) per vectorised block in per-draw computations, to bound memory.
CHUNK_ROWS = 20_000

#: NUTS settings for the PyMC models.
DRAWS = 500
TUNE = 500
CHAINS = 2
TARGET_ACCEPT = 0.9

#: Posterior method: NUTS up to this many compressed rows, above it a Laplace approximation
#: (a Gaussian in the log parameters at the posterior mode, from the model's exact Hessian).
#: With hundreds of thousands of distinct rows the posterior of four parameters is Gaussian to
#: any visible precision (Bernstein-von Mises) and NUTS would spend minutes confirming it.
NUTS_MAX_ROWS = 50_000
POSTERIOR_METHODS = ("auto", "nuts", "laplace")

#: Priors for the PyMC models, on the log of each parameter: Normal(0, LOG_PRIOR_SD). Wide enough
#: for days, weeks or months as the time unit (alpha scales with it).
LOG_PRIOR_SD = 3.0

#: Quadrature nodes for the retention curve (Gauss-Jacobi over the dropout probability).
RETENTION_NODES = 64
#: Calibration frequencies 0..N-1 get their own group in the conditional-expectations check;
#: higher frequencies share the last group ("N+").
HOLDOUT_FREQUENCY_GROUPS = 8
