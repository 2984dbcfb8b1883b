"""Per-customer statistics in: checked once at the boundary, then compressed to unique rows.

The likelihoods of the CLV models depend on a customer only through a few statistics
(frequency, recency, T; frequency and mean spend), so customers that share them contribute
identical terms: fitting unique rows with ``weights`` = number of customers gives the same
likelihood, exactly, with far fewer rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

#: Columns of the RFM table: the purchase models read frequency, recency and T, the spend model
#: frequency and monetary_value.
PURCHASE_COLUMNS = ("frequency", "recency", "T")
SPEND_COLUMNS = ("frequency", "monetary_value")
ALL_COLUMNS = (*PURCHASE_COLUMNS, "monetary_value")
#: Recency may exceed T by this much (float rounding of the same day in two expressions).
RECENCY_SLACK = 1e-9


class DataError(ValueError):
    """The data cannot identify the model (one line saying what was found and what is needed)."""


@dataclass(frozen=True)
class RFM:
    """Per-customer statistics (float arrays of shape (n,)) and their labels.

    ``frequency`` counts repeat purchases, ``recency`` (time of the last purchase) and ``T``
    (age at the end of calibration) are in time units since the first purchase,
    ``monetary_value`` is the mean repeat-purchase amount (currency), and ``weights`` the number
    of customers each row stands for (1 unless rows are compressed). Columns that were not
    asked for are None."""

    customer_id: np.ndarray | None
    frequency: np.ndarray
    recency: np.ndarray | None
    T: np.ndarray | None
    monetary_value: np.ndarray | None
    weights: np.ndarray

    def __len__(self) -> int:
        return int(self.frequency.size)


def as_rfm(
    rfm: pd.DataFrame | xr.Dataset,
    *,
    weights: np.ndarray | None = None,
    columns: tuple[str, ...] = PURCHASE_COLUMNS,
    labels: bool = True,
    argument: str = "rfm",
) -> RFM:
    """Check and unpack ``columns`` of an RFM table (DataFrame or Dataset). Customer labels come
    from a ``customer_id`` column or coordinate, else the index (or the first dim's coordinate);
    ``labels=False`` skips them (a fit needs none, and a million string labels take a while).
    Raises ``ValueError`` naming ``argument`` and the column."""
    present = list(rfm.columns) if isinstance(rfm, pd.DataFrame) else list(rfm.variables)
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(
            f"{argument} lacks column(s) {', '.join(missing)}; found {', '.join(map(str, present))}"
        )
    values = {c: np.asarray(rfm[c], dtype=float).ravel() for c in columns}
    for name, column in values.items():
        if not np.all(np.isfinite(column)):
            raise ValueError(f"{argument}['{name}'] has values that are not finite numbers")
    x = values["frequency"]
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError(f"{argument}['frequency'] must count repeat purchases (0, 1, 2, ...)")
    t_x, big_t = values.get("recency"), values.get("T")
    if t_x is not None and (np.any(t_x < 0) or np.any(t_x > big_t + RECENCY_SLACK)):
        raise ValueError(f"{argument}['recency'] must lie between 0 and T")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != x.shape or np.any(~(w > 0)):
        raise ValueError(f"weights must be positive customer counts, one per row of {argument}")
    ids = _labels(rfm) if labels else None
    return RFM(ids, x, t_x, big_t, values.get("monetary_value"), w)


def _labels(rfm: pd.DataFrame | xr.Dataset) -> np.ndarray:
    if "customer_id" in (rfm.columns if isinstance(rfm, pd.DataFrame) else rfm.variables):
        return np.asarray(rfm["customer_id"]).astype(str)
    if isinstance(rfm, pd.DataFrame):
        return rfm.index.to_numpy()
    dim = rfm["frequency"].dims[0]
    return np.asarray(rfm[dim].values)


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


def compress(weights: np.ndarray | None = None, **columns: np.ndarray) -> Compressed:
    """Unique rows of equally long 1-D numeric columns, with customer counts (or the sums of
    ``weights``) as weights, in lexicographic order of the columns (as ``np.unique(axis=0)``).

    Each column is coded by the rank of its value among its distinct values, and the codes are
    combined into one int64 key: one sort of integers instead of a lexsort of float columns,
    several times faster at a million customers."""
    names = list(columns)
    values = [np.asarray(columns[k], dtype=float).ravel() for k in names]
    n = values[0].size if values else 0
    codes = [np.unique(v, return_inverse=True) for v in values]
    if np.prod([float(levels.size) for levels, _ in codes]) < 2.0**62:
        key = np.zeros(n, dtype=np.int64)
        for levels, code in codes:
            key = key * levels.size + code.ravel()
    else:  # too many combinations for one int64: rank the code tuples instead
        key = np.unique(np.column_stack([c for _, c in codes]), axis=0, return_inverse=True)[1]
    keys, first, inverse = np.unique(key.ravel(), return_index=True, return_inverse=True)
    counts = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    summed = np.bincount(inverse, weights=counts, minlength=keys.size)
    return Compressed(
        columns={k: v[first] for k, v in zip(names, values, strict=True)},
        weights=summed.astype(np.int64) if weights is None else summed,
        inverse=inverse.ravel().astype(np.int64),
    )


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * values) over rows, without BLAS: OpenBLAS runs a dot product of more than
    10,000 elements on several threads, which on a busy machine made each likelihood evaluation
    (and so NUTS) an order of magnitude slower; a multiply and a sum stay on this thread."""
    return float(np.multiply(weights, values).sum())


def check_purchases(rfm: RFM, model: str) -> None:
    """Raise ``DataError`` when the purchase model cannot be identified: fewer than
    ``MIN_CUSTOMERS`` customers, or fewer than ``MIN_REPEAT_CUSTOMERS`` with a repeat purchase
    (every customer bought once, or only on their first day: purchase rate and dropout are then
    not separable, and the likelihood rises without end as the rate goes to 0)."""
    from clv.settings import MIN_CUSTOMERS, MIN_REPEAT_CUSTOMERS

    customers = float(rfm.weights.sum())
    if customers < MIN_CUSTOMERS:
        raise DataError(
            f"{model} needs at least {MIN_CUSTOMERS} customers to estimate population "
            f"parameters; got {customers:.0f}"
        )
    repeat = float(rfm.weights[rfm.frequency > 0].sum())
    if repeat < MIN_REPEAT_CUSTOMERS:
        raise DataError(
            f"none of the {customers:.0f} customers made a repeat purchase (every frequency is 0: "
            f"each bought on one day only), so {model} cannot tell purchase rates from dropout; "
            "use a longer calibration period or data with repeat purchases"
        )


def check_spend(rfm: RFM) -> np.ndarray:
    """The customers the spend model can use (mask, shape (n,)): repeat buyers with a positive
    mean spend (its likelihood needs log m). Raises ``DataError`` with fewer than
    ``MIN_SPEND_CUSTOMERS`` of them."""
    from clv.settings import MIN_SPEND_CUSTOMERS

    usable = (rfm.frequency > 0) & (rfm.monetary_value > 0)
    found = float(rfm.weights[usable].sum())
    if found < MIN_SPEND_CUSTOMERS:
        raise DataError(
            f"only {found:.0f} customers bought again with a positive amount in the "
            f"calibration period; the spend model needs at least {MIN_SPEND_CUSTOMERS}"
        )
    return usable
