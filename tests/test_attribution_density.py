"""The numpy log posterior of the conversion model is the PyMC model's, value and gradient.

The Laplace path and NUTS on large tables fit ``attribution.density.ConversionDensity`` (no
PyMC, no compile); NUTS on small tables and lift tests fit ``attribution.model.build_model``.
They must be one model: same variables in the
same order, same initial point, same log density (normalising constants included, which the
spike-and-slab's evidence ratios use) and the same gradient, with synergy pairs, opening terms
and channels whose effect is fixed at 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from attribution.density import ConversionDensity
from attribution.features import Patterns, count_table, recency_ages_days
from attribution.model import Priors, build_model, sufficient_stats
from posterior_tools.laplace import _transform, find_mode

N_CODES = 64
STRUCTURES = {
    "main effects": (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64), ()),
    "pairs and openers": (np.array([[0, 1], [1, 3]]), np.array([2, 3]), ()),
    "a channel fixed at 0": (np.array([[0, 1]]), np.array([2, 3]), (2,)),
    "cells at the cap": (np.array([[0, 1], [1, 3]]), np.array([2, 3]), (2,)),
}
#: The "cells at the cap" structure's count of a cell at the cap (channel, recency_bin).
CAPPED = np.array([[3.0, 4.5, 6.0], [3.2, 3.0, 9.5], [5.0, 5.0, 5.0], [3.0, 3.0, 3.0]])


def _patterns(seed: int = 0, n_channels: int = 4, n_patterns: int = 300) -> Patterns:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, N_CODES, (n_patterns, n_channels))
    codes *= rng.random((n_patterns, n_channels)) < 0.5
    n = rng.integers(1, 60, n_patterns)
    return Patterns(
        channels=[f"channel_{c}" for c in range(n_channels)],
        codes=codes,
        n_journeys=n,
        n_conversions=rng.binomial(n, 0.08),
        holdout=np.zeros(n_patterns, dtype=bool),
        first_channel=rng.integers(0, n_channels, n_patterns),
        last_channel=rng.integers(0, n_channels, n_patterns),
    )


def _pair(structure: str, compiled_rows: bool = False):
    pairs, openers, zero = STRUCTURES[structure]
    priors = Priors()
    data = _patterns()
    if structure == "cells at the cap":
        data = replace(data, capped_counts=CAPPED)
    stats = sufficient_stats(data, pairs, N_CODES, openers)
    ages = recency_ages_days(30.0)
    density = ConversionDensity(stats, data.channels, ages, priors, zero_channels=zero)
    return (
        build_model(stats, data.channels, ages, priors, zero_channels=zero),
        density.compile_rows() if compiled_rows else density,
    )


@pytest.mark.parametrize("compiled_rows", [False, True], ids=["numpy rows", "numba rows"])
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_density_matches_the_pymc_model_at_random_points(structure, compiled_rows):
    """Both row loops (numpy for Laplace fits, numba for NUTS on large tables)."""
    model, density = _pair(structure, compiled_rows)
    assert [v.name for v in density.value_vars] == [v.name for v in model.value_vars]
    start = model.initial_point()
    mine = density.initial_point()
    assert set(mine) == set(start)
    for name, value in start.items():
        np.testing.assert_allclose(mine[name], value, rtol=0, atol=1e-12)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(1)
    for _ in range(4):
        point = {k: v + rng.normal(0.0, 0.7, np.shape(v)) for k, v in start.items()}
        x = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
        value, grad = density.logp_dlogp(x)
        assert value == pytest.approx(float(logp(point)), rel=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_density_maps_draws_to_the_pymc_models_variables(structure):
    model, density = _pair(structure)
    start = model.initial_point()
    x = np.concatenate([np.ravel(start[v.name]) for v in model.value_vars])
    draws = x + np.random.default_rng(2).normal(0.0, 0.5, (3, x.size))
    names = ["baseline", "beta", "decay", "saturation", "beta_scale", "decay_mu", "decay_sigma"]
    names += ["synergy", "opening"] if structure != "main effects" else []
    expected = _transform(model, model.value_vars, names, start, draws)
    got = density.transform(draws)
    for name in names:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, err_msg=name)


def test_laplace_mode_is_the_pymc_models_mode():
    model, density = _pair("pairs and openers")
    by_pymc, by_numpy = find_mode(model), find_mode(density)
    assert by_numpy.converged and by_pymc.converged
    assert by_numpy.log_density == pytest.approx(by_pymc.log_density, abs=1e-6)
    np.testing.assert_allclose(by_numpy.eigvals, by_pymc.eigvals, rtol=1e-3)


@pytest.mark.parametrize("compiled_rows", [False, True], ids=["numpy rows", "numba rows"])
def test_far_tails_give_minus_infinity_not_an_error(compiled_rows):
    # a sampler's or a line search's wild proposal: exp overflows
    _, density = _pair("pairs and openers", compiled_rows)
    for fill in (800.0, -800.0):
        value, grad = density.logp_dlogp(np.full(density.size, fill))
        assert value == -np.inf and np.all(grad == 0.0)


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_laplace_mode_is_found_to_rounding_not_to_a_relative_change_in_log_p(structure):
    # scipy's default stop (log p changing by < 2e-9 relative) left gradients of ~0.01 here and
    # ~0.1 on real data along flat directions, where the mode, the curvature and so the
    # spike-and-slab's Laplace evidence then depended on the optimiser's path
    _, density = _pair(structure)
    mode = find_mode(density)
    _, grad = density.logp_dlogp(mode.x)
    newton_decrement = float(np.sum((mode.eigvecs.T @ grad) ** 2 / mode.eigvals))
    assert mode.converged
    assert newton_decrement < 1e-9


def test_a_cell_at_the_cap_counts_the_datas_mean_there():
    """count_table by hand, and the density reads it: the same data without the counts at the
    cap give another log density."""
    table = count_table(3, 4, CAPPED)
    code = 3 + 1 * 4 + 3 * 16  # counts (3, 1, 3) in bins 0, 1, 2
    assert table[1, code].tolist() == [3.2, 1.0, 9.5]
    assert table[3, code].tolist() == [3.0, 1.0, 3.0]
    assert table[0, 1 + 2 * 4].tolist() == [1.0, 2.0, 0.0]  # below the cap: the counts
    pairs, openers, zero = STRUCTURES["cells at the cap"]
    data = _patterns()
    ages = recency_ages_days(30.0)

    def density(capped):
        stats = sufficient_stats(replace(data, capped_counts=capped), pairs, N_CODES, openers)
        return ConversionDensity(stats, data.channels, ages, Priors(), zero_channels=zero)

    with_cap, plain = density(CAPPED), density(None)
    x = np.concatenate([np.ravel(v) for v in with_cap.initial_point().values()])
    assert with_cap.logp_dlogp(x)[0] != pytest.approx(plain.logp_dlogp(x)[0], rel=1e-6)
    assert density(np.full((4, 3), 3.0)).logp_dlogp(x)[0] == pytest.approx(
        plain.logp_dlogp(x)[0], rel=1e-12
    )
