"""Reads of the funnel, attrition, acquisition and sales team pages."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import ibis
import pandas as pd
from django.db.models import Count, F, Max, Min, QuerySet, Value
from django.db.models.functions import Coalesce

from pilotage.attribution import MODELS, attribute, levers
from pilotage.attribution.levers import Lever, LeversResult
from pilotage.engine.compute import KpiRow
from pilotage.engine.context import BY_KEYS
from pilotage.engine.conversions import paid_orders
from pilotage.engine.periods import Grain, Period
from pilotage.web.crm.models import Campaign, Contact, Order, Rep, StageChange
from pilotage.web.dashboard.analytics import (
    as_of_utc,
    company_settings,
    engine_source,
    kpi_series,
    resolve_period,
    trailing_periods,
)
from pilotage.web.dashboard.cache import cached
from pilotage.web.scoring.models import ContactScore

# --- Funnel -------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    stage_from: str
    stage_to: str
    rate: float | None
    reached_from: float | None
    reached_to: float | None
    median_days: float | None

    @property
    def drop_off(self) -> float | None:
        return None if self.rate is None else 1 - self.rate


@dataclass(frozen=True)
class ChannelFunnel:
    channel: str
    steps: list[FunnelStep]
    overall: float | None
    leads: float | None
    conversion: float | None
    early_churn: float | None


@dataclass(frozen=True)
class Funnel:
    period: Period
    stages: tuple[str, ...]
    counts: list[float]
    steps: list[FunnelStep]
    overall: FunnelStep | None
    channels: list[ChannelFunnel]
    complete: bool
    errors: list[str] = field(default_factory=list)


def _step_rows(rows: list[KpiRow], period: str) -> dict[tuple[str | None, str, str], KpiRow]:
    result = {}
    for row in rows:
        if row.period != period or not row.by:
            continue
        channel = row.by.get("channel")
        result[(channel, str(row.by.get("from")), str(row.by.get("to")))] = row
    return result


def median_stage_days(period: Period, stages: tuple[str, ...]) -> dict[tuple[str, str], float]:
    """Median exact days from reaching one stage to reaching the next, for the contacts
    created in the period that changed to both (the first change to each stage)."""

    def compute() -> dict[tuple[str, str], float]:
        firsts = (
            StageChange.objects.filter(
                contact__created_at__gte=period.start_local,
                contact__created_at__lt=period.end_local,
                stage__in=stages,
            )
            .values("contact_id", "stage")
            .annotate(first=Min("changed_at"))
        )
        reached: dict[str, dict[str, Any]] = {}
        for row in firsts.iterator(chunk_size=5000):
            reached.setdefault(row["contact_id"], {})[row["stage"]] = row["first"]
        delays: dict[tuple[str, str], list[float]] = {}
        for times in reached.values():
            for a, b in zip(stages, stages[1:], strict=False):
                if a in times and b in times and times[b] >= times[a]:
                    seconds = (times[b] - times[a]).total_seconds()
                    delays.setdefault((a, b), []).append(seconds / 86400)
        return {step: statistics.median(values) for step, values in delays.items() if values}

    return cached("stage-days", (period.label, period.grain, stages), compute)


def funnel(grain: Grain, period_label: str | None) -> Funnel:
    settings = company_settings()
    stages = settings.journey_stages
    period = resolve_period(grain, period_label, settings)
    total = kpi_series(["stage_conversion"], grain, period.start, period.start)["stage_conversion"]
    split = kpi_series(
        ["stage_conversion", "lead_conversion_rate", "early_churn_rate", "new_leads"],
        grain,
        period.start,
        period.start,
        "channel",
    )
    errors = [s.error for s in (total, *split.values()) if s.error]
    days = median_stage_days(period, stages)
    total_rows = _step_rows(list(total.rows), period.label)
    pairs = list(zip(stages, stages[1:], strict=False))

    def make_step(channel: str | None, a: str, b: str, with_days: bool) -> FunnelStep:
        row = (total_rows if channel is None else channel_rows).get((channel, a, b))
        return FunnelStep(
            a,
            b,
            row.value if row else None,
            row.denominator if row else None,
            row.numerator if row else None,
            days.get((a, b)) if with_days else None,
        )

    channel_rows = _step_rows(list(split["stage_conversion"].rows), period.label)
    steps = [make_step(None, a, b, True) for a, b in pairs]
    overall = make_step(None, stages[0], stages[-1], False)
    counts: list[float] = []
    if steps and steps[0].reached_from is not None:
        counts = [steps[0].reached_from] + [s.reached_to or 0.0 for s in steps]

    def channel_value(name: str, channel: str) -> float | None:
        for row in split[name].rows:
            if row.period == period.label and (row.by or {}).get("channel") == channel:
                return row.value
        return None

    channels = sorted({key[0] for key in channel_rows if key[0] is not None})
    channel_funnels = [
        ChannelFunnel(
            channel,
            [make_step(channel, a, b, False) for a, b in pairs],
            make_step(channel, stages[0], stages[-1], False).rate,
            channel_value("new_leads", channel),
            channel_value("lead_conversion_rate", channel),
            channel_value("early_churn_rate", channel),
        )
        for channel in channels
    ]
    channel_funnels.sort(key=lambda c: -(c.leads or 0))
    complete = all(row.complete for row in total.rows if row.period == period.label)
    return Funnel(period, stages, counts, steps, overall, channel_funnels, complete, errors)


# --- Attrition ----------------------------------------------------------------------

ATTRITION_KPIS = [
    "customer_churn_rate",
    "customer_retention_rate",
    "active_customers",
    "churned_customers",
    "subscription_churn_rate",
    "gross_mrr_churn_rate",
    "repeat_purchase_rate",
]


@dataclass(frozen=True)
class Cohorts:
    months: list[str]  # acquisition months, oldest first
    sizes: list[int]
    offsets: list[int]  # months since acquisition: 0, 1, 2...
    retention: list[list[float | None]]  # [cohort][offset]


@dataclass(frozen=True)
class AtRisk:
    contact_id: str
    name: str
    owner: str
    churn_risk: float
    clv: float | None
    value_at_risk: float | None
    last_order_days: float | None
    orders: int


@dataclass(frozen=True)
class Attrition:
    period: Period
    periods: list[str]
    series: dict[str, list[KpiRow]]
    cohorts: Cohorts
    at_risk: list[AtRisk]
    at_risk_note: str | None
    currency: str
    errors: list[str]


def cohort_retention(max_cohorts: int = 18) -> Cohorts:
    """Per month of acquisition (first paid order), the share of those customers with a
    paid order in each later month (calendar months in UTC)."""

    def compute() -> Cohorts:
        source = engine_source()
        orders = paid_orders(source)
        months = orders.mutate(
            month=(orders.ordered_at.year() * 12 + orders.ordered_at.month() - 1).cast("int64")
        )
        active = months.select("contact_id", "month").distinct()
        first = active.group_by("contact_id").aggregate(cohort=active.month.min())
        joined = active.join(first, "contact_id")
        table = (
            joined.mutate(offset=joined.month - joined.cohort)
            .group_by(["cohort", "offset"])
            .aggregate(customers=ibis._.contact_id.count())
        )
        frame: pd.DataFrame = source.execute(table)
        if frame.empty:
            return Cohorts([], [], [], [])
        cohorts = sorted(int(c) for c in frame["cohort"].unique())[-max_cohorts:]
        frame = frame[frame["cohort"].isin(cohorts)]
        last = max(cohorts)
        counts = {
            (int(r["cohort"]), int(r["offset"])): int(r["customers"])
            for r in frame.to_dict("records")
        }
        offsets = list(range(0, last - cohorts[0] + 1))
        sizes = [counts.get((c, 0), 0) for c in cohorts]
        grid: list[list[float | None]] = []
        for cohort, size in zip(cohorts, sizes, strict=True):
            row: list[float | None] = []
            for offset in offsets:
                if cohort + offset > last or size == 0:
                    row.append(None)
                else:
                    row.append(counts.get((cohort, offset), 0) / size)
            grid.append(row)
        labels = [f"{c // 12}-{c % 12 + 1:02d}" for c in cohorts]
        return Cohorts(labels, sizes, offsets, grid)

    return cached("cohorts", (max_cohorts,), compute)


def customers_at_risk(
    contacts: QuerySet[Contact], limit: int = 20
) -> tuple[list[AtRisk], str | None]:
    """The customers to call first: churn risk (1 - P(alive)) of at least 0.3, by value at
    risk = predicted CLV x churn risk, from the latest stored scores (the scoring batch
    fits the CLV models; rescoring one contact applies them). The note says why the list
    is empty when no score carries a churn risk (too few customers to fit the models, or
    no scoring run yet). Cached per scope of contacts (the user's): on a million contacts
    the ranking of every latest score takes about a second."""
    return cached(
        "at-risk", (str(contacts.query), limit), lambda: _customers_at_risk(contacts, limit)
    )


def _customers_at_risk(contacts: QuerySet[Contact], limit: int) -> tuple[list[AtRisk], str | None]:
    latest = ContactScore.objects.filter(is_latest=True, churn_risk__isnull=False)
    if not latest.exists():
        return [], "not_enough_customers"
    found = list(
        latest.filter(churn_risk__gte=0.3, contact__in=contacts)
        .annotate(value_at_risk=Coalesce(F("predicted_clv"), Value(0.0)) * F("churn_risk"))
        .order_by("-value_at_risk", "contact_id")
        .values(
            "contact_id",
            "churn_risk",
            "predicted_clv",
            "value_at_risk",
            "contact__name",
            "contact__company",
            "contact__owner__name",
        )[:limit]
    )
    ids = [row["contact_id"] for row in found]
    orders = {
        row["contact_id"]: row
        for row in Order.objects.filter(contact_id__in=ids, status="paid", amount__gt=0)
        .values("contact_id")
        .annotate(count=Count("pk"), last=Max("ordered_at"))
    }
    as_of = pd.Timestamp(as_of_utc(), tz="UTC")
    rows = []
    for row in found:
        bought = orders.get(row["contact_id"])
        last = bought["last"] if bought else None
        clv = row["predicted_clv"]
        rows.append(
            AtRisk(
                contact_id=str(row["contact_id"]),
                name=row["contact__name"] or row["contact__company"] or str(row["contact_id"]),
                owner=row["contact__owner__name"] or "—",
                churn_risk=float(row["churn_risk"] or 0.0),  # filtered: never null
                clv=None if clv is None else float(clv),
                value_at_risk=None if clv is None else float(row["value_at_risk"]),
                last_order_days=None
                if last is None
                else (as_of - pd.Timestamp(last)).total_seconds() / 86_400,
                orders=int(bought["count"]) if bought else 0,
            )
        )
    return rows, None


def attrition(grain: Grain, period_label: str | None, contacts: QuerySet[Contact]) -> Attrition:
    settings = company_settings()
    period = resolve_period(grain, period_label, settings)
    periods = trailing_periods(period, 12, settings)
    series = kpi_series(ATTRITION_KPIS, grain, periods[0].start, period.start)
    at_risk, note = customers_at_risk(contacts)
    return Attrition(
        period=period,
        periods=[p.label for p in periods],
        series={name: s.total_rows() for name, s in series.items()},
        cohorts=cohort_retention(),
        at_risk=at_risk,
        at_risk_note=note,
        currency=settings.currency,
        errors=[s.error for s in series.values() if s.error],
    )


# --- Acquisition --------------------------------------------------------------------


@dataclass(frozen=True)
class AcquisitionRow:
    key: str
    name: str
    channel: str
    conversions: float
    revenue: float
    spend: float | None
    cac: float | None
    roas: float | None
    roi: float | None
    complete: bool


@dataclass(frozen=True)
class Acquisition:
    period: Period
    model: str
    models: tuple[str, ...]
    channels: list[AcquisitionRow]
    campaigns: list[AcquisitionRow]
    levers: LeversResult | None
    channel_levers: list[Lever]
    campaign_levers: list[Lever]
    currency: str
    campaign_names: dict[str, str]


def acquisition(grain: Grain, period_label: str | None, model: str) -> Acquisition:
    settings = company_settings()
    period = resolve_period(grain, period_label, settings)
    if model not in MODELS:
        model = settings.attribution_model
    names = dict(Campaign.objects.values_list("campaign_id", "name"))
    campaign_channels = dict(Campaign.objects.values_list("campaign_id", "channel"))

    def table(by: Literal["channel", "campaign"]) -> list[AcquisitionRow]:
        def compute() -> list[AcquisitionRow]:
            # as_of by default: the latest timestamp, as as_of_utc(), with queries that
            # do not depend on it (their SQL is reused after a write).
            result = attribute(engine_source(), model, by, grain, period.start, period.start)
            rows = []
            for row in result.rows:
                if row.period != period.label:
                    continue
                channel = row.key if by == "channel" else campaign_channels.get(row.key, "")
                rows.append(
                    AcquisitionRow(
                        row.key,
                        names.get(row.key, row.key) if by == "campaign" else row.key,
                        channel,
                        row.conversions,
                        row.revenue,
                        row.spend,
                        row.cac,
                        row.roas,
                        row.roi,
                        row.complete,
                    )
                )
            return rows

        return cached("attribution", (model, by, grain, period.label), compute)

    def compute_levers() -> LeversResult | None:
        last_day = period.end - timedelta(days=1)
        return levers(engine_source(), period.start, last_day, None, model)

    result = cached("levers", (model, grain, period.label), compute_levers)
    return Acquisition(
        period=period,
        model=model,
        models=tuple(MODELS),
        channels=table("channel"),
        campaigns=table("campaign"),
        levers=result,
        channel_levers=list(result.channels) if result else [],
        campaign_levers=list(result.campaigns) if result else [],
        currency=settings.currency,
        campaign_names=names,
    )


# --- Sales team ---------------------------------------------------------------------

TEAM_KPIS = [
    "leads_assigned",
    "rep_lead_conversion_rate",
    "deals_won",
    "deals_lost",
    "win_rate",
    "revenue_won",
    "average_deal_size",
    "median_sales_cycle_days",
    "activities",
]


@dataclass(frozen=True)
class RepLine:
    rep_id: str
    name: str
    team: str
    values: dict[str, float | None]
    previous_revenue: float | None
    wins_over_expected: float | None


@dataclass(frozen=True)
class Team:
    period: Period
    reps: list[RepLine]
    kpis: list[str]
    trend_periods: list[str]
    trend: list[tuple[str, list[float | None]]]
    currency: str
    sort: str
    errors: list[str]
    expected_available: bool


def _by_owner(rows: tuple[KpiRow, ...], period: str) -> dict[str | None, float | None]:
    key = BY_KEYS["owner"]
    return {(row.by or {}).get(key): row.value for row in rows if row.period == period}


def wins_over_expected(reps: list[str], period: Period) -> dict[str, float] | None:
    """From the scoring app, when it provides the conversion model's expectations."""
    try:
        import importlib

        module = importlib.import_module("pilotage.web.scoring.selectors")
    except ImportError:
        return None
    function = getattr(module, "wins_over_expected", None)
    if function is None:
        return None
    result: dict[str, float] = function(rep_ids=reps, start=period.start, end=period.end)
    return result


def team(grain: Grain, period_label: str | None, reps: QuerySet[Rep], sort: str) -> Team:
    settings = company_settings()
    period = resolve_period(grain, period_label, settings)
    periods = trailing_periods(period, 12, settings)
    series = kpi_series(TEAM_KPIS, grain, periods[0].start, period.start, "owner")
    visible = list(reps.values_list("rep_id", "name", "team"))
    previous = periods[-2].label if len(periods) > 1 else None
    per_kpi = {name: _by_owner(s.rows, period.label) for name, s in series.items()}
    revenue_before = _by_owner(series["revenue_won"].rows, previous) if previous else {}
    expected = wins_over_expected([r[0] for r in visible], period)
    lines = [
        RepLine(
            rep_id,
            name,
            team_name or "—",
            {kpi: per_kpi[kpi].get(rep_id) for kpi in TEAM_KPIS},
            revenue_before.get(rep_id),
            expected.get(rep_id) if expected else None,
        )
        for rep_id, name, team_name in visible
    ]
    sort_key = sort if sort in TEAM_KPIS else "revenue_won"
    lower_first = sort_key == "median_sales_cycle_days"
    lines.sort(
        key=lambda line: (
            line.values.get(sort_key) is None,
            (line.values.get(sort_key) or 0) * (1 if lower_first else -1),
        )
    )
    labels = [p.label for p in periods]
    trend = []
    for line in lines[:8]:
        by_period = {
            row.period: row.value
            for row in series["revenue_won"].rows
            if (row.by or {}).get("owner_id") == line.rep_id
        }
        trend.append((line.name, [by_period.get(label) for label in labels]))
    return Team(
        period=period,
        reps=lines,
        kpis=TEAM_KPIS,
        trend_periods=labels,
        trend=trend,
        currency=settings.currency,
        sort=sort_key,
        errors=[s.error for s in series.values() if s.error],
        expected_available=expected is not None,
    )


__all__ = ["date"]
