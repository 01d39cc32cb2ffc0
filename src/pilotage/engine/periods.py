"""Reporting periods, cut in the company time zone and handed to engines as UTC instants.

A period is half-open, [start, end), at grain day, week, month, quarter or year, in the
company time zone (setting `timezone`): a quarter in Europe/Paris starts at local midnight,
which is 23:00 or 22:00 UTC the day before. Engines do not agree on time zone support
(SQLite has none), so the boundaries are computed here with `zoneinfo` and an engine only
compares naive UTC timestamps with them: the same expression is exact on every backend,
across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from pilotage.contract.settings import WEEK_STARTS, Settings

Grain = Literal["day", "week", "month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """One reporting period; `start`/`end` are local dates, the end excluded."""

    grain: Grain
    label: str
    start: date
    end: date
    timezone: str

    @property
    def start_utc(self) -> datetime:
        """The first instant of the period, as a naive UTC datetime (the engines' type)."""
        return local_midnight_utc(self.start, self.timezone)

    @property
    def end_utc(self) -> datetime:
        return local_midnight_utc(self.end, self.timezone)

    @property
    def start_local(self) -> datetime:
        """Local midnight at the start, aware (ISO: `2024-01-01T00:00:00+01:00`)."""
        return datetime.combine(self.start, time(0, 0), tzinfo=ZoneInfo(self.timezone))

    @property
    def end_local(self) -> datetime:
        return datetime.combine(self.end, time(0, 0), tzinfo=ZoneInfo(self.timezone))

    @property
    def months(self) -> float:
        """Length in months (for monthly rates such as CAC payback): exact for month
        and longer grains, days / (365.25 / 12) for days and weeks."""
        if self.grain in ("month", "quarter", "year"):
            return float(
                (self.end.year - self.start.year) * 12 + (self.end.month - self.start.month)
            )
        return (self.end - self.start).days / (365.25 / 12)


def local_midnight_utc(day: date, timezone: str) -> datetime:
    """The UTC instant (naive) of local midnight at the start of `day`."""
    local = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def to_local(instant_utc: datetime, timezone: str) -> datetime:
    """A naive UTC datetime seen in the company time zone (aware)."""
    return instant_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))


def local_date(instant_utc: datetime, timezone: str) -> date:
    """The company-local calendar date of a naive UTC instant."""
    return to_local(instant_utc, timezone).date()


def parse_instant(text: str, settings: Settings) -> datetime:
    """An ISO-8601 date or timestamp given by a user (`--as-of`), as a naive UTC instant:
    a value without offset is in the company time zone, a date alone is local midnight."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO-8601 date or timestamp (e.g. 2024-03-31 or "
            "2024-03-31T18:00:00+02:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=settings.zone)
    try:
        return parsed.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range (years 1 to 9999, in UTC)") from None


def parse_date(text: str) -> date:
    """A `YYYY-MM-DD` date given by a user (`--from`, `--to`)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def period_containing(day: date, grain: Grain, settings: Settings) -> Period:
    """The period of `grain` that contains the local date `day`."""
    tz = settings.timezone
    if grain == "day":
        return Period(grain, day.isoformat(), day, day + timedelta(days=1), tz)
    if grain == "week":
        first_weekday = WEEK_STARTS.index(settings.week_start)
        start = day - timedelta(days=(day.weekday() - first_weekday) % 7)
        end = start + timedelta(days=7)
        if settings.week_start == "monday":
            year, week, _ = start.isocalendar()
            label = f"{year}-W{week:02d}"
        else:
            label = f"week of {start.isoformat()}"
        return Period(grain, label, start, end, tz)
    if grain == "month":
        start = day.replace(day=1)
        return Period(grain, f"{start:%Y-%m}", start, _add_months(start, 1), tz)
    if grain == "quarter":
        quarter = (day.month - 1) // 3
        start = date(day.year, quarter * 3 + 1, 1)
        return Period(grain, f"{day.year}-Q{quarter + 1}", start, _add_months(start, 3), tz)
    if grain == "year":
        start = date(day.year, 1, 1)
        return Period(grain, str(day.year), start, date(day.year + 1, 1, 1), tz)
    raise ValueError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")


def periods_between(first: date, last: date, grain: Grain, settings: Settings) -> list[Period]:
    """Every period of `grain` from the one containing `first` to the one containing `last`."""
    if last < first:
        raise ValueError(f"the end {last} is before the start {first}")
    periods = [period_containing(first, grain, settings)]
    while periods[-1].end <= last:
        periods.append(period_containing(periods[-1].end, grain, settings))
    return periods


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods_table(periods: list[Period], *, inactivity_days: float | None = None) -> ir.Table:
    """The periods as a small relation to join on: `period` (label), `period_start` and
    `period_end` (naive UTC instants), `start_date` and `end_date` (local dates, for
    date columns such as `spend.spent_on`), `months` (the period's length in months) and,
    given `inactivity_days` D, `start_minus_inactivity` = start - D and
    `end_minus_inactivity` = end - D (exact days of 86,400 s).

    The rows are SQL literals (`SELECT ... UNION ALL SELECT ...`), not an uploaded
    in-memory table: the SQL of any expression that joins them is self-contained (what
    `pilotage kpi --show-sql` prints runs as is), and SQLite compares them with its
    datetime text in the same format (an uploaded pandas table would be stored as
    `2024-01-01T00:00:00`, which sorts after `2024-01-01 00:00:00`: wrong at boundaries).
    """
    if not periods:
        raise ValueError("no period to report on")
    rows = [_period_row(period, inactivity_days) for period in periods]
    return _balanced_union(rows)


def _period_row(period: Period, inactivity_days: float | None) -> ir.Table:
    values: dict[str, ir.Value] = {
        "period": ibis.literal(period.label, type="string"),
        "period_start": ibis.literal(period.start_utc, type="timestamp"),
        "period_end": ibis.literal(period.end_utc, type="timestamp"),
        "start_date": ibis.literal(period.start, type="date"),
        "end_date": ibis.literal(period.end, type="date"),
        "months": ibis.literal(period.months, type="float64"),
    }
    if inactivity_days is not None:
        shift = timedelta(days=inactivity_days)
        values["start_minus_inactivity"] = ibis.literal(period.start_utc - shift, type="timestamp")
        values["end_minus_inactivity"] = ibis.literal(period.end_utc - shift, type="timestamp")
    return ops.DummyTable({name: value.op() for name, value in values.items()}).to_expr()


def _balanced_union(tables: list[ir.Table]) -> ir.Table:
    # A balanced tree keeps the expression shallow for hundreds of daily periods (a chain
    # of 730 unions would exhaust Python's recursion limit when compiled).
    if len(tables) == 1:
        return tables[0]
    middle = len(tables) // 2
    return _balanced_union(tables[:middle]).union(_balanced_union(tables[middle:]))


def in_period(instant: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    """`instant` (naive UTC) falls in the half-open period."""
    return (instant >= ibis.literal(period.start_utc)) & (instant < ibis.literal(period.end_utc))


# Up to this many periods, a row finds its period with one CASE over the literal bounds:
# a single pass over the table, several times faster on DuckDB than the range join against
# the periods table (a sort-based merge join), and nothing to join on SQLite or PostgreSQL.
# Beyond it (daily periods over years) each row would test too many branches, and the
# range join is used.
CASE_PERIODS = 48


def period_label(
    value: ir.Value, periods: Sequence[Period], *, dates: bool = False
) -> ir.StringValue:
    """The label of the period `value` falls in (null outside every period): `value` is a
    naive UTC instant compared with the periods' UTC bounds, or with `dates` a local date
    compared with their local dates. The same half-open comparisons as the range join."""
    branches = []
    for period in periods:
        if dates:
            low = ibis.literal(period.start, type="date")
            high = ibis.literal(period.end, type="date")
        else:
            low = ibis.literal(period.start_utc, type="timestamp")
            high = ibis.literal(period.end_utc, type="timestamp")
        branches.append(((value >= low) & (value < high), ibis.literal(period.label)))
    return ibis.cases(*branches, else_=ibis.null("string"))


def contiguous(periods: Sequence[Period]) -> bool:
    """Each period starts where the one before ends (as `periods_between` cuts them)."""
    return all(before.end == after.start for before, after in pairwise(periods))


def _bound(period_day: date, periods: Sequence[Period], *, dates: bool) -> ir.Value:
    return _bound_literal(period_day, periods[0].timezone, dates)


@lru_cache(maxsize=1024)
def _bound_literal(period_day: date, timezone: str, dates: bool) -> ir.Value:
    """A period bound as a literal: the local date, or the UTC instant of its midnight
    (an immutable expression, made once)."""
    if dates:
        return ibis.literal(period_day, type="date")
    return ibis.literal(local_midnight_utc(period_day, timezone), type="timestamp")


def _label_search(value: ir.Value, periods: Sequence[Period], *, dates: bool) -> ir.StringValue:
    """The label of the contiguous period holding `value`, which is known to fall in one
    of them: a binary search over the bounds (log2(n) comparisons instead of up to 2n)."""
    if len(periods) == 1:
        return ibis.literal(periods[0].label, type="string")
    middle = len(periods) // 2
    return ibis.ifelse(
        value < _bound(periods[middle].start, periods, dates=dates),
        _label_search(value, periods[:middle], dates=dates),
        _label_search(value, periods[middle:], dates=dates),
    )


def label_periods(
    table: ir.Table, column: str, periods: Sequence[Period], *, dates: bool = False
) -> ir.Table:
    """Rows of `table` whose `column` falls in one of (few) `periods`, with the period's
    label as `period` (see `period_label`).

    Periods that follow each other (the usual case) are one range, [first start, last
    end): rows outside it are left out by two comparisons that engines push down to the
    table scan (DuckDB skips row groups by their min/max), and each row left finds its
    period by a binary search over the bounds: the same half-open comparisons as
    `period_label`, fewer of them."""
    if periods and contiguous(periods):
        value = table[column]
        inside = table.filter(
            (value >= _bound(periods[0].start, periods, dates=dates))
            & (value < _bound(periods[-1].end, periods, dates=dates))
        )
        return inside.mutate(period=_label_search(inside[column], periods, dates=dates))
    labelled = table.mutate(period=period_label(table[column], periods, dates=dates))
    return labelled.filter(labelled.period.notnull())


def bucket(table: ir.Table, instant_column: str, periods: list[Period]) -> ir.Table:
    """Rows of `table` whose `instant_column` falls in one of `periods`, with the period's
    label and bounds attached (a CASE over the bounds for few periods, else a range join
    against the small periods table; rows outside every period are left out)."""
    if len(periods) <= CASE_PERIODS:
        labelled = label_periods(table, instant_column, periods)
        label = labelled.period

        def bound(instants: dict[str, datetime]) -> ir.TimestampValue:
            return ibis.cases(
                *[
                    (label == name, ibis.literal(at, type="timestamp"))
                    for name, at in instants.items()
                ],
                else_=ibis.null("timestamp"),
            )

        return labelled.mutate(
            period_start=bound({p.label: p.start_utc for p in periods}),
            period_end=bound({p.label: p.end_utc for p in periods}),
        )
    bounds = periods_table(periods).select("period", "period_start", "period_end")
    instant = table[instant_column]
    return table.inner_join(
        bounds,
        [instant >= bounds.period_start, instant < bounds.period_end],
    )
