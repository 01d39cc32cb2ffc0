"""The contact page's score and reasons come from the contact's own rows (one-contact
scoring, in Python): the same points, group totals, score and grade as the scoring
core's computation over the whole base on the engine."""

from __future__ import annotations

import math

from pilotage.engine.backends import from_database_url
from pilotage.scoring.rules import group_column, rule_column, rule_frame
from pilotage.web.crm.models import Contact
from pilotage.web.dashboard.analytics import as_of_utc, engine_database_url
from pilotage.web.dashboard.selectors.contacts import rule_scores
from pilotage.web.dashboard.selectors.scoring import active_model, model_field_types
from pilotage.web.scoring.services import contact_rule_row


def test_one_contacts_rule_row_is_the_engines(company):
    model = active_model()
    types = model_field_types(model)
    as_of = as_of_utc()
    engine = rule_frame(from_database_url(engine_database_url()), model, as_of, types)
    engine = engine.set_index("contact_id")
    columns = [rule_column(rule) for rule in model.rules]
    columns += [group_column(index) for index in range(len(model.groups))]
    columns += ["score"]
    contact_ids = list(Contact.objects.order_by("contact_id").values_list("pk", flat=True))
    assert len(contact_ids) == len(engine) == 300
    fired = 0
    for contact_id in contact_ids:
        mine = contact_rule_row(contact_id=contact_id, model=model, as_of=as_of, types=types)
        theirs = engine.loc[contact_id]
        for column in columns:
            assert math.isclose(float(mine[column]), float(theirs[column]), abs_tol=1e-9), (
                contact_id,
                column,
            )
        assert mine["grade"] == theirs["grade"], contact_id
        fired += sum(1 for rule in model.rules if mine[rule_column(rule)])
    assert fired > 300  # the rules fire: the comparison is not between zeros


def test_the_contact_page_shows_them(admin_client):
    contact_id = Contact.objects.order_by("contact_id").values_list("pk", flat=True)[0]
    scores = rule_scores(contact_id)
    row = contact_rule_row(
        contact_id=contact_id,
        model=active_model(),
        as_of=as_of_utc(),
        types=model_field_types(active_model()),
    )
    assert scores.score == float(row["score"])
    fired = {rule.name for rule in active_model().rules if row[rule_column(rule)]}
    assert fired
    assert {hit.rule for hit in scores.rules} == fired
    page = admin_client.get(f"/contacts/{contact_id}/").content.decode()
    for name in fired:  # each reason is on the page
        assert name in page
