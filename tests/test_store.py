"""Results are NetCDF files written atomically: reading back gives identical values and decoded
attrs, a failed write keeps the previous file byte for byte, and provenance hashes the inputs."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from workbench import __version__
from workbench.store import file_sha256, provenance, read_results, write_results


def _results(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    channels = ["call_centre", "direct_mail", "email", "search"]
    ds = xr.Dataset(
        {
            "attributed_conversions": (
                ("chain", "draw", "channel"),
                rng.gamma(2.0, 50.0, size=(2, 7, 4)),
            ),
            "observed_conversions": ((), 1234),
            "n_journeys": (("pattern",), rng.integers(1, 10**9, size=5, dtype=np.int64)),
            "holdout": (("pattern",), np.array([True, False, False, True, True])),
            "journey_time": (
                ("journey",),
                pd.to_datetime(["2024-01-01 10:00:00", "2024-02-29 23:59:59"]).as_unit("ns"),
            ),
        },
        coords={
            "chain": [0, 1],
            "draw": np.arange(7),
            "channel": channels,
            "journey_user_id": (("journey",), ["u1", "u2"]),
        },
    )
    ds["attributed_conversions"].attrs = {"units": "conversions", "hdi_prob": 0.9}
    ds.attrs = provenance(
        row_counts={"touchpoints": 10_000, "conversions": 412},
        seed=7,
        settings={"lookback_days": 30.0, "draws": 7, "method": "nuts", "bins": [0, 1, 7, 30]},
        posterior_method="nuts",
        diagnostics_ok=True,
        rhat_max=1.004,
    )
    return ds


def test_a_written_dataset_reads_back_identical_with_decoded_attrs(tmp_path):
    ds = _results()
    path = write_results(ds, tmp_path / "nested" / "attribution.nc")

    back = read_results(path)

    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    assert back.attrs == ds.attrs
    assert back.attrs["settings"]["bins"] == [0, 1, 7, 30]
    assert back.attrs["diagnostics_ok"] is True
    assert back["attributed_conversions"].attrs == {"units": "conversions", "hdi_prob": 0.9}
    assert back["channel"].values.tolist() == ds["channel"].values.tolist()
    assert back["n_journeys"].dtype == np.int64


def test_a_failed_write_leaves_the_previous_file_intact_and_no_temporary_files(tmp_path):
    path = write_results(_results(seed=1), tmp_path / "clv.nc")
    before = path.read_bytes()
    # Object arrays of mixed Python values cannot be encoded in NetCDF: the write fails midway.
    broken = _results(seed=2).assign(bad=(("pattern",), np.array([1, "a", None, 2.5, {}], object)))

    with pytest.raises((TypeError, ValueError)):
        write_results(broken, path)

    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clv.nc"]
    xr.testing.assert_identical(read_results(path).drop_attrs(), _results(seed=1).drop_attrs())


def test_rewriting_replaces_the_file_with_the_new_values(tmp_path):
    path = tmp_path / "plan.nc"
    write_results(_results(seed=1), path)
    write_results(_results(seed=2), path)
    np.testing.assert_array_equal(
        read_results(path)["attributed_conversions"], _results(seed=2)["attributed_conversions"]
    )


def test_provenance_hashes_input_files_with_sha256(tmp_path):
    data = b"customer_id,timestamp,amount\nc1,2024-01-01,3.5\n" * 1000
    path = tmp_path / "transactions.csv"
    path.write_bytes(data)

    attrs = provenance(
        inputs={"transactions": str(path), "customers": pd.DataFrame({"a": [1]})},
        row_counts={"transactions": 1000},
        seed=3,
        settings={"time_unit": "W"},
    )

    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert attrs["inputs"]["transactions"] == {
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert attrs["inputs"]["customers"] == {"path": "<DataFrame>", "sha256": None}
    assert attrs["workbench_version"] == __version__
    assert (attrs["seed"], attrs["row_counts"], attrs["settings"]) == (
        3,
        {"transactions": 1000},
        {"time_unit": "W"},
    )


def test_provenance_survives_the_round_trip(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("x\n1\n")
    ds = xr.Dataset({"v": (("i",), [1.0, 2.0])})
    ds.attrs = provenance(inputs={"input": src}, seed=1)
    back = read_results(write_results(ds, tmp_path / "r.nc"))
    assert back.attrs["inputs"]["input"]["sha256"] == hashlib.sha256(b"x\n1\n").hexdigest()
