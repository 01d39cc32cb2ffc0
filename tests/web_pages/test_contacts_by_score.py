"""The contacts list sorted by the stored latest score or priority and filtered by RFM
segment and score range, keyset-paged on (value, contact_id) across ties."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from pilotage.web.crm.models import Contact
from pilotage.web.dashboard.selectors import contacts as selectors
from pilotage.web.scoring.models import ContactScore

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
# contact: (latest score, priority, segment); c6 is never scored; c1's older score is 99.
SCORES = {
    "c1": (50.0, 10.0, "champions"),
    "c2": (70.0, 30.0, "lost"),
    "c3": (50.0, 20.0, "champions"),
    "c4": (20.0, 40.0, None),
    "c5": (50.0, 5.0, "champions"),
}


@pytest.fixture
def scored() -> None:
    for n in range(1, 7):
        Contact.objects.create(contact_id=f"c{n}", created_at=T0, channel="web")
    ContactScore.objects.create(**_score("c1", 99.0, 99.0, "lost"), is_latest=False, computed_at=T0)
    for contact_id, (score, priority, segment) in SCORES.items():
        ContactScore.objects.create(
            **_score(contact_id, score, priority, segment),
            computed_at=T0 + dt.timedelta(days=1),
        )


def _score(contact_id: str, score: float, priority: float, segment: str | None) -> dict:
    return {
        "contact_id": contact_id,
        "as_of": T0,
        "model_name": "default",
        "model_version": "1",
        "score": score,
        "rfm_segment": segment,
        "priority": priority,
        "reason": "",
        "reason_fr": "",
    }


def _all_pages(query: str, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    pages: list[list[str]] = []
    cursor = ""
    while True:
        params = QueryDict(query + (f"&cursor={cursor}" if cursor else ""))
        page = selectors.contact_page(
            Contact.objects.all(), selectors.ContactFilters.from_query(params)
        )
        pages.append([line.contact_id for line in page.lines])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_sorted_by_score_then_id_across_pages(scored, monkeypatch):
    # 70 (c2), then the three 50s by id, highest first (c5, c3, c1), then 20 (c4); the
    # never-scored c6 is not listed, nor c1's older score of 99.
    assert _all_pages("sort=-score", monkeypatch) == [["c2", "c5"], ["c3", "c1"], ["c4"]]


def test_sorted_by_priority(scored, monkeypatch):
    assert _all_pages("sort=-priority", monkeypatch) == [["c4", "c2"], ["c3", "c1"], ["c5"]]


def test_filtered_by_segment_and_score_range(scored, monkeypatch):
    pages = _all_pages("segment=champions&score_min=40&score_max=60&sort=-priority", monkeypatch)
    assert pages == [["c3", "c1"], ["c5"]]
    # The latest score only: c1's older 99 is out of range, c1 is not in [90, 100].
    assert _all_pages("score_min=90", monkeypatch) == [[]]
    # Lines carry the latest score, whatever the order.
    monkeypatch.setattr(selectors, "PAGE_SIZE", 50)
    page = selectors.contact_page(
        Contact.objects.all(), selectors.ContactFilters.from_query(QueryDict("sort=created"))
    )
    by_id = {line.contact_id: line for line in page.lines}
    assert by_id["c1"].score == 50.0
    assert by_id["c1"].segment == "champions"
    assert by_id["c6"].score is None


def test_bad_parameters_are_ignored(scored, monkeypatch):
    filters = selectors.ContactFilters.from_query(
        QueryDict("segment=nope&score_min=abc&score_max=nan&sort=-score&cursor=xyz")
    )
    assert (filters.segment, filters.score_min, filters.score_max) == ("", "", "")
    assert _all_pages("sort=-score&cursor=bm90IGpzb24", monkeypatch)[0] == ["c2", "c5"]
