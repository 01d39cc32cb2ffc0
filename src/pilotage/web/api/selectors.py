"""Reads for the API: scoped lists with filters and cursor pagination, single rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import Model

from pilotage.contract.schema import TABLES_BY_NAME
from pilotage.web.accounts import permissions
from pilotage.web.accounts.permissions import AnyUser
from pilotage.web.api.services import stored_values
from pilotage.web.crm.services.importing import stored_company_settings

CURSOR_SALT = "pilotage.api.cursor"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class BadCursor(ValueError):
    """A cursor that this server did not hand out (or for another list)."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


def utc(value: Any, zone: dt.tzinfo | None = None) -> Any:
    """Datetimes in UTC: PostgreSQL refuses offsets beyond +/-15:59 that Python and
    ISO-8601 allow. A naive one is in `zone`, the company's time zone (data-contract.md:
    a value without offset is in the company time zone), as rows written are."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and zone is not None:
            value = value.replace(tzinfo=zone)
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC)
    return value


def encode_cursor(kind: str, last: Any) -> str:
    """Opaque and signed: a client cannot forge one to walk another ordering."""
    return signing.dumps({"k": kind, "a": last}, salt=CURSOR_SALT, compress=True)


def decode_cursor(kind: str, cursor: str) -> Any:
    try:
        data = signing.loads(cursor, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise BadCursor("this cursor is not one this list handed out") from None
    if not isinstance(data, dict) or data.get("k") != kind or "a" not in data:
        raise BadCursor("this cursor belongs to another list")
    return data["a"]


def row_document(table: str, obj: Model) -> dict[str, Any]:
    document = stored_values(TABLES_BY_NAME[table], obj)
    if table in ("stage_changes", "spend"):
        document["id"] = obj.pk
    return document


def records_list(
    *,
    user: AnyUser,
    table: str,
    filters: Mapping[str, Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """The rows of `table` the user may see, equal to every given filter, in key order."""
    rows = permissions.visible(user, table)
    naive = any(isinstance(v, dt.datetime) and v.tzinfo is None for v in filters.values())
    # The stored settings are read only for a filter that needs their time zone.
    zone = stored_company_settings().zone if naive else None
    conditions = {name: utc(value, zone) for name, value in filters.items() if value is not None}
    if conditions:
        rows = rows.filter(**conditions)
    if cursor:
        rows = rows.filter(pk__gt=decode_cursor(table, cursor))
    limit = max(1, min(limit, MAX_LIMIT))
    # A savepoint: a value the database refuses must not poison a surrounding transaction.
    with transaction.atomic():
        found = list(rows.order_by("pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    following = encode_cursor(table, found[-1].pk) if more and found else None
    return Page([row_document(table, obj) for obj in found], following)


def record_get(*, user: AnyUser, table: str, pk: Any) -> Model | None:
    return permissions.visible(user, table).filter(pk=pk).first()
