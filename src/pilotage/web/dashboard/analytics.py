"""The web app's door to the analytical core: the engine's source over the CRM database,
the company settings, periods, and cached KPI rows.

The engine queries the CRM database in place (`from_database_url`); each server thread
keeps its own connection (SQLite connections belong to the thread that opened them), and
a new one is opened when the data version changes (the settings may have changed).
Everything runs in the database, SQLite included: the engine compiles its queries with
CTEs, which SQLite parses however deep the computation (`backends._flatten_subqueries`).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from django.db import connections

from pilotage.contract.settings import Settings, SettingsError, settings_from_mapping
from pilotage.engine.backends import Source, from_database_url
from pilotage.engine.catalogue import KPIS, Kpi
from pilotage.engine.compute import (
    ONE_QUERY_ENGINES,
    KpiRow,
    Plan,
    execute_kpis,
    result_rows,
)
from pilotage.engine.context import Dimension, KpiContext
from pilotage.engine.periods import (
    GRAINS,
    Grain,
    Period,
    local_date,
    period_containing,
    periods_between,
)
from pilotage.engine.span import data_span
from pilotage.web.dashboard.cache import cached, cached_many
from pilotage.web.dashboard.models import CompanySetting

logger = logging.getLogger(__name__)
_local = threading.local()


def engine_database_url() -> str:
    """The URL of the database Django uses (the test database during tests)."""
    config = connections["default"].settings_dict
    name = str(config["NAME"])
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{name}"
    user = quote(str(config.get("USER") or ""), safe="")
    password = quote(str(config.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(config.get("HOST") or "localhost")
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgresql://{credentials}{host}{port}/{quote(name, safe='')}"


def engine_source() -> Source:
    """The engine's source over the CRM database, for this thread and the company's
    settings. It outlives writes: its queries read the data as it is when they run, and
    the SQL compiled for it is what the next computation after a write reuses."""
    url = engine_database_url()
    settings = company_settings()
    key = (url, json.dumps(settings.to_dict(), sort_keys=True, default=str))
    current = getattr(_local, "source", None)
    if current is None or current[0] != key:
        if current is not None:
            try:
                current[1].backend.disconnect()
            except Exception:  # noqa: BLE001 - an old connection that will not close is dropped
                logger.debug("could not close an engine connection", exc_info=True)
        _local.source = (key, from_database_url(url, settings))
    source: Source = _local.source[1]
    return source


def stored_settings() -> dict[str, Any]:
    """The settings saved on the settings page, as stored (JSON values)."""
    return {row.name: json.loads(row.value) for row in CompanySetting.objects.all()}


def company_settings() -> Settings:
    try:
        return settings_from_mapping(stored_settings(), origin="the CRM's settings")
    except (SettingsError, ValueError):
        logger.exception("the stored company settings are invalid; using the defaults")
        return Settings()


def data_bounds() -> tuple[datetime | None, datetime | None]:
    """The first and last timestamps of the data (naive UTC), cached."""
    return cached("span", (), lambda: data_span(engine_source()))


def as_of_utc() -> datetime:
    last = data_bounds()[1]
    return last if last is not None else datetime.now(UTC).replace(tzinfo=None)


def parse_grain(text: str | None, default: Grain = "month") -> Grain:
    for grain in GRAINS:
        if text == grain:
            return grain
    return default


def period_choices(grain: Grain, settings: Settings | None = None) -> list[Period]:
    """Every period of `grain` that the data covers, oldest first."""
    settings = settings or company_settings()
    first, _last = data_bounds()
    end_day = local_date(as_of_utc(), settings.timezone)
    start_day = local_date(first, settings.timezone) if first is not None else end_day
    return periods_between(min(start_day, end_day), end_day, grain, settings)


def resolve_period(grain: Grain, label: str | None, settings: Settings | None = None) -> Period:
    """The period named `label` at `grain`, else the latest one (the one containing as_of)."""
    choices = period_choices(grain, settings)
    for period in choices:
        if period.label == label:
            return period
    return choices[-1]


def trailing_periods(period: Period, count: int, settings: Settings) -> list[Period]:
    """`count` periods of the same grain ending with `period`."""
    periods = [period]
    while len(periods) < count:
        previous_day = date.fromordinal(periods[0].start.toordinal() - 1)
        periods.insert(0, period_containing(previous_day, period.grain, settings))
    return periods


@dataclass(frozen=True)
class KpiSeries:
    """A KPI's rows over a range of periods, or the reason it could not be computed."""

    kpi: Kpi
    rows: tuple[KpiRow, ...] = ()
    error: str | None = None
    by: Dimension | None = None

    def total_rows(self) -> list[KpiRow]:
        """The rows without breakdown or funnel step."""
        return [row for row in self.rows if not row.by]

    def rows_for(self, period_label: str) -> list[KpiRow]:
        return [row for row in self.rows if row.period == period_label]


def _plan(source: Source, grain: Grain, first: date, last: date, *, materialize: bool) -> Plan:
    """compute.plan without its query of the data's span (cached here)."""
    span_first, _span_last = data_bounds()
    periods = periods_between(first, last, grain, source.settings)
    context = KpiContext(source, tuple(periods), as_of_utc(), materialize=materialize)
    return Plan(context, grain, span_first)


def _compute(
    kpis: list[Kpi], grain: Grain, first: date, last: date, by: Dimension | None
) -> dict[str, KpiSeries]:
    """Several KPIs over the same periods, computed together as `compute_kpis` does
    (`execute_kpis`: one query on SQLite, PostgreSQL and DuckDB, whose shared parts, such
    as the conversions, are computed once), but with the data's span from the cache. If
    that fails, each KPI alone: one failing KPI must not take the others with it."""
    source = engine_source()
    try:
        computation = _plan(
            source, grain, first, last, materialize=source.engine not in ONE_QUERY_ENGINES
        )
        try:
            frames = execute_kpis(source, kpis, computation.context, by)
            return {
                kpi.name: KpiSeries(
                    kpi, tuple(result_rows(kpi, frames[kpi.name], computation, by)), None, by
                )
                for kpi in kpis
            }
        finally:
            computation.context.release()
    except Exception as error:  # noqa: BLE001 - a page shows the error, not a traceback
        if len(kpis) > 1:
            logger.warning(
                "KPIs %s failed together; computing them one by one", [k.name for k in kpis]
            )
            return {
                name: series
                for kpi in kpis
                for name, series in _compute([kpi], grain, first, last, by).items()
            }
        logger.exception("KPI %s failed on %s", kpis[0].name, source.engine)
        return {kpis[0].name: KpiSeries(kpis[0], (), f"{type(error).__name__}: {error}", by)}


def kpi_series(
    names: list[str],
    grain: Grain,
    first: date,
    last: date,
    by: Dimension | None = None,
) -> dict[str, KpiSeries]:
    """Each KPI's rows for the periods of `grain` from the one containing `first` to the one
    containing `last` (cached per data version and KPI; those missing are computed
    together)."""
    settings = company_settings().to_dict()
    wanted: dict[str, tuple[Any, ...]] = {}
    empty: dict[str, KpiSeries] = {}
    for name in names:
        kpi = KPIS.get(name)
        if kpi is None:
            continue
        if by is not None and by not in kpi.breakdowns:
            empty[name] = KpiSeries(kpi, (), None, by)
            continue
        wanted[name] = (name, grain, first.isoformat(), last.isoformat(), by, settings)
    found = cached_many(
        "kpi",
        wanted,
        lambda missing: _compute([KPIS[name] for name in missing], grain, first, last, by),
    )
    return {
        name: found[name] if name in found else empty[name]
        for name in names
        if name in found or name in empty
    }
