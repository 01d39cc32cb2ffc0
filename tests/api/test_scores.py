"""`GET /api/v1/contacts/{id}/score`: the latest stored score of a contact the user may
see, as interfaces.md's `score` row; 404 outside the user's scope, for an unknown contact,
and ("not scored yet") for a contact without a stored score."""

from __future__ import annotations

import pytest
from api_helpers import ROLES, Company, store_score

pytestmark = pytest.mark.django_db

ROW_KEYS = {
    "contact_id",
    "score",
    "grade",
    "groups",
    "rules",
    "rfm",
    "conversion_probability",
    "priority",
    "reason",
}
VISIBLE = {
    "admin": {"c1", "c2", "c3", "c4"},
    "manager": {"c1", "c2"},
    "readonly": {"c1", "c2"},
    "rep": {"c1"},
}


def test_the_latest_score_as_a_score_row(company: Company) -> None:
    store_score("c1", score=10.0, latest=False)  # an older computation
    latest = store_score("c1", score=42.5)
    response = company.client("admin").get("/api/v1/contacts/c1/score")
    assert response.status_code == 200, response.content
    document = response.json()
    assert set(document) >= ROW_KEYS
    assert document["contact_id"] == "c1"
    assert document["score"] == 42.5
    assert document["grade"] == "B2"
    assert document["groups"] == {"fit": 15, "engagement": 27.5}
    assert document["rules"] == [{"group": "fit", "rule": "industry in target", "points": 15}]
    assert document["rfm"] == {"r": 4, "f": 2, "m": 3, "segment": "promising"}
    # Rounded as the batch's rows are: probabilities to 4 digits.
    assert document["conversion_probability"] == 0.1235
    assert document["priority"] == 61.25
    assert document["reason"] == "Recent buyer, worth a follow-up"
    assert document["model"] == "default"
    assert document["computed_at"].startswith(latest.computed_at.date().isoformat())


@pytest.mark.parametrize("role", ROLES)
def test_scope_unknown_and_not_scored(company: Company, role: str) -> None:
    for contact_id in ("c1", "c3", "c4"):
        store_score(contact_id)
    client = company.client(role)
    for contact_id in ("c1", "c2", "c3", "c4", "nobody"):
        response = client.get(f"/api/v1/contacts/{contact_id}/score")
        if role == "anonymous":
            assert response.status_code == 401
            continue
        seen = contact_id in VISIBLE[role]
        if seen and contact_id != "c2":
            assert response.status_code == 200, (contact_id, response.content)
            assert response.json()["contact_id"] == contact_id
        elif seen:  # c2 is visible but was never scored
            assert response.status_code == 404
            assert response.json()["error"] == "not_scored"
            assert "not scored yet" in response.json()["message"]
        else:  # unknown, or outside the user's scope: the same answer
            assert response.status_code == 404, (contact_id, response.content)
            assert response.json()["error"] == "not_found"
