"""Planning an A/B test (``workbench experiment-size``): users needed for a minimum detectable
effect, or the effect a number of users can detect (:mod:`workbench.experiments.power`)."""

from __future__ import annotations

import math

import xarray as xr

from workbench.errors import InputError
from workbench.experiments.settings import PLAN_ALPHA, PLAN_POWER


def experiment_size(
    baseline_rate: float,
    *,
    relative_mde: float | None = None,
    control_users: int | None = None,
    alpha: float = PLAN_ALPHA,
    power: float = PLAN_POWER,
    ratio: float = 1.0,
    arms: int = 2,
    daily_users: float | None = None,
) -> xr.Dataset:
    """Plan a conversion-rate test: users needed for a lift, or the lift a size can detect.

    Args:
        baseline_rate: the control's expected conversion rate (0.05 = 5%).
        relative_mde: the smallest relative lift worth detecting (0.1 = +10%); returns the
            users needed. Give this or ``control_users``.
        control_users: users in the control arm; returns the minimum detectable effect.
        alpha: two-sided significance level (split over the treatment arms, Bonferroni).
        power: probability of detecting an effect of the MDE.
        ratio: users in each treatment arm per control user.
        arms: arms including the control.
        daily_users: users entering the test per day, to give its length in days.

    Returns:
        A Dataset of scalars: ``control_users``, ``treatment_users`` (per treatment arm),
        ``total_users``, ``relative_mde``, ``absolute_mde`` [, ``days``].
    """
    from workbench.experiments.power import detectable_effect, users_needed

    if (relative_mde is None) == (control_users is None):
        raise InputError("give exactly one of --mde (to get users) and --users (to get the MDE)")
    if not 0 < baseline_rate < 1:
        raise InputError(f"--baseline-rate must be between 0 and 1; got {baseline_rate}")
    for name, value in (("--alpha", alpha), ("--power", power)):
        if not 0 < value < 1:
            raise InputError(f"{name} must be between 0 and 1; got {value}")
    if not ratio > 0 or int(arms) < 2:
        raise InputError(f"--ratio must be > 0 and --arms at least 2; got {ratio}, {arms}")
    if daily_users is not None and not daily_users > 0:
        raise InputError(f"--daily-users must be > 0; got {daily_users}")
    options = {"alpha": alpha, "power": power, "ratio": ratio, "arms": int(arms)}
    if relative_mde is not None:
        if not relative_mde > 0 or baseline_rate * (1 + relative_mde) >= 1:
            raise InputError(
                f"--mde {relative_mde} must be > 0 and keep the treated rate "
                f"{baseline_rate} x (1 + mde) below 1"
            )
        plan = users_needed(baseline_rate, relative_mde, **options)
    else:
        if int(control_users) < 2:
            raise InputError(f"--users must be at least 2; got {control_users}")
        plan = detectable_effect(baseline_rate, int(control_users), **options)
    ds = xr.Dataset(
        {
            "baseline_rate": plan.baseline_rate,
            "relative_mde": plan.relative_mde,
            "absolute_mde": plan.absolute_mde,
            "control_users": plan.control_users,
            "treatment_users": plan.treatment_users,
            "total_users": plan.total_users,
        },
        attrs={
            "alpha": alpha,
            "power": power,
            "ratio": ratio,
            "arms": int(arms),
            "test": "two-sided z-test on Cohen's h, Bonferroni over treatment arms",
        },
    )
    if daily_users is not None:
        ds["days"] = math.ceil(plan.total_users / daily_users)
    return ds


def describe_size(ds: xr.Dataset) -> str:
    """The plan in two lines for the terminal."""
    text = (
        f"baseline {float(ds['baseline_rate']):.2%}, detectable lift "
        f"{float(ds['relative_mde']):+.1%} ({float(ds['absolute_mde']):+.3%} points) at "
        f"alpha {ds.attrs['alpha']}, power {ds.attrs['power']}\n"
        f"users: {int(ds['control_users'])} control, {int(ds['treatment_users'])} per treatment "
        f"arm, {int(ds['total_users'])} in all"
    )
    if "days" in ds:
        text += f"; {int(ds['days'])} days at the given daily users"
    return text
