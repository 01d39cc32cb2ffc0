"""Hand-made attribution data sets: a few contacts, campaigns, touches and orders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pandas as pd

from pilotage.attribution import MODELS
from pilotage.contract.schema import TABLE_NAMES, engine_schema
from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source, from_frames

# campaign_id -> channel; c1 and c4 share a channel (web), so that paths by channel
# have self-loops where the same paths by campaign have none.
CAMPAIGNS = {"c1": "web", "c2": "email", "c3": "ads", "c4": "web"}

Touch = tuple[str, str, str, str]  # interaction_id, contact_id, occurred_at, campaign_id
# contact_id, ordered_at, amount[, margin]
Order = tuple[str, str, float] | tuple[str, str, float, float | None]
Spend = tuple[str, str, str | None, float]  # spent_on, channel, campaign_id, amount


def build_source(
    touches: Iterable[Touch] = (),
    orders: Iterable[Order] = (),
    spend: Iterable[Spend] = (),
    *,
    contacts: dict[str, str] | None = None,
    campaigns: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> Source:
    """A DuckDB source. `contacts` maps contact_id -> acquisition channel (default: every
    contact mentioned, acquired on `store`); timestamps are naive UTC (settings default)."""
    touches = list(touches)
    orders = list(orders)
    campaigns = CAMPAIGNS if campaigns is None else campaigns
    if contacts is None:
        mentioned = {t[1] for t in touches} | {o[0] for o in orders}
        contacts = dict.fromkeys(sorted(mentioned), "store")
    frames = {name: _empty(name) for name in TABLE_NAMES}
    frames["contacts"] = pd.DataFrame(
        {
            "contact_id": list(contacts),
            "created_at": ["2020-01-01 00:00:00"] * len(contacts),
            "channel": list(contacts.values()),
        }
    )
    frames["campaigns"] = pd.DataFrame(
        {
            "campaign_id": list(campaigns),
            "name": [f"campaign {c}" for c in campaigns],
            "channel": list(campaigns.values()),
        }
    )
    frames["interactions"] = pd.DataFrame(
        {
            "interaction_id": [t[0] for t in touches],
            "contact_id": [t[1] for t in touches],
            "occurred_at": [t[2] for t in touches],
            "type": ["web_visit"] * len(touches),
            "campaign_id": [t[3] for t in touches],
        }
    )
    frames["orders"] = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(orders))],
            "contact_id": [o[0] for o in orders],
            "ordered_at": [o[1] for o in orders],
            "amount": [o[2] for o in orders],
            "status": ["paid"] * len(orders),
            "margin": [o[3] if len(o) > 3 else None for o in orders],
        }
    )
    spend = list(spend)
    frames["spend"] = pd.DataFrame(
        {
            "spent_on": [s[0] for s in spend],
            "channel": [s[1] for s in spend],
            "campaign_id": [s[2] for s in spend],
            "amount": [s[3] for s in spend],
        }
    )
    return from_frames(frames, settings or Settings())


def _empty(name: str) -> pd.DataFrame:
    # Every table is present (empty when unused): see the report about absent tables.
    return pd.DataFrame({column: pd.Series([], dtype="object") for column in engine_schema(name)})


def credits_of(
    source: Source, model: str, by: str = "campaign", **options: object
) -> dict[tuple[str, str], float]:
    """{(contact_id, key): credit} from `pilotage.attribution.credits`."""
    from pilotage.attribution import credits

    key = "campaign_id" if by == "campaign" else "channel"
    frame = source.execute(credits(source, model, by, **options))  # type: ignore[arg-type]
    return {
        (str(row["contact_id"]), str(row[key])): float(row["credit"])
        for row in frame.to_dict("records")
    }


def assert_credits(actual: dict[tuple[str, str], float], expected: dict[tuple[str, str], float]):
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for pair, value in expected.items():
        assert abs(actual[pair] - value) < 1e-9, (pair, actual[pair], value)


def utc(*fields: int) -> datetime:
    """A naive UTC instant, the engines' timestamp type (datetime(*fields) read in UTC)."""
    return datetime(*fields, tzinfo=UTC).replace(tzinfo=None)  # type: ignore[misc]


def all_models() -> Sequence[str]:
    return MODELS
