"""Simulated journeys, conversions, repeat purchases and spend with known truth.

>>> from workbench.simulate import simulate, write, read_truth, true_outcomes
>>> sim = simulate(users=20_000, weeks=12, scenario="default", seed=1)
>>> write(sim, "data/sim")                      # four tables + truth.json
>>> true_outcomes(sim.truth, {"paid_search": 1.2, "display": 0.8})["conversions"]

What is simulated (parameters in :mod:`workbench.sim.scenarios`, equations in each module):
weekly spend per channel buys touches through a diminishing reach curve
(:mod:`workbench.sim.spend`); touches land on users inside their active windows; each user
decides shortly after their last touch and converts with the true probability of their
exposures (:mod:`workbench.sim.response`); converters buy again by BG/NBD with parameters of
their acquisition channel, order amounts by Gamma-Gamma (:mod:`workbench.sim.purchases`);
an unreachable audience converts organically. The truth (exact Shapley credit, removal
effects, baseline, CLV parameters and expectations, the spend response) goes to truth.json.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InputError
from workbench.sim.experience import Experience, simulate_experience
from workbench.sim.journeys import (
    STREAM_CONVERT,
    STREAM_ORGANIC,
    STREAM_PURCHASES,
    STREAM_SURVEYS,
    rng_for,
    sort_touches,
)
from workbench.sim.purchases import draw_purchases
from workbench.sim.response import TrueConversionModel
from workbench.sim.scenarios import (
    CHANNELS,
    DAYS_PER_WEEK,
    ORGANIC_RATE,
    PURCHASE_WEEKS_AFTER,
    SCENARIOS,
    START_DATE,
)
from workbench.sim.shapley import credit, shapley_values
from workbench.sim.truth import build_truth, n_unreachable, true_outcomes
from workbench.sim.world import ORGANIC, World, acquisition, make_world

__all__ = [
    "model_from_truth",
    "SimulatedData",
    "simulate",
    "write",
    "write_experience",
    "read_truth",
    "shapley_values",
    "credit",
    "true_outcomes",
    "TrueConversionModel",
    "CHANNELS",
    "SCENARIOS",
]

TABLES = ("touchpoints", "conversions", "transactions", "spend")
TRUTH_FILE = "truth.json"
#: Customer-experience files written by :func:`write_experience` (``workbench simulate``).
EXPERIENCE_TABLES = ("surveys", "stage_touches")
STAGES_FILE = "stages.yaml"
FORMATS = ("parquet", "csv")
USER_ID_DIGITS = 7
MICROS_PER_DAY = 86_400_000_000

Progress = Callable[[str], None]


@dataclass
class SimulatedData:
    """The four contract tables and the truth (JSON-ready dict)."""

    touchpoints: pd.DataFrame  # user_id, timestamp, channel
    conversions: pd.DataFrame  # user_id, timestamp, value
    transactions: pd.DataFrame  # customer_id, timestamp, amount
    spend: pd.DataFrame  # channel, period_start, period_end, spend
    truth: dict[str, Any]
    #: Per touched user (not written): decision time, true P with and without the touches,
    #: converted, acquisition channel and the true Shapley credit per channel (``shapley_<c>``).
    journeys: pd.DataFrame | None = None
    #: NPS surveys, stage-tagged touches and the stage map (:mod:`workbench.sim.experience`).
    experience: Experience | None = None


def _timestamps(days: np.ndarray) -> np.ndarray:
    """Days from START_DATE -> datetime64[us] (microseconds: Spark reads them too)."""
    micros = np.round(np.asarray(days) * MICROS_PER_DAY).astype(np.int64)
    return np.datetime64(START_DATE, "us") + micros.astype("timedelta64[us]")


def _strings(names: list[str] | np.ndarray, codes: np.ndarray) -> pd.Series:
    """A pandas string column of ``names[codes]``, built in Arrow (millions of rows, fast)."""
    arr = pa.array(list(names)).take(pa.array(np.asarray(codes)))
    return pd.Series(pd.array(arr, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _user_ids(n: int) -> list[str]:
    return [f"u{i:0{USER_ID_DIGITS}d}" for i in range(n)]


def _validate(users: int, weeks: int, scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise InputError(f"unknown scenario '{scenario}'; expected one of {', '.join(SCENARIOS)}")
    if int(users) < 1:
        raise InputError(f"--users must be at least 1; got {users}")
    if int(weeks) < 1:
        raise InputError(f"--weeks must be at least 1; got {weeks}")


def simulate(
    users: int = 20_000,
    weeks: int = 12,
    scenario: str = "default",
    seed: int = 1,
    progress: Progress | None = None,
) -> SimulatedData:
    """Simulate ``users`` reachable users over ``weeks`` weeks of spend (plus 52 weeks of repeat
    purchases) in the named scenario. Same arguments, same data."""
    _validate(users, weeks, scenario)
    say = progress or (lambda _msg: None)
    sc = SCENARIOS[scenario]
    say(f"simulating {users:,} users x {weeks} weeks, scenario '{scenario}', seed {seed}")
    world = make_world(sc, int(users), int(weeks), int(seed), rep=0)
    touches = world.touches = sort_touches(world.touches)  # keep one copy (memory at scale)
    t = world.touched
    say(f"  {len(touches):,} touchpoints on {int(t.sum()):,} users; credit computed")

    # Reachable users convert with their true P (untouched ones with P(empty): organic).
    cr = world.credit
    convert = rng_for(seed, 0, STREAM_CONVERT).random(world.population.n_users) < cr.p_full
    acq = acquisition(cr.shapley)
    n_unreach = n_unreachable(int(users))
    rng_org = rng_for(seed, 0, STREAM_ORGANIC)
    org_convert = rng_org.random(n_unreach) < ORGANIC_RATE
    org_time = rng_org.uniform(0.0, world.period_days, size=n_unreach)

    conv_users = np.flatnonzero(convert)
    org_users = np.flatnonzero(org_convert)
    first_time = np.concatenate([world.decision[conv_users], org_time[org_users]])
    labels = list(world.channels) + [ORGANIC]
    acq_conv = np.concatenate([acq[conv_users], np.full(len(org_users), -1)])
    acq_conv = np.where(acq_conv < 0, len(labels) - 1, acq_conv)
    customer_code = np.concatenate([conv_users, int(users) + org_users])
    end_days = (weeks + PURCHASE_WEEKS_AFTER) * DAYS_PER_WEEK
    buys = draw_purchases(
        first_time,
        acq_conv,
        labels,
        sc.bgnbd,
        sc.gamma_gamma,
        end_days,
        rng_for(seed, 0, STREAM_PURCHASES),
    )
    say(f"  {len(first_time):,} conversions; {len(buys.customer):,} transactions")

    ids = _user_ids(int(users) + n_unreach)
    first_value = np.empty(len(first_time))
    is_first = np.diff(buys.customer, prepend=-1) != 0  # each customer's first order
    first_value[buys.customer[is_first]] = buys.amount[is_first]
    conv_order = np.lexsort((customer_code, first_time))
    conversions = pd.DataFrame(
        {
            "user_id": _strings(ids, customer_code[conv_order]),
            "timestamp": _timestamps(first_time[conv_order]),
            "value": first_value[conv_order],
        }
    )
    touchpoints = pd.DataFrame(
        {
            "user_id": _strings(ids, touches.user),
            "timestamp": _timestamps(touches.time),
            "channel": _strings(list(world.channels), touches.channel),
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": _strings(ids, customer_code[buys.customer]),
            "timestamp": _timestamps(buys.time),
            "amount": buys.amount,
        }
    )
    spend = _spend_table(world.channels, world.spend)

    acquired = {lab: 0 for lab in labels}
    for code, n in zip(*np.unique(acq_conv, return_counts=True), strict=True):
        acquired[labels[code]] = int(n)
    touched_conv = int(convert[t].sum())
    counts = {
        "users": int(users),
        "touched_journeys": int(t.sum()),
        "touchpoints": len(touches),
        "conversions": len(first_time),
        "touched_conversions": touched_conv,
        "organic_conversions": len(first_time) - touched_conv,
        "unreachable_users": n_unreach,
        "customers": len(first_time),
        "transactions": len(buys.customer),
    }
    truth = build_truth(world, counts, acquired)
    journeys = _journey_truth(world, ids, convert, acq, labels)
    experience = simulate_experience(
        buys,
        first_time,
        np.array(labels, dtype=object)[acq_conv],
        _strings(ids, customer_code),
        touchpoints,
        sc.gamma_gamma,
        rng_for(seed, 0, STREAM_SURVEYS),
        _timestamps,
    )
    truth["experience"] = experience.truth
    return SimulatedData(touchpoints, conversions, transactions, spend, truth, journeys, experience)


def _journey_truth(
    world: World, ids: list[str], convert: np.ndarray, acq: np.ndarray, labels: list[str]
) -> pd.DataFrame:
    """Per touched user: the truth behind their journey (for checking per-journey credit)."""
    users = np.flatnonzero(world.touched)
    cr = world.credit
    frame = pd.DataFrame(
        {
            "user_id": _strings(ids, users),
            "decision_time": _timestamps(world.decision[users]),
            "p_convert": cr.p_full[users],
            "p_baseline": cr.p_empty[users],
            "converted": convert[users],
            "acquisition_channel": _strings(
                labels, np.where(acq[users] < 0, len(labels) - 1, acq[users])
            ),
        }
    )
    for i, channel in enumerate(world.channels):
        frame[f"shapley_{channel}"] = cr.shapley[users, i]
    return frame


def _spend_table(channels: tuple[str, ...], spend: np.ndarray) -> pd.DataFrame:
    n_channels, weeks = spend.shape
    week_start = np.datetime64(START_DATE, "us") + (
        np.arange(weeks) * np.timedelta64(7, "D")
    ).astype("timedelta64[us]")
    return pd.DataFrame(
        {
            "channel": _strings(list(channels), np.repeat(np.arange(n_channels), weeks)),
            "period_start": np.tile(week_start, n_channels),
            "period_end": np.tile(week_start + np.timedelta64(6, "D"), n_channels),
            "spend": spend.reshape(-1),
        }
    )


def write(sim: SimulatedData, out_dir: str | os.PathLike, fmt: str = "parquet") -> dict[str, Path]:
    """Write the four tables (``fmt``: parquet or csv) and truth.json into ``out_dir``.

    Every file is written to a temporary name first and renamed only when all are written, so a
    failure leaves any previous files untouched. Returns the paths by table name (+ ``truth``).
    """
    frames = {name: getattr(sim, name) for name in TABLES}
    text = {TRUTH_FILE: json.dumps(sim.truth, indent=2, sort_keys=True) + "\n"}
    return _write_atomically(out_dir, frames, text, fmt)


def write_experience(
    sim: SimulatedData, out_dir: str | os.PathLike, fmt: str = "parquet"
) -> dict[str, Path]:
    """Write the customer-experience files beside the four tables: ``surveys`` (customer_id,
    timestamp, score), ``stage_touches`` (the touchpoints plus conversion, retention and advocacy
    events, each with a ``stage``) and ``stages.yaml`` (stage order and channel -> stage map).
    The truth behind them is in truth.json under ``experience``. Atomic like :func:`write`."""
    import yaml

    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; expected parquet or csv")
    if sim.experience is None:
        return {}
    frames = {name: getattr(sim.experience, name) for name in EXPERIENCE_TABLES}
    text = {STAGES_FILE: yaml.safe_dump(sim.experience.stages, sort_keys=False)}
    return _write_atomically(out_dir, frames, text, fmt)


def _write_atomically(
    out_dir: str | os.PathLike, frames: dict[str, pd.DataFrame], text: dict[str, str], fmt: str
) -> dict[str, Path]:
    """Write each frame as ``<name>.<fmt>`` and each text as its file name, all to temporary
    names first, renamed only when every file is written (a failure leaves earlier files
    untouched). Returns the paths by name without extension."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; expected parquet or csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, frame in frames.items():
            final = out / f"{name}.{fmt}"
            tmp = _temp_in(out, final.name)
            staged.append((tmp, final))
            if fmt == "parquet":
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)
        for file_name, content in text.items():
            final = out / file_name
            tmp = _temp_in(out, final.name)
            staged.append((tmp, final))
            tmp.write_text(content)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    paths = {}
    for tmp, final in staged:
        os.replace(tmp, final)
        paths[final.name.split(".")[0]] = final
    return paths


def _temp_in(folder: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(tmp)


def model_from_truth(truth: dict[str, Any]) -> TrueConversionModel:
    """The true conversion model of a truth dict: ``model_from_truth(t).prob(E)`` gives P."""
    return TrueConversionModel.from_dict(truth["conversion_model"])


def read_truth(path: str | os.PathLike) -> dict[str, Any]:
    """The truth dict from a folder written by :func:`write` (or the truth.json path itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    if not path.is_file():
        raise InputError("no truth.json here; write simulated data first", file=str(path))
    return json.loads(path.read_text())
