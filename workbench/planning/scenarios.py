"""Budget scenarios: per-channel spend changes read from a small YAML or CSV file.

A scenario turns the current spend per channel (totals over the spend file's window, currency)
into planned spend per channel. Channels a scenario does not mention keep their current spend.

YAML (a list under ``scenarios``; each entry has a ``name`` and any of the keys below, applied
in this order)::

    scenarios:
      - name: display_to_search
        description: Move 20% of display spend into paid search
        move: [{from: display, to: paid_search, share: 0.2}]
      - name: cut_display
        change: {display: -0.5}        # relative change: -50%
      - name: double_email
        multiplier: {email: 2.0}       # planned = multiplier x current
      - name: fixed_search
        spend: {paid_search: 12000}    # planned total spend (currency, same window)

CSV: columns ``scenario``, ``channel`` and exactly one of ``change``, ``multiplier``, ``spend``
(one row per scenario and channel).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError

#: The keys a scenario entry may use to change spend, in the order they are applied.
SPEND_KEYS = ("move", "change", "multiplier", "spend")
#: Name of the implicit scenario that keeps every channel at its current spend.
CURRENT = "current"
#: Name of the optimiser's allocation in the results.
OPTIMISED = "optimised"
RESERVED_NAMES = (CURRENT, OPTIMISED)


@dataclass(frozen=True)
class Scenario:
    """One named budget scenario: planned total spend per channel (currency)."""

    name: str
    spend: dict[str, float]
    description: str = ""
    notes: list[str] = field(default_factory=list)


def read_scenarios(
    source: str | os.PathLike | Sequence[Mapping[str, Any]] | pd.DataFrame,
    current_spend: Mapping[str, float],
) -> list[Scenario]:
    """Read scenarios from a YAML or CSV file (or the same structures from Python) and turn
    them into planned spend per channel.

    ``current_spend`` maps every plannable channel to its current total spend (currency). Any
    channel name a scenario uses that is not in it raises :class:`InputError` naming the file
    and the channel.
    """
    label = str(source) if isinstance(source, str | os.PathLike) else f"<{type(source).__name__}>"
    if isinstance(source, str | os.PathLike):
        entries = _read_file(Path(source))
    elif isinstance(source, pd.DataFrame):
        entries = _entries_from_table(source, label)
    else:
        entries = [dict(e) for e in source]
    if not entries:
        raise InputError("no scenarios found", file=label)
    scenarios, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        scenario = _build(entry, i, current_spend, label)
        if scenario.name in seen:
            raise InputError(f"scenario name '{scenario.name}' is used twice", file=label)
        seen.add(scenario.name)
        scenarios.append(scenario)
    return scenarios


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError("scenarios file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise InputError(f"not valid YAML ({err.__class__.__name__})", file=str(path)) from err
        if isinstance(doc, Mapping):
            doc = doc.get("scenarios")
        if not isinstance(doc, list) or not all(isinstance(e, Mapping) for e in doc):
            raise InputError(
                "expected a list of scenarios (each with a 'name') under 'scenarios'",
                file=str(path),
            )
        return [dict(e) for e in doc]
    if suffix == ".csv":
        return _entries_from_table(pd.read_csv(path), str(path))
    raise InputError("scenarios must be a .yaml, .yml or .csv file", file=str(path))


def _entries_from_table(table: pd.DataFrame, label: str) -> list[dict[str, Any]]:
    """Long table (scenario, channel, one of change|multiplier|spend) -> YAML-like entries."""
    for col in ("scenario", "channel"):
        if col not in table.columns:
            raise InputError("missing required column", file=label, column=col)
    kinds = [k for k in ("change", "multiplier", "spend") if k in table.columns]
    if len(kinds) != 1:
        raise InputError(
            "expected exactly one of the columns change, multiplier, spend; "
            f"found {kinds or 'none'}",
            file=label,
        )
    kind = kinds[0]
    values = pd.to_numeric(table[kind], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
        raise InputError("expected a number", file=label, column=kind, rows=(bad + 1).tolist())
    entries: dict[str, dict[str, Any]] = {}
    for name, channel, value in zip(
        table["scenario"].astype(str), table["channel"].astype(str), values, strict=True
    ):
        entries.setdefault(name, {"name": name, kind: {}})[kind][channel] = float(value)
    return list(entries.values())


def _build(
    entry: Mapping[str, Any], index: int, current: Mapping[str, float], label: str
) -> Scenario:
    name = str(entry.get("name") or "").strip()
    if not name:
        raise InputError(f"scenario {index} has no 'name'", file=label)
    if name in RESERVED_NAMES:
        raise InputError(f"scenario name '{name}' is reserved; choose another", file=label)
    unknown_keys = set(entry) - {"name", "description", *SPEND_KEYS}
    if unknown_keys:
        raise InputError(
            f"scenario '{name}': unknown key(s) {sorted(unknown_keys)}; "
            f"expected name, description, {', '.join(SPEND_KEYS)}",
            file=label,
        )
    if not any(k in entry for k in SPEND_KEYS):
        raise InputError(
            f"scenario '{name}' changes nothing; give one of {', '.join(SPEND_KEYS)}", file=label
        )
    spend = {c: float(v) for c, v in current.items()}

    def channel(ch: Any) -> str:
        ch = str(ch)
        if ch not in current:
            raise InputError(
                f"scenario '{name}' refers to unknown channel '{ch}'; "
                f"known channels: {', '.join(sorted(current))}",
                file=label,
            )
        return ch

    def number(value: Any, what: str) -> float:
        try:
            out = float(value)
        except (TypeError, ValueError):
            out = float("nan")
        if not np.isfinite(out):
            raise InputError(
                f"scenario '{name}': {what} must be a number, got {value!r}", file=label
            )
        return out

    moves = entry.get("move") or []
    if isinstance(moves, Mapping):
        moves = [moves]
    for move in moves:
        if not isinstance(move, Mapping) or not {"from", "to", "share"} <= set(move):
            raise InputError(f"scenario '{name}': each move needs from, to and share", file=label)
        src, dst = channel(move["from"]), channel(move["to"])
        share = number(move["share"], "move share")
        if not 0.0 <= share <= 1.0:
            raise InputError(f"scenario '{name}': move share must be in [0, 1]", file=label)
        amount = share * spend[src]
        spend[src] -= amount
        spend[dst] += amount
    for ch, value in _mapping(entry, "change", name, label).items():
        ch = channel(ch)
        spend[ch] *= 1.0 + number(value, f"change for {ch}")
    for ch, value in _mapping(entry, "multiplier", name, label).items():
        ch = channel(ch)
        spend[ch] *= number(value, f"multiplier for {ch}")
    for ch, value in _mapping(entry, "spend", name, label).items():
        ch = channel(ch)
        spend[ch] = number(value, f"spend for {ch}")
    negative = sorted(c for c, v in spend.items() if v < 0)
    if negative:
        raise InputError(
            f"scenario '{name}' makes spend negative for {', '.join(negative)}", file=label
        )
    return Scenario(name=name, spend=spend, description=str(entry.get("description") or ""))


def _mapping(entry: Mapping[str, Any], key: str, name: str, label: str) -> Mapping[str, Any]:
    value = entry.get(key) or {}
    if not isinstance(value, Mapping):
        raise InputError(f"scenario '{name}': '{key}' must map channel -> number", file=label)
    return value
