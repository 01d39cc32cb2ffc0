"""The permission matrix: every endpoint x every role (admin, manager of team North, rep
r1, a read-only token, anonymous), with the other team's ids. Outside its scope a user
gets 404 (or 403 for a row it may read but not write), never the data."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import ROLES, Company, post_json, store_score

pytestmark = pytest.mark.django_db

CONTACT_OF = {
    "stage_changes": None,  # by surrogate id, see ids()
    "interactions": {"i1": "c1", "i2": "c2", "i3": "c3", "i4": "c4"},
    "deals": {"d1": "c1", "d2": "c2", "d3": "c3", "d4": "c4"},
    "orders": {"o1": "c1", "o2": "c2", "o3": "c3", "o4": "c4"},
    "subscriptions": {"s1": "c1", "s2": "c2", "s3": "c3", "s4": "c4"},
}
VISIBLE_CONTACTS = {
    "admin": {"c1", "c2", "c3", "c4"},
    "manager": {"c1", "c2"},
    "readonly": {"c1", "c2"},
    "rep": {"c1"},
    "anonymous": set(),
}
TABLES = (
    "contacts",
    "stage_changes",
    "interactions",
    "deals",
    "orders",
    "subscriptions",
    "reps",
    "campaigns",
    "spend",
)


def ids(company: Company, table: str) -> dict[Any, str | None]:
    """Every row id of `table` -> the contact it belongs to (None: not a contact's)."""
    if table == "contacts":
        return {c: c for c in ("c1", "c2", "c3", "c4")}
    if table == "stage_changes":
        return {pk: contact for contact, pk in company.stage_ids.items()}
    if table in CONTACT_OF:
        return dict(CONTACT_OF[table] or {})
    if table == "reps":
        return {"r1": None, "r2": None, "r3": None}
    if table == "campaigns":
        return {"k1": None}
    return {company.spend_id: None}


def visible_ids(company: Company, role: str, table: str) -> set[Any]:
    rows = ids(company, table)
    if role == "anonymous":
        return set()
    if table == "reps":
        return {"admin": {"r1", "r2", "r3"}, "rep": {"r1"}}.get(role, {"r1", "r2"})
    if table == "campaigns":
        return {"k1"}
    if table == "spend":
        return set() if role == "rep" else set(rows)
    return {pk for pk, contact in rows.items() if contact in VISIBLE_CONTACTS[role]}


def writable(role: str, table: str) -> bool:
    if role in ("anonymous", "readonly"):
        return False
    if table in ("reps", "campaigns", "spend"):
        return role == "admin"
    return True


def new_row(table: str, role: str) -> dict[str, Any]:
    owner = {"admin": "r3", "manager": "r2", "rep": "r1"}.get(role, "r1")
    ts = "2024-02-01T10:00:00Z"
    return {
        "contacts": {"contact_id": "new", "created_at": ts, "channel": "web", "owner_id": owner},
        "stage_changes": {"contact_id": "c1", "stage": "mql", "changed_at": ts},
        "interactions": {
            "interaction_id": "new",
            "contact_id": "c1",
            "occurred_at": ts,
            "type": "call",
        },
        "deals": {"deal_id": "new", "contact_id": "c1", "created_at": ts, "status": "open"},
        "orders": {"order_id": "new", "contact_id": "c1", "ordered_at": ts, "amount": "1"},
        "subscriptions": {
            "subscription_id": "new",
            "contact_id": "c1",
            "started_at": ts,
            "mrr": "3",
        },
        "reps": {"rep_id": "new", "name": "New"},
        "campaigns": {"campaign_id": "new", "name": "New", "channel": "web"},
        "spend": {"spent_on": "2024-02-01", "amount": "5", "channel": "web"},
    }[table]


def key_of(table: str, row: dict[str, Any]) -> Any:
    return row.get("id") or row.get(
        {
            "contacts": "contact_id",
            "interactions": "interaction_id",
            "deals": "deal_id",
            "orders": "order_id",
            "subscriptions": "subscription_id",
            "reps": "rep_id",
            "campaigns": "campaign_id",
        }.get(table, "id")
    )


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_list_shows_exactly_the_scope(company: Company, role: str, table: str) -> None:
    response = company.client(role).get(f"/api/v1/{table}")
    if role == "anonymous":
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
        return
    assert response.status_code == 200
    assert {key_of(table, row) for row in response.json()["items"]} == visible_ids(
        company, role, table
    )


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_each_row_answers_by_scope(company: Company, role: str, table: str) -> None:
    """GET, PUT, PATCH and DELETE of every row, inside and outside the role's scope."""
    client = company.client(role)
    visible = visible_ids(company, role, table)
    for pk in ids(company, table):
        url = f"/api/v1/{table}/{pk}"
        got = client.get(url)
        expected = 401 if role == "anonymous" else 200 if pk in visible else 404
        assert got.status_code == expected, (url, got.content)
        if expected == 404:
            assert got.json() == {
                "error": "not_found",
                "message": got.json()["message"],
                "details": [],
            }
        patch = client.patch(url, {"attributes": {"k": "v"}}, content_type="application/json")
        delete = client.delete(url)
        for response in (patch, delete):
            if role == "anonymous":
                assert response.status_code == 401
            elif pk not in visible:
                assert response.status_code == 404, (url, response.content)
            elif not writable(role, table):
                assert response.status_code == 403, (url, response.content)
            else:
                assert response.status_code in (200, 204), (url, response.content)
            # Never the data of a row outside the scope.
            if pk not in visible and response.content:
                assert "attributes" not in response.json()


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_create_and_batch_by_role(company: Company, role: str, table: str) -> None:
    client = company.client(role)
    row = new_row(table, role)
    created = post_json(client, f"/api/v1/{table}", row)
    batch = post_json(client, f"/api/v1/{table}/batch", {"rows": [row]})
    if role == "anonymous":
        assert (created.status_code, batch.status_code) == (401, 401)
    elif not writable(role, table):
        assert (created.status_code, batch.status_code) == (403, 403)
    else:
        assert created.status_code == 201, created.content
        assert batch.status_code == 200, batch.content
        assert batch.json()["unchanged"] == 1


@pytest.mark.parametrize("role", ["manager", "rep"])
def test_rows_of_another_team_cannot_be_written_or_referenced(company: Company, role: str) -> None:
    client = company.client(role)
    # A contact handed to the other team's rep.
    contact = new_row("contacts", role) | {"owner_id": "r3"}
    response = post_json(client, "/api/v1/contacts", contact)
    assert response.status_code == 422
    assert response.json()["details"][0]["column"] == "owner_id"
    # A row on the other team's contact: that contact does not exist for this user.
    for table in ("interactions", "deals", "orders", "subscriptions", "stage_changes"):
        row = new_row(table, role) | {"contact_id": "c3"}
        response = post_json(client, f"/api/v1/{table}/batch", {"rows": [row]})
        assert response.status_code == 422, response.content
        assert "unknown contact_id 'c3'" in response.json()["details"][0]["reason"]
    # Upserting over the other team's existing row is refused, and says nothing of it.
    response = post_json(
        client,
        "/api/v1/interactions/batch",
        {"rows": [new_row("interactions", role) | {"interaction_id": "i3"}]},
    )
    assert response.status_code == 422
    assert "c3" not in response.content.decode()
    # Moving one's own contact to the other team is refused too.
    response = client.patch(
        "/api/v1/contacts/c1", {"owner_id": "r3"}, content_type="application/json"
    )
    assert response.status_code == 422


@pytest.mark.parametrize("role", ROLES)
def test_analytics_audit_imports_and_score_by_role(company: Company, role: str) -> None:
    client = company.client(role)
    expected_analytics = {"admin": 200, "manager": 200, "readonly": 200}.get(role, 403)
    if role == "anonymous":
        expected_analytics = 401
    response = client.get("/api/v1/kpis", {"kpi": "new_leads", "grain": "year"})
    assert response.status_code == expected_analytics, response.content
    response = client.get("/api/v1/levers")
    assert response.status_code == expected_analytics, response.content
    audit = client.get("/api/v1/audit")
    assert audit.status_code == {"admin": 200, "anonymous": 401}.get(role, 403)
    upload = client.post(
        "/api/v1/imports", {"file": _csv("reps.csv", "rep_id,name\nzz,Zed\n")}, HTTP_HOST="x"
    )
    assert upload.status_code in ({"admin": 202, "anonymous": 401}.get(role, 403), 400)
    job = client.get("/api/v1/imports/00000000-0000-0000-0000-000000000000")
    assert job.status_code == {"anonymous": 401}.get(role, 404)
    # A score of the other team's contact is not found, though it is stored; one's own
    # contact's score is there.
    store_score("c1")
    store_score("c3")
    score = client.get("/api/v1/contacts/c3/score")
    own = client.get("/api/v1/contacts/c1/score")
    if role == "anonymous":
        assert score.status_code == own.status_code == 401
    else:
        assert own.status_code == 200, own.content
        assert own.json()["contact_id"] == "c1"
        assert score.status_code == (200 if role == "admin" else 404), score.content
        if role != "admin":  # the same answer as for an unknown id: nothing told
            assert score.json()["error"] == "not_found"


def _csv(name: str, text: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")
