"""API rows checked by the contract validator itself, not by a second copy of its rules.

A batch (or a single row) is written as a one-table contract folder in a temporary
directory and checked by `pilotage.contract.validation.validate_folder`, the same code
that checks every imported file: same rules (types, lengths, money digits, minimums, row
rules, duplicates within the batch, references), same messages. Why a temporary folder
rather than a row-level validator: the contract's rules are SQL over whole tables
(duplicates and references are table-level rules), and a second, row-level
implementation would drift from it. The cost is a DuckDB pass per request (~0.1-0.2 s),
acceptable for API writes; batches amortise it over up to 10,000 rows.

References to rows already in the database are checked against the rows the writer may
see (`known_ids`): a contact outside the writer's scope is an unknown contact, exactly as
one that does not exist. The typed values the validator produces (timestamps in UTC,
money as exact decimals) are the values that get stored.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pilotage.contract.schema import TABLES_BY_NAME, ColumnType, Table
from pilotage.contract.settings import Settings
from pilotage.contract.validation import validate_folder

# parent table -> ids referenced by the rows -> those of them the writer may reference.
KnownIds = Callable[[str, set[str]], set[str]]
# Rows of the parent table to put in the folder (for rules that join the parent's columns:
# the channel of a spend row must be its campaign's).
ParentRows = Callable[[str, set[str]], list[dict[str, Any]]]

CONTACTS_HEADER = ("contact_id", "created_at", "channel")


@dataclass(frozen=True)
class RowProblem:
    index: int  # position of the row in the request (0-based)
    id: str | None  # the row's id (its contract key, joined with '/', for keyless tables)
    column: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "column": self.column, "reason": self.reason}


class RowsInvalid(Exception):
    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def cell(value: Any, kind: ColumnType) -> str:
    """A JSON value as the text a contract file would hold."""
    if value is None:
        return ""
    if kind is ColumnType.TIMESTAMP and isinstance(value, dt.datetime):
        return value.isoformat()
    if kind is ColumnType.DATE and isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def row_key(table: Table, row: Mapping[str, Any]) -> str:
    return "/".join(cell(row.get(c), table.column(c).type) for c in table.key)


def _write_table(path: Path, table: Table, rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """Write the rows; the file line on which each row starts (the header is line 1)."""
    starts: list[int] = []
    line = 2
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(table.column_names) + "\n")
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([cell(row.get(c.name), c.type) for c in table.columns])
            text = buffer.getvalue()
            handle.write(text)
            starts.append(line)
            line += text.count("\n")
    return starts


def _referenced(table: Table, rows: list[Mapping[str, Any]]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for column in table.columns:
        if column.references is None:
            continue
        values = {str(row[column.name]) for row in rows if row.get(column.name) not in (None, "")}
        wanted.setdefault(column.references, set()).update(values)
    return wanted


def validate_rows(
    table_name: str,
    rows: list[Mapping[str, Any]],
    *,
    known_ids: KnownIds,
    parent_rows: ParentRows | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The rows, typed as they will be stored, or RowsInvalid listing every problem."""
    table = TABLES_BY_NAME[table_name]
    wanted = _referenced(table, rows)
    settings = settings or Settings()

    def existing_ids(parent: str) -> Iterator[str]:
        yield from known_ids(parent, wanted.get(parent, set()))

    with tempfile.TemporaryDirectory(prefix="pilotage-api-") as tmp:
        folder = Path(tmp)
        starts = _write_table(folder / f"{table.name}.csv", table, rows)
        if table.name != "contacts":
            (folder / "contacts.csv").write_text(",".join(CONTACTS_HEADER) + "\n")
        if parent_rows is not None and table.name == "spend" and wanted.get("campaigns"):
            campaigns = TABLES_BY_NAME["campaigns"]
            _write_table(
                folder / "campaigns.csv",
                campaigns,
                parent_rows("campaigns", wanted["campaigns"]),
            )
        validation = validate_folder(folder, settings, existing_ids)
        try:
            problems = [p for p in validation.problems if Path(p.file).stem == table.name]
            if validation.problems:
                details = []
                for problem in problems or validation.problems:
                    index = max(0, bisect.bisect_right(starts, problem.line) - 1)
                    reason = problem.reason.replace(".csv)", ")")
                    details.append(
                        RowProblem(
                            index,
                            row_key(table, rows[index]) if rows else None,
                            problem.column,
                            reason,
                        )
                    )
                raise RowsInvalid(details)
            connection = validation.connection
            names = list(table.column_names)
            selected = ", ".join(f'"{name}"' for name in names)
            typed = connection.execute(f"SELECT {selected} FROM _clean_{table.name}").fetchall()
        finally:
            validation.connection.close()
    result = []
    for values in typed:
        stored: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            if isinstance(value, dt.datetime):
                value = value.replace(tzinfo=dt.UTC)  # the validator's naive UTC instants
            stored[name] = value
        result.append(stored)
    if len(result) != len(rows):  # every row passed, so every row is there, in order
        raise RowsInvalid([RowProblem(0, None, "-", "the rows could not be read back")])
    return result
