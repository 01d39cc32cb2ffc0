"""CRM databases laid out as the Django models store them, built with plain DDL and
inserts from the engine tests' frames (`build_crm_database`): swap it for the real
importer (`pilotage import`) by changing that one function. A module of its own rather
than part of the conftest, so that test modules import it by a name no other folder's
conftest shadows (`from conftest import ...` found another folder's conftest when folders
were run together)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from pilotage.contract.schema import TABLES, ColumnType
from pilotage.contract.settings import Settings

Frames = Mapping[str, pd.DataFrame]


def _utc(value: Any, settings: Settings) -> datetime | None:
    """A frame's timestamp (naive = company time zone, as in contract files) in UTC."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(settings.zone)
    result: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return result


_SQLITE_TYPES = {
    ColumnType.ID: "varchar(255)",
    ColumnType.ENUM: "varchar(32)",
    ColumnType.TEXT: "varchar(255)",
    ColumnType.TIMESTAMP: "datetime",
    ColumnType.DATE: "date",
    ColumnType.MONEY: "decimal",
    ColumnType.INTEGER: "integer",
}
_POSTGRES_TYPES = {
    ColumnType.ID: "varchar(255)",
    ColumnType.ENUM: "varchar(32)",
    ColumnType.TEXT: "varchar(255)",
    ColumnType.TIMESTAMP: "timestamp with time zone",
    ColumnType.DATE: "date",
    ColumnType.MONEY: "numeric(19, 4)",
    ColumnType.INTEGER: "bigint",
}


def _cell(value: Any, kind: ColumnType, settings: Settings, dialect: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind is ColumnType.TIMESTAMP:
        instant = _utc(value, settings)
        assert instant is not None
        if dialect == "sqlite":
            # Django's SQLite format: UTC text, space separator, no offset.
            text = instant.replace(tzinfo=None).isoformat(sep=" ")
            return text
        return instant
    if kind is ColumnType.DATE:
        day = pd.Timestamp(value).date()
        return day.isoformat() if dialect == "sqlite" else day
    if kind is ColumnType.MONEY:
        decimal = Decimal(str(value))
        return str(decimal) if dialect == "sqlite" else decimal
    if kind is ColumnType.INTEGER:
        return int(value)
    return str(value)


def _rows(
    frame: pd.DataFrame, table: Any, settings: Settings, dialect: str
) -> list[tuple[Any, ...]]:
    rows = []
    for record in frame.to_dict("records"):
        cells = [
            _cell(record.get(column.name), column.type, settings, dialect)
            for column in table.columns
        ]
        rows.append((*cells, "{}"))
    return rows


def build_crm_database(frames: Frames, settings: Settings, url: str) -> None:
    """Create every contract table as the CRM stores it (contract names and columns plus an
    `attributes` JSON column) and insert the frames' rows."""
    dialect = "sqlite" if url.startswith("sqlite") else "postgres"
    types = _SQLITE_TYPES if dialect == "sqlite" else _POSTGRES_TYPES
    statements: list[tuple[str, list[tuple[Any, ...]]]] = []
    for table in TABLES:
        columns = ", ".join(f'"{c.name}" {types[c.type]}' for c in table.columns)
        json_type = "text" if dialect == "sqlite" else "jsonb"
        create = f'CREATE TABLE "{table.name}" ({columns}, "attributes" {json_type} NOT NULL)'
        statements.append((create, []))
        frame = frames.get(table.name)
        if frame is not None and len(frame):
            marker = "?" if dialect == "sqlite" else "%s"
            names = ", ".join(f'"{c.name}"' for c in table.columns)
            marks = ", ".join([marker] * (len(table.columns) + 1))
            insert = f'INSERT INTO "{table.name}" ({names}, "attributes") VALUES ({marks})'
            statements.append((insert, _rows(frame, table, settings, dialect)))
    if dialect == "sqlite":
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            _execute(connection, statements)
        connection.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://")) as connection:
        with connection.cursor() as cursor:
            _execute(cursor, statements)
        connection.commit()


def _execute(target: Any, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """Each statement on `target` (a SQLite connection or a psycopg cursor: both have
    `execute` and `executemany`), with its rows when it has any."""
    for statement, rows in statements:
        if rows:
            target.executemany(statement, rows)
        else:
            target.execute(statement)
