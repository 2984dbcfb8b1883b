"""Planning a test: users needed and minimum detectable effect against Cohen's formula for two
proportions, n0 = (z_(1 - alpha/2) + z_power)^2 (1 + 1/ratio) / h^2 with
h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)), computed here by hand."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from scipy.stats import norm

from workbench import api
from workbench.cli import EXIT_BAD_INPUT, main


def _cohen_n(p0: float, p1: float, alpha: float, power: float, ratio: float = 1.0) -> float:
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
    return (norm.ppf(1 - alpha / 2) + norm.ppf(power)) ** 2 * (1 + 1 / ratio) / h**2


def test_users_needed_for_ten_percent_lift_on_ten_percent_baseline():
    plan = api.experiment_size(0.10, relative_mde=0.10)
    n = _cohen_n(0.10, 0.11, 0.05, 0.80)  # 14,744.1
    assert int(plan["control_users"]) == math.ceil(n) == 14_745
    assert int(plan["total_users"]) == 2 * 14_745
    assert float(plan["absolute_mde"]) == pytest.approx(0.01)


def test_unequal_split_and_more_arms_follow_the_formula():
    plan = api.experiment_size(0.05, relative_mde=0.2, ratio=2.0)
    assert int(plan["control_users"]) == math.ceil(_cohen_n(0.05, 0.06, 0.05, 0.8, ratio=2.0))
    assert int(plan["treatment_users"]) == math.ceil(2 * int(plan["control_users"]))
    # Three arms: each treatment is compared with the control at alpha / 2 (Bonferroni).
    three = api.experiment_size(0.05, relative_mde=0.2, arms=3)
    assert int(three["control_users"]) == math.ceil(_cohen_n(0.05, 0.06, 0.025, 0.8))
    assert int(three["total_users"]) == 3 * int(three["control_users"])


def test_minimum_detectable_effect_inverts_the_users_needed():
    users = int(api.experiment_size(0.10, relative_mde=0.10)["control_users"])
    mde = api.experiment_size(0.10, control_users=users, daily_users=1000)
    # One user more than the exact n detects a hair less than 10%.
    assert float(mde["relative_mde"]) == pytest.approx(0.10, abs=1e-4)
    assert float(mde["relative_mde"]) <= 0.10
    assert int(mde["days"]) == math.ceil(2 * users / 1000)


def test_cli_prints_the_plan_and_rejects_an_ambiguous_question():
    runner = CliRunner()
    ok = runner.invoke(main, ["experiment-size", "--baseline-rate", "0.1", "--mde", "0.1"])
    assert ok.exit_code == 0, ok.output
    assert "14745 control, 14745 per treatment arm, 29490 in all" in ok.output
    both = runner.invoke(
        main, ["experiment-size", "--baseline-rate", "0.1", "--mde", "0.1", "--users", "100"]
    )
    assert both.exit_code == EXIT_BAD_INPUT
    assert both.stderr.strip() == (
        "error: give exactly one of --mde (to get users) and --users (to get the MDE)"
    )
    too_big = runner.invoke(main, ["experiment-size", "--baseline-rate", "0.6", "--mde", "1"])
    assert too_big.exit_code == EXIT_BAD_INPUT
    assert "below 1" in too_big.stderr
