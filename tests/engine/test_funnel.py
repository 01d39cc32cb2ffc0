"""Funnel and conversion KPIs on hand-made data (kpis.md, "Funnel and conversion")."""

from __future__ import annotations

import pytest
from engine_helpers import compute, contacts, frame, orders, values

from pilotage.contract.settings import Settings

# W = 90 days (default). Quarters of 2024 in UTC.
FUNNEL = {
    "contacts": contacts(
        ("a", "2024-01-10", "web", "k1", "r1"),
        ("b", "2024-02-01", "web", None, "r1"),
        ("c", "2024-03-20", "store", None, None),
        ("d", "2024-03-15", "store", None, "r2"),  # registered after paying (03-01)
        ("e", "2024-04-05", "web", None, None),
    ),
    "orders": orders(
        ("a", "2024-01-20", 100),  # delay 10 days
        ("b", "2024-06-01", 50),  # delay 121 days >= W: converts, but not within W
        ("d", "2024-03-01", 30),  # before created_at: delay 0
        ("c", "2024-04-01", 25, "refunded"),  # not a conversion
        ("c", "2024-04-02", 0),  # zero amount: not a conversion
        ("e", "2024-04-06 12:00", 20),  # delay 1.5 days
    ),
}


def test_new_leads_and_new_customers(source):
    src = source(FUNNEL)
    # Created: Q1 a, b, c, d = 4; Q2 e = 1.
    assert values(compute(src, "new_leads")) == {"2024-Q1": 4, "2024-Q2": 1}
    # Converted (first paid order, amount > 0): Q1 a (01-20), d (03-01); Q2 b, e.
    # c's refunded and zero-amount orders do not make it a customer.
    assert values(compute(src, "new_customers")) == {"2024-Q1": 2, "2024-Q2": 2}
    by_channel = values(compute(src, "new_leads", by="channel"), "channel")
    assert by_channel == {
        ("2024-Q1", "store"): 2,
        ("2024-Q2", "store"): 0,  # an observed period without rows is a true 0
        ("2024-Q1", "web"): 2,
        ("2024-Q2", "web"): 1,
    }
    by_campaign = values(compute(src, "new_customers", by="campaign"), "campaign_id")
    # a came from k1; the others have no campaign (a null breakdown value).
    assert by_campaign == {
        ("2024-Q1", "k1"): 1,
        ("2024-Q2", "k1"): 0,
        ("2024-Q1", None): 1,
        ("2024-Q2", None): 2,
    }


def test_lead_conversion_rate_is_a_cohort_rate_within_the_window(source):
    src = source(FUNNEL)
    result = compute(src, "lead_conversion_rate", as_of="2024-12-31")
    rows = {row.period: row for row in result.rows}
    # Q1 cohort a, b, c, d: a (10 d < 90) and d (0 d) converted within W; b took 121 d.
    assert (rows["2024-Q1"].numerator, rows["2024-Q1"].denominator) == (2, 4)
    assert rows["2024-Q1"].value == pytest.approx(0.5)
    # Q2 cohort e: 1.5 d -> 1 / 1.
    assert rows["2024-Q2"].value == pytest.approx(1.0)
    # Complete once P.end + 90 days has passed: Q1 end 2024-04-01 + 90 d <= 2024-12-31.
    assert rows["2024-Q1"].complete
    by_channel = values(compute(src, "lead_conversion_rate", by="channel"), "channel")
    # web Q1: a yes, b no -> 1/2; store Q1: c no, d yes -> 1/2; store Q2: no cohort -> null.
    assert by_channel[("2024-Q1", "web")] == pytest.approx(0.5)
    assert by_channel[("2024-Q1", "store")] == pytest.approx(0.5)
    assert by_channel[("2024-Q2", "store")] is None


def test_conversion_rate_is_incomplete_until_the_window_has_passed(source):
    src = source(FUNNEL)
    # as_of defaults to the latest timestamp: b's order on 2024-06-01 < 2024-04-01 + 90 d.
    rows = {row.period: row for row in compute(src, "lead_conversion_rate").rows}
    assert not rows["2024-Q1"].complete
    assert not rows["2024-Q2"].complete


def test_median_days_to_convert_takes_the_mean_of_the_two_middle_values(source):
    src = source(FUNNEL)
    medians = values(compute(src, "median_days_to_convert"))
    # Q1 converted within W: d 0 days (clipped), a 10 days -> (0 + 10) / 2 = 5.
    # Q2: e converted 1.5 days after (exact seconds / 86400, not calendar days).
    assert medians["2024-Q1"] == pytest.approx(5.0)
    assert medians["2024-Q2"] == pytest.approx(1.5)


def test_median_of_an_odd_count_is_the_middle_value(source):
    src = source(
        {
            "contacts": contacts(
                ("a", "2024-01-01", "web"), ("b", "2024-01-01", "web"), ("c", "2024-01-01", "web")
            ),
            "orders": orders(
                ("a", "2024-01-02", 1),  # 1 day
                ("b", "2024-01-31", 1),  # 30 days
                ("c", "2024-01-04 06:00", 1),  # 3.25 days
            ),
        }
    )
    # sorted 1, 3.25, 30 -> 3.25 (DuckDB's quantile_disc or an average would differ).
    assert values(compute(src, "median_days_to_convert")) == {"2024-Q1": pytest.approx(3.25)}


STAGES = {
    "contacts": contacts(
        ("s1", "2024-01-02", "web"),
        ("s2", "2024-01-03", "web"),
        ("s3", "2024-01-04", "web"),
        ("s4", "2024-01-05", "store"),
        ("s5", "2024-01-06", "store"),
        ("s6", "2024-01-07", "web"),
    ),
    "stage_changes": frame(
        contact_id=["s1", "s2", "s3", "s3", "s6"],
        stage=["lead", "mql", "lead", "sql", "opportunity"],
        changed_at=["2024-01-02", "2024-01-04", "2024-01-04", "2024-02-01", "2024-02-02"],
    ),
    # s4 never changed stage but converted: it reached every stage, the last included.
    "orders": orders(("s4", "2024-02-10", 10)),
}


def test_stage_conversion_steps(source):
    src = source(STAGES)
    result = compute(src, "stage_conversion")
    steps = {(row.by["from"], row.by["to"]): row for row in result.rows}
    # Furthest stage: s1 lead(0), s2 mql(1, lead skipped), s3 sql(2), s4 customer(4),
    # s5 none, s6 opportunity(3). Reached k = furthest >= k:
    # lead 5, mql 4, sql 3, opportunity 2, customer 1.
    expected = {
        ("lead", "mql"): (4, 5),
        ("mql", "sql"): (3, 4),
        ("sql", "opportunity"): (2, 3),
        ("opportunity", "customer"): (1, 2),
        ("lead", "customer"): (1, 5),
    }
    assert list(steps) == list(expected)  # consecutive steps, then first -> last
    for step, (numerator, denominator) in expected.items():
        row = steps[step]
        assert (row.numerator, row.denominator) == (numerator, denominator), step
        assert row.value == pytest.approx(numerator / denominator)
    by_channel = compute(src, "stage_conversion", by="channel")
    store = {
        (row.by["from"], row.by["to"]): row.value
        for row in by_channel.rows
        if row.by["channel"] == "store"
    }
    # store: s4 (customer) and s5 (nothing): every step 1/1.
    assert store[("lead", "customer")] == pytest.approx(1.0)
    assert store[("lead", "mql")] == pytest.approx(1.0)


def test_periods_are_cut_in_the_company_time_zone(source):
    paris = Settings(timezone="Europe/Paris")
    src = source(
        {
            "contacts": contacts(
                # Naive: Paris local time, 2024-03-31 23:30 CEST is 21:30 UTC -> Q1.
                ("naive", "2024-03-31T23:30:00", "web"),
                # With an offset: 23:30 UTC is 2024-04-01 01:30 in Paris -> Q2.
                ("offset", "2024-03-31T23:30:00+00:00", "web"),
                # Local midnight starting Q1 in Paris is 2023-12-31 23:00 UTC.
                ("midnight", "2024-01-01T00:00:00", "web"),
            )
        },
        paris,
    )
    result = compute(src, "new_leads")
    assert values(result) == {"2024-Q1": 2, "2024-Q2": 1}
    rows = {row.period: row for row in result.rows}
    assert rows["2024-Q1"].period_start == "2024-01-01T00:00:00+01:00"
    assert rows["2024-Q1"].period_end == "2024-04-01T00:00:00+02:00"
    utc_src = source(
        {"contacts": contacts(("offset", "2024-03-31T23:30:00+00:00", "web"))}, Settings()
    )
    assert values(compute(utc_src, "new_leads")) == {"2024-Q1": 1}


# Fractions of a second (the CRM stores microseconds): delays are exact on every engine,
# SQLite included (it once counted whole seconds, so x's delay was exactly W there).
SUBSECOND = {
    "contacts": contacts(
        ("x", "2024-01-01 00:00:00.600", "web"),
        ("y", "2024-01-01 00:00:00", "web"),
    ),
    "orders": orders(
        ("x", "2024-03-31 00:00:00.400", 10),  # 90 d - 0.2 s: within W = 90 d
        ("y", "2024-01-01 12:00:00.500", 10),  # 0.5 d + 0.5 s
    ),
}


def test_delays_keep_their_fractions_of_a_second(source):
    src = source(SUBSECOND)
    rows = {row.period: row for row in compute(src, "lead_conversion_rate").rows}
    # Both delays are < 90 d: 2 / 2.
    assert (rows["2024-Q1"].numerator, rows["2024-Q1"].denominator) == (2, 2)
    medians = values(compute(src, "median_days_to_convert"))
    # x: 90 - 0.2 / 86400 = 89.99999768518518 d; y: 0.5 + 0.5 / 86400 = 0.500005787037037 d;
    # median of two = their mean = 45.25000173611111 d.
    assert medians["2024-Q1"] == pytest.approx(45.25000173611111, rel=1e-12)


def test_the_window_excludes_a_delay_of_exactly_w(source):
    # W = 90 days = 7,776,000 s; delays are < W. p: exactly 90 d (out); q: 90 d - 1 s (in).
    src = source(
        {
            "contacts": contacts(("p", "2024-01-01", "web"), ("q", "2024-01-01", "web")),
            "orders": orders(("p", "2024-03-31 00:00:00", 10), ("q", "2024-03-30 23:59:59", 10)),
        }
    )
    final = {"start": "2024-01-01", "end": "2024-03-31", "as_of": "2024-06-30 00:00:00"}
    rows = compute(src, "lead_conversion_rate", **final).rows
    assert [(row.numerator, row.denominator) for row in rows] == [(1, 2)]
    # complete iff P.end + W <= as_of: 2024-04-01 + 90 d = 2024-06-30 00:00, exactly.
    assert [row.complete for row in rows] == [True]
    earlier = {**final, "as_of": "2024-06-29 23:59:59"}
    assert [row.complete for row in compute(src, "lead_conversion_rate", **earlier).rows] == [False]
