"""P(beats current) as people read it: never 100% (or 0%) unless every posterior draw agrees."""

from __future__ import annotations

import numpy as np

from workbench.report.markup import chance


def test_a_near_certain_chance_is_not_rounded_to_certainty():
    # 999 of 1,000 draws beat the current plan: "100%" would claim all of them do.
    assert chance(0.999) == ">99%"
    assert chance(0.001) == "<1%"


def test_certainty_and_ordinary_chances_read_as_percentages():
    assert chance(1.0) == "100%"
    assert chance(0.0) == "0%"
    assert chance(0.875) == "88%"
    assert chance(np.nan) == "–"
