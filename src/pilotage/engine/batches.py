"""The SQL of the KPI batches a process has run (`compute.execute_kpis`), and of the
other queries built from parameters alone (`run_kept`: attribution, levers), kept in
memory and in the Pilotage folder, so that a query asked again runs its SQL at once.

Building the Ibis expressions of a dashboard's KPIs and compiling them to SQL costs
half a second to a second of Python; running that SQL on a company-sized database, tens
of milliseconds. A batch is the same query whenever what it is built from is the same:
the engine, the stored types of the contract tables (which decide the casts of
`Source.table`), the settings, the periods, the KPIs, the breakdown, and `as_of` only
when the tables are cut at it (`KpiContext.cut_at_as_of`; otherwise `as_of` decides
which periods are complete, in `result_rows`, not the query: tests/engine/test_one_query
checks it for every KPI). What the data holds is read when the SQL runs, never kept.
Batches whose query holds data computed in pandas (expected wins, predicted CLV) are
never kept (`compute.execute_kpis`).

In memory, the key holds the source's typed tables themselves (Ibis values, equal for
two connections to the same database). On disk (`<PILOTAGE_HOME>/cache/sql`), the key
is a digest of the same inputs written out, and of the code that builds the queries
(the engine's, the contract's and the attribution's source files, the Ibis and sqlglot
versions): a change of either is a new key, never the old SQL. A file that cannot be
written (a read-only folder) only costs the compilation next time. A file neither read
nor written for `home.CACHE_KEPT_DAYS` is deleted by the first write of a process
(`home.prune_once`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd

from pilotage.contract.schema import TABLE_NAMES
from pilotage.engine.backends import collector_paused
from pilotage.home import data_home, prune_once

if TYPE_CHECKING:
    from pilotage.engine.backends import Source
    from pilotage.engine.catalogue import Kpi
    from pilotage.engine.context import Dimension, KpiContext
    from pilotage.engine.periods import Period

logger = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]  # the SQL, and its result columns with their types
Key = tuple[Hashable, str]  # (the key in memory, the digest on disk)

# The packages whose code decides the SQL of a batch.
QUERY_CODE = ("contract", "engine", "attribution", "scoring")


class RememberedBatches:
    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Entry | None:
        memory, digest = key
        with self._lock:
            found = self._entries.get(memory)
            if found is not None:
                self._entries.move_to_end(memory)
                return found
        found = _read(digest)
        if found is not None:
            self._keep(memory, found)
        return found

    def put(self, key: Key, entry: Entry) -> None:
        memory, digest = key
        self._keep(memory, entry)
        _write(digest, entry)

    def _keep(self, memory: Hashable, entry: Entry) -> None:
        with self._lock:
            self._entries[memory] = entry
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)


def batch_key(
    source: Source, chosen: Sequence[Kpi], context: KpiContext, by: Dimension | None
) -> Key | None:
    """What a batch's query is built from (see the module's docstring), or None when it
    cannot be told: without every contract table in the source (an absent one is an
    in-memory empty table)."""
    cut = context.as_of.isoformat() if context.cut_at_as_of else None
    names = tuple(kpi.name for kpi in chosen)
    return _source_key(
        source,
        {
            "periods": periods_key(context.periods),
            "cut": cut,
            "materialize": context.materialize,
            "kpis": names,
            "by": by,
        },
    )


def periods_key(periods: Sequence[Period]) -> tuple[tuple[str, str, str], ...]:
    """Periods as a key part: their labels and UTC bounds."""
    return tuple((p.label, p.start_utc.isoformat(), p.end_utc.isoformat()) for p in periods)


def _source_key(source: Source, parts: dict[str, Any]) -> Key | None:
    """The key of a query built from `source` (its engine, the stored types of its
    tables, its settings) and from `parts` (JSON values); None without every table."""
    if source.present_tables != frozenset(TABLE_NAMES):
        return None
    tables = tuple(source.table(name).op() for name in TABLE_NAMES)
    settings = json.dumps(source.settings.to_dict(), sort_keys=True, default=str)
    described = json.dumps(parts, sort_keys=True)
    memory = (source.engine, tables, settings, described)
    written = {
        "code": _code_fingerprint(),
        "engine": source.engine,
        "tables": [source.stored_schema(name) for name in TABLE_NAMES],
        "settings": settings,
        **parts,
    }
    digest = hashlib.sha256(json.dumps(written, sort_keys=True).encode()).hexdigest()
    return memory, digest


# The engines whose SQL `Source.fetch_sql` runs directly.
FETCHED_ENGINES = ("duckdb", "sqlite", "postgres")
_kept_queries = RememberedBatches(kept=256)


def run_kept(
    source: Source, name: str, parts: dict[str, Any], build: Callable[[], ir.Table]
) -> pd.DataFrame:
    """The rows of the query `build()` returns, whose SQL depends only on `source`'s
    tables and settings, on the code and on `parts` (JSON values naming everything else
    `build` reads). Asked again with the same key, in this process or the next, its SQL
    runs at once, without building or compiling the expression (half a second to a
    second of Python for an attribution query). Queries over data computed in pandas
    (an in-memory table), with columns other than text and numbers, or on Spark run
    through Ibis each time."""
    key = _source_key(source, {"query": name, **parts})
    if key is not None and source.engine in FETCHED_ENGINES:
        found = _kept_queries.get(key)
        if found is not None:
            return source.fetch_sql(*found)
    with collector_paused:
        expression = build()
    columns = _fetched_columns(expression)
    if (
        key is None
        or columns is None
        or source.engine not in FETCHED_ENGINES
        or expression.op().find(ops.InMemoryTable)
    ):
        return source.execute(expression)  # type: ignore[no-any-return]
    sql = source.compile(expression)
    _kept_queries.put(key, (sql, columns))
    return source.fetch_sql(sql, columns)


def _fetched_columns(expression: ir.Table) -> dict[str, str] | None:
    """The result's columns as `Source.fetch_sql` reads them, None for other types."""
    columns = {}
    for column, dtype in expression.schema().items():
        if dtype.is_string():
            columns[column] = "string"
        elif dtype.is_floating() or dtype.is_decimal():
            columns[column] = "float64"
        elif dtype.is_integer():
            columns[column] = "int64"
        else:
            return None
    return columns


_fingerprint: str | None = None


def _code_fingerprint() -> str:
    global _fingerprint
    if _fingerprint is None:
        package = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for folder in QUERY_CODE:
            for path in sorted((package / folder).rglob("*.py")):
                digest.update(str(path.relative_to(package)).encode())
                digest.update(path.read_bytes())
        for distribution in ("ibis-framework", "sqlglot"):
            digest.update(f"{distribution}=={version(distribution)}".encode())
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _folder() -> Path:
    return data_home() / "cache" / "sql"


def _read(digest: str) -> Entry | None:
    path = _folder() / f"{digest}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.warning("ignoring the unreadable SQL cache file %s.json", digest, exc_info=True)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used: kept by `prune_once` for another CACHE_KEPT_DAYS
    return str(document["sql"]), {str(k): str(v) for k, v in document["columns"].items()}


def _write(digest: str, entry: Entry) -> None:
    sql, columns = entry
    try:
        folder = _folder()
        folder.mkdir(parents=True, exist_ok=True)
        prune_once(folder)
        # Written whole, then renamed: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8"
        ) as file:
            json.dump({"sql": sql, "columns": columns}, file)
        os.replace(file.name, folder / f"{digest}.json")
    except OSError:
        logger.info("could not keep the SQL of a KPI batch on disk", exc_info=True)
