"""A write through the API rescores the contact at once (scoring.md: any change to a
contact's interactions, stage or orders rescores it) and makes cached KPIs stale."""

from __future__ import annotations

from api_helpers import post_json

from pilotage.web.dashboard.cache import data_version
from pilotage.web.scoring.models import ContactScore


def test_posting_an_interaction_rescores_its_contact(company_tx):
    client = company_tx.client("admin")
    version = data_version()
    response = post_json(
        client,
        "/api/v1/interactions",
        {
            "interaction_id": "i9",
            "contact_id": "c1",
            "occurred_at": "2024-01-12T10:00:00Z",
            "type": "demo",
        },
    )
    assert response.status_code == 201, response.content
    scores = ContactScore.objects.filter(contact_id="c1")
    assert scores.filter(is_latest=True).count() == 1
    # The other contacts were not touched by this write.
    assert not ContactScore.objects.exclude(contact_id="c1").exists()
    assert data_version() > version


def test_a_batch_rescores_every_contact_it_touches(company_tx):
    client = company_tx.client("admin")
    rows = [
        {
            "order_id": f"o9{n}",
            "contact_id": contact_id,
            "ordered_at": "2024-01-15T10:00:00Z",
            "amount": "25.00",
        }
        for n, contact_id in enumerate(["c2", "c3"])
    ]
    response = post_json(client, "/api/v1/orders/batch", {"rows": rows})
    assert response.status_code == 200, response.content
    rescored = set(ContactScore.objects.values_list("contact_id", flat=True))
    assert rescored == {"c2", "c3"}


def test_deleting_an_order_rescores_its_contact(company_tx):
    client = company_tx.client("admin")
    assert client.delete("/api/v1/orders/o4").status_code in (200, 204)
    assert set(ContactScore.objects.values_list("contact_id", flat=True)) == {"c4"}
