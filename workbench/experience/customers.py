"""What is known about each customer: acquisition channel, value segment, predicted CLV and
P(alive), from the results of the other commands (and an optional customers table).

- acquisition channel: the customers table's ``channel`` column; else the channel with the
  largest credit in the customer's first converting journey (attribution.nc, or clv.nc's
  ``acquisition_channel_share``), ``organic`` when no channel has credit;
- segment: the customers table's ``segment`` column; else the customer's value tier by predicted
  CLV (:data:`~workbench.experience.settings.VALUE_TIERS`);
- ``clv``, ``p_alive`` and the value decile (1 = lowest) from clv.nc.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError
from workbench.experience.settings import ORGANIC, VALUE_DECILES, VALUE_TIERS


def load_results(source: Any, what: str) -> xr.Dataset | None:
    """A results Dataset from a path (or the Dataset itself); None stays None."""
    if source is None or isinstance(source, xr.Dataset):
        return source
    from workbench.store import read_results

    if not Path(source).is_file():
        raise InputError(f"{what} results not found", file=str(source))
    return read_results(source)


def acquisition_from_shares(channels: list[str], shares: np.ndarray) -> np.ndarray:
    """The channel with the largest share per row; ``organic`` when no share is positive."""
    shares = np.nan_to_num(np.asarray(shares, dtype=float))
    if shares.size == 0:
        return np.full(shares.shape[0], ORGANIC, dtype=object)
    best = np.asarray(channels, dtype=object)[shares.argmax(axis=1)]
    return np.where(shares.max(axis=1) > 0, best, ORGANIC)


def value_tiers(clv: pd.Series) -> pd.Series:
    """Each customer's value tier by predicted CLV rank (top tier first in VALUE_TIERS)."""
    rank = clv.rank(ascending=False, method="first", pct=True)
    edges = np.cumsum([share for _, share in VALUE_TIERS])
    index = np.searchsorted(edges, rank.to_numpy(), side="left")
    labels = np.array([label for label, _ in VALUE_TIERS], dtype=object)
    out = pd.Series(labels[np.minimum(index, len(labels) - 1)], index=clv.index, dtype="string")
    return out.mask(clv.isna())


def value_deciles(clv: pd.Series) -> pd.Series:
    """Value decile 1..VALUE_DECILES by predicted CLV rank (1 = lowest)."""
    rank = clv.rank(method="first", pct=True)
    return np.ceil(rank * VALUE_DECILES).clip(1, VALUE_DECILES).astype("Int64")


def customer_table(
    ids: np.ndarray,
    *,
    clv: xr.Dataset | None,
    attribution: xr.Dataset | None,
    customers: pd.DataFrame | None,
    attribution_source: Any = None,
) -> pd.DataFrame:
    """One row per id in ``ids``: ``channel``, ``segment``, ``clv``, ``p_alive``,
    ``value_decile`` (missing where unknown)."""
    table = pd.DataFrame(index=pd.Index(ids.astype(str), name="customer_id"))
    table["channel"] = pd.Series(pd.NA, index=table.index, dtype="string")
    table["segment"] = pd.Series(pd.NA, index=table.index, dtype="string")
    table["clv"] = np.nan
    table["p_alive"] = np.nan
    if clv is not None:
        cids = clv["customer_id"].values.astype(str)
        for column in ("clv", "p_alive"):
            if column in clv:
                table[column] = pd.Series(clv[column].values, index=cids).reindex(table.index)
        if "acquisition_channel_share" in clv:
            shares = clv["acquisition_channel_share"].transpose("customer_id", "channel")
            channels = [str(c) for c in shares["channel"].values]
            known = pd.Series(acquisition_from_shares(channels, shares.values), index=cids)
            table["channel"] = known.reindex(table.index).astype("string")
    if attribution is not None:
        from workbench.clv_segments import _acquisition_shares

        channels, shares = _acquisition_shares(table.index.to_numpy(), attribution)
        table["channel"] = pd.array(acquisition_from_shares(channels, shares), dtype="string")
    if clv is not None:
        table["segment"] = value_tiers(table["clv"])
    table["value_decile"] = value_deciles(table["clv"])
    if customers is not None:
        for column in ("channel", "segment"):
            if column in customers:
                given = customers[column].reindex(table.index)
                table[column] = given.fillna(table[column]) if column == "channel" else given
    return table


def source_name(source: Any) -> str | None:
    return str(source) if isinstance(source, str | os.PathLike) else None
