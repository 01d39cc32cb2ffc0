"""Faults: a `pilotage import` killed with SIGKILL in the middle of its load leaves the
database exactly as before (SQLite and PostgreSQL: whichever DATABASE_URL names); a
PostgreSQL connection terminated during batch upserts loses no acknowledged row and
half-writes no batch (PostgreSQL only: skipped, visibly, on SQLite)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Company
from django.db import connection

from pilotage.contract.schema import TABLES
from pilotage.web.api.analytics import crm_database_url
from pilotage.web.crm.models import Interaction

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> dict[str, list[tuple[str, ...]]]:
    state = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'SELECT * FROM "{table.name}"')  # noqa: S608
            state[table.name] = sorted(tuple(str(v) for v in row) for row in cursor.fetchall())
    return state


def write_big_folder(folder: Path, contacts: int, interactions: int) -> None:
    folder.mkdir()
    with (folder / "contacts.csv").open("w") as out:
        out.write("contact_id,created_at,channel,owner_id\n")
        for n in range(contacts):
            out.write(f"k{n},2024-01-01T00:00:00,web,r1\n")
    with (folder / "interactions.csv").open("w") as out:
        out.write("interaction_id,contact_id,occurred_at,type\n")
        for n in range(interactions):
            out.write(f"ki{n},k{n % contacts},2024-02-01T10:00:00,call\n")
    # An existing row changed by the import: the kill must undo updates too.
    with (folder / "reps.csv").open("w") as out:
        out.write("rep_id,name,team\nr1,Ann Renamed,North\n")


def _loading(url: str, database: str) -> bool:
    """Whether another process holds a write transaction on the database (the load)."""
    if connection.vendor == "sqlite":
        probe = sqlite3.connect(database, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle' AND "
            "(query ILIKE 'COPY%%' OR query ILIKE 'INSERT%%' OR query ILIKE 'CREATE TEMP%%')"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def test_import_killed_during_the_load_changes_nothing(company_tx: Company, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    write_big_folder(folder, contacts=20_000, interactions=400_000)
    before = snapshot()
    url = crm_database_url()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pilotage", "import", str(folder), "--db", url, "--format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 180
        while not _loading(url, str(connection.settings_dict["NAME"])):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the import never started loading"
            time.sleep(0.02)
        time.sleep(0.3)  # well inside the load
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    assert process.returncode == -signal.SIGKILL
    if connection.vendor == "postgresql":
        time.sleep(1)  # the server notices the dead client and rolls back
    assert snapshot() == before


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (pg_terminate_backend): set DATABASE_URL=postgresql://...",
)
def test_terminated_connections_lose_no_acknowledged_row(
    company_tx: Company, live_server: Any
) -> None:
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()
    protected = {own[0] if own else 0}
    killer_url = crm_database_url()
    token = company_tx.tokens["admin"]
    acknowledged: list[list[str]] = []
    refused: list[tuple[int, list[str]]] = []
    done = threading.Event()
    terminations = 0

    def post(rows: list[dict[str, str]]) -> int:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/interactions/batch",
            data=json.dumps({"rows": rows}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, ConnectionError):
            return 0

    def writer() -> None:
        for batch in range(60):
            ids = [f"t{batch}-{n}" for n in range(300)]
            rows = [
                {
                    "interaction_id": i,
                    "contact_id": "c1",
                    "occurred_at": "2024-02-01",
                    "type": "call",
                }
                for i in ids
            ]
            status = post(rows)
            (acknowledged.append(ids) if status == 200 else refused.append((status, ids)))
        done.set()

    def killer() -> None:
        nonlocal terminations
        with psycopg.connect(killer_url, autocommit=True) as admin:
            mine = admin.execute("SELECT pg_backend_pid()").fetchone()
            skip = [*protected, mine[0] if mine else 0]
            while not done.wait(0.15):
                killed = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> ALL(%s)",
                    [skip],
                ).fetchone()
                terminations += int(killed[0]) if killed else 0

    threads = [threading.Thread(target=writer), threading.Thread(target=killer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert terminations > 0, "no connection was terminated: the test proved nothing"
    assert refused, "every batch went through: no termination hit a request"
    assert {status for status, _ in refused} <= {503, 0}, refused[:3]
    stored = set(Interaction.objects.filter(pk__startswith="t").values_list("pk", flat=True))
    for ids in acknowledged:
        assert set(ids) <= stored  # nothing acknowledged is lost
    for _status, ids in refused:
        present = set(ids) & stored
        assert present in (set(), set(ids))  # all or nothing
