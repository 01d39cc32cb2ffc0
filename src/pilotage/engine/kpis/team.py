"""Sales-team KPIs (kpis.md, "Sales team"): company-wide, or per rep with `--by owner`
(`rep_id` of deals and interactions; `owner_id` of contacts for the lead KPIs)."""

from __future__ import annotations

import ibis.expr.types as ir

from pilotage.engine.context import (
    BY_VALUE,
    Dimension,
    KpiContext,
    KpiError,
    additive,
    count_if,
    exact_median,
    finish,
    keys,
    null_float,
    with_ratio,
)
from pilotage.engine.conversions import seconds_between

DAY_SECONDS = 86_400.0


def _by_rep(table: ir.Table, by: Dimension | None) -> ir.Table:
    if by is None:
        return table
    if by != "owner":
        raise KpiError(f"deals and interactions break down by owner (rep), not by {by}")
    return table.mutate(**{BY_VALUE: table.rep_id})


def _closed_deals(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Deals won or lost, with the period of their `closed_at` (read by six KPIs)."""

    def build() -> ir.Table:
        deals = ctx.table("deals")
        closed = deals.filter(deals.status.isin(["won", "lost"]) & deals.closed_at.notnull())
        return ctx.bucket(_by_rep(closed, by), "closed_at")

    return ctx.reuse(f"closed_deals:{by}", build)


def _won_deals(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    closed = _closed_deals(ctx, by)
    return closed.filter(closed.status == "won")


def deals_won(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    closed = _closed_deals(ctx, by)
    return finish(additive(closed, by, count_if(closed.status == "won")), by)


def deals_lost(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    closed = _closed_deals(ctx, by)
    return finish(additive(closed, by, count_if(closed.status == "lost")), by)


def win_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """won / (won + lost) among deals closed in P."""
    closed = _closed_deals(ctx, by)
    grouped = closed.group_by(keys(by)).aggregate(
        numerator=count_if(closed.status == "won"), denominator=closed.count()
    )
    return finish(with_ratio(grouped), by)


def revenue_won(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    won = _won_deals(ctx, by)
    return finish(additive(won, by, won.amount.sum()), by)


def average_deal_size(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Won amount / won deals with an amount (a won deal without amount is not a 0)."""
    won = _won_deals(ctx, by)
    grouped = won.group_by(keys(by)).aggregate(
        numerator=won.amount.sum(), denominator=won.amount.count()
    )
    return finish(with_ratio(grouped.mutate(numerator=grouped.numerator.fill_null(0.0))), by)


def median_sales_cycle_days(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Median of closed_at - created_at (exact days) of the deals won in P."""
    won = _won_deals(ctx, by)
    won = won.mutate(cycle_days=seconds_between(won.created_at, won.closed_at) / DAY_SECONDS)
    medians = exact_median(won, keys(by), "cycle_days")
    return finish(medians.mutate(numerator=null_float(), denominator=null_float()), by)


def activities(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Interactions made by a rep (`rep_id` set) in P."""
    interactions = ctx.table("interactions")
    made = _by_rep(interactions.filter(interactions.rep_id.notnull()), by)
    touched = ctx.bucket(made, "occurred_at")
    return finish(additive(touched, by, touched.count()), by)
