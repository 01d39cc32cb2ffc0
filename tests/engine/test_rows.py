"""Result rows: empty periods, complete flags, as_of, the JSON shape, breakdown errors."""

from __future__ import annotations

import json

import pytest
from engine_helpers import compute, contacts, orders

from pilotage.engine.compute import compute_kpis
from pilotage.engine.context import KpiError

SMALL = {
    "contacts": contacts(("a", "2024-01-10", "web"), ("b", "2024-03-05", "store")),
    "orders": orders(("a", "2024-01-20", 100), ("b", "2024-03-06 12:00", 40)),
}


def test_empty_periods_are_null_not_zero_nor_an_error(source):
    src = source(SMALL)
    result = compute_kpis(
        src, grain="quarter", start="2023-07-01", end="2024-12-31", kpis=["new_leads", "cac"]
    )
    rows = {(row.kpi, row.period): row for row in result.rows}
    # Before the data begins and after as_of: nothing is known -> null, not complete.
    for period in ("2023-Q3", "2023-Q4", "2024-Q2", "2024-Q3", "2024-Q4"):
        assert rows[("new_leads", period)].value is None
        assert not rows[("new_leads", period)].complete
    assert rows[("new_leads", "2024-Q1")].value == 2
    # Q1 ends after as_of (2024-03-06 12:00): provisional.
    assert not rows[("new_leads", "2024-Q1")].complete


def test_a_quiet_month_inside_the_data_counts_zero(source):
    src = source(SMALL)
    result = compute_kpis(src, grain="month", kpis=["new_leads", "lead_conversion_rate"])
    rows = {(row.kpi, row.period): row for row in result.rows}
    # February: no contact created -> 0 leads (a true zero) and a 0 / 0 rate -> null.
    assert rows[("new_leads", "2024-02")].value == 0
    assert rows[("new_leads", "2024-02")].complete
    rate = rows[("lead_conversion_rate", "2024-02")]
    assert (rate.value, rate.numerator, rate.denominator) == (None, 0, 0)


def test_as_of_defaults_to_the_latest_timestamp_and_cuts_when_earlier(source):
    src = source(SMALL)
    result = compute(src, "new_customers", grain="month")
    assert result.as_of.isoformat() == "2024-03-06T12:00:00+00:00"
    # Read as of 2024-02-10: b (created in March) and its order are not known yet;
    # February is partly observed (0 so far, provisional), March not at all (null).
    early = compute(src, "new_customers", grain="month", as_of="2024-02-10", end="2024-03-31")
    values = {row.period: row.value for row in early.rows}
    assert values == {"2024-01": 1, "2024-02": 0, "2024-03": None}
    assert [row.complete for row in early.rows] == [True, False, False]


def test_json_document_has_the_interface_shape(source):
    src = source(SMALL)
    document = json.loads(json.dumps(compute(src, "revenue", by="channel").to_dict()))
    assert set(document) == {"as_of", "grain", "settings", "rows"}
    assert document["grain"] == "quarter"
    row = document["rows"][0]
    assert set(row) == {
        "kpi",
        "period",
        "period_start",
        "period_end",
        "by",
        "value",
        "numerator",
        "denominator",
        "complete",
    }
    assert row["by"] == {"channel": "store"}
    assert row["value"] == 40


def test_to_pandas_flattens_the_breakdown(source):
    frame = compute(source(SMALL), "revenue", by="channel").to_pandas()
    assert list(frame["channel"]) == ["store", "web"]
    assert list(frame["value"]) == [40.0, 100.0]


def test_unsupported_breakdowns_are_refused_with_a_reason(source):
    src = source(SMALL)
    with pytest.raises(KpiError, match="acquisition_spend has no breakdown by owner"):
        compute(src, "acquisition_spend", by="owner")
    with pytest.raises(KpiError, match="unknown KPI"):
        compute(src, "no_such_kpi")
    everything = compute_kpis(src, by="owner")
    assert "acquisition_spend: no breakdown by owner" in everything.skipped
