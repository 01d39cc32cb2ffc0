"""Reads of the dashboard, the KPI catalogue and a KPI's page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from django.db.models import QuerySet

from pilotage.engine.catalogue import CATALOGUE, KPIS, SECTIONS, Kpi, Language
from pilotage.engine.compute import KpiRow, kpi_sql
from pilotage.engine.context import BY_KEYS, Dimension
from pilotage.engine.periods import Grain, Period
from pilotage.web.crm.models import Campaign, Rep
from pilotage.web.dashboard.analytics import (
    KpiSeries,
    company_settings,
    engine_source,
    kpi_series,
    resolve_period,
    trailing_periods,
)
from pilotage.web.dashboard.cache import cached
from pilotage.web.dashboard.kpi_notes import why
from pilotage.web.dashboard.models import KpiTarget, PinnedKpi

DEFAULT_PINS = (
    "revenue",
    "new_customers",
    "lead_conversion_rate",
    "cac",
    "roi",
    "customer_churn_rate",
    "average_order_value",
    "win_rate",
)
SPARK_PERIODS = 12
TREND_PERIODS = 24


def pinned_kpi_names(user: Any) -> list[str]:
    names = [
        name
        for name in PinnedKpi.objects.filter(user_id=user.pk).values_list("kpi", flat=True)
        if name in KPIS
    ]
    # A user without pins of its own sees the defaults; the first pin or unpin stores
    # them as the user's own list (services.kpi_pin / kpi_unpin).
    return names or list(DEFAULT_PINS)


def targets_for(grain: Grain) -> dict[str, float]:
    return dict(KpiTarget.objects.filter(grain=grain).values_list("kpi", "value"))


@dataclass(frozen=True)
class KpiCard:
    kpi: Kpi
    label: str
    period: str
    value: float | None
    previous: float | None
    previous_period: str | None
    change: float | None  # points for rates, relative for the others
    tone: str  # "good", "bad", "neutral"
    target: float | None
    gap: float | None  # value - target
    target_met: bool | None
    complete: bool
    spark: list[float | None]
    error: str | None = None


def change_between(kpi: Kpi, value: float | None, previous: float | None) -> float | None:
    if value is None or previous is None:
        return None
    if kpi.unit == "rate":
        return value - previous
    if previous == 0:
        return None
    return (value - previous) / abs(previous)


def tone_of(kpi: Kpi, change: float | None) -> str:
    if change is None or change == 0 or kpi.higher_is_better is None:
        return "neutral"
    better = change > 0 if kpi.higher_is_better else change < 0
    return "good" if better else "bad"


def target_met(kpi: Kpi, value: float | None, target: float | None) -> bool | None:
    if value is None or target is None or kpi.higher_is_better is None:
        return None
    return value >= target if kpi.higher_is_better else value <= target


def headline_rows(series: KpiSeries) -> list[KpiRow]:
    """The rows a card shows: the total, or for the funnel the first -> last stage step."""
    rows = series.total_rows()
    if rows or not series.kpi.step_keys:
        return rows
    stages = company_settings().journey_stages
    return [row for row in series.rows if row.by == {"from": stages[0], "to": stages[-1]}]


def observed_rows(rows: list[KpiRow]) -> list[KpiRow]:
    """The rows from the first period with data on (periods before the data are empty)."""
    for index, row in enumerate(rows):
        if row.value is not None or row.numerator is not None:
            return rows[index:]
    return rows


def kpi_card(series: KpiSeries, period: Period, target: float | None, language: str) -> KpiCard:
    kpi = series.kpi
    rows = headline_rows(series)
    by_period = {row.period: row for row in rows}
    current = by_period.get(period.label)
    labels = [row.period for row in rows]
    index = labels.index(period.label) if period.label in labels else -1
    previous = rows[index - 1] if index > 0 else None
    value = current.value if current else None
    previous_value = previous.value if previous else None
    change = change_between(kpi, value, previous_value)
    return KpiCard(
        kpi=kpi,
        label=kpi.label("fr" if language.startswith("fr") else "en"),
        period=period.label,
        value=value,
        previous=previous_value,
        previous_period=previous.period if previous else None,
        change=change,
        tone=tone_of(kpi, change),
        target=target,
        gap=None if value is None or target is None else value - target,
        target_met=target_met(kpi, value, target),
        complete=bool(current and current.complete),
        spark=[row.value for row in rows[max(0, index - SPARK_PERIODS + 1) : index + 1]],
        error=series.error,
    )


@dataclass(frozen=True)
class Dashboard:
    grain: Grain
    period: Period
    cards: list[KpiCard]
    currency: str


def own_series(series: KpiSeries, rep_id: str) -> KpiSeries:
    """A rep's own rows of a series broken down by owner, as if it were the company."""
    rows = []
    for row in series.rows:
        by = dict(row.by or {})
        if by.pop("owner_id", None) != rep_id:
            continue
        rows.append(replace(row, by=by or None))
    return KpiSeries(series.kpi, tuple(rows), series.error, None)


def scoped_series(
    names: list[str], grain: Grain, first: date, last: date, rep_id: str | None
) -> dict[str, KpiSeries]:
    """Company-wide series, or for a rep its own (KPIs without an owner breakdown are
    company-wide figures a rep does not see)."""
    if rep_id is None:
        return kpi_series(names, grain, first, last)
    owned = [name for name in names if "owner" in KPIS[name].breakdowns]
    split = kpi_series(owned, grain, first, last, "owner")
    return {name: own_series(series, rep_id) for name, series in split.items()}


def dashboard(
    user: Any, grain: Grain, period_label: str | None, language: str, rep_id: str | None
) -> Dashboard:
    settings = company_settings()
    period = resolve_period(grain, period_label, settings)
    periods = trailing_periods(period, SPARK_PERIODS, settings)
    names = pinned_kpi_names(user)
    series = scoped_series(names, grain, periods[0].start, period.start, rep_id)
    targets = targets_for(grain)
    cards = [
        kpi_card(series[name], period, targets.get(name), language)
        for name in names
        if name in series
    ]
    return Dashboard(grain, period, cards, settings.currency)


@dataclass(frozen=True)
class CatalogueEntry:
    kpi: Kpi
    label: str
    definition: str
    why: str
    pinned: bool
    targets: dict[str, float]


@dataclass(frozen=True)
class CatalogueSection:
    name: str
    title: str
    entries: list[CatalogueEntry] = field(default_factory=list)


def catalogue(user: Any, language: str, query: str = "") -> list[CatalogueSection]:
    french = language.startswith("fr")
    lang: Language = "fr" if french else "en"
    pinned = set(pinned_kpi_names(user))
    targets: dict[str, dict[str, float]] = {}
    for kpi_name, grain, value in KpiTarget.objects.values_list("kpi", "grain", "value"):
        targets.setdefault(kpi_name, {})[grain] = value
    needle = query.strip().lower()
    sections: dict[str, CatalogueSection] = {
        key: CatalogueSection(key, titles[1] if french else titles[0])
        for key, titles in SECTIONS.items()
    }
    for kpi in CATALOGUE:
        entry = CatalogueEntry(
            kpi,
            kpi.label(lang),
            kpi.definition(lang),
            why(kpi.name, lang),
            kpi.name in pinned,
            targets.get(kpi.name, {}),
        )
        haystack = " ".join([kpi.name, entry.label, entry.definition, entry.why, kpi.formula])
        if needle and needle not in haystack.lower():
            continue
        sections[kpi.section].entries.append(entry)
    return [section for section in sections.values() if section.entries]


@dataclass(frozen=True)
class BreakdownRow:
    key: str | None
    name: str
    value: float | None
    numerator: float | None
    denominator: float | None
    complete: bool


@dataclass(frozen=True)
class KpiDetail:
    kpi: Kpi
    label: str
    definition: str
    why: str
    grain: Grain
    period: Period
    card: KpiCard
    trend: list[KpiRow]
    by: Dimension | None
    breakdown: list[BreakdownRow]
    breakdown_error: str | None
    steps: list[KpiRow]
    sql: str | None
    dialect: str
    currency: str


def dimension_names(by: Dimension) -> dict[str, str]:
    """Display names of breakdown values (campaign and rep names)."""
    if by == "campaign":
        return dict(Campaign.objects.values_list("campaign_id", "name"))
    if by == "owner":
        return dict(Rep.objects.values_list("rep_id", "name"))
    return {}


def breakdown_rows(
    series: KpiSeries, period: Period, by: Dimension, visible_reps: QuerySet[Rep] | None
) -> list[BreakdownRow]:
    key_name = BY_KEYS[by]
    names = dimension_names(by)
    allowed: set[str] | None = None
    if by == "owner" and visible_reps is not None:
        allowed = set(visible_reps.values_list("rep_id", flat=True))
    rows = []
    for row in series.rows_for(period.label):
        by_values = row.by or {}
        if set(by_values) - {key_name}:
            continue  # funnel steps: the breakdown table shows the headline step only
        key = by_values.get(key_name)
        if allowed is not None and key not in allowed:
            continue
        rows.append(
            BreakdownRow(
                key,
                names.get(key or "", key or "—"),
                row.value,
                row.numerator,
                row.denominator,
                row.complete,
            )
        )
    rows.sort(key=lambda r: (r.value is None, -(r.value or 0.0)))
    return rows


def sql_of(name: str, grain: Grain, period: Period, by: Dimension | None) -> tuple[str | None, str]:
    """The SQL of the KPI, None for a KPI partly computed in Python (it has none that
    runs on its own), and the dialect."""
    source = engine_source()
    dialect = {"sqlite": "sqlite", "postgres": "postgres"}.get(source.engine, "duckdb")
    if KPIS[name].computed_in_python:
        return None, dialect

    def compute() -> str:
        return kpi_sql(source, name, dialect, grain, period.start, period.start, by)

    return cached("sql", (name, grain, period.label, by), compute), dialect


def kpi_detail(
    name: str,
    grain: Grain,
    period_label: str | None,
    by: Dimension | None,
    language: str,
    visible_reps: QuerySet[Rep] | None,
    rep_id: str | None = None,
) -> KpiDetail:
    kpi = KPIS[name]
    lang: Language = "fr" if language.startswith("fr") else "en"
    settings = company_settings()
    period = resolve_period(grain, period_label, settings)
    periods = trailing_periods(period, TREND_PERIODS, settings)
    series = scoped_series([name], grain, periods[0].start, period.start, rep_id)[name]
    card = kpi_card(series, period, targets_for(grain).get(name), language)
    if (by is not None and by not in kpi.breakdowns) or rep_id is not None:
        by = None
    breakdown: list[BreakdownRow] = []
    breakdown_error = None
    if by is not None:
        split = kpi_series([name], grain, period.start, period.start, by)[name]
        breakdown = breakdown_rows(split, period, by, visible_reps)
        breakdown_error = split.error
    steps = [row for row in series.rows_for(period.label) if row.by] if kpi.step_keys else []
    sql, dialect = sql_of(name, grain, period, by)
    return KpiDetail(
        kpi=kpi,
        label=kpi.label(lang),
        definition=kpi.definition(lang),
        why=why(name, lang),
        grain=grain,
        period=period,
        card=card,
        trend=observed_rows(headline_rows(series)),
        by=by,
        breakdown=breakdown,
        breakdown_error=breakdown_error,
        steps=steps,
        sql=sql,
        dialect=dialect,
        currency=settings.currency,
    )
