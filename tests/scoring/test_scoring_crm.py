"""Scores in the CRM: a batch stores every contact, an added interaction rescored at once,
the next batch rescoring only what changed, and expected wins read from the history. Runs
on the configured database (SQLite, or PostgreSQL when DATABASE_URL points at it)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pilotage.contract.settings import Settings
from pilotage.engine.periods import period_containing
from pilotage.scoring.model import default_model
from pilotage.scoring.team import expected_wins
from pilotage.web.crm.models import Interaction
from pilotage.web.crm.services.importing import folder_import
from pilotage.web.dashboard.cache import data_version
from pilotage.web.scoring.models import ContactScore, ScoringRun
from pilotage.web.scoring.selectors import contact_latest_score, latest_scores
from pilotage.web.scoring.services import (
    active_scoring_model,
    contact_rescore,
    database_source,
    scores_refresh,
    scoring_model_save,
)

pytestmark = pytest.mark.django_db(transaction=True)


def naive_utc(*parts: int) -> datetime:
    """The engine's instants: naive, in UTC."""
    return datetime(*parts, tzinfo=UTC).replace(tzinfo=None)


AS_OF = naive_utc(2024, 3, 6)
FOLDER = {
    "reps": "rep_id,name\nr1,Ann\n",
    "contacts": "contact_id,created_at,channel,owner_id,industry,employees\n"
    "c1,2024-01-01,web,r1,retail,80\nc2,2024-02-01,store,r1,,\nc3,2024-03-01,web,,,\n",
    "interactions": "interaction_id,contact_id,occurred_at,type\n"
    "i1,c1,2024-03-01T10:00:00,form_submit\n",
    "stage_changes": "contact_id,stage,changed_at\nc1,mql,2024-02-01\n",
    "orders": "order_id,contact_id,ordered_at,amount,status\no1,c2,2024-03-01,100.00,paid\n"
    "o2,c2,2024-03-04,50.00,paid\n",
}


def test_batch_then_one_contact_then_incremental_batch(write_folder):
    # The import would rescore at today's date: this test drives the batch itself.
    report = folder_import(folder=write_folder(FOLDER), settings=Settings(), rescore=False)
    assert report.loaded
    version = data_version()
    first = scores_refresh(as_of=AS_OF)
    assert sorted(first.rescored) == ["c1", "c2", "c3"]
    # Stored scores change what cached figures show (the team's expected wins).
    assert data_version() == version + 1
    assert ScoringRun.objects.get().rfm_edges["customers"] == 1
    before = contact_latest_score(contact_id="c1")
    assert before is not None
    # Default model: fit = target industry 10 + 10+ employees 5 = 15 of 30 -> B;
    # engagement = one form_submit 4.58 days old, 8 x 0.5^(4.58/21) = 6.9 of 40 -> 3.
    assert before.grade == "B3"

    Interaction.objects.create(
        interaction_id="i2",
        contact_id="c1",
        occurred_at=datetime(2024, 3, 5, 9, 0, tzinfo=UTC),
        type="demo",
    )
    after = contact_rescore(contact_id="c1", as_of=AS_OF)
    assert after.score > before.score
    assert any(rule["rule"] == "demo, quote_sent, meeting" for rule in after.rules)
    assert ContactScore.objects.filter(contact_id="c1").count() == 2
    assert ContactScore.objects.filter(contact_id="c1", is_latest=True).get() == after
    priorities = [s.priority for s in latest_scores()]
    assert len(priorities) == 3
    assert priorities == sorted(priorities, reverse=True)

    # The batch finds c1's data unchanged since its one-contact rescoring (the same
    # fingerprint from Python and from the engine): nothing to store.
    version = data_version()
    second = scores_refresh(as_of=AS_OF)
    assert second.rescored == []
    assert data_version() == version  # nothing stored, nothing stale
    # The one-contact and batch computations agree.
    batch_c1 = second.result.frame.set_index("contact_id").loc["c1"]
    assert batch_c1["score"] == pytest.approx(after.score)
    assert second.result.frame.set_index("contact_id").loc["c2", "segment"] == "champions"
    assert sorted(scores_refresh(everyone=True, as_of=AS_OF).rescored) == ["c1", "c2", "c3"]


def test_a_model_saved_in_the_crm_scores_everyone_at_the_next_batch(write_folder):
    report = folder_import(folder=write_folder(FOLDER), settings=Settings(), rescore=False)
    assert report.loaded
    assert sorted(scores_refresh(as_of=AS_OF).rescored) == ["c1", "c2", "c3"]
    # Saved as the model editor saves it: named "edited", version 1 like the default
    # model, with a target industry worth 30 points instead of 10.
    text = (
        default_model()
        .text.replace('name = "default"', 'name = "edited"', 1)
        .replace("points = 10", "points = 30", 1)
    )
    scoring_model_save(name="edited", text=text)
    assert active_scoring_model().name == "edited"
    # Same data, same version number, another model: every contact is scored again.
    again = scores_refresh(as_of=AS_OF)
    assert sorted(again.rescored) == ["c1", "c2", "c3"]
    c1 = contact_latest_score(contact_id="c1")
    assert c1 is not None
    assert (c1.model_name, c1.model_version) == ("edited", "1")
    # fit = target industry 30 (capped at the group's 30) + 10+ employees 5 -> 30 of 30.
    assert c1.groups["fit"] == pytest.approx(30)


def test_expected_wins_read_the_probability_at_assignment(write_folder):
    folder_import(folder=write_folder(FOLDER), settings=Settings(), rescore=False)
    scores_refresh(as_of=naive_utc(2024, 3, 1, 12))
    # A model's probabilities are stored by the batch; here they are set by hand: c3 was
    # given 0.25 when it was assigned (scored within a day of its creation).
    ContactScore.objects.filter(contact_id="c3").update(conversion_probability=0.25)
    source = database_source()
    try:
        period = period_containing(date(2024, 3, 1), "month", source.settings)
        rows = expected_wins(source, [period])
    finally:
        source.backend.disconnect()
    unowned = rows[rows["owner_id"].isna()].iloc[0]
    assert unowned["leads_assigned"] == 1
    assert unowned["expected_wins"] == pytest.approx(0.25)
    assert unowned["wins"] == 0
    assert unowned["wins_over_expected"] == pytest.approx(-0.25)
    assert not unowned["complete"]
