"""The CRM's one-contact rescoring (plain Python) gives the engine's numbers, on the
generated company: every field, rule point, group, score, grade, RFM and fingerprint."""

from __future__ import annotations

import pandas as pd
import pytest

from pilotage.contract.reader import read_folder
from pilotage.demo.generator import generate_company
from pilotage.scoring import default_model, score, score_contact
from pilotage.scoring.features import BASE_FIELDS
from pilotage.scoring.fingerprint import fingerprint_of_one, fingerprints


def _rows(source, table: str) -> dict[str, list[dict]]:
    frame = source.execute(source.table(table))
    grouped: dict[str, list[dict]] = {}
    for row in frame.to_dict("records"):
        clean = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in row.items()}
        for key, value in clean.items():
            if isinstance(value, pd.Timestamp):
                clean[key] = value.to_pydatetime()
        grouped.setdefault(str(row["contact_id"]), []).append(clean)
    return grouped


def test_one_contact_equals_the_batch(tmp_path):
    generate_company(tmp_path, contacts=400, seed=11)
    source = read_folder(tmp_path)
    model = default_model()
    batch = score(source, model, use_clv=False)
    frame = batch.frame.set_index("contact_id")
    tables = {
        name: _rows(source, name)
        for name in ("contacts", "orders", "subscriptions", "interactions", "stage_changes")
    }
    prints = fingerprints(source).set_index("contact_id")["fingerprint"]
    compared = 0
    for contact_id in frame.index:
        contact = tables["contacts"][contact_id][0]
        related = {
            name: tables[name].get(contact_id, [])
            for name in ("orders", "subscriptions", "interactions", "stage_changes")
        }
        row = score_contact(
            model,
            contact,
            **related,
            as_of=batch.as_of,
            stages=source.settings.journey_stages,
            types=BASE_FIELDS,
            rfm_edges=batch.rfm_edges,
        )
        expected = frame.loc[contact_id]
        for column in frame.columns:
            if column.startswith(("rule__", "stage__", "group__")) or column == "score":
                assert row[column] == pytest.approx(expected[column], abs=1e-9), column
        assert row["grade"] == expected["grade"]
        for column in ("r", "f", "m", "segment"):
            value = expected[column]
            assert row[column] == (None if pd.isna(value) else value), column
        assert row["reason_en"] == expected["reason_en"]
        assert row["priority"] == pytest.approx(expected["priority"])
        assert fingerprint_of_one(contact, **related) == prints[contact_id]
        compared += 1
    assert compared == 400
