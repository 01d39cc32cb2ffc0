"""predicted_clv and predicted_ltv_to_cac: what the customers won in a period are expected
to bring, looking forward (scoring.md section 4), against what they cost to win.

Each customer's predicted CLV comes from `pilotage.scoring.scores.customer_value`:
Pareto/NBD and Gamma-Gamma fitted on the paid orders known at `as_of` (weeks, calibration end = the
local date of `as_of`), the discounted margin expected over the next
`clv_horizon_months` months (monthly `discount_rate`, margin `gross_margin`). That is one
fit per run, shared by both KPIs, handed to the engine as a small table (contact_id,
predicted_clv) that the KPI expressions join to the new customers of each period.

Choices where the specification is silent:
- The value is the one predicted at `as_of`, from `as_of` on: for the customers won in a
  recent period it is their forward lifetime value; for an older period, what they are
  still expected to bring (the part already earned is in historical KPIs).
- A new customer without a paid order by `as_of` (converted by a subscription only) has
  no purchase history for these models: it is left out of the mean (the denominator
  counts the customers with a predicted value).
- By campaign, predicted_ltv_to_cac weighs each customer by its attribution credit, as
  CAC by campaign does; predicted_clv by campaign follows new_customers (the contact's
  campaign).
- When the models cannot be fitted (fewer than 100 customers, or a degenerate base), no
  customer has a predicted value: every value is null.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.engine.context import (
    Dimension,
    KpiContext,
    keys,
    ratio,
    ratio_result,
    stack,
)
from pilotage.engine.kpis.acquisition import attributed_customers, cac_parts, cac_value
from pilotage.engine.kpis.frames import context_frame
from pilotage.engine.kpis.funnel import customers

VALUE_SCHEMA = {"contact_id": "string", "predicted_clv": "float64"}


def _customer_values(ctx: KpiContext) -> ir.Table:
    frame = context_frame(ctx, "predicted_clv", lambda: _customer_values_frame(ctx))
    return ibis.memtable(frame, schema=VALUE_SCHEMA)


def _customer_values_frame(ctx: KpiContext) -> pd.DataFrame:
    # Imported here: pilotage.scoring builds on the engine, not the other way round.
    from pilotage.scoring.scores import customer_value

    value = customer_value(ctx.source, ctx.as_of)
    if value is None:
        return pd.DataFrame({name: [] for name in VALUE_SCHEMA})
    found = value.customers["predicted_clv"].dropna()
    return pd.DataFrame(
        {
            "contact_id": found.index.astype(str),
            "predicted_clv": found.to_numpy(dtype="float64"),
        }
    )


def _value_parts(ctx: KpiContext, by: Dimension | None, *, attributed: bool) -> ir.Table:
    """Per period: `valued` = (credited) new customers with a predicted value, and
    `value_sum` = their (credited) predicted CLV."""
    if attributed:
        won = attributed_customers(ctx, by)
    else:
        won = customers(ctx, by).mutate(credit=ibis.literal(1.0))
    won = ctx.bucket(won, "converted_at")
    values = _customer_values(ctx)
    joined = won.inner_join(values, "contact_id")
    return joined.group_by(keys(by)).aggregate(
        value_sum=(joined.credit * joined.predicted_clv).sum(),
        valued=joined.credit.sum(),
    )


def predicted_clv(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = _value_parts(ctx, by, attributed=False)
    return ratio_result(parts, by, parts.value_sum, parts.valued)


def predicted_ltv_to_cac(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    parts = stack(
        [_value_parts(ctx, by, attributed=True), cac_parts(ctx, by)],
        keys(by),
        ["value_sum", "valued", "spend", "customers"],
    )
    mean_value = ratio(parts.value_sum.fill_null(0.0), parts.valued.fill_null(0.0))
    return ratio_result(parts, by, mean_value, cac_value(parts, by))
