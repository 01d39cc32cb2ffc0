"""How a run is computed does not change what it computes.

`compute_kpis` runs the whole catalogue as one query on DuckDB, SQLite and PostgreSQL
(`compute.execute_kpis`), each KPI alone over materialised shared parts on Spark (and in
the web dashboard); periods are found by a binary search over their bounds, and a few
KPIs have a one-pass form for few periods beside their range join; compiled SQL is kept
per backend. Each pair must give the same rows: checked here on a generated company, on
every engine.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
import sqlglot
from engine_helpers import compute, contacts, orders, values

from pilotage.contract.schema import TABLE_NAMES
from pilotage.contract.settings import Settings, load_settings
from pilotage.engine import batches as batches_module
from pilotage.engine import compute as compute_module
from pilotage.engine import context as context_module
from pilotage.engine import periods as periods_module
from pilotage.engine import span as span_module
from pilotage.engine.backends import Source, _inline_row_steps, from_database_url, from_frames
from pilotage.engine.batches import RememberedBatches
from pilotage.engine.catalogue import CATALOGUE
from pilotage.engine.compute import KpiRow, compute_kpis, plan, result_rows, select_kpis
from pilotage.engine.context import Dimension, KpiContext
from pilotage.engine.kpis import attrition
from pilotage.engine.periods import label_periods, period_label, periods_between

generator = pytest.importorskip("pilotage.demo.generator")

BREAKDOWNS: list[Dimension | None] = [None, "channel", "campaign", "owner"]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], Settings]:
    folder: Path = tmp_path_factory.mktemp("company")
    generator.generate_company(folder, 400, 5)
    frames = {
        path.stem: pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        for path in folder.glob("*.csv")
    }
    return frames, load_settings(None, folder)


Key = tuple[str, str, str]


def _indexed(rows: list[KpiRow] | tuple[KpiRow, ...]) -> dict[Key, KpiRow]:
    return {(row.kpi, row.period, str(sorted((row.by or {}).items()))): row for row in rows}


def _same_number(mine: float | None, theirs: float | None) -> bool:
    if mine is None or theirs is None:
        return mine is None and theirs is None
    # Sums of money in another order may differ in the last bits (DuckDB's parallel sums
    # do from one run to the next).
    return math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-9)


def assert_same_rows(mine: list[KpiRow] | tuple[KpiRow, ...], theirs: list[KpiRow]) -> None:
    found, expected = _indexed(mine), _indexed(theirs)
    assert found.keys() == expected.keys()
    for key, row in expected.items():
        other = found[key]
        assert other.complete == row.complete, key
        for field in ("value", "numerator", "denominator"):
            assert _same_number(getattr(other, field), getattr(row, field)), (key, field)


def one_query_per_kpi(source: Source, by: Dimension | None, **options: Any) -> list[KpiRow]:
    """The rows as engines that run each KPI alone compute them (Spark, the dashboard):
    one query per KPI, over shared parts kept as temporary tables."""
    chosen, _ = select_kpis(None, by)
    computation = plan(source, materialize=True, **options)
    rows: list[KpiRow] = []
    try:
        for kpi in chosen:
            frame = source.execute(kpi.expression(computation.context, by))
            rows.extend(result_rows(kpi, frame, computation, by))
    finally:
        computation.context.release()
    return rows


def test_one_query_gives_the_rows_of_one_query_per_kpi(source, engine, company):
    if engine == "spark":
        pytest.skip("Spark already runs one query per KPI (compute.ONE_QUERY_ENGINES)")
    frames, settings = company
    made = source(frames, settings)
    for by in BREAKDOWNS:
        together = compute_kpis(made, by=by)
        assert together.rows
        assert_same_rows(together.rows, one_query_per_kpi(made, by))


def test_an_earlier_as_of_gives_the_same_rows_either_way(source, engine, company):
    if engine == "spark":
        pytest.skip("Spark already runs one query per KPI (compute.ONE_QUERY_ENGINES)")
    frames, settings = company
    made = source(frames, settings)
    as_of = "2025-11-15T12:00:00"
    together = compute_kpis(made, grain="month", by="channel", as_of=as_of)
    assert_same_rows(together.rows, one_query_per_kpi(made, "channel", grain="month", as_of=as_of))


def test_few_period_forms_give_the_rows_of_the_range_joins(company, monkeypatch, tmp_path):
    """Periods found by a CASE, order activity, returning and repeat customers in one pass
    per customer (few periods) against the range joins used for many periods."""
    frames, settings = company
    made = from_frames(frames, settings)
    for by in (None, "campaign"):
        few = compute_kpis(made, grain="month", by=by)
        with monkeypatch.context() as patched:
            for module in (periods_module, context_module, attrition):
                patched.setattr(module, "CASE_PERIODS", 0)
            # The kept SQL of batches knows nothing of a patched constant: none is kept.
            patched.setattr(compute_module, "_batches", RememberedBatches(kept=256))
            patched.setenv("PILOTAGE_HOME", str(tmp_path / f"home-{by}"))
            many = compute_kpis(made, grain="month", by=by)
        assert_same_rows(few.rows, list(many.rows))


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "UTC"])
@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter"])
def test_the_search_over_bounds_labels_as_the_case(zone, grain):
    """`label_periods` on consecutive periods (a range filter, then a binary search) gives
    each instant the label `period_label` gives it, at and around every bound."""
    settings = Settings(timezone=zone)
    periods = periods_between(date(2024, 2, 20), date(2024, 11, 10), grain, settings)[:30]
    instants = [datetime(2024, 1, 1) + timedelta(hours=7 * step) for step in range(1300)]  # noqa: DTZ001
    for period in periods:
        for bound in (period.start_utc, period.end_utc):
            instants += [bound - timedelta(microseconds=1), bound, bound + timedelta(seconds=1)]
    table = ibis.memtable(pd.DataFrame({"instant": instants}), schema={"instant": "timestamp"})
    searched = label_periods(table, "instant", periods).execute()
    cased = table.mutate(period=period_label(table.instant, periods)).execute()
    cased = cased[cased.period.notna()]
    assert sorted(zip(searched.instant, searched.period, strict=True)) == sorted(
        zip(cased.instant, cased.period, strict=True)
    )
    days = ibis.memtable(
        pd.DataFrame({"day": [date(2024, 1, 1) + timedelta(days=n) for n in range(366)]}),
        schema={"day": "date"},
    )
    searched = label_periods(days, "day", periods, dates=True).execute()
    cased = days.mutate(period=period_label(days.day, periods, dates=True)).execute()
    cased = cased[cased.period.notna()]
    assert sorted(zip(searched.day, searched.period, strict=True)) == sorted(
        zip(cased.day, cased.period, strict=True)
    )


def test_periods_that_do_not_follow_each_other_are_labelled_by_the_case():
    settings = Settings(timezone="Europe/Paris")
    quarters = periods_between(date(2024, 1, 1), date(2024, 12, 31), "quarter", settings)
    chosen = [quarters[0], quarters[2]]
    table = ibis.memtable(
        pd.DataFrame({"instant": [datetime(2024, month, 15) for month in range(1, 13)]}),  # noqa: DTZ001
        schema={"instant": "timestamp"},
    )
    labelled = label_periods(table, "instant", chosen).execute()
    assert sorted(labelled.period) == ["2024-Q1"] * 3 + ["2024-Q3"] * 3


_INSERT_ORDER = {
    "duckdb": (
        "INSERT INTO orders (order_id, contact_id, ordered_at, amount, status) "
        "VALUES ('o9', 'c1', TIMESTAMP '2024-02-10 10:00:00', 50, 'paid')"
    ),
    "sqlite": (
        "INSERT INTO orders (order_id, contact_id, ordered_at, amount, status, attributes) "
        "VALUES ('o9', 'c1', '2024-02-10 10:00:00', '50', 'paid', '{}')"
    ),
    "postgres": (
        "INSERT INTO orders (order_id, contact_id, ordered_at, amount, status, attributes) "
        "VALUES ('o9', 'c1', '2024-02-10 10:00:00+00', 50, 'paid', '{}')"
    ),
}


def test_compiled_sql_is_kept_and_the_data_read_again(source, engine):
    """A second run over the same source reuses the SQL compiled by the first, and still
    reads the rows as they are now."""
    if engine == "spark":
        pytest.skip("the Spark backend keeps no compiled SQL")
    made = source(
        {
            "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
            "orders": orders(("c1", "2024-01-10 10:00:00", 100), ("c1", "2024-03-01 10:00:00", 30)),
        }
    )
    first = values(compute(made, "revenue", grain="month"))
    assert first == {"2024-01": 100.0, "2024-02": 0.0, "2024-03": 30.0}
    assert values(compute(made, "revenue", grain="month")) == first
    cursor = made.backend.raw_sql(_INSERT_ORDER[engine])
    if engine != "duckdb":  # DuckDB's `execute` returns the connection itself
        cursor.close()
    if engine == "postgres":
        made.backend.con.commit()
    assert values(compute(made, "revenue", grain="month")) == {
        "2024-01": 100.0,
        "2024-02": 50.0,
        "2024-03": 30.0,
    }


def test_a_batch_run_again_on_a_new_connection_reads_the_data_as_it_is_now(source, engine):
    """The SQL of a batch of KPIs is kept for the process (`compute._batches`): a source
    opened again on the same database (as the web server does after a write) runs it
    without building the expressions again, and reads the rows as they are now."""
    if engine not in ("sqlite", "postgres"):
        pytest.skip("a database reopened by URL")
    made = source(
        {
            "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
            "orders": orders(("c1", "2024-01-10 10:00:00", 100), ("c1", "2024-03-01 10:00:00", 30)),
        }
    )
    chosen = ["revenue", "orders", "new_customers"]
    first = compute_kpis(made, grain="month", kpis=chosen)
    cursor = made.backend.raw_sql(_INSERT_ORDER[engine])
    cursor.close()
    made.backend.con.commit()  # written and committed, as by another process
    reopened = from_database_url(made.description, made.settings)
    batches_before = len(compute_module._batches._entries)
    again = compute_kpis(reopened, grain="month", kpis=chosen)
    assert len(compute_module._batches._entries) == batches_before  # the same batch
    before = {(row.kpi, row.period): row.value for row in first.rows}
    after = {(row.kpi, row.period): row.value for row in again.rows}
    # The order o9 of 50 in 2024-02: revenue 0 -> 50, orders 0 -> 1; the rest unchanged.
    assert before[("revenue", "2024-02")] == 0.0
    assert before[("orders", "2024-02")] == 0.0
    assert after == before | {("revenue", "2024-02"): 50.0, ("orders", "2024-02"): 1.0}


def test_a_batch_is_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    """The SQL of a batch is written to the Pilotage folder: a new process (memory
    emptied) runs it without compiling, and gets the same rows; a change of the code
    that builds queries is a new key."""
    monkeypatch.setenv("PILOTAGE_HOME", str(tmp_path))
    # Every contract table (batches over an absent table are not kept), most empty.
    frames = {name: pd.DataFrame() for name in TABLE_NAMES} | {
        "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
        "orders": orders(("c1", "2024-01-10 10:00:00", 100), ("c1", "2024-03-01 10:00:00", 30)),
    }
    chosen = ["revenue", "orders"]
    first = compute_kpis(from_frames(frames), grain="month", kpis=chosen)
    written = list((tmp_path / "cache" / "sql").glob("*.json"))
    assert len(written) == 1

    compute_module._batches._entries.clear()  # a new process

    def never(self: Source, expression: Any) -> str:
        raise AssertionError("compiled again")

    with monkeypatch.context() as scope:
        scope.setattr(Source, "compile", never)
        again = compute_kpis(from_frames(frames), grain="month", kpis=chosen)
    assert again.rows == first.rows
    # Revenue by month: 100 in January, nothing in February, 30 in March.
    assert [row.value for row in again.rows if row.kpi == "revenue"] == [100.0, 0.0, 30.0]

    compute_module._batches._entries.clear()
    monkeypatch.setattr(batches_module, "_fingerprint", "the code changed")
    assert compute_kpis(from_frames(frames), grain="month", kpis=chosen).rows == first.rows
    assert len(list((tmp_path / "cache" / "sql").glob("*.json"))) == 2


def test_without_a_cut_the_batch_sql_does_not_depend_on_as_of(company):
    """What lets a batch's SQL be kept whatever `as_of` (`compute._batch_key`): unless the
    tables are cut at `as_of`, no KPI's query reads it (it only says which periods are
    complete, in `result_rows`); the KPIs whose queries hold data computed in pandas
    (in-memory tables) are never kept and left out here."""
    frames, settings = company
    made = from_frames(frames, settings)
    computation = plan(made, grain="quarter")
    periods = computation.context.periods
    later = computation.context.as_of + timedelta(days=40)
    for kpi in CATALOGUE:
        queries = []
        for as_of in (computation.context.as_of, later):
            context = KpiContext(made, periods, as_of)
            query = kpi.expression(context, None)
            queries.append(query)
        in_memory = bool(queries[0].op().find(ibis.expr.operations.InMemoryTable))
        # What `pilotage kpi --show-sql` and the KPI page say has no SQL of its own.
        assert in_memory == bool(kpi.computed_in_python), kpi.name
        if in_memory:
            continue
        assert made.compile(queries[0]) == made.compile(queries[1]), kpi.name


def test_the_span_of_the_data_follows_its_changes(source, engine):
    """The span of the data (as_of and the periods by default) is read again once the
    database has changed, by this connection or by another (SQLite keeps it until then)."""
    if engine not in ("sqlite", "duckdb"):
        pytest.skip("checked where the span may be kept (SQLite) and where it is not")
    made = source(
        {
            "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
            "orders": orders(("c1", "2024-01-10 10:00:00", 100)),
        }
    )
    assert set(values(compute(made, "revenue", grain="month"))) == {"2024-01"}
    later = _INSERT_ORDER[engine].replace("2024-02-10", "2024-03-10")
    if engine == "sqlite":
        # Written by another connection, as the CRM's web process would.
        path = made.description.removeprefix("sqlite:///")
        with sqlite3.connect(path) as other:
            other.execute(later)
        other.close()
    else:
        made.backend.raw_sql(later)
    result = compute(made, "revenue", grain="month")
    assert values(result) == {"2024-01": 100.0, "2024-02": 0.0, "2024-03": 50.0}
    assert result.as_of.isoformat().startswith("2024-03-10T")


def test_the_span_on_sqlite_equals_the_extremes_of_every_converted_timestamp(source, engine):
    """On SQLite the span reads the stored text's extremes and converts only the rows of
    the days around them. Stored texts that sort otherwise than their instants (a 'T'
    separator sorts after a space; an offset moves the instant up to 14 hours into the
    neighbouring day) must give the extremes of converting every row, as before."""
    if engine != "sqlite":
        pytest.skip("the stored-text shortcut is SQLite's")
    made = source(
        {
            "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
            "orders": orders(("c1", "2024-01-10 10:00:00", 100)),
        }
    )
    path = made.description.removeprefix("sqlite:///")
    with sqlite3.connect(path) as other:
        other.executemany(
            "INSERT INTO orders (order_id, contact_id, ordered_at, amount, status, attributes)"
            " VALUES (?, 'c1', ?, '10', 'paid', '{}')",
            [
                # Sorts first as text; 2024-01-03 10:00 UTC.
                ("early_text", "2024-01-02 20:00:00-14:00"),
                # Sorts after it as text; 2024-01-02 15:00 UTC: the earliest instant.
                ("early_instant", "2024-01-03 05:00:00+14:00"),
                # The last day as text is 2024-03-31; a 'T' sorts after the space.
                ("late_space", "2024-03-31 08:00:00"),
                ("late_t", "2024-03-31T07:00:00"),
                # Earlier text, later instant: 2024-03-31 09:30 UTC, the latest.
                ("late_offset", "2024-03-30 23:30:00-10:00"),
                ("fraction", "2024-02-01 00:00:00.250"),
            ],
        )
    other.close()
    columns = span_module._span_columns(made)
    # The converting path (the other engines'), on the same stored rows.
    every_row = span_module._extremes(made, columns)
    shortcut = [span_module._sqlite_extremes(made, *column) for column in columns]
    for (table, column, _), (low, high), (fast_low, fast_high) in zip(
        columns, every_row, shortcut, strict=True
    ):
        for theirs, mine in ((low, fast_low), (high, fast_high)):
            expected = None if pd.isna(theirs) else pd.Timestamp(theirs)
            assert (None if mine is None else pd.Timestamp(mine)) == expected, (table, column)
    assert span_module._data_span(made) == (
        datetime(2024, 1, 2, 15, 0),  # noqa: DTZ001 (the span is naive UTC)
        datetime(2024, 3, 31, 9, 30),  # noqa: DTZ001
    )


@pytest.mark.parametrize("stored", ["9999-12-31 10:00:00", "0001-01-01 00:00:00"])
def test_the_span_on_sqlite_of_dates_at_the_calendar_s_edges(source, engine, stored):
    """A column whose every date is at the calendar's edge (9999-12-31 is a common "never"):
    three days' margin beyond it do not exist in Python's calendar, so such a column is
    converted row by row, as on the other engines, instead of failing."""
    if engine != "sqlite":
        pytest.skip("the stored-text shortcut is SQLite's")
    made = source({"contacts": contacts(("c1", "2024-01-05 09:00:00", "web"))})
    path = made.description.removeprefix("sqlite:///")
    with sqlite3.connect(path) as other:
        other.execute(
            "INSERT INTO orders (order_id, contact_id, ordered_at, amount, status, attributes)"
            " VALUES ('edge', 'c1', ?, '10', 'paid', '{}')",
            (stored,),
        )
    other.close()
    low, high = span_module._sqlite_extremes(made, "orders", "ordered_at", False)
    exact = span_module._SQLITE_INSTANT.format('"ordered_at"')
    with sqlite3.connect(path) as other:
        expected = other.execute(f"SELECT MIN({exact}), MAX({exact}) FROM orders").fetchone()
    other.close()
    assert (low, high) == expected
    assert str(low).startswith(stored[:10])
    assert str(high).startswith(stored[:10])


def test_sqlite_reads_row_by_row_steps_in_place_and_keeps_grouped_ones():
    """SQLite materializes a CTE read twice into an unindexed table and joins it by scans
    (the levers on 200,000 contacts: minutes); steps computed row by row are marked NOT
    MATERIALIZED so that their joins reach the stored tables' indexes. Steps that group,
    rank or deduplicate are left to SQLite, which computes them once."""
    sql = (
        "WITH typed AS (SELECT contact_id, channel FROM contacts),"
        " joined AS (SELECT o.contact_id, t.channel FROM orders AS o"
        " LEFT JOIN typed AS t ON o.contact_id = t.contact_id WHERE o.amount > 0),"
        " grouped AS (SELECT contact_id, COUNT(*) AS n FROM joined GROUP BY 1),"
        " ranked AS (SELECT contact_id, ROW_NUMBER() OVER (ORDER BY contact_id) AS k"
        " FROM joined),"
        " distinct_ids AS (SELECT DISTINCT contact_id FROM joined)"
        " SELECT * FROM grouped JOIN ranked USING (contact_id) JOIN distinct_ids"
        " USING (contact_id)"
    )
    marked = _inline_row_steps(sqlglot.parse_one(sql, read="sqlite")).sql(dialect="sqlite")
    assert "typed AS NOT MATERIALIZED (" in marked
    assert "joined AS NOT MATERIALIZED (" in marked
    for kept in ("grouped", "ranked", "distinct_ids"):
        assert f"{kept} AS (" in marked
    # SQLite accepts the hint and gives the same rows.
    connection = sqlite3.connect(":memory:")
    connection.executescript(
        "CREATE TABLE contacts (contact_id TEXT PRIMARY KEY, channel TEXT);"
        "CREATE TABLE orders (contact_id TEXT, amount REAL);"
        "INSERT INTO contacts VALUES ('c1', 'web'), ('c2', 'store');"
        "INSERT INTO orders VALUES ('c1', 10), ('c1', 0), ('c2', 5), ('c3', 7);"
    )
    assert sorted(connection.execute(marked).fetchall()) == sorted(
        connection.execute(sql).fetchall()
    )
    connection.close()


def test_postgresql_runs_the_batches_without_nested_loops_and_only_them(source, engine):
    """`Source.fetch_sql` on PostgreSQL turns nested loops off for its query only
    (`SET LOCAL`): blind CTE estimates made PostgreSQL nest loops over 127,000 x 127,000
    rows. The connection's other queries keep the planner's default."""
    if engine != "postgres":
        pytest.skip("a PostgreSQL planner setting")
    made = source({"contacts": contacts(("c1", "2024-01-05 09:00:00", "web"))})
    setting = "SELECT current_setting('enable_nestloop') AS value"
    inside = made.fetch_sql(setting, {"value": "string"})
    assert inside["value"].tolist() == ["off"]
    with contextlib.closing(made.backend.raw_sql(setting)) as cursor:
        assert cursor.fetchall() == [("on",)]
    # The KPIs still compute through it.
    assert values(compute(made, "new_leads", grain="month")) == {"2024-01": 1}
