"""The API reads the company's settings, saved on the CRM's settings page, as the
dashboard and `pilotage kpi --db` do: the same numbers on every surface (kpis.md), and a
timestamp without offset in the company's time zone (data-contract.md)."""

from __future__ import annotations

import json

import pytest
from api_helpers import Company, post_json
from test_bad_input import assert_error

from pilotage.web.dashboard.models import CompanySetting

pytestmark = pytest.mark.django_db


def test_the_api_reads_the_company_settings(company: Company) -> None:
    CompanySetting.objects.create(name="timezone", value=json.dumps("Europe/Paris"))
    CompanySetting.objects.create(name="gross_margin", value=json.dumps(0.5))
    client = company.client("admin")
    document = client.get("/api/v1/kpis", {"kpi": "new_leads", "grain": "year"}).json()
    assert (document["settings"]["timezone"], document["settings"]["gross_margin"]) == (
        "Europe/Paris",
        0.5,
    )
    # Written without offset: 10:00 in Paris (summer time, +02:00) is 08:00 UTC; a filter
    # without offset reads the same way.
    row = {"contact_id": "tz1", "created_at": "2026-09-01T10:00:00", "channel": "web"}
    created = post_json(client, "/api/v1/contacts", row)
    assert created.status_code == 201, created.content
    assert created.json()["created_at"] == "2026-09-01T08:00:00Z"
    found = client.get("/api/v1/contacts", {"created_at": "2026-09-01T10:00:00"}).json()
    assert [item["contact_id"] for item in found["items"]] == ["tz1"]
    # A date at the calendar's edge is a bad parameter, not a server error.
    assert_error(client.get("/api/v1/kpis", {"as_of": "0001-01-01"}), 422, "invalid_parameter")
    assert_error(
        client.get("/api/v1/kpis", {"from": "0001-01-01", "to": "0001-01-02", "grain": "day"}),
        422,
        "invalid_parameter",
    )
