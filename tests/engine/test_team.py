"""Sales-team KPIs on hand-made data (kpis.md, "Sales team")."""

from __future__ import annotations

import pytest
from engine_helpers import compute, contacts, frame, orders, values

from pilotage.contract.settings import Settings

TEAM = {
    "reps": frame(rep_id=["r1", "r2"], name=["Rep One", "Rep Two"]),
    "contacts": contacts(
        ("c1", "2024-01-02", "web", None, "r1"),
        ("c2", "2024-01-03", "web", None, "r2"),
        ("c3", "2024-01-04", "store", None, None),
    ),
    "orders": orders(("c1", "2024-01-20", 100)),
    "deals": frame(
        deal_id=["d1", "d2", "d3", "d4", "d5", "d6"],
        contact_id=["c1", "c1", "c2", "c2", "c3", "c3"],
        rep_id=["r1", "r1", "r2", "r2", "r1", "r2"],
        created_at=[
            "2024-01-01",
            "2024-01-05",
            "2024-02-01",
            "2024-02-01",
            "2024-03-01",
            "2024-03-01",
        ],
        amount=[1000, None, None, 500, 200, 300],
        status=["won", "won", "lost", "won", "open", "won"],
        closed_at=[
            "2024-01-11 12:00",  # 10.5 days
            "2024-02-04",  # 30 days, won without amount
            "2024-03-01",
            "2024-03-03",  # 31 days (2024 is a leap year)
            None,
            "2024-04-01 00:00",  # closed exactly at Q2's start: Q2; 31 days
        ],
    ),
    "interactions": frame(
        interaction_id=["i1", "i2", "i3", "i4", "i5"],
        contact_id=["c1", "c1", "c2", "c2", "c3"],
        occurred_at=["2024-01-10", "2024-02-10", "2024-03-10", "2024-03-11", "2024-04-10"],
        type=["call", "meeting", "call", "web_visit", "call"],
        rep_id=["r1", "r1", "r2", None, "r2"],
    ),
}


def test_deals_won_lost_and_win_rate(source):
    src = source(TEAM)
    assert values(compute(src, "deals_won")) == {"2024-Q1": 3, "2024-Q2": 1}
    assert values(compute(src, "deals_lost")) == {"2024-Q1": 1, "2024-Q2": 0}
    win = {row.period: row for row in compute(src, "win_rate").rows}
    assert (win["2024-Q1"].numerator, win["2024-Q1"].denominator) == (3, 4)
    per_rep = values(compute(src, "win_rate", by="owner"), "owner_id")
    assert per_rep[("2024-Q1", "r1")] == pytest.approx(1.0)
    assert per_rep[("2024-Q1", "r2")] == pytest.approx(0.5)
    assert per_rep[("2024-Q2", "r1")] is None  # r1 closed nothing in Q2


def test_revenue_won_and_average_deal_size(source):
    src = source(TEAM)
    # Q1 won: d1 1000, d2 (no amount), d4 500 -> 1500; average over the 2 with an amount.
    assert values(compute(src, "revenue_won")) == {"2024-Q1": 1500, "2024-Q2": 300}
    size = {row.period: row for row in compute(src, "average_deal_size").rows}
    assert (size["2024-Q1"].numerator, size["2024-Q1"].denominator) == (1500, 2)
    assert size["2024-Q1"].value == pytest.approx(750)


def test_median_sales_cycle(source):
    src = source(TEAM)
    # Q1 won cycles 10.5, 30, 31 -> 30; Q2: d6 31 days.
    assert values(compute(src, "median_sales_cycle_days")) == {
        "2024-Q1": pytest.approx(30),
        "2024-Q2": pytest.approx(31),
    }
    per_rep = values(compute(src, "median_sales_cycle_days", by="owner"), "owner_id")
    # r1: 10.5 and 30 -> 20.25 (even count: mean of the two middle values); r2: 31.
    assert per_rep[("2024-Q1", "r1")] == pytest.approx(20.25)
    assert per_rep[("2024-Q1", "r2")] == pytest.approx(31)


def test_activities_and_leads(source):
    src = source(TEAM)
    # Interactions with a rep: Q1 i1, i2, i3 (i4 has none); Q2 i5.
    assert values(compute(src, "activities")) == {"2024-Q1": 3, "2024-Q2": 1}
    per_rep = values(compute(src, "activities", by="owner"), "owner_id")
    assert per_rep[("2024-Q1", "r1")] == 2
    # Contacts with an owner: c1, c2 (c3 has none).
    assert values(compute(src, "leads_assigned")) == {"2024-Q1": 2, "2024-Q2": 0}
    rate = values(compute(src, "rep_lead_conversion_rate", by="owner"), "owner_id")
    # c1 (r1) converted 18 days after creation; c2 (r2) did not.
    assert rate[("2024-Q1", "r1")] == pytest.approx(1.0)
    assert rate[("2024-Q1", "r2")] == pytest.approx(0.0)
    company = values(compute(src, "rep_lead_conversion_rate"))
    assert company["2024-Q1"] == pytest.approx(0.5)


def test_team_kpis_as_of_an_earlier_instant(source):
    src = source(TEAM)
    q1 = {"start": "2024-01-01", "end": "2024-03-31", "as_of": "2024-03-02 00:00:00"}
    # Known on 03-02: d1 (01-11) and d2 (02-04) won, d3 lost on 03-01; d4 closes on 03-03,
    # after as_of: still open, neither won nor lost. Win rate 2 / 3.
    assert values(compute(src, "deals_won", **q1)) == {"2024-Q1": 2}
    assert values(compute(src, "deals_lost", **q1)) == {"2024-Q1": 1}
    assert values(compute(src, "win_rate", **q1)) == {"2024-Q1": pytest.approx(2 / 3)}
    # Interactions with a rep up to 03-02: i1, i2 (i3 is on 03-10).
    assert values(compute(src, "activities", **q1)) == {"2024-Q1": 2}


def test_team_kpis_in_the_company_time_zone(source):
    # Europe/Paris. d1 closes at 2024-04-01 01:00 local = 03-31 23:00 UTC: in Q2 (local
    # quarters). Created 2024-03-30 01:00 local (+01:00) = 00:00 UTC; the clocks go
    # forward on 03-31: the cycle is 47 hours = 1.958333 days, not 2.
    src = source(
        {
            "reps": frame(rep_id=["r1"], name=["Rep One"]),
            "contacts": contacts(("c1", "2024-03-01", "web", None, "r1")),
            "deals": frame(
                deal_id=["d1"],
                contact_id=["c1"],
                rep_id=["r1"],
                created_at=["2024-03-30 01:00"],
                amount=[100],
                status=["won"],
                closed_at=["2024-04-01 01:00"],
            ),
        },
        Settings(timezone="Europe/Paris"),
    )
    window = {"start": "2024-01-01", "end": "2024-06-30"}
    assert values(compute(src, "deals_won", **window)) == {"2024-Q1": 0, "2024-Q2": 1}
    cycle = values(compute(src, "median_sales_cycle_days", **window))
    assert cycle["2024-Q2"] == pytest.approx(47 / 24)
