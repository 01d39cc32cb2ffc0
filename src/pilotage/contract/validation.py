"""Reading and checking a contract folder with DuckDB (data-contract.md, "Bad input").

Every file is read as text, every rule of the contract is checked in SQL over the whole
file at once, and every bad row is reported as `file:line:column: reason` (the header is
line 1), all of them, not only the first. The rows that pass are kept in typed tables
(`_clean_<table>`: money as exact DECIMAL, timestamps as naive UTC) from which the engine
views and the CRM importer read. Nothing is trimmed, rounded or coerced: a value that is
not exactly what the contract allows is a reported problem.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pilotage.contract.csv_safety import neutralised_sql, safe_csv_value, unneutralised_sql
from pilotage.contract.schema import (
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    TABLES,
    Column,
    ColumnType,
    Table,
)
from pilotage.contract.settings import Settings

ID_MAX_LENGTH = 100  # ids are primary keys in the CRM database (varchar(100))
ENUM_MAX_LENGTH = 100
MAX_FRACTION_DIGITS = 6  # timestamps are kept to the microsecond
# Problems listed per file before the rest is summarised (they all go to the rejects file).
STORAGE_TYPES = {
    ColumnType.ID: "VARCHAR",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.DATE: "DATE",
    ColumnType.MONEY: f"DECIMAL({MONEY_MAX_DIGITS},{MONEY_DECIMAL_PLACES})",
    ColumnType.ENUM: "VARCHAR",
    ColumnType.TEXT: "VARCHAR",
    ColumnType.INTEGER: "BIGINT",
}

_TIMESTAMP_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
)
# The same with at most 6 fractional digits and an offset of at most 14 hours.
_TIMESTAMP_STRICT = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
    r"(Z|[+-](0\d|1[0-4])(:?[0-5]\d)?)?)?$"
)
_FRACTION_PART = r"\.(\d+)"
_MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
_INTEGER_PATTERN = r"^-?\d{1,18}$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


@dataclass(frozen=True, order=True)
class Problem:
    """One bad value or row: where it is and why, for people."""

    file: str
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"


@dataclass
class TableReport:
    table: str
    file: str | None  # None: the table is absent (an empty table)
    rows: int = 0
    good_rows: int = 0
    extra_columns: tuple[str, ...] = ()


@dataclass
class Validation:
    """The outcome of checking a folder: problems, per-table counts and the typed rows."""

    folder: Path
    settings: Settings
    connection: duckdb.DuckDBPyConnection
    problems: list[Problem] = field(default_factory=list)
    tables: dict[str, TableReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def rejected_rows(self) -> int:
        return sum(report.rows - report.good_rows for report in self.tables.values())

    def write_rejects(self, directory: Path) -> list[Path]:
        """One CSV per table with rejected rows: the original values, the line and the
        reasons, so the user can fix them and import the file again.

        Safe to open in a spreadsheet (`pilotage.contract.csv_safety`): a text cell that
        would run as a formula (`=`, `+`, `-`, `@`, tab, CR first, and not a plain number)
        is written with a leading apostrophe, which the import removes again; numbers
        such as a negative amount `-5.00` are written as they were."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, report in self.tables.items():
            if report.file is None or report.rows == report.good_rows:
                continue
            path = directory / f"{name}.csv"
            described = self.connection.execute(f"DESCRIBE _rejects_{name}").fetchall()
            cells = [
                (neutralised_sql(_quote(column)) if kind == "VARCHAR" else _quote(column))
                + f" AS {_quote(safe_csv_value(column))}"
                for column, kind, *_ in described
                if column != "_record"
            ]
            self.connection.execute(
                f"COPY (SELECT {', '.join(cells)} FROM _rejects_{name} "
                f"ORDER BY line) TO '{_sql_path(path)}' (HEADER, DELIMITER ',')"
            )
            written.append(path)
        return written


# Ids already in the CRM database, per table: an import may reference them.
ExistingIds = Callable[[str], Iterable[str]]


def validate_folder(
    folder: Path,
    settings: Settings,
    existing_ids: ExistingIds | None = None,
) -> Validation:
    """Check every file of `folder` against the contract."""
    connection = duckdb.connect()
    # Naive timestamps in the files are in the company's zone (see _value_checks).
    connection.execute(f"SET TimeZone = {_literal(settings.timezone)}")
    validation = Validation(folder, settings, connection)
    if not folder.is_dir():
        validation.problems.append(Problem(str(folder), 0, "-", "not a folder"))
        return validation
    known = {f"{t.name}.csv" for t in TABLES} | {f"{t.name}.parquet" for t in TABLES}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".csv", ".parquet") and path.name not in known:
            validation.warnings.append(
                f"{path.name}: not a contract table, ignored "
                f"(tables: {', '.join(t.name for t in TABLES)})"
            )
    for table in TABLES:
        _check_table(validation, table, existing_ids)
    connection.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        _drop_work_tables(connection, table.name)
    validation.problems.sort(key=lambda p: (_table_order(p.file), p.line, p.column))
    return validation


def _table_order(file: str) -> int:
    stem = Path(file).stem
    for index, table in enumerate(TABLES):
        if table.name == stem:
            return index
    return len(TABLES)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _find_file(validation: Validation, table: Table) -> Path | None:
    csv_path = validation.folder / f"{table.name}.csv"
    parquet_path = validation.folder / f"{table.name}.parquet"
    if csv_path.exists() and parquet_path.exists():
        validation.problems.append(
            Problem(
                csv_path.name, 0, "-", f"both {csv_path.name} and {parquet_path.name}: keep one"
            )
        )
        return None
    if csv_path.exists():
        return csv_path
    if parquet_path.exists():
        return parquet_path
    return None


def _load_raw(validation: Validation, table: Table, path: Path) -> list[str] | None:
    """Load the file as text into `_raw_<table>` with `_record` (1-based) and the line of
    each record; returns the file's columns, or None when the file cannot be read."""
    con = validation.connection
    name = table.name
    if path.suffix == ".parquet":
        try:
            con.execute(
                f"CREATE TEMP TABLE _read_{name} AS SELECT * FROM "
                f"read_parquet('{_sql_path(path)}', file_row_number = true)"
            )
        except duckdb.Error as error:
            validation.problems.append(Problem(path.name, 0, "-", f"unreadable Parquet: {error}"))
            return None
        columns = [c for c in _columns_of(con, f"_read_{name}") if c != "file_row_number"]
        # A Parquet file has no lines: row N is reported as line N + 1, as in a CSV whose
        # header is line 1.
        casts = ", ".join(f"CAST({_quote(c)} AS VARCHAR) AS {_quote(c)}" for c in columns)
        con.execute(
            f"CREATE TEMP VIEW _raw_{name} AS SELECT file_row_number + 1 AS _record, "
            f"file_row_number + 2 AS _line, {casts} FROM _read_{name}"
        )
        return columns
    try:
        con.execute(
            f"CREATE TEMP TABLE _read_{name} AS SELECT row_number() OVER () AS _record, * "
            f"FROM read_csv('{_sql_path(path)}', all_varchar = true, header = true, "
            "delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
            f"rejects_table = '_bad_lines_{name}', rejects_scan = '_bad_scan_{name}', "
            "encoding = 'utf-8')"
        )
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        validation.problems.append(Problem(path.name, 1, "-", f"unreadable CSV: {message}"))
        return None
    columns = [c for c in _columns_of(con, f"_read_{name}") if c != "_record"]
    header = _csv_header(path)
    if len(header) == len(columns) and len(set(header)) != len(header):
        # DuckDB renames a repeated column ("amount_1"): report the header as written.
        for column in sorted({c for c in header if header.count(c) > 1}):
            validation.problems.append(Problem(path.name, 1, column, "duplicate column"))
    # DuckDB numbers a malformed record by its position among records (header = 1),
    # not by physical line: values with quoted newlines shift the two apart. Physical line
    # of a record = 1 + its position among all records + newlines inside the values of
    # every record before it, good or malformed. Records with newlines and malformed
    # records are rare: both are kept in small tables with running totals, and each
    # record finds its totals with an ASOF join instead of a window over the whole file.
    any_newline = " OR ".join(f"contains({_quote(c)}, chr(10))" for c in columns)
    newline_count = " + ".join(
        f"coalesce(length({_quote(c)}) - length(replace({_quote(c)}, chr(10), '')), 0)"
        for c in columns
    )
    con.execute(
        f"CREATE TEMP TABLE _newlines_{name} AS SELECT _record, "
        "sum(newlines) OVER (ORDER BY _record) AS newlines_through "
        f"FROM (SELECT _record, {newline_count} AS newlines FROM _read_{name} "
        f"WHERE {any_newline})"
    )
    bad_lines = con.execute(
        "SELECT DISTINCT ON (line) line, error_type, error_message, csv_line "
        f"FROM _bad_lines_{name} ORDER BY line"
    ).fetchall()
    bad_rows = []
    newlines_through = 0
    for index, (line, error_type, message, csv_line) in enumerate(bad_lines):
        raw_line = str(csv_line or "")
        newlines_through += raw_line.count("\n")
        reason = _structural_reason(str(error_type), str(message), len(columns))
        # Good records before malformed record j (0-based): its position - header - j.
        good_before = int(line) - 2 - index
        bad_rows.append((int(line), good_before, index + 1, newlines_through, raw_line, reason))
    con.execute(
        f"CREATE TEMP TABLE _bad_{name} (record_line BIGINT, good_before BIGINT, "
        "bad_through BIGINT, newlines_through BIGINT, raw VARCHAR, reason VARCHAR)"
    )
    if bad_rows:
        con.executemany(f"INSERT INTO _bad_{name} VALUES (?, ?, ?, ?, ?, ?)", bad_rows)
    has_newlines = _count_rows(con, f"_newlines_{name}") > 0
    line = "1 + r._record"
    joins = ""
    if has_newlines:
        line += " + coalesce(n.newlines_through, 0)"
        joins += f" ASOF LEFT JOIN _newlines_{name} n ON r._record > n._record"
    if bad_rows:
        line += " + coalesce(b.bad_through, 0) + coalesce(b.newlines_through, 0)"
        joins += f" ASOF LEFT JOIN _bad_{name} b ON r._record > b.good_before"
    # A cell written `'=...` by Pilotage's safe CSV (a rejects file fixed and imported
    # again) is read as `=...`: see pilotage.contract.csv_safety.
    values = ", ".join(f"{unneutralised_sql('r.' + _quote(c))} AS {_quote(c)}" for c in columns)
    con.execute(
        f"CREATE TEMP VIEW _raw_{name} AS SELECT r._record, {values}, {line} AS _line "
        f"FROM _read_{name} r{joins}"
    )
    if bad_rows:
        # A malformed record's line: its position, plus newlines in the good records and
        # malformed records before it.
        broken = con.execute(
            "SELECT b.record_line + coalesce(n.newlines_through, 0) "
            "+ b.newlines_through - (length(b.raw) - length(replace(b.raw, chr(10), ''))) "
            f"AS line, b.raw, b.reason FROM _bad_{name} b "
            f"ASOF LEFT JOIN _newlines_{name} n ON b.good_before >= n._record ORDER BY 1"
        ).fetchall()
        con.execute(f"CREATE TEMP TABLE _broken_{name} (line BIGINT, raw VARCHAR, reasons VARCHAR)")
        con.executemany(f"INSERT INTO _broken_{name} VALUES (?, ?, ?)", broken)
        for broken_line, _raw, reason in broken:
            validation.problems.append(Problem(path.name, int(broken_line), "-", str(reason)))
    return columns


def _count_rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _structural_reason(error_type: str, message: str, expected: int) -> str:
    if error_type == "TOO MANY COLUMNS":
        return f"too many fields (the header has {expected}): {message}"
    if error_type == "MISSING COLUMNS":
        return f"too few fields (the header has {expected}): {message}"
    if error_type == "UNQUOTED VALUE":
        return "a quote inside an unquoted value: quote the whole value and double the quote"
    if error_type == "INVALID UNICODE":
        return "not valid UTF-8: save the file as UTF-8"
    return f"malformed CSV line ({error_type.lower()}): {message}"


def _columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]


def _check_table(validation: Validation, table: Table, existing_ids: ExistingIds | None) -> None:
    con = validation.connection
    name = table.name
    path = _find_file(validation, table)
    report = TableReport(name, path.name if path else None)
    validation.tables[name] = report
    file_columns: list[str] | None = None
    if path is not None:
        file_columns = _load_raw(validation, table, path)
        if file_columns is None:
            report.file = None
            _create_empty(con, table, ())
            return
    elif table.mandatory and not any(p.file == f"{name}.csv" for p in validation.problems):
        validation.problems.append(
            Problem(f"{name}.csv", 0, "-", f"missing: a folder needs {name}.csv or .parquet")
        )
    if file_columns is None:
        _create_empty(con, table, ())
        return
    missing = [c.name for c in table.columns if c.required and c.name not in file_columns]
    for column in missing:
        validation.problems.append(
            Problem(report.file or name, 1, column, "missing required column in the header")
        )
    duplicates = [p for p in validation.problems if p.file == report.file and p.line == 1]
    extra = tuple(c for c in file_columns if c not in table.column_names)
    report.extra_columns = extra
    report.rows = int(con.execute(f"SELECT count(*) FROM _raw_{name}").fetchone()[0])  # type: ignore[index]
    broken = int(
        con.execute(
            f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_broken_{name}'"
        ).fetchone()[0]  # type: ignore[index]
    )
    broken_rows = (
        int(con.execute(f"SELECT count(*) FROM _broken_{name}").fetchone()[0])  # type: ignore[index]
        if broken
        else 0
    )
    report.rows += broken_rows
    if missing or duplicates:
        # Without its required columns no row of the file can be used.
        _create_empty(con, table, extra)
        con.execute(
            f"CREATE TEMP TABLE _rejects_{name} AS SELECT _record, _line AS line, "
            "'file refused: see its header' AS reasons, * EXCLUDE (_record, _line) "
            f"FROM _raw_{name}"
        )
        return
    _check_rows(validation, table, report, file_columns, existing_ids)


def _create_empty(con: duckdb.DuckDBPyConnection, table: Table, extra: Iterable[str]) -> None:
    columns = [f"{_quote(c.name)} {STORAGE_TYPES[c.type]}" for c in table.columns]
    columns += [f"{_quote(c)} VARCHAR" for c in extra]
    con.execute(f"CREATE TABLE _clean_{table.name} ({', '.join(columns)})")
    _create_engine_view(con, table, tuple(extra))


def _create_engine_view(
    con: duckdb.DuckDBPyConnection, table: Table, extra: tuple[str, ...]
) -> None:
    """The table the engine reads: contract columns typed as ENGINE_DTYPES, extras kept."""
    selects = []
    for column in table.columns:
        if column.type is ColumnType.MONEY:
            selects.append(f"CAST({_quote(column.name)} AS DOUBLE) AS {_quote(column.name)}")
        else:
            selects.append(_quote(column.name))
    selects += [_quote(c) for c in extra]
    con.execute(
        f"CREATE VIEW {_quote(table.name)} AS SELECT {', '.join(selects)} FROM _clean_{table.name}"
    )


@dataclass
class _Check:
    column: str
    condition: str  # SQL, true when the row breaks the rule
    reason: str  # SQL string expression


def _value_checks(table: Table, column: Column, settings: Settings) -> tuple[list[_Check], str]:
    """The checks of one column and the SQL expression of its typed value."""
    raw = _quote(column.name)
    empty = f"({raw} IS NULL OR trim({raw}) = '')"
    checks: list[_Check] = []
    if column.required:
        checks.append(_Check(column.name, empty, "'missing required value'"))
    present = f"NOT {empty}"
    kind = column.type
    if kind is ColumnType.ID:
        checks.append(
            _Check(
                column.name,
                f"{present} AND length({raw}) > {ID_MAX_LENGTH}",
                f"'id longer than {ID_MAX_LENGTH} characters'",
            )
        )
        checks.append(
            _Check(
                column.name,
                f"{present} AND {raw} <> trim({raw})",
                f"'id ' || {_shown(raw)} || ' has spaces around it'",
            )
        )
        return checks, f"CASE WHEN {empty} THEN NULL ELSE {raw} END"
    if kind is ColumnType.ENUM:
        checks.append(
            _Check(
                column.name,
                f"{present} AND {raw} <> lower({raw})",
                f"{_shown(raw)} || ' must be lowercase: write ' || {_shown(f'lower({raw})')}",
            )
        )
        checks.append(
            _Check(
                column.name,
                f"{present} AND ({raw} <> trim({raw}) OR length({raw}) > {ENUM_MAX_LENGTH})",
                f"{_shown(raw)} || ' has spaces around it or is longer than "
                f"{ENUM_MAX_LENGTH} characters'",
            )
        )
        if table.name == "stage_changes" and column.name == "stage":
            stages = ", ".join(_literal(s) for s in settings.journey_stages)
            checks.append(
                _Check(
                    column.name,
                    f"{present} AND {raw} NOT IN ({stages})",
                    f"{_shown(raw)} || ' is not a stage of the journey "
                    f"({', '.join(settings.journey_stages)}): fix it or add it to the "
                    "journey_stages setting'",
                ),
            )
        typed = f"CASE WHEN {empty} THEN NULL ELSE {raw} END"
        if column.default is not None:
            typed = f"CASE WHEN {empty} THEN {_literal(column.default)} ELSE {raw} END"
        return checks, typed
    if kind is ColumnType.TEXT:
        return checks, f"CASE WHEN {raw} IS NULL OR {raw} = '' THEN NULL ELSE {raw} END"
    if kind is ColumnType.MONEY:
        places = MONEY_DECIMAL_PLACES
        integer_digits = MONEY_MAX_DIGITS - places
        sign = "-?" if column.minimum is None or column.minimum < 0 else ""
        # One strict pattern for the common case; the precise reason is only worked out
        # for the rows that fail it.
        strict = f"^{sign}\\d{{1,{integer_digits}}}(\\.\\d{{1,{places}}})?$"
        minimum = f" (must be >= {column.minimum:g})" if column.minimum is not None else ""
        checks.append(
            _Check(
                column.name,
                f"{present} AND NOT regexp_full_match({raw}, '{strict}')",
                f"CASE WHEN NOT regexp_full_match({raw}, '{_MONEY_PATTERN}') "
                f"THEN {_shown(raw)} || ' is not an amount (digits with a dot for decimals, "
                "no thousands separator, no currency sign)' "
                f"WHEN length(regexp_extract({raw}, '\\.(\\d+)$', 1)) > {places} "
                f"OR length(regexp_extract({raw}, '^-?(\\d+)', 1)) > {integer_digits} "
                f"THEN {_shown(raw)} || ' has more than {places} decimals or {integer_digits} "
                "digits: it would be rounded' "
                f"ELSE 'negative amount ' || {_shown(raw)} || '{minimum}' END",
            )
        )
        typed = f"TRY_CAST(CASE WHEN {empty} THEN NULL ELSE {raw} END AS {STORAGE_TYPES[kind]})"
        return checks, typed
    if kind is ColumnType.INTEGER:
        checks.append(
            _Check(
                column.name,
                f"{present} AND NOT regexp_full_match({raw}, '{_INTEGER_PATTERN}')",
                f"{_shown(raw)} || ' is not a whole number'",
            )
        )
        if column.minimum is not None:
            checks.append(
                _Check(
                    column.name,
                    f"{present} AND regexp_full_match({raw}, '{_INTEGER_PATTERN}') AND "
                    f"CAST({raw} AS BIGINT) < {int(column.minimum)}",
                    f"{_shown(raw)} || ' is negative (must be >= {int(column.minimum)})'",
                )
            )
        return checks, f"TRY_CAST(CASE WHEN {empty} THEN NULL ELSE {raw} END AS BIGINT)"
    if kind is ColumnType.DATE:
        checks.append(
            _Check(
                column.name,
                f"{present} AND NOT regexp_full_match({raw}, '{_DATE_PATTERN}')",
                f"{_shown(raw)} || ' is not a date (YYYY-MM-DD)'",
            )
        )
        checks.append(
            _Check(
                column.name,
                f"{present} AND regexp_full_match({raw}, '{_DATE_PATTERN}') AND "
                f"TRY_CAST({raw} AS DATE) IS NULL",
                f"{_shown(raw)} || ' is an impossible date'",
            )
        )
        return checks, f"TRY_CAST(CASE WHEN {empty} THEN NULL ELSE {raw} END AS DATE)"
    # Timestamps: ISO-8601; without offset, local time in the company time zone. The
    # connection's TimeZone is the company's while checking, so one cast reads both kinds
    # (DuckDB's ICU applies the offset when there is one, the zone's rules otherwise).
    instant = f"timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ))"
    typed = f"CASE WHEN {empty} THEN NULL ELSE {instant} END"
    checks.append(
        _Check(
            column.name,
            f"{present} AND NOT regexp_full_match({raw}, '{_TIMESTAMP_STRICT}')",
            f"CASE WHEN NOT regexp_full_match({raw}, '{_TIMESTAMP_PATTERN}') "
            f"THEN {_shown(raw)} || ' is not an ISO-8601 timestamp (2024-03-01, "
            "2024-03-01T14:05:00 or 2024-03-01T14:05:00+01:00)' "
            f"WHEN length(regexp_extract({raw}, '{_FRACTION_PART}', 1)) > {MAX_FRACTION_DIGITS} "
            f"THEN {_shown(raw)} || ' has more than {MAX_FRACTION_DIGITS} fractional digits "
            "of a second: it would be truncated' "
            f"ELSE {_shown(raw)} || ' has an impossible UTC offset' END",
        )
    )
    checks.append(
        _Check(
            column.name,
            f"{present} AND TRY_CAST({raw} AS TIMESTAMPTZ) IS NULL "
            f"AND regexp_full_match({raw}, '{_TIMESTAMP_STRICT}')",
            f"{_shown(raw)} || ' is an impossible date or time'",
        )
    )
    return checks, typed


def _shown(sql_value: str) -> str:
    """A value quoted for a message, cut if very long."""
    return f"'''' || left({sql_value}, 60) || ''''"


def _row_checks(table: Table) -> list[_Check]:
    """Rules that involve several columns of the same row."""
    if table.name == "deals":
        return [
            _Check(
                "closed_at",
                "t.status IN ('won', 'lost') AND t.closed_at IS NULL",
                "'a ' || t.status || ' deal needs closed_at'",
            ),
            _Check(
                "closed_at",
                "t.status = 'open' AND t.closed_at IS NOT NULL",
                "'an open deal has no closed_at: set status to won or lost, or clear it'",
            ),
            _Check(
                "closed_at",
                "t.closed_at < t.created_at",
                "'closed_at is before created_at'",
            ),
        ]
    if table.name == "subscriptions":
        return [_Check("ended_at", "t.ended_at < t.started_at", "'ended_at is before started_at'")]
    if table.name == "campaigns":
        return [_Check("ended_on", "t.ended_on < t.started_on", "'ended_on is before started_on'")]
    return []


def _check_rows(
    validation: Validation,
    table: Table,
    report: TableReport,
    file_columns: list[str],
    existing_ids: ExistingIds | None,
) -> None:
    con = validation.connection
    name = table.name
    settings = validation.settings
    present = set(file_columns)
    checks: list[_Check] = []
    typed_columns: list[str] = []
    for column in table.columns:
        if column.name not in present:
            typed_columns.append(
                f"CAST(NULL AS {STORAGE_TYPES[column.type]}) AS {_quote(column.name)}"
            )
            if column.default is not None:
                typed_columns[-1] = (
                    f"CAST({_literal(column.default)} AS VARCHAR) AS {_quote(column.name)}"
                )
            continue
        column_checks, typed = _value_checks(table, column, settings)
        checks += column_checks
        typed_columns.append(f"{typed} AS {_quote(column.name)}")
    extra = report.extra_columns
    extra_select = "".join(f", {_quote(c)}" for c in extra)
    # One scan of the text computes the typed values and the value problems together;
    # a reason is only built for a value that breaks a rule.
    found = ", ".join(
        f"CASE WHEN {c.condition} THEN {{'column_name': {_literal(c.column)}, "
        f"'reason': {c.reason}}} END"
        for c in checks
    )
    value_problems = (
        f"list_filter([{found}], p -> p IS NOT NULL)"
        if checks
        else "CAST([] AS STRUCT(column_name VARCHAR, reason VARCHAR)[])"
    )
    con.execute(
        f"CREATE TEMP TABLE _typed_{name} AS SELECT _record, _line, "
        f"{', '.join(typed_columns)}{extra_select}, {value_problems} AS _value_problems "
        f"FROM _raw_{name}"
    )
    problem_queries = [
        "SELECT _record, _line, problem.column_name, problem.reason FROM ("
        "SELECT _record, _line, unnest(_value_problems) AS problem "
        f"FROM _typed_{name} WHERE len(_value_problems) > 0)"
    ]
    problem_queries += [
        f"SELECT _record, _line, {_literal(c.column)}, {c.reason} FROM _typed_{name} t "
        f"WHERE {c.condition}"
        for c in _row_checks(table)
    ]
    problem_queries.append(_duplicate_query(table))
    problem_queries += _reference_queries(validation, table, existing_ids)
    if table.name == "spend":
        problem_queries.append(
            "SELECT t._record, t._line, 'channel', 'channel ''' || t.channel || ''' differs "
            "from the channel ''' || c.channel || ''' of campaign ''' || t.campaign_id || '''' "
            "FROM _typed_spend t JOIN _clean_campaigns c USING (campaign_id) "
            "WHERE t.channel <> c.channel"
        )
    con.execute(
        f"CREATE TEMP TABLE _problems_{name} AS "
        + " UNION ALL ".join(f"({q})" for q in problem_queries)
    )
    file_name = report.file or name
    for line, column_name, reason in con.execute(
        f"SELECT _line, column_name, reason FROM _problems_{name} ORDER BY _line, column_name"
    ).fetchall():
        validation.problems.append(Problem(file_name, int(line), str(column_name), str(reason)))
    contract_columns = ", ".join(_quote(c.name) for c in table.columns)
    con.execute(
        f"CREATE TABLE _clean_{name} AS SELECT {contract_columns}{extra_select} "
        f"FROM _typed_{name} WHERE _record NOT IN (SELECT _record FROM _problems_{name}) "
        "ORDER BY _record"
    )
    _create_engine_view(con, table, extra)
    report.good_rows = int(con.execute(f"SELECT count(*) FROM _clean_{name}").fetchone()[0])  # type: ignore[index]
    raw_columns = ", ".join(_quote(c) for c in file_columns)
    broken_exists = con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_broken_{name}'"
    ).fetchone()[0]  # type: ignore[index]
    broken_select = (
        f" UNION ALL BY NAME SELECT NULL AS _record, line, reasons, raw FROM _broken_{name}"
        if broken_exists
        else ""
    )
    con.execute(
        f"CREATE TEMP TABLE _rejects_{name} AS SELECT r._record, r._line AS line, "
        f"p.reasons, {', '.join('r.' + _quote(c) for c in file_columns)} "
        f"FROM _raw_{name} r JOIN (SELECT _record, string_agg(column_name || ': ' || reason, "
        f"'; ' ORDER BY column_name) AS reasons FROM _problems_{name} GROUP BY _record) p "
        f"USING (_record){broken_select}"
    )
    del raw_columns
    _drop_work_tables(con, name)


def _drop_work_tables(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Free the text and typed copies of a file once its clean rows and rejects are kept:
    big files must not sit in memory several times."""
    con.execute(f"DROP VIEW IF EXISTS _raw_{name}")
    for prefix in ("_typed_", "_read_", "_newlines_", "_bad_"):
        con.execute(f"DROP TABLE IF EXISTS {prefix}{name}")


def _duplicate_query(table: Table) -> str:
    key = ", ".join(_quote(c) for c in table.key)
    shown = " || '/' || ".join(f"coalesce(CAST(t.{_quote(c)} AS VARCHAR), '')" for c in table.key)
    label = table.key[0] if table.has_single_id else "/".join(table.key)
    column = table.key[0] if table.has_single_id else table.key[-1]
    required = " AND ".join(
        f"{_quote(c)} IS NOT NULL" for c in table.key if table.column(c).required
    )
    same_key = " AND ".join(f"t.{_quote(c)} IS NOT DISTINCT FROM d.{_quote(c)}" for c in table.key)
    # Group first (cheap), then list the lines of the few duplicated keys only.
    return (
        f"SELECT t._record, t._line, {_literal(column)}, "
        f"'duplicate {label} ''' || {shown} || ''' (lines ' || "
        "array_to_string(d.lines[1:5], ', ') || "
        "CASE WHEN len(d.lines) > 5 THEN ', ...' ELSE '' END || ')' "
        f"FROM _typed_{table.name} t JOIN (SELECT {key}, list(_line ORDER BY _line) AS lines "
        f"FROM _typed_{table.name} WHERE {required} GROUP BY ALL HAVING count(*) > 1) d "
        f"ON {same_key}"
    )


def _reference_queries(
    validation: Validation, table: Table, existing_ids: ExistingIds | None
) -> list[str]:
    con = validation.connection
    queries = []
    for column in table.columns:
        if column.references is None or column.name not in _columns_of(con, f"_typed_{table.name}"):
            continue
        parent = column.references
        parent_key = _parent_key(parent)
        known = f"_known_{parent}"
        if not con.execute(
            f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{known}'"
        ).fetchone()[0]:  # type: ignore[index]
            con.execute(
                f"CREATE TEMP TABLE {known} AS SELECT {_quote(parent_key)} AS id "
                f"FROM _clean_{parent}"
            )
            if existing_ids is not None:
                ids = pa.table({"id": pa.array(list(existing_ids(parent)), pa.string())})
                con.register("_existing_ids", ids)
                con.execute(f"INSERT INTO {known} SELECT id FROM _existing_ids")
                con.unregister("_existing_ids")
        parent_file = validation.tables[parent].file or f"{parent}.csv"
        rejected_parent = (
            f"(SELECT {_quote(parent_key)} AS id, min(line) AS line FROM _rejects_{parent} "
            "GROUP BY 1)"
            if con.execute(
                f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_rejects_{parent}'"
            ).fetchone()[0]  # type: ignore[index]
            else "(SELECT NULL::VARCHAR AS id, NULL::BIGINT AS line WHERE false)"
        )
        queries.append(
            f"SELECT t._record, t._line, {_literal(column.name)}, "
            f"CASE WHEN r.line IS NULL THEN 'unknown {column.name} ''' || t.{_quote(column.name)} "
            f"|| ''' (not in {parent_file})' ELSE '{column.name} ''' || t.{_quote(column.name)} "
            f"|| ''' refers to a rejected row ({parent_file}:' || r.line || ')' END "
            f"FROM _typed_{table.name} t LEFT JOIN {rejected_parent} r "
            f"ON r.id = t.{_quote(column.name)} "
            f"WHERE t.{_quote(column.name)} IS NOT NULL AND t.{_quote(column.name)} "
            f"NOT IN (SELECT id FROM {known})"
        )
    return queries


def _parent_key(parent: str) -> str:
    for table in TABLES:
        if table.name == parent:
            return table.key[0]
    raise KeyError(parent)


def format_problems(problems: list[Problem], limit: int | None = None) -> list[str]:
    shown = problems if limit is None else problems[:limit]
    lines = [str(p) for p in shown]
    if limit is not None and len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more problems (all in the rejects files)")
    return lines


def write_problems_csv(problems: list[Problem], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "column", "reason"])
        for problem in problems:
            writer.writerow([problem.file, problem.line, problem.column, problem.reason])
