"""Customers kept and lost (kpis.md, "Customers kept and lost (attrition)").

Order activity: a customer is active at instant s iff it has a paid order at some t with
s - D <= t < s. Subscription activity: active at s iff some subscription has
started_at < s <= ended_at (open when ended_at is empty). The opening base S of a period
is the customers active at P.start; churned = members of S not active at P.end. Customers
acquired during P are in neither (ChartMogul's start-of-period convention).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from pilotage.engine.context import (
    Dimension,
    KpiContext,
    additive,
    balanced_union,
    count_if,
    finish,
    keys,
    with_ratio,
)
from pilotage.engine.conversions import paid_orders, seconds_between
from pilotage.engine.periods import CASE_PERIODS

DAY_SECONDS = 86_400.0


def _order_activity(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """One row per (period, member of S): `period`, `contact_id`, `retained` (still
    active at P.end), and `by_value`."""
    members = ctx.shared("order_activity", lambda: _order_members(ctx))
    return ctx.with_contact_dimension(members, by)


def _order_members(ctx: KpiContext) -> ir.Table:
    orders = paid_orders(ctx).select("contact_id", "ordered_at")
    if len(ctx.periods) <= CASE_PERIODS:
        return _order_members_by_contact(ctx, orders)
    bounds = ctx.periods_table
    at_start = orders.inner_join(
        bounds,
        [
            orders.ordered_at >= bounds.start_minus_inactivity,
            orders.ordered_at < bounds.period_start,
        ],
    )
    base = at_start.select("period", "contact_id").distinct()
    at_end = orders.inner_join(
        bounds,
        [
            orders.ordered_at >= bounds.end_minus_inactivity,
            orders.ordered_at < bounds.period_end,
        ],
    )
    active_at_end = at_end.select("period", "contact_id").distinct().mutate(active_at_end=True)
    return _with_retained(ctx, base, active_at_end, None)


def _order_members_by_contact(ctx: KpiContext, orders: ir.Table) -> ir.Table:
    """`_order_members` for few periods: one group-by of the paid orders per contact, with
    two conditional aggregates per period (a paid order in [start - D, start), one in
    [end - D, end)), then one small selection per period of that per-customer table.
    The range join of orders against periods shifted by D matched each order with every
    period whose window holds it (D = 365 days covers four quarters) and deduplicated
    the pairs; this reads each order once."""
    shift = timedelta(days=ctx.settings.inactivity_days)
    instant = orders.ordered_at

    def active(at: datetime) -> ir.IntegerValue:
        since = ibis.literal(at - shift, type="timestamp")
        until = ibis.literal(at, type="timestamp")
        return ibis.ifelse((instant >= since) & (instant < until), 1, 0).max()

    flags: dict[str, ir.Value] = {}
    for index, period in enumerate(ctx.periods):
        flags[f"at_start_{index}"] = active(period.start_utc)
        flags[f"at_end_{index}"] = active(period.end_utc)
    per_customer = orders.group_by("contact_id").aggregate(**flags)
    members = [
        per_customer.filter(per_customer[f"at_start_{index}"] == 1).select(
            period=ibis.literal(period.label),
            contact_id=per_customer.contact_id,
            retained=per_customer[f"at_end_{index}"] == 1,
        )
        for index, period in enumerate(ctx.periods)
    ]
    return balanced_union(members)


def _subscription_activity(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    subscriptions = ctx.table("subscriptions").select("contact_id", "started_at", "ended_at")
    bounds = ctx.periods_table

    def active_at(instant: ir.TimestampValue) -> list[ir.BooleanValue]:
        return [
            subscriptions.started_at < instant,
            subscriptions.ended_at.isnull() | (subscriptions.ended_at >= instant),
        ]

    base = (
        subscriptions.inner_join(bounds, active_at(bounds.period_start))
        .select("period", "contact_id")
        .distinct()
    )
    active_at_end = (
        subscriptions.inner_join(bounds, active_at(bounds.period_end))
        .select("period", "contact_id")
        .distinct()
        .mutate(active_at_end=True)
    )
    return _with_retained(ctx, base, active_at_end, by)


def _with_retained(
    ctx: KpiContext, base: ir.Table, active_at_end: ir.Table, by: Dimension | None
) -> ir.Table:
    joined = base.left_join(active_at_end, ["period", "contact_id"]).select(
        base.period, base.contact_id, retained=active_at_end.active_at_end.fill_null(False)
    )
    return ctx.with_contact_dimension(joined, by)


def _rates(members: ir.Table, by: Dimension | None, *, churn: bool) -> ir.Table:
    retained = count_if(members.retained)
    grouped = members.group_by(keys(by)).aggregate(
        numerator=members.count() - retained if churn else retained,
        denominator=members.count(),
    )
    return finish(with_ratio(grouped), by)


def active_customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    members = _order_activity(ctx, by)
    return finish(additive(members, by, members.count()), by)


def churned_customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    members = _order_activity(ctx, by)
    return finish(additive(members, by, count_if(~members.retained)), by)


def customer_churn_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _rates(_order_activity(ctx, by), by, churn=True)


def customer_retention_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _rates(_order_activity(ctx, by), by, churn=False)


def subscription_churn_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _rates(_subscription_activity(ctx, by), by, churn=True)


def subscription_retention_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _rates(_subscription_activity(ctx, by), by, churn=False)


def churn_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Per period: `churned` and `base` (|S|) of order activity, for composite KPIs."""
    members = _order_activity(ctx, by)
    return members.group_by(keys(by)).aggregate(
        churned=members.count() - count_if(members.retained), base=members.count()
    )


def gross_mrr_churn_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """MRR at P.start of the subscriptions that end in P / MRR at P.start."""
    subscriptions = ctx.with_contact_dimension(ctx.table("subscriptions"), by)
    bounds = ctx.periods_table
    running = subscriptions.inner_join(
        bounds,
        [
            subscriptions.started_at < bounds.period_start,
            subscriptions.ended_at.isnull() | (subscriptions.ended_at >= bounds.period_start),
        ],
    )
    ended = running.ended_at.notnull() & (running.ended_at < running.period_end)
    grouped = running.group_by(keys(by)).aggregate(
        numerator=ibis.ifelse(ended, running.mrr, 0.0).sum(),
        denominator=running.mrr.sum(),
    )
    return finish(with_ratio(grouped), by)


def _buyers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """(period, contact_id) of every customer with a paid order in P, with `by_value`."""
    orders = ctx.bucket(paid_orders(ctx).select("contact_id", "ordered_at"), "ordered_at")
    buyers = orders.select("period", "contact_id").distinct()
    return ctx.with_contact_dimension(buyers, by)


def returning_customer_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Among customers with a paid order in P, the share with a paid order before P."""
    orders = paid_orders(ctx)
    first = orders.group_by("contact_id").aggregate(first_order_at=orders.ordered_at.min())
    buyers = _buyers(ctx, by)
    bounds = ctx.periods_table.select("period", "period_start")
    joined = (
        buyers.inner_join(first, "contact_id")
        .select(buyers, first.first_order_at)
        .inner_join(bounds, "period")
    )
    grouped = joined.group_by(keys(by)).aggregate(
        numerator=count_if(joined.first_order_at < joined.period_start),
        denominator=joined.count(),
    )
    return finish(with_ratio(grouped), by)


def repeat_purchase_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Among customers converted before P.end, the share with >= 2 paid orders before P.end."""
    orders = paid_orders(ctx).select("contact_id", "ordered_at")
    ranked = orders.mutate(
        order_rank=ibis.row_number().over(group_by="contact_id", order_by="ordered_at")
    )
    second = ranked.filter(ranked.order_rank == 1).select(
        "contact_id", second_order_at=ranked.ordered_at
    )
    converted = ctx.conversions()
    customers = converted.left_join(second, "contact_id").select(converted, second.second_order_at)
    customers = ctx.with_contact_dimension(customers, by)
    bounds = ctx.periods_table.select("period", "period_end")
    joined = customers.inner_join(bounds, customers.converted_at < bounds.period_end)
    grouped = joined.group_by(keys(by)).aggregate(
        numerator=count_if(joined.second_order_at < joined.period_end),
        denominator=joined.count(),
    )
    return finish(with_ratio(grouped), by)


def early_churn_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Among customers converted in P, the share with no further paid order in
    (converted_at, converted_at + D]."""
    converted = ctx.conversions()
    orders = paid_orders(ctx)
    orders = orders.select(order_contact_id=orders.contact_id, ordered_at=orders.ordered_at)
    later = converted.inner_join(
        orders,
        [
            converted.contact_id == orders.order_contact_id,
            orders.ordered_at > converted.converted_at,
        ],
    )
    next_orders = later.group_by("contact_id").aggregate(next_order_at=later.ordered_at.min())
    customers = converted.left_join(next_orders, "contact_id").select(
        converted, next_orders.next_order_at
    )
    customers = ctx.bucket(ctx.with_contact_dimension(customers, by), "converted_at")
    window = ctx.settings.inactivity_days * DAY_SECONDS
    stayed = customers.next_order_at.notnull() & (
        seconds_between(customers.converted_at, customers.next_order_at) <= window
    )
    grouped = customers.group_by(keys(by)).aggregate(
        numerator=customers.count() - count_if(stayed), denominator=customers.count()
    )
    return finish(with_ratio(grouped), by)
