"""Acquisition cost and return (kpis.md, "Acquisition cost and return").

Breakdowns: spend is classified by its own `channel` / `campaign_id`. New customers by
channel are classified by their acquisition channel (`contacts.channel`, credit 1), as
kpis.md defines CAC by channel; by campaign they are the attribution credits of the
model `settings.attribution_model` (attribution.md; `pilotage.attribution.credits`), so
the `(direct)` share of customers has no campaign spend.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from pilotage.engine.context import (
    BY_KEYS,
    BY_VALUE,
    Dimension,
    KpiContext,
    KpiError,
    additive,
    finish,
    keys,
    null_float,
    ratio,
    ratio_result,
    stack,
)
from pilotage.engine.conversions import paid_orders, seconds_between

DAY_SECONDS = 86_400.0


def spend_rows(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Spend rows booked in a period, with `period` (and `by_value`)."""
    spend = ctx.table("spend")
    if by == "owner":
        raise KpiError("spend has no owner: acquisition KPIs break down by channel or campaign")
    if by is not None:
        spend = spend.mutate(**{BY_VALUE: spend[BY_KEYS[by]]})
    return ctx.bucket_date(spend, "spent_on")


def spend_per_period(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    rows = spend_rows(ctx, by)
    return rows.group_by(keys(by)).aggregate(spend=rows.amount.sum())


def acquisition_spend(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    rows = spend_rows(ctx, by)
    return finish(additive(rows, by, rows.amount.sum()), by)


def attributed_customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """`contact_id`, `converted_at`, `credit` (and `by_value`): each customer's conversion
    and the share of it a channel or campaign gets (1 without breakdown or by channel)."""
    if by == "owner":
        raise KpiError("spend has no owner: acquisition KPIs break down by channel or campaign")
    # Shared: by campaign these are the attribution credits, the costliest part of CAC,
    # ROAS, ROI, LTV/CAC and payback.
    return ctx.shared(f"attributed_customers:{by}", lambda: _attributed_customers(ctx, by))


def _attributed_customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    if by == "campaign":
        # Imported here: attribution builds on the engine, not the other way round.
        from pilotage.attribution.credits import credits as attribution_credits

        credits = attribution_credits(
            ctx.source,
            ctx.settings.attribution_model,
            "campaign",
            periods=list(ctx.periods),
            as_of=ctx.as_of if ctx.cut_at_as_of else None,
        )
        return credits.select(
            "contact_id",
            "converted_at",
            credit=credits.credit.cast("float64"),
            **{BY_VALUE: credits.campaign_id},
        )
    converted = ctx.conversions().mutate(credit=ibis.literal(1.0))
    return ctx.with_contact_dimension(converted, by)


def customers_per_period(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    attributed = ctx.bucket(attributed_customers(ctx, by), "converted_at")
    return attributed.group_by(keys(by)).aggregate(customers=attributed.credit.sum())


def cac_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Per period: `spend` and (attributed) new `customers` (null when absent)."""
    return stack(
        [spend_per_period(ctx, by), customers_per_period(ctx, by)],
        keys(by),
        ["spend", "customers"],
    )


def attributable_spend(parts: ir.Table, by: Dimension | None) -> ir.FloatingValue:
    """The spend CAC, ROAS and ROI divide, from a table with a `spend` column (null
    meaning none: 0). By campaign, none at all for `(direct)`, the customers no campaign
    touched (no campaign spend brought them), nor for spend without a campaign (no
    campaign to credit with customers or revenue): their ratios are null, as in the
    attribution report, where 0 and -100 % would read as free customers and wasted
    spend. That spend stays in acquisition_spend by campaign."""
    spend = parts.spend.fill_null(0.0)
    if by != "campaign":
        return spend
    # Imported here: attribution builds on the engine, not the other way round.
    from pilotage.attribution.paths import DIRECT

    key = parts[BY_VALUE]
    return ibis.ifelse(key.isnull() | (key == DIRECT), null_float(), spend)


def cac_value(parts: ir.Table, by: Dimension | None) -> ir.FloatingValue:
    """CAC from a table with `spend` and `customers` columns (nulls meaning none)."""
    return ratio(attributable_spend(parts, by), parts.customers.fill_null(0.0))


def cac(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = cac_parts(ctx, by)
    return ratio_result(parts, by, attributable_spend(parts, by), parts.customers.fill_null(0.0))


def order_margin(orders: ir.Table, gross_margin: float) -> ir.FloatingValue:
    """The order's gross margin: its `margin`, else amount x the gross_margin setting."""
    return orders.margin.fill_null(orders.amount * gross_margin)


def window_value(ctx: KpiContext) -> ir.Table:
    """Per customer: paid-order `revenue` and `margin` in [converted_at, converted_at + R)
    (shared by ROAS and ROI; null for a customer whose orders after its conversion all
    fall after the window, absent for one without any)."""
    after = after_conversion(ctx)
    return after.select("contact_id", "revenue", "margin")


def after_conversion(ctx: KpiContext) -> ir.Table:
    """Per customer with a paid order at or after its conversion: `revenue` and `margin`
    of its paid orders in [converted_at, converted_at + R) (null when none), and
    `next_order_at`, its first paid order after converted_at (null when none): one join
    of the paid orders with the conversions for ROAS, ROI and early churn."""
    return ctx.shared("after_conversion", lambda: _after_conversion(ctx))


def _after_conversion(ctx: KpiContext) -> ir.Table:
    converted = ctx.conversions()
    orders = paid_orders(ctx)
    orders = orders.select(
        "ordered_at",
        "amount",
        order_contact_id=orders.contact_id,
        order_margin=order_margin(orders, ctx.settings.gross_margin),
    )
    joined = converted.inner_join(
        orders,
        [
            converted.contact_id == orders.order_contact_id,
            orders.ordered_at >= converted.converted_at,
        ],
    )
    window = ctx.settings.revenue_window_days * DAY_SECONDS
    in_window = seconds_between(joined.converted_at, joined.ordered_at) < window
    later = joined.ordered_at > joined.converted_at
    return joined.group_by("contact_id").aggregate(
        revenue=ibis.ifelse(in_window, joined.amount, ibis.null("float64")).sum(),
        margin=ibis.ifelse(in_window, joined.order_margin, ibis.null("float64")).sum(),
        next_order_at=ibis.ifelse(later, joined.ordered_at, ibis.null("timestamp")).min(),
    )


def return_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Per period: `spend`, attributed `revenue` A and attributed `margin` (A x m), null
    when absent (shared by ROAS and ROI)."""
    return ctx.shared(f"return_parts:{by}", lambda: _return_parts(ctx, by))


def _return_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    attributed = ctx.bucket(attributed_customers(ctx, by), "converted_at")
    value = window_value(ctx)
    joined = attributed.left_join(value, "contact_id").select(
        attributed, value.revenue, value.margin
    )
    returns = joined.group_by(keys(by)).aggregate(
        revenue=(joined.credit * joined.revenue.fill_null(0.0)).sum(),
        margin=(joined.credit * joined.margin.fill_null(0.0)).sum(),
    )
    return stack([spend_per_period(ctx, by), returns], keys(by), ["spend", "revenue", "margin"])


def roas(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = return_parts(ctx, by)
    return ratio_result(parts, by, parts.revenue.fill_null(0.0), attributable_spend(parts, by))


def roi(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = return_parts(ctx, by)
    spend = attributable_spend(parts, by)
    return ratio_result(parts, by, parts.margin.fill_null(0.0) - spend, spend)
