"""Recording audit entries. Callers run these inside the transaction of the write they
describe, so that a write and its audit row are committed (or rolled back) together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from pilotage.web.audit.models import AuditEntry

Door = Literal["api", "web", "import", "cli"]
AuditAction = Literal["create", "update", "delete", "import"]
Values = Mapping[str, Any]


def json_value(value: Any) -> Any:
    """A JSON-storable form of a column value (dates as ISO text, money as exact text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def changed_fields(before: Values | None, after: Values | None) -> dict[str, list[Any]]:
    """{column: [before, after]} for the columns whose value differs."""
    old = {k: json_value(v) for k, v in (before or {}).items()}
    new = {k: json_value(v) for k, v in (after or {}).items()}
    return {
        name: [old.get(name), new.get(name)]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def _who(user: AbstractBaseUser | AnonymousUser | None) -> tuple[Any, str]:
    if user is None or user.pk is None:
        return None, ""
    return user, user.get_username()


def audit_entry(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    door: Door,
    action: AuditAction,
    table: str,
    object_id: str,
    before: Values | None,
    after: Values | None,
) -> AuditEntry:
    """An unsaved entry (for `audit_record_many`)."""
    who, name = _who(user)
    return AuditEntry(
        user=who,
        username=name,
        door=door,
        action=action,
        table=table,
        object_id=object_id[:400],
        changes=changed_fields(before, after),
    )


def audit_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    door: Door,
    action: AuditAction,
    table: str,
    object_id: str,
    before: Values | None,
    after: Values | None,
) -> AuditEntry:
    entry = audit_entry(
        user=user,
        door=door,
        action=action,
        table=table,
        object_id=object_id,
        before=before,
        after=after,
    )
    entry.save()
    return entry


def audit_record_many(*, entries: Iterable[AuditEntry]) -> int:
    created = AuditEntry.objects.bulk_create(list(entries), batch_size=2000)
    return len(created)


def audit_record_import(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    door: Door,
    source: str,
    counts: Mapping[str, Mapping[str, int]],
) -> AuditEntry:
    """One entry for a whole import: per table, how many rows were inserted and updated
    (a row-by-row before/after of a million-row load would double its cost)."""
    who, name = _who(user)
    entry = AuditEntry(
        user=who,
        username=name,
        door=door,
        action="import",
        table="*",
        object_id=source[:400],
        changes={table: dict(numbers) for table, numbers in counts.items()},
    )
    entry.save()
    return entry
