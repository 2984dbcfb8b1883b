"""posterior_tools.threads: the fits' BLAS pools on one thread, and back at their own count where
a computation's last digits depend on it."""

import numpy as np
import scipy.linalg  # noqa: F401  (scipy's own OpenBLAS, one of the pools limited)
from threadpoolctl import threadpool_info, threadpool_limits

from posterior_tools.settings import BLAS_THREADS
from posterior_tools.threads import blas_threads, original_blas_threads


def _blas_counts() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_threads_limits_every_blas_pool_inside_and_restores_it_after():
    with threadpool_limits(2, user_api="blas"):
        before = _blas_counts()
        assert before and set(before) == {2}
        with blas_threads():
            assert set(_blas_counts()) == {BLAS_THREADS}
        assert _blas_counts() == before


def test_original_blas_threads_gives_back_the_count_from_before_the_limit():
    with threadpool_limits(2, user_api="blas"):
        with blas_threads(1):
            with original_blas_threads():
                assert set(_blas_counts()) == {2}
            assert set(_blas_counts()) == {1}
        # outside any limit it changes nothing
        with original_blas_threads():
            assert set(_blas_counts()) == {2}


def test_products_under_the_limit_equal_the_unlimited_ones_for_the_fits_shapes():
    # the shapes of a log-density evaluation at 2M journeys: (pattern, channel) @ (channel,)
    rng = np.random.default_rng(0)
    rows, beta = rng.random((43_033, 6)), rng.random(6)
    with threadpool_limits(2, user_api="blas"):
        two = rows @ beta
        with blas_threads(1):
            one = rows @ beta
    np.testing.assert_array_equal(one, two)
