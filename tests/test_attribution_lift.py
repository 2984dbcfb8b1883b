"""Lift tests that calibrate the journey model (issue 14): the model's incremental conversions
for a test on a hand-computed case, the SQL rows behind them, calibration on the confounded
simulated world, and bad experiments via the CLI (one line, exit 2, nothing overwritten)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from attribution.lift import LiftTests, lift_increments
from workbench.cli import main

# Two channels, three codes each: code 0 = no touch. s[c, code] as given (not from a curve).
S = np.array([[0.0, 1.0, 1.6], [0.0, 1.0, 1.5]])
BASELINE, BETA = 0.01, np.array([0.2, 0.1])
OPENING, SYNERGY, SELECTION = np.array([0.05, 0.03]), np.array([0.04]), np.array([0.02, 0.0])
PAIRS = np.array([[0, 1]])


def _tests() -> LiftTests:
    # test 0 on channel 0. Row 0: channel 0 alone (code 1) opened the journey and its only
    # touch is in the window (removed code 0). Row 1: both channels (codes 2, 1); channel 1
    # opened; one of channel 0's two touches is in the window (removed code 1).
    return LiftTests(
        channel=np.array([0]),
        measured=np.array([3.0]),
        standard_error=np.array([1.0]),
        labels=("a test",),
        row_test=np.array([0, 0]),
        codes=np.array([[1, 0], [2, 1]]),
        first=np.array([0, 1]),
        removed_code=np.array([0, 1]),
        opener_removed=np.array([1.0, 0.0]),
        n_journeys=np.array([10.0, 4.0]),
    )


def _by_hand() -> float:
    p = lambda h: 1.0 - math.exp(-h)  # noqa: E731
    # row 0: H = b + beta0 s0(1) + opening0 + selection0 s0(1); removing the touch takes
    # beta0 s0(1) and the opening term, the selection term (intent) stays
    h0 = 0.01 + 0.2 * 1.0 + 0.05 + 0.02 * 1.0
    h0_without = 0.01 + 0.02 * 1.0
    # row 1: H = b + beta0 s0(2) + beta1 s1(1) + opening1 + synergy s0(2) s1(1) + selection
    h1 = 0.01 + 0.2 * 1.6 + 0.1 * 1.0 + 0.03 + 0.04 * 1.6 * 1.0 + 0.02 * 1.6
    h1_without = 0.01 + 0.2 * 1.0 + 0.1 * 1.0 + 0.03 + 0.04 * 1.0 * 1.0 + 0.02 * 1.6
    return 10 * (p(h0) - p(h0_without)) + 4 * (p(h1) - p(h1_without))


def test_incremental_conversions_of_a_test_match_the_hand_computed_case():
    got = lift_increments(
        np,
        _tests(),
        S[None],
        np.array([BASELINE]),
        BETA[None],
        opening=OPENING[None],
        synergy=SYNERGY[None],
        pairs=PAIRS,
        selection=SELECTION[None],
    )
    assert got.shape == (1, 1)
    assert got[0, 0] == pytest.approx(_by_hand(), rel=1e-12)


def test_the_pymc_graph_computes_the_same_lift_as_numpy():
    import pytensor.tensor as pt

    got = lift_increments(
        pt,
        _tests(),
        pt.as_tensor(S),
        pt.as_tensor(BASELINE),
        pt.as_tensor(BETA),
        opening=pt.as_tensor(OPENING),
        synergy=pt.as_tensor(SYNERGY),
        pairs=PAIRS,
        selection=pt.as_tensor(SELECTION),
    ).eval(mode="FAST_COMPILE")
    assert got[0] == pytest.approx(_by_hand(), rel=1e-12)


def _day(date: str, hours: float = 0.0) -> pd.Timestamp:
    return pd.Timestamp(date) + pd.Timedelta(hours=hours)


def _lift_rows(engine):
    """The lift rows step on hand-made journeys (below) on ``engine``."""
    from workbench import io
    from workbench import journeys as steps
    from workbench.pipelines.attribution_lift import check_tests, stage_tests

    touches = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "d", "e"],
            "timestamp": [
                _day("2024-01-28"),  # a: e-mail before the window (kept in both)
                _day("2024-02-03"),  # a: e-mail in the window (removed)
                _day("2024-02-04", 12),  # a: search
                _day("2024-02-02"),  # b: e-mail in the window, opens the journey
                _day("2024-02-03"),  # b: search
                _day("2024-02-03"),  # c: search only (no e-mail: not a test journey)
                _day("2024-02-20"),  # d: e-mail, but d converts after the window
                _day("2024-02-05"),  # e: e-mail, no conversion: decides (estimated) soon after
            ],
            "channel": ["email", "email", "search", "email", "search", "search", "email", "email"],
        }
    )
    conversions = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "timestamp": [
                _day("2024-02-05"),
                _day("2024-02-04"),
                _day("2024-02-04"),
                _day("2024-02-21"),
            ],
        }
    )
    tests = pd.DataFrame(
        {
            "channel": ["email"],
            "start": ["2024-02-01"],
            "end": ["2024-02-10"],
            "incremental_conversions": [1.0],
            "standard_error": [0.5],
        }
    )
    io.stage(engine, "touchpoints", touches)
    io.stage(engine, "conversions", conversions)
    tables = steps.run_steps(engine, 30.0)
    _, lift = stage_tests(engine, check_tests(engine, tests), tables, 30.0)
    assert tables.channels == ["email", "search"]
    return lift


def test_the_sql_step_finds_the_journeys_and_touches_inside_the_window(duckdb_engine):
    lift = _lift_rows(duckdb_engine)
    assert lift.n_tests == 1 and lift.journeys_by_test().tolist() == [3.0]
    rows = {tuple(code): i for i, code in enumerate(lift.codes.tolist())}
    # codes: bins [0, 1), [1, 7), [7, 30] days; code = n_0 + 4 n_1 + 16 n_2
    a = rows[(4 + 16, 1)]  # e-mail 2 days and 8 days before, search 0.5 days before
    assert lift.removed_code[a] == 16  # only the touch before the window remains
    assert lift.first[a] == 0 and lift.opener_removed[a] == 0.0  # its opener was before
    b = rows[(4, 4)]  # e-mail 2 days before (opened), search 1 day before: both bin 1
    assert lift.removed_code[b] == 0 and lift.opener_removed[b] == 1.0
    # e: a non-converting journey, evaluated at its estimated decision inside the window
    e = [i for i, code in enumerate(lift.codes.tolist()) if code[1] == 0]
    assert len(e) == 1 and lift.removed_code[e[0]] == 0 and lift.opener_removed[e[0]] == 1.0


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_the_same_lift_rows(duckdb_engine, spark_engine):
    on_duckdb, on_spark = _lift_rows(duckdb_engine), _lift_rows(spark_engine)
    for name in ("row_test", "codes", "first", "removed_code", "opener_removed", "n_journeys"):
        np.testing.assert_array_equal(getattr(on_duckdb, name), getattr(on_spark, name))


@pytest.mark.slow
def _precise_test(test: dict) -> pd.DataFrame:
    """The experiments row of a precise test (10% standard error) of a simulated true lift."""
    return pd.DataFrame(
        {
            "channel": [test["channel"]],
            "start": [test["start"]],
            "end": [test["end"]],
            "incremental_conversions": [test["true_incremental_conversions"]],
            "standard_error": [0.1 * test["true_incremental_conversions"]],
        }
    )


def test_a_precise_lift_test_moves_the_confounded_channel_towards_the_truth(tmp_path):
    from workbench.api import attribute
    from workbench.sim.confounded import simulate_confounded
    from workbench.store import read_results

    world = simulate_confounded(users=5_000, seed=3)
    test = world.truth["lift_tests"][0]
    precise = _precise_test(test)
    out = tmp_path / "results" / "attribution.nc"
    out.parent.mkdir()
    attribute(
        world.touchpoints,
        world.conversions,
        experiments=precise,
        method="laplace",
        draws=100,
        holdout_check=False,
        seed=2,
        out=out,
    )
    ds = read_results(out)

    def share(name: str) -> float:
        mean = ds[name].mean(("chain", "draw"))
        return float(mean.sel(channel="email") / mean.sum())

    true = world.truth["shapley_shares"]["email"]
    before, after = share("attributed_conversions_uncalibrated"), share("attributed_conversions")
    assert before > 1.3 * true  # the observational fit over-credits the targeted channel
    assert abs(after - true) < 0.5 * abs(before - true)
    measured = test["true_incremental_conversions"]
    predicted_before = float(ds["lift_test_predicted_uncalibrated"].mean())
    predicted = float(ds["lift_test_predicted"].mean())
    assert abs(predicted - measured) < 0.5 * abs(predicted_before - measured)
    # the stored layout (docs/contracts.md, "Journey-model lift tests")
    assert ds["lift_test_channel"].values.tolist() == ["email"]
    assert ds["lift_test_start"].values.tolist() == [test["start"]]
    assert float(ds["lift_test_measured"][0]) == pytest.approx(measured)
    for name in ("lift_test_predicted", "lift_test_predicted_uncalibrated"):
        assert ds[name].dims == ("chain", "draw", "lift_test")
    assert ds["attributed_conversions_uncalibrated"].dims == ("chain", "draw", "channel")
    assert float(ds["selection"].sel(channel="email").mean()) > 0.0
    assert float(ds["selection"].sel(channel="display").max()) == 0.0
    report = CliRunner().invoke(
        main, ["report", "--results", str(out.parent), "--out", str(tmp_path / "reports")]
    )
    assert report.exit_code == 0, report.output
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "Lift tests in the journey model" in html and "Share with tests" in html


@pytest.mark.slow
def test_the_checks_judge_a_calibrated_fit_by_the_hazard_the_journeys_show():
    """With a lift test the tested channel's journeys convert at effect + selection; checks that
    compared them with the effect alone flagged every channel of this world (20,000 users:
    e-mail's opening and closing journeys, path lengths; model_ok 0)."""
    from workbench.api import attribute
    from workbench.sim.confounded import simulate_confounded

    world = simulate_confounded(users=20_000, seed=3)
    test = world.truth["lift_tests"][0]
    precise = _precise_test(test)
    ds = attribute(
        world.touchpoints,
        world.conversions,
        experiments=precise,
        method="laplace",
        draws=100,
        holdout_check=False,
        seed=2,
    )
    assert ds.attrs["model_ok"] == 1, ds.attrs["criticism_reasons"]
    assert list(ds.attrs["unreliable_channels"]) == []


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> Path:
    from workbench.sim.confounded import simulate_confounded, write_world

    folder = tmp_path_factory.mktemp("tiny")
    write_world(simulate_confounded(users=1_500, seed=4), folder, fmt="csv")
    return folder


def _cli(folder: Path, tmp_path: Path, experiments: pd.DataFrame) -> tuple[int, str, Path]:
    path = tmp_path / "experiments.csv"
    experiments.to_csv(path, index=False)
    out = tmp_path / "attribution.nc"
    out.write_bytes(b"an earlier result")
    args = [
        "attribute",
        "--touchpoints",
        str(folder / "touchpoints.csv"),
        "--conversions",
        str(folder / "conversions.csv"),
        "--experiments",
        str(path),
        "--out",
        str(out),
        "--method",
        "laplace",
    ]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output, out


def _row(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "experiments.csv")


@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ({"start": "2023-01-01", "end": "2023-01-31"}, "start", "outside the data period"),
        ({"standard_error": -3.0}, "standard_error", "negative standard_error"),
        ({"channel": "tv"}, "channel", "'tv' is not in the touchpoints"),
    ],
    ids=["window outside the journeys", "negative standard error", "unknown channel"],
)
def test_bad_experiments_are_one_line_exit_2_and_nothing_overwritten(
    tiny_world, tmp_path, change, column, words
):
    code, output, out = _cli(tiny_world, tmp_path, _row(tiny_world).assign(**change))
    assert code == 2
    # progress lines go to stderr; the error is one line
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "experiments.csv" in errors[0] and f"column '{column}'" in errors[0]
    assert words in errors[0]
    assert out.read_bytes() == b"an earlier result"


def test_the_hold_out_analysed_by_workbench_experiment_gives_the_simulated_row(
    tiny_world, tmp_path
):
    import json

    truth = json.loads((tiny_world / "truth.json").read_text())
    test = truth["lift_tests"][0]
    row_out = tmp_path / "row.csv"
    args = [
        "experiment",
        "--assignments",
        str(tiny_world / "assignments.csv"),
        "--conversions",
        str(tiny_world / "conversions.csv"),
        "--channel",
        "email",
        "--market-users",
        str(test["exposed_users"]),
        "--end",
        str((pd.Timestamp(test["end"]) + pd.Timedelta(days=1)).date()),
        "--lift-test-out",
        str(row_out),
        "--out",
        str(tmp_path / "experiment.nc"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    row, simulated = pd.read_csv(row_out).iloc[0], _row(tiny_world).iloc[0]
    assert (row["channel"], row["start"], row["end"]) == (
        simulated["channel"],
        simulated["start"],
        simulated["end"],
    )
    # a Bayesian bootstrap against the normal difference in means: the same up to noise
    se = simulated["standard_error"]
    assert abs(row["incremental_conversions"] - simulated["incremental_conversions"]) < 0.1 * se
    assert row["standard_error"] == pytest.approx(se, rel=0.1)


def test_simulate_confounded_writes_the_world_and_its_test_measures_the_true_lift(tmp_path):
    import json

    result = CliRunner().invoke(
        main,
        ["simulate", "--scenario", "confounded", "--users", "60000", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    for name in ("touchpoints", "conversions", "experiments", "assignments"):
        assert (tmp_path / f"{name}.parquet").is_file()
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert sum(truth["shapley_shares"].values()) == pytest.approx(1.0)
    test = truth["lift_tests"][0]
    # the hold-out's estimate is unbiased for the true lift: within 3 standard errors
    error = test["measured_incremental_conversions"] - test["true_incremental_conversions"]
    assert abs(error) < 3 * test["standard_error"]
    assert test["standard_error"] < 0.5 * test["true_incremental_conversions"]
    touched = pd.read_parquet(tmp_path / "touchpoints.parquet")
    assert sorted(touched["channel"].unique()) == truth["channels"]
