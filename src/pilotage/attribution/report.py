"""Attributed conversions, revenue, spend, CAC, ROAS and ROI per period and campaign or
channel (attribution.md "Outputs", kpis.md "Acquisition cost and return")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.attribution.credits import (
    MODELS,
    Model,
    check_model,
    default_periods,
    direct_credits,
)
from pilotage.attribution.markov import markov_shares
from pilotage.attribution.paths import (
    DIRECT,
    WHOLE_DATA,
    By,
    bucketed,
    converted_paths,
    converted_touches,
    customers,
    key_column,
    latest_timestamp,
    local_date,
    query_parts,
    shifted_comparison,
)
from pilotage.attribution.rules import RULE_MODELS, RuleModel, with_rule_credits
from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.batches import run_kept
from pilotage.engine.conversions import paid_orders
from pilotage.engine.kpis.acquisition import order_margin
from pilotage.engine.periods import Grain, Period, periods_table


@dataclass(frozen=True)
class AttributionRow:
    """One (model, period, campaign or channel). `key` is the campaign_id (or `(direct)`)
    or the channel. Ratios with a zero denominator are None; `(direct)` has no spend."""

    model: str
    period: str
    period_start: date
    period_end: date
    key: str
    conversions: float
    revenue: float
    spend: float | None
    cac: float | None
    roas: float | None
    roi: float | None
    complete: bool


@dataclass(frozen=True)
class AttributionResult:
    as_of: datetime | None  # naive UTC; None when the data is empty
    model: str  # a model name or "all"
    by: By
    grain: Grain
    settings: Settings
    rows: list[AttributionRow] = field(default_factory=list)

    @property
    def key_column(self) -> str:
        return key_column(self.by)

    def to_json(self) -> dict[str, Any]:
        """interfaces.md's `attribution` shape."""
        return {
            "as_of": iso_utc(self.as_of),
            "model": self.model,
            "by": self.by,
            "rows": [
                {
                    "model": row.model,
                    "period": row.period,
                    self.key_column: row.key,
                    "conversions": row.conversions,
                    "revenue": row.revenue,
                    "spend": row.spend,
                    "cac": row.cac,
                    "roas": row.roas,
                    "roi": row.roi,
                    "complete": row.complete,
                }
                for row in self.rows
            ],
        }

    def to_frame(self) -> pd.DataFrame:
        columns = [
            "model",
            "period",
            "period_start",
            "period_end",
            self.key_column,
            "conversions",
            "revenue",
            "spend",
            "cac",
            "roas",
            "roi",
            "complete",
        ]
        return pd.DataFrame(
            [
                (
                    row.model,
                    row.period,
                    row.period_start,
                    row.period_end,
                    row.key,
                    row.conversions,
                    row.revenue,
                    row.spend,
                    row.cac,
                    row.roas,
                    row.roi,
                    row.complete,
                )
                for row in self.rows
            ],
            columns=columns,
        )


def iso_utc(instant: datetime | None) -> str | None:
    return None if instant is None else instant.replace(tzinfo=UTC).isoformat()


def optional_float(value: Any) -> float | None:
    """A float from a frame cell, None for a missing value (None, NaN, NA)."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """kpis.md: a ratio with a zero (or missing) denominator is null, never 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def return_on_investment(margin: float, spend: float | None) -> float | None:
    """(A x m - spend) / spend, where A x m is the gross margin of the attributed orders:
    each order's `margin`, else its amount x the gross_margin setting (data-contract.md),
    as the KPI engine's ROI counts it (`customer_revenue`)."""
    if spend is None or spend == 0:
        return None
    return (margin - spend) / spend


def customer_revenue(source: Source, as_of: datetime | None = None) -> ir.Table:
    """Per customer: contact_id, converted_at, revenue = its paid-order amounts in
    [converted_at, converted_at + R) and margin = those orders' gross margin (0 when
    none), orders after `as_of` unknown."""
    window = source.settings.revenue_window_days
    buyers = customers(source, as_of).select("contact_id", "converted_at")
    orders = paid_orders(source)
    if as_of is not None:
        orders = orders.filter(orders.ordered_at <= ibis.literal(as_of))
    joined = buyers.left_join(
        orders,
        [
            buyers.contact_id == orders.contact_id,
            orders.ordered_at >= buyers.converted_at,
            shifted_comparison(orders.ordered_at, "<", buyers.converted_at, window, source),
        ],
    )
    per_customer = joined.group_by(buyers.contact_id, buyers.converted_at).aggregate(
        revenue=joined.amount.sum(),
        margin=order_margin(joined, source.settings.gross_margin).sum(),
    )
    return per_customer.mutate(
        revenue=per_customer.revenue.fill_null(0.0), margin=per_customer.margin.fill_null(0.0)
    )


def spend_by_period(
    source: Source, by: By, periods: Sequence[Period], as_of: datetime | None = None
) -> ir.Table:
    """period, <campaign_id|channel>, spend. By campaign, only spend with a campaign_id
    (channel-level spend belongs to no campaign); by channel, all of the channel's spend.
    `spent_on` is a local date, so periods are compared as local dates. With `as_of`, the
    spend booked by its local date, as the KPI engine cuts it: spend booked later was not
    known then."""
    key = key_column(by)
    spend = source.table("spend")
    if as_of is not None and as_of != WHOLE_DATA:
        known = ibis.literal(local_date(as_of, source), type="date")
        spend = spend.filter(spend.spent_on <= known)
    if by == "campaign":
        spend = spend.filter(spend.campaign_id.notnull() & (spend.campaign_id.strip() != ""))
    bounds = periods_table(list(periods)).select("period", "start_date", "end_date")
    joined = spend.inner_join(
        bounds, [spend.spent_on >= bounds.start_date, spend.spent_on < bounds.end_date]
    )
    return joined.group_by("period", key).aggregate(spend=joined.amount.sum())


def _rule_aggregates(
    source: Source,
    models: Sequence[RuleModel],
    by: By,
    periods: list[Period],
    as_of: datetime | None,
) -> pd.DataFrame:
    """model, period, key, conversions, revenue and margin of the touched conversions,
    all the rule-based models in one pass over the paths."""
    key = key_column(by)

    def query() -> ir.Table:
        revenue = customer_revenue(source, as_of)
        paths = bucketed(converted_paths(source, as_of), "converted_at", periods)
        scored = with_rule_credits(paths, tuple(models), source.settings.time_decay_half_life_days)
        with_revenue = scored.inner_join(
            revenue.select("contact_id", "revenue", "margin"), "contact_id"
        )
        sums: dict[str, ir.Scalar] = {}
        for model in models:
            credit = with_revenue[f"credit_{model}"]
            sums[f"conversions_{model}"] = credit.sum()
            sums[f"revenue_{model}"] = (credit * with_revenue.revenue).sum()
            sums[f"margin_{model}"] = (credit * with_revenue.margin).sum()
        return with_revenue.group_by("period", key).aggregate(**sums)

    parts = {**query_parts(by, periods, as_of), "models": list(models)}
    wide = run_kept(source, "attribution by rules", parts, query)
    frames = [
        pd.DataFrame(
            {
                "model": model,
                "period": wide["period"],
                "key": wide[key],
                "conversions": wide[f"conversions_{model}"].astype("float64"),
                "revenue": wide[f"revenue_{model}"].astype("float64"),
                "margin": wide[f"margin_{model}"].astype("float64"),
            }
        )
        for model in models
    ]
    return pd.concat(frames, ignore_index=True) if frames else _empty_aggregates()


def _markov_aggregates(
    source: Source, by: By, periods: list[Period], as_of: datetime | None
) -> pd.DataFrame:
    """The chain's credit of each state (conversions x share) and the same share of the
    revenue and margin of the period's touched conversions (the per-conversion mapping of
    `credits.markov_credits`, summed)."""
    key = key_column(by)
    shares = markov_shares(source, by, periods, as_of)

    def query() -> ir.Table:
        revenue = customer_revenue(source, as_of)
        touched = converted_touches(source, as_of).select("contact_id").distinct()
        touched_revenue = bucketed(
            revenue.semi_join(touched, "contact_id"), "converted_at", periods
        )
        return touched_revenue.group_by("period").aggregate(
            touched=touched_revenue.count(),
            revenue=touched_revenue.revenue.sum(),
            margin=touched_revenue.margin.sum(),
        )

    per_period = run_kept(
        source, "revenue of touched conversions", query_parts(None, periods, as_of), query
    )
    merged = shares.merge(per_period, on="period", how="inner")
    return pd.DataFrame(
        {
            "model": "markov",
            "period": merged["period"],
            "key": merged[key],
            "conversions": (merged["share"] * merged["touched"]).astype("float64"),
            "revenue": (merged["share"] * merged["revenue"]).astype("float64"),
            "margin": (merged["share"] * merged["margin"]).astype("float64"),
        }
    )


def _direct_aggregates(
    source: Source, by: By, periods: list[Period], as_of: datetime | None
) -> pd.DataFrame:
    key = key_column(by)

    def query() -> ir.Table:
        revenue = customer_revenue(source, as_of)
        direct = direct_credits(source, by, as_of, periods)
        joined = direct.inner_join(revenue.select("contact_id", "revenue", "margin"), "contact_id")
        return joined.group_by("period", key).aggregate(
            conversions=joined.credit.sum(),
            revenue=joined.revenue.sum(),
            margin=joined.margin.sum(),
        )

    frame = run_kept(source, "direct conversions", query_parts(by, periods, as_of), query)
    return pd.DataFrame(
        {
            "period": frame["period"],
            "key": frame[key],
            "conversions": frame["conversions"].astype("float64"),
            "revenue": frame["revenue"].astype("float64"),
            "margin": frame["margin"].astype("float64"),
        }
    )


def _empty_aggregates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": pd.Series([], dtype="object"),
            "period": pd.Series([], dtype="object"),
            "key": pd.Series([], dtype="object"),
            "conversions": pd.Series([], dtype="float64"),
            "revenue": pd.Series([], dtype="float64"),
            "margin": pd.Series([], dtype="float64"),
        }
    )


def attributed_aggregates(
    source: Source,
    models: Sequence[Model],
    by: By,
    periods: list[Period],
    as_of: datetime | None,
) -> pd.DataFrame:
    """model, period, key, conversions (sum of credits), revenue and margin (attributed),
    spend (None for `(direct)`, 0 where the key spent nothing): every key with a credit
    or a spend in a period, for every model."""
    if not periods:
        return _empty_aggregates().assign(spend=pd.Series([], dtype="float64"))
    parts: list[pd.DataFrame] = []
    rules = [m for m in models if m != "markov"]
    if rules:
        rule_models = [m for m in RULE_MODELS if m in rules]
        parts.append(_rule_aggregates(source, rule_models, by, periods, as_of))
    if "markov" in models:
        parts.append(_markov_aggregates(source, by, periods, as_of))
    direct = _direct_aggregates(source, by, periods, as_of)
    for model in models:
        parts.append(direct.assign(model=model))
    attributed = pd.concat([_empty_aggregates(), *parts], ignore_index=True)
    # by channel, a direct conversion counts for the contact's acquisition channel,
    # which may also hold touched conversions: one row per key
    attributed = attributed.groupby(["model", "period", "key"], as_index=False, sort=False)[
        ["conversions", "revenue", "margin"]
    ].sum()
    key = key_column(by)
    spend = run_kept(
        source,
        "spend by period",
        query_parts(by, periods, as_of),
        lambda: spend_by_period(source, by, periods, as_of),
    ).rename(columns={key: "key"})
    spend_rows = pd.concat(
        [spend.assign(model=model) for model in models] or [spend.assign(model="")],
        ignore_index=True,
    )
    merged = attributed.merge(
        spend_rows[["model", "period", "key", "spend"]],
        on=["model", "period", "key"],
        how="outer",
    )
    merged["conversions"] = merged["conversions"].fillna(0.0)
    merged["revenue"] = merged["revenue"].fillna(0.0)
    merged["margin"] = merged["margin"].fillna(0.0)
    merged["spend"] = merged["spend"].astype("float64").fillna(0.0)
    # a touchpoint left at 0 by first/last touch or position-based is no credit
    merged = merged[(merged["conversions"] != 0) | (merged["spend"] != 0)]
    merged["spend"] = merged["spend"].astype("object")
    merged.loc[merged["key"] == DIRECT, "spend"] = None
    return merged


def attribute(
    source: Source,
    model: str = "linear",
    by: By = "campaign",
    grain: Grain = "quarter",
    start: date | None = None,
    end: date | None = None,
    as_of: datetime | None = None,
) -> AttributionResult:
    """Attributed conversions, revenue, spend, CAC, ROAS and ROI per (model, period,
    campaign or channel). `model` is one of the six models or "all"; periods of `grain`
    from the one containing `start` (default: the first conversion or touch) to the one
    containing `end` (default: `as_of`); `as_of` (naive UTC) defaults to the latest
    timestamp in the data. A row is complete when P.end + R <= as_of."""
    models: tuple[Model, ...] = MODELS if model == "all" else (check_model(model),)
    key_column(by)
    settings = source.settings
    # The data as known at an explicit `as_of` (rows after it left out); by default, all
    # of it, with queries that do not depend on `as_of` (`WHOLE_DATA`).
    cut = as_of if as_of is not None else WHOLE_DATA
    if as_of is None:
        as_of = latest_timestamp(source)
    if as_of is None:
        return AttributionResult(None, model, by, grain, settings, [])
    periods = default_periods(source, grain, as_of, start, end)
    aggregates = attributed_aggregates(source, models, by, periods, cut)
    by_label = {p.label: p for p in periods}
    model_order: dict[str, int] = {m: i for i, m in enumerate(MODELS)}
    revenue_window = timedelta(days=settings.revenue_window_days)
    rows: list[AttributionRow] = []
    for record in aggregates.to_dict("records"):
        period = by_label[str(record["period"])]
        spend = optional_float(record["spend"])
        conversions = float(record["conversions"])
        revenue = float(record["revenue"])
        rows.append(
            AttributionRow(
                model=str(record["model"]),
                period=period.label,
                period_start=period.start,
                period_end=period.end,
                key=str(record["key"]),
                conversions=conversions,
                revenue=revenue,
                spend=spend,
                cac=ratio(spend, conversions),
                roas=ratio(revenue, spend),
                roi=return_on_investment(float(record["margin"]), spend),
                complete=period.end_utc + revenue_window <= as_of,
            )
        )
    rows.sort(
        key=lambda row: (
            model_order[row.model],
            row.period_start,
            row.key == DIRECT,
            -row.conversions,
            row.key,
        )
    )
    return AttributionResult(as_of, model, by, grain, settings, rows)
