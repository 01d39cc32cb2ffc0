"""Streaming writers of contract tables: CSV (own fast formatting) and Parquet (typed).

Both take typed Arrow tables in the contract's column order (`arrow_schema`) one chunk at
a time and append them to the open file, so memory stays flat however many rows there are.

CSV: UTF-8, comma, header, `\\n` line ends; timestamps `YYYY-MM-DDTHH:MM:SS` (naive local
time), dates `YYYY-MM-DD`, money with exactly two decimals and a dot, empty cell for a
missing value; a cell is quoted only when it holds a comma, a quote or a line break
(pyarrow's CSV writer quotes every string, which is valid but not what CRM exports look
like, hence the own formatting, vectorised with Arrow compute kernels).

Parquet: typed columns (string, timestamp[ms] without time zone holding the local time,
date32, decimal128(18, 2), int64), zstd-compressed, one row group per chunk. The bytes
depend only on the data and the pyarrow version.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pilotage.contract.schema import ColumnType, table

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.ID: pa.string(),
    ColumnType.TEXT: pa.string(),
    ColumnType.ENUM: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("s"),
    ColumnType.DATE: pa.date32(),
    ColumnType.MONEY: pa.decimal128(18, 2),
    ColumnType.INTEGER: pa.int64(),
}
FORMATS = ("csv", "parquet")
_NEEDS_QUOTES = r'[",\r\n]'


def arrow_schema(table_name: str) -> pa.Schema:
    """The typed Arrow schema of a contract table, columns in the contract's order."""
    return pa.schema(
        [pa.field(column.name, ARROW_TYPES[column.type]) for column in table(table_name).columns]
    )


def parquet_schema(table_name: str) -> pa.Schema:
    """The schema of a Parquet file: timestamps in milliseconds, Parquet's coarsest unit."""
    return pa.schema(
        [
            pa.field(f.name, pa.timestamp("ms")) if pa.types.is_timestamp(f.type) else f
            for f in arrow_schema(table_name)
        ]
    )


class TableWriter(Protocol):
    rows: int

    def write(self, data: pa.Table) -> None: ...

    def close(self) -> None: ...


def _csv_cells(column: pa.Array) -> pa.Array:
    """The CSV text of each value of a typed column (null stays null: an empty cell)."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        return pc.replace_substring(column.cast(pa.string()), " ", "T", max_replacements=1)
    if pa.types.is_string(kind):
        needs = pc.match_substring_regex(column, _NEEDS_QUOTES)
        if pc.any(needs).as_py():
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(column, '"', '""'), '"', ""
            )
            return pc.if_else(needs, quoted, column)
        return column
    # dates (YYYY-MM-DD), decimals (scale kept: 12.30) and integers
    return column.cast(pa.string())


def encode_csv_rows(data: pa.Table) -> bytes | memoryview:
    """The CSV lines (no header) of a table, each ending with a line feed."""
    if data.num_rows == 0:
        return b""
    cells = [_csv_cells(column.combine_chunks()) for column in data.columns]
    lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2])[first:last]


class CsvTableWriter:
    """Appends typed tables to a CSV file (header written on opening)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._file: BinaryIO = path.open("wb")
        self._file.write((",".join(schema.names) + "\n").encode("utf-8"))

    def write(self, data: pa.Table) -> None:
        data = data.select(self.schema.names).cast(self.schema)
        self._file.write(encode_csv_rows(data))
        self.rows += data.num_rows

    def close(self) -> None:
        self._file.close()


class ParquetTableWriter:
    """Appends typed tables to a Parquet file, one row group per table written."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, data: pa.Table) -> None:
        data = data.select(self.schema.names).cast(self.schema)
        if data.num_rows:
            self._writer.write_table(data)
        self.rows += data.num_rows

    def close(self) -> None:
        self._writer.close()


def open_writer(path: Path, table_name: str, fmt: str) -> TableWriter:
    schema = arrow_schema(table_name)
    if fmt == "csv":
        return CsvTableWriter(path, schema)
    if fmt == "parquet":
        return ParquetTableWriter(path, parquet_schema(table_name))
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
