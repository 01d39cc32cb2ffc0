"""What rules and models know about a contact as of an instant (scoring.md section 1).

The fields of a contact at `as_of` (naive UTC) use only data up to `as_of`: contacts
created by then, paid orders, subscriptions, interactions and stage changes at or before
it. Derived fields:

- `orders_count`, `revenue_total`: paid orders (status paid, amount > 0) and their amount;
- `revenue_365d`: paid amount in the last 365 days, (as_of - 365 d, as_of];
- `days_since_last_order`, `days_since_last_interaction`, `days_since_created`: exact
  days (seconds / 86,400), missing when there is no such event;
- `interactions_30d`: interactions in (as_of - 30 d, as_of];
- `stage`: the latest journey stage reached (the furthest in the configured order, the
  last stage for a contact that converted: data-contract.md's "reached");
- `is_customer`: converted (first paid order or subscription start) by `as_of`.

Two implementations give the same values: `fields_expression` (Ibis, the whole base in
the engine) and `fields_of_one` (plain Python on one contact's rows, for incremental
rescoring in the CRM, which must answer in milliseconds); a test runs both on the
generated company and compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from pilotage.contract.schema import ColumnType
from pilotage.contract.schema import table as contract_table
from pilotage.engine.backends import Source
from pilotage.scoring.expressions import FieldType

SECONDS_PER_DAY = 86_400.0
RECENT_INTERACTION_DAYS = 30
REVENUE_WINDOW_DAYS = 365

DERIVED_FIELDS: dict[str, FieldType] = {
    "orders_count": "number",
    "revenue_total": "number",
    "revenue_365d": "number",
    "days_since_last_order": "number",
    "days_since_last_interaction": "number",
    "days_since_created": "number",
    "interactions_30d": "number",
    "stage": "text",
    "is_customer": "bool",
}


def contact_field_types() -> dict[str, FieldType]:
    """The contract's contact columns as the expression language sees them (timestamps
    are reached through `days_since_created`)."""
    types: dict[str, FieldType] = {}
    for column in contract_table("contacts").columns:
        if column.type is ColumnType.TIMESTAMP:
            continue
        types[column.name] = "number" if column.type is ColumnType.INTEGER else "text"
    return types


BASE_FIELDS: dict[str, FieldType] = {**contact_field_types(), **DERIVED_FIELDS}


@dataclass(frozen=True)
class InteractionSum:
    """A per-contact sum over its interactions up to as_of: `weight` for each interaction
    of one of `types` (all types when empty) younger than `within_days`, decayed by
    0.5 ** (age_days / half_life_days) when set."""

    name: str
    types: tuple[str, ...] = ()
    weight: float = 1.0
    half_life_days: float | None = None
    within_days: float | None = None

    def ibis_value(self, table: ir.Table, age_days: ir.FloatingValue) -> ir.FloatingValue:
        value: ir.FloatingValue = ibis.literal(self.weight, type="float64")
        if self.half_life_days is not None:
            value = value * ibis.literal(0.5, type="float64") ** (age_days / self.half_life_days)
        condition: ir.BooleanValue = ibis.literal(True)
        if self.types:
            condition = condition & table.type.isin(list(self.types))
        if self.within_days is not None:
            condition = condition & (age_days < self.within_days)
        result: ir.FloatingValue = ibis.ifelse(condition, value, 0.0).sum()
        return result

    def python_value(self, rows: Iterable[tuple[str, float]]) -> float:
        """`rows`: (type, age in days) of the contact's interactions up to as_of."""
        total = 0.0
        for kind, age in rows:
            if self.types and kind not in self.types:
                continue
            if self.within_days is not None and not age < self.within_days:
                continue
            value = self.weight
            if self.half_life_days is not None:
                value *= 0.5 ** (age / self.half_life_days)
            total += value
        return total


@dataclass(frozen=True)
class LastInteraction:
    """Days since the contact's latest interaction of one of `types` (missing if none)."""

    name: str
    types: tuple[str, ...]


def _days(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    seconds = end.epoch_seconds().cast("float64") - start.epoch_seconds().cast("float64")
    result: ir.FloatingValue = seconds / SECONDS_PER_DAY
    return result


def stage_index_expression(stage: ir.StringValue, stages: Sequence[str]) -> ir.IntegerValue:
    cases = [(stage == name, index) for index, name in enumerate(stages)]
    result: ir.IntegerValue = ibis.cases(*cases, else_=ibis.null("int64"))
    return result


def fields_expression(
    source: Source,
    as_of: datetime,
    *,
    sums: Sequence[InteractionSum] = (),
    lasts: Sequence[LastInteraction] = (),
    attributes: Sequence[str] = (),
    contacts: ir.Table | None = None,
) -> ir.Table:
    """One row per contact created by `as_of`: its contract columns, `created_at`, the
    derived fields, `stage_index`, `converted_at`, each `sums` and `lasts` column, and the
    custom `attributes` asked for."""
    stages = source.settings.journey_stages
    at = ibis.literal(as_of, type="timestamp")
    if contacts is None:
        contacts = source.table("contacts")
        contacts = contacts.filter(contacts.created_at <= at)

    orders = source.table("orders")
    paid = orders.filter(
        (orders.status == "paid") & (orders.amount > 0) & (orders.ordered_at <= at)
    )
    order_age = _days(paid.ordered_at, at)
    order_stats = paid.group_by("contact_id").aggregate(
        orders_count=paid.count(),
        revenue_total=paid.amount.sum(),
        revenue_365d=ibis.ifelse(order_age < REVENUE_WINDOW_DAYS, paid.amount, 0.0).sum(),
        first_order_at=paid.ordered_at.min(),
        last_order_at=paid.ordered_at.max(),
    )
    subscriptions = source.table("subscriptions")
    started = subscriptions.filter(subscriptions.started_at <= at)
    subscription_stats = started.group_by("contact_id").aggregate(
        first_subscription_at=started.started_at.min()
    )
    interactions = source.table("interactions")
    known = interactions.filter(interactions.occurred_at <= at)
    age = _days(known.occurred_at, at)
    interaction_aggregates: dict[str, ir.Value] = {
        "last_interaction_at": known.occurred_at.max(),
        "interactions_30d": ibis.ifelse(age < RECENT_INTERACTION_DAYS, 1, 0).sum(),
    }
    for spec in sums:
        interaction_aggregates[spec.name] = spec.ibis_value(known, age)
    for last in lasts:
        interaction_aggregates[f"_{last.name}_at"] = ibis.ifelse(
            known.type.isin(list(last.types)), known.occurred_at, ibis.null("timestamp")
        ).max()
    interaction_stats = known.group_by("contact_id").aggregate(**interaction_aggregates)
    changes = source.table("stage_changes")
    changed = changes.filter(changes.changed_at <= at)
    stage_stats = changed.group_by("contact_id").aggregate(
        changed_stage_index=stage_index_expression(changed.stage, stages).max()
    )

    # One SELECT over one chain of LEFT JOINs (each side keyed by a renamed id): SQLite's
    # parser has a small stack, and a projection per join nests a subquery per join.
    sides = [order_stats, subscription_stats, interaction_stats, stage_stats]
    if attributes:
        sides.append(custom_attributes(source, attributes))
    joined = contacts
    renamed = []
    for number, side in enumerate(sides):
        key = f"_key{number}"
        side = side.rename({key: "contact_id"})
        renamed.append(side)
        joined = joined.left_join(side, contacts.contact_id == side[key])
    columns = {name: joined[name] for name in contacts.columns}

    first_order_at = joined.first_order_at
    first_subscription_at = joined.first_subscription_at
    converted_at = ibis.cases(
        (first_order_at.isnull(), first_subscription_at),
        (first_subscription_at.isnull(), first_order_at),
        (first_subscription_at < first_order_at, first_subscription_at),
        else_=first_order_at,
    )
    last_index = len(stages) - 1
    is_customer = converted_at.notnull()
    stage_index = ibis.ifelse(
        is_customer, ibis.literal(last_index, type="int64"), joined.changed_stage_index
    )
    columns.update(
        {
            "orders_count": joined.orders_count.fill_null(0).cast("int64"),
            "revenue_total": joined.revenue_total.fill_null(0.0),
            "revenue_365d": joined.revenue_365d.fill_null(0.0),
            "days_since_last_order": _days(joined.last_order_at, at),
            "days_since_last_interaction": _days(joined.last_interaction_at, at),
            "days_since_created": _days(joined.created_at, at),
            "interactions_30d": joined.interactions_30d.fill_null(0).cast("int64"),
            "is_customer": is_customer,
            "converted_at": converted_at,
            "stage_index": stage_index,
            "stage": ibis.cases(
                *[(stage_index == index, name) for index, name in enumerate(stages)],
                else_=ibis.null("string"),
            ),
        }
    )
    for spec in sums:
        columns[spec.name] = joined[spec.name].fill_null(0.0)
    for last in lasts:
        columns[last.name] = _days(joined[f"_{last.name}_at"], at)
    for name in attributes:
        columns[name] = joined[name]
    return joined.select(**columns)


# Custom attributes: extra columns of a contract folder (DuckDB), the `attributes` JSON of
# the CRM's contacts (SQLite, PostgreSQL).


def attribute_names(source: Source) -> set[str]:
    """The custom attribute names the source's contacts carry."""
    if "contacts" not in source.present_tables:
        return set()
    contract_columns = set(contract_table("contacts").column_names)
    if source.engine == "duckdb":
        columns = set(source.backend.table("contacts").columns)
        return columns - contract_columns - {"attributes"}
    if source.engine == "sqlite":
        query = (
            "SELECT DISTINCT j.key AS name FROM contacts, json_each(contacts.attributes) AS j "
            "WHERE json_valid(contacts.attributes)"
        )
    elif source.engine == "postgres":
        query = "SELECT DISTINCT jsonb_object_keys(attributes::jsonb) AS name FROM contacts"
    else:
        return set()
    frame = source.backend.sql(query).execute()
    return {str(name) for name in frame["name"]} - contract_columns


def custom_attributes(source: Source, names: Sequence[str]) -> ir.Table:
    """`contact_id` and one text column per custom attribute in `names`."""
    if source.engine == "duckdb":
        raw = source.backend.table("contacts")
        present = set(raw.columns)
        columns: dict[str, ir.Value] = {"contact_id": raw.contact_id.cast("string")}
        for name in names:
            columns[name] = raw[name].cast("string") if name in present else ibis.null("string")
        return raw.select(**columns)
    quoted = []
    for name in names:
        escaped = name.replace("'", "''").replace('"', '\\"')
        alias = '"' + name.replace('"', '""') + '"'
        if source.engine == "sqlite":
            quoted.append(f"CAST(json_extract(attributes, '$.\"{escaped}\"') AS TEXT) AS {alias}")
        else:
            quoted.append(
                f"(attributes::jsonb ->> '{name.replace(chr(39), chr(39) * 2)}') AS {alias}"
            )
    query = f"SELECT contact_id, {', '.join(quoted)} FROM contacts"  # noqa: S608 - names escaped
    table = source.backend.sql(query)
    return table.select(
        contact_id=table.contact_id.cast("string"),
        **{name: table[name].cast("string") for name in names},
    )


def field_types(source: Source, names: Iterable[str] = ()) -> dict[str, FieldType]:
    """Every field rules may use on this source: the contract's contact columns, the
    derived fields, and custom attributes (looked up only when `names` asks for a field
    that is none of the others)."""
    types = dict(BASE_FIELDS)
    if set(names) - set(types):
        for name in attribute_names(source):
            types.setdefault(name, "any")
    return types


# One contact, in Python.


def _days_between(start: datetime | None, end: datetime) -> float | None:
    if start is None:
        return None
    return (end - start).total_seconds() / SECONDS_PER_DAY


def fields_of_one(
    contact: Mapping[str, Any],
    *,
    orders: Sequence[Mapping[str, Any]],
    subscriptions: Sequence[Mapping[str, Any]],
    interactions: Sequence[Mapping[str, Any]],
    stage_changes: Sequence[Mapping[str, Any]],
    as_of: datetime,
    stages: Sequence[str],
    sums: Sequence[InteractionSum] = (),
    lasts: Sequence[LastInteraction] = (),
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The same fields as `fields_expression`, for one contact from its own rows
    (timestamps naive UTC, money as float). Rows after `as_of` are ignored."""
    values: dict[str, Any] = {
        name: contact.get(name) for name in contact_field_types() if name in contact
    }
    values["contact_id"] = contact["contact_id"]
    values["created_at"] = contact["created_at"]
    paid = [
        o
        for o in orders
        if (o.get("status") or "paid") == "paid"
        and float(o["amount"]) > 0
        and o["ordered_at"] <= as_of
    ]
    values["orders_count"] = len(paid)
    values["revenue_total"] = float(sum(float(o["amount"]) for o in paid))
    values["revenue_365d"] = float(
        sum(
            float(o["amount"])
            for o in paid
            if (as_of - o["ordered_at"]).total_seconds() / SECONDS_PER_DAY < REVENUE_WINDOW_DAYS
        )
    )
    first_order = min((o["ordered_at"] for o in paid), default=None)
    last_order = max((o["ordered_at"] for o in paid), default=None)
    first_subscription = min(
        (s["started_at"] for s in subscriptions if s["started_at"] <= as_of), default=None
    )
    converted = [t for t in (first_order, first_subscription) if t is not None]
    values["converted_at"] = min(converted) if converted else None
    known = [i for i in interactions if i["occurred_at"] <= as_of]
    ages = [
        (str(i["type"]), (as_of - i["occurred_at"]).total_seconds() / SECONDS_PER_DAY)
        for i in known
    ]
    last_interaction = max((i["occurred_at"] for i in known), default=None)
    values["days_since_last_order"] = _days_between(last_order, as_of)
    values["days_since_last_interaction"] = _days_between(last_interaction, as_of)
    values["days_since_created"] = _days_between(contact["created_at"], as_of)
    values["interactions_30d"] = sum(1 for _, age in ages if age < RECENT_INTERACTION_DAYS)
    values["is_customer"] = values["converted_at"] is not None
    indexes = [
        list(stages).index(c["stage"])
        for c in stage_changes
        if c["changed_at"] <= as_of and c["stage"] in stages
    ]
    index: int | None = max(indexes) if indexes else None
    if values["is_customer"]:
        index = len(stages) - 1
    values["stage_index"] = index
    values["stage"] = stages[index] if index is not None else None
    for spec in sums:
        values[spec.name] = spec.python_value(ages)
    for last in lasts:
        latest = max((i["occurred_at"] for i in known if i["type"] in last.types), default=None)
        values[last.name] = _days_between(latest, as_of)
    for name, value in (attributes or {}).items():
        values[name] = None if value is None else str(value)
    return values
