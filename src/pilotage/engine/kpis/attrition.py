"""Customers kept and lost (kpis.md, "Customers kept and lost (attrition)").

Order activity: a customer is active at instant s iff it has a paid order at some t with
s - D <= t < s. Subscription activity: active at s iff some subscription has
started_at < s <= ended_at (open when ended_at is empty). The opening base S of a period
is the customers active at P.start; churned = members of S not active at P.end. Customers
acquired during P are in neither (ChartMogul's start-of-period convention).
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from pilotage.engine.context import (
    BY_VALUE,
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
from pilotage.engine.kpis.acquisition import after_conversion
from pilotage.engine.periods import CASE_PERIODS

DAY_SECONDS = 86_400.0


def _order_activity(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """One row per (period, member of S): `period`, `contact_id`, `retained` (still
    active at P.end), and `by_value`."""
    members = ctx.shared("order_activity", lambda: _order_members(ctx))
    return ctx.with_contact_dimension(members, by)


def _order_members(ctx: KpiContext) -> ir.Table:
    if len(ctx.periods) <= CASE_PERIODS:
        return _order_members_by_contact(ctx)
    orders = paid_orders(ctx).select("contact_id", "ordered_at")
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


def _order_members_by_contact(ctx: KpiContext) -> ir.Table:
    """`_order_members` for few periods: one small selection per period of the
    per-customer table `_order_customers`. The range join of orders against periods
    shifted by D matched each order with every period whose window holds it (D = 365 days
    covers four quarters) and deduplicated the pairs; this reads each order once."""
    per_customer = _order_customers(ctx)
    members = [
        per_customer.filter(per_customer[f"at_start_{index}"] == 1).select(
            period=ibis.literal(period.label),
            contact_id=per_customer.contact_id,
            retained=per_customer[f"at_end_{index}"] == 1,
        )
        for index, period in enumerate(ctx.periods)
    ]
    return balanced_union(members)


def _order_customers(ctx: KpiContext) -> ir.Table:
    """For few periods, one row per customer with a paid order, from one group-by of the
    paid orders: `first_order_at`, and per period (`_<index>` of `ctx.periods`) three
    flags (1 or 0): `at_start` (a paid order in [start - D, start)), `at_end` (one in
    [end - D, end)) and `bought` (one in [start, end)). Read by the order activity and by
    the returning customer rate."""
    return ctx.shared("order_customers", lambda: _order_customer_flags(ctx))


def _order_customer_flags(ctx: KpiContext) -> ir.Table:
    orders = paid_orders(ctx).select("contact_id", "ordered_at")
    shift = timedelta(days=ctx.settings.inactivity_days)
    instant = orders.ordered_at

    def within(since: datetime, until: datetime) -> ir.IntegerValue:
        low = ibis.literal(since, type="timestamp")
        high = ibis.literal(until, type="timestamp")
        return ibis.ifelse((instant >= low) & (instant < high), 1, 0).max()

    flags: dict[str, ir.Value] = {"first_order_at": instant.min()}
    for index, period in enumerate(ctx.periods):
        flags[f"at_start_{index}"] = within(period.start_utc - shift, period.start_utc)
        flags[f"at_end_{index}"] = within(period.end_utc - shift, period.end_utc)
        flags[f"bought_{index}"] = within(period.start_utc, period.end_utc)
    return orders.group_by("contact_id").aggregate(**flags)


def _per_period_rows(
    ctx: KpiContext,
    table: ir.Table,
    by: Dimension | None,
    numerators: list[ir.BooleanValue],
    denominators: list[ir.BooleanValue],
) -> ir.Table:
    """A ratio KPI table from per-row conditions, one numerator and one denominator per
    period of `ctx.periods`: one pass over `table` with two counts per period, then one
    row per period (and breakdown value). A period without any row gets 0 / 0, which is
    what an absent row is filled with; so does every period when `table` is empty."""
    counts: dict[str, ir.Value] = {}
    for index, (numerator, denominator) in enumerate(zip(numerators, denominators, strict=True)):
        counts[f"numerator_{index}"] = count_if(numerator).fill_null(0)
        counts[f"denominator_{index}"] = count_if(denominator).fill_null(0)
    group = [BY_VALUE] if by is not None else []
    per_group = table.group_by(group).aggregate(**counts) if group else table.aggregate(**counts)
    rows = [
        per_group.select(
            *group,
            period=ibis.literal(period.label, type="string"),
            numerator=per_group[f"numerator_{index}"],
            denominator=per_group[f"denominator_{index}"],
        )
        for index, period in enumerate(ctx.periods)
    ]
    return finish(with_ratio(balanced_union(rows)), by)


def _subscription_activity(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Like `_order_activity`, with contractual activity (read by two KPIs)."""
    return ctx.reuse(f"subscription_activity:{by}", lambda: _subscription_members(ctx, by))


def _subscription_members(ctx: KpiContext, by: Dimension | None) -> ir.Table:
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
    if len(ctx.periods) <= CASE_PERIODS:
        return _returning_by_customer(ctx, by)
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


def _returning_by_customer(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """`returning_customer_rate` for few periods, from the per-customer flags of the
    order activity (`_order_customers`) instead of the buyers of each period joined with
    each customer's first order. Customers who bought in no period are left out, as they
    are from the buyers."""
    customers = _order_customers(ctx)
    bought = [customers[f"bought_{index}"] == 1 for index in range(len(ctx.periods))]
    customers = customers.filter(functools.reduce(operator.or_, bought))
    customers = ctx.with_contact_dimension(customers, by)
    bought = [customers[f"bought_{index}"] == 1 for index in range(len(ctx.periods))]
    returning = [
        flag & (customers.first_order_at < ibis.literal(period.start_utc, type="timestamp"))
        for flag, period in zip(bought, ctx.periods, strict=True)
    ]
    return _per_period_rows(ctx, customers, by, returning, bought)


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
    if len(ctx.periods) <= CASE_PERIODS:
        return _repeat_by_period_end(ctx, customers, by)
    bounds = ctx.periods_table.select("period", "period_end")
    joined = customers.inner_join(bounds, customers.converted_at < bounds.period_end)
    grouped = joined.group_by(keys(by)).aggregate(
        numerator=count_if(joined.second_order_at < joined.period_end),
        denominator=joined.count(),
    )
    return finish(with_ratio(grouped), by)


def _repeat_by_period_end(ctx: KpiContext, customers: ir.Table, by: Dimension | None) -> ir.Table:
    """`repeat_purchase_rate` for few periods: one pass over the customers with two
    conditional counts per period end, instead of the customers x periods range join
    (each customer matched every period ending after its conversion). Customers converted
    after the last period's end are in no period, as in the join."""
    last_end = ibis.literal(max(period.end_utc for period in ctx.periods), type="timestamp")
    known = customers.filter(customers.converted_at < last_end)
    converted: list[ir.BooleanValue] = []
    repeated: list[ir.BooleanValue] = []
    for period in ctx.periods:
        end = ibis.literal(period.end_utc, type="timestamp")
        converted.append(known.converted_at < end)
        repeated.append((known.converted_at < end) & (known.second_order_at < end))
    return _per_period_rows(ctx, known, by, repeated, converted)


def early_churn_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Among customers converted in P, the share with no further paid order in
    (converted_at, converted_at + D]."""
    converted = ctx.conversions()
    # The first paid order after the conversion, from the per-customer table that ROAS and
    # ROI also read (one join of the orders with the conversions for the three).
    after = after_conversion(ctx)
    customers = converted.left_join(after, "contact_id").select(converted, after.next_order_at)
    customers = ctx.bucket(ctx.with_contact_dimension(customers, by), "converted_at")
    window = ctx.settings.inactivity_days * DAY_SECONDS
    stayed = customers.next_order_at.notnull() & (
        seconds_between(customers.converted_at, customers.next_order_at) <= window
    )
    grouped = customers.group_by(keys(by)).aggregate(
        numerator=customers.count() - count_if(stayed), denominator=customers.count()
    )
    return finish(with_ratio(grouped), by)
