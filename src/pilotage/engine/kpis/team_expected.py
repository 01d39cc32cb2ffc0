"""expected_wins and wins_over_expected (kpis.md "Sales team"): a rep judged on the
quality of the leads it was given, from the stored score history.

The numbers come from `pilotage.scoring.team.expected_wins` (the probability of each lead
at assignment, read from the CRM's `contact_scores` table): one pandas computation per
run, shared by both KPIs, handed to the engine as a small table (periods x owners) that
the KPI expressions aggregate. Company-wide (no breakdown) or `--by owner`.

- expected_wins = sum of the scored leads' probabilities at assignment (leads with a rep
  in charge, `owner_id`); null when none of the period's leads was scored (nothing to
  expect from), or the period has no lead.
- wins_over_expected = wins among those scored leads - expected_wins; null when none was
  scored.

A source without a score history (a contract folder: scores live in the CRM database)
gives null values, and `history_note` says why; never an error.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from pilotage.engine.backends import Source
from pilotage.engine.context import (
    BY_VALUE,
    Dimension,
    KpiContext,
    KpiError,
    finish,
    keys,
    null_float,
)
from pilotage.engine.kpis.frames import context_frame

PER_OWNER_SCHEMA = {
    "period": "string",
    "owner_id": "string",
    "scored_leads": "int64",
    "expected": "float64",
    "wins": "int64",
}
NO_HISTORY_NOTE = (
    "expected_wins, wins_over_expected: null, this source has no stored score history "
    "(the CRM database keeps one, from `pilotage score` and the scoring after imports; a "
    "contract folder has none)"
)


def has_history(source: Source) -> bool:
    """Whether the source's database holds the scoring app's score history."""
    # Imported here: pilotage.scoring imports the engine, not the other way round.
    from pilotage.scoring.team import HISTORY_TABLE

    try:
        return HISTORY_TABLE in set(source.backend.list_tables())
    except Exception:  # a backend that cannot list its tables has no history
        return False


def history_note(source: Source) -> str | None:
    return None if has_history(source) else NO_HISTORY_NOTE


def _per_owner(ctx: KpiContext) -> ir.Table:
    """The per-owner frame of a run, computed once and shared by both KPIs."""
    frame = context_frame(ctx, "expected_wins", lambda: _per_owner_frame(ctx))
    return ibis.memtable(frame, schema=PER_OWNER_SCHEMA)


def _per_owner_frame(ctx: KpiContext) -> pd.DataFrame:
    from pilotage.scoring.cut import SourceAsOf
    from pilotage.scoring.team import expected_wins, score_history

    source: Source = ctx.source
    present = has_history(source)
    history = score_history(source) if present else None
    if history is not None and ctx.cut_at_as_of:
        # The data as known at as_of: later scores, leads, conversions are not seen.
        history = history[pd.to_datetime(history["as_of"]) <= pd.Timestamp(ctx.as_of)]
    if ctx.cut_at_as_of:
        source = SourceAsOf.of(source, ctx.as_of)
    if history is None:
        history = pd.DataFrame(columns=["contact_id", "as_of", "conversion_probability"])
    rows = expected_wins(source, list(ctx.periods), history=history, as_of=ctx.as_of)
    if rows.empty:
        frame = pd.DataFrame({name: [] for name in PER_OWNER_SCHEMA})
    else:
        frame = pd.DataFrame(
            {
                "period": rows["period"].astype(str),
                "owner_id": rows["owner_id"].astype(object),
                "scored_leads": rows["scored_leads"].astype("int64"),
                "expected": rows["expected_wins"].astype("float64") if present else float("nan"),
                "wins": rows["wins"].astype("int64"),
            }
        )
    return frame


def _totals(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    if by is not None and by != "owner":
        raise KpiError(f"expected wins break down by owner (rep), not by {by}")
    per_owner = _per_owner(ctx)
    # Leads given to a rep only (kpis.md: "probabilities at assignment"), as
    # leads_assigned and rep_lead_conversion_rate count them: a lead nobody was given is
    # no rep's, nor the team's.
    per_owner = per_owner.filter(per_owner.owner_id.notnull())
    if by is not None:
        per_owner = per_owner.mutate(**{BY_VALUE: per_owner.owner_id})
    return per_owner.group_by(keys(by)).aggregate(
        scored=per_owner.scored_leads.sum(),
        expected=per_owner.expected.sum(),
        wins=per_owner.wins.sum(),
    )


def expected_wins(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    totals = _totals(ctx, by)
    value = ibis.ifelse(totals.scored > 0, totals.expected, null_float())
    result = totals.mutate(value=value, numerator=null_float(), denominator=null_float())
    return finish(result, by)


def wins_over_expected(ctx: KpiContext, by: Dimension | None) -> ir.Table:
    totals = _totals(ctx, by)
    difference = totals.wins.cast("float64") - totals.expected
    value = ibis.ifelse(totals.scored > 0, difference, null_float())
    result = totals.mutate(value=value, numerator=null_float(), denominator=null_float())
    return finish(result, by)
