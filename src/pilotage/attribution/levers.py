"""Scale / cut / watch per channel and campaign (kpis.md, "Recommendations (levers)")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.attribution.credits import check_model, credits, direct_credits
from pilotage.attribution.markov import markov_shares
from pilotage.attribution.paths import (
    DIRECT,
    WHOLE_DATA,
    By,
    bucketed,
    converted_touches,
    customers,
    key_column,
    latest_timestamp,
    local_date,
    query_parts,
    shifted_comparison,
)
from pilotage.attribution.report import (
    customer_revenue,
    iso_utc,
    ratio,
    return_on_investment,
    spend_by_period,
)
from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.batches import run_kept
from pilotage.engine.conversions import paid_orders
from pilotage.engine.periods import Period

Flag = Literal["scale", "cut", "watch"]
Level = Literal["channel", "campaign"]


@dataclass(frozen=True)
class Lever:
    """One channel or campaign over the period, with its flag and the numbers behind it.
    `new_customers` is the sum of attribution credits (fractional for multi-touch
    models); `early_churn_rate` weighs each customer by its credit."""

    level: Level
    key: str  # the channel, or the campaign_id
    channel: str  # the channel itself, or the campaign's channel
    spend: float
    new_customers: float
    revenue: float
    cac: float | None
    cac_vs_blended: float | None  # CAC / blended CAC
    roas: float | None
    roi: float | None
    early_churn_rate: float | None
    flag: Flag
    reason_en: str
    reason_fr: str

    def reason(self, lang: str) -> str:
        return self.reason_fr if lang == "fr" else self.reason_en

    def to_json(self) -> dict[str, Any]:
        key_name = "channel" if self.level == "channel" else "campaign_id"
        document: dict[str, Any] = {key_name: self.key}
        if self.level == "campaign":
            document["channel"] = self.channel
        document.update(
            spend=self.spend,
            new_customers=self.new_customers,
            revenue=self.revenue,
            cac=self.cac,
            cac_vs_blended=self.cac_vs_blended,
            roas=self.roas,
            roi=self.roi,
            early_churn_rate=self.early_churn_rate,
            flag=self.flag,
            reason={"en": self.reason_en, "fr": self.reason_fr},
        )
        return document


@dataclass(frozen=True)
class LeversResult:
    start: date  # first local day of the period
    end: date  # last local day, included
    as_of: datetime | None
    model: str
    settings: Settings
    spend: float  # all spend in the period
    new_customers: int  # all customers converted in the period
    revenue: float  # their revenue in [converted_at, converted_at + R)
    blended_cac: float | None
    overall_roi: float | None
    complete: bool  # the revenue window of every customer has elapsed at as_of
    early_churn_complete: bool  # so has their inactivity window
    channels: list[Lever] = field(default_factory=list)
    campaigns: list[Lever] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": iso_utc(self.as_of),
            "model": self.model,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "spend": self.spend,
            "new_customers": self.new_customers,
            "revenue": self.revenue,
            "blended_cac": self.blended_cac,
            "overall_roi": self.overall_roi,
            "min_customers": self.settings.min_customers,
            "complete": self.complete,
            "early_churn_complete": self.early_churn_complete,
            "channels": [lever.to_json() for lever in self.channels],
            "campaigns": [lever.to_json() for lever in self.campaigns],
        }


def period_of_days(start: date, end: date, settings: Settings) -> Period:
    """The local days start..end (end included) as one half-open period."""
    if end < start:
        raise ValueError(f"the end {end} is before the start {start}")
    label = f"{start.isoformat()}/{end.isoformat()}"
    return Period("day", label, start, end + timedelta(days=1), settings.timezone)


def early_churn(source: Source, as_of: datetime | None) -> ir.Table:
    """Per customer: contact_id, churned = 1.0 when it has no further paid order in
    (converted_at, converted_at + D] (kpis.md early_churn_rate), else 0.0."""
    inactivity = source.settings.inactivity_days
    buyers = customers(source, as_of).select("contact_id", "converted_at")
    orders = paid_orders(source)
    if as_of is not None:
        orders = orders.filter(orders.ordered_at <= ibis.literal(as_of))
    joined = buyers.left_join(
        orders,
        [
            buyers.contact_id == orders.contact_id,
            orders.ordered_at > buyers.converted_at,
            shifted_comparison(orders.ordered_at, "<=", buyers.converted_at, inactivity, source),
        ],
    )
    per_customer = joined.group_by(buyers.contact_id).aggregate(further=joined.order_id.count())
    return per_customer.select(
        "contact_id", churned=ibis.ifelse(per_customer.further == 0, 1.0, 0.0)
    )


def _lever_numbers(
    source: Source, model: str, by: By, period: Period, as_of: datetime | None
) -> pd.DataFrame:
    """key, spend, new_customers, revenue, margin, churned (credit-weighted) per channel
    or campaign."""
    key = key_column(by)
    if model == "markov":
        attributed = _markov_numbers(source, by, period, as_of)
    else:

        def query() -> ir.Table:
            credited = credits(source, model, by, periods=[period], as_of=as_of)
            return _credited_numbers(credited, _facts(source, as_of), key)

        parts = {**query_parts(by, [period], as_of), "model": model}
        attributed = run_kept(source, "lever numbers", parts, query)
    spend = run_kept(
        source,
        "spend of the period",
        query_parts(by, [period], as_of),
        lambda: spend_by_period(source, by, [period], as_of).drop("period"),
    )
    merged: pd.DataFrame = attributed.merge(spend, on=key, how="outer")
    merged = merged.rename(columns={key: "key"})
    for column in ("new_customers", "revenue", "margin", "churned", "spend"):
        merged[column] = merged[column].astype("float64").fillna(0.0)
    return merged


def _facts(source: Source, as_of: datetime | None) -> ir.Table:
    """Per customer: contact_id, revenue and margin (in the revenue window), churned (0 or
    1)."""
    facts = customer_revenue(source, as_of).inner_join(early_churn(source, as_of), "contact_id")
    return facts.select("contact_id", "revenue", "margin", "churned")


def _credited_numbers(credited: ir.Table, facts: ir.Table, key: str) -> ir.Table:
    joined = credited.inner_join(facts, "contact_id")
    return joined.group_by(key).aggregate(
        new_customers=joined.credit.sum(),
        revenue=(joined.credit * joined.revenue).sum(),
        margin=(joined.credit * joined.margin).sum(),
        churned=(joined.credit * joined.churned).sum(),
    )


def _markov_numbers(source: Source, by: By, period: Period, as_of: datetime | None) -> pd.DataFrame:
    """The lever numbers of the Markov model: what `_credited_numbers` gives over
    `credits(model="markov")`, without its in-memory table of shares in the query.

    Every conversion with touchpoints in the period has the credit share_x of every
    state x of the period's chain (`credits.markov_credits`), so state x's numbers are
    share_x times the totals of those conversions: one query for the totals and one for
    the conversions without touchpoints (`direct_credits`), both kept like the other
    models' queries (`run_kept`), and the shares applied here. Building and compiling
    the query over the shares' in-memory table took 0.3 s at every view of the
    acquisition page under this model."""
    key = key_column(by)
    parts = query_parts(by, [period], as_of)

    def touched_totals() -> ir.Table:
        touched = bucketed(
            converted_touches(source, as_of).select("contact_id", "converted_at").distinct(),
            "converted_at",
            [period],
        )
        joined = touched.inner_join(_facts(source, as_of), "contact_id")
        return joined.aggregate(
            customers=joined.count(),
            revenue=joined.revenue.sum(),
            margin=joined.margin.sum(),
            churned=joined.churned.sum(),
        )

    def direct_numbers() -> ir.Table:
        direct = direct_credits(source, by, as_of, [period])
        return _credited_numbers(direct, _facts(source, as_of), key)

    totals = run_kept(source, "markov touched totals", parts, touched_totals).iloc[0]
    direct = run_kept(source, "direct lever numbers", parts, direct_numbers)
    shares = markov_shares(source, by, [period], as_of)
    touched = pd.DataFrame(columns=[key, "new_customers", "revenue", "margin", "churned"])
    if totals["customers"] > 0 and not shares.empty:
        share = shares["share"].to_numpy(dtype="float64")
        touched = pd.DataFrame(
            {
                key: shares[key].astype(object).to_numpy(),
                "new_customers": share * float(totals["customers"]),
                "revenue": share * float(totals["revenue"]),
                "margin": share * float(totals["margin"]),
                "churned": share * float(totals["churned"]),
            }
        )
    both = pd.concat([touched, direct], ignore_index=True)
    # A state of the chain may also be a direct conversion's key (its acquisition channel
    # by channel): their numbers add up, as the union of credits summed by key did.
    return both.groupby(key, as_index=False, sort=False).sum(min_count=1)


def levers(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    as_of: datetime | None = None,
    model: str | None = None,
) -> LeversResult:
    """Spend, new customers, CAC, ROAS, ROI and early churn per channel and per campaign
    over the local days start..end (default: the 365 days up to `as_of`), each flagged
    scale / cut / watch with its reason (model: setting `attribution_model`)."""
    settings = source.settings
    chosen = check_model(model or settings.attribution_model)
    # The data as known at an explicit as_of; all of it by default (`WHOLE_DATA`).
    cut = as_of if as_of is not None else WHOLE_DATA
    if as_of is None:
        as_of = latest_timestamp(source)
    if end is None:
        now = as_of if as_of is not None else datetime.now(UTC).replace(tzinfo=None)
        end = local_date(now, source)
    if start is None:
        start = end - timedelta(days=364)
    period = period_of_days(start, end, settings)

    def new_customers_query() -> ir.Table:
        revenue = customer_revenue(source, cut)
        new = revenue.filter(
            (revenue.converted_at >= ibis.literal(period.start_utc))
            & (revenue.converted_at < ibis.literal(period.end_utc))
        )
        return new.aggregate(
            customers=new.count(), revenue=new.revenue.sum(), margin=new.margin.sum()
        )

    totals = run_kept(
        source, "new customers of the period", query_parts(None, [period], cut), new_customers_query
    )
    new_customers = int(totals["customers"].iloc[0])
    total_revenue = float(totals["revenue"].fillna(0.0).iloc[0])
    total_margin = float(totals["margin"].fillna(0.0).iloc[0])
    channel_numbers = _lever_numbers(source, chosen, "channel", period, cut)
    total_spend = float(channel_numbers["spend"].sum())
    blended_cac = ratio(total_spend, new_customers)
    overall_roi = return_on_investment(total_margin, total_spend)
    campaign_numbers = _lever_numbers(source, chosen, "campaign", period, cut)
    campaign_numbers = campaign_numbers[campaign_numbers["key"] != DIRECT]
    campaigns = run_kept(
        source,
        "campaign channels",
        {},
        lambda: source.table("campaigns").select("campaign_id", "channel"),
    )
    channel_of = dict(campaigns.itertuples(index=False, name=None))

    def build(numbers: pd.DataFrame, level: Level) -> list[Lever]:
        built = []
        for record in numbers.to_dict("records"):
            key = str(record["key"])
            channel = key if level == "channel" else str(channel_of.get(key, ""))
            built.append(
                flag_lever(
                    level,
                    key,
                    channel,
                    spend=float(record["spend"]),
                    new_customers=float(record["new_customers"]),
                    revenue=float(record["revenue"]),
                    margin=float(record["margin"]),
                    churned=float(record["churned"]),
                    blended_cac=blended_cac,
                    overall_roi=overall_roi,
                    settings=settings,
                )
            )
        return sorted(built, key=lambda lever: (-lever.spend, -lever.new_customers, lever.key))

    last_instant = period.end_utc
    return LeversResult(
        start=start,
        end=end,
        as_of=as_of,
        model=chosen,
        settings=settings,
        spend=total_spend,
        new_customers=new_customers,
        revenue=total_revenue,
        blended_cac=blended_cac,
        overall_roi=overall_roi,
        complete=as_of is not None
        and last_instant + timedelta(days=settings.revenue_window_days) <= as_of,
        early_churn_complete=as_of is not None
        and last_instant + timedelta(days=settings.inactivity_days) <= as_of,
        channels=build(channel_numbers, "channel"),
        campaigns=build(campaign_numbers, "campaign"),
    )


CREDIT_SUM_TOLERANCE = 1e-9


def flag_lever(
    level: Level,
    key: str,
    channel: str,
    *,
    spend: float,
    new_customers: float,
    revenue: float,
    margin: float,
    churned: float,
    blended_cac: float | None,
    overall_roi: float | None,
    settings: Settings,
) -> Lever:
    """The flag of one lever and its one-line reason in English and French.

    scale: CAC below the blended CAC and ROI above the overall ROI; cut: ROI negative and
    CAC above the blended CAC; both need at least `min_customers` attributed customers.
    A spend that brought no customer at all has no CAC (null); for the cut rule it counts
    as above any blended CAC (it only matters when min_customers is 0). `margin` is the
    gross margin of the attributed orders (ROI's A x m: `return_on_investment`).
    """
    cac = ratio(spend, new_customers)
    roi = return_on_investment(margin, spend)
    cac_vs_blended = ratio(cac, blended_cac)
    # The attributed customers are a sum of fractional credits: 100 credits of 0.1 sum
    # to 9.999999999999996, which is 10 customers.
    enough = new_customers >= settings.min_customers - CREDIT_SUM_TOLERANCE
    cac_above = (cac is None and spend > 0) or (
        cac is not None and blended_cac is not None and cac > blended_cac
    )
    cac_below = cac is not None and blended_cac is not None and cac < blended_cac
    flag: Flag = "watch"
    if enough and spend > 0 and roi is not None:
        if cac_below and overall_roi is not None and roi > overall_roi:
            flag = "scale"
        elif roi < 0 and cac_above:
            flag = "cut"
    reason_en, reason_fr = _reasons(
        flag, spend, new_customers, cac, cac_vs_blended, roi, overall_roi, enough, settings
    )
    return Lever(
        level=level,
        key=key,
        channel=channel,
        spend=spend,
        new_customers=new_customers,
        revenue=revenue,
        cac=cac,
        cac_vs_blended=cac_vs_blended,
        roas=ratio(revenue, spend),
        roi=roi,
        early_churn_rate=ratio(churned, new_customers),
        flag=flag,
        reason_en=reason_en,
        reason_fr=reason_fr,
    )


def _number(value: float, lang: str, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _money(value: float, lang: str, currency: str) -> str:
    text = f"{value:,.0f}"
    if lang == "fr":
        text = text.replace(",", "\u202f")
    return f"{text} {currency}"


def _percent(value: float | None, lang: str) -> str:
    if value is None:
        return "n/a" if lang == "en" else "n.d."
    return f"{_number(value * 100, lang, 0)} %"


def _customers(value: float, lang: str) -> str:
    return _number(value, lang, 0 if value == int(value) else 1)


def _reasons(
    flag: Flag,
    spend: float,
    new_customers: float,
    cac: float | None,
    cac_vs_blended: float | None,
    roi: float | None,
    overall_roi: float | None,
    enough: bool,
    settings: Settings,
) -> tuple[str, str]:
    if spend == 0:
        return (
            "no spend in the period: nothing to scale or cut",
            "aucune dépense sur la période : rien à augmenter ni à couper",
        )
    if cac is None:
        cost_en = f"no attributed customer for {_money(spend, 'en', settings.currency)} of spend"
        cost_fr = f"aucun client attribué pour {_money(spend, 'fr', settings.currency)} dépensés"
    elif cac_vs_blended is None:
        cost_en, cost_fr = "CAC with no average to compare", "CAC sans moyenne de référence"
    else:
        cost_en = f"CAC {_number(cac_vs_blended, 'en', 1)}x the average"
        cost_fr = f"CAC {_number(cac_vs_blended, 'fr', 1)}x la moyenne"
    numbers_en = f"{cost_en} and ROI {_percent(roi, 'en')}"
    numbers_fr = f"{cost_fr} et ROI {_percent(roi, 'fr')}"
    if not enough:
        minimum = settings.min_customers
        if new_customers == 0:
            return (
                f"{numbers_en}: too few customers to judge (minimum {minimum})",
                f"{numbers_fr} : trop peu de clients pour juger (minimum {minimum})",
            )
        return (
            f"{numbers_en}, but only {_customers(new_customers, 'en')} attributed customers "
            f"(minimum {minimum}): too few to judge",
            f"{numbers_fr}, mais seulement {_customers(new_customers, 'fr')} clients "
            f"attribués (minimum {minimum}) : trop peu pour juger",
        )
    if flag == "scale":
        return (
            f"{numbers_en} (overall {_percent(overall_roi, 'en')}): scale up",
            f"{numbers_fr} (global {_percent(overall_roi, 'fr')}) : augmenter le budget",
        )
    if flag == "cut":
        return (f"{numbers_en}: stop or rework", f"{numbers_fr} : arrêter ou retravailler")
    return (
        f"{numbers_en} (overall {_percent(overall_roi, 'en')}): keep watching",
        f"{numbers_fr} (global {_percent(overall_roi, 'fr')}) : à surveiller",
    )
