"""`pilotage import`: validate first, load all or nothing, upsert so that a second import
of the same folder changes nothing. Runs on the configured database (SQLite, and
PostgreSQL when DATABASE_URL points at it, as in CI)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from pilotage.cli import main
from pilotage.contract.schema import TABLES
from pilotage.contract.settings import Settings
from pilotage.web.audit.models import AuditEntry
from pilotage.web.crm.models import Contact, Order
from pilotage.web.crm.services.importing import ImportAudit, folder_import

pytestmark = pytest.mark.django_db(transaction=True)

COMPANY = {
    "reps": "rep_id,name,team\nr1,Ann,North\nr2,Bob,South\n",
    "campaigns": "campaign_id,name,channel,started_on\nk1,Spring ads,ads,2024-03-01\n",
    "contacts": "contact_id,created_at,channel,campaign_id,owner_id,employees,favourite_colour\n"
    "c1,2024-01-01T09:30:00,web,,r1,12,blue\n"
    "c2,2024-03-05T10:00:00+01:00,ads,k1,r2,,\n"
    "c3,2024-03-06,store,,,,\n",
    "stage_changes": "contact_id,stage,changed_at\nc1,lead,2024-01-01\nc1,customer,2024-02-01\n",
    "spend": "spent_on,amount,channel,campaign_id,category\n2024-03-01,120.50,ads,k1,media\n"
    "2024-03-01,99.99,web,,tools\n",
    "interactions": "interaction_id,contact_id,occurred_at,type,campaign_id,rep_id\n"
    "i1,c2,2024-03-04T18:00:00Z,ad_click,k1,\ni2,c1,2024-01-15T11:00:00,call,,r1\n",
    "deals": "deal_id,contact_id,rep_id,created_at,amount,status,closed_at\n"
    "d1,c1,r1,2024-01-10,500,won,2024-02-01\nd2,c2,r2,2024-03-06,800,open,\n",
    "orders": "order_id,contact_id,ordered_at,amount,status,margin\n"
    "o1,c1,2024-02-01T14:00:00,500.00,paid,120.1234\no2,c1,2024-02-03,20,refunded,\n"
    "o3,c3,2024-03-05,0,,\n",
    "subscriptions": "subscription_id,contact_id,started_at,ended_at,mrr,plan\n"
    "s1,c1,2024-02-01,,49.90,pro\n",
}


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every contract table, in a stable order."""
    state = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'SELECT * FROM "{table.name}"')  # noqa: S608
            state[table.name] = sorted(
                (tuple(str(v) for v in row) for row in cursor.fetchall()), key=str
            )
    return state


def load(folder: Path, **options: object):
    return folder_import(folder=folder, settings=Settings(timezone="Europe/Paris"), **options)


def test_import_stores_every_table_exactly(write_folder):
    report = load(write_folder(COMPANY))
    assert report.loaded
    # The import rescored every contact it brought (scoring.md: an import rescores).
    assert report.rescored == 3
    assert report.rescore_error is None
    assert {name: t.inserted for name, t in report.tables.items()} == {
        "reps": 2,
        "campaigns": 1,
        "contacts": 3,
        "stage_changes": 2,
        "spend": 2,
        "interactions": 2,
        "deals": 2,
        "orders": 3,
        "subscriptions": 1,
    }
    c1 = Contact.objects.get(contact_id="c1")
    # 09:30 in Paris in January is 08:30 UTC.
    assert c1.created_at == datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
    assert c1.employees == 12
    assert c1.owner_id == "r1"
    assert c1.attributes == {"favourite_colour": "blue"}
    o1 = Order.objects.get(order_id="o1")
    assert o1.amount == Decimal("500.0000")
    assert o1.margin == Decimal("120.1234")
    # An empty status is the contract's default, "paid".
    assert Order.objects.get(order_id="o3").status == "paid"


def test_importing_the_same_folder_twice_changes_nothing(write_folder):
    folder = write_folder(COMPANY)
    load(folder)
    before = snapshot()
    again = load(folder)
    assert again.loaded
    assert again.changed_rows == 0
    assert again.rescored == 0
    assert all(t.unchanged == t.rows for t in again.tables.values())
    assert snapshot() == before


def test_a_changed_row_is_updated_in_place(write_folder):
    load(write_folder(COMPANY))
    changed = dict(COMPANY)
    changed["orders"] = COMPANY["orders"].replace(
        "o1,c1,2024-02-01T14:00:00,500.00", "o1,c1,2024-02-01T14:00:00,450.00"
    )
    report = load(write_folder(changed))
    assert (report.tables["orders"].inserted, report.tables["orders"].updated) == (0, 1)
    assert Order.objects.get(order_id="o1").amount == Decimal("450")
    assert Order.objects.count() == 3


BAD = dict(
    COMPANY,
    contacts=COMPANY["contacts"] + "c3,2024-03-07,web,,,,\n",  # duplicate id
    orders="order_id,contact_id,ordered_at,amount\n"
    "o1,c1,2024-02-01,-5\n"  # negative amount
    "o2,c1,2024-02-30,10\n"  # impossible date
    "o3,c9,2024-02-01,10\n"  # unknown contact
    "o4,c1,2024-02-01,10\n",
    deals="deal_id,contact_id,created_at,status,closed_at\nd1,c1,2024-01-10,won,\n",
)


def test_a_bad_folder_is_refused_whole_and_the_database_is_untouched(write_folder, tmp_path):
    load(write_folder(COMPANY))
    before = snapshot()
    report = load(write_folder(BAD), rejects_dir=tmp_path / "rejects")
    assert not report.loaded
    assert [(p.file, p.line) for p in report.validation.problems] == [
        ("contacts.csv", 4),
        ("contacts.csv", 5),
        ("deals.csv", 2),
        ("orders.csv", 2),
        ("orders.csv", 3),
        ("orders.csv", 4),
    ]
    assert snapshot() == before
    assert sorted(p.name for p in report.rejects_files) == [
        "contacts.csv",
        "deals.csv",
        "orders.csv",
    ]


def test_allow_rejects_loads_the_good_rows(write_folder):
    report = load(write_folder(BAD), allow_rejects=True)
    assert report.loaded
    # c3 is duplicated: both copies are refused, and nothing else refers to it.
    assert sorted(Contact.objects.values_list("contact_id", flat=True)) == ["c1", "c2"]
    assert list(Order.objects.values_list("order_id", flat=True)) == ["o4"]


def test_a_folder_may_refer_to_rows_already_in_the_database(write_folder):
    load(write_folder(COMPANY))
    more_orders = write_folder(
        {
            "contacts": "contact_id,created_at,channel\nc4,2024-04-01,web\n",
            "orders": "order_id,contact_id,ordered_at,amount\no9,c2,2024-04-02,75\n",
        }
    )
    report = load(more_orders)
    assert report.loaded, report.validation.problems
    assert Order.objects.get(order_id="o9").contact_id == "c2"


def _install_failing_trigger() -> None:
    """A real database failure in the last table of the load (subscriptions)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER fail_import BEFORE INSERT ON subscriptions "
                "WHEN NEW.subscription_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION fail_import() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN IF NEW.subscription_id = 'boom' THEN RAISE EXCEPTION 'boom'; "
                "END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER fail_import BEFORE INSERT ON subscriptions "
                "FOR EACH ROW EXECUTE FUNCTION fail_import()"
            )


def _remove_failing_trigger() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS fail_import"
            + ("" if connection.vendor == "sqlite" else " ON subscriptions")
        )
        if connection.vendor != "sqlite":
            cursor.execute("DROP FUNCTION IF EXISTS fail_import()")


def test_a_failure_halfway_through_the_load_leaves_nothing(write_folder):
    load(write_folder(COMPANY))
    before = snapshot()
    changed = dict(COMPANY)
    changed["contacts"] = COMPANY["contacts"] + "c5,2024-05-01,web,,,,\n"
    changed["subscriptions"] = COMPANY["subscriptions"] + "boom,c5,2024-05-02,,10,basic\n"
    _install_failing_trigger()
    try:
        with pytest.raises(Exception, match="boom"):
            load(write_folder(changed))
    finally:
        _remove_failing_trigger()
    # Contacts were written before the failure, in the same transaction: rolled back.
    assert snapshot() == before


def test_the_command_line_import(write_folder, tmp_path, capsys):
    folder = write_folder(COMPANY, settings='timezone = "Europe/Paris"\n')
    assert main(["import", str(folder), "--format", "json"]) == 0
    assert Contact.objects.count() == 3
    bad = write_folder(BAD)
    assert main(["import", str(bad), "--rejects", str(tmp_path / "rej")]) == 1
    err = capsys.readouterr().err
    assert "orders.csv:2:amount: negative amount '-5' (must be >= 0)" in err
    assert (tmp_path / "rej" / "orders.csv").exists()
    # --format csv: one line per table (as `validate --format csv`), problems on stderr.
    assert main(["import", str(folder), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "table,rows,inserted,updated,unchanged,rejected,loaded"
    assert "contacts,3,0,0,3,0,True" in lines  # the same folder again: nothing changes
    assert main(["validate", str(bad), "--format", "csv", "--rejects", str(tmp_path / "r2")]) == 1
    checked = capsys.readouterr()
    assert checked.out.splitlines()[0] == "table,file,rows,good_rows,extra_columns"
    assert "orders.csv:2:amount: negative amount '-5' (must be >= 0)" in checked.err


def test_the_command_line_import_is_in_the_audit_log(write_folder, tmp_path):
    folder = write_folder(COMPANY, settings='timezone = "Europe/Paris"\n')
    assert main(["import", str(folder), "--format", "json"]) == 0
    entry = AuditEntry.objects.get()
    assert (entry.door, entry.action, entry.table, entry.user_id) == ("cli", "import", "*", None)
    assert entry.object_id.startswith(f"pilotage import {folder.resolve()} (system user ")
    assert entry.changes["contacts"] == {"inserted": 3, "updated": 0}
    assert entry.changes["orders"]["inserted"] > 0
    # A refused folder loads nothing and records nothing.
    assert main(["import", str(write_folder(BAD)), "--rejects", str(tmp_path / "rej")]) == 1
    assert AuditEntry.objects.count() == 1


def test_the_audit_entry_is_rolled_back_with_a_failed_load(write_folder):
    load(write_folder(COMPANY))
    changed = dict(COMPANY)
    changed["contacts"] = COMPANY["contacts"] + "c5,2024-05-01,web,,,,\n"
    changed["subscriptions"] = COMPANY["subscriptions"] + "boom,c5,2024-05-02,,10,basic\n"
    _install_failing_trigger()
    try:
        with pytest.raises(Exception, match="boom"):
            load(
                write_folder(changed),
                audit=ImportAudit(user=None, door="cli", source="pilotage import test"),
            )
    finally:
        _remove_failing_trigger()
    assert not AuditEntry.objects.exists()


def test_a_first_import_gives_the_crm_its_settings_and_later_ones_do_not(write_folder):
    from pilotage.web.dashboard.models import CompanySetting

    report = load(write_folder(COMPANY))
    assert report.settings_adopted
    assert CompanySetting.objects.get(name="timezone").value == '"Europe/Paris"'
    later = folder_import(
        folder=write_folder(COMPANY), settings=Settings(timezone="Asia/Tokyo", gross_margin=0.5)
    )
    assert not later.settings_adopted
    assert CompanySetting.objects.get(name="timezone").value == '"Europe/Paris"'
    assert not CompanySetting.objects.filter(name="gross_margin").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_a_load_analyses_the_tables_it_changed_on_postgresql(write_folder):
    """Without fresh statistics, PostgreSQL planned the attribution queries of 1M
    contacts to run for minutes: an import analyses the tables it wrote."""

    def analyses() -> dict[str, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT relname, analyze_count FROM pg_stat_user_tables")
            return {str(name): int(count) for name, count in cursor.fetchall()}

    before = analyses()
    folder = write_folder(COMPANY)
    assert load(folder).loaded
    after = analyses()
    assert {name: after[name] - before.get(name, 0) for name in after if name in COMPANY} == {
        name: 1 for name in COMPANY
    }
    # The same folder again changes no row: nothing to analyse.
    assert load(folder).changed_rows == 0
    assert analyses() == after
