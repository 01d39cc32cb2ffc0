"""One customer's summary computed in plain Python (rescoring one contact between batches)
equals the engine's summary of the whole base, customer by customer, on a generated
company in a time zone with daylight saving time (Europe/Paris: late-evening orders fall
on the next local day in winter and summer alike)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pilotage.clv import customer_summary
from pilotage.clv.summary import summary_of_one
from pilotage.demo.generator import generate_company
from pilotage.engine.backends import open_source


@pytest.mark.parametrize("calibration_end", [date(2026, 3, 29), date(2026, 9, 30)])
def test_summary_of_one_equals_the_engine_summary(tmp_path: Path, calibration_end: date) -> None:
    folder = tmp_path / "company"
    generate_company(folder, contacts=800, seed=11)
    source = open_source(data=folder)
    assert source.settings.timezone == "Europe/Paris"
    engine = customer_summary(source, calibration_end=calibration_end, unit="week")
    orders = source.execute(source.table("orders"))
    by_contact = {
        contact: group.to_dict("records")
        for contact, group in orders.groupby("contact_id", sort=False)
    }
    assert len(engine) > 20
    for row in engine.itertuples(index=False):
        records = [
            {**order, "ordered_at": pd.Timestamp(order["ordered_at"]).to_pydatetime()}
            for order in by_contact[row.contact_id]
        ]
        mine = summary_of_one(
            records, calibration_end=calibration_end, unit="week", timezone="Europe/Paris"
        )
        assert mine == pytest.approx(
            (row.frequency, row.recency, row.T, row.monetary_value), rel=1e-12
        ), row.contact_id
    # A contact whose orders are all after the calibration end, or not paid: no summary.
    first_buyers = set(orders.loc[orders["status"] == "paid", "contact_id"]) - set(
        engine["contact_id"]
    )
    for contact in list(first_buyers)[:20]:
        records = [
            {**order, "ordered_at": pd.Timestamp(order["ordered_at"]).to_pydatetime()}
            for order in by_contact[contact]
        ]
        assert (
            summary_of_one(
                records, calibration_end=calibration_end, unit="week", timezone="Europe/Paris"
            )
            is None
        )
