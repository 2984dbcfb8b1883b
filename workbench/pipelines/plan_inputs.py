"""The plan's input step: open and check attribution.nc, clv.nc, mmm.nc and the spend table, and
settle which channels are planned and their current spend (``workbench.pipelines.plan``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from workbench.errors import InputError

#: The attribution model's posterior parameters (``attribution.model.PARAMETERS``).
MODEL_PARAMETERS = ("baseline", "beta", "decay", "saturation", "synergy")


@dataclass
class PlanInputs:
    """What the plan reads: the results files, the journey channels' spend grid, the media-mix
    channels' weekly spend, and the current spend of every planned channel (journey channels
    first, then the channels only the media-mix model covers)."""

    attr_ds: xr.Dataset | None
    clv_ds: xr.Dataset | None
    mmm_ds: xr.Dataset | None
    channels: list[str]
    grid: xr.Dataset | None
    media_paths: Any
    current: np.ndarray

    @property
    def journey_channels(self) -> list[str]:
        return [] if self.grid is None else [str(c) for c in self.grid["channel"].values]


def read_inputs(attribution, clv, spend, mmm=None) -> PlanInputs:
    from workbench.planning.media import check_media_results, media_channels, media_paths
    from workbench.planning.spend import load_spend, spend_grid

    if attribution is None and mmm is None:
        raise InputError("nothing to plan: give attribution results, media-mix results or both")
    spend_label = str(spend) if isinstance(spend, str | os.PathLike) else "<DataFrame>"
    attr_ds = clv_ds = mmm_ds = grid = paths = None
    if attribution is not None:
        attr_ds = _open(attribution, "attribution")
        _require(
            attr_ds, ("pattern_counts", "pattern_n_journeys", "attributed_conversions"), attribution
        )
        if clv is None or spend is None:
            raise InputError(
                "planning the journey channels of attribution results needs clv results and "
                "a spend table as well"
            )
    if clv is not None:
        clv_ds = _open(clv, "clv")
    if mmm is not None:
        mmm_ds = _open(mmm, "media-mix")
        check_media_results(mmm_ds, None if isinstance(mmm, xr.Dataset) else str(mmm))
    journey = [str(c) for c in attr_ds["channel"].values] if attr_ds is not None else []
    media = media_channels(mmm_ds) if mmm_ds is not None else []
    table = load_spend(spend) if spend is not None else None
    if table is not None:
        unknown = sorted(set(table["channel"]) - set(journey) - set(media))
        if unknown:
            raise InputError(
                f"spend refers to channel(s) {', '.join(unknown)} that neither the attribution "
                f"nor the media-mix results have; known: {', '.join(journey + media)}",
                file=spend_label,
                column="channel",
            )
    window_start, n_weeks = None, None
    if attr_ds is not None:
        rows = table[table["channel"].isin(journey)]
        grid = spend_grid(rows, journey, attr_ds.get("weekly_touches"), spend_label)
        window_start, n_weeks = float(grid["period_start"].values[0]), int(grid.sizes["period"])
    elif table is not None:
        window_start = float(table["period_start"].min())
        n_weeks = int(round((table["period_start"].max() - window_start) / 7.0)) + 1
    if mmm_ds is not None:
        n_weeks = n_weeks if n_weeks is not None else int(mmm_ds.sizes["period"])
        paths = media_paths(mmm_ds, n_weeks, table, window_start)
    media_only = [c for c in media if c not in journey]
    channels = journey + media_only
    current = np.concatenate(
        [
            grid["spend"].sum("period").values if grid is not None else np.zeros(0),
            [paths.window[:, media.index(c)].sum() for c in media_only],
        ]
    ).astype(float)
    if not (current > 0).any():
        raise InputError("every channel has zero spend; nothing to plan", file=spend_label)
    return PlanInputs(attr_ds, clv_ds, mmm_ds, channels, grid, paths, current)


def _open(source: Any, what: str) -> xr.Dataset:
    if isinstance(source, xr.Dataset):
        return source
    from workbench.store import read_results

    path = str(source)
    if not os.path.isfile(path):
        raise InputError(f"{what} results file not found", file=path)
    try:
        return read_results(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {what} results ({err})", file=path) from err


def _require(ds: xr.Dataset, names: tuple[str, ...], source: Any) -> None:
    missing = [n for n in names if n not in ds]
    if missing:
        raise InputError(
            f"attribution results lack {', '.join(missing)}; re-run `workbench attribute`",
            file=str(source) if not isinstance(source, xr.Dataset) else None,
        )


def model_parameters(attr_ds: xr.Dataset) -> xr.Dataset:
    """The model's posterior parameters (with their coords and the ``recency_ages_days`` attr)."""
    missing = [n for n in MODEL_PARAMETERS[:-1] if n not in attr_ds]
    if missing:
        raise InputError(
            f"attribution results lack the model parameters {', '.join(missing)}; "
            "re-run `workbench attribute`"
        )
    names = [n for n in (*MODEL_PARAMETERS, "opening") if n in attr_ds]  # opening: roles
    return attr_ds[names].assign_attrs(attr_ds.attrs)
