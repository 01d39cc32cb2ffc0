"""A source that shows only what was known at an instant (no feature may see the future)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from pilotage.engine.backends import Source


@dataclass
class SourceAsOf(Source):
    """`source` cut at `cut_at` (naive UTC): rows created later are left out, deals closed
    later are still open, subscriptions ended later are still running."""

    cut_at: datetime | None = None

    @classmethod
    def of(cls, source: Source, cut_at: datetime) -> SourceAsOf:
        return cls(
            source.backend,
            source.engine,
            source.settings,
            source.present_tables,
            source.description,
            cut_at,
        )

    def table(self, name: str) -> ir.Table:
        table = super().table(name)
        if self.cut_at is None:
            return table
        at = ibis.literal(self.cut_at, type="timestamp")
        if name == "contacts":
            return table.filter(table.created_at <= at)
        if name == "orders":
            return table.filter(table.ordered_at <= at)
        if name == "stage_changes":
            return table.filter(table.changed_at <= at)
        if name == "interactions":
            return table.filter(table.occurred_at <= at)
        if name == "subscriptions":
            known = table.filter(table.started_at <= at)
            return known.mutate(
                ended_at=ibis.ifelse(known.ended_at > at, ibis.null("timestamp"), known.ended_at)
            )
        if name == "deals":
            known = table.filter(table.created_at <= at)
            later = known.closed_at > at
            return known.mutate(
                status=ibis.ifelse(later, ibis.literal("open"), known.status),
                closed_at=ibis.ifelse(later, ibis.null("timestamp"), known.closed_at),
            )
        return table
