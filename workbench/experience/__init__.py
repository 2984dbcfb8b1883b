"""Customer experience: NPS with posteriors (by month, acquisition channel, segment), customer
value by NPS group, survey coverage and the journey-stage funnel.

Modules: ``settings`` (every default), ``inputs`` (contracts and checks), ``nps`` (the
Dirichlet-multinomial posterior), ``value`` (Bayesian-bootstrap group means, coverage),
``customers`` (acquisition channel, segment and value per customer from other results),
``stages`` (the funnel, in SQL). The job that runs them is :mod:`workbench.pipelines.cx`.
"""
