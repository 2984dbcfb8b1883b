"""First-order Markov attribution: removal effects from a table of transition counts.

The model, as in Anderl et al. (2016) and ChannelAttribution's ``markov_model``:

1. Every journey is a path ``(start) -> c_1 -> ... -> c_n -> (conversion) | (null)``.
2. The next state depends only on the current one, with probabilities estimated as transition
   counts divided by the counts out of each state (maximum likelihood).
3. ``P(conversion)`` is the probability of absorption in ``(conversion)`` starting from
   ``(start)``: with ``Q`` the transient-to-transient and ``R`` the transient-to-absorbing
   blocks, the absorption probabilities are ``B = (I - Q)^{-1} R`` (one linear solve).
4. Removing channel ``c`` sends every visit to ``c`` to ``(null)``; its removal effect is
   ``1 - P_{-c}(conversion) / P(conversion)``, and the observed conversions are shared among
   channels in proportion to their removal effects.

Self-transitions (the same channel twice in a row) are kept; they do not change absorption
probabilities. Pure numpy/xarray: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

START_STATE, CONVERSION_STATE, NULL_STATE = "(start)", "(conversion)", "(null)"
#: Probabilities used in the log-loss are clipped to [EPS, 1 - EPS] (log(0) is infinite).
LOG_LOSS_EPS = 1e-6


def transition_probabilities(
    from_state: Sequence[str],
    to_state: Sequence[str],
    n_transitions: Sequence[float],
    channels: Sequence[str],
) -> np.ndarray:
    """Row-stochastic matrix over states ``[(start), *channels, (conversion), (null)]``.

    Absorbing states get a self-loop of 1; a transient state with no outgoing transitions
    (never seen) goes to ``(null)``. Dims: (state, state)."""
    states = [START_STATE, *channels, CONVERSION_STATE, NULL_STATE]
    index = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(states), len(states)))
    for a, b, n in zip(from_state, to_state, n_transitions, strict=True):
        if a not in index or b not in index:
            raise ValueError(f"transition {a!r} -> {b!r} names a state not in {states}")
        counts[index[a], index[b]] += float(n)
    conv, null = index[CONVERSION_STATE], index[NULL_STATE]
    counts[conv, :] = 0.0
    counts[null, :] = 0.0
    counts[conv, conv] = counts[null, null] = 1.0
    totals = counts.sum(axis=1)
    empty = totals == 0
    counts[empty, null] = 1.0
    totals[empty] = 1.0
    return counts / totals[:, None]


def conversion_probability(matrix: np.ndarray, removed: int | None = None) -> float:
    """Probability of absorption in ``(conversion)`` from ``(start)``, optionally with the
    state ``removed`` (index into the matrix) redirected to ``(null)``."""
    n = matrix.shape[0]
    conv, null = n - 2, n - 1
    m = matrix.copy()
    if removed is not None:
        m[removed, :] = 0.0
        m[removed, null] = 1.0
    q = m[:conv, :conv]
    r = m[:conv, conv]
    absorbed = np.linalg.solve(np.eye(conv) - q, r)
    return float(absorbed[0])


def markov_attribution(
    from_state: Sequence[str],
    to_state: Sequence[str],
    n_transitions: Sequence[float],
    channels: Sequence[str],
    total_conversions: float | None = None,
) -> xr.Dataset:
    """Removal effects and attributed conversions of a first-order Markov chain.

    ``total_conversions`` defaults to the transitions into ``(conversion)`` (one per converting
    journey). Returns a Dataset over dim ``channel`` with ``removal_effect`` (fraction of
    conversions lost without the channel), ``attributed_conversions`` (conversions shared in
    proportion to removal effects, as ChannelAttribution does) and scalar
    ``conversion_probability``."""
    matrix = transition_probabilities(from_state, to_state, n_transitions, channels)
    base = conversion_probability(matrix)
    effects = np.zeros(len(channels))
    if base > 0:
        for i in range(len(channels)):
            effects[i] = 1.0 - conversion_probability(matrix, removed=i + 1) / base
    if total_conversions is None:
        total_conversions = float(
            sum(
                float(n)
                for b, n in zip(to_state, n_transitions, strict=True)
                if b == CONVERSION_STATE
            )
        )
    weights = effects / effects.sum() if effects.sum() > 0 else effects
    return xr.Dataset(
        {
            "removal_effect": ("channel", effects),
            "attributed_conversions": ("channel", weights * total_conversions),
            "conversion_probability": base,
        },
        coords={"channel": list(channels)},
    )


def last_state_log_loss(
    train_from: Sequence[str],
    train_to: Sequence[str],
    train_n: Sequence[float],
    test_from: Sequence[str],
    test_to: Sequence[str],
    test_n: Sequence[float],
) -> float:
    """Mean held-out log-loss (nats per journey) of the chain's prediction of conversion.

    Given a journey's path, the chain's probability that it ends in conversion rather than
    null is ``T[s, conv] / (T[s, conv] + T[s, null])`` with ``s`` its last channel (the
    probability of the path so far cancels). ``T`` comes from the training transitions; the
    held-out journeys are their transitions into ``(conversion)`` or ``(null)`` (one per
    journey). A last state never seen ending a training journey gets the training rate."""
    ends: dict[str, list[float]] = {}
    for a, b, n in zip(train_from, train_to, train_n, strict=True):
        if b in (CONVERSION_STATE, NULL_STATE):
            pair = ends.setdefault(a, [0.0, 0.0])
            pair[0 if b == CONVERSION_STATE else 1] += float(n)
    converted = sum(p[0] for p in ends.values())
    total = sum(p[0] + p[1] for p in ends.values())
    overall = converted / total if total else 0.5
    loss, count = 0.0, 0.0
    for a, b, n in zip(test_from, test_to, test_n, strict=True):
        if b not in (CONVERSION_STATE, NULL_STATE):
            continue
        k, m = ends.get(a, (0.0, 0.0))
        p = k / (k + m) if k + m > 0 else overall
        p = min(max(p, LOG_LOSS_EPS), 1.0 - LOG_LOSS_EPS)
        loss -= float(n) * (np.log(p) if b == CONVERSION_STATE else np.log1p(-p))
        count += float(n)
    return loss / count if count else float("nan")
