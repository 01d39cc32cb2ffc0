"""Sales team evaluation against the quality of the leads: expected_wins and
wins_over_expected (kpis.md "Sales team", scoring.md section 3).

For a period P and a rep (the contacts' `owner_id`): the contacts created in P and owned by
the rep are the leads it was given. Each lead's probability at assignment is the conversion
probability of its first stored score computed as of its creation or later, within
`grace_days` (default 1 day: the CRM scores a contact right after it is created) and before
it converted; leads without one are counted as `unscored` and left out of both sides.

- expected_wins = sum of those probabilities;
- wins = those scored leads whose conversion delay max(0, converted_at - created_at) is
  < W (`conversion_window_days`, the definition of lead_conversion_rate);
- wins_over_expected = wins - expected_wins (positive: the rep did better than its leads
  predicted). complete iff P.end + W <= as_of.

The score history comes from the CRM's `contact_scores` table (stored by
`pilotage.web.scoring`) in the source's database, or is given as a frame (`contact_id`,
`as_of`, `conversion_probability`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd

from pilotage.engine.backends import Source
from pilotage.engine.conversions import conversions
from pilotage.engine.periods import Period
from pilotage.engine.span import data_span

HISTORY_TABLE = "contact_scores"
NO_OWNER = None


def score_history(source: Source) -> pd.DataFrame:
    """The stored scores of the source's CRM database (empty when there are none)."""
    try:
        tables = set(source.backend.list_tables())
    except Exception:  # a backend that cannot list tables has no history
        tables = set()
    if HISTORY_TABLE not in tables:
        return pd.DataFrame(columns=["contact_id", "as_of", "conversion_probability"])
    table = source.backend.table(HISTORY_TABLE)
    history = table.filter(table.conversion_probability.notnull()).select(
        contact_id=table.contact_id.cast("string"),
        as_of=table.as_of.cast("timestamp"),
        conversion_probability=table.conversion_probability.cast("float64"),
    )
    frame: pd.DataFrame = source.execute(history)
    return frame


def expected_wins(
    source: Source,
    periods: Sequence[Period],
    *,
    history: pd.DataFrame | None = None,
    as_of: datetime | None = None,
    grace_days: float = 1.0,
) -> pd.DataFrame:
    """One row per period and owner: period, period_start, period_end, owner_id,
    leads_assigned, scored_leads, unscored_leads, expected_wins, wins, wins_over_expected,
    complete."""
    window = source.settings.conversion_window_days
    as_of = as_of or data_span(source)[1]
    history = score_history(source) if history is None else history
    contacts_table = source.table("contacts")
    contacts: pd.DataFrame = source.execute(
        contacts_table.select("contact_id", "created_at", "owner_id")
    )
    converted: pd.DataFrame = source.execute(conversions(source))
    contacts["contact_id"] = contacts["contact_id"].astype(str)
    contacts["created_at"] = pd.to_datetime(contacts["created_at"])
    converted_at = pd.Series(
        pd.to_datetime(converted["converted_at"]).to_numpy(),
        index=converted["contact_id"].astype(str).to_numpy(),
    )
    # reindex, not map: mapping through an empty Series of instants fails in pandas.
    contacts["converted_at"] = converted_at.reindex(contacts["contact_id"].to_numpy()).to_numpy()
    contacts["probability"] = _probability_at_assignment(contacts, history, grace_days)
    delay = (contacts["converted_at"] - contacts["created_at"]).dt.total_seconds().clip(lower=0)
    contacts["won"] = delay.notna() & (delay < window * 86_400.0)
    rows = []
    for period in periods:
        start, end = pd.Timestamp(period.start_utc), pd.Timestamp(period.end_utc)
        members = contacts[(contacts["created_at"] >= start) & (contacts["created_at"] < end)]
        complete = as_of is not None and period.end_utc + timedelta(days=window) <= as_of
        for owner, group in members.groupby(members["owner_id"].astype("object"), dropna=False):
            scored = group[group["probability"].notna()]
            expected = float(scored["probability"].sum())
            wins = int(scored["won"].sum())
            rows.append(
                {
                    "period": period.label,
                    "period_start": period.start_local.isoformat(),
                    "period_end": period.end_local.isoformat(),
                    "owner_id": None if pd.isna(owner) else str(owner),
                    "leads_assigned": len(group),
                    "scored_leads": len(scored),
                    "unscored_leads": len(group) - len(scored),
                    "expected_wins": expected,
                    "wins": wins,
                    "wins_over_expected": wins - expected if len(scored) else None,
                    "complete": complete,
                }
            )
    return pd.DataFrame(rows)


def _probability_at_assignment(
    contacts: pd.DataFrame, history: pd.DataFrame, grace_days: float
) -> pd.Series:
    if history.empty:
        return pd.Series(float("nan"), index=contacts.index)
    scores = history.assign(
        contact_id=history["contact_id"].astype(str),
        as_of=pd.to_datetime(history["as_of"]),
    ).sort_values(["contact_id", "as_of"])
    joined = contacts[["contact_id", "created_at", "converted_at"]].merge(
        scores, on="contact_id", how="left"
    )
    eligible = (
        (joined["as_of"] >= joined["created_at"])
        & (joined["as_of"] <= joined["created_at"] + pd.Timedelta(days=grace_days))
        & (joined["converted_at"].isna() | (joined["as_of"] < joined["converted_at"]))
    )
    first = joined[eligible].groupby("contact_id", sort=False).first()["conversion_probability"]
    return contacts["contact_id"].map(first).astype("float64")
