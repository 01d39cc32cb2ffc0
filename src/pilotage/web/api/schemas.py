"""The API's request and response types, generated from the contract declaration
(`pilotage.contract.schema.TABLES`): one place declares the columns, their types and which
are required; this module only maps contract types to JSON types.

Types check the shape (a timestamp is a timestamp, money a decimal); the contract's rules
(lengths, minimums, references, row rules, duplicates) are checked by the contract
validator itself (`pilotage.web.api.validation`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from pilotage.contract.schema import TABLES, ColumnType, Table

MAX_BATCH_ROWS = 10_000
MAX_ATTRIBUTES = 100
SURROGATE_TABLES = ("stage_changes", "spend")  # no id in the contract: the database's `id`

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
AttributeValue = str | int | FiniteFloat | bool | None
Attributes = Annotated[dict[str, AttributeValue], Field(max_length=MAX_ATTRIBUTES)]

JSON_TYPES: dict[ColumnType, Any] = {
    ColumnType.ID: str,
    ColumnType.TIMESTAMP: dt.datetime,
    ColumnType.DATE: dt.date,
    ColumnType.MONEY: Annotated[Decimal, Field(allow_inf_nan=False)],
    ColumnType.ENUM: str,
    ColumnType.TEXT: str,
    ColumnType.INTEGER: int,
}


def check_text(value: str) -> str:
    """Text that a CSV file and every database can hold: no NUL character, valid UTF-8
    (JSON lets a client send a lone surrogate)."""
    if "\x00" in value:
        raise ValueError("text may not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return value


def _checked(value: Any) -> Any:
    if isinstance(value, str):
        return check_text(value)
    if isinstance(value, dict):
        return {check_text(str(k)): _checked(v) for k, v in value.items()}
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # An instant that cannot be expressed in UTC (year 1 with a positive offset ...)
        # cannot be stored.
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("timestamp out of range") from None
    return value


class StrictModel(BaseModel):
    """Unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _checked(value)


class ErrorOut(BaseModel):
    error: str
    message: str
    details: list[Any] = Field(default_factory=list)


def _column_fields(table: Table, *, all_optional: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column in table.columns:
        kind = JSON_TYPES[column.type]
        described = Field(description=column.description or None)
        if column.required and not all_optional:
            fields[column.name] = (kind, described)
        else:
            fields[column.name] = (kind | None, Field(None, description=column.description or None))
    return fields


def _title(table: Table) -> str:
    return "".join(part.capitalize() for part in table.name.split("_"))


class TableSchemas:
    """The types of one contract table."""

    def __init__(self, table: Table) -> None:
        title = _title(table)
        self.table = table
        columns = _column_fields(table, all_optional=False)
        optional = _column_fields(table, all_optional=True)
        self.create: type[StrictModel] = create_model(
            f"{title}In",
            __base__=StrictModel,
            attributes=(Attributes | None, None),
            **columns,
        )
        self.patch: type[StrictModel] = create_model(
            f"{title}Patch",
            __base__=StrictModel,
            attributes=(Attributes | None, None),
            **optional,
        )
        out_columns = dict(optional)
        if table.name in SURROGATE_TABLES:
            out_columns = {"id": (int, ...), **out_columns}
        self.out: type[BaseModel] = create_model(
            f"{title}Out",
            attributes=(dict[str, Any], Field(default_factory=dict)),
            **out_columns,
        )
        self.page: type[BaseModel] = create_model(
            f"{title}Page",
            items=(list[self.out], ...),  # type: ignore[name-defined]
            next=(str | None, None),
        )
        self.batch: type[StrictModel] = create_model(
            f"{title}Batch",
            __base__=StrictModel,
            rows=(
                list[self.create],  # type: ignore[name-defined]
                Field(min_length=1, max_length=MAX_BATCH_ROWS),
            ),
        )
        self.filter_names = table.column_names
        self.filter_types = {c.name: JSON_TYPES[c.type] for c in table.columns}


SCHEMAS: dict[str, TableSchemas] = {table.name: TableSchemas(table) for table in TABLES}


class BatchOut(BaseModel):
    rows: int
    inserted: int
    updated: int
    unchanged: int


class ImportJobOut(BaseModel):
    id: str
    status: str
    file_name: str
    allow_rejects: bool
    progress: dict[str, Any]
    tables: dict[str, Any]
    rejects: list[dict[str, Any]]
    rejects_count: int
    message: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    username: str
    door: str
    action: str
    table: str
    object_id: str
    changes: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next: str | None = None


class AnalyticsOut(BaseModel):
    """The JSON document of the matching `--format json` command (interfaces.md)."""

    model_config = ConfigDict(extra="allow")


class ScoreRuleOut(BaseModel):
    group: str
    rule: str
    points: float


class RfmOut(BaseModel):
    r: int
    f: int | None
    m: int | None
    segment: str | None


class ScoreOut(BaseModel):
    """interfaces.md's `score` row of the contact's latest stored score, with when and with
    which rule model it was computed."""

    contact_id: str
    score: float
    grade: str | None
    groups: dict[str, float | None]
    rules: list[ScoreRuleOut]
    rfm: RfmOut | None
    conversion_probability: float | None
    # Customers (when the CLV models could be fitted): discounted margin expected over
    # the next clv_horizon_months, and 1 - P(alive).
    predicted_clv: float | None
    churn_risk: float | None
    priority: float
    reason: str
    as_of: dt.datetime
    computed_at: dt.datetime
    model: str
    model_version: str
