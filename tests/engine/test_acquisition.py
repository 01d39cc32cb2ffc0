"""Acquisition cost and return on hand-made data (kpis.md, "Acquisition cost and return")."""

from __future__ import annotations

import pytest
from engine_helpers import compute, contacts, frame, orders, values

from pilotage.contract.settings import Settings

# R = 365 days (default), UTC, quarters of 2024.
ACQUISITION = {
    "contacts": contacts(
        ("a", "2024-01-02", "web", "k1"),
        ("b", "2024-01-20", "web", "k2"),
        ("c", "2024-02-20", "store"),
        ("d", "2024-03-25", "ads", "k3"),
    ),
    "campaigns": frame(
        campaign_id=["k1", "k2", "k3"], name=["K1", "K2", "K3"], channel=["web", "web", "ads"]
    ),
    "orders": orders(
        ("a", "2024-01-10", 100),  # a converts in Q1
        ("a", "2024-06-01", 50),  # inside a's revenue window
        ("a", "2025-01-10", 70),  # 2024-01-10 + 365 d = 2025-01-09: outside the window
        ("b", "2024-02-01", 200),
        ("c", "2024-03-01", 80),
        ("d", "2024-04-10", 60),  # d converts in Q2
    ),
    "spend": frame(
        spent_on=["2024-01-15", "2024-02-15", "2024-03-01", "2024-03-31"],
        amount=[300, 100, 50, 100],
        channel=["web", "web", "store", "ads"],
        campaign_id=["k1", "k2", None, "k3"],
    ),
    # Touchpoints for attribution by campaign: a touched by k1; b by k1 then k2.
    "interactions": frame(
        interaction_id=["i1", "i2", "i3"],
        contact_id=["a", "b", "b"],
        occurred_at=["2024-01-05", "2024-01-21", "2024-01-25"],
        type=["ad_click", "ad_click", "email_click"],
        campaign_id=["k1", "k1", "k2"],
    ),
}


def test_acquisition_spend(source):
    src = source(ACQUISITION)
    # Q1: 300 + 100 + 50 + 100 = 550 (2024-03-31 is still Q1); Q2, Q3, Q4: no spend.
    spend = values(compute(src, "acquisition_spend"))
    assert spend["2024-Q1"] == pytest.approx(550)
    assert spend["2024-Q2"] == 0
    by_channel = values(compute(src, "acquisition_spend", by="channel"), "channel")
    assert by_channel[("2024-Q1", "web")] == pytest.approx(400)


def test_cac_blended_and_by_channel(source):
    src = source(ACQUISITION)
    result = compute(src, "cac")
    rows = {row.period: row for row in result.rows}
    # Q1: 550 / 3 new customers (a, b, c) = 183.33; Q2: 0 spend / 1 (d) = 0.
    assert (rows["2024-Q1"].numerator, rows["2024-Q1"].denominator) == (550, 3)
    assert rows["2024-Q1"].value == pytest.approx(550 / 3)
    assert rows["2024-Q2"].value == pytest.approx(0.0)
    # Q3: no spend, no customer: 0 / 0 -> null, never 0 nor an error.
    assert rows["2024-Q3"].value is None
    by_channel = values(compute(src, "cac", by="channel"), "channel")
    # web 400 / 2 (a, b); store 50 / 1; ads 100 / 0 in Q1 (d converts in Q2) -> null.
    assert by_channel[("2024-Q1", "web")] == pytest.approx(200)
    assert by_channel[("2024-Q1", "store")] == pytest.approx(50)
    assert by_channel[("2024-Q1", "ads")] is None
    assert by_channel[("2024-Q2", "ads")] == pytest.approx(0.0)


def test_roas_and_roi(source):
    src = source(ACQUISITION, Settings(gross_margin=0.5))
    roas = {row.period: row for row in compute(src, "roas").rows}
    # A(Q1) = a 100 + 50 (the 2025-01-10 order is past R) + b 200 + c 80 = 430.
    assert (roas["2024-Q1"].numerator, roas["2024-Q1"].denominator) == (430, 550)
    assert roas["2024-Q1"].value == pytest.approx(430 / 550)
    # Q2: A = d 60, spend 0 -> null.
    assert roas["2024-Q2"].value is None
    # Q1 needs Q1.end + 365 d = 2025-04-01 <= as_of (2025-01-10, the latest order): not yet.
    assert not roas["2024-Q1"].complete
    roi = {row.period: row for row in compute(src, "roi").rows}
    # (A x m - spend) / spend = (430 x 0.5 - 550) / 550.
    assert roi["2024-Q1"].value == pytest.approx((215 - 550) / 550)
    assert roi["2024-Q1"].numerator == pytest.approx(-335)
    by_channel = values(compute(src, "roas", by="channel"), "channel")
    # web: (150 + 200) / 400; store: 80 / 50; ads: 0 / 100 (d converted in Q2).
    assert by_channel[("2024-Q1", "web")] == pytest.approx(350 / 400)
    assert by_channel[("2024-Q1", "store")] == pytest.approx(80 / 50)
    assert by_channel[("2024-Q1", "ads")] == pytest.approx(0.0)
    complete = compute(src, "roas", as_of="2025-06-30")
    assert {row.period: row.complete for row in complete.rows}["2024-Q1"]


def test_per_campaign_kpis_use_attribution_credits(source):
    src = source(ACQUISITION, Settings(attribution_model="linear"))
    # Linear credits in Q1: a -> k1 1; b -> k1 0.5, k2 0.5; c and d have no touchpoint
    # -> (direct) 1 each. CAC k1 = 300 / 1.5, k2 = 100 / 0.5, k3 = 100 / 0 -> null.
    cac = values(compute(src, "cac", by="campaign"), "campaign_id")
    assert cac[("2024-Q1", "k1")] == pytest.approx(200)
    assert cac[("2024-Q1", "k2")] == pytest.approx(200)
    assert cac[("2024-Q1", "k3")] is None
    # c and d came through no campaign: there is no campaign spend to divide (not 0).
    assert cac[("2024-Q1", "(direct)")] is None
    roas = values(compute(src, "roas", by="campaign"), "campaign_id")
    # k1: (a 150 x 1 + b 200 x 0.5) / 300; k2: b 200 x 0.5 / 100.
    assert roas[("2024-Q1", "k1")] == pytest.approx(250 / 300)
    assert roas[("2024-Q1", "k2")] == pytest.approx(1.0)
    # k3 spent 100 for no attributed customer: ROAS 0, ROI -100 %. The 50 spent on store
    # without a campaign is no campaign's: no ROAS, no ROI (not 0 and -100 %), and it
    # stays in the spend by campaign.
    assert roas[("2024-Q1", "k3")] == pytest.approx(0.0)
    roi = values(compute(src, "roi", by="campaign"), "campaign_id")
    assert roi[("2024-Q1", "k3")] == pytest.approx(-1.0)
    assert (roas[("2024-Q1", None)], roi[("2024-Q1", None)]) == (None, None)
    assert (roas[("2024-Q1", "(direct)")], roi[("2024-Q1", "(direct)")]) == (None, None)
    spend = values(compute(src, "acquisition_spend", by="campaign"), "campaign_id")
    assert spend[("2024-Q1", None)] == pytest.approx(50)


def test_revenue_window_edges_refunds_and_local_spend_days(source):
    # R = 10 days, gross margin 0.5, Europe/Paris (UTC+1 in winter). a converts on
    # 2024-01-10 00:00 local (09 23:00 UTC) with 100 (own margin 10); inside
    # [c, c + R): 40 at c + R - 1 s (margin 20 = 40 x 0.5); refunded 500 and a zero-amount
    # order at c + 1 d (not paid revenue); outside: 70 exactly at c + R.
    # Spend of 50 on 2024-01-01 local: in 2024-Q1 though 2023-12-31 23:00 UTC.
    settings = Settings(revenue_window_days=10, gross_margin=0.5, timezone="Europe/Paris")
    src = source(
        {
            "contacts": contacts(("a", "2024-01-05", "web")),
            "orders": orders(
                ("a", "2024-01-10 00:00:00", 100, "paid", 10),
                ("a", "2024-01-11 00:00:00", 500, "refunded"),
                ("a", "2024-01-11 00:00:00", 0),
                ("a", "2024-01-19 23:59:59", 40),
                ("a", "2024-01-20 00:00:00", 70),
            ),
            "spend": frame(spent_on=["2024-01-01"], amount=[50], channel=["web"]),
        },
        settings,
    )
    window = {"start": "2024-01-01", "end": "2024-03-31"}
    # A = 100 + 40 = 140; ROAS = 140 / 50 = 2.8.
    assert values(compute(src, "roas", **window)) == {"2024-Q1": pytest.approx(2.8)}
    # A x m = 10 (a's own margin) + 20 = 30; ROI = (30 - 50) / 50 = -0.4.
    assert values(compute(src, "roi", **window)) == {"2024-Q1": pytest.approx(-0.4)}
    assert values(compute(src, "acquisition_spend", **window)) == {"2024-Q1": 50}
