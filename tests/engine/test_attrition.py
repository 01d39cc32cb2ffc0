"""Customers kept and lost on hand-made data (kpis.md, "Customers kept and lost")."""

from __future__ import annotations

import pytest
from engine_helpers import compute, contacts, frame, orders, values

from pilotage.contract.settings import Settings

# D = 90 days. Q2 2024 = [2024-04-01, 2024-07-01): active at Q2.start means a paid order in
# [2024-01-02, 2024-04-01) (April 1 - 90 d = January 2); active at Q2.end means a paid
# order in [2024-04-02, 2024-07-01).
D90 = Settings(inactivity_days=90)
PEOPLE = ("p", "q", "r", "u", "v", "w", "x")
ORDER_ACTIVITY = {
    "contacts": contacts(*[(name, "2023-06-01", "web") for name in PEOPLE]),
    "orders": orders(
        ("p", "2024-01-02 00:00:00", 10),  # exactly P.start - D: in S; nothing later: churned
        ("q", "2024-03-15", 10),  # in S
        ("q", "2024-05-01", 10),  # ... and retained
        ("r", "2024-01-01 23:59:59", 10),  # one second too early for S
        ("r", "2024-06-01", 10),  # reactivated in Q2: not in S, so not counted
        ("u", "2024-04-10", 10),  # acquired during Q2: in neither numerator nor denominator
        ("v", "2024-04-01 00:00:00", 10),  # at P.start itself: t < s fails, not in S
        ("w", "2024-02-10", 10, "refunded"),  # refunded: never active
        ("w", "2024-02-11", 0),  # zero amount: never active
        ("x", "2024-03-01", 10),  # in S
        ("x", "2024-04-02 00:00:00", 10),  # exactly P.end - D: active at P.end, retained
    ),
}


def test_active_and_churned_customers(source):
    src = source(ORDER_ACTIVITY, D90)
    # S(Q2) = {p, q, x}; churned = {p}. S(Q1) = orders in [2023-10-03, 2024-01-01): none.
    active = values(compute(src, "active_customers", start="2024-01-01"))
    assert active == {"2024-Q1": 0, "2024-Q2": 3}
    churned = values(compute(src, "churned_customers", start="2024-01-01"))
    assert churned == {"2024-Q1": 0, "2024-Q2": 1}


def test_customer_churn_and_retention_rates(source):
    src = source(ORDER_ACTIVITY, D90)
    churn = {row.period: row for row in compute(src, "customer_churn_rate").rows}
    retention = {row.period: row for row in compute(src, "customer_retention_rate").rows}
    assert (churn["2024-Q2"].numerator, churn["2024-Q2"].denominator) == (1, 3)
    assert churn["2024-Q2"].value == pytest.approx(1 / 3)
    assert retention["2024-Q2"].value == pytest.approx(2 / 3)
    # Q1: empty opening base -> null (0 / 0), not 0.
    assert churn["2024-Q1"].value is None
    assert retention["2024-Q1"].value is None
    # The 2023 quarters are observed (contacts exist since 2023-06-01) but hold no customer.
    assert (churn["2024-Q1"].numerator, churn["2024-Q1"].denominator) == (0, 0)


def test_a_longer_period_is_computed_on_its_own(source):
    src = source(ORDER_ACTIVITY, D90)
    # Year 2024: S = orders in [2023-10-03, 2024-01-01): none -> null. Never an average of
    # the quarters.
    churn = values(compute(src, "customer_churn_rate", grain="year", start="2024-01-01"))
    assert churn == {"2024": None}


def test_returning_and_repeat_purchase_rates(source):
    src = source(ORDER_ACTIVITY, D90)
    returning = {row.period: row for row in compute(src, "returning_customer_rate").rows}
    # Buyers in Q2: q, r, u, v, x; with a paid order before 2024-04-01: q, r, x -> 3 / 5.
    assert (returning["2024-Q2"].numerator, returning["2024-Q2"].denominator) == (3, 5)
    # Buyers in Q1: p, q, r, x; none bought before 2024-01-01 -> 0 / 4.
    assert returning["2024-Q1"].value == pytest.approx(0.0)
    repeat = {row.period: row for row in compute(src, "repeat_purchase_rate").rows}
    # Converted before 2024-07-01: p, q, r, u, v, x (w never); >= 2 paid orders: q, r, x.
    assert (repeat["2024-Q2"].numerator, repeat["2024-Q2"].denominator) == (3, 6)
    # Before 2024-04-01: p, q, r, x converted, none with 2 orders yet.
    assert (repeat["2024-Q1"].numerator, repeat["2024-Q1"].denominator) == (0, 4)


EARLY = {
    "contacts": contacts(*[(name, "2023-12-01", "web") for name in "pqrxzuvy"]),
    "orders": orders(
        ("p", "2024-01-02", 10),  # no further order: early churn
        ("q", "2024-03-15", 10),
        ("q", "2024-05-01", 10),  # 47 days later: stayed
        ("r", "2024-01-01 23:59:59", 10),
        ("r", "2024-06-01", 10),  # 152 days later, > D: early churn
        ("x", "2024-03-01", 10),
        ("x", "2024-04-02", 10),  # 32 days: stayed
        ("z", "2024-02-01", 10),
        ("z", "2024-05-01", 10),  # exactly + 90 days: (c, c + D] includes it: stayed
        ("u", "2024-04-10", 10),  # no further order
        ("v", "2024-04-01", 10),  # no further order
        ("y", "2024-05-05 09:00", 10),
        ("y", "2024-05-05 18:00", 10),  # same day, later: a further order, stayed
    ),
}


def test_early_churn_rate(source):
    src = source(EARLY, D90)
    rows = {row.period: row for row in compute(src, "early_churn_rate").rows}
    # Q1 conversions p, q, r, x, z: p and r churned early -> 2 / 5.
    assert (rows["2024-Q1"].numerator, rows["2024-Q1"].denominator) == (2, 5)
    # Q2 conversions u, v, y: u and v -> 2 / 3.
    assert rows["2024-Q2"].value == pytest.approx(2 / 3)
    # Complete once P.end + D has passed: as_of = 2024-06-01 < 2024-04-01 + 90 d.
    assert not rows["2024-Q1"].complete
    later = {row.period: row for row in compute(src, "early_churn_rate", as_of="2025-01-01").rows}
    assert later["2024-Q1"].complete
    assert later["2024-Q1"].value == pytest.approx(0.4)


def test_early_churn_window_keeps_fractions_of_a_second(source):
    # D = 90 d; the CRM stores microseconds. a's second order is 90 d + 0.8 s after its
    # conversion: outside (c, c + D], an early churn. b's is 90 d - 0.8 s after: it stayed.
    # (SQLite once counted whole seconds, which put both exactly at c + D.)
    src = source(
        {
            "contacts": contacts(("a", "2024-01-01", "web"), ("b", "2024-01-01", "web")),
            "orders": orders(
                ("a", "2024-02-01 00:00:00.100", 10),
                ("a", "2024-05-01 00:00:00.900", 10),
                ("b", "2024-02-01 00:00:00.900", 10),
                ("b", "2024-05-01 00:00:00.100", 10),
            ),
        },
        D90,
    )
    rows = {row.period: row for row in compute(src, "early_churn_rate").rows}
    # Q1 conversions a, b; a churned early -> 1 / 2.
    assert (rows["2024-Q1"].numerator, rows["2024-Q1"].denominator) == (1, 2)


SUBSCRIPTIONS = {
    "contacts": contacts(*[(name, "2023-11-01", "web") for name in "ABCD"]),
    "subscriptions": frame(
        subscription_id=["s1", "s2", "s3", "s4", "s5"],
        contact_id=["A", "B", "C", "D", "B"],
        started_at=["2024-01-01", "2023-12-01", "2024-02-01", "2024-04-15", "2024-03-01"],
        # s1 ends exactly at Q2's start: active at 2024-04-01 (s <= ended_at), so it is in
        # Q2's opening base and churns in Q2.
        ended_at=["2024-04-01 00:00:00", None, "2024-05-15", None, "2024-03-20"],
        mrr=[40, 100, 50, 70, 30],
    ),
}


def test_subscription_churn_and_retention(source):
    src = source(SUBSCRIPTIONS)
    churn = {row.period: row for row in compute(src, "subscription_churn_rate").rows}
    # Q2: S = {A (s1), B (s2), C (s3)}; at Q2.end only B -> churn 2 / 3.
    assert (churn["2024-Q2"].numerator, churn["2024-Q2"].denominator) == (2, 3)
    # Q1: at 2024-01-01 only B (s1 starts exactly then: started_at < s fails) -> 0 / 1.
    assert (churn["2024-Q1"].numerator, churn["2024-Q1"].denominator) == (0, 1)
    retention = values(compute(src, "subscription_retention_rate"))
    assert retention["2024-Q2"] == pytest.approx(1 / 3)
    assert retention["2024-Q1"] == pytest.approx(1.0)


def test_gross_mrr_churn_rate(source):
    src = source(SUBSCRIPTIONS)
    rows = {row.period: row for row in compute(src, "gross_mrr_churn_rate").rows}
    # Running at Q2.start: s1 40 (ends 04-01, in Q2), s2 100, s3 50 (ends 05-15) ->
    # (40 + 50) / 190.
    assert (rows["2024-Q2"].numerator, rows["2024-Q2"].denominator) == (90, 190)
    assert rows["2024-Q2"].value == pytest.approx(90 / 190)
    # Q1: running at 2024-01-01: s2 only, not ended -> 0 / 100.
    assert rows["2024-Q1"].value == pytest.approx(0.0)


def test_subscriptions_ending_at_the_period_end_or_replaced_within_it(source):
    # Q2 2024 = [04-01, 07-01). Active at s iff started_at < s <= ended_at.
    src = source(
        {
            "contacts": contacts(*[(name, "2023-11-01", "web") for name in "ABCD"]),
            "subscriptions": frame(
                subscription_id=["s1", "s2", "s3", "s4", "s5"],
                contact_id=["A", "B", "C", "C", "D"],
                started_at=["2024-01-01", "2024-01-01", "2024-01-01", "2024-04-15", "2024-04-10"],
                # s1 ends exactly at Q2.end: A is still active then, and s1 did not end in
                # Q2. C's s3 ends in Q2 but s4 keeps C active. D subscribes and cancels
                # within Q2: in no opening base.
                ended_at=["2024-07-01 00:00:00", "2024-06-30", "2024-05-01", None, "2024-05-10"],
                mrr=[40, 60, 30, 30, 20],
            ),
        }
    )
    window = {"start": "2024-04-01", "end": "2024-06-30"}
    churn = {row.period: row for row in compute(src, "subscription_churn_rate", **window).rows}
    # S = {A, B, C}; at 07-01: A (s1 ends at 07-01 <= ended_at), C (s4) active; B churned.
    assert (churn["2024-Q2"].numerator, churn["2024-Q2"].denominator) == (1, 3)
    mrr = {row.period: row for row in compute(src, "gross_mrr_churn_rate", **window).rows}
    # Running at 04-01: s1 40, s2 60, s3 30 = 130; ended in [04-01, 07-01): s2, s3 = 90.
    assert (mrr["2024-Q2"].numerator, mrr["2024-Q2"].denominator) == (90, 130)


def test_order_activity_in_a_non_utc_time_zone(source):
    # Europe/Paris, D = 30 days. Q2 2024 starts at local midnight 04-01 = 03-31 22:00 UTC
    # (summer time since 03-31); s - D = 03-01 22:00 UTC = 03-01 23:00 local (winter time):
    # D is 30 x 86,400 s from the instant, not 30 calendar days.
    settings = Settings(inactivity_days=30, timezone="Europe/Paris")
    src = source(
        {
            "contacts": contacts(*[(name, "2024-01-01", "web") for name in "zywv"]),
            "orders": orders(
                ("z", "2024-03-31 23:30", 10),  # 21:30 UTC, before s: active at Q2.start
                ("y", "2024-04-01 01:00", 10),  # 03-31 23:00 UTC, in Q2 (UTC midnight: not)
                ("w", "2024-03-01 23:30", 10),  # 22:30 UTC >= s - D: active
                ("v", "2024-03-01 22:30", 10),  # 21:30 UTC < s - D: lapsed
            ),
        },
        settings,
    )
    active = values(compute(src, "active_customers", start="2024-04-01", end="2024-06-30"))
    # S(Q2) = {z, w}.
    assert active == {"2024-Q2": 2}
