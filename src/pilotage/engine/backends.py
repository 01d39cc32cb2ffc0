"""Where the computation runs: the one module that connects to engines and executes.

A `Source` hands out the contract tables as Ibis tables with the engine types of
`pilotage.contract.schema.ENGINE_DTYPES` (timestamps naive in UTC, money float64), whatever
holds them: a contract folder read by DuckDB (the embedded analytical default), the CRM
database itself (SQLite or PostgreSQL, queried in place: the expressions are compiled to
SQL and pushed down, nothing is copied into Python), or Apache Spark. KPI, attribution,
scoring and CLV code build expressions from `source.table(name)` and never connect
themselves.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import sqlglot
from ibis.backends.sql.compilers.pyspark import PySparkCompiler
from ibis.backends.sql.compilers.sqlite import SQLiteCompiler
from sqlglot.optimizer.eliminate_subqueries import eliminate_subqueries

from pilotage.contract.schema import TABLE_NAMES, engine_schema
from pilotage.contract.schema import table as contract_table
from pilotage.contract.settings import Settings, settings_from_mapping
from pilotage.home import database_url

EngineName = Literal["duckdb", "sqlite", "postgres", "spark"]


class SourceError(ValueError):
    """The source cannot be opened (bad URL, missing file, unreachable server)."""


@dataclass
class Source:
    backend: Any  # an Ibis backend
    engine: EngineName
    settings: Settings = field(default_factory=Settings)
    # Contract tables that exist in the backend; the others are empty tables.
    present_tables: frozenset[str] = frozenset(TABLE_NAMES)
    description: str = ""
    # The typed tables handed out (`table`): building one asks the engine for the stored
    # table's schema (a query) and Ibis for a projection of every column, on every KPI
    # run; the tables of a source, like `present_tables`, are those it was opened on.
    _typed_tables: dict[str, ir.Table] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    _stored_schemas: dict[str, str] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    # Values computed from the data, kept while `data_version` says it has not changed.
    _unchanged: dict[str, tuple[Any, Any]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def data_version(self) -> Any:
        """A value that changes whenever the data may have changed, or None where the
        engine offers no cheap way to tell. SQLite: `PRAGMA data_version` (changes
        committed by any other connection) and `total_changes()` (rows this connection
        inserted, updated or deleted, its temporary tables included)."""
        if self.engine != "sqlite":
            return None
        connection = self.backend.con
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        changes = connection.execute("SELECT total_changes()").fetchone()[0]
        return (int(version), int(changes))

    def while_unchanged(self, name: str, compute: Callable[[], Any]) -> Any:
        """`compute()`, computed again only when `data_version` has changed since (every
        time where the engine cannot tell)."""
        version = self.data_version()
        if version is None:
            return compute()
        known = self._unchanged.get(name)
        if known is not None and known[0] == version:
            return known[1]
        value = compute()
        # The version read before computing: a change made meanwhile is seen next time.
        self._unchanged[name] = (version, value)
        return value

    def table(self, name: str) -> ir.Table:
        """The contract table `name`, typed for the engine (an empty table when absent)."""
        typed = self._typed_tables.get(name)
        if typed is None:
            typed = self._typed_tables[name] = self._typed_table(name)
        return typed

    def stored_schema(self, name: str) -> str:
        """The stored table `name` with its engine types, as text ("" when absent): with
        the engine, what decides the SQL of `table` (its casts)."""
        if name not in self.present_tables:
            return ""
        self.table(name)  # reads the stored schema
        return self._stored_schemas[name]

    def _typed_table(self, name: str) -> ir.Table:
        schema = engine_schema(name)
        defaults = {c.name: c.default for c in contract_table(name).columns if c.default}
        if name not in self.present_tables:
            return ibis.memtable(
                pd.DataFrame({column: pd.Series([], dtype="object") for column in schema})
            ).cast(schema)
        raw = self.backend.table(name)
        self._stored_schemas[name] = f"{name}: " + ", ".join(
            f"{column} {dtype}" for column, dtype in raw.schema().items()
        )
        if self.engine == "sqlite":
            raw = _plain_text_columns(raw)
        columns = []
        for column, dtype in schema.items():
            value = raw[column]
            if self.engine == "sqlite" and dtype == "timestamp":
                # SQLite keeps datetimes as text, compared as text: Django writes
                # '2024-01-01 00:00:00', other tools '2024-01-01T00:00:00', and ' ' < 'T'.
                # One format for all ('YYYY-MM-DD HH:MM:SS.SSS', the format of Ibis'
                # literals) keeps boundaries exact.
                value = value.cast("string").replace("T", " ").cast(dtype)
            elif not _has_engine_type(value, dtype) or (
                # Same family but other parameters (DuckDB's timestamp(6), SQLite's
                # varchar(10)): one exact type, so that tables from different origins
                # (a stored table and an absent one) can be combined.
                value.type().copy(nullable=True) != ibis.dtype(dtype)
            ):
                value = value.cast(dtype)
            if column in defaults:
                value = value.fill_null(defaults[column])
            columns.append(value.name(column))
        return raw.select(*columns)

    def execute(self, expression: ir.Expr) -> Any:
        return self.backend.execute(expression)

    def compile(self, expression: ir.Expr) -> str:
        """The SQL this source runs for `expression` (compiled once per process)."""
        return str(self.backend.compile(expression))

    def fetch_sql(self, sql: str, schema: Mapping[str, str]) -> pd.DataFrame:
        """The rows of `sql` (as `compile` gives it; DuckDB, SQLite or PostgreSQL), as a
        frame of `schema`'s columns: "string" (text, None when null), "float64" (NaN
        when null) or "int64" (float64 when a value is null, as pandas has it), the only
        types of the small result tables it serves."""
        if self.engine == "duckdb":
            rows = self.backend.con.execute(sql).fetchall()  # its connection is its cursor
        elif self.engine == "postgres":
            with self.backend.begin() as cursor:
                # These queries join and group whole tables through CTEs, whose rows
                # PostgreSQL estimates blindly (200 per CTE, a fraction of a percent
                # behind filters on cast columns): it then chose nested loops over
                # 127,000 x 127,000 rows, and ROAS, ROI, early churn and the levers ran
                # for more than 5 minutes on a million contacts (hash joins: about a
                # second each). Only in this query's transaction: Django's queries, and
                # the engine's single-contact lookups, keep their index loops.
                cursor.execute("SET LOCAL enable_nestloop = off")
                cursor.execute(sql)
                rows = cursor.fetchall()
        elif self.engine == "sqlite":
            with contextlib.closing(self.backend.raw_sql(sql)) as cursor:
                rows = cursor.fetchall()
        else:
            raise SourceError(f"{self.engine}: SQL is run through Ibis on this engine")
        frame = pd.DataFrame.from_records(rows, columns=list(schema))
        for column, dtype in schema.items():
            if dtype == "float64":
                frame[column] = pd.to_numeric(frame[column]).astype("float64")
            elif dtype == "int64":
                numbers = pd.to_numeric(frame[column])
                frame[column] = numbers.astype("float64" if numbers.isna().any() else "int64")
            elif dtype == "string":
                frame[column] = frame[column].astype("object")
            else:
                raise ValueError(f"{column}: {dtype}: fetch_sql reads strings and numbers only")
        return frame

    def to_sql(self, expression: ir.Expr) -> str:
        return sql_text(expression, self.backend.name)


def _plain_text_columns(table: ir.Table) -> ir.Table:
    """The SQLite table with its text columns typed `string`, whatever length their
    declaration gives (Django's `varchar(100)`): the same values (SQLite keeps text as
    text, with no length), but no `CAST(... AS TEXT)` in the SQL, which would hide the
    column from its indexes: a join of orders to their contacts would then scan the
    contacts for every order instead of looking each one up by primary key (minutes on a
    million contacts)."""
    op = table.op()
    schema = ibis.schema(
        {
            column: ibis.dtype("string") if dtype.is_string() else dtype
            for column, dtype in op.schema.items()
        }
    )
    return op.copy(schema=schema).to_expr()


def _has_engine_type(value: ir.Column, dtype: str) -> bool:
    actual = value.type()
    if dtype == "timestamp":
        return bool(actual.is_timestamp() and actual.timezone is None)
    return bool(actual == ibis.dtype(dtype))


def from_duckdb(
    connection: duckdb.DuckDBPyConnection, settings: Settings, description: str = ""
) -> Source:
    """A source over a DuckDB connection that holds typed contract tables."""
    backend = ibis.duckdb.from_connection(connection)
    _remember_compiled(backend, "duckdb", fuse_selects=False)
    present = frozenset(name for name in TABLE_NAMES if name in backend.list_tables())
    return Source(backend, "duckdb", settings, present, description)


def from_frames(frames: Mapping[str, pd.DataFrame], settings: Settings | None = None) -> Source:
    """An in-memory DuckDB source from already-typed DataFrames (tests and notebooks).

    Timestamps may be ISO-8601 strings or pandas timestamps; naive ones are in the company
    time zone (as in a contract file) and aware ones are converted to UTC. Missing columns of
    a given table are filled with nulls, absent tables are empty. No validation is done:
    contract folders go through `pilotage.contract.reader` instead.
    """
    settings = settings or Settings()
    connection = duckdb.connect()
    # Local times are read as the contract reader reads them (`contract.validation`):
    # DuckDB casts the text in the company's time zone, so that a time the clocks skip
    # or repeat (02:30 on a night of daylight-saving change) gets the same instant.
    connection.execute("SET TimeZone = ?", [settings.timezone])
    for name, frame in frames.items():
        schema = engine_schema(name)
        typed = frame.copy()
        for column, dtype in schema.items():
            if column not in typed.columns:
                typed[column] = None
            if dtype == "timestamp":
                typed[column] = [_iso_text(value) for value in typed[column]]
            elif dtype == "date":
                typed[column] = pd.to_datetime(typed[column]).dt.date
        connection.register(f"_frame_{name}", typed)
        select_list = ", ".join(
            f'timezone(\'UTC\', CAST("{column}" AS TIMESTAMPTZ)) AS "{column}"'
            if dtype == "timestamp"
            else f'CAST("{column}" AS {_DUCKDB_TYPES[dtype]}) AS "{column}"'
            for column, dtype in schema.items()
        )
        extra = [c for c in typed.columns if c not in schema]
        extra_list = "".join(f', "{column}"' for column in extra)
        connection.execute(
            f'CREATE TABLE "{name}" AS SELECT {select_list}{extra_list} FROM "_frame_{name}"'
        )
        connection.unregister(f"_frame_{name}")
    connection.execute("SET TimeZone = 'UTC'")
    return from_duckdb(connection, settings, "in-memory frames")


def _iso_text(value: Any) -> str | None:
    """An ISO-8601 text of a timestamp given as text or as a (naive or aware) pandas or
    Python timestamp: with its offset when it has one."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, str) else pd.Timestamp(value).isoformat()


_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "float64": "DOUBLE",
    "int64": "BIGINT",
}


def open_source(
    data: Path | None = None,
    db: str | None = None,
    settings: Settings | None = None,
) -> Source:
    """The source a command names: `--data DIR` (a contract folder, validated, then read
    with DuckDB), else `--db URL`, else `DATABASE_URL`, else the embedded CRM database."""
    if data is not None:
        from pilotage.contract.reader import read_folder

        return read_folder(data, settings)
    return from_database_url(db or database_url(), settings)


# How many compiled queries the process keeps (`_remember_compiled`).
COMPILED_QUERIES_KEPT = 512


class _CountedScope:
    """A process-wide setting changed while at least one scope is open, in any thread,
    and restored when the last one closes: `change()` returns what `restore` is given."""

    def __init__(self, change: Callable[[], bool], restore: Callable[[bool], None]) -> None:
        self._change = change
        self._restore = restore
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = True

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = self._change()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._restore(self._saved)


# Ibis compiles without fusing consecutive projections in this scope.
#
# Fusing (Ibis' `sql.fuse_selects`, on by default) makes SQL easier to read but, on the
# expression of a whole catalogue run, takes about a third of the compilation (each
# fusion measures the subtrees it merges). DuckDB's optimizer flattens the subqueries
# itself and runs the unfused SQL as fast; SQLite's SQL is flattened into CTEs anyway. The
# option is process-wide in Ibis: the user's setting comes back after the last scope. A
# query another thread compiles meanwhile may come out unfused, which changes its shape,
# not its meaning.


def _unfuse_selects() -> bool:
    fused: bool = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    return fused


def _refuse_selects(fused: bool) -> None:
    ibis.options.sql.fuse_selects = fused


# Python's cyclic garbage collector does not run in this scope: queries are built and
# compiled in it.
#
# Building and compiling a batch of KPIs allocates hundreds of thousands of small objects
# (Ibis nodes, sqlglot trees), and each burst of allocations starts a collection that
# walks the objects of the process: about 0.1 s of the 0.35 s a 35-KPI batch took to
# compile on DuckDB, 0.06 s of a dashboard's first batch by campaign on the demo
# (benchmarks/README.md). Reference counting still frees what is not in a cycle (the
# arrays of a model fitted while a KPI is built, too); the cycles left are collected by
# the collector's next run after the last scope closes.


def _pause_collector() -> bool:
    enabled = gc.isenabled()
    gc.disable()
    return enabled


def _resume_collector(enabled: bool) -> None:
    if enabled:
        gc.enable()


_unfused_selects = _CountedScope(_unfuse_selects, _refuse_selects)
collector_paused = _CountedScope(_pause_collector, _resume_collector)


# Compiled SQL of the process, shared by every backend (`_remember_compiled`): by flavour
# (engine, and whether projections are fused) and expression.
_compiled: OrderedDict[tuple[str, Any], str] = OrderedDict()
_compiled_lock = threading.Lock()


def _remember_compiled(backend: Any, flavour: str, *, fuse_selects: bool = True) -> None:
    """Keep the SQL of the last queries compiled in this process, keyed by the expression.

    Compiling an Ibis expression to SQL (and, on SQLite, flattening it) costs more Python
    time than running a dashboard's queries on a small database; a process that computes
    the same KPIs again (the API, the dashboard, a notebook) gets the SQL it compiled
    before. The key is the expression itself: Ibis expressions are immutable values,
    compared by structure, whose every input is part of them (tables with their name,
    schema and database; literals with their type: periods, `as_of`, settings), so equal
    expressions compile to the same SQL. Ibis deems two connections to the same database
    equal (`db_identity`), so the SQL is shared by every connection of the process (the
    web server's threads, a source opened again after a write), not kept per connection.
    `flavour` names how this backend compiles (its engine, and its own rewrites such as
    SQLite's flattening). What the data holds is read when the query runs, never kept
    (queries over in-memory tables are not kept at all). With `fuse_selects=False`,
    queries are compiled in `_unfused_selects`.
    """
    compile_expression = backend.compile

    def compile_remembered(expression: Any, *args: Any, **kwargs: Any) -> str:
        options = {key: value for key, value in kwargs.items() if value is not None}
        if args or options or not hasattr(expression, "op"):
            return str(compile_expression(expression, *args, **kwargs))
        key = (flavour, expression.op())
        with _compiled_lock:
            sql = _compiled.get(key)
            if sql is not None:
                _compiled.move_to_end(key)
                return sql
        with collector_paused:
            if fuse_selects:
                sql = str(compile_expression(expression))
            else:
                with _unfused_selects:
                    sql = str(compile_expression(expression))
        if key[1].find(ops.InMemoryTable):
            # An in-memory table (a frame computed in pandas: expected wins, predicted
            # CLV) has a new name each time: its query is never asked again, and keeping
            # it would keep its data.
            return sql
        with _compiled_lock:
            _compiled[key] = sql
            while len(_compiled) > COMPILED_QUERIES_KEPT:
                _compiled.popitem(last=False)
        return sql

    backend.compile = compile_remembered


def _flatten_subqueries(backend: Any, *, dialect: str) -> None:
    """Compile this backend's queries with derived tables rewritten as CTEs.

    Ibis nests one subquery per step of an expression; SQLite's parser has a fixed stack
    and refuses deep nesting ("parser stack overflow") on attribution and CLV queries.
    The same query written as a flat list of CTEs parses at constant depth and computes
    the same rows.
    """
    compile_nested = backend.compile

    def compile_flat(expression: Any, *args: Any, **kwargs: Any) -> str:
        options = {key: value for key, value in kwargs.items() if value is not None}
        if args or options or not hasattr(expression, "op"):
            sql = compile_nested(expression, *args, **kwargs)
            tree = _inline_row_steps(eliminate_subqueries(sqlglot.parse_one(sql, read=dialect)))
            return str(tree.transform(_canonical_instant_literal).sql(dialect=dialect))
        # Ibis' own syntax tree, flattened before it is written: writing the nested SQL
        # and parsing it back took half the compilation of a catalogue run.
        tree = _inline_row_steps(eliminate_subqueries(backend.compiler.to_sqlglot(expression)))
        return str(
            tree.transform(_canonical_instant_literal).sql(
                dialect=backend.dialect, copy=False, unsupported_level=sqlglot.ErrorLevel.RAISE
            )
        )

    backend.compile = compile_flat


def _inline_row_steps(tree: Any) -> Any:
    """Mark the CTEs that only read, filter, compute columns or join row by row (no
    grouping, window, DISTINCT, union or limit) `NOT MATERIALIZED`.

    SQLite otherwise materializes such a step (a typed table's projection, paid orders,
    touchpoints joined to their campaigns) into an unindexed temporary table when it is
    read twice or joined, then joins it by scanning it once per row of the other side:
    the acquisition levers on 200,000 contacts ran for more than 6 minutes (each of 28,000
    customers scanning the 200,000 contacts). Inlined, the join reaches the stored table
    and its index (contact_id, campaign_id): 1.5 s. The rows are the same; a step read
    several times is computed again each time, row by row, as a view would be."""
    for cte in tree.find_all(sqlglot.exp.CTE):
        body = cte.this
        if (
            isinstance(body, sqlglot.exp.Select)
            and not any(body.args.get(part) for part in ("group", "distinct", "limit", "having"))
            and body.find(sqlglot.exp.AggFunc, sqlglot.exp.Window) is None
        ):
            cte.set("materialized", False)
    return tree


# SQLite has no timestamp type: Ibis compares instants as text. Columns are read as
# 'YYYY-MM-DD HH:MM:SS.SSS' (Source.table) and Ibis' own date arithmetic gives the same
# shape, but it writes literals as 'YYYY-MM-DD HH:MM:SS', which sorts before the same
# instant written with '.000': `created_at <= as_of` would miss the row created at
# as_of. Literals are rewritten to the same fixed width, so text order is time order.
_INSTANT_LITERAL = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$")


def _canonical_instant_literal(node: sqlglot.exp.Expression) -> sqlglot.exp.Expression:
    if isinstance(node, sqlglot.exp.Literal) and node.is_string:
        match = _INSTANT_LITERAL.match(node.this)
        if match:
            fraction = (match.group(2) or "").ljust(3, "0")[:3]
            return sqlglot.exp.Literal.string(f"{match.group(1)}.{fraction}")
    return node


# Unix seconds with their fraction, on every engine. Durations (conversion delays, sales
# cycles) and the day windows W, D and R are exact (kpis.md). DuckDB's `epoch` and
# PostgreSQL's `extract(epoch)` keep the microseconds, but Ibis compiles Unix seconds to
# `strftime('%s')` on SQLite and `unix_timestamp` on Spark, whole seconds both: a delay
# of 90 days less 0.2 s (Django stores microseconds) was 90 days there, outside the
# window, where DuckDB and PostgreSQL counted it. SQLite's date functions keep
# milliseconds: `julianday` holds them in a double, and rounding to the millisecond gives
# them back exactly (its error is under 0.05 ms). Spark keeps microseconds (`unix_micros`).
_UNIX_EPOCH_JULIAN_DAY = 2_440_587.5
_MILLISECONDS_PER_DAY = 86_400_000


class _ExactEpochSQLiteCompiler(SQLiteCompiler):  # type: ignore[misc]  # Ibis is untyped
    def visit_ExtractEpochSeconds(self, op: Any, *, arg: Any) -> Any:
        days = self.f.julianday(arg) - _UNIX_EPOCH_JULIAN_DAY
        return self.f.round(days * _MILLISECONDS_PER_DAY) / 1_000.0


class _ExactEpochSparkCompiler(PySparkCompiler):  # type: ignore[misc]  # Ibis is untyped
    def visit_ExtractEpochSeconds(self, op: Any, *, arg: Any) -> Any:
        return self.f.unix_micros(self.cast(arg, dt.timestamp)) / 1_000_000


_EXACT_EPOCH_COMPILERS: dict[str, Any] = {
    "sqlite": _ExactEpochSQLiteCompiler(),
    "pyspark": _ExactEpochSparkCompiler(),
}


def sql_text(expression: ir.Expr, dialect: str) -> str:
    """The SQL of `expression` in `dialect`, as our sources compile it (Unix seconds
    exact on SQLite and Spark)."""
    compiler = _EXACT_EPOCH_COMPILERS.get(dialect)
    if compiler is None:
        return str(ibis.to_sql(expression, dialect=dialect))
    return str(compiler.to_sqlglot(expression).sql(dialect=compiler.dialect, pretty=True))


def exact_spark_epochs(tree: sqlglot.exp.Expr) -> sqlglot.exp.Expr:
    """`tree` (SQL parsed from DuckDB's) with Unix seconds written as Spark's exact form:
    sqlglot writes DuckDB's `epoch` as `unix_timestamp`, whole seconds."""

    def exact(node: sqlglot.exp.Expr) -> sqlglot.exp.Expr:
        if isinstance(node, sqlglot.exp.TimeToUnix):
            micros = sqlglot.exp.func("unix_micros", node.this)
            return sqlglot.exp.Div(this=micros, expression=sqlglot.exp.Literal.number(1_000_000))
        return node

    return tree.transform(exact)


def from_database_url(url: str, settings: Settings | None = None) -> Source:
    """The CRM database (tables named as in the contract), queried in place."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    try:
        if scheme == "sqlite":
            path = unquote(parsed.path)
            # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db is absolute.
            if path.startswith("//"):
                path = path[1:]
            elif path.startswith("/"):
                path = path[1:] or ":memory:"
            if path != ":memory:" and not Path(path).is_file():
                # SQLite would create an empty file there: a mistyped path would leave
                # one behind and then read as a database without tables.
                raise SourceError(
                    f"{url}: no database file at {Path(path).resolve()}; check the path, "
                    f"or create the database with `pilotage import DIR --db {url}`"
                )
            backend = ibis.sqlite.connect(path)
            backend.compiler = _EXACT_EPOCH_COMPILERS["sqlite"]
            _flatten_subqueries(backend, dialect="sqlite")
            engine: EngineName = "sqlite"
        elif scheme in ("postgres", "postgresql"):
            backend = ibis.connect(url.replace("postgresql+psycopg://", "postgres://"))
            engine = "postgres"
        else:
            raise SourceError(f"{url}: unsupported database URL (use sqlite:/// or postgresql://)")
    except SourceError:
        raise
    except Exception as error:  # the driver's own message says what is wrong
        raise SourceError(f"{url}: cannot connect: {error}") from error
    # PostgreSQL plans nested subqueries with joins within its collapse limits: its SQL
    # keeps Ibis' fused projections. SQLite's is flattened into CTEs anyway.
    _remember_compiled(backend, f"{engine}-crm", fuse_selects=engine == "postgres")
    tables = set(backend.list_tables())
    present = frozenset(name for name in TABLE_NAMES if name in tables)
    if "contacts" not in present:
        raise SourceError(f"{url}: no contacts table: is this a Pilotage database?")
    if settings is None:
        settings = company_settings(backend) if COMPANY_SETTINGS_TABLE in tables else Settings()
    return Source(backend, engine, settings, present, url)


# The CRM's settings page stores one row per setting: name, value as JSON text.
COMPANY_SETTINGS_TABLE = "company_settings"


def company_settings(backend: Any) -> Settings:
    """The settings saved in the CRM (its settings page), over the defaults."""
    frame = backend.table(COMPANY_SETTINGS_TABLE).execute()
    values = {
        str(name): json.loads(value)
        for name, value in zip(frame["name"], frame["value"], strict=True)
    }
    return settings_from_mapping(values, origin="the CRM's settings")


# Apache Spark ------------------------------------------------------------------------------

# What a local session needs to stay quick on small data and to read timestamps unshifted.
# Ibis also sets spark.sql.session.timeZone to UTC when it connects: Spark's TIMESTAMP is
# then read and written as the UTC wall time, the naive UTC of the engine.
SPARK_LOCAL_CONFIG: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Parquet timestamps written without a zone (DuckDB's TIMESTAMP) read as TIMESTAMP_NTZ.
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}


def spark_session(
    master: str = "local[2]",
    app_name: str = "pilotage",
    config: Mapping[str, str] | None = None,
) -> Any:
    """A Spark session for Pilotage (`SPARK_LOCAL_CONFIG` under `config`); the running
    one if there is one (its settings then stay as they are, apart from the runtime ones
    set here). Needs pyspark and Java 17."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SPARK_LOCAL_CONFIG, **(config or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def from_spark(
    session: Any,
    settings: Settings,
    tables: Mapping[str, str] | None = None,
    *,
    database: str | None = None,
    description: str = "",
) -> Source:
    """A source over contract tables registered in a Spark session.

    By default the tables are the session's temporary views or the current database's
    tables named as in the contract (`contacts`, `orders`, ...). `database`
    (`"sales"` or `"catalog.sales"`) reads the contract names in that database instead,
    and `tables` maps contract names to any other Spark table (`{"orders":
    "crm.sales.order_lines"}`). Those are exposed to the engine as temporary views named as
    in the contract, in `session` (use `session.newSession()` to keep them apart).
    Timestamps must hold UTC instants: `TIMESTAMP` (read in UTC: Ibis sets the session
    time zone to UTC) or `TIMESTAMP_NTZ` holding the UTC wall time. A contract table found
    nowhere is registered as an empty view.
    """
    names = dict(tables or {})
    unknown = sorted(set(names) - set(TABLE_NAMES))
    if unknown:
        raise SourceError(f"not contract tables: {', '.join(unknown)}")
    if database is not None:
        catalog = session.catalog
        for name in TABLE_NAMES:
            qualified = f"{database}.{name}"
            if name not in names and catalog.tableExists(qualified):
                names[name] = qualified
    for name, qualified in names.items():
        session.table(qualified).createOrReplaceTempView(name)
    backend = ibis.pyspark.connect(session)
    backend.compiler = _EXACT_EPOCH_COMPILERS["pyspark"]
    _register_memtables_before_caching(backend)
    listed = set(backend.list_tables())
    for name in TABLE_NAMES:
        if name not in listed:
            # An absent table is an empty view, not an Ibis in-memory table: an expression
            # built only from in-memory tables has no backend, and Ibis would `cache()` it
            # in its default DuckDB, out of Spark's reach.
            columns = ", ".join(
                f"`{column}` {_SPARK_TYPES[dtype]}" for column, dtype in engine_schema(name).items()
            )
            session.createDataFrame([], columns).createOrReplaceTempView(name)
    return Source(backend, "spark", settings, frozenset(TABLE_NAMES), description or "spark")


_SPARK_TYPES = {
    "string": "STRING",
    "timestamp": "TIMESTAMP_NTZ",
    "date": "DATE",
    "float64": "DOUBLE",
    "int64": "BIGINT",
}


def _register_memtables_before_caching(backend: Any) -> None:
    """Make `expression.cache()` work on expressions that hold in-memory tables.

    Ibis 12's PySpark backend caches with `session.sql(compiled).cache()` without first
    registering the expression's in-memory tables (the periods, an absent contract table)
    as temporary views, as `execute` does: Spark then fails with TABLE_OR_VIEW_NOT_FOUND.
    Running the pre-execute hooks first registers them.
    """
    create_cached = backend._create_cached_table

    def create_cached_registered(name: str, expression: Any) -> Any:
        backend._run_pre_execute_hooks(expression)
        return create_cached(name, expression)

    backend._create_cached_table = create_cached_registered


def to_spark(source: Source, session: Any, directory: Path) -> Source:
    """The tables of `source` (any engine), typed, copied into Spark.

    Each present contract table is written once as Parquet into `directory` by the source's
    engine (DuckDB writes it natively; no row goes through Python) and read by Spark in a
    session of its own (`session.newSession()`: same cluster, separate temporary views),
    so several such sources can share one Spark application. `directory` must stay until
    the source is no longer used, and be visible to the Spark executors.
    """
    directory.mkdir(parents=True, exist_ok=True)
    own = session.newSession()
    for name in sorted(source.present_tables):
        path = directory / f"{name}.parquet"
        source.backend.to_parquet(source.table(name), path)
        own.read.parquet(str(path)).createOrReplaceTempView(name)
    return from_spark(own, source.settings, description=f"{source.description} on spark")


def spark_source_from_frames(
    session: Any,
    frames: Mapping[str, pd.DataFrame],
    settings: Settings | None = None,
    directory: Path | None = None,
) -> Source:
    """`from_frames` on Spark (tests and notebooks): the frames typed by DuckDB, then copied
    into Spark through Parquet files in `directory` (default: a new temporary directory,
    removed when the process ends)."""
    if directory is None:
        import atexit
        import shutil
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="pilotage-spark-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    typed = from_frames(frames, settings)
    try:
        return to_spark(typed, session, directory)
    finally:
        typed.backend.disconnect()
