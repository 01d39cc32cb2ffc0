"""Value KPIs on hand-made data (kpis.md, "Value")."""

from __future__ import annotations

import pytest
from engine_helpers import compute, contacts, frame, orders, values

from pilotage.contract.settings import Settings

# D = 60 days, gross margin 0.5 (b's order carries its own margin, 20). UTC quarters.
# Q1 2024 = [01-01, 04-01): active at Q1.end = paid order in [02-01, 04-01) (60 days).
# Q2 2024: active at Q2.start = [02-01, 04-01); at Q2.end = [05-02, 07-01).
VALUE_SETTINGS = Settings(inactivity_days=60, gross_margin=0.5)
VALUE = {
    "contacts": contacts(
        *[(name, "2023-10-01", "web" if name != "c" else "store") for name in "abcde"]
    ),
    "orders": orders(
        ("e", "2023-12-15", 100),  # 2023-Q4
        ("a", "2024-01-05 09:00", 100),
        ("a", "2024-01-05 17:00", 50),  # same day: two orders
        ("b", "2024-02-10", 80, "paid", 20),  # its own margin: 20, not 40
        ("b", "2024-03-01", 40, "refunded"),
        ("c", "2024-03-02", 0),  # zero amount: not an order that counts
        # 23:30 at UTC-1 is 2024-01-01 00:30 UTC: the offset moves it into 2024-Q1.
        ("c", "2023-12-31T23:30:00-01:00", 30),
        ("e", "2024-03-20", 10),
        ("d", "2024-04-02", 60),
    ),
    "spend": frame(spent_on=["2024-05-01"], amount=[120], channel=["web"]),
}


def test_revenue_orders_and_order_value(source):
    src = source(VALUE, VALUE_SETTINGS)
    # Q1: a 100 + 50, b 80, c 30, e 10 = 270 over 5 orders; Q2: d 60; 2023-Q4: e 100.
    revenue = values(compute(src, "revenue", start="2023-10-01"))
    assert revenue == {"2023-Q4": 100, "2024-Q1": 270, "2024-Q2": 60}
    assert values(compute(src, "orders", start="2023-10-01")) == {
        "2023-Q4": 1,
        "2024-Q1": 5,
        "2024-Q2": 1,
    }
    aov = values(compute(src, "average_order_value"))
    assert aov["2024-Q1"] == pytest.approx(270 / 5)
    arpc = {row.period: row for row in compute(src, "revenue_per_customer").rows}
    # Q1 buyers: a, b, c, e -> 270 / 4.
    assert (arpc["2024-Q1"].numerator, arpc["2024-Q1"].denominator) == (270, 4)
    by_channel = values(compute(src, "revenue", by="channel"), "channel")
    assert by_channel[("2024-Q1", "store")] == pytest.approx(30)
    assert by_channel[("2024-Q1", "web")] == pytest.approx(240)


def test_historical_clv_and_its_trap(source):
    src = source(VALUE, VALUE_SETTINGS)
    clv = {row.period: row for row in compute(src, "historical_clv").rows}
    # Q2: margin d 60 x 0.5 = 30 over 1 buyer; S = {b (02-10), e (03-20)}, both inactive
    # at Q2.end -> churn 2 / 2 = 1 -> CLV = 30 / 1 = 30.
    assert clv["2024-Q2"].value == pytest.approx(30)
    assert (clv["2024-Q2"].numerator, clv["2024-Q2"].denominator) == (30, 1)
    # Q1: margin a 75 + b 20 (its own) + c 15 + e 5 = 115 over 4 = 28.75 per customer;
    # S(Q1) = {e} (order 2023-12-15 in [2023-11-02, 2024-01-01)), still active at Q1.end
    # (03-20) -> churn 0 -> CLV null: the formula explodes, it is not hidden as 0.
    assert clv["2024-Q1"].numerator == pytest.approx(28.75)
    assert clv["2024-Q1"].denominator == pytest.approx(0.0)
    assert clv["2024-Q1"].value is None


def test_ltv_to_cac_and_payback(source):
    src = source(VALUE, VALUE_SETTINGS)
    ltv = {row.period: row for row in compute(src, "ltv_to_cac").rows}
    # Q2: CAC = 120 spend / 1 new customer (d) = 120; LTV/CAC = 30 / 120.
    assert ltv["2024-Q2"].value == pytest.approx(0.25)
    # Q1: CLV null -> null.
    assert ltv["2024-Q1"].value is None
    payback = {row.period: row for row in compute(src, "cac_payback_months").rows}
    # Q2: 120 / (30 per customer / 3 months) = 12 months.
    assert payback["2024-Q2"].value == pytest.approx(12)
    # Q1: CAC = 0 spend / 3 new customers (a, b, c; e converted in 2023) = 0 -> 0 months.
    assert payback["2024-Q1"].value == pytest.approx(0.0)
    monthly = values(
        compute(src, "cac_payback_months", grain="month", start="2024-05-01", end="2024-05-31")
    )
    # May: spend 120, no new customer -> CAC null -> null.
    assert monthly["2024-05"] is None


def test_payback_divides_by_the_months_of_the_period(source):
    # x (web) converts on 2024-05-10 with 90 (margin 0.5: 45); 60 spent on web and 30 on
    # store on 2024-05-01. cac_payback = CAC / (revenue per customer / months_in(P) x m).
    src = source(
        {
            "contacts": contacts(("x", "2024-05-01", "web")),
            "orders": orders(("x", "2024-05-10", 90)),
            "spend": frame(
                spent_on=["2024-05-01", "2024-05-01"], amount=[60, 30], channel=["web", "store"]
            ),
        },
        Settings(gross_margin=0.5),
    )
    may = {"start": "2024-05-01", "end": "2024-05-31"}
    # May (1 month): CAC 90 / 1 = 90; 90 / (90 / 1 x 0.5) = 2 months.
    assert values(compute(src, "cac_payback_months", grain="month", **may)) == {
        "2024-05": pytest.approx(2.0)
    }
    # Q2 (3 months): 90 / (90 / 3 x 0.5) = 6 months; 2024 (12 months): 90 / 3.75 = 24.
    assert values(compute(src, "cac_payback_months", **may)) == {"2024-Q2": pytest.approx(6.0)}
    assert values(compute(src, "cac_payback_months", grain="year", **may)) == {
        "2024": pytest.approx(24.0)
    }
    # By channel, May: web CAC 60 / 1 -> 60 / 45 = 1.33 months; store spent 30 for no
    # customer: CAC null, payback null.
    by_channel = values(
        compute(src, "cac_payback_months", grain="month", by="channel", **may), "channel"
    )
    assert by_channel == {("2024-05", "web"): pytest.approx(60 / 45), ("2024-05", "store"): None}


def test_by_owner_an_order_counts_for_the_rep_who_made_it(source):
    # kpis.md, "Sales team": --by owner is the rep_id of orders. a and b are r1's contacts;
    # r2 sold a's first order, r1 its second, nobody b's.
    sold = orders(("a", "2024-01-10", 100), ("a", "2024-02-10", 50), ("b", "2024-03-10", 30))
    sold["rep_id"] = ["r2", "r1", None]
    src = source(
        {
            "contacts": contacts(
                ("a", "2023-12-01", "web", None, "r1"), ("b", "2023-12-01", "web", None, "r1")
            ),
            "orders": sold,
        }
    )
    window = {"start": "2024-01-01", "end": "2024-03-31", "by": "owner"}
    # Q1: r1 50 (1 order), r2 100 (1 order), no rep 30 (1 order); not r1 180.
    assert values(compute(src, "revenue", **window), "owner_id") == {
        ("2024-Q1", "r1"): 50,
        ("2024-Q1", "r2"): 100,
        ("2024-Q1", None): 30,
    }
    assert values(compute(src, "orders", **window), "owner_id") == {
        ("2024-Q1", "r1"): 1,
        ("2024-Q1", "r2"): 1,
        ("2024-Q1", None): 1,
    }
    # r2 sold to one customer (a): 100 / 1.
    arpc = values(compute(src, "revenue_per_customer", **window), "owner_id")
    assert arpc[("2024-Q1", "r2")] == pytest.approx(100)
