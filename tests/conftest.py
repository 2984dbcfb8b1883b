"""Shared fixtures: engines and small input files.

- ``duckdb_engine``: a fresh embedded DuckDB engine per test.
- ``spark_engine``: one Spark ``local[2]`` session for the whole run; skipped (with the reason)
  when pyspark or Java is missing, so the rest of the suite runs on a machine without them.
- ``tmp_inputs``: writes a DataFrame (CSV or Parquet) or raw text to a temporary file.
- ``valid_frames``: one small valid DataFrame per input contract.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

SPARK_MASTER_FOR_TESTS = "local[2]"


@pytest.fixture()
def duckdb_engine() -> Iterator:
    from workbench.engines import DuckDBEngine

    engine = DuckDBEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def spark_engine():
    """A Spark ``local[2]`` engine, shared by every test in the run (Spark takes seconds to
    start). Skips when pyspark is not installed or no Java runtime is found."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install '.[spark]')")
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") or (java_home and Path(java_home, "bin", "java").exists())
    if not has_java:
        pytest.skip("no Java runtime (java on PATH or JAVA_HOME); Spark needs Java 17+")
    from workbench.engines import SparkEngine

    return SparkEngine(master=SPARK_MASTER_FOR_TESTS)


@pytest.fixture()
def tmp_inputs(tmp_path: Path) -> Callable[..., Path]:
    """``tmp_inputs(name, data, fmt=None) -> Path``.

    ``data`` is a DataFrame, written as ``<name>.<fmt>`` (``csv`` or ``parquet``, default
    ``csv``; Parquet timestamps keep the frame's unit), or text
    (``str``) written verbatim to ``name``, which then carries its own extension.
    """

    def write(name: str, data: pd.DataFrame | str | bytes, fmt: str | None = None) -> Path:
        if isinstance(data, str | bytes):
            path = tmp_path / name
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data, encoding="utf-8")
            return path
        fmt = fmt or "csv"
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            data.to_csv(path, index=False)
        elif fmt == "parquet":
            data.to_parquet(path, index=False)
        else:
            raise ValueError(f"unknown format {fmt!r}")
        return path

    return write


@pytest.fixture()
def valid_frames() -> dict[str, pd.DataFrame]:
    """One small valid table per contract, with optional columns, nulls where allowed and
    datetime64[ns] timestamps (pandas 2's default unit, written to Parquet as TIMESTAMP(NANOS),
    which Spark refuses unless handled)."""
    ts = pd.to_datetime(
        ["2024-01-01 00:00:00", "2024-01-02 12:00:00", "2024-01-03 06:30:15", "2024-02-29 23:59:59"]
    ).as_unit("ns")
    return {
        "touchpoints": pd.DataFrame(
            {
                "user_id": ["u1", "u1", "u2", "u3"],
                "timestamp": ts,
                "channel": ["search", "email", "direct_mail", "search"],
                "campaign": ["spring", None, "catalogue", "spring"],
                "cost": [0.5, 0.0, 1.25, None],
            }
        ),
        "conversions": pd.DataFrame(
            {"user_id": ["u1", "u2"], "timestamp": ts[[2, 3]], "value": [120.0, 35.5]}
        ),
        "transactions": pd.DataFrame(
            {
                "customer_id": ["c1", "c1", "c2", "c3"],
                "timestamp": ts,
                "amount": [10.0, 0.0, 99.99, 5.5],
            }
        ),
        "spend": pd.DataFrame(
            {
                "channel": ["search", "email", "search", "email"],
                "period_start": pd.to_datetime(
                    ["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-08"]
                ).as_unit("ns"),
                "spend": [1000.0, 250.0, 1100.0, 0.0],
                "period_end": pd.to_datetime(
                    ["2024-01-07", "2024-01-07", "2024-01-14", "2024-01-14"]
                ).as_unit("ns"),
            }
        ),
    }


@pytest.fixture(scope="session")
def attribute_and_value() -> Callable[..., Path]:
    """Fit the journey model (Laplace, no held-out refit) and an undiscounted 52-week CLV (the
    simulated worlds' customer value) on the Parquet tables in a folder; returns the folder,
    which then holds attribution.nc and clv.nc."""

    def fit(folder: Path, seed: int, chains: int = 1) -> Path:
        from workbench.sim.fits import attribute_and_value

        return attribute_and_value(folder, seed, chains=chains)

    return fit
