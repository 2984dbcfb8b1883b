"""Degenerate journey data is detected up front and said in plain words: a channel in no
converting journey, a channel in every journey. The fit still runs (the other channels' credit
is sound); the note lands in the warnings and in attribution.nc's ``data_notes`` attr."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from workbench.pipelines.attribution import data_notes

CHANNELS = ["display", "email", "print", "search"]


def _tables(rows: list[tuple[int, int, int, int, int, int]]) -> SimpleNamespace:
    """Pattern rows (k_0..k_3, n_journeys, n_conversions) as the SQL step's tables."""
    frame = pd.DataFrame(rows, columns=["k_0", "k_1", "k_2", "k_3", "n_journeys", "n_conversions"])
    return SimpleNamespace(patterns=frame, channels=CHANNELS)


def test_a_channel_seen_only_in_non_converting_journeys_is_named_with_its_journey_count():
    tables = _tables(
        [
            (1, 0, 0, 1, 100, 9),
            (0, 1, 0, 0, 50, 2),
            (0, 0, 1, 0, 40, 0),  # print alone: 40 journeys, no conversion
            (1, 0, 2, 0, 30, 0),  # print with display: 30 more, none converted
        ]
    )
    (note,) = data_notes(tables)
    assert "'print' is in 70 journeys and none converted" in note


def test_a_channel_in_every_journey_is_named_as_inseparable_from_the_baseline():
    tables = _tables(
        [
            (1, 0, 0, 1, 100, 9),
            (0, 1, 0, 1, 50, 2),
            (0, 0, 5, 1, 40, 1),
        ]
    )
    (note,) = data_notes(tables)
    assert "'search' is in every one of the 190 journeys" in note
    assert "cannot be told apart from the baseline" in note


def test_ordinary_journeys_give_no_notes():
    assert data_notes(_tables([(1, 0, 0, 0, 10, 1), (0, 1, 1, 1, 10, 2), (1, 1, 0, 0, 5, 0)])) == []


def _journeys(extra: str, n: int = 3_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Journeys of 1-3 touches on search/display/email; search and email raise the conversion
    probability. ``extra='always'`` adds a no-effect 'social' touch to every journey;
    ``extra='noconv'`` adds a 'print' touch only to journeys that do not convert."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    touches, conversions = [], []
    for i in range(n):
        user, t = f"u{i}", start + pd.Timedelta(hours=float(rng.uniform(0, 500)))
        channels = list(rng.choice(["search", "display", "email"], size=rng.integers(1, 4)))
        if extra == "always":
            channels.append("social")
        p = 0.02 + 0.08 * ("search" in channels) + 0.04 * ("email" in channels)
        converted = rng.uniform() < p
        if extra == "noconv" and not converted:
            channels.append("print")
        touches += [(user, t + pd.Timedelta(hours=j), c) for j, c in enumerate(channels)]
        if converted:
            conversions.append((user, t + pd.Timedelta(hours=len(channels) + 1)))
    return (
        pd.DataFrame(touches, columns=["user_id", "timestamp", "channel"]),
        pd.DataFrame(conversions, columns=["user_id", "timestamp"]),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "phrase"),
    [("always", "'social' is in every one of"), ("noconv", "'print' is in")],
)
def test_the_api_warns_and_stores_the_note_on_degenerate_journeys(extra, phrase):
    from workbench import api

    touchpoints, conversions = _journeys(extra)
    with pytest.warns(UserWarning, match=phrase):
        ds = api.attribute(
            touchpoints, conversions, method="laplace", draws=100, chains=1, holdout_check=False
        )
    assert any(phrase in note for note in ds.attrs["data_notes"])
    assert np.isfinite(ds["attributed_conversions"].values).all()
