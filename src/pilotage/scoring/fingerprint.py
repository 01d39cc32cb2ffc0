"""A fingerprint of the data a contact's score depends on, to rescore only what changed.

The fingerprint hashes the contact's own columns and, per related table, the number of rows
and the latest time (interactions, orders with their amounts and statuses, stage changes,
subscriptions). Rows are only ever added, edited or removed, and each of those changes one
of these summaries (an edit that moves no time and no amount, such as a corrected channel
of an interaction, is the rare blind spot: `pilotage score --all` rescores everyone).
The engine computes it for the whole base (`fingerprints`) and Python for one contact
(`fingerprint_of_one`), to the same text: times to the second, amounts to the cent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from pilotage.contract.schema import ColumnType
from pilotage.contract.schema import table as contract_table
from pilotage.engine.backends import Source

CONTACT_COLUMNS: tuple[str, ...] = tuple(
    column.name
    for column in contract_table("contacts").columns
    if column.type is not ColumnType.TIMESTAMP
)
PARTS: tuple[str, ...] = (
    "created_at",
    "interactions",
    "last_interaction",
    "orders",
    "last_order",
    "amount",
    "paid_orders",
    "stage_changes",
    "last_stage_change",
    "subscriptions",
    "last_subscription",
    "last_subscription_end",
)


def _stamp(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%S")


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _count(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "0"
    return str(int(value))


def _cents(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "0"
    return str(round(float(value) * 100))


def _digest(values: Sequence[str]) -> str:
    return hashlib.sha1("\x1f".join(values).encode(), usedforsecurity=False).hexdigest()[:16]


def fingerprints(source: Source) -> pd.DataFrame:
    """`contact_id`, `fingerprint` of every contact."""
    contacts = source.table("contacts")
    interactions = source.table("interactions")
    orders = source.table("orders")
    changes = source.table("stage_changes")
    subscriptions = source.table("subscriptions")
    parts = [
        interactions.group_by("contact_id").aggregate(
            interactions=interactions.count(), last_interaction=interactions.occurred_at.max()
        ),
        orders.group_by("contact_id").aggregate(
            orders=orders.count(),
            last_order=orders.ordered_at.max(),
            amount=orders.amount.sum(),
            paid_orders=ibis.ifelse(orders.status == "paid", 1, 0).sum(),
        ),
        changes.group_by("contact_id").aggregate(
            stage_changes=changes.count(), last_stage_change=changes.changed_at.max()
        ),
        subscriptions.group_by("contact_id").aggregate(
            subscriptions=subscriptions.count(),
            last_subscription=subscriptions.started_at.max(),
            last_subscription_end=subscriptions.ended_at.max(),
        ),
    ]
    joined = contacts.select("contact_id", "created_at", *CONTACT_COLUMNS[1:])
    for part in parts:
        joined = joined.left_join(part, "contact_id").drop("contact_id_right")
    frame: pd.DataFrame = source.execute(joined)
    texts = []
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for row in records:
        texts.append(_digest(_values(row)))
    return pd.DataFrame({"contact_id": frame["contact_id"].astype(str), "fingerprint": texts})


def _values(row: Mapping[str, Any]) -> list[str]:
    values = [_text(row.get(name)) for name in CONTACT_COLUMNS]
    values += [
        _stamp(row.get("created_at")),
        _count(row.get("interactions")),
        _stamp(row.get("last_interaction")),
        _count(row.get("orders")),
        _stamp(row.get("last_order")),
        _cents(row.get("amount")),
        _count(row.get("paid_orders")),
        _count(row.get("stage_changes")),
        _stamp(row.get("last_stage_change")),
        _count(row.get("subscriptions")),
        _stamp(row.get("last_subscription")),
        _stamp(row.get("last_subscription_end")),
    ]
    return values


def _latest(rows: Sequence[Mapping[str, Any]], column: str) -> datetime | None:
    values = [row[column] for row in rows if row.get(column) is not None]
    return max(values) if values else None


def fingerprint_of_one(
    contact: Mapping[str, Any],
    *,
    orders: Sequence[Mapping[str, Any]],
    subscriptions: Sequence[Mapping[str, Any]],
    interactions: Sequence[Mapping[str, Any]],
    stage_changes: Sequence[Mapping[str, Any]],
) -> str:
    row: dict[str, Any] = {name: contact.get(name) for name in CONTACT_COLUMNS}
    row.update(
        created_at=contact.get("created_at"),
        interactions=len(interactions),
        last_interaction=_latest(interactions, "occurred_at"),
        orders=len(orders),
        last_order=_latest(orders, "ordered_at"),
        amount=sum(float(o["amount"]) for o in orders) if orders else None,
        paid_orders=sum(1 for o in orders if (o.get("status") or "paid") == "paid"),
        stage_changes=len(stage_changes),
        last_stage_change=_latest(stage_changes, "changed_at"),
        subscriptions=len(subscriptions),
        last_subscription=_latest(subscriptions, "started_at"),
        last_subscription_end=_latest(subscriptions, "ended_at"),
    )
    return _digest(_values(row))
