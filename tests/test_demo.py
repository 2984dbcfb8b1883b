"""``workbench demo`` runs every stage end to end into one work folder, each through the typed
API; a stage that fails is shown, the later stages still run and the demo fails at the end; the
holdout split follows the simulated purchase window."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import api
from workbench.calibration import CALIBRATION_SHARE, calibration_split
from workbench.pipelines import demo
from workbench.pipelines.demo import DemoFailed

#: Small enough to keep the test short, large enough for the CLV fits on the holdout split to
#: converge (about 300 customers with repeat purchases; at 3,000 users the MBG/NBD fit did not).
SMALL_USERS = 8_000
#: Every stage of the demo and the results file it writes.
STAGE_RESULTS = {
    "attribute": "attribution.nc",
    "clv": "clv.nc",
    "plan": "plan.nc",
    "mmm": "mmm.nc",
    "experiment": "experiment.nc",
    "cx": "cx.nc",
}


def test_the_calibration_split_takes_the_first_share_of_the_purchase_window(tmp_path):
    path = tmp_path / "transactions.parquet"
    pd.DataFrame(
        {
            "customer_id": ["a", "b", "a"],
            "timestamp": pd.to_datetime(
                ["2024-01-01 09:00", "2024-06-01 00:00", "2024-11-01 18:00"]
            ),
            "amount": [1.0, 2.0, 3.0],
        }
    ).to_parquet(path)
    # 2024-01-01 09:00 to 2024-11-01 18:00 is 305.375 days; 60% of that is 183.225 days.
    assert CALIBRATION_SHARE == 0.6
    assert calibration_split(str(path)) == ("2024-07-02", "2024-11-01")


def test_a_failing_stage_is_shown_the_rest_run_and_the_demo_fails_at_the_end(
    tmp_path, monkeypatch, capsys
):
    """The attribution stage breaks (a stand-in for a bug); the stages that need its output say
    they are skipped, the independent ones still run, and the demo ends with DemoFailed."""

    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(api, "attribute", broken)
    for other in ("mmm", "experiment", "clv", "cx", "report"):  # not under test here
        monkeypatch.setattr(demo, f"_{other}", lambda *a, **k: None)
    with pytest.raises(DemoFailed, match="attribute failed") as failed:
        demo.demo(workdir=str(tmp_path), users=300, seed=3, notebooks=False)

    outcome = failed.value.outcome
    assert outcome["simulate"] == "done"
    assert outcome["attribute"] == "failed: RuntimeError: model exploded"
    assert outcome["plan"] == "skipped: needs attribution.nc from attribute"
    assert outcome["cx"] == "done"  # stages after the failed one still run
    out = capsys.readouterr().out
    assert "attribute: FAILED after" in out
    for table in ("touchpoints", "conversions", "transactions", "spend"):
        assert (tmp_path / "data" / "sim" / f"{table}.parquet").is_file()


@pytest.mark.slow
def test_the_demo_runs_every_stage_on_a_small_simulation(tmp_path, capsys):
    """Attribution by the Laplace approximation and short media-mix sampling keep this short;
    the notebooks have their own test (they execute the same stages)."""
    outcome = demo.demo(
        workdir=str(tmp_path),
        users=SMALL_USERS,
        seed=1,
        notebooks=False,
        attribution_method="laplace",
        draws=200,
        tune=200,
    )

    assert outcome == {stage: "done" for stage in ("simulate", *STAGE_RESULTS, "report")}
    assert "demo finished in" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "results").glob("*.nc")} >= set(STAGE_RESULTS.values())
    assert (tmp_path / "reports" / "report.html").is_file()
