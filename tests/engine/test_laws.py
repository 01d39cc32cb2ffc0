"""Laws that hold on any data (hypothesis, bounded examples, on DuckDB)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilotage.contract.settings import Settings
from pilotage.engine.backends import from_frames
from pilotage.engine.compute import compute_kpis

START = datetime(2023, 1, 1)  # noqa: DTZ001 - a naive local time, as in contract files
HOURS = 2 * 365 * 24

order_events = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, HOURS), st.sampled_from([0, 10, 25])),
    min_size=1,
    max_size=40,
)


def company(events: list[tuple[int, int, int]]) -> dict[str, pd.DataFrame]:
    people = sorted({person for person, _, _ in events})
    return {
        "contacts": pd.DataFrame(
            {
                "contact_id": [f"c{p}" for p in people],
                "created_at": [START.isoformat()] * len(people),
                "channel": ["web" if p % 2 else "store" for p in people],
            }
        ),
        "orders": pd.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(len(events))],
                "contact_id": [f"c{p}" for p, _, _ in events],
                "ordered_at": [(START + timedelta(hours=h)).isoformat() for _, h, _ in events],
                "amount": [amount for _, _, amount in events],
            }
        ),
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=order_events, inactivity=st.sampled_from([30, 90, 365]))
def test_retention_plus_churn_is_one(events, inactivity):
    source = from_frames(company(events), Settings(inactivity_days=inactivity))
    result = compute_kpis(
        source,
        grain="month",
        kpis=["customer_churn_rate", "customer_retention_rate"],
        by="channel",
    )
    churn = {(r.period, str(r.by)): r for r in result.rows if r.kpi == "customer_churn_rate"}
    for row in result.rows:
        if row.kpi != "customer_retention_rate":
            continue
        other = churn[(row.period, str(row.by))]
        assert row.denominator == other.denominator  # the same cohort S
        if row.value is None:
            assert other.value is None
        else:
            assert row.value + other.value == pytest.approx(1.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=order_events, zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]))
def test_months_of_a_quarter_add_up_to_the_quarter(events, zone):
    source = from_frames(company(events), Settings(timezone=zone))
    options = {"start": "2023-01-01", "end": "2024-12-31", "kpis": ["new_customers", "revenue"]}
    months = compute_kpis(source, grain="month", **options)
    quarters = compute_kpis(source, grain="quarter", **options)
    for quarter in quarters.rows:
        year, number = quarter.period.split("-Q")
        first = (int(number) - 1) * 3 + 1
        labels = {f"{year}-{month:02d}" for month in range(first, first + 3)}
        total = sum(
            row.value or 0.0
            for row in months.rows
            if row.kpi == quarter.kpi and row.period in labels
        )
        assert (quarter.value or 0.0) == pytest.approx(total)
