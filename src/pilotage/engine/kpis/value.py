"""Value KPIs (kpis.md, "Value"): revenue, orders, order value, CLV, payback.

By channel and campaign, orders are classified by their customer's acquisition channel
and campaign (`contacts.channel`, `contacts.campaign_id`: the customers that churn breaks
down by), not by where the purchase happened. By owner, by the order's rep (`rep_id`):
kpis.md ("Sales team") reads `--by owner` as the `rep_id` of orders, so a rep's revenue
is what that rep sold. Where kpis.md multiplies by the gross margin m, the orders' own
`margin` is used when given, else amount x m (data-contract.md, "orders"): with no
margins in the data the two are the same.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from pilotage.engine.context import (
    BY_VALUE,
    Dimension,
    KpiContext,
    as_float,
    keys,
    null_float,
    ratio,
    ratio_result,
    stack,
)
from pilotage.engine.conversions import paid_orders
from pilotage.engine.kpis.acquisition import (
    cac_value,
    customers_per_period,
    order_margin,
    spend_per_period,
)
from pilotage.engine.kpis.attrition import churn_parts


def _paid_orders_in_periods(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    orders = paid_orders(ctx)
    by_rep = {BY_VALUE: orders.rep_id} if by == "owner" else {}
    orders = orders.select(
        "contact_id",
        "ordered_at",
        "amount",
        order_margin=order_margin(orders, ctx.settings.gross_margin),
        **by_rep,
    )
    if not by_rep:
        orders = ctx.with_contact_dimension(orders, by)
    return ctx.bucket(orders, "ordered_at")


def value_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Per period: `revenue`, `orders`, `margin` and `buyers` (customers with a paid order),
    computed once per computation and breakdown (revenue, orders, order value, ARPC and
    the CLV KPIs read it)."""
    return ctx.shared(f"value_parts:{by}", lambda: _value_parts(ctx, by))


def _value_parts(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    orders = _paid_orders_in_periods(ctx, by)
    return orders.group_by(keys(by)).aggregate(
        revenue=orders.amount.sum(),
        orders=orders.count(),
        margin=orders.order_margin.sum(),
        buyers=orders.contact_id.nunique(),
    )


def _additive_part(parts: ir.Table, by: Dimension | None, measure: str) -> ir.Table:
    """An additive KPI (`additive`: a null sum is 0) from a column of the shared parts."""
    return parts.select(
        *keys(by),
        value=as_float(parts[measure]).fill_null(0.0),
        numerator=null_float(),
        denominator=null_float(),
    )


def revenue(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _additive_part(value_parts(ctx, by), by, "revenue")


def orders(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    return _additive_part(value_parts(ctx, by), by, "orders")


def average_order_value(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = value_parts(ctx, by)
    return ratio_result(parts, by, parts.revenue, parts.orders)


def revenue_per_customer(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = value_parts(ctx, by)
    return ratio_result(parts, by, parts.revenue, parts.buyers)


def _clv_parts(ctx: KpiContext, by: Dimension | None, *, with_cac: bool) -> ir.Table:
    """Per period: `margin`, `buyers`, `churned`, `base` (and `spend`, `customers`)."""
    return ctx.shared(f"clv_parts:{by}:{with_cac}", lambda: _stacked_clv_parts(ctx, by, with_cac))


def _stacked_clv_parts(ctx: KpiContext, by: Dimension | None, with_cac: bool) -> ir.Table:
    tables = [value_parts(ctx, by), churn_parts(ctx, by)]
    measures = ["margin", "buyers", "churned", "base"]
    if with_cac:
        tables += [spend_per_period(ctx, by), customers_per_period(ctx, by)]
        measures += ["spend", "customers"]
    return stack(tables, keys(by), measures)


# The composite KPIs are written as expressions over the summed parts, in one projection:
# each intermediate column would add a level of subquery, and SQLite refuses SQL nested
# beyond its parser's depth.
def _margin_per_customer(parts: ir.Table) -> ir.FloatingValue:
    return ratio(parts.margin.fill_null(0.0), parts.buyers.fill_null(0.0))


def _churn(parts: ir.Table) -> ir.FloatingValue:
    return ratio(parts.churned.fill_null(0.0), parts.base.fill_null(0.0))


def _clv(parts: ir.Table) -> ir.FloatingValue:
    # The formula explodes as churn nears 0: a churn of exactly 0 gives null, small churns
    # give huge values, on purpose (kpis.md: show the trap, don't hide it).
    return ratio(_margin_per_customer(parts), _churn(parts))


def historical_clv(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """revenue_per_customer x m / customer_churn_rate."""
    parts = _clv_parts(ctx, by, with_cac=False)
    return ratio_result(parts, by, _margin_per_customer(parts), _churn(parts))


def ltv_to_cac(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = _clv_parts(ctx, by, with_cac=True)
    return ratio_result(parts, by, _clv(parts), cac_value(parts, by))


def cac_payback_months(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """cac / (revenue_per_customer / months_in(P) x m)."""
    parts = _clv_parts(ctx, by, with_cac=True)
    # Months of each period as a literal CASE on its label (a join would nest deeper).
    months = ibis.cases(*[(parts.period == p.label, p.months) for p in ctx.periods])
    return ratio_result(parts, by, cac_value(parts, by), _margin_per_customer(parts) / months)
