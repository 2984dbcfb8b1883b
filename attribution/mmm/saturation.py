"""Diminishing returns: the weekly effect of adstocked spend x (in typical-spend units) is
``beta * s(x)`` with s increasing, concave (logistic) or S-shaped (Hill), s(0) = 0, s(inf) = 1.

- logistic: s(x) = (1 - exp(-lam x)) / (1 + exp(-lam x)) (PyMC-Marketing's logistic_saturation);
- hill:     s(x) = x^a / (x^a + k^a) (Jin et al. 2017, eq. 3), half effect at x = k.

``xp`` is ``numpy`` or ``pytensor.tensor``: the same expression builds the model and evaluates
draws.
"""

from __future__ import annotations

import numpy as np


def logistic(x, lam, xp=np):
    """(1 - exp(-lam x)) / (1 + exp(-lam x)) = tanh(lam x / 2)."""
    return xp.tanh(lam * x / 2.0)


def hill(x, k, slope, xp=np):
    """x^slope / (x^slope + k^slope), written as 1 / (1 + (k/x)^slope) and 0 at x = 0."""
    safe = xp.maximum(x, 1e-12)
    return xp.where(x > 0, 1.0 / (1.0 + (k / safe) ** slope), 0.0)
