"""``workbench attribute`` end to end through the CLI: the attribution.nc schema of
docs/contracts.md with consistent totals, and bad input failing with exit code 2 and one line
while an existing results file stays untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.simulate import simulate
from workbench.store import file_sha256, read_results

# Small and fast: the Laplace posterior (the large-data default) with few draws.
FAST = ["--method", "laplace", "--draws", "60", "--chains", "2", "--seed", "3"]
GHOST_USERS = ("ghost-1", "ghost-2")  # converters never touched: organic, not an error


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attribute")
    sim = simulate(users=3000, weeks=6, scenario="default", seed=5)
    touchpoints = sim.touchpoints[["user_id", "timestamp", "channel"]]
    ghosts = pd.DataFrame(
        {
            "user_id": list(GHOST_USERS),
            "timestamp": [sim.conversions["timestamp"].iloc[0]] * len(GHOST_USERS),
        }
    )
    conversions = pd.concat([sim.conversions[["user_id", "timestamp"]], ghosts])
    paths = {"touchpoints": folder / "touchpoints.csv", "conversions": folder / "conv.parquet"}
    touchpoints.to_csv(paths["touchpoints"], index=False)
    conversions.to_parquet(paths["conversions"], index=False)
    paths["out"] = folder / "results" / "attribution.nc"
    paths["n_touchpoints"] = len(touchpoints)
    paths["n_conversions"] = len(conversions)
    paths["folder"] = folder
    return paths


@pytest.fixture(scope="module")
def result(files):
    args = [
        "attribute",
        "--touchpoints",
        str(files["touchpoints"]),
        "--conversions",
        str(files["conversions"]),
        "--out",
        str(files["out"]),
        *FAST,
    ]
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == 0, outcome.output
    return read_results(files["out"]), outcome


def test_attribute_writes_the_contract_variables_and_dims(result):
    ds, _ = result
    expected = {
        "attributed_conversions": ("chain", "draw", "channel"),
        "incremental_conversions": ("chain", "draw", "channel"),
        "baseline_conversions": ("chain", "draw"),
        "heuristic_credit": ("method", "channel"),
        "observed_conversions": (),
        "organic_conversions": (),
        "pattern_counts": ("pattern", "channel", "recency_bin"),
        "pattern_n_journeys": ("pattern",),
        "pattern_n_conversions": ("pattern",),
        "journey_credit": ("journey", "channel"),
        "journey_baseline": ("journey",),
        "weekly_touches": ("week", "channel"),
        "weekly_reach": ("week", "channel"),
        "beta": ("chain", "draw", "channel"),
        "baseline": ("chain", "draw"),
    }
    for name, dims in expected.items():
        assert ds[name].dims == dims, name
    assert list(ds["method"].values) == [
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov",
    ]
    assert list(ds["channel"].values) == sorted(ds["channel"].values)
    assert list(np.asarray(ds["recency_bin"].attrs["edges_days"])) == [0.0, 1.0, 7.0, 30.0]
    assert np.issubdtype(ds["journey_time"].dtype, np.datetime64)


def test_conversions_split_into_organic_and_touched_and_every_baseline_credits_the_touched(
    result, files
):
    ds, _ = result
    observed = int(ds["observed_conversions"])
    organic = int(ds["organic_conversions"])
    assert observed == files["n_conversions"]
    assert organic >= len(GHOST_USERS)  # never-touched converters are organic, not dropped
    touched = observed - organic
    assert int(ds["pattern_n_conversions"].sum()) == touched
    assert ds.sizes["journey"] == touched
    np.testing.assert_allclose(ds["heuristic_credit"].sum("channel"), touched, rtol=1e-9)


def test_shapley_credit_plus_baseline_is_the_model_conversions_per_draw(result):
    ds, _ = result
    total = ds["attributed_conversions"].sum("channel") + ds["baseline_conversions"]
    np.testing.assert_allclose(total, ds["model_conversions"], rtol=1e-9)
    shares = ds["journey_credit"].sum("channel") + ds["journey_baseline"]
    np.testing.assert_allclose(shares, 1.0, rtol=1e-9)
    assert float(ds["journey_credit"].min()) >= 0.0


def test_weekly_touches_count_every_touchpoint_and_reach_never_exceeds_touches(result, files):
    ds, _ = result
    assert int(ds["weekly_touches"].sum()) == files["n_touchpoints"]
    assert bool((ds["weekly_reach"] <= ds["weekly_touches"]).all())


def test_results_carry_provenance_diagnostics_and_holdout_log_loss(result, files):
    ds, outcome = result
    assert ds.attrs["inputs"]["touchpoints"]["sha256"] == file_sha256(files["touchpoints"])
    assert ds.attrs["seed"] == 3
    assert ds.attrs["posterior_method"] == "laplace"
    assert ds.attrs["row_counts"]["touchpoints"] == files["n_touchpoints"]
    for key in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "diagnostics_ok"):
        assert key in ds.attrs
    assert set(ds.attrs["holdout_log_loss"]) == {"bayes", "logistic", "boosted_trees", "markov"}
    assert all(0 < v < 1 for v in ds.attrs["holdout_log_loss"].values())
    assert "[attribute" in outcome.stderr  # progress goes to stderr


def _bad_run(files, touchpoints, conversions=None) -> tuple[int, str]:
    before = files["out"].read_bytes()
    outcome = CliRunner().invoke(
        main,
        [
            "attribute",
            "--touchpoints",
            str(touchpoints),
            "--conversions",
            str(conversions or files["conversions"]),
            "--out",
            str(files["out"]),
            *FAST,
        ],
    )
    assert files["out"].read_bytes() == before, "a failed run must leave the old results"
    return outcome.exit_code, outcome.stderr


def test_touchpoints_without_a_channel_column_exit_2_and_keep_the_old_results(result, files):
    bad = files["folder"] / "no_channel.csv"
    pd.read_csv(files["touchpoints"]).drop(columns="channel").to_csv(bad, index=False)
    code, stderr = _bad_run(files, bad)
    assert code == 2
    assert "channel" in stderr and "no_channel.csv" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_empty_touchpoints_exit_2_and_keep_the_old_results(result, files):
    empty = files["folder"] / "empty.csv"
    empty.write_text("user_id,timestamp,channel\n")
    code, stderr = _bad_run(files, empty)
    assert code == 2
    assert "empty.csv" in stderr


def test_a_lookback_shorter_than_the_recency_bins_exits_2(result, files):
    outcome = CliRunner().invoke(
        main,
        [
            "attribute",
            "--touchpoints",
            str(files["touchpoints"]),
            "--conversions",
            str(files["conversions"]),
            "--out",
            str(files["out"]),
            "--lookback-days",
            "5",
        ],
    )
    assert outcome.exit_code == 2
    assert "lookback" in outcome.stderr


def test_stored_baselines_are_the_sql_heuristics_and_the_markov_chain_per_method(result, files):
    from attribution.markov import markov_attribution
    from workbench import io
    from workbench import journeys as J
    from workbench.engines import DuckDBEngine

    ds, _ = result
    engine = DuckDBEngine()
    io.stage(engine, "touchpoints", str(files["touchpoints"]))
    io.stage(engine, "conversions", str(files["conversions"]))
    tables = J.run_steps(engine, lookback_days=30.0)
    engine.close()
    rules = tables.heuristics.set_index("channel").reindex(tables.channels).fillna(0.0)
    for method in J.HEURISTIC_METHODS:
        stored = ds["heuristic_credit"].sel({"method": method}).values
        np.testing.assert_allclose(stored, rules[method].to_numpy(), err_msg=method)
    t = tables.markov_transitions.groupby(["from_state", "to_state"], as_index=False).sum()
    chain = markov_attribution(t["from_state"], t["to_state"], t["n_transitions"], tables.channels)
    np.testing.assert_allclose(
        ds["heuristic_credit"].sel({"method": "markov"}).values,
        chain["attributed_conversions"].values,
    )
    # the rules disagree with each other on real journeys (a mix-up would make them equal)
    assert not np.allclose(rules["first_touch"], rules["last_touch"])
