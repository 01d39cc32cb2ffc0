"""Funnel and conversion KPIs (kpis.md, "Funnel and conversion")."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from pilotage.engine.context import (
    BY_KEYS,
    BY_VALUE,
    Dimension,
    KpiContext,
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


def new_leads(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Contacts created in P."""
    created = ctx.bucket(ctx.contacts(by), "created_at")
    return finish(additive(created, by, created.count()), by)


def leads_assigned(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Contacts created in P that have a sales rep in charge (`owner_id`)."""
    contacts = ctx.contacts(by)
    created = ctx.bucket(contacts.filter(contacts.owner_id.notnull()), "created_at")
    return finish(additive(created, by, created.count()), by)


def customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Every customer once: `contact_id`, `converted_at` (and `by_value`)."""
    return ctx.with_contact_dimension(ctx.conversions(), by)


def new_customers(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Contacts whose (first) conversion is in P; reactivations are not new."""
    converted = ctx.bucket(customers(ctx, by), "converted_at")
    return finish(additive(converted, by, converted.count()), by)


def _cohort_members(ctx: KpiContext) -> ir.Table:
    """Contacts created in a period, once per computation (the funnel and team KPIs and
    every breakdown read it): `contact_id`, `period`, the breakdown columns, `owner_id`,
    `converted_at`, `delay_seconds` = max(0, converted_at - created_at) and
    `converted_in_window` = converted with a delay < W."""
    contacts = ctx.table("contacts")
    contacts = contacts.select(
        "contact_id", "created_at", *dict.fromkeys([*BY_KEYS.values(), "owner_id"])
    )
    # The contacts of the periods first, then their conversion: one join of the rows kept,
    # computed in one projection (a single intermediate table).
    created = ctx.bucket(contacts, "created_at")
    converted = ctx.conversions()
    seconds = seconds_between(created.created_at, converted.converted_at)
    delay = ibis.ifelse(seconds < 0, 0.0, seconds)
    window = ctx.settings.conversion_window_days * DAY_SECONDS
    in_window = converted.converted_at.notnull() & (delay < window)
    return created.left_join(converted, "contact_id").select(
        created,
        converted.converted_at,
        delay_seconds=delay,
        converted_in_window=in_window,
    )


def _cohort(ctx: KpiContext, by: Dimension | None, *, assigned_only: bool) -> ir.Table:
    """Contacts created in P (with a rep in charge when `assigned_only`), with `by_value`
    and the columns of `_cohort_members`."""
    cohort = ctx.shared("cohort", lambda: _cohort_members(ctx))
    if assigned_only:
        cohort = cohort.filter(cohort.owner_id.notnull())
    if by is not None:
        cohort = cohort.mutate(**{BY_VALUE: cohort[BY_KEYS[by]]})
    return cohort


def _conversion_rate(ctx: KpiContext, by: Dimension | None, *, assigned_only: bool) -> ir.Table:
    cohort = _cohort(ctx, by, assigned_only=assigned_only)
    grouped = cohort.group_by(keys(by)).aggregate(
        numerator=count_if(cohort.converted_in_window), denominator=cohort.count()
    )
    return finish(with_ratio(grouped), by)


def lead_conversion_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Share of the contacts created in P that converted within W days."""
    return _conversion_rate(ctx, by, assigned_only=False)


def rep_lead_conversion_rate(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """lead_conversion_rate restricted to contacts with a rep in charge."""
    return _conversion_rate(ctx, by, assigned_only=True)


def median_days_to_convert(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Median conversion delay (days) of the cohort members converted within W."""
    cohort = _cohort(ctx, by, assigned_only=False)
    converted = cohort.filter(cohort.converted_in_window).mutate(
        delay_days=cohort.delay_seconds / DAY_SECONDS
    )
    medians = exact_median(converted, keys(by), "delay_days")
    return finish(medians.mutate(numerator=null_float(), denominator=null_float()), by)


def stage_steps(stages: tuple[str, ...]) -> list[tuple[int, int]]:
    """The funnel's steps: each pair of consecutive stages, then first -> last."""
    steps = [(index, index + 1) for index in range(len(stages) - 1)]
    if len(stages) > 2:
        steps.append((0, len(stages) - 1))
    return steps


def stage_conversion(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    """Among contacts created in P that reached stage `from`, the share that reached `to`,
    for every step of the funnel (rows keyed by `stage_from`, `stage_to`).

    A contact reached stage k if it has a change to stage k or any later stage, or, for
    the last stage, if it converted: its furthest stage index decides every step."""
    stages = ctx.settings.journey_stages
    last = len(stages) - 1
    changes = ctx.table("stage_changes")
    index = ibis.cases(*[(changes.stage == stage, i) for i, stage in enumerate(stages)])
    indexed = changes.mutate(stage_index=index)
    furthest = (
        indexed.filter(indexed.stage_index.notnull())
        .group_by("contact_id")
        .aggregate(furthest_change=indexed.stage_index.max())
    )
    members = _cohort(ctx, by, assigned_only=False)
    joined = members.left_join(furthest, "contact_id").select(members, furthest.furthest_change)
    cohort = joined.mutate(
        furthest=ibis.ifelse(
            joined.converted_at.notnull(), last, joined.furthest_change.fill_null(-1)
        )
    )
    reached = cohort.group_by(keys(by)).aggregate(
        **{f"reached_{k}": count_if(cohort.furthest >= k) for k in range(len(stages))}
    )
    steps = []
    for start, end in stage_steps(stages):
        step = reached.select(
            *keys(by),
            stage_from=ibis.literal(stages[start]),
            stage_to=ibis.literal(stages[end]),
            numerator=reached[f"reached_{end}"],
            denominator=reached[f"reached_{start}"],
        )
        steps.append(with_ratio(step))
    union = steps[0]
    for step in steps[1:]:
        union = union.union(step)
    return finish(union, by, "stage_from", "stage_to")
