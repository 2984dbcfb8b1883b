"""SQL engines: the data steps are written once in SQL and run on DuckDB (default) or Spark.

An engine registers inputs (files or DataFrames) as named views and runs queries, returning
pandas DataFrames. Timestamps are the only type whose SQL differs between the two engines, so
staging converts every contract timestamp column to ``DOUBLE`` days since 1970-01-01 (fractional,
UTC-naive); everything downstream is plain arithmetic, window functions and GROUP BY that both
engines read the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import pandas as pd

SECONDS_PER_DAY = 86_400.0
#: DuckDB's memory limit (``WORKBENCH_DUCKDB_MEMORY`` overrides it, e.g. ``4GB``): above it
#: sorts, windows and aggregates spill to a private temporary directory instead of growing the
#: process. At 2M journeys / 15M touchpoints the attribution steps peak at 1.7 GB without a
#: limit and 1.2 GB with 1 GB, in the same CPU time (bench/RESULTS.md, issue 17).
DUCKDB_MEMORY_LIMIT = "1GB"
#: Both engines divide integer microseconds by this, so their doubles agree to the last bit.
MICROS_PER_DAY = 86_400_000_000.0
ENGINES = ("duckdb", "spark")


class Engine(Protocol):
    """What the data steps need from a SQL engine."""

    name: str

    def register(
        self, view: str, source: str | os.PathLike | pd.DataFrame, timestamps: Iterable[str] = ()
    ) -> None:
        """Expose a CSV/Parquet file or a DataFrame as ``view``; columns named in ``timestamps``
        become DOUBLE days since the epoch."""

    def execute(self, sql: str) -> None:
        """Run a statement (CREATE VIEW ...) for its effect."""

    def query(self, sql: str) -> pd.DataFrame:
        """Run a query and return its result as a pandas DataFrame."""

    def close(self) -> None: ...


def file_format(path: str | os.PathLike) -> str:
    """``csv`` or ``parquet`` from the file extension (.csv, .csv.gz, .parquet, .pq)."""
    name = Path(path).name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    from workbench.errors import InputError

    raise InputError("unknown file extension; expected .csv, .csv.gz or .parquet", file=str(path))


def csv_delimiter(path: str | os.PathLike) -> str:
    """Tab for .tsv files, comma otherwise (RFC 4180 quoting on both engines)."""
    return "\t" if Path(path).name.lower().endswith((".tsv", ".tsv.gz")) else ","


class DuckDBEngine:
    """Embedded DuckDB: the default engine. ``memory_limit`` (DuckDB's syntax, ``"4GB"``)
    overrides ``WORKBENCH_DUCKDB_MEMORY`` and :data:`DUCKDB_MEMORY_LIMIT`."""

    name = "duckdb"

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        import tempfile
        import uuid

        import duckdb

        self.con = duckdb.connect(":memory:")
        # Timestamps with an offset or zone, and TIMESTAMPTZ Parquet columns, are converted to
        # UTC whatever the machine's time zone is (Spark is given the same setting).
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        limit = memory_limit or os.environ.get("WORKBENCH_DUCKDB_MEMORY") or DUCKDB_MEMORY_LIMIT
        # spills go to a directory of this engine's own (DuckDB's default is ./.tmp); DuckDB
        # creates it at the first spill and deletes it when the connection closes
        spill = os.path.join(tempfile.gettempdir(), f"workbench-duckdb-{uuid.uuid4().hex}")
        self.con.execute(f"SET temp_directory = {_quote(spill)}")
        self.con.execute(f"SET memory_limit = {_quote(limit)}")
        self._frames: dict[str, pd.DataFrame] = {}

    def register(self, view, source, timestamps=()):
        raw = f"{view}__raw"
        if self._frames.pop(raw, None) is not None:
            # A registered DataFrame shadows a view of the same name; drop it before re-staging.
            self.con.unregister(raw)
        if isinstance(source, pd.DataFrame):
            self._frames[raw] = source
            self.con.register(raw, source)
        elif file_format(source) == "csv":
            self.con.execute(
                f"CREATE OR REPLACE VIEW {raw} AS SELECT * FROM "
                f"read_csv({_quote(source)}, header = true, all_varchar = true, "
                f"delim = {_quote(csv_delimiter(source))}, quote = '\"', escape = '\"')"
            )
        else:
            self.con.execute(
                f"CREATE OR REPLACE VIEW {raw} AS SELECT * FROM read_parquet({_quote(source)})"
            )
        ts = set(timestamps)
        cols = [c for c in self.con.execute(f"SELECT * FROM {raw} LIMIT 0").df().columns]
        select = ", ".join(
            # TIMESTAMPTZ, not TIMESTAMP: casting '10:00+02:00' to TIMESTAMP drops the offset.
            f"epoch_us(CAST({_ident(c)} AS TIMESTAMPTZ)) / {MICROS_PER_DAY} AS {_ident(c)}"
            if c in ts
            else _ident(c)
            for c in cols
        )
        self.con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT {select} FROM {raw}")

    def execute(self, sql):
        self.con.execute(sql)

    def query(self, sql):
        return self.con.execute(sql).df()

    def close(self):
        self.con.close()


class SparkEngine:
    """Apache Spark through pyspark. ``local[2]`` unless the usual Spark settings say otherwise
    (``spark.master`` in ``$SPARK_CONF_DIR/spark-defaults.conf``, ``PYSPARK_SUBMIT_ARGS``, or
    ``WORKBENCH_SPARK_MASTER``)."""

    name = "spark"

    def __init__(self, master: str | None = None) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as err:  # pragma: no cover - depends on the install
            from workbench.errors import InputError

            raise InputError(
                "--engine spark needs pyspark: pip install 'workbench[spark]' (and Java 17+)"
            ) from err
        builder = SparkSession.builder.appName("workbench")
        master = master or os.environ.get("WORKBENCH_SPARK_MASTER")
        if master:
            builder = builder.master(master)
        elif "PYSPARK_SUBMIT_ARGS" not in os.environ and not _spark_defaults_set_master():
            builder = builder.master("local[2]")
        self.spark = (
            builder.config("spark.sql.session.timeZone", "UTC")
            # pandas writes TIMESTAMP(NANOS) Parquet, which Spark refuses; read those columns as
            # longs and convert them below instead of failing.
            .config("spark.sql.legacy.parquet.nanosAsLong", "true")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.ui.enabled", "false")
            .config(
                "spark.sql.shuffle.partitions", os.environ.get("WORKBENCH_SPARK_PARTITIONS", "8")
            )
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def register(self, view, source, timestamps=()):
        from pyspark.sql import functions as F
        from pyspark.sql.types import LongType

        if isinstance(source, pd.DataFrame):
            df = self.spark.createDataFrame(source.astype({c: "string" for c in timestamps}))
        elif file_format(source) == "csv":
            df = self.spark.read.csv(
                str(source),
                header=True,
                inferSchema=False,
                sep=csv_delimiter(source),
                quote='"',
                escape='"',
            )
        else:
            df = self.spark.read.parquet(str(source))
        for col in timestamps:
            if col not in df.columns:
                continue
            if isinstance(df.schema[col].dataType, LongType):  # nanoseconds since the epoch
                micros = F.expr(f"`{col}` div 1000")
            else:
                micros = F.unix_micros(F.col(col).cast("timestamp"))
            df = df.withColumn(col, micros / MICROS_PER_DAY)
        df.createOrReplaceTempView(view)

    def execute(self, sql):
        self.spark.sql(sql)

    def query(self, sql):
        return self.spark.sql(sql).toPandas()

    def close(self):
        # The session is shared within a process (getOrCreate); stopping it is left to exit.
        pass


def _spark_defaults_set_master() -> bool:
    """Whether the spark-defaults.conf that spark-submit reads ($SPARK_CONF_DIR, else
    $SPARK_HOME/conf) sets spark.master on a line that is not commented out."""
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (
        os.path.join(os.environ["SPARK_HOME"], "conf") if os.environ.get("SPARK_HOME") else None
    )
    if not conf_dir:
        return False
    defaults = Path(conf_dir) / "spark-defaults.conf"
    if not defaults.is_file():
        return False
    keys = (line.split(None, 1)[0] for line in defaults.read_text().splitlines() if line.strip())
    return "spark.master" in keys


def make_engine(name: str = "duckdb") -> Engine:
    """An engine by name: ``duckdb`` (default) or ``spark``."""
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    from workbench.errors import InputError

    raise InputError(f"unknown engine '{name}'; expected one of {', '.join(ENGINES)}")


def _quote(path: str | os.PathLike) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_sql(name: str, **params: object) -> str:
    """The text of ``workbench/sql/<name>.sql`` with ``{param}`` placeholders filled in.

    Parameters are numbers or generated column lists, never user strings (those go through
    registered views), so plain formatting is safe here."""
    text = (Path(__file__).parent / "sql" / f"{name}.sql").read_text()
    return text.format(**params) if params else text
