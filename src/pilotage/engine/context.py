"""What a KPI expression is built from: the source, the periods, `as_of`, the breakdown.

Every KPI builder takes a `KpiContext` and a breakdown (`None`, "channel", "campaign" or
"owner") and returns an Ibis table with one row per period (and breakdown value) and the
columns of `RESULT_COLUMNS`. The helpers here keep the shape of those tables identical
across KPIs: `keys`, `additive`, `with_ratio`, `exact_median`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal

import ibis
import ibis.expr.types as ir

from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.conversions import conversions
from pilotage.engine.periods import (
    CASE_PERIODS,
    Period,
    label_periods,
    local_date,
    periods_table,
)

Dimension = Literal["channel", "campaign", "owner"]
DIMENSIONS: tuple[Dimension, ...] = ("channel", "campaign", "owner")

# The key of `by` in result rows: the contract's column name for the dimension.
BY_KEYS: dict[Dimension, str] = {
    "channel": "channel",
    "campaign": "campaign_id",
    "owner": "owner_id",
}

# The breakdown value column and the measure columns every KPI table ends with.
BY_VALUE = "by_value"
RESULT_COLUMNS = ("value", "numerator", "denominator")

FLOAT = "float64"


class KpiError(ValueError):
    """A KPI cannot be computed as asked (unknown name, unsupported breakdown); the
    message says what to do instead."""


@dataclass(frozen=True)
class KpiContext:
    """The inputs of every KPI expression.

    `as_of` is a naive UTC instant. With `cut_at_as_of`, tables show the data as it was
    known at `as_of`: rows created later are left out, deals closed later are still open,
    subscriptions ended later are still running (used when `as_of` is given and earlier
    than the data; by default `as_of` is the latest timestamp and nothing is cut).
    """

    source: Source
    periods: tuple[Period, ...]
    as_of: datetime
    cut_at_as_of: bool = False
    # Intermediate tables that several KPIs share (the conversions, the cohort, the
    # opening bases) are built once per context (`shared`). With `materialize`, they are
    # also computed once in the engine and kept as temporary tables (Ibis `cache`;
    # `release` drops them): for engines that run each KPI as a query of its own (Spark).
    # Without it, every KPI gets the same expression object, which a query holding several
    # KPIs (`compute.compute_kpis`) computes once, as a common table expression.
    materialize: bool = False
    _shared: dict[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)
    _tables: dict[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)
    _reused: dict[str, ir.Table] = field(default_factory=dict, compare=False, repr=False)

    def shared(self, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """`build()`, built once per context (and computed once when `materialize`)."""
        if name not in self._shared:
            table = build()
            if self.materialize:
                if self.source.engine == "sqlite":
                    # Ibis fills its temporary table from the expression's nested SQL, not
                    # from the flat CTEs this backend compiles queries to (backends,
                    # `_flatten_subqueries`); SQLite plans the deep ones (attribution
                    # credits) ten times slower nested. Cache the flat form.
                    backend = self.source.backend
                    table = backend.sql(backend.compile(table), schema=table.schema())
                table = table.cache()
            self._shared[name] = table
        return self._shared[name]

    def reuse(self, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """`build()`, built once per context and never materialized: a part several KPIs
        start from (building Ibis expressions costs Python time on every run)."""
        if name not in self._reused:
            self._reused[name] = build()
        return self._reused[name]

    def release(self) -> None:
        """Drop the temporary tables of `shared` (with `materialize`)."""
        if self.materialize:
            for table in self._shared.values():
                table.release()
        self._shared.clear()

    def conversions(self) -> ir.Table:
        """`contact_id`, `converted_at` of every customer (see `conversions`)."""
        return self.shared("conversions", lambda: conversions(self))

    @property
    def settings(self) -> Settings:
        return self.source.settings

    def table(self, name: str) -> ir.Table:
        """The contract table `name`, as known at `as_of` (one expression per context:
        building the typed projection costs more Python time than a small query)."""
        if name not in self._tables:
            self._tables[name] = self._table(name)
        return self._tables[name]

    def _table(self, name: str) -> ir.Table:
        table = self.source.table(name)
        if not self.cut_at_as_of:
            return table
        as_of = ibis.literal(self.as_of, type="timestamp")
        if name == "contacts":
            return table.filter(table.created_at <= as_of)
        if name == "orders":
            return table.filter(table.ordered_at <= as_of)
        if name == "stage_changes":
            return table.filter(table.changed_at <= as_of)
        if name == "interactions":
            return table.filter(table.occurred_at <= as_of)
        if name == "spend":
            today = local_date(self.as_of, self.settings.timezone)
            return table.filter(table.spent_on <= ibis.literal(today, type="date"))
        if name == "deals":
            known = table.filter(table.created_at <= as_of)
            later = known.closed_at > as_of
            return known.mutate(
                status=ibis.ifelse(later, ibis.literal("open"), known.status),
                closed_at=ibis.ifelse(later, ibis.null("timestamp"), known.closed_at),
            )
        if name == "subscriptions":
            known = table.filter(table.started_at <= as_of)
            return known.mutate(
                ended_at=ibis.ifelse(known.ended_at > as_of, ibis.null("timestamp"), known.ended_at)
            )
        return table

    @cached_property
    def periods_table(self) -> ir.Table:
        return periods_table(list(self.periods), inactivity_days=self.settings.inactivity_days)

    def bucket(self, table: ir.Table, instant_column: str) -> ir.Table:
        """Rows of `table` whose instant falls in a period, with `period` attached (a CASE
        over the bounds for few periods, else a range join; the bounds are dropped)."""
        if len(self.periods) <= CASE_PERIODS:
            return label_periods(table, instant_column, self.periods)
        bounds = self.periods_table
        instant = table[instant_column]
        joined = table.inner_join(
            bounds, [instant >= bounds.period_start, instant < bounds.period_end]
        )
        # One projection of the join (a `drop` would add a level of subquery).
        return joined.select(table, bounds.period)

    def bucket_date(self, table: ir.Table, date_column: str) -> ir.Table:
        """Rows of `table` whose local date falls in a period (dates such as `spent_on`)."""
        if len(self.periods) <= CASE_PERIODS:
            return label_periods(table, date_column, self.periods, dates=True)
        bounds = self.periods_table
        day = table[date_column]
        joined = table.inner_join(bounds, [day >= bounds.start_date, day < bounds.end_date])
        return joined.select(table, bounds.period)

    def contacts(self, by: Dimension | None) -> ir.Table:
        """Contacts with `by_value` (their acquisition channel, campaign or owner)."""
        contacts = self.table("contacts")
        if by is None:
            return contacts
        return contacts.mutate(**{BY_VALUE: contacts[BY_KEYS[by]]})

    def contact_dimension(self, by: Dimension) -> ir.Table:
        """`contact_id`, `by_value`: to classify any per-contact table by a dimension."""

        def build() -> ir.Table:
            contacts = self.table("contacts")
            return contacts.select("contact_id", **{BY_VALUE: contacts[BY_KEYS[by]]})

        return self.reuse(f"contact_dimension:{by}", build)

    def with_contact_dimension(self, table: ir.Table, by: Dimension | None) -> ir.Table:
        """`table` (with a `contact_id`) and the contact's `by_value` when `by` is set."""
        if by is None:
            return table
        dimension = self.contact_dimension(by)
        return table.left_join(dimension, "contact_id").select(table, dimension[BY_VALUE])


def keys(by: Dimension | None) -> list[str]:
    """The grouping keys of a KPI table."""
    return ["period", BY_VALUE] if by is not None else ["period"]


def null_float() -> ir.FloatingValue:
    return ibis.null(FLOAT)


def as_float(value: ir.Value) -> ir.FloatingValue:
    return value.cast(FLOAT)


def count_if(condition: ir.BooleanValue) -> ir.IntegerValue:
    """How many rows satisfy `condition` (null counts as false)."""
    return ibis.ifelse(condition.fill_null(False), 1, 0).sum()


def additive(table: ir.Table, by: Dimension | None, measure: ir.Value) -> ir.Table:
    """A count or a sum per period: `value`, with no numerator nor denominator."""
    grouped = table.group_by(keys(by)).aggregate(value=as_float(measure))
    return grouped.mutate(
        value=grouped.value.fill_null(0.0), numerator=null_float(), denominator=null_float()
    )


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator, null (never 0, never an error) when the denominator is 0
    or null."""
    return ibis.ifelse(
        denominator.fill_null(0) == 0, null_float(), as_float(numerator) / as_float(denominator)
    )


def with_ratio(table: ir.Table) -> ir.Table:
    """`table` with `numerator` and `denominator` columns gets `value` = their ratio."""
    numerator = as_float(table.numerator)
    denominator = as_float(table.denominator)
    return table.mutate(
        numerator=numerator, denominator=denominator, value=ratio(numerator, denominator)
    )


def ratio_result(
    table: ir.Table,
    by: Dimension | None,
    numerator: ir.NumericValue,
    denominator: ir.NumericValue,
) -> ir.Table:
    """The KPI table of a ratio computed from columns of `table`, in one projection (each
    extra level of subquery counts: SQLite refuses SQL nested too deeply)."""
    return table.select(
        *keys(by),
        value=ratio(numerator, denominator),
        numerator=as_float(numerator),
        denominator=as_float(denominator),
    )


def finish(table: ir.Table, by: Dimension | None, *extra_keys: str) -> ir.Table:
    """The KPI table with its columns in the standard order."""
    return table.select(*keys(by), *extra_keys, *RESULT_COLUMNS)


def exact_median(table: ir.Table, group: list[str], value_column: str) -> ir.Table:
    """The median of `value_column` per `group`, the same on every engine: the middle value,
    or the mean of the two middle values for an even count (DuckDB's `median` interpolates
    like this but SQLite has no median and others approximate, so it is built from a
    window: rank the values in each group and keep the one or two in the middle).

    Returns `group` + `value`; groups without a non-null value are absent.
    """
    values = table.filter(table[value_column].notnull())
    column = values[value_column]
    ranked = values.mutate(
        _rank=ibis.row_number().over(group_by=group, order_by=column),
        _count=column.count().over(group_by=group),
    )
    # 0-based ranks: n odd keeps rank (n-1)/2, n even keeps n/2 - 1 and n/2, i.e. every
    # rank r with n - 2 <= 2r <= n.
    middle = ranked.filter(
        (ranked._rank * 2 >= ranked._count - 2) & (ranked._rank * 2 <= ranked._count)
    )
    return middle.group_by(group).aggregate(value=as_float(middle[value_column].mean()))


def stack(tables: list[ir.Table], group: list[str], measures: list[str]) -> ir.Table:
    """Several per-period tables, each with some of `measures`, combined into one row per
    `group` (a union of the parts, each missing measure null, then summed: a portable
    full outer join; a measure no part gives stays null)."""
    parts = []
    for table in tables:
        columns: dict[str, ir.Value] = {name: table[name] for name in group}
        for measure in measures:
            columns[measure] = (
                as_float(table[measure]) if measure in table.columns else null_float()
            )
        parts.append(table.select(**columns))
    union = balanced_union(parts)
    return union.group_by(group).aggregate(**{m: union[m].sum() for m in measures})


def balanced_union(tables: list[ir.Table]) -> ir.Table:
    """UNION ALL of `tables` as a balanced tree (shallower SQL than a chain)."""
    if len(tables) == 1:
        return tables[0]
    middle = len(tables) // 2
    return balanced_union(tables[:middle]).union(balanced_union(tables[middle:]))
