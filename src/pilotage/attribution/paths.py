"""Touchpoint paths (attribution.md, "Touchpoints of a conversion" and "Data-driven model").

Everything here builds Ibis expressions: the paths are cut, ordered and ranked by the
engine (joins and window functions), never by Python loops over interactions.

Vocabulary used across `pilotage.attribution`:
- a *touchpoint* is an interaction with a non-empty `campaign_id`; its channel is its
  campaign's channel;
- a *converted path* is the touchpoints of a customer in [c - L, c], c = `converted_at`,
  ranked `k = 1..n` by `occurred_at`, ties broken by `interaction_id` (string order);
- a *null path* is, for a contact with touchpoints that has not converted by `as_of`, its
  touchpoints in [t_last - L, t_last]; it ends in `(null)` and belongs to the period of
  its last touch `t_last`;
- a *direct conversion* is a customer with no touchpoint in its lookback window; it is
  credited to `(direct)`, whose channel is the contact's acquisition channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.engine.backends import Source
from pilotage.engine.batches import periods_key
from pilotage.engine.conversions import conversions
from pilotage.engine.periods import Period, bucket, to_local
from pilotage.engine.span import data_span

By = Literal["campaign", "channel"]
BYS: tuple[By, ...] = ("campaign", "channel")
DIRECT = "(direct)"
START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
# Channel of a touchpoint whose campaign is missing from `campaigns` (only possible in
# data that skipped validation) and that carries no channel of its own.
UNKNOWN_CHANNEL = "(unknown)"


def key_column(by: By) -> str:
    """The column that names what credit goes to: `campaign_id` or `channel`."""
    if by == "campaign":
        return "campaign_id"
    if by == "channel":
        return "channel"
    raise ValueError(f"by: {by!r} is not one of {', '.join(BYS)}")


def shifted_comparison(
    left: ir.TimestampValue,
    op: Literal["<", "<=", ">="],
    right: ir.TimestampValue,
    days: float,
    source: Source,
) -> ir.BooleanValue:
    """`left op right + days` (days may be negative), exact to the microsecond where the
    engine has interval arithmetic. SQLite (before 3.46) has none, nor a timestamp from
    Unix seconds, so there both sides are compared as Unix seconds (whole seconds)."""
    whole_seconds = round(days * 86_400)
    if source.engine == "sqlite":
        lhs: ir.NumericValue = left.epoch_seconds()
        rhs: ir.NumericValue = right.epoch_seconds() + whole_seconds
    else:
        lhs, rhs = left, right + ibis.interval(seconds=whole_seconds)
    if op == "<":
        return lhs < rhs
    if op == "<=":
        return lhs <= rhs
    return lhs >= rhs


def touchpoints(source: Source, as_of: datetime | None = None) -> ir.Table:
    """Interactions with a campaign: interaction_id, contact_id, occurred_at, campaign_id,
    channel (the campaign's channel). With `as_of`, touches after it are not known yet."""
    interactions = source.table("interactions")
    campaigns = source.table("campaigns").select("campaign_id", campaign_channel=ibis._.channel)
    touches = interactions.filter(
        interactions.campaign_id.notnull() & (interactions.campaign_id.strip() != "")
    )
    if as_of is not None:
        touches = touches.filter(touches.occurred_at <= ibis.literal(as_of))
    joined = touches.left_join(campaigns, "campaign_id")
    return joined.select(
        "interaction_id",
        "contact_id",
        "occurred_at",
        "campaign_id",
        channel=ibis.coalesce(
            joined.campaign_channel, joined.channel, ibis.literal(UNKNOWN_CHANNEL)
        ),
    )


def customers(source: Source, as_of: datetime | None = None) -> ir.Table:
    """Customers converted by `as_of`: contact_id, converted_at, acquisition_channel."""
    converted = conversions(source)
    if as_of is not None:
        converted = converted.filter(converted.converted_at <= ibis.literal(as_of))
    contacts = source.table("contacts").select("contact_id", acquisition_channel=ibis._.channel)
    joined = converted.left_join(contacts, "contact_id")
    return joined.select(
        "contact_id",
        "converted_at",
        acquisition_channel=ibis.coalesce(
            joined.acquisition_channel, ibis.literal(UNKNOWN_CHANNEL)
        ),
    )


def _ranked(path_touches: ir.Table) -> ir.Table:
    """Adds k (1-based rank in time, ties by interaction_id), n and `decay_seconds` (seconds
    between the touch and the path's last touch, for time decay) per contact."""
    order = ibis.window(group_by="contact_id", order_by=["occurred_at", "interaction_id"])
    whole = ibis.window(group_by="contact_id")
    seconds = path_touches.occurred_at.epoch_seconds().cast("float64")
    return path_touches.mutate(
        k=ibis.row_number().over(order) + 1,
        n=path_touches.interaction_id.count().over(whole),
        decay_seconds=seconds.max().over(whole) - seconds,
    )


def converted_touches(source: Source, as_of: datetime | None = None) -> ir.Table:
    """The touchpoints of converted paths, unranked: contact_id, converted_at,
    interaction_id, occurred_at, campaign_id, channel."""
    lookback = source.settings.attribution_lookback_days
    buyers = customers(source, as_of).select("contact_id", "converted_at")
    touches = touchpoints(source, as_of)
    joined = buyers.inner_join(
        touches,
        [
            buyers.contact_id == touches.contact_id,
            touches.occurred_at <= buyers.converted_at,
            shifted_comparison(touches.occurred_at, ">=", buyers.converted_at, -lookback, source),
        ],
    )
    return joined.select(
        buyers.contact_id,
        buyers.converted_at,
        touches.interaction_id,
        touches.occurred_at,
        touches.campaign_id,
        touches.channel,
    )


def converted_paths(source: Source, as_of: datetime | None = None) -> ir.Table:
    """One row per touchpoint of a converted path: contact_id, converted_at,
    interaction_id, occurred_at, campaign_id, channel, k, n, decay_seconds."""
    return _ranked(converted_touches(source, as_of))


def direct_conversions(source: Source, as_of: datetime | None = None) -> ir.Table:
    """Customers without a touchpoint in their lookback window: contact_id, converted_at,
    acquisition_channel."""
    buyers = customers(source, as_of)
    touched = converted_touches(source, as_of).select("contact_id").distinct()
    return buyers.anti_join(touched, "contact_id")


def null_touches(source: Source, as_of: datetime | None = None) -> ir.Table:
    """The touchpoints of null paths, unranked: contact_id, ended_at (its last touch),
    interaction_id, occurred_at, campaign_id, channel."""
    lookback = source.settings.attribution_lookback_days
    touches = touchpoints(source, as_of)
    converted = conversions(source)
    if as_of is not None:
        converted = converted.filter(converted.converted_at <= ibis.literal(as_of))
    prospects = touches.anti_join(converted, "contact_id")
    with_end = prospects.mutate(
        ended_at=prospects.occurred_at.max().over(ibis.window(group_by="contact_id"))
    )
    return with_end.filter(
        shifted_comparison(with_end.occurred_at, ">=", with_end.ended_at, -lookback, source)
    )


def null_paths(source: Source, as_of: datetime | None = None) -> ir.Table:
    """One row per touchpoint of a null path: contact_id, ended_at (its last touch),
    interaction_id, occurred_at, campaign_id, channel, k, n, decay_seconds."""
    return _ranked(null_touches(source, as_of))


# The `as_of` given to the filters when the whole data is wanted: a filter that keeps
# every row. SQLite plans the attribution queries three to four times faster with these
# filters than without (the demo database, attribution by channel: 0.29 s against
# 1.27 s), and unlike the data's latest timestamp it does not change with every write:
# the SQL compiled before a write is reused after it.
WHOLE_DATA = datetime(9999, 12, 31, tzinfo=UTC).replace(tzinfo=None)  # naive UTC


def latest_timestamp(source: Source) -> datetime | None:
    """The default `as_of` (kpis.md): the latest instant of the data as the KPI engine
    reads it (`data_span`: spend days included), so that attribution, levers and KPIs
    count the same data as known; None when the data holds no date at all."""
    return data_span(source)[1]


def local_date(instant_utc: datetime, source: Source) -> date:
    """The company-local calendar date of a naive UTC instant."""
    return to_local(instant_utc, source.settings.timezone).date()


def first_activity_date(source: Source, as_of: datetime | None) -> date | None:
    """The local date of the earliest conversion, touch or spend that attribution can see
    (the default start of a report), None when there is none."""
    buyers = customers(source, as_of)
    first_conversion = buyers.aggregate(first=buyers.converted_at.min())
    touches = touchpoints(source, as_of)
    first_touch = touches.aggregate(first=touches.occurred_at.min())
    union = ibis.union(first_conversion, first_touch)
    value = source.execute(union.aggregate(first=union.first.min()))["first"].iloc[0]
    days: list[date] = []
    if value is not None and not pd.isna(value):
        days.append(local_date(pd.Timestamp(value).to_pydatetime(), source))
    spend = source.table("spend")
    first_spend = source.execute(spend.aggregate(first=spend.spent_on.min()))["first"].iloc[0]
    if first_spend is not None and not pd.isna(first_spend):
        days.append(pd.Timestamp(first_spend).date())
    return min(days) if days else None


def bucketed(table: ir.Table, instant_column: str, periods: list[Period]) -> ir.Table:
    """`table` restricted to the rows whose `instant_column` falls in one of `periods`,
    with the period's `period` label attached (the engine's range join)."""
    joined = bucket(table, instant_column, periods)
    return joined.drop("period_start", "period_end")


def query_parts(
    by: By | None = None, periods: Sequence[Period] = (), as_of: datetime | None = None
) -> dict[str, Any]:
    """What an attribution query is built from besides the source (`run_kept`)."""
    return {
        "by": by,
        "periods": periods_key(periods),
        "as_of": None if as_of is None else as_of.isoformat(),
    }
