"""The span of a source's data: its earliest and latest instants.

The latest is the default `as_of` of every computation (kpis.md), KPIs, attribution and
scores alike, so that every surface counts the same data as known; the earliest bounds
the periods a computation covers by default.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from pilotage.contract.schema import ColumnType
from pilotage.contract.schema import table as contract_table
from pilotage.engine.backends import Source
from pilotage.engine.periods import local_midnight_utc


def data_span(source: Source) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest timestamps in the data (naive UTC), or None when empty.

    Asked by every computation, so kept on SQLite until the database changes
    (`Source.while_unchanged`), and read there from the stored text's extremes
    (`_sqlite_extremes`) rather than by converting every timestamp."""
    span: tuple[datetime | None, datetime | None] = source.while_unchanged(
        "data_span", lambda: _data_span(source)
    )
    return span


def _span_columns(source: Source) -> list[tuple[str, str, bool]]:
    """The (table, column, is_day) whose extremes make the data's span."""
    columns: list[tuple[str, str, bool]] = []
    for name in sorted(source.present_tables):
        for column in contract_table(name).columns:
            if column.type is ColumnType.TIMESTAMP:
                columns.append((name, column.name, False))
        if name == "spend":
            # Spend is booked on days: a day of spend is data up to its local midnight.
            # (The campaigns' planned dates are not data about what happened.)
            columns.append((name, "spent_on", True))
    return columns


def _data_span(source: Source) -> tuple[datetime | None, datetime | None]:
    columns = _span_columns(source)
    if not columns:
        return None, None
    if source.engine == "sqlite":
        extremes = [_sqlite_extremes(source, *column) for column in columns]
    else:
        extremes = _extremes(source, columns)
    zone = source.settings.timezone
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for (_, _, is_day), (low, high) in zip(columns, extremes, strict=True):
        for value, found in ((low, firsts), (high, lasts)):
            if is_day:
                day = _day(value)
                instant = local_midnight_utc(day, zone) if day is not None else None
            else:
                instant = _timestamp(value)
            if instant is not None:
                found.append(instant)
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _extremes(source: Source, columns: list[tuple[str, str, bool]]) -> list[tuple[Any, Any]]:
    """Each column's minimum and maximum, as one query (one aggregate per table)."""
    parts: list[ir.Table] = []
    for name in dict.fromkeys(table for table, _, _ in columns):
        read = [column for table, column, _ in columns if table == name]
        # Only the columns read (the typed table projects every column).
        table = source.table(name).select(*read)
        parts.append(
            table.aggregate(
                **{
                    f"{bound}_{name}_{column}": getattr(table[column], bound)()
                    for column in read
                    for bound in ("min", "max")
                }
            )
        )
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.cross_join(part)
    values = source.execute(combined).iloc[0]
    return [
        (values[f"min_{name}_{column}"], values[f"max_{name}_{column}"])
        for name, column, _ in columns
    ]


# What `Source.table` makes of a SQLite column of timestamps (`_typed_table`: one format
# for the text SQLite keeps, offsets applied) or of days, as Ibis compiles it.
_SQLITE_INSTANT = "STRFTIME('%Y-%m-%d %H:%M:%f', REPLACE(CAST({} AS TEXT), 'T', ' '))"
_SQLITE_DAY = "DATE({})"
# Offsets run from -12:00 to +14:00: a stored local date and the UTC instant it means are
# at most a day apart, so the earliest instant is among the rows whose stored text falls
# within 3 days of the earliest text.
_SPAN_MARGIN = timedelta(days=3)


def _sqlite_extremes(source: Source, table: str, column: str, is_day: bool) -> tuple[Any, Any]:
    """The column's minimum and maximum as `Source.table` reads them, without converting
    every row: the stored text's extremes first (one index lookup where the column has
    an index), then the exact extremes among the rows of the days around them. Converting
    every timestamp took 30 s on a million contacts, and the span is asked after every
    write."""
    connection = source.backend.con
    quoted_table, quoted = f'"{table}"', f'"{column}"'
    exact = (_SQLITE_DAY if is_day else _SQLITE_INSTANT).format(quoted)
    # One aggregate per query: SQLite answers a lone MIN or MAX of an indexed column from
    # the index, not MIN and MAX together.
    low, high = connection.execute(
        f"SELECT (SELECT MIN({quoted}) FROM {quoted_table}),"
        f" (SELECT MAX({quoted}) FROM {quoted_table})"
    ).fetchone()
    bounds = _margin_bounds(_stored_day(low), _stored_day(high))
    if bounds is None:
        # Not ISO text, no row, or a date at the calendar's edge: every value converted,
        # as `Source.table` reads them.
        row = connection.execute(
            f"SELECT MIN({exact}), MAX({exact}) FROM {quoted_table}"
        ).fetchone()
        return row[0], row[1]
    low, high = connection.execute(
        f"SELECT (SELECT MIN({exact}) FROM {quoted_table} WHERE {quoted} < ?),"
        f" (SELECT MAX({exact}) FROM {quoted_table} WHERE {quoted} >= ?)",
        bounds,
    ).fetchone()
    return low, high


def _margin_bounds(first_day: date | None, last_day: date | None) -> tuple[str, str] | None:
    """The stored texts below which the minimum lies and from which the maximum does;
    None when a day is unknown or too close to year 1 or 9999 to add the margin."""
    if first_day is None or last_day is None:
        return None
    try:
        return (first_day + _SPAN_MARGIN).isoformat(), (last_day - _SPAN_MARGIN).isoformat()
    except OverflowError:
        return None


def _stored_day(value: Any) -> date | None:
    """The date a stored SQLite text starts with ('2024-01-31 ...'), None for anything else
    (NULL, a number)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _timestamp(value: Any) -> datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    result: datetime = stamp.to_pydatetime()
    return result


def _day(value: Any) -> date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()
