"""A/B tests analysed with posteriors; free of file I/O and CLI code (the pipeline
``workbench.pipelines.experiment`` reads the files and runs the SQL).

- ``settings``: every default (draws, prior, control arm, SRM threshold, planning alpha/power).
- ``posteriors``: Beta-Binomial rates, the Bayesian bootstrap of a mean, the revenue hurdle.
- ``decision``: lift over the control, P(beats control), expected loss.
- ``abtest``: ``ABTest``, the estimator that draws every arm's posteriors and compares them.
- ``checks``: the sample-ratio mismatch test.
- ``holdout``: a channel hold-out as a lift test (incremental conversions in the whole market).
- ``power``: users needed / minimum detectable effect of a planned test (statsmodels).
"""

__all__ = ["ABTest"]


def __getattr__(name: str):
    # Lazy, so that the CLI can read the settings without importing numpy and xarray.
    if name == "ABTest":
        from workbench.experiments.abtest import ABTest

        return ABTest
    raise AttributeError(name)
