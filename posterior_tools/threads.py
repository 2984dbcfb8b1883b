"""numpy's and scipy's BLAS pools limited while models are fitted (``settings.BLAS_THREADS``).

OpenBLAS starts one thread per core and keeps the extra threads spinning for a while after each
call, waiting for the next. A Laplace fit makes a few hundred small BLAS calls a few
milliseconds apart, so on two cores the second thread spun through the whole fit: at 2M
journeys the fit took 3.7-3.8 CPU s with two BLAS threads and 1.1-1.3 with one on a loaded
machine, with bit-identical posteriors and credit (bench/RESULTS.md, issue 17).

Matrix products with a long inner dimension are the exception: OpenBLAS splits their sums
between its threads, so their last digits depend on the thread count. Code whose results must
stay what they were at the machine's own count runs inside :func:`original_blas_threads`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from posterior_tools.settings import BLAS_THREADS

# the BLAS thread count from before each open blas_threads() block (innermost last)
_ORIGINAL: list[int] = []


@contextmanager
def blas_threads(limit: int = BLAS_THREADS) -> Iterator[None]:
    """Every loaded BLAS pool (numpy's and scipy's OpenBLAS) limited to ``limit`` threads
    inside the block, restored after it.

    scipy's linear algebra is imported first: scipy wheels carry their own OpenBLAS, loaded with
    ``scipy.linalg``, and threadpoolctl limits only the libraries loaded when the limit is
    entered (L-BFGS-B, the Laplace mode's optimiser, calls that BLAS)."""
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, so the limit covers it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limit, user_api="blas") as limiter:
        _ORIGINAL.append(int(limiter.get_original_num_threads()["blas"]))
        try:
            yield
        finally:
            _ORIGINAL.pop()


@contextmanager
def original_blas_threads() -> Iterator[None]:
    """Inside :func:`blas_threads`: the BLAS pools at their thread count from before it, until
    the block ends (then limited again); elsewhere nothing changes. Enter it on the thread that
    entered :func:`blas_threads`: OpenBLAS ignored a count set from another thread (measured:
    a limit set in a worker thread left the pools at the main thread's count)."""
    if not _ORIGINAL:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(_ORIGINAL[-1], user_api="blas"):
        yield
