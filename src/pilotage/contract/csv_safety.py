"""CSV safe to open in a spreadsheet: every CSV the product writes goes through here (the
commands' `--format csv`, the rejects files of an import, the web exports).

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula
(and a leading tab or carriage return can hide one): "CSV injection". Such a cell gets a
leading apostrophe, which spreadsheets show as plain text, unless it is a plain number:
a number is never a formula, so `-5.00` and `+3` are written as they are, and a rejects
file fixed and imported again still has its negative amounts. Only text that is not a
number changes: `=HYPERLINK(...)`, `+33 6 12 34 56 78`, `-1+2`, `@SUM(A1)` become
`'=HYPERLINK(...)`, ... Reading a contract CSV undoes it (`unneutralised_sql`): a text
cell written `'` + one of those characters is read without the apostrophe, so a rejects
file goes back in unchanged.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number, as the contract reads amounts and integers (no inf, no nan).
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# The same two rules for DuckDB's regexp_full_match (RE2 syntax).
_SQL_FORMULA_START = r"[=+\-@\t\r].*"
_SQL_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def safe_csv_value(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text that a spreadsheet would run as a
    formula gets a leading apostrophe; numbers, and text that is a plain number, do not."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_csv_row(values: Iterable[Any]) -> list[Any]:
    return [safe_csv_value(value) for value in values]


def write_safe_csv(handle: TextIO, header: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a header and rows, every cell neutralised; None is an empty cell."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(safe_csv_row(header))
    for row in rows:
        writer.writerow(safe_csv_row("" if value is None else value for value in row))


class SafeWriter:
    """`csv.writer` whose every cell is neutralised."""

    def __init__(self, handle: TextIO, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_csv_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):  # type: ignore[type-arg]
    """`csv.DictWriter` whose every cell (header included) is neutralised."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_csv_value(v) for key, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells are neutralised (for `DataFrame.to_csv`)."""
    safe = frame.copy()
    for column in safe.columns:
        if not (safe[column].dtype == object or str(safe[column].dtype).startswith("str")):
            continue
        safe[column] = safe[column].map(safe_csv_value)
    safe.columns = safe_csv_row(str(name) for name in safe.columns)
    return safe


def neutralised_sql(column: str) -> str:
    """DuckDB SQL of the text column `column` (a quoted name) as `safe_csv_value` writes it."""
    return (
        f"CASE WHEN regexp_full_match({column}, '{_SQL_FORMULA_START}', 's') "
        f"AND NOT regexp_full_match({column}, '{_SQL_NUMBER}') "
        f"THEN '''' || {column} ELSE {column} END"
    )


def unneutralised_sql(column: str) -> str:
    """DuckDB SQL of the text column `column` read back: `'=x` is `=x` again (an apostrophe
    before a formula character is what `safe_csv_value` adds)."""
    return (
        f"CASE WHEN starts_with({column}, '''') "
        f"AND regexp_full_match({column}, '''{_SQL_FORMULA_START}', 's') "
        f"AND NOT regexp_full_match(substr({column}, 2), '{_SQL_NUMBER}') "
        f"THEN substr({column}, 2) ELSE {column} END"
    )
