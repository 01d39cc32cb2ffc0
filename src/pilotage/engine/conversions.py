"""Who is a customer, and since when (data-contract.md, "contacts").

A contact converts at `converted_at` = the earliest of its first paid order (status `paid`,
amount > 0) and its first subscription start. Conversion is always derived from orders and
subscriptions, never from a flag. These expressions are shared by every KPI, attribution
and scoring module so that "customer" means one thing everywhere.
"""

from __future__ import annotations

from typing import Protocol

import ibis
import ibis.expr.types as ir

PAID = "paid"


class TableSource(Protocol):
    """Anything that hands out contract tables typed for the engine: a `Source`, or a KPI
    context that shows the data as it was known at `as_of`."""

    def table(self, name: str) -> ir.Table: ...


def paid_orders(source: TableSource) -> ir.Table:
    """Orders that count as revenue: status `paid` (the default) and amount > 0."""
    orders = source.table("orders")
    return orders.filter((orders.status == PAID) & (orders.amount > 0))


def conversions(source: TableSource) -> ir.Table:
    """One row per customer: `contact_id`, `converted_at` (naive UTC).

    Contacts that never converted are absent. A conversion before `created_at` (a store
    buyer registered after paying) keeps its real time here; delays are clipped at 0 where
    they are measured.
    """
    orders = paid_orders(source)
    first_orders = orders.group_by("contact_id").aggregate(converted_at=orders.ordered_at.min())
    subscriptions = source.table("subscriptions")
    first_subscriptions = subscriptions.group_by("contact_id").aggregate(
        converted_at=subscriptions.started_at.min()
    )
    both = first_orders.union(first_subscriptions)
    return both.group_by("contact_id").aggregate(converted_at=both.converted_at.min())


def contacts_with_conversion(source: TableSource) -> ir.Table:
    """Every contact with its `converted_at` (null for prospects)."""
    contacts = source.table("contacts")
    converted = conversions(source)
    return contacts.left_join(converted, "contact_id").select(contacts, converted.converted_at)


def conversion_delay_days(
    created_at: ir.TimestampValue, converted_at: ir.TimestampValue
) -> ir.FloatingValue:
    """Exact delay in days (seconds / 86,400), clipped at 0 for buyers registered after
    paying; null for prospects. (Not `greatest`: several engines ignore nulls in it.)"""
    seconds = converted_at.epoch_seconds() - created_at.epoch_seconds()
    clipped = ibis.ifelse(seconds < 0, 0, seconds)
    return clipped / 86_400.0


def seconds_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """`end - start` in seconds, as float64, on every engine (Unix seconds: SQLite has no
    interval arithmetic)."""
    return end.epoch_seconds().cast("float64") - start.epoch_seconds().cast("float64")
