"""Defaults of the A/B analysis, in one place; the pipeline, the CLI's help texts and the report
read them from here. The posterior interval itself is ``posterior_tools.settings.INTERVAL``."""

from __future__ import annotations

#: Monte Carlo draws from each arm's posterior. P(beats control) from this many independent draws
#: has a Monte Carlo standard error of at most 0.5 / sqrt(4000) = 0.008.
POSTERIOR_DRAWS = 4000

#: Beta(1, 1) prior on every rate (conversion, purchase): uniform on [0, 1], the conjugate
#: prior that adds one success and one failure to the data.
PRIOR_SUCCESSES = 1.0
PRIOR_FAILURES = 1.0

#: The arm every other arm is compared with, unless named otherwise; in a channel hold-out
#: (``channel`` given) the default control is the hold-out arm.
CONTROL_ARM = "control"
HOLDOUT_ARM = "holdout"

#: Metrics the analysis can decide on, in display order; the first is the default.
METRICS = ("conversion_rate", "revenue_per_user", "customer_value")
DECISION_METRIC = METRICS[0]

#: A sample-ratio mismatch is flagged when the chi-square test against the planned split has a
#: p-value below this (the conventional threshold for SRM alarms, strict because the test is run
#: on every experiment and a true mismatch usually gives p-values far smaller).
SRM_ALPHA = 0.001

#: How users absent from clv.nc (no purchase history) are valued: at the mean predicted CLV of
#: the customers in clv.nc ("mean") or at zero ("zero").
CLV_ABSENT_RULES = ("mean", "zero")
CLV_ABSENT = "mean"

#: The Bayesian bootstrap draws Dirichlet weights for every distinct value (cost: draws x
#: values; 4000 x 27,000 took 2.4 s on the project's machine); above this many distinct values
#: per arm it uses the posterior's normal limit, with the same mean and variance. At that size
#: the skewness of the posterior of the mean is 2 x the amounts' skewness / sqrt(n) (Exponential
#: weights have skewness 2): under 0.2 for amounts as skewed as 20, which moves the 5% and 95%
#: quantiles by about 0.05 sd (Cornish-Fisher).
EXACT_BOOTSTRAP_MAX_VALUES = 50_000
#: Largest block of Gamma variates drawn at once (memory bound of the exact bootstrap).
BOOTSTRAP_BLOCK = 2_000_000

#: Planning (frequentist power, as the planned test will be read against a fixed error rate):
#: two-sided significance level and power.
PLAN_ALPHA = 0.05
PLAN_POWER = 0.80
