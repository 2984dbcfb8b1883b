"""Lift tests as likelihood terms of the journey model (the experiments contract).

A lift test measures ``incremental_conversions`` of one channel c over a window [start, end]:
the conversions decided during the window that the channel's touches during the window caused
(touches before ``start`` are not counted), with a ``standard_error``. The model's own value for
the same quantity is a sum over the journeys decided inside the window that have a touch of c
inside it::

    lift_model = sum_j n_j (P(x_j) - P(x_j without c's in-window touches))
               = sum_j n_j exp(-H_j) (exp(dH_j) - 1)

with ``H_j`` the journey's hazard (``attribution.model``) and ``dH_j`` what removing those
touches takes off it: ``beta_c (s_c(k_c) - s_c(k'_c))`` (``k'_c`` the channel's code from its
remaining touches, the same recency bins), the opening term ``opening_c`` when the removed touch
opened the journey (no other touch is promoted, as in the Shapley game), and the synergy terms of
the pairs with c. The journeys enter grouped by ``(test, k_0..k_{C-1}, first_channel, k'_c,
opener_removed)`` with their count ``n_journeys``: the :class:`LiftTests` rows, produced by the
SQL step ``workbench/sql/attribution_lift_rows.sql``. Each test then adds
``measured ~ Normal(lift_model, standard_error)``.

The measured lift counts the conversions that the touches *as delivered* caused in the data's
journeys: a hold-out's per-user difference times the users the channel addressed in the data
(docs/contracts.md, "Journey-model lift tests").

Selection. A channel sent to users who would convert anyway (e-mail to loyal customers,
retargeting) looks effective in observational journeys whatever its true effect: the more of its
touches a user gets, the more likely the user already meant to buy. The journeys alone cannot
tell the two apart. So a channel with a lift test gets a non-negative *selection* term
``selection_c s_c`` beside its effect ``beta_c s_c`` (the same response: the association the
journeys measure is ``beta_c + selection_c``), which removing the touches does not remove (it
stands for the users' intent). The journeys identify the sum; the test identifies ``beta_c``.
Without a test the model has no selection term. The Shapley credit and planning
(``attribution.shapley``, ``workbench.planning``) read ``beta`` (the causal part) and leave the
selection term out; the predictive checks and the held-out log-loss (``attribution.checks``)
compare the data with ``beta + selection``, the hazard the journeys show
(``attribution.probability.posterior_draws(..., observational=True)``). The term's size is
stored in the results (``selection``).

The same function :func:`lift_increments` computes the model's lift in the PyMC graph (for the
likelihood, both posterior methods) and in numpy from posterior draws (the stored predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from attribution.features import code_table

#: Prior sd of the selection hazard of a tested channel: ``selection_c ~ HalfNormal(0.1)``, the
#: scale of ``Priors.beta_scale_sd`` (an audience may convert as much more as a strong channel).
SELECTION_SD = 0.1

#: Columns of the lift rows table besides the codes ``k_0..k_{C-1}``.
LIFT_ROW_COLUMNS = ("test", "first_channel", "removed_code", "opener_removed", "n_journeys")


@dataclass(frozen=True)
class LiftTests:
    """Lift tests and the journeys their windows touch (module docstring).

    Attributes:
        channel: int (test,) index of each test's channel.
        measured: float (test,) measured incremental conversions.
        standard_error: float (test,) their standard errors (> 0).
        labels: (test,) names of the tests (e.g. ``"email 2024-02-12..2024-03-10"``).
        row_test: int (row,) test of each row.
        codes: int (row, channel) the journeys' codes at their decision.
        first: int (row,) opening channel (-1 unknown).
        removed_code: int (row,) the test channel's code without its in-window touches.
        opener_removed: float (row,) 1 when the removed touches include the opening touch.
        n_journeys: float (row,) journeys in the row.
    """

    channel: np.ndarray
    measured: np.ndarray
    standard_error: np.ndarray
    labels: tuple[str, ...]
    row_test: np.ndarray
    codes: np.ndarray
    first: np.ndarray
    removed_code: np.ndarray
    opener_removed: np.ndarray
    n_journeys: np.ndarray

    @property
    def n_tests(self) -> int:
        return len(self.channel)

    @property
    def tested_channels(self) -> np.ndarray:
        """Sorted unique channel indices with a test (they get a selection term)."""
        return np.unique(self.channel)

    def journeys_by_test(self) -> np.ndarray:
        """Journeys in each test's window with an in-window touch of its channel (test,)."""
        return np.bincount(self.row_test, weights=self.n_journeys, minlength=self.n_tests)


def lift_tests(
    rows: pd.DataFrame,
    channel: Sequence[int],
    measured: Sequence[float],
    standard_error: Sequence[float],
    n_channels: int,
    labels: Sequence[str] | None = None,
) -> LiftTests:
    """:class:`LiftTests` from the SQL step's rows (columns ``test``, ``k_0..k_{C-1}``,
    ``first_channel``, ``removed_code``, ``opener_removed``, ``n_journeys``) and the tests."""
    n_tests = len(channel)
    codes = rows[[f"k_{c}" for c in range(n_channels)]].to_numpy(dtype=np.int64)
    test = rows["test"].to_numpy(dtype=np.int64)
    if len(test) and (test.min() < 0 or test.max() >= n_tests):
        raise ValueError(f"lift rows name tests outside 0..{n_tests - 1}")
    return LiftTests(
        channel=np.asarray(channel, dtype=np.int64),
        measured=np.asarray(measured, dtype=np.float64),
        standard_error=np.asarray(standard_error, dtype=np.float64),
        labels=tuple(labels) if labels is not None else tuple(f"test {i}" for i in range(n_tests)),
        row_test=test,
        codes=codes.reshape(len(test), n_channels),
        first=rows["first_channel"].to_numpy(dtype=np.int64),
        removed_code=rows["removed_code"].to_numpy(dtype=np.int64),
        opener_removed=rows["opener_removed"].to_numpy(dtype=np.float64),
        n_journeys=rows["n_journeys"].to_numpy(dtype=np.float64),
    )


def lift_increments(
    xp,
    tests: LiftTests,
    s,
    baseline,
    beta,
    opening=None,
    synergy=None,
    pairs: np.ndarray | None = None,
    selection=None,
):
    """The model's incremental conversions per test: (..., test).

    ``xp`` is ``numpy`` (arrays with leading sample dims) or ``pytensor.tensor`` (no leading
    dims). ``s`` (..., channel, code) the channel responses on every code; ``baseline`` (...);
    ``beta``, ``opening``, ``selection`` (..., channel); ``synergy`` (..., pair) with ``pairs``
    int (pair, 2). ``opening``, ``synergy`` and ``selection`` may be None (absent terms).
    """
    n_rows, n_channels = tests.codes.shape
    rows = np.arange(n_rows)
    c = tests.channel[tests.row_test]  # (row,) the test's channel
    s_rows = s[..., np.arange(n_channels)[None, :], tests.codes]  # (..., row, channel)
    s_c = s[..., c, tests.codes[rows, c]]  # (..., row)
    s_removed = s[..., c, tests.removed_code]  # (..., row)
    lost = s_c - s_removed
    h = baseline[..., None] + (beta[..., None, :] * s_rows).sum(axis=-1)
    dh = beta[..., c] * lost
    if opening is not None:
        opened = (tests.first[:, None] == np.arange(n_channels)[None, :]).astype(np.float64)
        h = h + (opening[..., None, :] * opened).sum(axis=-1)
        dh = dh + opening[..., c] * tests.opener_removed
    if selection is not None:
        h = h + (selection[..., None, :] * s_rows).sum(axis=-1)
    if synergy is not None and pairs is not None:
        for q, (a, b) in enumerate(np.asarray(pairs, dtype=np.int64)):
            h = h + synergy[..., q, None] * s_rows[..., a] * s_rows[..., b]
            partner = (c == a).astype(np.float64) * s_rows[..., b] + (c == b).astype(
                np.float64
            ) * s_rows[..., a]
            dh = dh + synergy[..., q, None] * partner * lost
    per_row = tests.n_journeys * xp.exp(-h) * xp.expm1(dh)  # (..., row)
    by_test = np.zeros((n_rows, tests.n_tests))
    by_test[rows, tests.row_test] = 1.0
    return xp.dot(per_row, by_test)


def add_to_model(model, tests: LiftTests, stats, h_conv, nonconv_h, *, s, baseline, beta):
    """Add the tested channels' selection terms and each test's likelihood to ``model`` (inside
    its context); returns the updated ``(h_conv, nonconv_h)`` of ``attribution.model``.

    Creates ``selection_tested`` (HalfNormal(``SELECTION_SD``), one per tested channel),
    ``selection(channel)`` (0 for untested channels), ``lift_test_predicted(lift_test)`` and the
    observed ``lift_test_measured(lift_test)``; ``stats`` is the model's ``SufficientStats``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_channels = stats.conv_codes.shape[1]
    tested = tests.tested_channels
    model.add_coord("lift_test", list(tests.labels))
    chosen = pm.HalfNormal("selection_tested", sigma=SELECTION_SD, shape=len(tested))
    selection = pm.Deterministic(
        "selection", pt.set_subtensor(pt.zeros(n_channels)[tested], chosen), dims="channel"
    )
    for j, c in enumerate(tested):
        nonconv_h = nonconv_h + chosen[j] * pt.sum(s[c] * stats.nonconv_by_code[c])
        h_conv = h_conv + chosen[j] * s[c, stats.conv_codes[:, c]]
    named = model.named_vars
    predicted = lift_increments(
        pt,
        tests,
        s,
        baseline,
        beta,
        opening=named.get("opening"),
        synergy=named.get("synergy"),
        pairs=stats.pairs,
        selection=selection,
    )
    predicted = pm.Deterministic("lift_test_predicted", predicted, dims="lift_test")
    pm.Normal(
        "lift_test_measured",
        mu=predicted,
        sigma=tests.standard_error,
        observed=tests.measured,
        dims="lift_test",
    )
    return h_conv, nonconv_h


def predicted_lift(posterior: xr.Dataset, tests: LiftTests) -> xr.DataArray:
    """The model's incremental conversions of each test under each posterior draw:
    DataArray (chain, draw, lift_test), conversions (:func:`lift_increments` in numpy)."""
    from attribution.probability import posterior_draws

    draws = posterior_draws(posterior)
    s = draws.code_response()  # (sample, channel, code)
    n_codes = code_table(len(draws.ages_days)).shape[0]
    if tests.codes.size and (tests.codes.max() >= n_codes or tests.removed_code.max() >= n_codes):
        raise ValueError(f"lift rows have codes outside 0..{n_codes - 1}")
    selection = None
    if "selection" in posterior:
        stacked = posterior["selection"].stack(sample=("chain", "draw"))
        selection = np.asarray(stacked.transpose("sample", "channel").values, dtype=np.float64)
    values = lift_increments(
        np,
        tests,
        s,
        draws.baseline,
        draws.beta,
        opening=draws.opening if draws.has_roles else None,
        synergy=draws.synergy if draws.pairs.shape[0] else None,
        pairs=draws.pairs,
        selection=selection,
    )
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    return xr.DataArray(
        values.reshape(n_chain, n_draw, tests.n_tests),
        dims=("chain", "draw", "lift_test"),
        coords={
            "chain": posterior["chain"].values,
            "draw": posterior["draw"].values,
            "lift_test": list(tests.labels),
        },
        name="lift_test_predicted",
    )
