"""The journey-stage funnel: users reaching each stage per entry channel, conversion to the next
stage with intervals, median time between stages and where journeys stall.

The counting is SQL (``cx_touch_stages.sql``, ``cx_stage_funnel.sql``) on DuckDB or Spark; the
conversion interval is the Beta posterior of a Binomial rate, Beta(1 + k, 1 + n - k) under the
uniform :data:`~workbench.experience.settings.STAGE_PRIOR`, central at
``posterior_tools.settings.INTERVAL``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import beta as beta_dist

from posterior_tools.settings import INTERVAL_QUANTILES
from workbench.engines import Engine, load_sql
from workbench.experience.settings import ALL_CHANNELS, STAGE_PRIOR

#: Columns of the funnel table, in order.
FUNNEL_COLUMNS = ["channel", "stage_index", "users_reached", "users_next", "median_days_to_next"]


def stage_touches(
    engine: Engine,
    source: Any,
    stages: list[str],
    channel_map: dict[str, str],
    *,
    has_stage: bool,
) -> None:
    """Register ``source`` (validated stage-tagged touchpoints) and the view ``cx_touches``
    (user_id, timestamp, channel, stage_index)."""
    engine.register("cx_touch_input", source, timestamps=["timestamp"])
    channels = engine.query(
        "SELECT DISTINCT CAST(channel AS STRING) AS channel FROM cx_touch_input"
    )
    mapping = pd.DataFrame(
        {
            "channel": channels["channel"].astype(str).to_numpy(),
            "stage": [channel_map.get(c, "") for c in channels["channel"].astype(str)],
        }
    )
    engine.register("cx_channel_stage", mapping)
    engine.register(
        "cx_stage_order",
        pd.DataFrame(
            {"stage": list(stages), "stage_index": np.arange(len(stages), dtype=np.int64)}
        ),
    )
    own = "NULLIF(trim(CAST(t.stage AS STRING)), '')"
    stage_expr = f"COALESCE({own}, m.stage)" if has_stage else "m.stage"
    engine.execute(
        "CREATE OR REPLACE TEMPORARY VIEW cx_touches AS "
        + load_sql("cx_touch_stages", stage_expr=stage_expr)
    )


def funnel_table(engine: Engine) -> pd.DataFrame:
    """The funnel rows (FUNNEL_COLUMNS), sorted by channel and stage; needs ``cx_touches``."""
    table = engine.query(load_sql("cx_stage_funnel", all_label=ALL_CHANNELS))
    table = table[FUNNEL_COLUMNS].astype(
        {
            "channel": str,
            "stage_index": np.int64,
            "users_reached": np.int64,
            "users_next": np.int64,
            "median_days_to_next": float,
        }
    )
    return table.sort_values(["channel", "stage_index"]).reset_index(drop=True)


def funnel_dataset(table: pd.DataFrame, stages: list[str]) -> xr.Dataset:
    """Funnel variables over ``(funnel_channel, stage)``: ``stage_users``, ``stage_users_next``,
    ``stage_stalled``, ``stage_conversion`` (observed share reaching the next stage) with
    ``_lower``/``_upper``, ``stage_median_days`` (days to the next stage), and per channel
    ``stall_stage``: the stage before the last with the lowest conversion to the next."""
    channels = [ALL_CHANNELS] + sorted(c for c in table["channel"].unique() if c != ALL_CHANNELS)
    grid = pd.MultiIndex.from_product([channels, range(len(stages))], names=["channel", "stage"])
    t = table.set_index(["channel", "stage_index"]).reindex(grid)
    shape = (len(channels), len(stages))
    reached = t["users_reached"].fillna(0).to_numpy(np.int64).reshape(shape)
    nxt = t["users_next"].fillna(0).to_numpy(np.int64).reshape(shape)
    days = t["median_days_to_next"].to_numpy(float).reshape(shape)
    has_next = np.arange(len(stages)) < len(stages) - 1
    valid = (reached > 0) & has_next
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(valid, nxt / reached, np.nan)
    a, b = STAGE_PRIOR
    lower = np.where(
        valid, beta_dist.ppf(INTERVAL_QUANTILES[0], a + nxt, b + reached - nxt), np.nan
    )
    upper = np.where(
        valid, beta_dist.ppf(INTERVAL_QUANTILES[1], a + nxt, b + reached - nxt), np.nan
    )
    stall = []
    for row in rate:
        finite = np.isfinite(row)
        stall.append(stages[int(np.nanargmin(row))] if finite.any() else "")
    dims = ("funnel_channel", "stage")
    return xr.Dataset(
        {
            "stage_users": (dims, reached),
            "stage_users_next": (dims, nxt),
            "stage_stalled": (dims, np.where(has_next, reached - nxt, 0)),
            "stage_conversion": (dims, rate),
            "stage_conversion_lower": (dims, lower),
            "stage_conversion_upper": (dims, upper),
            "stage_median_days": (dims, np.where(has_next, days, np.nan)),
            "stall_stage": ("funnel_channel", np.array(stall, dtype=object)),
        },
        coords={"funnel_channel": channels, "stage": list(stages)},
    )
