"""CSV safe to open in a spreadsheet, everywhere the product writes CSV: text that would
run as a formula gets a leading apostrophe, numbers (`-5.00`) never do; a rejects file
goes back in through the import unchanged."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pilotage.contract.csv_safety import (
    SafeDictWriter,
    SafeWriter,
    safe_csv_frame,
    safe_csv_value,
)
from pilotage.contract.settings import Settings
from pilotage.contract.validation import validate_folder
from pilotage.web.exports import safe_csv_value as web_safe_csv_value


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-", "'-"),
        # Plain numbers, even as text, are not formulas: a negative amount stays one.
        ("-5.00", "-5.00"),
        ("+3", "+3"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        (-5, -5),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, None),
    ],
)
def test_one_rule_for_the_core_and_the_web(value: Any, safe: Any) -> None:
    assert safe_csv_value(value) == safe
    assert web_safe_csv_value(value) == safe


def test_writers_and_frames() -> None:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(["=1+1", "-5.00", -2, None])
    dict_out = io.StringIO()
    dict_writer = SafeDictWriter(dict_out, fieldnames=["name", "amount"], lineterminator="\n")
    dict_writer.writeheader()
    dict_writer.writerows([{"name": "@x", "amount": "-5.00"}])
    frame = safe_csv_frame(pd.DataFrame({"contact_id": ["=c1", "c2"], "clv": [-1.5, 2.0]}))
    assert out.getvalue() == "'=1+1,-5.00,-2,\n"
    assert dict_out.getvalue() == "name,amount\n'@x,-5.00\n"
    assert frame.to_csv(index=False, lineterminator="\n") == "contact_id,clv\n'=c1,-1.5\nc2,2.0\n"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_rejects_are_neutralised_and_go_back_in_unchanged(write_folder, tmp_path):
    name = '=HYPERLINK("http://evil","x")'
    folder = write_folder(
        {
            "contacts": "contact_id,created_at,channel,name,phone,city\n"
            "c1,2024-01-01,web,Ann,,\n"
            f'c2,not a date,web,"{name.replace(chr(34), chr(34) * 2)}",+33 6 12 34 56 78,-12.5\n',
            "orders": "order_id,contact_id,ordered_at,amount,margin\n"
            "o1,c1,2024-01-05,5.00,-5.00\no2,c1,2024-01-05,-5.00,1\n",
        }
    )
    validation = validate_folder(folder, Settings())
    rejects = {p.name: p for p in validation.write_rejects(tmp_path / "rejects")}
    (contact,) = _rows(rejects["contacts.csv"])
    assert contact["name"] == "'" + name
    assert contact["phone"] == "'+33 6 12 34 56 78"
    assert contact["city"] == "-12.5"  # text, but a plain number: as it was
    (order,) = _rows(rejects["orders.csv"])
    assert order["amount"] == "-5.00"  # the value to fix, as written
    assert order["reasons"].startswith("amount: negative amount")

    # Fixed (the date, the amount) and imported again: the values are the original ones.
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    for file_name, row, changes in (
        ("contacts.csv", contact, {"created_at": "2024-01-02"}),
        ("orders.csv", order, {"amount": "5.00"}),
    ):
        values = {k: v for k, v in (row | changes).items() if k not in ("line", "reasons")}
        with (fixed / file_name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(values), lineterminator="\n")
            writer.writeheader()
            writer.writerow(values)
    again = validate_folder(fixed, Settings(), lambda table: ["c1"] if table == "contacts" else [])
    assert again.ok, again.problems
    stored = again.connection.execute("SELECT name, phone, city FROM _clean_contacts").fetchall()
    assert stored == [(name, "+33 6 12 34 56 78", "-12.5")]
    margin = again.connection.execute("SELECT margin FROM _clean_orders").fetchone()
    assert margin is not None
    assert float(margin[0]) == 1.0


COMPANY = {
    "campaigns": "campaign_id,name,channel\n=c1,Spring web,web\n",
    "contacts": "contact_id,created_at,channel,campaign_id\n"
    "@a,2024-01-01T00:00:00,web,=c1\nb,2024-01-01T00:00:00,store,\n",
    "interactions": "interaction_id,contact_id,occurred_at,type,campaign_id\n"
    "i1,@a,2024-02-01T00:00:00,ad_click,=c1\n",
    "orders": "order_id,contact_id,ordered_at,amount,status\n"
    "o1,@a,2024-02-10T00:00:00,100.00,paid\no2,b,2024-02-11T00:00:00,40.00,paid\n",
    "spend": "spent_on,amount,channel,campaign_id,category\n2024-01-10,50.00,web,=c1,media\n",
}


def _csv_output(capsys: Any, argv: list[str]) -> list[dict[str, str]]:
    from pilotage.cli import main

    assert main(argv) == 0, capsys.readouterr().err
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_the_commands_csv_output_is_neutralised(write_folder, capsys):
    folder = str(write_folder(COMPANY))
    attribution = _csv_output(
        capsys, ["attribution", "--data", folder, "--by", "campaign", "--format", "csv"]
    )
    assert "'=c1" in {row["campaign_id"] for row in attribution}
    assert "=c1" not in {row["campaign_id"] for row in attribution}
    levers = _csv_output(capsys, ["levers", "--data", folder, "--format", "csv"])
    assert "'=c1" in {row["key"] for row in levers}
    scores = _csv_output(capsys, ["score", "--data", folder, "--format", "csv"])
    assert {row["contact_id"] for row in scores} == {"'@a", "b"}
    kpis = _csv_output(
        capsys, ["kpi", "--data", folder, "--kpi", "revenue", "--by", "campaign", "--format", "csv"]
    )
    assert any(row["by"] == '{"campaign_id": "=c1"}' for row in kpis)  # JSON: not a formula
