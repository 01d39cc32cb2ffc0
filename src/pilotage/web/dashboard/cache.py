"""The KPI cache: results keyed by a data version that every write bumps.

Computing a KPI on the CRM database takes from a fraction of a second (thousands of
contacts) to many seconds (millions), so pages read cached results. The key holds the
data version kept in the database (`dashboard_data_version`), not in process memory, so
that an import run by the command line or by another server process is seen at once by
every process: call `data_changed()` after any write that changes what KPIs show (imports,
edits of contacts, orders or deals, company settings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import F

from pilotage.web.dashboard.models import DataVersion

T = TypeVar("T")
# A safety net for writes that forget to call data_changed(): nothing stays cached longer.
TIMEOUT_SECONDS = 6 * 3600


def data_version() -> int:
    try:
        row = DataVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    except DatabaseError:  # before the first migration
        return 0
    return int(row or 0)


def data_changed() -> int:
    """Invalidate every cached KPI result (for every process); returns the new version."""
    updated = DataVersion.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        DataVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    return data_version()


def cache_key(kind: str, *parts: Any, version: int | None = None) -> str:
    current = data_version() if version is None else version
    digest = hashlib.sha1(
        json.dumps(parts, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()
    return f"pilotage:{current}:{kind}:{digest}"


def cached(kind: str, parts: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()` once per data version and parameters."""
    key = cache_key(kind, *parts)
    found = cache.get(key)
    if found is not None:
        result: T = found[0]
        return result
    value = compute()
    cache.set(key, (value,), TIMEOUT_SECONDS)  # wrapped: a None result is cached too
    return value
