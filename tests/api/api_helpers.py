"""A small company and one user per role, for the API tests.

reps: r1, r2 (team North), r3 (team South). contacts: c1 (owner r1), c2 (r2), c3 (r3),
c4 (no owner); each contact has one stage change, interaction (i*), deal (d*), order (o*)
and subscription (s*). One campaign k1, one spend row.
Users: admin; manager (North); rep (r1); readonly (a read-only token of the North
manager); anonymous (no credentials).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.test import Client

from pilotage.web.accounts.services import user_create
from pilotage.web.accounts.tokens import token_create
from pilotage.web.crm.models import (
    Campaign,
    Contact,
    Deal,
    Interaction,
    Order,
    Rep,
    Spend,
    StageChange,
    Subscription,
)

PASSWORD = "correct-horse-battery-staple-9"
T0 = dt.datetime(2024, 1, 10, 9, 0, tzinfo=dt.UTC)
ROLES = ("admin", "manager", "rep", "readonly", "anonymous")


@dataclass
class Company:
    tokens: dict[str, str]
    spend_id: int
    stage_ids: dict[str, int]  # contact_id -> its stage change id

    def client(self, role: str, **extra: Any) -> Client:
        headers: dict[str, Any] = {"HTTP_HOST": "localhost", **extra}
        if role in self.tokens:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[role]}"
        return Client(**headers)


def build_company() -> Company:
    reps = {
        "r1": Rep.objects.create(rep_id="r1", name="Ann", team="North"),
        "r2": Rep.objects.create(rep_id="r2", name="Bob", team="North"),
        "r3": Rep.objects.create(rep_id="r3", name="Cid", team="South"),
    }
    Campaign.objects.create(campaign_id="k1", name="Spring", channel="ads")
    spend = Spend.objects.create(
        spend_key="2024-01-01|ads|k1|media",
        spent_on=dt.date(2024, 1, 1),
        amount=Decimal("100"),
        channel="ads",
        campaign_id="k1",
        category="media",
    )
    owners = {"c1": reps["r1"], "c2": reps["r2"], "c3": reps["r3"], "c4": None}
    stage_ids = {}
    for n, (contact_id, owner) in enumerate(owners.items(), start=1):
        contact = Contact.objects.create(
            contact_id=contact_id, created_at=T0, channel="web", owner=owner
        )
        stage_ids[contact_id] = StageChange.objects.create(
            contact=contact, stage="lead", changed_at=T0
        ).pk
        Interaction.objects.create(
            interaction_id=f"i{n}", contact=contact, occurred_at=T0, type="call"
        )
        Deal.objects.create(deal_id=f"d{n}", contact=contact, created_at=T0, status="open")
        Order.objects.create(order_id=f"o{n}", contact=contact, ordered_at=T0, amount=Decimal("10"))
        Subscription.objects.create(
            subscription_id=f"s{n}", contact=contact, started_at=T0, mrr=Decimal("5")
        )
    admin = user_create(username="admin", password=PASSWORD, role="admin")
    manager = user_create(username="manager", password=PASSWORD, role="manager", team="North")
    rep = user_create(username="rep", password=PASSWORD, role="rep", rep_id="r1")
    tokens = {
        "admin": token_create(user=admin).plaintext,
        "manager": token_create(user=manager).plaintext,
        "rep": token_create(user=rep).plaintext,
        "readonly": token_create(user=manager, read_only=True).plaintext,
    }
    return Company(tokens, spend.pk, stage_ids)


JsonCall = Callable[..., Any]


def post_json(client: Client, path: str, body: Any) -> Any:
    return client.post(path, body, content_type="application/json")


def store_score(contact_id: str, *, score: float = 42.5, latest: bool = True) -> Any:
    """A stored score of `contact_id`, as the scoring app writes it (`contact_scores`)."""
    from pilotage.web.scoring.models import ContactScore

    return ContactScore.objects.create(
        contact_id=contact_id,
        computed_at=T0 + dt.timedelta(hours=1),
        as_of=T0,
        model_name="default",
        model_version="1",
        score=score,
        grade="B2",
        groups={"fit": 15, "engagement": score - 15},
        rules=[{"group": "fit", "rule": "industry in target", "points": 15}],
        rfm_r=4,
        rfm_f=2,
        rfm_m=3,
        rfm_segment="promising",
        conversion_probability=0.123456,
        priority=61.25,
        reason="Recent buyer, worth a follow-up",
        reason_fr="Acheteur récent, à relancer",
        is_latest=latest,
    )
