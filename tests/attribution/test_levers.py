"""Levers: scale / cut / watch per channel and campaign on a hand-made company."""

from __future__ import annotations

from datetime import date

import pytest
from attribution_helpers import build_source

from pilotage.attribution import levers
from pilotage.attribution.levers import flag_lever
from pilotage.contract.settings import Settings

# Q1 2024, model last_touch (integer credits), min_customers = 2, margin 1, D = 365 d.
#   c1 (web):   spend 100; a1, a2, a3 last-touched by c1, 100 of revenue each (a1 in two
#               orders, so a1 does not churn early; a2 and a3 do): 3 customers, CAC 33.33,
#               ROI (300 - 100) / 100 = 200 %, early churn 2/3.
#   c2 (email): spend 600; b1, b2, 50 each: CAC 300, ROI (100 - 600) / 600 = -83.3 %.
#   c3 (ads):   spend 100; d1, 1,000: ROI 900 % but 1 customer < 2: watch.
#   e:          direct, acquired in store, 50; no store spend.
# Totals: spend 800, new customers 7, blended CAC 800 / 7 = 114.29,
#   revenue 300 + 100 + 1,000 + 50 = 1,450, overall ROI (1,450 - 800) / 800 = 81.25 %.
# c1: CAC 33.33 < 114.29 and ROI 200 % > 81.25 %, 3 >= 2          -> scale
# c2: ROI < 0 and CAC 300 > 114.29 (2.625x), 2 >= 2                -> cut
# c3: 1 customer < 2                                               -> watch
TOUCHES = [
    ("i1", "a1", "2024-02-01 00:00:00", "c1"),
    ("i2", "a2", "2024-02-01 00:00:00", "c1"),
    ("i3", "a3", "2024-02-01 00:00:00", "c2"),
    ("i4", "a3", "2024-02-02 00:00:00", "c1"),
    ("i5", "b1", "2024-02-01 00:00:00", "c2"),
    ("i6", "b2", "2024-02-01 00:00:00", "c2"),
    ("i7", "d1", "2024-02-01 00:00:00", "c3"),
]
ORDERS = [
    ("a1", "2024-02-10 00:00:00", 60.0),
    ("a1", "2024-05-10 00:00:00", 40.0),
    ("a2", "2024-02-10 00:00:00", 100.0),
    ("a3", "2024-02-10 00:00:00", 100.0),
    ("b1", "2024-02-10 00:00:00", 50.0),
    ("b2", "2024-02-10 00:00:00", 50.0),
    ("d1", "2024-02-10 00:00:00", 1000.0),
    ("e", "2024-02-10 00:00:00", 50.0),
]
SPEND = [
    ("2024-01-15", "web", "c1", 100.0),
    ("2024-01-15", "email", "c2", 600.0),
    ("2024-01-15", "ads", "c3", 100.0),
]
SETTINGS = Settings(attribution_model="last_touch", min_customers=2)


@pytest.fixture(scope="module")
def result():
    contacts = {c: "web" for c in ("a1", "a2", "a3", "b1", "b2", "d1")} | {"e": "store"}
    source = build_source(TOUCHES, ORDERS, SPEND, contacts=contacts, settings=SETTINGS)
    return levers(source, date(2024, 1, 1), date(2024, 3, 31))


def test_totals(result):
    assert (result.spend, result.new_customers, result.revenue) == (800.0, 7, 1450.0)
    assert result.blended_cac == pytest.approx(800 / 7)
    assert result.overall_roi == pytest.approx(0.8125)
    assert result.model == "last_touch"


def test_campaign_flags_and_numbers(result):
    campaigns = {lever.key: lever for lever in result.campaigns}
    assert set(campaigns) == {"c1", "c2", "c3"}  # (direct) is no lever
    c1, c2, c3 = campaigns["c1"], campaigns["c2"], campaigns["c3"]
    assert (c1.flag, c1.new_customers, c1.spend, c1.revenue) == ("scale", 3.0, 100.0, 300.0)
    assert c1.cac == pytest.approx(100 / 3)
    assert c1.roi == pytest.approx(2.0)
    assert c1.early_churn_rate == pytest.approx(2 / 3)
    assert c1.channel == "web"
    assert c1.reason_en == "CAC 0.3x the average and ROI 200 % (overall 81 %): scale up"
    assert c1.reason_fr == "CAC 0,3x la moyenne et ROI 200 % (global 81 %) : augmenter le budget"
    assert (c2.flag, c2.cac) == ("cut", 300.0)
    assert c2.cac_vs_blended == pytest.approx(2.625)
    assert c2.roi == pytest.approx(-5 / 6)
    assert c2.reason_en == "CAC 2.6x the average and ROI -83 %: stop or rework"
    assert c2.reason_fr == "CAC 2,6x la moyenne et ROI -83 % : arrêter ou retravailler"
    assert (c3.flag, c3.roi) == ("watch", 9.0)
    assert "too few to judge" in c3.reason_en
    assert "trop peu" in c3.reason_fr


def test_channel_flags(result):
    channels = {lever.key: lever.flag for lever in result.channels}
    # web = c1, email = c2, ads = c3; store: e's direct conversion, no spend: watch
    assert channels == {"web": "scale", "email": "cut", "ads": "watch", "store": "watch"}
    store = next(lever for lever in result.channels if lever.key == "store")
    assert store.reason_en == "no spend in the period: nothing to scale or cut"
    # sorted by spend, largest first
    assert [lever.key for lever in result.channels][:3] == ["email", "web", "ads"]


def test_json_carries_numbers_and_reasons(result):
    document = result.to_json()
    assert document["from"] == "2024-01-01"
    assert document["to"] == "2024-03-31"
    c2 = next(row for row in document["campaigns"] if row["campaign_id"] == "c2")
    assert c2["flag"] == "cut"
    assert c2["spend"] == 600.0
    assert c2["new_customers"] == 2.0
    assert set(c2["reason"]) == {"en", "fr"}


def test_watch_when_cheap_but_less_profitable_than_overall():
    # CAC below the blended CAC but ROI 50 % under an overall ROI of 80 %: watch.
    lever = flag_lever(
        "campaign",
        "x",
        "web",
        spend=100.0,
        new_customers=20.0,
        revenue=150.0,
        margin=150.0,  # gross_margin 1.0 by default
        churned=5.0,
        blended_cac=10.0,
        overall_roi=0.8,
        settings=Settings(),
    )
    assert lever.flag == "watch"
    assert lever.early_churn_rate == 0.25
    assert lever.reason_en == "CAC 0.5x the average and ROI 50 % (overall 80 %): keep watching"


def test_a_sum_of_credits_at_the_minimum_is_enough_customers():
    # 100 conversions credited 0.1 each (position-based middles) sum to 9.99999999999998
    # in floating point: that is 10 customers, min_customers 10. CAC 1 below a blended
    # 50 and ROI (100 - 10) / 10 = 9 above an overall 0.5: scale.
    lever = flag_lever(
        "campaign",
        "x",
        "web",
        spend=10.0,
        new_customers=sum([0.1] * 100),
        revenue=100.0,
        margin=100.0,
        churned=0.0,
        blended_cac=50.0,
        overall_roi=0.5,
        settings=Settings(min_customers=10),
    )
    assert lever.flag == "scale"


def test_spend_without_customers_is_cut_only_without_a_minimum():
    def flag(minimum: int) -> str:
        return flag_lever(
            "campaign",
            "x",
            "ads",
            spend=100.0,
            new_customers=0.0,
            revenue=0.0,
            margin=0.0,
            churned=0.0,
            blended_cac=10.0,
            overall_roi=0.8,
            settings=Settings(min_customers=minimum),
        ).flag

    assert flag(0) == "cut"
    assert flag(10) == "watch"


def test_markov_levers_share_the_touched_customers_by_removal_effect():
    """The same company under the Markov chain of Q1 2024. Start -> c1 2/6 (a1, a2),
    -> c2 3/6 (a3, b1, b2), -> c3 1/6 (d1); c1 -> conversion 3/3; c2 -> c1 1/3 (a3),
    -> conversion 2/3; c3 -> conversion. P(conversion) = 1.
    Without c1: 3/6 x 2/3 + 1/6 = 1/2, RE 1/2. Without c2: 2/6 + 1/6 = 1/2, RE 1/2.
    Without c3: 2/6 + 3/6 = 5/6, RE 1/6. Shares c1 3/7, c2 3/7, c3 1/7 of the 6 touched
    customers (revenue 100 + 100 + 100 + 50 + 50 + 1,000 = 1,400; 5 churn early, a1 does
    not): c1 and c2 18/7 customers, 600 of revenue, 15/7 churned; c3 6/7, 200, 5/7.
    By channel the states are web (c1), email (c2) and ads (c3): the same shares; e's
    direct conversion is 1 customer of its acquisition channel, store (50)."""
    contacts = {c: "web" for c in ("a1", "a2", "a3", "b1", "b2", "d1")} | {"e": "store"}
    source = build_source(TOUCHES, ORDERS, SPEND, contacts=contacts, settings=SETTINGS)
    markov = levers(source, date(2024, 1, 1), date(2024, 3, 31), model="markov")
    assert markov.model == "markov"
    assert (markov.spend, markov.new_customers, markov.revenue) == (800.0, 7, 1450.0)
    campaigns = {lever.key: lever for lever in markov.campaigns}
    assert set(campaigns) == {"c1", "c2", "c3"}
    for key, customers, revenue in (("c1", 18 / 7, 600), ("c2", 18 / 7, 600), ("c3", 6 / 7, 200)):
        assert campaigns[key].new_customers == pytest.approx(customers), key
        assert campaigns[key].revenue == pytest.approx(revenue), key
        assert campaigns[key].early_churn_rate == pytest.approx(5 / 6), key
    assert campaigns["c1"].cac == pytest.approx(100 / (18 / 7))
    assert campaigns["c3"].flag == "watch"  # 6/7 of a customer < 2
    channels = {lever.key: lever for lever in markov.channels}
    assert channels["web"].new_customers == pytest.approx(18 / 7)
    assert channels["ads"].revenue == pytest.approx(200)
    assert (channels["store"].new_customers, channels["store"].revenue) == (1.0, 50.0)
