"""Credits per conversion: the table every per-campaign KPI is built on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.attribution.markov import markov_shares
from pilotage.attribution.paths import (
    DIRECT,
    By,
    bucketed,
    converted_paths,
    converted_touches,
    direct_conversions,
    first_activity_date,
    key_column,
    latest_timestamp,
    local_date,
)
from pilotage.attribution.rules import RULE_MODELS, RuleModel, with_rule_credits
from pilotage.contract.settings import ATTRIBUTION_MODELS
from pilotage.engine.backends import Source
from pilotage.engine.periods import Grain, Period, periods_between

Model = Literal["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov"]
MODELS: tuple[Model, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)
assert MODELS == ATTRIBUTION_MODELS  # the settings list the same models, in the same order


def check_model(model: str) -> Model:
    for known in MODELS:
        if model == known:
            return known
    raise ValueError(f"model: {model!r} is not one of {', '.join(MODELS)}")


def as_rule_model(model: str) -> RuleModel:
    for known in RULE_MODELS:
        if model == known:
            return known
    raise ValueError(f"{model!r} is not a rule-based model ({', '.join(RULE_MODELS)})")


def direct_credits(
    source: Source, by: By, as_of: datetime | None, periods: list[Period] | None
) -> ir.Table:
    """Conversions without touchpoints, credit 1: to `(direct)` by campaign, to the
    contact's acquisition channel by channel. With `periods`, a `period` column too."""
    direct = direct_conversions(source, as_of)
    if periods is not None:
        direct = bucketed(direct, "converted_at", periods)
    key_value = ibis.literal(DIRECT) if by == "campaign" else direct.acquisition_channel
    extra = ("period",) if periods is not None else ()
    return direct.select(
        "contact_id",
        "converted_at",
        *extra,
        **{key_column(by): key_value},
        credit=ibis.literal(1.0),
    )


def rule_based_credits(
    source: Source,
    model: RuleModel,
    by: By,
    as_of: datetime | None = None,
    periods: list[Period] | None = None,
) -> ir.Table:
    key = key_column(by)
    paths = converted_paths(source, as_of)
    if periods is not None:
        paths = bucketed(paths, "converted_at", periods)
    scored = with_rule_credits(paths, (model,), source.settings.time_decay_half_life_days)
    groups = ["contact_id", "converted_at", *(["period"] if periods is not None else []), key]
    touched = scored.group_by(groups).aggregate(credit=scored[f"credit_{model}"].sum())
    return ibis.union(touched.select(*groups, "credit"), direct_credits(source, by, as_of, periods))


def markov_credits(
    source: Source, by: By, periods: list[Period], as_of: datetime | None = None
) -> ir.Table:
    """Markov credits per conversion. The chain gives aggregate credits per period
    (conversions x RE_x / sum RE); they are mapped to conversions by giving every
    conversion with touchpoints in period P the share RE_x / sum RE of every state x of
    P's chain, so per-conversion credits sum to 1 and their sum over P's conversions is
    exactly the chain's credit of x. Conversions without touchpoints go to `(direct)`
    as in the other models."""
    key = key_column(by)
    shares = markov_shares(source, by, periods, as_of)
    share_table = ibis.memtable(
        shares[["period", key, "share"]],
        schema={"period": "string", key: "string", "share": "float64"},
    )
    paths = converted_touches(source, as_of)
    touched = bucketed(
        paths.select("contact_id", "converted_at").distinct(), "converted_at", periods
    )
    credited = touched.inner_join(share_table, "period")
    credited = credited.select("contact_id", "converted_at", "period", key, credit=credited.share)
    return ibis.union(credited, direct_credits(source, by, as_of, periods))


def empty_credits(key: str) -> ir.Table:
    """The credits table with no row (no period to report on, or no data)."""
    schema = {
        "contact_id": "string",
        "converted_at": "timestamp",
        key: "string",
        "credit": "float64",
    }
    frame = pd.DataFrame({column: pd.Series([], dtype="object") for column in schema})
    return ibis.memtable(frame).cast(schema)


def default_periods(
    source: Source, grain: Grain, as_of: datetime | None, start: date | None, end: date | None
) -> list[Period]:
    """Periods of `grain` from `start` (default: the first conversion or touch) to `end`
    (default: `as_of`, else the latest timestamp in the data); empty when there is no
    data."""
    if end is None:
        last = as_of if as_of is not None else latest_timestamp(source)
        if last is None:
            return []
        end = local_date(last, source)
    if start is None:
        start = first_activity_date(source, as_of) or end
        start = min(start, end)
    return periods_between(start, end, grain, source.settings)


def credits(
    source: Source,
    model: str = "linear",
    by: By = "campaign",
    *,
    grain: Grain = "quarter",
    periods: list[Period] | None = None,
    as_of: datetime | None = None,
) -> ir.Table:
    """Attribution credits, one row per (conversion, campaign or channel).

    Columns: contact_id, converted_at (naive UTC), `campaign_id` or `channel` (per `by`),
    credit (float64). The credits of one conversion sum to 1. A conversion without
    touchpoint in its lookback window is credited 1 to `(direct)` by campaign, and to the
    contact's acquisition channel by channel.

    `as_of` (naive UTC): conversions and touches after it are unknown (default: all the
    data). Rule-based models credit every conversion, or only those in `periods` when
    given. The Markov chain is fitted per period (`periods`, else every period of `grain`
    that the data spans), and every conversion with touchpoints of period P gets, for
    every state x of P's chain, the credit RE_x / sum RE (see `markov_credits`).
    """
    checked = check_model(model)
    key = key_column(by)
    if checked == "markov" and periods is None:
        periods = default_periods(source, grain, as_of, None, None)
    if periods is not None and not periods:
        return empty_credits(key)
    if checked == "markov":
        assert periods is not None
        table = markov_credits(source, by, periods, as_of)
    else:
        table = rule_based_credits(source, as_rule_model(checked), by, as_of, periods)
    table = table.select("contact_id", "converted_at", key, "credit")
    # first/last touch and position-based leave some touchpoints at 0: not a credit.
    return table.filter(table.credit != 0)
