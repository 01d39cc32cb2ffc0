"""Bad input: malformed JSON, wrong types, unknown fields, huge payloads, ids of other
tables that do not exist. Each gets a clear 4xx in the error format, and nothing is
written (the tables and the audit log are as before)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_helpers import Company, post_json

from pilotage.web.audit.models import AuditEntry
from pilotage.web.crm.models import CONTRACT_MODELS

pytestmark = pytest.mark.django_db

GOOD = {
    "interaction_id": "i9",
    "contact_id": "c1",
    "occurred_at": "2024-02-01T10:00:00Z",
    "type": "call",
}


def counts() -> dict[str, int]:
    state = {name: model._default_manager.count() for name, model in CONTRACT_MODELS.items()}
    state["audit"] = AuditEntry.objects.count()
    return state


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert isinstance(body["message"], str)
    assert body["message"]
    if code is not None:
        assert body["error"] == code
    return body


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "{'single': 'quotes'}",
        '{"rows": [}',
        "\x00\x01\x02",
        '{"rows": NaN}',
        "[" * 100_000 + "]" * 100_000,  # nesting deeper than any parser's recursion
        b"\xff\xfe\xfa",
    ],
)
def test_malformed_json(company: Company, body: Any) -> None:
    before = counts()
    response = company.client("admin").post(
        "/api/v1/interactions/batch", body, content_type="application/json"
    )
    assert_error(response, 400, "malformed_json")
    assert counts() == before


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ({**GOOD, "occurred_at": 12.5e300}, "occurred_at"),
        ({**GOOD, "occurred_at": "yesterday"}, "occurred_at"),
        ({**GOOD, "contact_id": 42}, "contact_id"),
        ({**GOOD, "contact_id": None}, "contact_id"),
        ({**GOOD, "type": ["call"]}, "type"),
        ({**GOOD, "attributes": {"x": {"nested": 1}}}, "attributes"),
        ({**GOOD, "attributes": "text"}, "attributes"),
        ({**GOOD, "interaction_id": "a\x00b"}, "interaction_id"),
        ({**GOOD, "favourite_colour": "blue"}, "favourite_colour"),  # unknown field
        ({k: v for k, v in GOOD.items() if k != "type"}, "type"),  # missing
    ],
)
def test_wrong_types_unknown_and_missing_fields(
    company: Company, row: dict[str, Any], where: str
) -> None:
    before = counts()
    client = company.client("admin")
    single = assert_error(post_json(client, "/api/v1/interactions", row), 422, "invalid_input")
    assert any(where in detail["loc"] for detail in single["details"]), single
    batch = post_json(client, "/api/v1/interactions/batch", {"rows": [GOOD, row]})
    assert_error(batch, 422, "invalid_input")
    assert counts() == before


def test_rules_of_the_contract_are_per_row_errors_with_index_and_id(company: Company) -> None:
    before = counts()
    rows = [
        GOOD,
        {**GOOD, "interaction_id": "i10", "contact_id": "nobody"},  # unknown contact
        {**GOOD, "interaction_id": "i11", "campaign_id": "no-such-campaign"},
        {**GOOD, "interaction_id": "i12", "rep_id": "no-such-rep"},
        {**GOOD, "interaction_id": "i9"},  # duplicate id within the batch
    ]
    body = assert_error(
        post_json(company.client("admin"), "/api/v1/interactions/batch", {"rows": rows}),
        422,
        "invalid_rows",
    )
    found = {(d["index"], d["id"], d["column"]) for d in body["details"]}
    assert (1, "i10", "contact_id") in found
    assert (2, "i11", "campaign_id") in found
    assert (3, "i12", "rep_id") in found
    assert (0, "i9", "interaction_id") in found
    assert (4, "i9", "interaction_id") in found
    assert "unknown contact_id 'nobody'" in json.dumps(body)
    assert counts() == before


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [
        (
            "orders",
            {"order_id": "o9", "contact_id": "c1", "ordered_at": "2024-01-01", "amount": "-1"},
            "amount",
        ),
        (
            "orders",
            {
                "order_id": "o9",
                "contact_id": "c1",
                "ordered_at": "2024-01-01",
                "amount": "1.123456",
            },
            "amount",
        ),
        (
            "deals",
            {"deal_id": "d9", "contact_id": "c1", "created_at": "2024-01-01", "status": "won"},
            "closed_at",
        ),
        (
            "spend",
            {"spent_on": "2024-01-01", "amount": "1", "channel": "web", "campaign_id": "k1"},
            "channel",
        ),  # k1 runs in ads
        (
            "contacts",
            {"contact_id": "x" * 101, "created_at": "2024-01-01", "channel": "web"},
            "contact_id",
        ),
        (
            "subscriptions",
            {
                "subscription_id": "s9",
                "contact_id": "c1",
                "started_at": "2024-02-01",
                "ended_at": "2024-01-01",
                "mrr": "1",
            },
            "ended_at",
        ),
    ],
)
def test_contract_rules_apply_to_api_writes(
    company: Company, table: str, row: dict[str, Any], column: str
) -> None:
    before = counts()
    body = assert_error(
        post_json(company.client("admin"), f"/api/v1/{table}", row), 422, "invalid_rows"
    )
    assert body["details"][0]["column"] == column
    assert counts() == before


def test_huge_payloads(company: Company, settings: Any) -> None:
    before = counts()
    client = company.client("admin")
    too_many = {"rows": [GOOD | {"interaction_id": f"x{n}"} for n in range(10_001)]}
    assert_error(post_json(client, "/api/v1/interactions/batch", too_many), 422)
    settings.PILOTAGE_MAX_REQUEST_BYTES = 1_000_000
    huge = {"rows": [GOOD | {"interaction_id": "y" * 2_000_000}]}
    assert_error(post_json(client, "/api/v1/interactions/batch", huge), 413, "too_large")
    assert_error(post_json(client, "/api/v1/interactions", {}), 422)
    assert counts() == before


def test_bad_query_parameters(company: Company) -> None:
    client = company.client("admin")
    assert_error(client.get("/api/v1/contacts", {"limit": "0"}), 422)
    assert_error(client.get("/api/v1/contacts", {"limit": "ten"}), 422)
    assert_error(client.get("/api/v1/contacts", {"colour": "blue"}), 422)
    assert_error(client.get("/api/v1/contacts", {"created_at": "soon"}), 422)
    assert_error(client.get("/api/v1/contacts", {"employees": str(2**70)}), 422)
    assert_error(client.get("/api/v1/contacts", {"cursor": "forged"}), 400, "invalid_cursor")
    assert_error(client.get("/api/v1/spend/99999999999999999999999"), 404)
    assert_error(client.get("/api/v1/spend/abc"), 422)
    assert_error(client.get("/api/v1/contacts/a%00b"), 404)
    assert_error(client.get("/api/v1/kpis", {"grain": "fortnight"}), 422, "invalid_parameter")
    assert_error(client.get("/api/v1/kpis", {"as_of": "noon"}), 422, "invalid_parameter")
    assert_error(client.get("/api/v1/levers", {"from": "2024-02-01", "to": "2024-01-01"}), 422)
    assert_error(client.get("/api/v1/imports/not-a-uuid"), 422)
    # The framework's own answers are the API's JSON errors too.
    assert_error(client.get("/api/v1/foos"), 404, "not_found")
    assert_error(client.get("/api/v1/contacts/a%2Fb"), 404, "not_found")
    refused = client.patch("/api/v1/reps")
    assert "PATCH" in assert_error(refused, 405, "method_not_allowed")["message"]


def test_ids_never_change_through_put_or_patch(company: Company) -> None:
    client = company.client("admin")
    response = client.patch(
        "/api/v1/contacts/c1", {"contact_id": "c9"}, content_type="application/json"
    )
    assert_error(response, 409, "conflict")
    response = client.put(
        "/api/v1/interactions/i1",
        GOOD | {"interaction_id": "other"},
        content_type="application/json",
    )
    assert_error(response, 409, "conflict")
