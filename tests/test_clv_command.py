"""The clv data step and command: RFM SQL on a hand-computed case and on DuckDB vs Spark, bad
input through the CLI (exit 2, nothing written), segments by customer attribute and by
acquisition channel, and the Bayesian path end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from workbench import io, rfm
from workbench.api import clv
from workbench.cli import main
from workbench.engines import DuckDBEngine
from workbench.errors import InputError
from workbench.store import read_results, write_results

CAL, HOLD = "2024-01-29", "2024-02-26"

# Hand case, weeks. A: two rows on Jan 1 are one purchase; repeats Jan 8 (20) and Jan 15 (0,
# still a purchase); one holdout purchase. B: one purchase. C: repeat on Jan 11 of amount 0 ->
# frequency 1 but no positive spend. D: first purchase after calibration -> not a customer.
# E: purchases on the calibration end (late evening) and the holdout end count; Feb 27 does not.
HAND = [
    ("A", "2024-01-01T09:00:00", 10.0),
    ("A", "2024-01-01T17:30:00", 5.0),
    ("A", "2024-01-08", 20.0),
    ("A", "2024-01-15", 0.0),
    ("A", "2024-02-05", 7.0),
    ("B", "2024-01-22T13:00:00", 30.0),
    ("C", "2024-01-10", 5.0),
    ("C", "2024-01-10", 8.0),
    ("C", "2024-01-11", 0.0),
    ("D", "2024-02-01", 50.0),
    ("E", "2024-01-03", 12.0),
    ("E", "2024-01-29T23:30:00", 9.0),
    ("E", "2024-02-26", 4.0),
    ("E", "2024-02-27", 100.0),
]
HAND_RFM = pd.DataFrame(
    {
        "customer_id": ["A", "B", "C", "E"],
        "frequency": [2, 0, 1, 1],
        "recency": [14 / 7, 0.0, 1 / 7, 26 / 7],
        "T": [28 / 7, 7 / 7, 19 / 7, 26 / 7],
        "monetary_value": [10.0, 0.0, 0.0, 9.0],
        "holdout_frequency": [1, 0, 0, 1],
    }
)


def hand_frame() -> pd.DataFrame:
    return pd.DataFrame(HAND, columns=["customer_id", "timestamp", "amount"])


def simulated_transactions(n: int = 400, seed: int = 2) -> pd.DataFrame:
    """BG/NBD purchase streams at random times of day: first purchases over 8 weeks from
    2024-01-01, then Poisson purchases with Beta-geometric dropout through 40 weeks."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.8, 1.0 / 20.0, n)  # purchases per day
    drop = rng.beta(1.0, 3.0, n)
    scale = 1.0 / rng.gamma(3.5, 1.0 / 60.0, n)  # Gamma-Gamma: per-customer spend scale
    rows = []
    for i in range(n):
        t = rng.uniform(0, 56)
        while t < 280:
            rows.append((f"c{i:04d}", t, float(np.round(rng.gamma(4.0, scale[i]), 2))))
            t += rng.exponential(1.0 / lam[i])
            # Dropout can follow a repeat purchase only (the first one happens at t).
            if t < 280 and rng.uniform() < drop[i]:
                rows.append((f"c{i:04d}", t, float(np.round(rng.gamma(4.0, scale[i]), 2))))
                break
    table = pd.DataFrame(rows, columns=["customer_id", "days", "amount"])
    table["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(table.pop("days"), "D")
    return table


def _rfm(engine, source) -> pd.DataFrame:
    io.stage(engine, "transactions", source)
    return rfm.rfm(
        engine,
        calibration_end=rfm.day_number(CAL),
        holdout_end=rfm.day_number(HOLD),
        unit_days=7.0,
    )


def test_rfm_sql_matches_hand_computed_statistics():
    got = _rfm(DuckDBEngine(), hand_frame())
    pd.testing.assert_frame_equal(got, HAND_RFM, check_exact=False, rtol=1e-12)


def test_rfm_sql_counts_days_in_months_exactly():
    engine = DuckDBEngine()
    io.stage(engine, "transactions", hand_frame())
    months = rfm.rfm(
        engine,
        calibration_end=rfm.day_number(CAL),
        holdout_end=rfm.day_number(HOLD),
        unit_days=rfm.UNIT_DAYS["M"],
    )
    assert months["T"].tolist() == pytest.approx(
        [28 / 30.4375, 7 / 30.4375, 19 / 30.4375, 26 / 30.4375]
    )


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from workbench.engines import SparkEngine

    return SparkEngine()


@pytest.mark.spark
@pytest.mark.slow
def test_rfm_sql_gives_identical_tables_on_duckdb_and_spark(spark, tmp_path):
    path = tmp_path / "transactions.parquet"
    hand = hand_frame().assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], format="ISO8601"),
        customer_id=lambda d: "hand-" + d["customer_id"],
    )
    pd.concat([simulated_transactions(300), hand]).to_parquet(path)
    duck = _rfm(DuckDBEngine(), path)
    on_spark = _rfm(spark, path)
    assert duck["customer_id"].str.startswith("hand-").sum() == len(HAND_RFM)
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=1e-12)
    kwargs = {
        "calibration_end": rfm.day_number(CAL),
        "holdout_end": rfm.day_number(HOLD),
        "unit_days": 7.0,
    }
    duck_engine = DuckDBEngine()
    io.stage(duck_engine, "transactions", path)
    counts_duck, start_duck = rfm.repeat_purchases_by_period(duck_engine, **kwargs)
    counts_spark, start_spark = rfm.repeat_purchases_by_period(spark, **kwargs)
    assert start_duck == start_spark
    pd.testing.assert_series_equal(counts_spark, counts_duck)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("A", "2024-01-03", "-5.0"), "negative amount"),
        (("A", "2024-01-03", "ten"), "not a number"),
    ],
)
def test_bad_amount_exits_2_and_writes_nothing(tmp_path, row, message):
    path = tmp_path / "transactions.csv"
    table = pd.concat(
        [
            hand_frame().astype({"amount": str}),
            pd.DataFrame([row], columns=["customer_id", "timestamp", "amount"]),
        ]
    )
    table.to_csv(path, index=False)
    out = tmp_path / "clv.nc"
    result = CliRunner().invoke(main, ["clv", "--transactions", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert "amount" in result.output and f"row {len(table)}" in result.output
    assert not out.exists()


def test_holdout_before_calibration_exits_2_and_writes_nothing(tmp_path):
    path = tmp_path / "transactions.csv"
    hand_frame().to_csv(path, index=False)
    out = tmp_path / "clv.nc"
    result = CliRunner().invoke(
        main,
        [
            "clv",
            "--transactions",
            str(path),
            "--out",
            str(out),
            "--calibration-end",
            "2024-02-01",
            "--holdout-end",
            "2024-01-15",
        ],
    )
    assert result.exit_code == 2
    assert "--holdout-end" in result.output
    assert not out.exists()


@pytest.fixture(scope="module")
def sim_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clv_sim")
    tx = simulated_transactions()
    tx.to_parquet(folder / "transactions.parquet")
    ids = sorted(tx["customer_id"].unique())
    regions = pd.DataFrame(
        {
            "customer_id": ids,
            "region": ["north", "south", "west"] * (len(ids) // 3) + ["north"] * (len(ids) % 3),
        }
    )
    regions.to_csv(folder / "customers.csv", index=False)
    # A stand-in for attribution.nc (docs/contracts.md): converted journeys with per-channel
    # credit. c0000 converted twice; its first journey (search) is its acquisition.
    users = ["c0000", "c0000", "c0001", "c0002", "zzz-not-a-customer"]
    times = pd.to_datetime(["2024-01-05", "2023-12-20", "2023-12-01", "2023-12-02", "2023-12-03"])
    credit = np.array([[0.0, 1.0], [0.9, 0.0], [0.25, 0.5], [0.6, 0.4], [1.0, 0.0]])
    attribution = xr.Dataset(
        {
            "journey_credit": (("journey", "channel"), credit),
            "journey_user_id": ("journey", users),
            "journey_time": ("journey", times.values),
        },
        coords={"channel": ["search", "social"]},
    )
    write_results(attribution, folder / "attribution.nc")
    return folder


def test_clv_command_writes_results_with_segments_and_channels(sim_files):
    out = sim_files / "clv.nc"
    result = CliRunner().invoke(
        main,
        [
            "clv",
            "--transactions",
            str(sim_files / "transactions.parquet"),
            "--calibration-end",
            "2024-06-30",
            "--holdout-end",
            "2024-10-06",
            "--customers",
            str(sim_files / "customers.csv"),
            "--attribution",
            str(sim_files / "attribution.nc"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    ds = read_results(out)
    assert list(ds["params"]["param"].values) == ["r", "alpha", "a", "b", "p", "q", "v"]
    for name in (
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "clv",
        "predicted_holdout_purchases",
        "actual_holdout_purchases",
    ):
        assert ds[name].dims == ("customer_id",)
    assert ds.attrs["calibration_end"] == "2024-06-30"
    assert ds.attrs["holdout_end"] == "2024-10-06"
    assert ds.attrs["inputs"]["transactions"]["sha256"]
    # Segments: the mean CLV of each region's customers.
    frame = ds[["clv"]].to_dataframe()
    regions = pd.read_csv(sim_files / "customers.csv").set_index("customer_id")["region"]
    by_region = frame["clv"].groupby(regions.reindex(frame.index)).mean()
    np.testing.assert_allclose(ds["clv_by_region"].to_series().reindex(by_region.index), by_region)
    # Acquisition channel: the first converting journey's credit; credit-weighted mean CLV.
    share = ds["acquisition_channel_share"]
    np.testing.assert_allclose(share.sel(customer_id="c0000").values, [0.9, 0.0])
    np.testing.assert_allclose(share.sel(customer_id="c0001").values, [0.25, 0.5])
    assert share.sel(customer_id="c0003").sum() == 0
    clv_values = ds["clv"].values
    expected = (share.values * clv_values[:, None]).sum(0) / share.values.sum(0)
    np.testing.assert_allclose(ds["clv_by_channel"].values, expected)


def test_customers_with_only_zero_repeat_spend_are_left_out_of_gamma_gamma_with_a_warning(
    sim_files,
):
    tx = pd.concat(
        [
            pd.read_parquet(sim_files / "transactions.parquet"),
            pd.DataFrame(
                {
                    "customer_id": ["zero1", "zero1", "zero2", "zero2", "zero2"],
                    "timestamp": pd.to_datetime(
                        ["2024-01-02", "2024-02-02", "2024-01-03", "2024-03-01", "2024-03-02"]
                    ),
                    "amount": [10.0, 0.0, 5.0, 0.0, 0.0],
                }
            ),
        ]
    )
    with pytest.warns(UserWarning, match="^2 repeat customer"):
        ds = clv(tx, calibration_end="2024-06-30", compare_models=False)
    assert ds.attrs["row_counts"]["gamma_gamma_excluded"] == 2
    assert ds["frequency"].sel(customer_id="zero2") == 2
    # Their CLV uses the population spend per purchase p v / (q - 1).
    p, q, v = (float(ds["params"].sel(param=k)) for k in ("p", "q", "v"))
    assert float(ds["expected_order_value"].sel(customer_id="zero1")) < p * v / (q - 1)


@pytest.mark.slow
def test_bayes_path_carries_posterior_intervals_into_customer_and_channel_values(sim_files):
    ds = clv(
        sim_files / "transactions.parquet",
        calibration_end="2024-06-30",
        method="bayes",
        attribution_path=sim_files / "attribution.nc",
        draws=100,
        tune=100,
        chains=2,
        seed=3,
    )
    assert ds["params"].dims == ("chain", "draw", "param")
    assert ds["params"].sizes["draw"] == 100
    for name in ("p_alive", "expected_purchases", "clv"):
        assert np.all(ds[f"{name}_lower"] <= ds[name] + 1e-9)
        assert np.all(ds[name] <= ds[f"{name}_upper"] + 1e-9)
    assert float((ds["clv_upper"] - ds["clv_lower"]).mean()) > 0
    assert np.all(ds["clv_by_channel_lower"] <= ds["clv_by_channel"])
    assert np.all(ds["clv_by_channel"] <= ds["clv_by_channel_upper"])
    # The posterior mean sits near the maximum-likelihood estimate on the same statistics.
    post_mean = ds["params"].mean(("chain", "draw")).to_series()
    for k in ("r", "alpha"):
        assert post_mean[k] == pytest.approx(ds.attrs["params_mle"][k], rel=0.25)


def _run_cli(tmp_path, table: pd.DataFrame, *options: str):
    """``workbench clv`` on ``table`` (written as CSV); returns the result and the out path."""
    path = tmp_path / "transactions.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "clv.nc"
    args = ["clv", "--transactions", str(path), "--out", str(out), *options]
    return CliRunner().invoke(main, args), out


#: Calibration end for the simulated transactions (26 weeks of purchases).
SIM_CAL = "2024-06-30"


def one_amount_per_purchase_day(amount: float = 25.0) -> pd.DataFrame:
    """The simulated transactions with one purchase per customer and day, each of ``amount``:
    every repeat buyer's mean spend is exactly ``amount``."""
    tx = simulated_transactions().assign(day=lambda d: d["timestamp"].dt.normalize())
    return tx.drop_duplicates(["customer_id", "day"]).drop(columns="day").assign(amount=amount)


def test_spend_without_any_spread_gives_every_customer_that_order_value(tmp_path):
    # Every purchase costs 25: the Gamma-Gamma likelihood has no finite optimum (q, v -> inf),
    # so no fit is attempted; the documented fallback values every purchase at 25.
    result, out = _run_cli(tmp_path, one_amount_per_purchase_day(), "--calibration-end", SIM_CAL)
    assert result.exit_code == 0, result.output
    ds = read_results(out)
    np.testing.assert_array_equal(ds["expected_order_value"].values, 25.0)
    assert ds.attrs["constant_order_value"] == 25.0
    assert np.isnan(ds["params"].sel(param=["p", "q", "v"]).values).all()
    # Undiscounted CLV is then 25 x the expected purchases over the horizon.
    with pytest.warns(UserWarning, match="same mean amount"):
        flat = clv(one_amount_per_purchase_day(), calibration_end=SIM_CAL, annual_discount_rate=0.0)
    np.testing.assert_allclose(flat["clv"], 25.0 * flat["expected_purchases"], rtol=1e-12)


@pytest.mark.slow
def test_spend_without_any_spread_on_the_bayes_path_keeps_purchase_intervals():
    with pytest.warns(UserWarning, match="same mean amount"):
        ds = clv(
            one_amount_per_purchase_day(),
            calibration_end=SIM_CAL,
            method="bayes",
            posterior="laplace",
            draws=100,
            chains=2,
            compare_models=False,
        )
    np.testing.assert_array_equal(ds["expected_order_value"].values, 25.0)
    assert np.all(ds["clv_lower"] <= ds["clv"] + 1e-9) and np.all(
        ds["clv"] <= ds["clv_upper"] + 1e-9
    )
    assert float((ds["clv_upper"] - ds["clv_lower"]).mean()) > 0


DEGENERATE = {
    # name: (transactions, message)
    "a single customer": (
        pd.DataFrame(
            {
                "customer_id": ["A", "A", "A"],
                "timestamp": ["2024-01-01", "2024-01-09", "2024-01-20"],
                "amount": [10.0, 12.0, 9.0],
            }
        ),
        "BG/NBD needs at least 2 customers to estimate population parameters; got 1",
    ),
    "no repeat purchase (several purchases, all on the first day)": (
        pd.DataFrame(
            {
                "customer_id": ["A", "A", "B", "C", "C"],
                "timestamp": ["2024-01-01T09:00", "2024-01-01T18:00", "2024-01-05", "2024-01-09",
                              "2024-01-09T12:00"],
                "amount": [10.0, 5.0, 7.0, 3.0, 4.0],
            }
        ),
        "none of the 3 customers made a repeat purchase",
    ),
    "every customer with one purchase": (
        pd.DataFrame(
            {
                "customer_id": [f"c{i}" for i in range(20)],
                "timestamp": [f"2024-01-{i + 1:02d}" for i in range(20)],
                "amount": np.arange(20) + 1.0,
            }
        ),
        "none of the 20 customers made a repeat purchase",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_purchases_exit_2_with_one_line_and_write_nothing(tmp_path, case):
    table, message = DEGENERATE[case]
    result, out = _run_cli(tmp_path, table)
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("method", ["mle", "bayes"])
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_purchases_are_the_same_clear_error_in_the_api(case, method):
    table, message = DEGENERATE[case]
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clv(table, method=method, draws=10, tune=10)


def test_too_few_repeat_buyers_with_spend_is_a_clear_error(tmp_path):
    # Repeat purchases of amount 0 except for two customers: the purchase model has its data,
    # the spend model only two customers.
    tx = simulated_transactions()
    first_day = tx.groupby("customer_id")["timestamp"].transform("min").dt.normalize()
    repeat = tx["timestamp"].dt.normalize() > first_day
    spenders = tx["customer_id"].isin(["c0001", "c0002"])
    tx.loc[repeat & ~spenders, "amount"] = 0.0
    assert tx.loc[repeat & spenders, "amount"].gt(0).any()
    result, out = _run_cli(tmp_path, tx, "--calibration-end", SIM_CAL)
    assert result.exit_code == 2, result.output
    assert "customers bought again with a positive amount" in result.output
    assert "the spend model needs at least 3" in result.output
    assert not out.exists()
    for method in ("mle", "bayes"):
        with pytest.raises(InputError, match="the spend model needs at least 3"):
            clv(tx, calibration_end=SIM_CAL, method=method, posterior="laplace", draws=20)
