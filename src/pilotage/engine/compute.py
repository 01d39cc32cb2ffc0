"""Compute KPIs: the periods, `as_of`, one Ibis expression per KPI run by the source, and
typed result rows (kpis.md, "Every result row carries"; interfaces.md, `kpi` JSON).

Conventions where the specification leaves a choice:
- `period_start` / `period_end` are ISO-8601 local times with the company's UTC offset
  (`2024-01-01T00:00:00+01:00`): unambiguous instants that still read as local dates.
- `as_of` defaults to the latest timestamp found in the data (every timestamp column of
  every table). A period is *observed* when it overlaps the data: it ends after the
  earliest timestamp and starts at or before `as_of`. An unobserved period (before the
  data begins, or after `as_of`) is empty: every value is null and `complete` is false.
  In an observed period, a count or sum without any row is 0 (nothing happened), a ratio
  with a zero denominator is null, a median of nothing is null.
- `complete` = observed and P.end + the KPI's window (W, R or D; 0 for most) <= as_of.
- An explicit `as_of` earlier than the data shows the data as known at `as_of` (rows
  created later are left out, later closes and ends are undone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import sqlglot

from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source, collector_paused, exact_spark_epochs, sql_text
from pilotage.engine.batches import RememberedBatches, batch_key
from pilotage.engine.catalogue import CATALOGUE, Kpi, get_kpi
from pilotage.engine.context import (
    BY_KEYS,
    BY_VALUE,
    DIMENSIONS,
    RESULT_COLUMNS,
    Dimension,
    KpiContext,
    KpiError,
    balanced_union,
)
from pilotage.engine.kpis.funnel import stage_steps
from pilotage.engine.periods import (
    GRAINS,
    Grain,
    Period,
    local_date,
    parse_date,
    parse_instant,
    periods_between,
    to_local,
)
from pilotage.engine.span import data_span

STEP_COLUMNS = {"from": "stage_from", "to": "stage_to"}


@dataclass(frozen=True)
class KpiRow:
    kpi: str
    period: str
    period_start: str
    period_end: str
    by: dict[str, str | None] | None
    value: float | None
    numerator: float | None
    denominator: float | None
    complete: bool


@dataclass(frozen=True)
class KpiResult:
    as_of: datetime  # aware, in the company time zone
    grain: Grain
    settings: Settings
    rows: tuple[KpiRow, ...]
    # KPIs left out because they have no such breakdown (when all KPIs were asked).
    skipped: tuple[str, ...] = ()
    # What the source lacks for some KPIs (their values are null), e.g. a score history.
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The `kpi` JSON document of interfaces.md."""
        return {
            "as_of": self.as_of.isoformat(),
            "grain": self.grain,
            "settings": self.settings.to_dict(),
            "rows": [_json_row(row) for row in self.rows],
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per result row; `by` stays a dict, and each of its keys also gets a
        column (`channel`, `from`, `to`, ...)."""
        frame = pd.DataFrame(
            [asdict(row) for row in self.rows],
            columns=[
                "kpi",
                "period",
                "period_start",
                "period_end",
                "by",
                "value",
                "numerator",
                "denominator",
                "complete",
            ],
        )
        by_keys: list[str] = []
        for row in self.rows:
            for key in row.by or {}:
                if key not in by_keys:
                    by_keys.append(key)
        for key in by_keys:
            frame[key] = [(row.by or {}).get(key) for row in self.rows]
        for column in ("value", "numerator", "denominator"):
            frame[column] = frame[column].astype("float64")
        return frame


def _json_number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _json_row(row: KpiRow) -> dict[str, Any]:
    document = asdict(row)
    for name in ("value", "numerator", "denominator"):
        document[name] = _json_number(document[name])
    return document


def _as_naive_utc(value: datetime | str, settings: Settings) -> datetime:
    if isinstance(value, str):
        return parse_instant(value, settings)
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.zone)
    return value.astimezone(UTC).replace(tzinfo=None)


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(value)


@dataclass(frozen=True)
class Plan:
    """What a computation covers: the context and the span of the data."""

    context: KpiContext
    grain: Grain
    data_start: datetime | None


def plan(
    source: Source,
    grain: Grain = "quarter",
    start: date | str | None = None,
    end: date | str | None = None,
    as_of: datetime | str | None = None,
    *,
    materialize: bool = False,
) -> Plan:
    """The periods and `as_of` of a computation (one small query for the data's span)."""
    if grain not in GRAINS:
        raise KpiError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")
    settings = source.settings
    first, last = data_span(source)
    explicit = as_of is not None
    if as_of is not None:
        as_of_utc = _as_naive_utc(as_of, settings)
    elif last is not None:
        as_of_utc = last
    else:
        as_of_utc = datetime.now(UTC).replace(tzinfo=None)
    end_day = _as_date(end) if end is not None else local_date(as_of_utc, settings.timezone)
    if start is not None:
        start_day = _as_date(start)
    elif first is not None:
        start_day = min(local_date(first, settings.timezone), end_day)
    else:
        start_day = end_day
    if end_day < start_day:
        raise KpiError(f"--to {end_day} is before --from {start_day}")
    periods = periods_between(start_day, end_day, grain, settings)
    if not _within_calendar(periods, settings):
        raise KpiError(
            f"{start_day} .. {end_day}: the periods, or the windows the KPIs read around "
            "them, fall outside the years 1 to 9999: choose --from, --to and --as-of "
            "within them"
        )
    cut = explicit and last is not None and as_of_utc < last
    context = KpiContext(
        source, tuple(periods), as_of_utc, cut_at_as_of=cut, materialize=materialize
    )
    return Plan(context, grain, first)


# The calendar's edges as the engine's instants (naive UTC).
_EARLIEST = datetime.min  # noqa: DTZ901
_LATEST = datetime.max  # noqa: DTZ901


def _within_calendar(periods: Sequence[Period], settings: Settings) -> bool:
    """Whether the periods' UTC bounds, and the windows the KPIs read before and after
    them (D, W, R, the attribution look-back), are instants Python can hold: not for a
    day near year 1 or 9999 (`--as-of 0001-01-01`), which would otherwise end in an
    OverflowError while the queries are built."""
    reach = timedelta(
        days=max(
            settings.inactivity_days,
            settings.conversion_window_days,
            settings.revenue_window_days,
            settings.attribution_lookback_days,
        )
    )
    try:
        first, last = periods[0].start_utc, periods[-1].end_utc
    except OverflowError:
        return False
    return first - _EARLIEST >= reach and _LATEST - last >= reach


def select_kpis(names: Iterable[str] | None, by: Dimension | None) -> tuple[list[Kpi], list[str]]:
    """The KPIs to compute and the messages about those left out. Named KPIs must support
    the breakdown; with all KPIs, those that do not are left out with a message."""
    if by is not None and by not in DIMENSIONS:
        raise KpiError(f"unknown breakdown {by!r}; use one of {', '.join(DIMENSIONS)}")
    if names is not None:
        chosen = [get_kpi(name) for name in names]
        for kpi in chosen:
            kpi.check_breakdown(by)
        return chosen, []
    chosen = [kpi for kpi in CATALOGUE if by is None or by in kpi.breakdowns]
    skipped = [
        f"{kpi.name}: no breakdown by {by}"
        for kpi in CATALOGUE
        if by is not None and by not in kpi.breakdowns
    ]
    return chosen, skipped


def compute_kpis(
    source: Source,
    grain: Grain = "quarter",
    start: date | str | None = None,
    end: date | str | None = None,
    by: Dimension | None = None,
    kpis: Sequence[str] | None = None,
    as_of: datetime | str | None = None,
) -> KpiResult:
    """Every KPI asked (default: the whole catalogue) for every period of `grain` from the
    one containing `start` to the one containing `end` (local dates; default: the span of
    the data up to `as_of`), optionally broken down `by` channel, campaign or owner."""
    chosen, skipped = select_kpis(kpis, by)
    together = source.engine in ONE_QUERY_ENGINES
    computation = plan(source, grain, start, end, as_of, materialize=not together)
    context = computation.context
    rows: list[KpiRow] = []
    try:
        frames = execute_kpis(source, chosen, context, by)
        for kpi in chosen:
            rows.extend(result_rows(kpi, frames[kpi.name], computation, by))
    finally:
        context.release()
    return KpiResult(
        as_of=to_local(context.as_of, context.settings.timezone),
        grain=grain,
        settings=context.settings,
        rows=tuple(rows),
        skipped=tuple(skipped),
        notes=tuple(dict.fromkeys(n for kpi in chosen if kpi.note and (n := kpi.note(source)))),
    )


# Engines on which the KPIs of a run are computed by one query: the union of every KPI's
# table, tagged with its name. The parts they share (the conversions, the cohort, the
# opening bases) are then common table expressions of that query, which DuckDB, SQLite
# (3.35+) and PostgreSQL (12+) compute once when several KPIs read them; and the query is
# compiled, planned and sent once instead of once per KPI and per shared part (on a
# dashboard-sized database, that compilation was most of the time). Spark inlines common
# table expressions (each KPI would recompute them): there each KPI is a query of its
# own, over shared parts kept as temporary tables.
ONE_QUERY_ENGINES = ("duckdb", "sqlite", "postgres")
KPI_COLUMN = "kpi"


def execute_kpis(
    source: Source, chosen: Sequence[Kpi], context: KpiContext, by: Dimension | None
) -> dict[str, pd.DataFrame]:
    """Each chosen KPI's executed table (as `Kpi.expression` gives it; `result_rows` turns
    it into rows), by KPI name: one query for them all on `ONE_QUERY_ENGINES` (give it a
    context without `materialize`), else one query per KPI."""
    if source.engine not in ONE_QUERY_ENGINES:
        return {kpi.name: source.execute(kpi.expression(context, by)) for kpi in chosen}
    if not chosen:
        return {}
    key = batch_key(source, chosen, context, by)
    known = _batches.get(key) if key is not None else None
    if known is None:
        with collector_paused:
            query = balanced_union([_stackable(kpi, context, by) for kpi in chosen])
        if query.op().find(ops.InMemoryTable):
            # A frame computed in pandas from the data (expected wins, predicted CLV): the
            # query holds data, so it is run as it is and never kept.
            frame = source.execute(query)
            return _split(frame, chosen)
        schema = {name: str(dtype) for name, dtype in query.schema().items()}
        known = (source.compile(query), schema)
        if key is not None:
            _batches.put(key, known)
    sql, schema = known
    return _split(source.fetch_sql(sql, schema), chosen)


def _stackable(kpi: Kpi, context: KpiContext, by: Dimension | None) -> ir.Table:
    """The KPI's table with the columns every KPI table of a batch has, in order."""
    table = kpi.expression(context, by)
    columns: dict[str, ir.Value] = {KPI_COLUMN: ibis.literal(kpi.name), "period": table.period}
    if by is not None:
        columns[BY_VALUE] = table[BY_VALUE].cast("string")
    # Every KPI table gets the funnel-step columns (null where it has none), so that they
    # stack.
    for column in STEP_COLUMNS.values():
        columns[column] = (
            table[column].cast("string") if column in table.columns else ibis.null("string")
        )
    for column in RESULT_COLUMNS:
        columns[column] = table[column].cast("float64")
    return table.select(**columns)


def _split(frame: pd.DataFrame, chosen: Sequence[Kpi]) -> dict[str, pd.DataFrame]:
    frames = {name: part for name, part in frame.groupby(KPI_COLUMN, sort=False)}
    empty = frame.iloc[0:0]
    return {kpi.name: frames.get(kpi.name, empty) for kpi in chosen}


_batches = RememberedBatches(kept=256)


def result_rows(
    kpi: Kpi, frame: pd.DataFrame, computation: Plan, by: Dimension | None
) -> list[KpiRow]:
    """The executed KPI table as result rows: every period x every breakdown value seen
    (and every funnel step), empty ones filled as the KPI's `fill` says."""
    context = computation.context
    settings = context.settings
    key_columns: list[str] = [BY_VALUE] if by is not None else []
    key_columns += [STEP_COLUMNS[key] for key in kpi.step_keys]
    groups = _groups(kpi, frame, key_columns, settings)
    values: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}
    # The executed frame is small (periods x breakdown values): this indexes the result,
    # it does not compute over data rows.
    # Column by column (`to_dict("records")` on the 35 frames of a catalogue run took a
    # tenth of a second).
    read = ["period", *key_columns, "value", "numerator", "denominator"]
    for fields in zip(*(frame[column].tolist() for column in read), strict=True):
        key = (fields[0], *(_key(part) for part in fields[1:-3]))
        values[key] = (fields[-3], fields[-2], fields[-1])
    window = timedelta(days=kpi.window_days(settings))
    rows = []
    for group in groups:
        for period in context.periods:
            observed = _observed(period, computation)
            found = values.get((period.label, *group))
            value, numerator, denominator = _filled(kpi, found, observed)
            rows.append(
                KpiRow(
                    kpi=kpi.name,
                    period=period.label,
                    period_start=period.start_local.isoformat(),
                    period_end=period.end_local.isoformat(),
                    by=_by(kpi, by, group),
                    value=value,
                    numerator=numerator,
                    denominator=denominator,
                    complete=observed and period.end_utc + window <= context.as_of,
                )
            )
    return rows


_NULL_KEY = "\x00null"  # a null breakdown value (a contact without campaign) as a dict key


def _key(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return _NULL_KEY
    return str(value)


def _groups(
    kpi: Kpi, frame: pd.DataFrame, key_columns: list[str], settings: Settings
) -> list[tuple[Any, ...]]:
    by_values: list[Any] = []
    if key_columns and key_columns[0] == BY_VALUE:
        seen = {_key(v) for v in frame[BY_VALUE]} if len(frame) else set()
        by_values = sorted(seen - {_NULL_KEY}) + ([_NULL_KEY] if _NULL_KEY in seen else [])
    steps: list[tuple[Any, ...]] = [()]
    if kpi.step_keys:
        stages = settings.journey_stages
        steps = [(stages[a], stages[b]) for a, b in stage_steps(stages)]
    if key_columns and key_columns[0] == BY_VALUE:
        return [(value, *step) for value in by_values for step in steps]
    return steps


def _observed(period: Period, computation: Plan) -> bool:
    if computation.data_start is None:
        return False
    return period.end_utc > computation.data_start and period.start_utc <= computation.context.as_of


def _number(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _filled(
    kpi: Kpi, found: tuple[Any, Any, Any] | None, observed: bool
) -> tuple[float | None, float | None, float | None]:
    if not observed:
        return None, None, None
    if found is not None:
        return _number(found[0]), _number(found[1]), _number(found[2])
    if kpi.fill == "additive":
        return 0.0, None, None
    if kpi.fill == "ratio":
        return None, 0.0, 0.0
    return None, None, None


def _by(kpi: Kpi, by: Dimension | None, group: tuple[Any, ...]) -> dict[str, str | None] | None:
    if by is None and not kpi.step_keys:
        return None
    result: dict[str, str | None] = {}
    values = list(group)
    if by is not None:
        value = values.pop(0)
        result[BY_KEYS[by]] = None if value == _NULL_KEY else value
    for key, value in zip(kpi.step_keys, values, strict=True):
        result[key] = value
    return result


def kpi_sql(
    source: Source,
    name: str,
    dialect: str,
    grain: Grain = "quarter",
    start: date | str | None = None,
    end: date | str | None = None,
    by: Dimension | None = None,
    as_of: datetime | str | None = None,
) -> str:
    """The SQL of one KPI in `dialect` (duckdb, sqlite, postgres, spark/pyspark...)."""
    kpi = get_kpi(name)
    if kpi.computed_in_python:
        # Its SQL would name a table that exists only in the process that computed it
        # (and printing it would first fit the models).
        raise KpiError(
            f"{name} has no SQL that runs on its own: {kpi.computed_in_python} is computed "
            "in Python, then joined to its SQL as a table of the run; its definition: "
            "pilotage kpi --list"
        )
    computation = plan(source, grain, start, end, as_of)
    expression = kpi.expression(computation.context, by)
    if dialect in ("spark", "pyspark"):
        # Ibis' Spark compiler needs a live Spark session for some literals; printing the
        # SQL should not start one: the DuckDB SQL is translated by sqlglot (the library
        # Ibis compiles with) into Spark SQL.
        duckdb_sql = str(ibis.to_sql(expression, dialect="duckdb"))
        trees = sqlglot.parse(duckdb_sql, read="duckdb")
        return ";\n".join(
            exact_spark_epochs(tree).sql(dialect="spark", pretty=True) for tree in trees if tree
        )
    return sql_text(expression, dialect)
