"""Compression of per-customer statistics into unique rows with weights.

The BG/NBD likelihood of a customer depends only on (frequency, recency, T), so customers that
share those values contribute identical terms: fitting unique rows with ``weights`` = number of
customers gives the same likelihood, exactly, with far fewer rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Compressed:
    """Unique rows of some per-customer columns.

    ``columns`` maps a name to the unique values (shape (u,)), ``weights`` counts the customers
    per unique row (shape (u,)) and ``inverse`` maps each customer to its row (shape (n,)).
    """

    columns: dict[str, np.ndarray]
    weights: np.ndarray
    inverse: np.ndarray

    def __len__(self) -> int:
        return int(self.weights.size)


def compress(**columns: np.ndarray) -> Compressed:
    """Unique rows of equally long 1-D numeric columns, with customer counts as weights."""
    names = list(columns)
    stacked = np.column_stack([np.asarray(columns[k], dtype=float) for k in names])
    unique, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    return Compressed(
        columns={k: unique[:, i] for i, k in enumerate(names)},
        weights=counts.astype(np.int64),
        inverse=inverse.reshape(-1),
    )
