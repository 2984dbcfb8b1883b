"""CLV segments: one-hot weights per customer attribute column (a --customers file) and
acquisition channel shares (the credit of each customer's first converting journey in
attribution.nc), and the segment summaries ``clv_by_<dim>`` built from per-draw CLV."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from workbench.errors import InputError


def _source_name(source: Any) -> str | None:
    return str(source) if isinstance(source, str | os.PathLike) else None


def _read_table(source: Any, what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    from workbench.engines import file_format

    path = Path(source)
    if not path.is_file():
        raise InputError(f"{what} file not found", file=str(source))
    if file_format(path) == "csv":
        return pd.read_csv(path, dtype={"customer_id": str})
    return pd.read_parquet(path)


def segments(ids: np.ndarray, customers: Any, attribution: Any) -> list:
    """``[(dim, labels, weights (n, G))]``: one-hot weights per customer attribute column and the
    acquisition channel shares from attribution results."""
    out = []
    if customers is not None:
        table = _read_table(customers, "customers")
        if "customer_id" not in table.columns:
            raise InputError(
                f"no customer_id column; found {', '.join(map(str, table.columns))}",
                file=_source_name(customers),
                column="customer_id",
            )
        table = table.assign(customer_id=table["customer_id"].astype(str))
        duplicated = table["customer_id"].duplicated()
        if duplicated.any():
            rows = (np.flatnonzero(duplicated.to_numpy()) + 1).tolist()
            raise InputError(
                "customer_id appears more than once; one row per customer",
                file=_source_name(customers),
                column="customer_id",
                rows=rows,
                n_rows=int(duplicated.sum()),
            )
        table = table.set_index("customer_id").reindex(ids)
        for column in table.columns:
            labels = table[column].astype("string").fillna("(missing)")
            levels = sorted(labels.unique())
            weights = (labels.to_numpy()[:, None] == np.array(levels)[None, :]).astype(float)
            out.append((str(column), levels, weights))
    if attribution is not None:
        out.append(("channel", *_acquisition_shares(ids, attribution)))
    return out


def _acquisition_shares(ids: np.ndarray, attribution: Any) -> tuple[list[str], np.ndarray]:
    """Per customer, the channel credit of their first converting journey (shape (n, C);
    rows of customers without a converting journey are 0)."""
    from workbench.store import read_results

    ds = attribution if isinstance(attribution, xr.Dataset) else None
    if ds is None:
        if not Path(attribution).is_file():
            raise InputError("attribution results not found", file=str(attribution))
        ds = read_results(attribution)
    needed = ("journey_credit", "journey_user_id", "journey_time")
    missing = [k for k in needed if k not in ds.variables]
    if missing:
        raise InputError(
            f"attribution results lack {', '.join(missing)}; rerun `workbench attribute`",
            file=_source_name(attribution),
        )
    credit = ds["journey_credit"].transpose("journey", "channel")
    journeys = pd.DataFrame(
        {
            "user_id": ds["journey_user_id"].values.astype(str),
            "time": ds["journey_time"].values,
            "row": np.arange(credit.sizes["journey"]),
        }
    )
    first = journeys.sort_values(["user_id", "time", "row"]).drop_duplicates("user_id")
    row_of = pd.Series(first["row"].to_numpy(), index=first["user_id"].to_numpy())
    rows = row_of.reindex(ids).to_numpy()
    matched = ~np.isnan(rows)
    shares = np.zeros((ids.size, credit.sizes["channel"]))
    shares[matched] = np.nan_to_num(credit.values[rows[matched].astype(int)])
    return [str(c) for c in credit["channel"].values], shares


def segment_variables(segments: list, group_clv: np.ndarray | None) -> xr.Dataset:
    """``clv_by_<dim>(<dim>)`` (+ ``_lower``/``_upper`` for draws) and customer counts (credit
    sums for channels); ``acquisition_channel_share(customer_id, channel)``."""
    from posterior_tools.draws import interval

    ds = xr.Dataset()
    start = 0
    for dim, labels, weights in segments:
        block = group_clv[:, start : start + len(labels)]
        start += len(labels)
        if block.shape[0] > 1:
            mean, lower, upper = interval(block)
            ds[f"clv_by_{dim}_lower"] = (dim, lower)
            ds[f"clv_by_{dim}_upper"] = (dim, upper)
        else:
            mean = block[0]
        ds[f"clv_by_{dim}"] = (dim, mean)
        ds[f"customers_by_{dim}"] = (dim, weights.sum(axis=0))
        ds = ds.assign_coords({dim: labels})
        if dim == "channel":
            ds["acquisition_channel_share"] = (("customer_id", "channel"), weights)
    return ds
