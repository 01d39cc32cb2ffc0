"""Each customer's predicted CLV and churn risk in the CRM (issue 6): the scoring batch
stores them with every score, and rescoring one contact after a new order applies the
batch's fitted models to that contact's own orders. On a generated company imported into
the configured database (SQLite, or PostgreSQL when DATABASE_URL points at it)."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from pilotage.contract.settings import load_settings
from pilotage.demo.generator import generate_company
from pilotage.scoring.scores import customer_value
from pilotage.web.crm.models import Contact, Order
from pilotage.web.crm.services.importing import folder_import
from pilotage.web.dashboard.cache import data_changed
from pilotage.web.dashboard.selectors.analysis import customers_at_risk
from pilotage.web.scoring.models import ContactScore, ScoringRun
from pilotage.web.scoring.selectors import contact_score
from pilotage.web.scoring.services import contact_rescore, database_source, scores_refresh

pytestmark = pytest.mark.django_db(transaction=True)


def test_batch_stores_clv_and_churn_risk_and_one_contact_follows(tmp_path: Path) -> None:
    folder = tmp_path / "company"
    generate_company(folder, contacts=1500, seed=5)
    settings = load_settings(data_dir=folder)
    assert folder_import(folder=folder, settings=settings, rescore=False).loaded
    report = scores_refresh()
    as_of = report.result.as_of
    run = ScoringRun.objects.get()
    assert run.priority_basis == "clv"
    assert set(run.clv_model["params"]) == {"pareto_nbd", "gamma_gamma"}
    assert len(run.clv_model["quantiles"]) == 101

    # What is stored is what the CLV models predict for each customer at as_of.
    source = database_source()
    try:
        expected = customer_value(source, as_of)
    finally:
        source.backend.disconnect()
    assert expected is not None
    stored = {
        row["contact_id"]: row
        for row in ContactScore.objects.filter(is_latest=True).values(
            "contact_id", "predicted_clv", "churn_risk"
        )
    }
    customers = expected.customers
    assert len(customers) > 100
    for contact_id, row in customers.iterrows():
        assert stored[contact_id]["predicted_clv"] == pytest.approx(row["predicted_clv"])
        assert stored[contact_id]["churn_risk"] == pytest.approx(1 - row["p_alive"])
    prospects = set(stored) - set(customers.index)
    assert prospects
    assert all(stored[c]["churn_risk"] is None for c in prospects)
    risks = np.array([stored[c]["churn_risk"] for c in customers.index])
    # Pareto/NBD: one-time buyers too have a risk (BG/NBD would say 0 for all of them).
    assert 0 < risks.min() < 0.5 < risks.max() < 1

    # The attrition page's customers to call first: churn risk >= 0.3, by value at risk
    # (predicted CLV x churn risk), within what the user may see.
    at_risk_rows, note = customers_at_risk(Contact.objects.all())
    assert note is None
    assert len(at_risk_rows) == 20
    at_stake = [row.value_at_risk for row in at_risk_rows]
    assert at_stake == sorted(at_stake, reverse=True)
    for row in at_risk_rows:
        assert row.churn_risk >= 0.3
        assert row.churn_risk == pytest.approx(stored[row.contact_id]["churn_risk"])
        assert row.value_at_risk == pytest.approx(
            stored[row.contact_id]["predicted_clv"] * row.churn_risk
        )
        assert row.orders >= 1
    everyone = [c for c in customers.index if (stored[c]["churn_risk"] or 0) >= 0.3]
    best = max(everyone, key=lambda c: stored[c]["predicted_clv"] * stored[c]["churn_risk"])
    assert at_risk_rows[0].contact_id == best
    owner = Contact.objects.exclude(owner_id=None).values_list("owner_id", flat=True).first()
    mine, _ = customers_at_risk(Contact.objects.filter(owner_id=owner))
    assert mine
    assert set(
        Contact.objects.filter(contact_id__in=[r.contact_id for r in mine]).values_list(
            "owner_id", flat=True
        )
    ) == {owner}

    # The customer most at risk, rescored alone with nothing new: the same values.
    at_risk = max(customers.index, key=lambda c: stored[c]["churn_risk"] or 0)
    same = contact_rescore(contact_id=at_risk, as_of=as_of)
    assert same.predicted_clv == pytest.approx(stored[at_risk]["predicted_clv"], rel=1e-9)
    assert same.churn_risk == pytest.approx(stored[at_risk]["churn_risk"], rel=1e-9)

    # It buys again the next day: rescored at once, it is far more likely still active,
    # and worth more.
    bought_at = as_of.replace(tzinfo=UTC) + timedelta(days=1)
    Order.objects.create(
        order_id="o-comeback",
        contact_id=at_risk,
        ordered_at=bought_at,
        amount=Decimal("80.00"),
        status="paid",
    )
    after = contact_rescore(contact_id=at_risk, as_of=bought_at.replace(tzinfo=None))
    assert after.churn_risk < same.churn_risk / 2
    assert after.predicted_clv > same.predicted_clv
    document = contact_score(contact_id=at_risk)
    assert document is not None
    assert document["churn_risk"] == pytest.approx(after.churn_risk, abs=1e-4)
    assert document["predicted_clv"] == pytest.approx(after.predicted_clv, abs=0.01)

    # The attrition page's list is cached per data version. The customer first on it buys
    # again; once the write is announced (as web and API writes do, after rescoring),
    # the list shows its new risk, or leaves it out.
    first = at_risk_rows[0].contact_id
    Order.objects.create(
        order_id="o-first-back",
        contact_id=first,
        ordered_at=bought_at,
        amount=Decimal("80.00"),
        status="paid",
    )
    rescored = contact_rescore(contact_id=first, as_of=bought_at.replace(tzinfo=None))
    assert customers_at_risk(Contact.objects.all())[0] == at_risk_rows  # not announced yet
    data_changed()
    fresh_rows, _ = customers_at_risk(Contact.objects.all())
    assert fresh_rows != at_risk_rows
    fresh = {row.contact_id: row for row in fresh_rows}
    assert first not in fresh or fresh[first].churn_risk == pytest.approx(rescored.churn_risk)

    # kpis.md: a paid order has amount > 0. A $0 order is no purchase: rescored with one,
    # a customer keeps its values. Nor does an order after as_of count, even on the same
    # local day (Europe/Paris: 10:00 to 12:00 UTC is 11:00 to 13:00 local).
    day = (as_of + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    reference = contact_rescore(contact_id=at_risk, as_of=day + timedelta(hours=1))
    for order_id, hours, amount in (("o-free", 0, "0.00"), ("o-later-today", 2, "80.00")):
        Order.objects.create(
            order_id=order_id,
            contact_id=at_risk,
            ordered_at=(day + timedelta(hours=hours)).replace(tzinfo=UTC),
            amount=Decimal(amount),
            status="paid",
        )
    again = contact_rescore(contact_id=at_risk, as_of=day + timedelta(hours=1))
    assert again.predicted_clv == pytest.approx(reference.predicted_clv, rel=1e-12)
    assert again.churn_risk == pytest.approx(reference.churn_risk, rel=1e-12)
    # A contact whose only order is a $0 one is a prospect: the batch gives it no CLV.
    Contact.objects.create(contact_id="free-only", created_at=day.replace(tzinfo=UTC))
    Order.objects.create(
        order_id="o-free-only",
        contact_id="free-only",
        ordered_at=day.replace(tzinfo=UTC),
        amount=Decimal("0.00"),
        status="paid",
    )
    scores_refresh(as_of=day + timedelta(hours=1))
    free_only = ContactScore.objects.get(contact_id="free-only", is_latest=True)
    assert (free_only.predicted_clv, free_only.churn_risk) == (None, None)
