"""What the table endpoints do: create, read, replace, change, delete, batch upsert,
filters and cursor pagination, surrogate ids, and the audit entry of every write."""

from __future__ import annotations

import re
from typing import Any

import pytest
from api_helpers import Company, post_json

from pilotage.web.audit.models import AuditEntry
from pilotage.web.crm.models import Contact, Interaction, Spend

pytestmark = pytest.mark.django_db


def test_crud_round_trip_with_audit(company: Company) -> None:
    client = company.client("rep")
    row = {
        "contact_id": "c9",
        "created_at": "2024-03-05T10:00:00+01:00",
        "channel": "web",
        "owner_id": "r1",
        "employees": 12,
        "attributes": {"colour": "blue"},
    }
    created = post_json(client, "/api/v1/contacts", row)
    assert created.status_code == 201, created.content
    assert created.json()["created_at"] == "2024-03-05T09:00:00Z"  # stored in UTC
    assert created.json()["attributes"] == {"colour": "blue"}
    assert post_json(client, "/api/v1/contacts", row).status_code == 409
    changed = client.patch(
        "/api/v1/contacts/c9",
        {"city": "Lyon", "employees": None},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert (changed.json()["city"], changed.json()["employees"]) == ("Lyon", None)
    assert changed.json()["attributes"] == {"colour": "blue"}  # PATCH keeps the others
    replaced = client.put(
        "/api/v1/contacts/c9", row | {"attributes": None}, content_type="application/json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["city"] is None
    assert replaced.json()["attributes"] == {}
    assert client.delete("/api/v1/contacts/c9").status_code == 204
    assert client.get("/api/v1/contacts/c9").status_code == 404
    entries = list(AuditEntry.objects.filter(object_id="c9").order_by("id"))
    assert [e.action for e in entries] == ["create", "update", "update", "delete"]
    assert {e.door for e in entries} == {"api"}
    assert {e.username for e in entries} == {"rep"}
    assert entries[1].changes == {"city": [None, "Lyon"], "employees": [12, None]}
    assert entries[0].changes["created_at"] == [None, "2024-03-05T09:00:00+00:00"]
    assert entries[3].changes["contact_id"] == ["c9", None]


def test_batch_upsert_is_idempotent_and_all_or_nothing(company: Company) -> None:
    client = company.client("admin")
    rows = [
        {"interaction_id": f"b{n}", "contact_id": "c1", "occurred_at": "2024-02-01", "type": "call"}
        for n in range(500)
    ]
    first = post_json(client, "/api/v1/interactions/batch", {"rows": rows})
    assert first.json() == {"rows": 500, "inserted": 500, "updated": 0, "unchanged": 0}
    rows[7]["type"] = "meeting"
    second = post_json(client, "/api/v1/interactions/batch", {"rows": rows})
    assert second.json() == {"rows": 500, "inserted": 0, "updated": 1, "unchanged": 499}
    assert Interaction.objects.get(pk="b7").type == "meeting"
    # One bad row: none of the 501 is written.
    rows.append({**rows[0], "interaction_id": "b500", "contact_id": "ghost"})
    rows[8]["type"] = "demo"
    third = post_json(client, "/api/v1/interactions/batch", {"rows": rows})
    assert third.status_code == 422
    assert third.json()["details"] == [
        {
            "index": 500,
            "id": "b500",
            "column": "contact_id",
            "reason": "unknown contact_id 'ghost' (not in contacts)",
        }
    ]
    assert not Interaction.objects.filter(pk="b500").exists()
    assert Interaction.objects.get(pk="b8").type == "call"


def test_filters_and_cursor_pagination(company: Company) -> None:
    client = company.client("admin")
    post_json(
        client,
        "/api/v1/interactions/batch",
        {
            "rows": [
                {
                    "interaction_id": f"p{n:03}",
                    "contact_id": "c2",
                    "occurred_at": "2024-02-01",
                    "type": "email_open" if n % 2 else "call",
                }
                for n in range(25)
            ]
        },
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"contact_id": "c2", "type": "call", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/interactions", params).json()
        seen += [row["interaction_id"] for row in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_\-:.]+", cursor)  # opaque, URL-safe
    assert seen == sorted(["i2", *(f"p{n:03}" for n in range(0, 25, 2))])
    by_time = client.get("/api/v1/contacts", {"created_at": "2024-01-10T09:00:00Z"}).json()
    assert len(by_time["items"]) == 4
    # A cursor of one list is refused by another.
    other = client.get("/api/v1/contacts", {"cursor": cursor or _cursor_of(client)})
    assert other.status_code == 400


def _cursor_of(client: Any) -> str:
    return str(client.get("/api/v1/interactions", {"limit": 1}).json()["next"])


def test_surrogate_ids_of_spend_and_stage_changes(company: Company) -> None:
    client = company.client("admin")
    spend = client.get(f"/api/v1/spend/{company.spend_id}").json()
    assert spend["id"] == company.spend_id
    assert spend["amount"] == "100.0000"
    changed = client.patch(
        f"/api/v1/spend/{company.spend_id}", {"amount": "120.5"}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert changed.json()["amount"] == "120.5000"
    # Changing the identity columns keeps the id, and moves the row identity with them.
    moved = client.patch(
        f"/api/v1/spend/{company.spend_id}", {"category": "events"}, content_type="application/json"
    )
    assert moved.json()["id"] == company.spend_id
    assert Spend.objects.get(pk=company.spend_id).spend_key == "2024-01-01|ads|k1|events"
    stage = company.stage_ids["c1"]
    assert client.get(f"/api/v1/stage_changes/{stage}").json()["stage"] == "lead"
    # Batch upsert by the contract identity (contact, stage, changed_at): no duplicate.
    again = post_json(
        client,
        "/api/v1/stage_changes/batch",
        {"rows": [{"contact_id": "c1", "stage": "lead", "changed_at": "2024-01-10T09:00:00Z"}]},
    )
    assert again.json()["unchanged"] == 1


def test_deleting_a_contact_takes_its_rows_and_says_so(company: Company) -> None:
    client = company.client("admin")
    assert client.delete("/api/v1/contacts/c4").status_code == 204
    assert not Interaction.objects.filter(contact_id="c4").exists()
    entry = AuditEntry.objects.get(table="contacts", object_id="c4", action="delete")
    assert entry.changes["deleted_rows"][0]["crm.Interaction"] == 1
    assert Contact.objects.filter(pk="c4").count() == 0


def test_audit_listing_filters_and_pages(company: Company) -> None:
    client = company.client("admin")
    for city in ("A", "B", "C"):
        client.patch("/api/v1/contacts/c1", {"city": city}, content_type="application/json")
    page = client.get("/api/v1/audit", {"table": "contacts", "object_id": "c1", "limit": 2})
    body = page.json()
    assert [item["changes"]["city"] for item in body["items"]] == [["B", "C"], ["A", "B"]]
    rest = client.get(
        "/api/v1/audit",
        {"table": "contacts", "object_id": "c1", "limit": 2, "cursor": body["next"]},
    ).json()
    assert [item["changes"]["city"] for item in rest["items"]] == [[None, "A"]]
    assert rest["next"] is None
