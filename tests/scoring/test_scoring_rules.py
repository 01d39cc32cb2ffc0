"""Rule scores computed by hand: decay, caps, negative points, clipping of groups and of the
total, grade boundaries, a customer reaching the last stage by buying, custom attributes,
and only data up to as_of counting."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pilotage.engine.backends import from_frames
from pilotage.scoring import parse_model, score

MODEL = parse_model(
    """
name = "hand"
max_score = 50

[[group]]
name = "fit"
max = 30
  [[group.rule]]
  when = "industry in ['retail', 'software']"
  points = 15
  [[group.rule]]
  when = "employees >= 50"
  points = 10
  [[group.rule]]
  name = "intern"
  when = "job_title == 'intern'"
  points = -20
  [[group.rule]]
  name = "budget"
  when = "budget >= 1000"
  points = 10

[[group]]
name = "engagement"
max = 30
  [[group.rule]]
  interaction = "form_submit"
  points = 10
  half_life_days = 30
  [[group.rule]]
  interaction = "email_open"
  points = 4
  max = 10
  [[group.rule]]
  interaction = "support_ticket"
  points = -5

[[group]]
name = "journey"
max = 20
stage_points = { lead = 0, mql = 5, sql = 10, opportunity = 15, customer = 20 }

[[group]]
name = "purchases"
max = 10
  [[group.rule]]
  when = "orders_count >= 2"
  points = 10
  [[group.rule]]
  when = "revenue_365d >= 1000"
  points = 20
""",
    origin="hand.toml",
)
AS_OF = datetime(2024, 7, 1, tzinfo=UTC).replace(tzinfo=None)  # naive UTC


def _interactions(contact: str, kind: str, *times: str) -> list[dict[str, str]]:
    return [
        {"interaction_id": f"{contact}-{kind}-{i}", "contact_id": contact, "type": kind}
        | {"occurred_at": t}
        for i, t in enumerate(times)
    ]


@pytest.fixture(scope="module")
def result():
    contacts = pd.DataFrame(
        [
            # contact_id, industry, employees, job_title, budget (a custom attribute)
            ("a", "retail", 60, "ceo", "1500"),
            ("b", None, None, "intern", None),
            ("c", "software", 20, None, None),
            ("d", None, 50, None, "1000"),
            ("e", None, None, None, "1000"),
            ("late", "retail", 60, None, None),
        ],
        columns=["contact_id", "industry", "employees", "job_title", "budget"],
    )
    contacts["created_at"] = ["2024-01-01"] * 5 + ["2024-07-02"]  # `late`: after as_of
    contacts["channel"] = "web"
    interactions = pd.DataFrame(
        _interactions("a", "form_submit", "2024-06-01", "2024-05-02", "2024-07-05")
        + _interactions("a", "email_open", *["2024-06-20"] * 4)
        + _interactions("b", "support_ticket", "2024-06-01", "2024-06-02")
        + _interactions("d", "email_open", *["2024-06-20"] * 3)
        + _interactions("e", "email_open", *["2024-06-20"] * 2)
    )
    stage_changes = pd.DataFrame(
        [
            {"contact_id": "a", "stage": "mql", "changed_at": "2024-03-01"},
            {"contact_id": "a", "stage": "sql", "changed_at": "2024-07-10"},  # after as_of
            {"contact_id": "c", "stage": "lead", "changed_at": "2024-01-01"},
        ]
    )
    orders = pd.DataFrame(
        [
            {"order_id": "o1", "contact_id": "c", "ordered_at": "2024-06-15", "amount": 600.0},
            {"order_id": "o2", "contact_id": "c", "ordered_at": "2024-01-10", "amount": 500.0},
            {
                "order_id": "o3",
                "contact_id": "c",
                "ordered_at": "2024-06-20",
                "amount": 5000.0,
                "status": "refunded",
            },
        ]
    )
    orders["status"] = orders["status"].fillna("paid")
    source = from_frames(
        {
            "contacts": contacts,
            "interactions": interactions,
            "stage_changes": stage_changes,
            "orders": orders,
        }
    )
    scored = score(source, MODEL, AS_OF, use_clv=False)
    return {row["contact_id"]: row for row in scored.rows()}


def test_decay_caps_clipping_and_custom_attributes(result):
    a = result["a"]
    # fit: retail 15 + 50+ employees 10 + budget "1500" >= 1000 10 = 35, clipped to 30.
    # engagement: form_submit 30 days old 10 * 0.5 = 5, 60 days old 10 * 0.25 = 2.5 (the
    # one of 2024-07-05 is after as_of); 4 email_open x 4 = 16, capped at 10: 17.5.
    # journey: mql (the sql change is after as_of) = 5. Total 52.5, clipped to 50.
    assert a["groups"] == {"fit": 30, "engagement": 17.5, "journey": 5, "purchases": 0}
    assert a["score"] == 50
    assert a["rules"] == [
        {"group": "fit", "rule": "industry in ['retail', 'software']", "points": 15},
        {"group": "fit", "rule": "employees >= 50", "points": 10},
        {"group": "fit", "rule": "budget", "points": 10},
        {"group": "engagement", "rule": "form_submit", "points": 7.5},
        {"group": "engagement", "rule": "email_open", "points": 10},
        {"group": "journey", "rule": "stage = mql", "points": 5},
    ]
    # fit 30 >= 2/3 x 30 -> A; engagement 17.5 >= 1/3 x 30 but < 2/3 -> 2.
    assert a["grade"] == "A2"
    assert a["rfm"] is None


def test_negative_points_and_total_clipped_at_zero(result):
    b = result["b"]
    # fit: intern -20 (missing industry and employees match nothing);
    # engagement: 2 support tickets x -5 = -10; the total -30 is clipped to 0.
    assert b["groups"] == {"fit": -20, "engagement": -10, "journey": 0, "purchases": 0}
    assert b["score"] == 0
    assert b["grade"] == "C3"


def test_customer_reaches_the_last_stage_by_buying(result):
    c = result["c"]
    # Only a `lead` stage change, but a paid order: the stage reached is `customer` (20).
    # purchases: 2 paid orders (the refunded one does not count) 10 + 1,100 in 365 days 20
    # = 30, clipped to the group max 10. fit: software 15. Total 45.
    assert c["groups"] == {"fit": 15, "engagement": 0, "journey": 20, "purchases": 10}
    assert c["score"] == 45
    assert c["grade"] == "B3"
    assert c["rfm"] == {"r": 5, "f": 5, "m": 5, "segment": "champions"}  # the only buyer


def test_grade_boundaries_are_inclusive(result):
    # d: fit exactly 20 = 2/3 of 30 -> A; engagement 3 x 4 = 12 capped to exactly 10 =
    # 1/3 of 30 -> 2.
    assert result["d"]["groups"]["fit"] == 20
    assert result["d"]["groups"]["engagement"] == 10
    assert result["d"]["grade"] == "A2"
    # e: fit exactly 10 = 1/3 of 30 -> B; engagement 8 < 10 -> 3.
    assert result["e"]["groups"] == {"fit": 10, "engagement": 8, "journey": 0, "purchases": 0}
    assert result["e"]["grade"] == "B3"


def test_contacts_created_after_as_of_are_not_scored(result):
    assert "late" not in result
    assert sorted(result) == ["a", "b", "c", "d", "e"]


def test_prospects_are_prioritised_by_rule_score_without_a_model(result):
    assert result["a"]["priority"] == 100.0  # 100 x 50 / 50
    assert result["a"]["conversion_probability"] is None
    assert result["a"]["reason"] == "high fit, last touch 11 days ago"
    assert result["c"]["reason"] == "champion, 2 orders, last 16 days ago, (RFM)"
