from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest
from clv_data import CALIBRATION_END, cdnow_file

from pilotage.clv.summary import customer_summary, utc_offset_transitions
from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source, from_frames

PARIS = Settings(timezone="Europe/Paris")

# Naive timestamps are Paris local time (contract); "Z"/"+00:00" ones are UTC.
TINY_ORDERS = pd.DataFrame(
    [
        # a: first day 2024-01-10 (two orders, merged: 150, excluded from x and m_x)
        ("a1", "a", "2024-01-10T10:00:00", 100.0, None),
        ("a2", "a", "2024-01-10T18:00:00", 50.0, "paid"),
        ("a3", "a", "2024-02-01T12:00:00", 30.0, "refunded"),  # not paid: ignored
        ("a4", "a", "2024-02-05T12:00:00", 0.0, "paid"),  # amount 0: ignored
        # 23:30 UTC on 3 March is 00:30 on 4 March in Paris (CET, +1): local day 4 March
        ("a5", "a", "2024-03-03T23:30:00+00:00", 40.0, "paid"),
        ("a6", "a", "2024-03-04T09:00:00", 20.0, "paid"),  # same local day: 40 + 20 = 60
        # The calibration end date is inclusive (local 23:00 on 31 March, CEST)
        ("a7", "a", "2024-03-31T23:00:00", 10.0, "paid"),
        # 00:30 on 1 April in Paris is 22:30 UTC on 31 March: after the calibration end
        ("a8", "a", "2024-04-01T00:30:00", 99.0, "paid"),
        ("b1", "b", "2024-03-31T12:00:00", 12.0, "paid"),  # first bought on the end date
        ("c1", "c", "2024-04-02T12:00:00", 15.0, "paid"),  # first bought after: not a customer
        ("d1", "d", "2024-01-15T12:00:00", 80.0, "cancelled"),  # never paid
        # 23:30 UTC on 29 February is 00:30 on 1 March in Paris: first day 1 March
        ("e1", "e", "2024-02-29T23:30:00Z", 70.0, "paid"),
        ("e2", "e", "2024-03-10T08:00:00", 25.0, "paid"),
    ],
    columns=["order_id", "contact_id", "ordered_at", "amount", "status"],
)
TINY_END = date(2024, 3, 31)


def _sqlite_copy(source: Source) -> Source:
    """The same orders in SQLite (timestamps as text, like the CRM database)."""
    backend = ibis.sqlite.connect()
    orders = source.execute(source.table("orders"))
    orders["ordered_at"] = orders["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    backend.create_table("orders", orders)
    return Source(backend, "sqlite", source.settings, frozenset({"orders"}), "sqlite copy")


@pytest.fixture(params=["duckdb", "sqlite"])
def tiny_source(request: pytest.FixtureRequest) -> Source:
    source = from_frames({"orders": TINY_ORDERS}, PARIS)
    return source if request.param == "duckdb" else _sqlite_copy(source)


def test_tiny_summary_in_days(tiny_source: Source) -> None:
    # kpis.md's paid orders (amount > 0); the default also counts a4 ($0.00, 5 Feb).
    summary = customer_summary(
        tiny_source,
        calibration_end=TINY_END,
        unit="day",
        holdout_end=date(2024, 4, 30),
        include_zero_amount=False,
    ).set_index("contact_id")
    # Only a, b and e have a paid order (> 0) on or before 31 March (c starts later, d never
    # paid).
    assert list(summary.index) == ["a", "b", "e"]
    # a: purchase days 10 Jan (first), 4 Mar, 31 Mar -> x = 2; 10 Jan -> 31 Mar is
    # 21 + 29 (2024 is a leap year) + 31 = 81 days = t_x = T; m_x = (60 + 10) / 2 = 35.
    # Holdout: 1 April (local), 99.
    a = summary.loc["a"]
    assert (a.frequency, a.recency, a["T"], a.monetary_value) == (2, 81.0, 81.0, 35.0)
    assert (a.frequency_holdout, a.monetary_value_holdout, a.duration_holdout) == (1, 99.0, 30.0)
    # b: one purchase on the calibration end date: x = 0, t_x = 0, T = 0, m_x = 0.
    b = summary.loc["b"]
    assert (b.frequency, b.recency, b["T"], b.monetary_value) == (0, 0.0, 0.0, 0.0)
    # e: first day 1 March (local), repeat on 10 March: x = 1, t_x = 9, T = 30, m_x = 25.
    e = summary.loc["e"]
    assert (e.frequency, e.recency, e["T"], e.monetary_value) == (1, 9.0, 30.0, 25.0)
    assert e.frequency_holdout == 0
    assert e.monetary_value_holdout == 0.0


def test_a_zero_amount_paid_order_is_a_purchase_occasion_by_default(tiny_source: Source) -> None:
    summary = customer_summary(tiny_source, calibration_end=TINY_END, unit="day")
    a = summary.set_index("contact_id").loc["a"]
    # a4 ($0.00 on 5 Feb) adds a purchase day: x = 3 (5 Feb, 4 Mar, 31 Mar), t_x = T = 81,
    # m_x = (0 + 60 + 10) / 3.
    assert (a.frequency, a.recency, a["T"]) == (3, 81.0, 81.0)
    assert a.monetary_value == pytest.approx(70 / 3)


def test_tiny_summary_in_weeks_and_in_utc() -> None:
    summary = customer_summary(
        from_frames({"orders": TINY_ORDERS}, PARIS),
        calibration_end=TINY_END,
        unit="week",
        include_zero_amount=False,
    ).set_index("contact_id")
    assert summary.loc["a", "recency"] == pytest.approx(81 / 7)
    assert summary.loc["e", "T"] == pytest.approx(30 / 7)
    assert "frequency_holdout" not in summary.columns
    # The same orders read in UTC: a5 falls on 3 March (its own day, x = 3), a8 on
    # 31 March (same day as a7), and e starts on 29 February.
    utc = TINY_ORDERS.assign(
        ordered_at=[
            pd.Timestamp(v, tz="Europe/Paris") if "+" not in v and "Z" not in v else v
            for v in TINY_ORDERS["ordered_at"]
        ]
    )
    in_utc = customer_summary(
        from_frames({"orders": utc}, Settings(timezone="UTC")),
        calibration_end=TINY_END,
        unit="day",
        include_zero_amount=False,
    ).set_index("contact_id")
    assert in_utc.loc["a", "frequency"] == 3
    # 4 March: 20, 3 March: 40, 31 March: 10 + 99 -> mean (40 + 20 + 109) / 3
    assert in_utc.loc["a", "monetary_value"] == pytest.approx((40 + 20 + 109) / 3)
    assert in_utc.loc["e", "T"] == 31.0


def test_offsets_of_paris() -> None:
    initial, transitions = utc_offset_transitions("Europe/Paris", 2024)
    assert initial == 561  # Paris mean time, +0:09:21, until 1911
    # 2024: CEST from 01:00 UTC on 31 March, CET again from 01:00 UTC on 27 October.
    assert (1711846800, 7200) in transitions
    assert (1729990800, 3600) in transitions
    assert utc_offset_transitions("UTC", 2024) == (0, ())


def test_cdnow_summaries_reproduced_exactly(cdnow_summary: pd.DataFrame) -> None:
    """Both published summaries, to their 2 decimals (half up), from the raw purchases."""
    mine = cdnow_summary.assign(ID=cdnow_summary["contact_id"].astype(int)).set_index("ID")
    published = pd.read_csv(cdnow_file("cdnow_customers_summary.csv")).set_index("ID")
    with_value = pd.read_csv(cdnow_file("cdnow_customers_summary_with_transactions.csv"))
    with_value = with_value.set_index("ID")
    assert len(mine) == len(published) == len(with_value) == 2357
    assert mine.index.equals(published.index)

    def two_decimals(values: pd.Series) -> np.ndarray:
        # The published files round half up (22.345 -> 22.35); floats hold 22.3449999...
        return np.round(values.to_numpy() + 1e-9, 2)

    np.testing.assert_array_equal(mine["frequency"], published["frequency"])
    np.testing.assert_array_equal(two_decimals(mine["recency"]), published["recency"])
    np.testing.assert_array_equal(two_decimals(mine["T"]), published["T"])
    np.testing.assert_array_equal(mine["frequency"], with_value["x"])
    np.testing.assert_array_equal(two_decimals(mine["recency"]), with_value["t_x"])
    np.testing.assert_array_equal(two_decimals(mine["monetary_value"]), with_value["zbar"])


def test_cdnow_zero_amount_purchases_drop_eight_customers(cdnow_sample_source: Source) -> None:
    """With kpis.md's rule (a paid order has amount > 0) the 8 sample customers whose only
    purchase is $0.00 are left out: 2,349 instead of the published 2,357."""
    summary = customer_summary(
        cdnow_sample_source,
        calibration_end=CALIBRATION_END,
        unit="week",
        include_zero_amount=False,
    )
    assert len(summary) == 2349
    published = pd.read_csv(cdnow_file("cdnow_customers_summary.csv"))
    missing = sorted(set(published["ID"]) - set(summary["contact_id"].astype(int)))
    assert missing == [87, 155, 227, 286, 1080, 1195, 1293, 2086]
    assert (published.set_index("ID").loc[missing, "frequency"] == 0).all()


def test_summary_refuses_bad_arguments(tiny_source: Source) -> None:
    with pytest.raises(ValueError, match="unit"):
        customer_summary(tiny_source, calibration_end=TINY_END, unit="month")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be after"):
        customer_summary(tiny_source, calibration_end=TINY_END, holdout_end=TINY_END)
