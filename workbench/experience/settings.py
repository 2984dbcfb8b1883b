"""Defaults of the customer-experience analysis, in one place (help texts read them too)."""

from __future__ import annotations

#: NPS groups by score (0-10): promoters 9-10, passives 7-8, detractors 0-6 (Reichheld 2003).
SCORE_MIN, SCORE_MAX = 0, 10
PROMOTER_MIN = 9
PASSIVE_MIN = 7
GROUPS = ("promoter", "passive", "detractor")

#: Dirichlet prior on (promoter, passive, detractor) shares: 1 each is uniform on the simplex.
PRIOR_CONCENTRATION = 1.0
#: Posterior draws of every NPS and group-mean posterior (exact Monte Carlo, no MCMC).
POSTERIOR_DRAWS = 4000
#: Seed of those draws unless one is given.
SEED = 1

#: Journey stages in funnel order (``--stages`` YAML can name others).
DEFAULT_STAGES = ("awareness", "consideration", "conversion", "retention", "advocacy")
#: Beta prior of a stage's conversion to the next stage (uniform).
STAGE_PRIOR = (1.0, 1.0)
#: Label of the all-channels row of the stage funnel.
ALL_CHANNELS = "(all)"

#: Customer segments by predicted CLV (clv.nc): (label, share of customers), top tier first.
VALUE_TIERS = (("top 20%", 0.2), ("middle 30%", 0.3), ("bottom 50%", 0.5))
#: Response coverage by value decile: this many quantile groups of predicted CLV.
VALUE_DECILES = 10
#: Acquisition label of customers no channel is credited with.
ORGANIC = "organic"
#: Bayesian-bootstrap draws are generated this many weights at a time (memory bound).
BOOTSTRAP_CHUNK = 2_000_000
