"""expected_wins and wins_over_expected in the KPI registry: computed by `compute_kpis` on
the CRM database (read in place, with the score history the scoring app stores), and null
with a note on a contract folder, which keeps no history. Runs on the configured database
(SQLite, or PostgreSQL when DATABASE_URL points at it)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pilotage.contract.reader import read_folder
from pilotage.contract.settings import Settings
from pilotage.engine.backends import from_database_url
from pilotage.engine.compute import compute_kpis
from pilotage.engine.context import KpiError
from pilotage.engine.kpis.team_expected import NO_HISTORY_NOTE
from pilotage.web.api.analytics import crm_database_url
from pilotage.web.crm.models import Contact
from pilotage.web.crm.services.importing import folder_import
from pilotage.web.scoring.models import ContactScore

# The engine reads the database through its own connection: rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

# January 2024 (UTC, W = 90 days). r1 was given a1 and a2, r2 b1 and b2; a1 and b1 buy.
# u1 was given to nobody.
FOLDER = {
    "reps": "rep_id,name\nr1,Ann\nr2,Bob\n",
    "contacts": "contact_id,created_at,channel,owner_id\n"
    "a1,2024-01-05T09:00:00,web,r1\na2,2024-01-10T09:00:00,web,r1\n"
    "b1,2024-01-12T09:00:00,store,r2\nb2,2024-01-15T09:00:00,store,r2\n"
    "u1,2024-01-16T09:00:00,web,\n",
    "orders": "order_id,contact_id,ordered_at,amount,status\n"
    "o1,a1,2024-01-20T10:00:00,100.00,paid\no2,b1,2024-01-15T10:00:00,80.00,paid\n",
}
KPIS = ["expected_wins", "wins_over_expected"]


def store(contact_id: str, after: timedelta, probability: float, *, latest: bool) -> None:
    created = Contact.objects.get(pk=contact_id).created_at
    ContactScore.objects.create(
        contact_id=contact_id,
        computed_at=created + after,
        as_of=created + after,
        model_name="default",
        model_version="1",
        score=10.0,
        groups={},
        rules=[],
        conversion_probability=probability,
        priority=1.0,
        reason="",
        reason_fr="",
        is_latest=latest,
    )


def values(result, by_owner: bool = False) -> dict:
    return {
        (row.kpi, (row.by or {}).get("owner_id") if by_owner else None): (
            row.value,
            row.complete,
        )
        for row in result.rows
        if row.period == "2024-01"
    }


def test_expected_wins_on_the_crm_database(write_folder):
    folder = write_folder(FOLDER)
    report = folder_import(folder=folder, settings=Settings(), rescore=False)
    assert report.loaded
    # Probabilities at assignment: the first score within a day of creation.
    store("a1", timedelta(hours=1), 0.6, latest=False)
    store("a1", timedelta(days=10), 0.99, latest=True)  # later: not at assignment
    store("a2", timedelta(hours=2), 0.3, latest=True)
    store("b1", timedelta(hours=1), 0.2, latest=True)
    store("b2", timedelta(days=3), 0.9, latest=True)  # too late: b2 counts as unscored
    store("u1", timedelta(hours=1), 0.9, latest=True)  # scored, but no rep was given it
    source = from_database_url(crm_database_url(), Settings())
    try:
        # as_of after January's end + W (90 days): the values are final.
        company = compute_kpis(source, grain="month", kpis=KPIS, as_of="2024-05-01T00:00:00")
        per_rep = compute_kpis(
            source, grain="month", kpis=KPIS, by="owner", as_of="2024-05-01T00:00:00"
        )
        early = compute_kpis(source, grain="month", kpis=KPIS)  # as_of = last order
        with pytest.raises(KpiError, match="no breakdown by channel"):
            compute_kpis(source, grain="month", kpis=KPIS, by="channel")
    finally:
        source.backend.disconnect()
    assert company.notes == ()
    # r1: a1 0.6 + a2 0.3 = 0.9 expected, 1 win (a1, 15 days < W) -> +0.1.
    # r2: b1 0.2 expected (b2 unscored, left out of both sides), 1 win (b1) -> +0.8.
    # Company: 1.1 expected, 2 wins -> +0.9 (u1, given to no rep, is no one's: not 2.0).
    found = values(company)
    assert found[("expected_wins", None)][0] == pytest.approx(1.1)
    assert found[("wins_over_expected", None)][0] == pytest.approx(0.9)
    assert found[("expected_wins", None)][1] is True
    by_rep = values(per_rep, by_owner=True)
    assert by_rep[("expected_wins", "r1")][0] == pytest.approx(0.9)
    assert by_rep[("wins_over_expected", "r1")][0] == pytest.approx(0.1)
    assert by_rep[("expected_wins", "r2")][0] == pytest.approx(0.2)
    assert by_rep[("wins_over_expected", "r2")][0] == pytest.approx(0.8)
    assert ("expected_wins", None) not in by_rep  # no "no rep" line among the reps
    # complete iff P.end + W <= as_of: not at the last order (2024-01-20).
    assert values(early)[("expected_wins", None)] == (pytest.approx(1.1), False)


def test_a_contract_folder_gives_null_with_a_note(write_folder):
    source = read_folder(write_folder(FOLDER), Settings())
    result = compute_kpis(source, grain="month", kpis=KPIS, by="owner")
    assert result.rows
    assert all(row.value is None for row in result.rows)
    assert result.notes == (NO_HISTORY_NOTE,)
    # Nobody converted yet: still null values, not an error.
    no_orders = {name: text for name, text in FOLDER.items() if name != "orders"}
    quiet = compute_kpis(read_folder(write_folder(no_orders), Settings()), kpis=KPIS)
    assert all(row.value is None for row in quiet.rows)
