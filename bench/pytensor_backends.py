"""CPU seconds of one attribution fit (Laplace or NUTS) on a 20,000-user simulation under the
current PyTensor configuration: ``PYTENSOR_FLAGS`` decides the BLAS link and the mode.

    python -m bench.pytensor_backends laplace
    PYTENSOR_FLAGS=mode=NUMBA python -m bench.pytensor_backends nuts
    PYTENSOR_FLAGS=blas__ldflags=-lopenblas python -m bench.pytensor_backends nuts

(the last needs Debian's libopenblas-dev)
"""

import sys
import time
import warnings

import pytensor

from attribution import ConversionModel, as_patterns, recency_ages_days
from workbench import io, journeys
from workbench.engines import make_engine
from workbench.simulate import simulate

warnings.simplefilter("ignore")
sim = simulate(users=20_000, weeks=8, seed=5)
eng = make_engine("duckdb")
io.stage(eng, "touchpoints", sim.touchpoints[["user_id", "timestamp", "channel"]])
io.stage(eng, "conversions", sim.conversions)
tables = journeys.run_steps(eng, 30.0)
patterns = as_patterns(tables.patterns, tables.channels)
method = sys.argv[1]
kw = {}
t0, c0 = time.perf_counter(), time.process_time()
m = ConversionModel(
    tables.channels,
    recency_ages_days(30.0),
    method=method,
    seed=1,
    cores=1,
    draws=500,
    tune=500,
    chains=2,
).fit(patterns)
print(
    f"{method} mode={pytensor.config.mode} ldflags='{pytensor.config.blas__ldflags}': "
    f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU (this process), "
    f"diag {m.diagnostics_.get('diagnostics_ok', m.diagnostics_.get('ok'))}"
)
