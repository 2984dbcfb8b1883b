"""The model fits a budget plan rests on, run on a simulated world's tables in one folder.

Tests and the plan-accuracy bench fit the same two models before planning: the journey model
(Laplace, no held-out refit) and an undiscounted 52-week CLV, the horizon the budget worlds'
true customer value uses (``workbench.sim.budget.true_customer_value``).
"""

from __future__ import annotations

from pathlib import Path

#: Horizon (weeks) and discount rate of the simulated worlds' customer value.
VALUE_HORIZON_WEEKS = 52.0
VALUE_DISCOUNT_RATE = 0.0


def attribute_and_value(folder: Path, seed: int, draws: int = 200, chains: int = 1) -> Path:
    """Fit attribution.nc and clv.nc from ``folder``'s touchpoints, conversions and transactions
    Parquet files (``workbench.sim.budget.simulate_budget``'s tables); returns ``folder``."""
    from workbench.api import attribute, clv

    attribute(
        folder / "touchpoints.parquet",
        folder / "conversions.parquet",
        method="laplace",
        draws=draws,
        chains=chains,
        seed=seed,
        holdout_check=False,
        out=folder / "attribution.nc",
    )
    clv(
        folder / "transactions.parquet",
        attribution_path=folder / "attribution.nc",
        annual_discount_rate=VALUE_DISCOUNT_RATE,
        horizon=VALUE_HORIZON_WEEKS,
        compare_models=False,
        out=folder / "clv.nc",
    )
    return folder
