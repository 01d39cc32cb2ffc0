"""Small builders and readers shared by the KPI tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from pilotage.engine.backends import Source
from pilotage.engine.compute import KpiResult, compute_kpis


def frame(**columns: list[Any]) -> pd.DataFrame:
    """A table from columns (shorter to write than a list of dicts)."""
    return pd.DataFrame(columns)


def contacts(*rows: tuple[Any, ...], columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """contacts from (contact_id, created_at, channel[, campaign_id[, owner_id]]) tuples."""
    names = columns or ("contact_id", "created_at", "channel", "campaign_id", "owner_id")
    width = max(len(row) for row in rows)
    return pd.DataFrame([row + (None,) * (width - len(row)) for row in rows], columns=names[:width])


def orders(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """orders from (contact_id, ordered_at, amount[, status[, margin]]) tuples; ids o1, o2..."""
    names = ("contact_id", "ordered_at", "amount", "status", "margin")
    width = max(len(row) for row in rows)
    table = pd.DataFrame(
        [row + (None,) * (width - len(row)) for row in rows], columns=names[:width]
    )
    table.insert(0, "order_id", [f"o{i}" for i in range(1, len(table) + 1)])
    return table


def compute(source: Source, kpi: str, **options: Any) -> KpiResult:
    return compute_kpis(source, kpis=[kpi], **options)


def values(result: KpiResult, by_key: str | None = None) -> dict[Any, float | None]:
    """{period: value}, or {(period, by value): value} with `by_key`."""
    found: dict[Any, float | None] = {}
    for row in result.rows:
        if by_key is None:
            found[row.period] = row.value
        else:
            found[(row.period, (row.by or {}).get(by_key))] = row.value
    return found


def day(text: str) -> date:
    return date.fromisoformat(text)
