"""Safe CSV output: every CSV that the API or the command line emits goes through here.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula
(and tab or carriage return can hide one): "CSV injection". Such text cells get a leading
apostrophe, which spreadsheets show as plain text. Numbers are left alone: a number is
never a formula, and -5 must stay a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_csv_value(value: Any) -> Any:
    """`value` as it may go into a CSV cell."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
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
