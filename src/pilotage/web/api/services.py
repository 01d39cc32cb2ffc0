"""Writes on the contract tables (any door: api now, web pages later), each in one
transaction with its audit entries.

- `records_upsert`: insert or update many rows by their contract key, all or nothing.
- `record_create`, `record_replace`, `record_patch`, `record_delete`: one row.
Rows are checked by the contract validator (`validation.validate_rows`) and by the
scoping rules (`accounts.permissions`) before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, models, transaction

from pilotage.contract.schema import TABLES_BY_NAME, ColumnType, Table
from pilotage.web.accounts import permissions
from pilotage.web.api.validation import RowProblem, RowsInvalid, cell, row_key, validate_rows
from pilotage.web.audit.services import Door, audit_entry, audit_record, audit_record_many
from pilotage.web.crm.models import CONTRACT_MODELS
from pilotage.web.crm.services.importing import stored_company_settings

Mode = Literal["create", "replace", "upsert"]


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | AnonymousUser
    door: Door
    read_only: bool = False


class WriteForbidden(Exception):
    """The actor may not write this table (403)."""


class NotFound(Exception):
    """No such row in the actor's scope (404)."""


class Conflict(Exception):
    """The write collides with another row (409)."""


@dataclass
class UpsertResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    objects: list[models.Model] = field(default_factory=list)


logger = logging.getLogger(__name__)


def spend_key(values: Mapping[str, Any]) -> str:
    """The spend row identity, as the importer builds it."""
    return "|".join(
        [
            values["spent_on"].isoformat(),
            str(values["channel"]),
            str(values.get("campaign_id") or ""),
            str(values.get("category") or ""),
        ]
    )


def stored_values(table: Table, obj: models.Model) -> dict[str, Any]:
    """The contract columns of a stored row (plus its custom attributes)."""
    values = {name: getattr(obj, name) for name in table.column_names}
    values["attributes"] = getattr(obj, "attributes", None) or {}
    return values


def input_values(table: Table, obj: models.Model) -> dict[str, Any]:
    """A stored row as API input (the form PATCH merges into)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.name)
        values[column.name] = None if value is None else cell(value, column.type)
    values["attributes"] = getattr(obj, "attributes", None) or {}
    return values


def _known_ids(actor: Actor) -> Any:
    def known(parent: str, wanted: set[str]) -> set[str]:
        if not wanted:
            return set()
        rows = permissions.visible(actor.user, parent)
        key = TABLES_BY_NAME[parent].key[0]
        found: set[str] = set()
        values = sorted(wanted)
        for start in range(0, len(values), 900):
            chunk = values[start : start + 900]
            found.update(rows.filter(**{f"{key}__in": chunk}).values_list(key, flat=True))
        return found

    return known


def _parent_rows(actor: Actor) -> Any:
    def parents(parent: str, wanted: set[str]) -> list[dict[str, Any]]:
        table = TABLES_BY_NAME[parent]
        rows = permissions.visible(actor.user, parent).filter(
            **{f"{table.key[0]}__in": sorted(wanted)}
        )
        return [stored_values(table, row) for row in rows]

    return parents


def _identity(table: Table, values: Mapping[str, Any]) -> Any:
    if table.name == "spend":
        return spend_key(values)
    if len(table.key) == 1:
        return values[table.key[0]]
    return tuple(values[c] for c in table.key)


def _existing(table: Table, keys: list[Any]) -> dict[Any, models.Model]:
    """The stored rows with these identities, locked for the transaction."""
    model = CONTRACT_MODELS[table.name]
    manager = model._default_manager.select_for_update()
    found: dict[Any, models.Model] = {}
    if table.name == "spend":
        for start in range(0, len(keys), 900):
            for obj in manager.filter(spend_key__in=keys[start : start + 900]):
                found[obj.spend_key] = obj  # type: ignore[attr-defined]
    elif len(table.key) == 1:
        for start in range(0, len(keys), 900):
            for obj in manager.filter(pk__in=keys[start : start + 900]):
                found[obj.pk] = obj
    else:  # stage_changes: (contact_id, stage, changed_at)
        contacts = sorted({key[0] for key in keys})
        wanted = set(keys)
        for start in range(0, len(contacts), 900):
            for obj in manager.filter(contact_id__in=contacts[start : start + 900]):
                identity = tuple(getattr(obj, c) for c in table.key)
                if identity in wanted:
                    found[identity] = obj
    return found


def _check_scope(actor: Actor, table: Table, rows: list[Mapping[str, Any]]) -> None:
    if actor.read_only:
        raise WriteForbidden("this token is read-only")
    if not permissions.can_write_table(actor.user, table.name):
        raise WriteForbidden(f"you may not write {table.name}")
    if table.name != "contacts" or permissions.scope_of(actor.user).is_admin:
        return
    problems = [
        RowProblem(
            index,
            row_key(table, row),
            "owner_id",
            f"owner_id {row.get('owner_id')!r} is not a rep you may assign contacts to",
        )
        for index, row in enumerate(rows)
        if not permissions.owner_allowed(actor.user, row.get("owner_id"))
    ]
    if problems:
        raise RowsInvalid(problems)


def _apply(
    actor: Actor,
    table: Table,
    rows: list[Mapping[str, Any]],
    typed: list[dict[str, Any]],
    mode: Mode,
    target: models.Model | None = None,
) -> UpsertResult:
    """Write the validated rows; runs inside the caller's transaction."""
    model = CONTRACT_MODELS[table.name]
    identities = [_identity(table, values) for values in typed]
    existing = _existing(table, identities)
    result = UpsertResult(rows=len(typed))
    created: list[models.Model] = []
    changed: list[models.Model] = []
    changed_fields: set[str] = set()
    entries = []
    problems: list[RowProblem] = []
    for index, (raw, values, identity) in enumerate(zip(rows, typed, identities, strict=True)):
        if "attributes" in raw and raw["attributes"] is not None:
            values["attributes"] = dict(raw["attributes"])
        if table.name == "spend":
            values["spend_key"] = identity
        current = existing.get(identity)
        if target is not None:
            if current is not None and current.pk != target.pk:
                raise Conflict(f"another {table.name} row has this identity ({identity})")
            current = target
        if current is None:
            if mode == "replace":
                raise NotFound(f"no {table.name} row {identity}")
            values.setdefault("attributes", {})
            obj = model(**values)
            created.append(obj)
            entries.append(
                audit_entry(
                    user=actor.user,
                    door=actor.door,
                    action="create",
                    table=table.name,
                    object_id=row_key(table, values),
                    before=None,
                    after=values,
                )
            )
            result.objects.append(obj)
            continue
        if mode == "create":
            raise Conflict(f"{table.name} {row_key(table, values)!r} already exists")
        if not permissions.can_write(actor.user, current):
            problems.append(
                RowProblem(index, row_key(table, values), table.key[0], "not yours to change")
            )
            continue
        if mode == "replace" or target is not None:
            values.setdefault("attributes", {})
        before = stored_values(table, current)
        if table.name == "spend":
            before["spend_key"] = current.spend_key  # type: ignore[attr-defined]
        difference = {
            name: value
            for name, value in values.items()
            if name in before and before[name] != value
        }
        result.objects.append(current)
        if not difference:
            result.unchanged += 1
            continue
        for name, value in difference.items():
            setattr(current, name, value)
        changed.append(current)
        changed_fields.update(difference)
        entries.append(
            audit_entry(
                user=actor.user,
                door=actor.door,
                action="update",
                table=table.name,
                object_id=str(current.pk),
                before={k: before[k] for k in difference},
                after=difference,
            )
        )
    if problems:
        raise RowsInvalid(problems)
    try:
        with transaction.atomic():
            if created:
                model._default_manager.bulk_create(created, batch_size=1000)
            if changed:
                model._default_manager.bulk_update(changed, sorted(changed_fields), batch_size=1000)
            audit_record_many(entries=entries)
    except IntegrityError as error:
        # A concurrent write took the id, or a referenced row went away meanwhile.
        raise Conflict(f"the write collides with a concurrent change ({error})") from None
    result.inserted = len(created)
    result.updated = len(changed)
    touched = {getattr(obj, "contact_id", None) for obj in created + changed}
    after_write_commit(sorted(str(cid) for cid in touched if cid is not None))
    return result


# A write touching more contacts than this rescores them in the background (an
# incremental batch) instead of before the response.
RESCORE_INLINE_LIMIT = 200


def after_write_commit(contact_ids: list[str]) -> None:
    """Once the write is committed: cached KPI results are stale, and the contacts whose
    rows changed are rescored at once (scoring.md). A failure there is logged, never
    turned into an error for a write that is already saved."""

    def refresh() -> None:
        from pilotage.web.dashboard.cache import data_changed
        from pilotage.web.scoring.services import contacts_rescore, scores_refresh_in_background

        try:
            if 0 < len(contact_ids) <= RESCORE_INLINE_LIMIT:
                contacts_rescore(contact_ids=contact_ids)
            elif contact_ids:
                # scores_refresh makes cached figures stale again once it has stored.
                scores_refresh_in_background()
        except Exception:
            logger.exception("rescoring after an API write failed")
        # After an inline rescore: the cache warm this starts reads stored scores.
        data_changed()

    transaction.on_commit(refresh)


def _validated(actor: Actor, table: Table, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    _check_scope(actor, table, rows)
    return validate_rows(
        table.name,
        rows,
        known_ids=_known_ids(actor),
        parent_rows=_parent_rows(actor),
        # A timestamp without offset is in the company's time zone (data-contract.md).
        settings=stored_company_settings(),
    )


def records_upsert(
    *, actor: Actor, table: str, rows: list[Mapping[str, Any]], mode: Mode = "upsert"
) -> UpsertResult:
    """Insert or update `rows` (dicts of contract columns and optional `attributes`) by
    their contract key: every row or none. Raises RowsInvalid (every problem, with each
    row's index and id), WriteForbidden, NotFound or Conflict."""
    spec = TABLES_BY_NAME[table]
    typed = _validated(actor, spec, rows)
    with transaction.atomic():
        return _apply(actor, spec, rows, typed, mode)


def record_create(*, actor: Actor, table: str, values: Mapping[str, Any]) -> models.Model:
    return records_upsert(actor=actor, table=table, rows=[values], mode="create").objects[0]


def _target(actor: Actor, table: str, pk: Any, *, for_write: bool) -> models.Model:
    """The row in the actor's scope (404 outside it, whatever the write rights), then
    403 when it may be read but not written."""
    obj: models.Model | None = permissions.visible(actor.user, table).filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"no {table} row {pk!r}")
    if for_write and actor.read_only:
        raise WriteForbidden("this token is read-only")
    if for_write and not permissions.can_write(actor.user, obj):
        raise WriteForbidden(f"you may not change this {table} row")
    return obj


def record_replace(*, actor: Actor, table: str, pk: Any, values: Mapping[str, Any]) -> models.Model:
    """PUT: every column is replaced (absent optional columns become empty)."""
    spec = TABLES_BY_NAME[table]
    target = _target(actor, table, pk, for_write=True)
    if len(spec.key) == 1 and values.get(spec.key[0]) != target.pk:
        raise Conflict(f"{spec.key[0]} differs from the row's id in the URL: ids do not change")
    typed = _validated(actor, spec, [values])
    with transaction.atomic():
        target = _lock(target)
        return _apply(actor, spec, [values], typed, "replace", target).objects[0]


def record_patch(*, actor: Actor, table: str, pk: Any, changes: Mapping[str, Any]) -> models.Model:
    """PATCH: the given columns change, the others stay (null clears an optional one)."""
    spec = TABLES_BY_NAME[table]
    target = _target(actor, table, pk, for_write=True)
    if len(spec.key) == 1 and spec.key[0] in changes and changes[spec.key[0]] != target.pk:
        raise Conflict(f"{spec.key[0]} cannot change: ids do not change")
    merged = input_values(spec, target)
    merged.update(changes)
    typed = _validated(actor, spec, [merged])
    with transaction.atomic():
        target = _lock(target)
        return _apply(actor, spec, [merged], typed, "replace", target).objects[0]


def _lock(obj: models.Model) -> models.Model:
    locked: models.Model = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    return locked


def record_delete(*, actor: Actor, table: str, pk: Any) -> dict[str, int]:
    """Delete one row (a contact takes its stage changes, interactions, deals, orders and
    subscriptions with it: the counts are in the audit entry)."""
    spec = TABLES_BY_NAME[table]
    if actor.read_only or not permissions.can_write_table(actor.user, table):
        # Visible but not writable (a rep and a campaign): 403; invisible: 404 below.
        target = permissions.visible(actor.user, table).filter(pk=pk).first()
        if target is None:
            raise NotFound(f"no {table} row {pk!r}")
        raise WriteForbidden(f"you may not delete {table} rows")
    with transaction.atomic():
        target = _target(actor, table, pk, for_write=True)
        before = stored_values(spec, target)
        _total, counts = target.delete()
        cascade = {label: n for label, n in counts.items() if n}
        owner = getattr(target, "contact_id", None) if table != "contacts" else None
        after_write_commit([str(owner)] if owner is not None else [])
        audit_record(
            user=actor.user,
            door=actor.door,
            action="delete",
            table=table,
            object_id=str(pk),
            before={**before, "deleted_rows": cascade},
            after=None,
        )
    return cascade


__all__ = [
    "Actor",
    "Conflict",
    "NotFound",
    "RowsInvalid",
    "UpsertResult",
    "WriteForbidden",
    "record_create",
    "record_delete",
    "record_patch",
    "record_replace",
    "records_upsert",
    "ColumnType",
]
