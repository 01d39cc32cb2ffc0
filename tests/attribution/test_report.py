"""attribute(): conversions, revenue, spend, CAC, ROAS, ROI per period and campaign."""

from __future__ import annotations

import importlib
from datetime import date
from typing import NoReturn

import pytest
from attribution_helpers import build_source, utc

from pilotage.attribution import MODELS, attribute, credits, levers
from pilotage.contract.settings import Settings
from pilotage.engine import batches
from pilotage.engine.backends import Source
from pilotage.engine.compute import compute_kpis

# Q1 2024: a (c1 > c2, converts 02-10, orders 100 then 50 on 03-01), b (direct, 30),
#          p (c3 > null).
# Q2 2024: d (c2 > c1 > c1 on web, converts 05-01, 200 then 300 on 2025-06-01, outside
#          R = 365 days), e (direct, 10).
TOUCHES = [
    ("i1", "a", "2024-01-20 00:00:00", "c1"),
    ("i2", "a", "2024-02-01 00:00:00", "c2"),
    ("i3", "p", "2024-03-01 00:00:00", "c3"),
    ("i4", "d", "2024-04-10 00:00:00", "c2"),
    ("i5", "d", "2024-04-20 00:00:00", "c1"),
    ("i6", "d", "2024-04-25 00:00:00", "c1"),
]
ORDERS = [
    ("a", "2024-02-10 00:00:00", 100.0),
    ("a", "2024-03-01 00:00:00", 50.0),
    ("b", "2024-03-05 00:00:00", 30.0),
    ("d", "2024-05-01 00:00:00", 200.0),
    ("d", "2025-06-01 00:00:00", 300.0),
    ("e", "2024-06-01 00:00:00", 10.0),
]
SPEND = [
    ("2024-01-15", "web", "c1", 60.0),
    ("2024-02-15", "email", "c2", 40.0),
    ("2024-02-20", "ads", "c3", 90.0),  # c3 never converts anybody
    ("2024-03-01", "store", None, 25.0),  # channel-level spend, no campaign
    ("2024-04-15", "web", "c1", 100.0),
]
NEW_CUSTOMERS = {"2024-Q1": 2, "2024-Q2": 2}  # a, b; d, e


@pytest.fixture(scope="module")
def source():
    return build_source(TOUCHES, ORDERS, SPEND)


@pytest.mark.parametrize("by", ["campaign", "channel"])
def test_conversions_sum_to_new_customers_for_every_model(source, by):
    result = attribute(source, "all", by, "quarter")
    for model in MODELS:
        for period, customers in NEW_CUSTOMERS.items():
            total = sum(
                r.conversions for r in result.rows if r.model == model and r.period == period
            )
            assert total == pytest.approx(customers), (model, period)


def test_linear_by_campaign_numbers(source):
    rows = {(r.period, r.key): r for r in attribute(source, "linear", "campaign").rows}
    # Q1, c1: a's credit 1/2; revenue 1/2 x (100 + 50) = 75; spend 60; CAC 60 / 0.5 = 120;
    # ROAS 75 / 60 = 1.25; ROI (75 x 1 - 60) / 60 = 0.25.
    c1 = rows[("2024-Q1", "c1")]
    assert (c1.conversions, c1.revenue, c1.spend) == (0.5, 75.0, 60.0)
    assert (c1.cac, c1.roas, c1.roi) == (120.0, 1.25, 0.25)
    # Q1, c2: credit 1/2, revenue 75, spend 40: CAC 80, ROAS 1.875, ROI 0.875.
    c2 = rows[("2024-Q1", "c2")]
    assert (c2.cac, c2.roas, c2.roi) == (80.0, 1.875, 0.875)
    # Q1, c3: spend 90 with no conversion: CAC null, ROAS 0, ROI -1 (-100 %).
    c3 = rows[("2024-Q1", "c3")]
    assert (c3.conversions, c3.revenue, c3.spend) == (0.0, 0.0, 90.0)
    assert (c3.cac, c3.roas, c3.roi) == (None, 0.0, -1.0)
    # Q1, (direct): b, 30 of revenue, no spend: conversion-only row.
    direct = rows[("2024-Q1", "(direct)")]
    assert (direct.conversions, direct.revenue, direct.spend) == (1.0, 30.0, None)
    assert (direct.cac, direct.roas, direct.roi) == (None, None, None)
    # Q2, d's path c2 > c1 > c1: c1 2/3, c2 1/3; its revenue in [05-01, 05-01 + 365 d)
    # is 200 (the 2025-06-01 order is outside R): c1 133.33, c2 66.67.
    assert rows[("2024-Q2", "c1")].conversions == pytest.approx(2 / 3)
    assert rows[("2024-Q2", "c1")].revenue == pytest.approx(400 / 3)
    assert rows[("2024-Q2", "c1")].cac == pytest.approx(150.0)  # 100 / (2/3)
    assert rows[("2024-Q2", "c2")].spend == 0.0  # no Q2 spend: CAC 0, ROI null
    assert rows[("2024-Q2", "c2")].roi is None
    # the store channel-level spend belongs to no campaign
    assert not any(key == "store" for _, key in rows)


def test_channel_view_counts_channel_spend_and_direct_by_acquisition_channel(source):
    rows = {(r.period, r.key): r for r in attribute(source, "last_touch", "channel").rows}
    # Q1: a's last touch is c2 (email); b is direct and was acquired in store, which
    # also has 25 of channel-level spend: CAC 25, ROAS 30 / 25 = 1.2.
    assert rows[("2024-Q1", "email")].conversions == 1.0
    store = rows[("2024-Q1", "store")]
    assert (store.conversions, store.revenue, store.spend, store.cac) == (1.0, 30.0, 25.0, 25.0)
    assert store.roas == pytest.approx(1.2)
    # web spent 60 in Q1 for no last-touch conversion: ROI -100 %
    assert (rows[("2024-Q1", "web")].cac, rows[("2024-Q1", "web")].roi) == (None, -1.0)


def test_margin_and_complete_flag(source):
    settings = Settings(gross_margin=0.5, revenue_window_days=30)
    source = build_source(TOUCHES, ORDERS, SPEND, settings=settings)
    as_of = utc(2024, 7, 15)
    result = attribute(source, "first_touch", "campaign", as_of=as_of)
    rows = {(r.period, r.key): r for r in result.rows}
    # Q1 c1: first touch of a; R = 30 days: orders of 02-10 and 03-01 (19 days later):
    # 150; ROI = (150 x 0.5 - 60) / 60 = 0.25.
    assert rows[("2024-Q1", "c1")].roi == pytest.approx(0.25)
    # Q1 ends 04-01; + 30 days = 05-01 <= as_of: complete. Q2 + 30 d = 07-31 > 07-15.
    assert rows[("2024-Q1", "c1")].complete is True
    assert rows[("2024-Q2", "c2")].complete is False
    # periods run to the one containing as_of (Q3), which has no conversion and no spend
    assert {r.period for r in result.rows} == {"2024-Q1", "2024-Q2"}


def test_roi_counts_each_orders_own_margin_on_every_surface():
    # data-contract.md: an order's margin, when given, replaces amount x gross_margin.
    # a (touched by c1 only) buys 100 with a margin of 10, then 50 without one (x 0.5 = 25):
    # attributed margin 35, spend 50 -> ROI (35 - 50) / 50 = -0.3 (amount x m would say
    # (150 x 0.5 - 50) / 50 = +0.5); ROAS 150 / 50 = 3.
    source = build_source(
        [("i1", "a", "2024-01-20 00:00:00", "c1")],
        [("a", "2024-02-10 00:00:00", 100.0, 10.0), ("a", "2024-03-01 00:00:00", 50.0)],
        [("2024-01-15", "web", "c1", 50.0)],
        settings=Settings(gross_margin=0.5),
    )
    report = {(r.period, r.key): r for r in attribute(source, "linear", "campaign").rows}
    assert report[("2024-Q1", "c1")].roas == pytest.approx(3.0)
    assert report[("2024-Q1", "c1")].roi == pytest.approx(-0.3)
    kpis = compute_kpis(source, kpis=["roi"], by="campaign", start="2024-01-01", end="2024-03-31")
    assert [(row.by, row.value) for row in kpis.rows] == [
        ({"campaign_id": "c1"}, pytest.approx(-0.3))
    ]
    result = levers(source, start=date(2024, 1, 1), end=date(2024, 3, 31), model="linear")
    assert result.overall_roi == pytest.approx(-0.3)
    assert [(lever.key, lever.roi) for lever in result.campaigns] == [("c1", pytest.approx(-0.3))]


def test_the_default_as_of_is_the_kpi_engines_spend_days_included():
    # The latest data is a day of spend, 2024-04-05 (UTC): as of its midnight, as the
    # KPI engine reads it. Q1 + R (1 day) = 2024-04-02 <= 2024-04-05: Q1's ROAS is final
    # on every surface (the last order alone, 03-31 10:00, would have said not yet).
    source = build_source(
        [("i1", "a", "2024-03-01 00:00:00", "c1")],
        [("a", "2024-03-31 10:00:00", 100.0)],
        [("2024-01-15", "web", "c1", 50.0), ("2024-04-05", "web", "c1", 20.0)],
        settings=Settings(revenue_window_days=1),
    )
    report = attribute(source, "linear", "campaign")
    assert report.as_of == utc(2024, 4, 5)
    assert next(r for r in report.rows if r.period == "2024-Q1").complete is True
    kpis = compute_kpis(source, kpis=["roas"], by="campaign", start="2024-01-01", end="2024-03-31")
    assert [row.complete for row in kpis.rows] == [True]
    assert levers(source, model="linear").as_of == utc(2024, 4, 5)


def test_spend_booked_after_an_explicit_as_of_is_not_known_yet():
    # As of 2024-05-01: c1 spent 50 on 04-02; its 1000 of 06-01 is not known yet (the KPI
    # engine cuts spend the same way). a, touched by c1, bought 100 on 04-10.
    # Q2 c1: spend 50, CAC 50 / 1 = 50, ROI (100 - 50) / 50 = 1.0.
    source = build_source(
        [("i1", "a", "2024-04-05 00:00:00", "c1")],
        [("a", "2024-04-10 00:00:00", 100.0)],
        [("2024-04-02", "web", "c1", 50.0), ("2024-06-01", "web", "c1", 1000.0)],
    )
    as_of = utc(2024, 5, 1)
    rows = {(r.period, r.key): r for r in attribute(source, "linear", "campaign", as_of=as_of).rows}
    assert (rows[("2024-Q2", "c1")].spend, rows[("2024-Q2", "c1")].cac) == (50.0, 50.0)
    assert rows[("2024-Q2", "c1")].roi == pytest.approx(1.0)
    q2 = levers(source, start=date(2024, 4, 1), end=date(2024, 6, 30), as_of=as_of, model="linear")
    assert q2.spend == 50.0
    assert [(lever.key, lever.spend) for lever in q2.campaigns] == [("c1", 50.0)]
    kpis = compute_kpis(source, kpis=["cac"], start="2024-04-01", end="2024-06-30", as_of=as_of)
    assert [row.value for row in kpis.rows] == [50.0]


def test_from_to_and_json_shape(source):
    result = attribute(
        source, "linear", "campaign", "month", start=date(2024, 2, 1), end=date(2024, 2, 29)
    )
    document = result.to_json()
    assert set(document) == {"as_of", "model", "by", "rows"}
    assert document["as_of"] == "2025-06-01T00:00:00+00:00"  # latest timestamp in the data
    assert {row["period"] for row in document["rows"]} == {"2024-02"}
    for row in document["rows"]:
        assert set(row) == {
            "model",
            "period",
            "campaign_id",
            "conversions",
            "revenue",
            "spend",
            "cac",
            "roas",
            "roi",
            "complete",
        }
    direct = [row for row in document["rows"] if row["campaign_id"] == "(direct)"]
    assert direct == []  # b converted in March
    channel = attribute(source, "linear", "channel", "year").to_json()
    assert "channel" in channel["rows"][0]
    assert "campaign_id" not in channel["rows"][0]


@pytest.mark.parametrize("model", MODELS)
def test_aggregates_agree_with_per_conversion_credits(source, model):
    # attribute() aggregates in one pass; credits() is the per-conversion table the KPI
    # engine uses. Summed per quarter and campaign, they must agree.
    from pilotage.engine.periods import periods_between

    periods = periods_between(date(2024, 1, 1), date(2024, 6, 30), "quarter", source.settings)
    table = source.execute(credits(source, model, "campaign", periods=periods))
    table["period"] = ["2024-Q1" if t.month <= 3 else "2024-Q2" for t in table["converted_at"]]
    from_credits = table.groupby(["period", "campaign_id"])["credit"].sum().to_dict()
    result = attribute(source, model, "campaign", start=date(2024, 1, 1), end=date(2024, 6, 30))
    from_report = {(r.period, r.key): r.conversions for r in result.rows if r.conversions}
    assert from_report.keys() == from_credits.keys()
    for pair, value in from_credits.items():
        assert from_report[pair] == pytest.approx(value)


def test_empty_data():
    source = build_source()
    result = attribute(source, "all")
    assert result.rows == []
    assert result.to_json()["as_of"] is None


def test_attribution_queries_are_kept_for_the_next_process(tmp_path, monkeypatch):
    """Each attribution and lever query's SQL is kept under what it is built from: asked
    again by the next process (memory emptied, the Pilotage folder read), it runs without
    building or compiling its expression, and gives the same rows. The chain (markov)
    holds transition shares computed in pandas: never kept, built each time."""
    monkeypatch.setenv("PILOTAGE_HOME", str(tmp_path))
    batches._kept_queries._entries.clear()
    first = attribute(build_source(TOUCHES, ORDERS, SPEND), "linear", "campaign", "quarter")
    first_levers = levers(build_source(TOUCHES, ORDERS, SPEND), model="first_touch")
    kept = list((tmp_path / "cache" / "sql").glob("*.json"))
    # Attribution: by rules, direct, spend; levers: new customers, numbers and spend by
    # channel and by campaign, campaign channels.
    assert len(kept) == 3 + 6

    batches._kept_queries._entries.clear()  # a new process

    def never(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("built or compiled again")

    monkeypatch.setattr(Source, "compile", never)
    for module in ("pilotage.attribution.report", "pilotage.attribution.levers"):
        monkeypatch.setattr(importlib.import_module(module), "customer_revenue", never)
    again = attribute(build_source(TOUCHES, ORDERS, SPEND), "linear", "campaign", "quarter")
    assert again.rows == first.rows
    assert levers(build_source(TOUCHES, ORDERS, SPEND), model="first_touch") == first_levers
    # Another model is another query.
    with pytest.raises(AssertionError, match="built or compiled again"):
        attribute(build_source(TOUCHES, ORDERS, SPEND), "first_touch", "campaign", "quarter")
