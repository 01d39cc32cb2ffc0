"""Importing a contract folder into the CRM database: validate, then upsert, all or nothing.

The folder is checked first (every rule of the contract, references to rows already in
the database included). A folder with any bad row changes nothing, unless the caller
allows rejects, in which case the good rows are loaded and the rejects file still lists
the others. The load is one transaction of bulk upserts keyed by each table's id (or the
contract's row identity for tables without one): rows that are already there unchanged
are not even rewritten, so importing the same folder twice changes nothing.

Bulk, not row by row: the typed rows go from DuckDB to the database with `executemany`
on SQLite and `COPY` into a temporary table on PostgreSQL, then one
`INSERT ... ON CONFLICT DO UPDATE` per table. On PostgreSQL the changed tables are then
analysed, so that the KPI queries get plans for their real sizes.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.db import connection, transaction

from pilotage.contract.schema import TABLES, ColumnType, Table
from pilotage.contract.settings import Settings, settings_from_mapping
from pilotage.contract.validation import Validation, validate_folder
from pilotage.web.audit.services import Door, audit_record_import

BATCH_ROWS = 50_000

Progress = Callable[[str, int, int], None]  # (table, rows done, rows in all)


@dataclass
class TableImport:
    table: str
    rows: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.rejected - self.inserted - self.updated


@dataclass(frozen=True)
class ImportAudit:
    """Who loads what, through which door: recorded in the audit log in the load's own
    transaction (`audit_record_import`), so the log has an entry iff the rows are in."""

    user: Any  # the Pilotage user, or None (the command line)
    door: Door
    source: str  # what was imported: "import job <id> (<file>)", "pilotage import <dir>"


@dataclass
class ImportReport:
    validation: Validation
    loaded: bool = False
    tables: dict[str, TableImport] = field(default_factory=dict)
    rejects_files: list[Path] = field(default_factory=list)
    rescored: int = 0
    rescore_error: str | None = None
    settings_adopted: bool = False

    @property
    def changed_rows(self) -> int:
        return sum(t.inserted + t.updated for t in self.tables.values())


def stored_company_settings() -> Settings:
    """The settings saved on the CRM's settings page (table `company_settings`: one row
    per setting, its value as JSON), over the defaults."""
    if "company_settings" not in connection.introspection.table_names():
        return Settings()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, value FROM company_settings")
        values = {str(name): json.loads(value) for name, value in cursor.fetchall()}
    return settings_from_mapping(values, origin="the CRM's settings")


def existing_ids(table_name: str) -> Iterator[str]:
    """Ids of `table_name` already in the database: a folder may reference them."""
    key = next(t for t in TABLES if t.name == table_name).key[0]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{key}" FROM "{table_name}"')  # noqa: S608 - names from the contract
        while rows := cursor.fetchmany(BATCH_ROWS):
            for (value,) in rows:
                yield value


def folder_import(
    *,
    folder: Path,
    settings: Settings,
    allow_rejects: bool = False,
    rejects_dir: Path | None = None,
    progress: Progress | None = None,
    rescore: bool = True,
    audit: ImportAudit | None = None,
) -> ImportReport:
    """Validate `folder` and load it; see the module docstring for the guarantees. A load
    is recorded in the audit log (`audit`) in the same transaction. When rows changed, the
    contacts concerned are rescored after the load is committed (`rescore`)."""
    validation = validate_folder(folder, settings, existing_ids)
    report = ImportReport(validation)
    for name, table_report in validation.tables.items():
        report.tables[name] = TableImport(
            name, table_report.rows, table_report.rows - table_report.good_rows
        )
    if not validation.ok and rejects_dir is not None:
        report.rejects_files = validation.write_rejects(rejects_dir)
    if not validation.ok and not allow_rejects:
        return report
    # Structural problems (a missing file, an unreadable one) have no rows to reject:
    # they stop the load even with --allow-rejects.
    if any(p.line <= 1 for p in validation.problems):
        return report
    with transaction.atomic():
        for table in TABLES:
            _upsert_table(validation.connection, table, report.tables[table.name], progress)
        if audit is not None:
            audit_record_import(
                user=audit.user,
                door=audit.door,
                source=audit.source,
                counts={
                    name: {"inserted": t.inserted, "updated": t.updated}
                    for name, t in report.tables.items()
                    if t.inserted or t.updated
                },
            )
    report.loaded = True
    if report.changed_rows:
        _analyse_changed_tables(report)
        _after_changes(report, rescore=rescore)
    return report


def _analyse_changed_tables(report: ImportReport) -> None:
    """On PostgreSQL, refresh the planner's statistics of the tables a load changed.

    Autovacuum analyses a table some time after a bulk load, or never while nothing else
    writes (seen: 20 minutes after loading 1M contacts, no table analysed). Until then the
    planner guesses the sizes, and on 1M contacts the attribution queries ran for more
    than 6 minutes instead of 29 s. ANALYZE reads a sample (2.5 s for 10M rows).
    SQLite keeps no statistics unless asked, and its plans were measured without them."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in TABLES:
            counts = report.tables[table.name]
            if counts.inserted or counts.updated:
                cursor.execute(f"ANALYZE {_quote(table.name)}")


def _adopt_folder_settings(report: ImportReport) -> None:
    """A first import gives the CRM its company settings: the folder's time zone read its
    timestamps, and its margin and windows are the company's. Once the CRM has settings
    (the settings page, or an earlier import), an import never changes them."""
    from pilotage.web.dashboard.models import CompanySetting
    from pilotage.web.dashboard.services import company_settings_save

    chosen = report.validation.settings
    if chosen == Settings() or CompanySetting.objects.exists():
        return
    company_settings_save(values=chosen.to_dict())
    report.settings_adopted = True


def _after_changes(report: ImportReport, *, rescore: bool) -> None:
    """What follows a load that changed rows: cached KPI results are stale, and the
    contacts whose rows changed are rescored (scoring.md: an import rescores them), which
    makes them stale once more when the new scores are stored (`scores_refresh`)."""
    from pilotage.web.dashboard.cache import data_changed

    _adopt_folder_settings(report)
    data_changed()
    if not rescore:
        return
    from pilotage.web.scoring.services import scores_refresh

    try:
        refresh = scores_refresh()
    except Exception as error:  # the load is committed: say so, and how to finish
        report.rescore_error = f"{type(error).__name__}: {error}"
        return
    report.rescored = len(refresh.rescored)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stored_columns(table: Table) -> list[str]:
    columns = list(table.column_names)
    if table.name == "spend":
        columns.append("spend_key")
    return [*columns, "attributes"]


def _conflict_target(table: Table) -> list[str]:
    return ["spend_key"] if table.name == "spend" else list(table.key)


def _source_query(con: duckdb.DuckDBPyConnection, table: Table, vendor: str) -> tuple[str, int]:
    """The DuckDB query giving the rows to store, in the database's text formats."""
    clean = f"_clean_{table.name}"
    described = [row[0] for row in con.execute(f"DESCRIBE {clean}").fetchall()]
    extras = [c for c in described if c not in table.column_names]
    selects = []
    for column in table.columns:
        name = _quote(column.name)
        if column.type is ColumnType.TIMESTAMP:
            if vendor == "sqlite":
                # Django's own SQLite format: naive UTC, microseconds only when non-zero.
                selects.append(
                    f"CASE WHEN epoch_us({name}) % 1000000 = 0 "
                    f"THEN strftime({name}, '%Y-%m-%d %H:%M:%S') "
                    f"ELSE strftime({name}, '%Y-%m-%d %H:%M:%S.%f') END"
                )
            else:
                selects.append(f"strftime({name}, '%Y-%m-%d %H:%M:%S.%f+00')")
        elif column.type is ColumnType.DATE:
            selects.append(f"strftime({name}, '%Y-%m-%d')")
        elif column.type in (ColumnType.MONEY, ColumnType.INTEGER):
            selects.append(f"CAST({name} AS VARCHAR)")
        else:
            selects.append(name)
    if table.name == "spend":
        selects.append(
            "concat_ws('|', strftime(spent_on, '%Y-%m-%d'), channel, "
            "coalesce(campaign_id, ''), coalesce(category, ''))"
        )
    if extras:
        pairs = ", ".join(f"{_literal(c)}, {_quote(c)}" for c in extras)
        selects.append(f"CAST(json_object({pairs}) AS VARCHAR)")
    else:
        selects.append("'{}'")
    count = con.execute(f"SELECT count(*) FROM {clean}").fetchone()
    total = int(count[0]) if count else 0
    return f"SELECT {', '.join(selects)} FROM {clean}", total


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _upsert_sql(table: Table, source: str) -> str:
    columns = _stored_columns(table)
    target = _conflict_target(table)
    updated = [c for c in columns if c not in target]
    assignments = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in updated)
    changed = " OR ".join(
        f"{_quote(table.name)}.{_quote(c)} IS DISTINCT FROM excluded.{_quote(c)}" for c in updated
    )
    return (
        f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(c) for c in columns)}) {source} "
        f"ON CONFLICT ({', '.join(_quote(c) for c in target)}) "
        f"DO UPDATE SET {assignments} WHERE {changed}"
    )


def _count(table: Table) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_quote(table.name)}")  # noqa: S608
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _upsert_table(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    result: TableImport,
    progress: Progress | None,
) -> None:
    vendor = connection.vendor
    query, total = _source_query(con, table, "sqlite" if vendor == "sqlite" else "postgresql")
    if total == 0:
        return
    before = _count(table)
    if vendor == "postgresql":
        touched = _upsert_postgresql(con, table, query, total, progress)
    else:
        touched = _upsert_sqlite(con, table, query, total, progress)
    after = _count(table)
    result.inserted = after - before
    result.updated = touched - result.inserted


def _upsert_sqlite(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    query: str,
    total: int,
    progress: Progress | None,
) -> int:
    placeholders = ", ".join("?" for _ in _stored_columns(table))
    sql = _upsert_sql(table, f"VALUES ({placeholders})")
    touched = 0
    done = 0
    result = con.execute(query)
    # The raw sqlite3 connection, inside Django's transaction: no per-row ORM work.
    raw = connection.connection.cursor()
    try:
        while rows := result.fetchmany(BATCH_ROWS):
            raw.executemany(sql, rows)
            touched += max(raw.rowcount, 0)
            done += len(rows)
            if progress:
                progress(table.name, done, total)
    finally:
        raw.close()
    return touched


def _upsert_postgresql(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    query: str,
    total: int,
    progress: Progress | None,
) -> int:
    columns = _stored_columns(table)
    staging = f"_import_{table.name}"
    column_list = ", ".join(_quote(c) for c in columns)
    with tempfile.TemporaryDirectory(prefix="pilotage-import-") as tmp:
        csv_path = Path(tmp) / f"{table.name}.csv"
        con.execute(f"COPY ({query}) TO '{csv_path}' (FORMAT csv, HEADER false)")
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
                f"SELECT {column_list} FROM {_quote(table.name)} WITH NO DATA"
            )
            raw = cursor.cursor
            done = 0
            with (
                raw.copy(f"COPY {staging} ({column_list}) FROM STDIN (FORMAT csv)") as copy,
                csv_path.open("rb") as handle,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
                    done += chunk.count(b"\n")
                    if progress:
                        progress(table.name, min(done, total), total)
            cursor.execute(_upsert_sql(table, f"SELECT {column_list} FROM {staging}"))
            touched = max(int(cursor.rowcount), 0)
            cursor.execute(f"DROP TABLE {staging}")
    return touched
