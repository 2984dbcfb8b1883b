"""``workbench experiment`` end to end on simulated tests with known truth: rates and revenue
recovered, every left-out user and event counted, the sample-ratio mismatch caught, customer
value joined from a clv.nc, the hold-out's lift-test row, and bad input as one line with exit
code 2 and nothing written.

Recovery is checked at ``Z`` posterior standard deviations (fails for about 1 seed in 10,000).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from workbench import api
from workbench.cli import EXIT_BAD_INPUT, main
from workbench.experiments.settings import SRM_ALPHA
from workbench.sim.abtest import ab_world, contaminate, holdout_world, srm_world
from workbench.store import read_results

Z = 4.0
DRAWS = 2000


@pytest.fixture(scope="module")
def contaminated():
    return contaminate(
        ab_world(users=20_000, seed=3), several_arms=40, converted_before=25, unassigned=9
    )


@pytest.fixture(scope="module")
def result(contaminated):
    w = contaminated
    return api.experiment(
        w.assignments, w.conversions, transactions=w.transactions, draws=DRAWS, seed=1
    )


def test_true_conversion_rate_and_revenue_per_user_are_recovered(result, contaminated):
    truth = contaminated.truth
    for metric in ("conversion_rate", "revenue_per_user"):
        for arm, true in truth[metric].items():
            draws = result[metric].sel(arm=arm)
            assert abs(float(draws.mean()) - true) < Z * float(draws.std()), (metric, arm)
    lift = result["lift"].sel(arm="treatment")
    assert abs(float(lift.mean()) - truth["lift"]["treatment"]) < Z * float(lift.std())
    assert float(result["lift_lower"].sel(arm="treatment")) < float(lift.mean())
    assert result.attrs["control"] == "control"


def test_an_aa_test_with_identical_arms_gives_p_beats_one_half_end_to_end():
    # Arm "copy" holds the control's users again under new ids, with the same conversions and
    # orders: every posterior is the same, so P(beats) is 0.5 up to Monte Carlo error.
    world = ab_world(users=6_000, seed=9)
    control = world.assignments[world.assignments["arm"] == "control"]
    users = set(control["user_id"])

    def copied(frame, column):
        part = frame[frame[column].isin(users)].copy()
        part[column] = part[column] + "-copy"
        return pd.concat([frame[frame[column].isin(users)], part], ignore_index=True)

    assignments = copied(control, "user_id")
    assignments.loc[assignments["user_id"].str.endswith("-copy"), "arm"] = "copy"
    ds = api.experiment(
        assignments,
        copied(world.conversions, "user_id"),
        transactions=copied(world.transactions, "customer_id"),
        draws=DRAWS,
        seed=4,
    )
    for metric in ("conversion_rate", "revenue_per_user"):
        p = float(ds["p_beats_control_by_metric"].sel(metric=metric, arm="copy"))
        assert abs(p - 0.5) < Z * 0.5 / np.sqrt(DRAWS), metric
    assert int(ds["n_converted"].sel(arm="copy")) == int(ds["n_converted"].sel(arm="control"))


def test_counts_per_arm_are_the_users_and_conversions_in_the_data(result, contaminated):
    w = contaminated
    a = w.assignments
    arms_of = a.groupby("user_id")["arm"].nunique()
    single = a[a["user_id"].isin(arms_of[arms_of == 1].index)].drop_duplicates("user_id")
    conv = w.conversions.merge(single, on="user_id")
    counted = conv[conv["timestamp"] >= conv["assigned_at"]]
    for arm in ("control", "treatment"):
        in_arm = single[single["arm"] == arm]
        assert int(result["n_users"].sel(arm=arm)) == len(in_arm)
        assert (
            int(result["n_converted"].sel(arm=arm))
            == counted[counted["arm"] == arm].user_id.nunique()
        )
        assert int(result["n_conversions"].sel(arm=arm)) == (counted["arm"] == arm).sum()


def test_left_out_users_and_events_are_counted_by_reason(result, contaminated):
    truth = contaminated.truth
    assert result.attrs["excluded_users"] == {
        "assigned_to_several_arms": truth["users_in_several_arms"]
    }
    not_counted = result.attrs["not_counted"]
    assert not_counted["conversions_before_assignment"] == truth["conversions_before_assignment"]
    assert not_counted["orders_before_assignment"] == truth["conversions_before_assignment"]
    assert not_counted["unassigned_conversions"] == truth["unassigned_conversions"]
    assert not_counted["conversions_after_end"] == 0
    assert result.attrs["users_assigned"] == 20_000


def test_a_sample_ratio_mismatch_is_caught_and_a_sound_split_passes(result):
    w = srm_world(seed=4)  # treatment loses 5% of its 50,000 users after assignment
    flagged = api.experiment(w.assignments, w.conversions, draws=200, seed=1)
    assert flagged.attrs["srm_mismatch"] == 1
    assert flagged.attrs["srm_p_value"] < SRM_ALPHA
    n = flagged["n_users"]
    assert int(n.sel(arm="treatment")) < int(n.sel(arm="control"))
    # The contaminated A/B world has a sound 50/50 assignment: p < SRM_ALPHA 1 time in 1,000.
    assert result.attrs["srm_mismatch"] == 0
    assert result.attrs["srm_p_value"] > SRM_ALPHA


def test_the_planned_split_is_what_the_sample_ratio_is_checked_against():
    w = holdout_world(users=10_000, seed=5)  # planned 20% hold-out
    equal = api.experiment(w.assignments, w.conversions, channel="search", draws=200)
    planned = api.experiment(
        w.assignments, w.conversions, channel="search", split="holdout=20,exposed=80", draws=200
    )
    assert equal.attrs["srm_mismatch"] == 1
    assert planned.attrs["srm_mismatch"] == 0
    assert planned.attrs["control"] == "holdout"  # the hold-out is the control by default
    expected = planned["srm_expected_users"].sel(arm="holdout")
    assert float(expected) == pytest.approx(0.2 * int(planned["n_users"].sum()))


def test_conversions_after_the_end_are_not_counted(contaminated):
    w = contaminated
    end = "2024-03-20"
    ds = api.experiment(w.assignments, w.conversions, end=end, draws=200)
    # Conversions of analysed users (one arm) after the end; the other users' are not in the
    # test at all and are counted apart.
    arms_of = w.assignments.groupby("user_id")["arm"].nunique()
    analysed = w.conversions["user_id"].isin(arms_of[arms_of == 1].index)
    after = (analysed & (w.conversions["timestamp"] >= pd.Timestamp(end))).sum()
    assert ds.attrs["not_counted"]["conversions_after_end"] == after
    assert ds.attrs["test_end"] == end


def test_hold_out_writes_a_lift_test_row_scaled_to_the_market(tmp_path):
    w = holdout_world(users=40_000, seed=6)
    paths = w.write(tmp_path / "in", fmt="csv")
    row_path = tmp_path / "experiments.csv"
    out = tmp_path / "results" / "experiment.nc"
    outcome = CliRunner().invoke(
        main,
        [
            "experiment",
            "--assignments", str(paths["assignments"]),
            "--conversions", str(paths["conversions"]),
            "--channel", "search",
            "--split", "holdout=20,exposed=80",
            "--lift-test-out", str(row_path),
            "--draws", str(DRAWS),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    row = pd.read_csv(row_path)
    assert list(row.columns) == [
        "channel", "start", "end", "incremental_conversions", "standard_error"
    ]  # fmt: skip
    assert row["channel"].tolist() == ["search"]
    assert row["start"].tolist() == [w.truth["start"]]
    true = w.truth["incremental_conversions"]  # 0.01 x 1.5 conversions per user x 40,000
    est, se = float(row["incremental_conversions"][0]), float(row["standard_error"][0])
    assert abs(est - true) < Z * se
    # Twice the market, twice the conversions and the standard error.
    doubled = api.experiment(
        str(paths["assignments"]),
        str(paths["conversions"]),
        channel="search",
        market_users=80_000,
        draws=DRAWS,
    ).attrs["lift_test"]
    assert doubled["incremental_conversions"] == pytest.approx(2 * est)
    assert doubled["standard_error"] == pytest.approx(2 * se)
    assert read_results(out).attrs["lift_test"]["channel"] == "search"


def test_customer_value_joins_clv_by_user_and_values_absent_users_at_the_mean(contaminated):
    w = contaminated
    users = w.assignments.drop_duplicates("user_id", keep=False)
    control = users[users["arm"] == "control"]["user_id"].to_numpy()
    treated = users[users["arm"] == "treatment"]["user_id"].to_numpy()
    # clv.nc knows 100 control users (CLV 10) and 300 treated users (CLV 30), and one
    # customer who is not in the test (CLV 210): its population mean is
    # (100 x 10 + 300 x 30 + 210) / 401.
    ids = np.concatenate([control[:100], treated[:300], ["someone-else"]])
    clv = np.concatenate([np.full(100, 10.0), np.full(300, 30.0), [210.0]])
    clv_ds = xr.Dataset({"clv": ("customer_id", clv)}, coords={"customer_id": ids})
    ds = api.experiment(
        w.assignments, w.conversions, clv=clv_ds, metric="customer_value", draws=DRAWS, seed=2
    )
    fill = (100 * 10 + 300 * 30 + 210) / 401
    expected = {
        "control": (100 * 10 + (len(control) - 100) * fill) / len(control),
        "treatment": (300 * 30 + (len(treated) - 300) * fill) / len(treated),
    }
    for arm, mean in expected.items():
        draws = ds["customer_value"].sel(arm=arm)
        # The bootstrap's posterior mean is the sample mean, up to Monte Carlo error.
        assert abs(float(draws.mean()) - mean) < Z * float(draws.std()) / np.sqrt(DRAWS)
    absent = ds.attrs["customer_value_absent"]
    assert absent["rule"] == "mean" and absent["value"] == pytest.approx(fill)
    assert absent["absent_users"] == {
        "control": len(control) - 100,
        "treatment": len(treated) - 300,
    }
    assert float(ds["p_beats_control"].sel(arm="treatment")) > 0.99


def test_conversion_values_give_revenue_when_there_are_no_transactions(contaminated):
    w = contaminated
    conv = w.conversions.assign(value=5.0)
    ds = api.experiment(w.assignments, conv, draws=200)
    assert ds.attrs["revenue_source"] == "conversion values"
    counted = ds["n_conversions"].sel(arm="control")
    assert float(ds["revenue_total"].sel(arm="control")) == pytest.approx(5.0 * int(counted))
    no_revenue = api.experiment(w.assignments, w.conversions, draws=200)
    assert no_revenue.attrs["revenue_source"] == "none"
    assert "revenue_per_user" not in no_revenue


def _csv(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD_ASSIGNMENTS = (
    "user_id,arm,assigned_at\nu1,control,2024-03-01\nu2,b,2024-03-01\nu3,control,2024-03-02\n"
)
GOOD_CONVERSIONS = "user_id,timestamp\nu1,2024-03-03\nu2,2024-03-04\n"


@pytest.mark.parametrize(
    ("assignments", "extra", "expected"),
    [
        (
            "user_id,group,assigned_at\nu1,control,2024-03-01\n",
            [],
            "column 'arm': required column is missing",
        ),
        (
            "user_id,arm,assigned_at\nu1,control,2024-03-01\nu2,b,yesterday\n",
            [],
            "column 'assigned_at', row 2: cannot read 'yesterday' as a timestamp",
        ),
        (GOOD_ASSIGNMENTS, ["--control", "ctrl"], "--control 'ctrl' is not an arm with users"),
        (
            GOOD_ASSIGNMENTS,
            ["--split", "control=50,b=25,c=25"],
            "arm 'c' of --split has no users",
        ),
        (
            "user_id,arm,assigned_at\nu1,control,2024-03-01\nu2,b,2024-03-01\nu2,control,"
            "2024-03-01\n",
            [],
            "column 'arm': arm 'b' has no users left: all 1 of its users were also assigned "
            "to another arm",
        ),
        (
            "user_id,arm,assigned_at\nu1,control,2024-03-01\nu3,control,2024-03-01\n",
            [],
            "only one arm has users ('control'); an A/B test needs at least two",
        ),
        (GOOD_ASSIGNMENTS, ["--clv", "missing.nc"], "missing.nc: file not found"),
        (
            GOOD_ASSIGNMENTS,
            ["--metric", "customer_value"],
            "--metric customer_value needs --clv",
        ),
        (GOOD_ASSIGNMENTS, ["--end", "soon"], "--end: cannot read 'soon' as a date"),
        (GOOD_ASSIGNMENTS, ["--lift-test-out", "x.csv"], "--lift-test-out needs --channel"),
        (GOOD_ASSIGNMENTS, ["--split", "control=1,b=0"], "weight of arm 'b' is '0'"),
        (
            GOOD_ASSIGNMENTS,
            ["--channel", "search", "--control", "control", "--lift-test-out", "row.txt"],
            "row.txt: unknown file extension",
        ),
        (
            "user_id,arm,assigned_at\nu1,holdout,2024-03-05\nu2,exposed,2024-03-05\n",
            ["--channel", "search"],
            "every user of both arms has the same number of conversions",
        ),
    ],
    ids=[
        "missing column",
        "unparsable timestamp",
        "unknown control",
        "split arm without users",
        "arm with no users left",
        "only one arm",
        "clv file missing",
        "customer value without clv",
        "end not a date",
        "row without channel",
        "zero weight",
        "lift-test row not csv or parquet",
        "hold-out without conversions",
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_nothing_written(
    tmp_path, assignments, extra, expected
):
    out = tmp_path / "experiment.nc"
    args = [
        "experiment",
        "--assignments",
        _csv(tmp_path, "assignments.csv", assignments),
        "--conversions",
        _csv(tmp_path, "conversions.csv", GOOD_CONVERSIONS),
        "--out",
        str(out),
        *extra,
    ]
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == EXIT_BAD_INPUT, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not out.exists()


def test_a_conversion_timestamp_that_does_not_parse_names_the_conversions_file(tmp_path):
    conversions = _csv(tmp_path, "conversions.csv", "user_id,timestamp\nu1,2024-13-45\n")
    outcome = CliRunner().invoke(
        main,
        [
            "experiment",
            "--assignments", _csv(tmp_path, "a.csv", GOOD_ASSIGNMENTS),
            "--conversions", conversions,
            "--out", str(tmp_path / "e.nc"),
        ],
    )  # fmt: skip
    assert outcome.exit_code == EXIT_BAD_INPUT
    assert "conversions.csv, column 'timestamp', row 1: cannot read '2024-13-45'" in (
        outcome.stderr
    )


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_the_same_results(spark_engine, tmp_path):
    w = contaminate(ab_world(users=3_000, seed=8), several_arms=5, converted_before=4, unassigned=3)
    paths = w.write(tmp_path, fmt="parquet")
    kwargs = {"transactions": str(paths["transactions"]), "draws": 200, "seed": 3}
    on_duckdb = api.experiment(str(paths["assignments"]), str(paths["conversions"]), **kwargs)
    on_spark = api.experiment(
        str(paths["assignments"]), str(paths["conversions"]), engine="spark", **kwargs
    )
    for name in ("n_users", "n_converted", "n_conversions", "n_purchasers", "conversion_rate"):
        xr.testing.assert_equal(on_duckdb[name], on_spark[name])
    xr.testing.assert_allclose(on_duckdb["revenue_per_user"], on_spark["revenue_per_user"])
    for key in ("excluded_users", "not_counted", "srm_p_value", "test_start", "test_end"):
        assert on_duckdb.attrs[key] == on_spark.attrs[key]
