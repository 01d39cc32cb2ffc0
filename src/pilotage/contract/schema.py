"""The data contract, declared once (shared/spec/data-contract.md).

Every part of Pilotage that touches the contract tables reads this module: the folder
reader and validator, the Django models' agreement test, the synthetic generator, the KPI
engine and the generated documentation. Change the contract here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    """The contract's value types, as they appear in files."""

    ID = "id"  # non-empty string; numbers stay strings ("007")
    TIMESTAMP = "timestamp"  # ISO-8601; naive values are in the company time zone
    DATE = "date"  # YYYY-MM-DD
    MONEY = "money"  # decimal with a dot, no thousands separator
    ENUM = "enum"  # lowercase string; unknown values are kept
    TEXT = "text"
    INTEGER = "integer"


# Money is stored as a decimal with this many places; more digits are refused rather than
# rounded, because rounding would change the amount the user gave us.
MONEY_DECIMAL_PLACES = 4
MONEY_MAX_DIGITS = 19


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    description: str = ""
    # Foreign key: the referenced table (its key column has the same meaning).
    references: str | None = None
    # Values the contract lists for an enum. Others are accepted and kept, except for
    # `closed_values`, where the list is the whole domain (journey stages are configured).
    known_values: tuple[str, ...] = ()
    # Smallest allowed value for money and integers (None: no bound).
    minimum: float | None = None
    # The value an empty cell means (the contract's documented default), if any.
    default: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # The column whose value is unique per row, or, for tables without an id, the columns
    # whose values together identify a row (the upsert key on import).
    key: tuple[str, ...]
    mandatory: bool = False
    extra_rules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def has_single_id(self) -> bool:
        return len(self.key) == 1 and self.column(self.key[0]).type is ColumnType.ID


CHANNELS = (
    "web",
    "store",
    "phone",
    "email",
    "event",
    "referral",
    "partner",
    "social",
    "ads",
)
INTERACTION_TYPES = (
    "web_visit",
    "email_open",
    "email_click",
    "form_submit",
    "ad_click",
    "social_click",
    "call",
    "meeting",
    "demo",
    "store_visit",
    "quote_sent",
    "support_ticket",
    "event_attended",
)
DEAL_STATUSES = ("open", "won", "lost")
ORDER_STATUSES = ("paid", "refunded", "cancelled")
SPEND_CATEGORIES = ("media", "events", "tools", "salaries", "agency", "other")
DEFAULT_JOURNEY_STAGES = ("lead", "mql", "sql", "opportunity", "customer")

_ID = ColumnType.ID
_TS = ColumnType.TIMESTAMP
_DATE = ColumnType.DATE
_MONEY = ColumnType.MONEY
_ENUM = ColumnType.ENUM
_TEXT = ColumnType.TEXT
_INT = ColumnType.INTEGER

# Tables are listed parents first: a table only references tables listed before it, which
# is the order in which the validator checks references and the importer loads rows.
TABLES: tuple[Table, ...] = (
    Table(
        name="reps",
        description="The sales team.",
        key=("rep_id",),
        columns=(
            Column("rep_id", _ID, required=True, description="unique"),
            Column("name", _TEXT, required=True),
            Column("team", _TEXT, description="team or store name"),
        ),
    ),
    Table(
        name="campaigns",
        description="Marketing campaigns.",
        key=("campaign_id",),
        columns=(
            Column("campaign_id", _ID, required=True, description="unique"),
            Column("name", _TEXT, required=True),
            Column(
                "channel",
                _ENUM,
                required=True,
                description="channel the campaign runs in",
                known_values=CHANNELS,
            ),
            Column("started_on", _DATE),
            Column("ended_on", _DATE, description="on or after started_on"),
        ),
        extra_rules=("ended_on is not before started_on",),
    ),
    Table(
        name="contacts",
        description="Every prospect and every customer (one row per person or organisation).",
        key=("contact_id",),
        mandatory=True,
        columns=(
            Column("contact_id", _ID, required=True, description="unique"),
            Column(
                "created_at",
                _TS,
                required=True,
                description="when the contact entered the funnel (became a prospect)",
            ),
            Column(
                "channel",
                _ENUM,
                required=True,
                description="acquisition channel",
                known_values=CHANNELS,
            ),
            Column(
                "campaign_id",
                _ID,
                references="campaigns",
                description="campaign that sourced the contact",
            ),
            Column("owner_id", _ID, references="reps", description="sales rep in charge"),
            Column("name", _TEXT),
            Column("email", _TEXT),
            Column("phone", _TEXT),
            Column("company", _TEXT),
            Column("industry", _TEXT),
            Column("country", _TEXT),
            Column("city", _TEXT),
            Column("employees", _INT, minimum=0),
            Column("job_title", _TEXT),
        ),
    ),
    Table(
        name="stage_changes",
        description="The purchase journey of each contact (lifecycle stages).",
        key=("contact_id", "stage", "changed_at"),
        columns=(
            Column("contact_id", _ID, required=True, references="contacts"),
            Column(
                "stage",
                _ENUM,
                required=True,
                description="a stage of the configured journey (setting journey_stages)",
                known_values=DEFAULT_JOURNEY_STAGES,
            ),
            Column("changed_at", _TS, required=True, description="when the contact entered it"),
        ),
        extra_rules=("stage is one of the configured journey_stages",),
    ),
    Table(
        name="spend",
        description="What acquisition costs (marketing and sales expenses).",
        key=("spent_on", "channel", "campaign_id", "category"),
        columns=(
            Column("spent_on", _DATE, required=True, description="day the cost is booked on"),
            Column("amount", _MONEY, required=True, minimum=0),
            Column("channel", _ENUM, required=True, known_values=CHANNELS),
            Column(
                "campaign_id",
                _ID,
                references="campaigns",
                description="its channel must then match the campaign's",
            ),
            Column("category", _ENUM, known_values=SPEND_CATEGORIES),
        ),
        extra_rules=(
            "channel matches the campaign's channel",
            "one row per day, channel, campaign and category",
        ),
    ),
    Table(
        name="interactions",
        description="Every touch between the company and a contact.",
        key=("interaction_id",),
        columns=(
            Column("interaction_id", _ID, required=True, description="unique"),
            Column("contact_id", _ID, required=True, references="contacts"),
            Column("occurred_at", _TS, required=True),
            Column("type", _ENUM, required=True, known_values=INTERACTION_TYPES),
            Column("channel", _ENUM, known_values=CHANNELS),
            Column(
                "campaign_id",
                _ID,
                references="campaigns",
                description="set when the touch came from a campaign (a touchpoint)",
            ),
            Column("rep_id", _ID, references="reps", description="the rep who made the touch"),
        ),
    ),
    Table(
        name="deals",
        description="Sales opportunities worked by reps.",
        key=("deal_id",),
        columns=(
            Column("deal_id", _ID, required=True, description="unique"),
            Column("contact_id", _ID, required=True, references="contacts"),
            Column("rep_id", _ID, references="reps"),
            Column("created_at", _TS, required=True),
            Column("amount", _MONEY, minimum=0, description="expected or won value"),
            Column("status", _ENUM, required=True, known_values=DEAL_STATUSES),
            Column(
                "closed_at",
                _TS,
                description="required when won or lost, empty while open, not before created_at",
            ),
            Column("lost_reason", _TEXT),
        ),
        extra_rules=(
            "closed_at is set when status is won or lost, and empty when open",
            "closed_at is not before created_at",
        ),
    ),
    Table(
        name="orders",
        description="Purchases (the revenue).",
        key=("order_id",),
        columns=(
            Column("order_id", _ID, required=True, description="unique"),
            Column("contact_id", _ID, required=True, references="contacts"),
            Column("ordered_at", _TS, required=True),
            Column("amount", _MONEY, required=True, minimum=0, description="net revenue"),
            Column("channel", _ENUM, known_values=CHANNELS),
            Column(
                "status",
                _ENUM,
                known_values=ORDER_STATUSES,
                default="paid",
                description="paid (when empty), refunded or cancelled: only paid orders count",
            ),
            Column(
                "margin",
                _MONEY,
                description="gross margin; may be negative; empty means amount * gross_margin",
            ),
            Column("rep_id", _ID, references="reps"),
        ),
    ),
    Table(
        name="subscriptions",
        description="Contractual customers (optional).",
        key=("subscription_id",),
        columns=(
            Column("subscription_id", _ID, required=True, description="unique"),
            Column("contact_id", _ID, required=True, references="contacts"),
            Column("started_at", _TS, required=True),
            Column("ended_at", _TS, description="empty while active; not before started_at"),
            Column(
                "mrr", _MONEY, required=True, minimum=0, description="monthly recurring revenue"
            ),
            Column("plan", _TEXT),
        ),
        extra_rules=("ended_at is not before started_at",),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES_BY_NAME)


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"the contract has no table {name!r}") from None


# How each contract type is typed inside the analytical engine (Ibis dtype names). Every
# source (a contract folder read by DuckDB, the CRM database, Spark) presents the tables
# with these types: timestamps are naive and hold the UTC instant (the company time zone is
# applied when periods are cut), money is float64 (Decimal only at the edges).
ENGINE_DTYPES: dict[ColumnType, str] = {
    ColumnType.ID: "string",
    ColumnType.TIMESTAMP: "timestamp",
    ColumnType.DATE: "date",
    ColumnType.MONEY: "float64",
    ColumnType.ENUM: "string",
    ColumnType.TEXT: "string",
    ColumnType.INTEGER: "int64",
}


def engine_schema(table_name: str) -> dict[str, str]:
    """Column name -> Ibis dtype name of a contract table inside the engine."""
    return {column.name: ENGINE_DTYPES[column.type] for column in table(table_name).columns}
