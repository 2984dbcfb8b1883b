"""Input contracts: the columns each input table must (and may) have, and their roles.

| table | required columns | optional |
|---|---|---|
| touchpoints | user_id, timestamp, channel | campaign, cost |
| conversions | user_id, timestamp | value |
| transactions | customer_id, timestamp, amount | |
| spend | channel, period_start, spend | period_end |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnRole = Literal["id", "label", "time", "number"]


@dataclass(frozen=True)
class Column:
    """One contract column. ``role`` decides the check and the staged type:
    ``id`` and ``label`` (non-empty text), ``time`` (timestamp -> days since epoch),
    ``number`` (finite, >= 0, DOUBLE)."""

    name: str
    role: ColumnRole
    required: bool = True


@dataclass(frozen=True)
class Contract:
    """The columns one input table must (and may) have."""

    kind: str
    columns: tuple[Column, ...]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


CONTRACTS: dict[str, Contract] = {
    c.kind: c
    for c in (
        Contract(
            "touchpoints",
            (
                Column("user_id", "id"),
                Column("timestamp", "time"),
                Column("channel", "label"),
                Column("campaign", "label", required=False),
                Column("cost", "number", required=False),
            ),
        ),
        Contract(
            "conversions",
            (
                Column("user_id", "id"),
                Column("timestamp", "time"),
                Column("value", "number", required=False),
            ),
        ),
        Contract(
            "transactions",
            (
                Column("customer_id", "id"),
                Column("timestamp", "time"),
                Column("amount", "number"),
            ),
        ),
        Contract(
            "spend",
            (
                Column("channel", "label"),
                Column("period_start", "time"),
                Column("spend", "number"),
                Column("period_end", "time", required=False),
            ),
        ),
    )
}


def contract(kind: str) -> Contract:
    """The contract for ``kind``; a programming error (ValueError) for an unknown kind."""
    if kind not in CONTRACTS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(CONTRACTS)}")
    return CONTRACTS[kind]
