"""`pilotage attribution` and `pilotage levers` on a contract folder."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest

from pilotage.commands import attribution as attribution_command
from pilotage.commands import levers as levers_command

TABLES = {
    "campaigns": """
        campaign_id,name,channel
        c1,Spring web,web
        c2,Newsletter,email
        c3,Display,ads
    """,
    "contacts": """
        contact_id,created_at,channel
        a,2024-01-01T00:00:00,web
        b,2024-01-01T00:00:00,store
        p,2024-01-01T00:00:00,web
    """,
    "interactions": """
        interaction_id,contact_id,occurred_at,type,campaign_id
        i1,a,2024-02-01T00:00:00,ad_click,c1
        i2,a,2024-02-02T00:00:00,email_click,c2
        i3,p,2024-02-01T00:00:00,ad_click,c3
    """,
    "orders": """
        order_id,contact_id,ordered_at,amount,status
        o1,a,2024-02-10T00:00:00,100.00,paid
        o2,b,2024-02-11T00:00:00,40.00,paid
    """,
    "spend": """
        spent_on,amount,channel,campaign_id,category
        2024-01-10,50.00,web,c1,media
        2024-01-10,20.00,email,c2,media
        2024-01-10,90.00,ads,c3,media
    """,
}


def run(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pilotage")
    subparsers = parser.add_subparsers(dest="command", required=True)
    module.register(subparsers)
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def folder(write_folder):
    return write_folder(TABLES)


def test_attribution_json(folder, capsys):
    code = run(attribution_command, ["attribution", "--data", str(folder), "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"] == "linear"
    assert document["by"] == "campaign"
    rows = {row["campaign_id"]: row for row in document["rows"]}
    # a: c1 > c2, linear 0.5 / 0.5 of 100; b is direct; c3 spent 90 for nothing.
    assert rows["c1"]["conversions"] == 0.5
    assert rows["c1"]["revenue"] == 50.0
    assert rows["c1"]["cac"] == 100.0
    assert rows["c1"]["roi"] == 0.0
    assert rows["(direct)"]["conversions"] == 1.0
    assert rows["(direct)"]["spend"] is None
    assert rows["c3"]["cac"] is None
    assert rows["c3"]["roi"] == -1.0
    assert sum(row["conversions"] for row in document["rows"]) == 2.0


def test_attribution_all_models_by_channel_csv_and_table(folder, capsys):
    argv = ["attribution", "--data", str(folder), "--model", "all", "--by", "channel"]
    assert run(attribution_command, [*argv, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["model"] for row in rows} == {
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov",
    }
    assert "channel" in rows[0]
    assert run(attribution_command, [*argv, "--grain", "month", "--from", "2024-02-01"]) == 0
    out = capsys.readouterr().out
    assert "2024-02" in out
    assert "markov" in out


def test_attribution_bad_as_of(folder, capsys):
    argv = ["attribution", "--data", str(folder), "--as-of", "yesterday"]
    assert run(attribution_command, argv) == 1
    assert "--as-of" in capsys.readouterr().err


def test_levers_json_and_french_table(folder, capsys):
    argv = ["levers", "--data", str(folder), "--from", "2024-01-01", "--to", "2024-03-31"]
    assert run(levers_command, [*argv, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["new_customers"] == 2
    assert document["spend"] == 160.0
    assert {row["campaign_id"]: row["flag"] for row in document["campaigns"]} == {
        "c1": "watch",
        "c2": "watch",
        "c3": "watch",
    }
    assert run(levers_command, [*argv, "--lang", "fr"]) == 0
    out = capsys.readouterr().out
    assert "Campagnes" in out
    assert "trop peu" in out


def test_levers_language_from_environment(monkeypatch):
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LC_MESSAGES", "")
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert levers_command.language(None) == "fr"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert levers_command.language(None) == "en"
    assert levers_command.language("fr") == "fr"
