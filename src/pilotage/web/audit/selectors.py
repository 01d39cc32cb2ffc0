"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from pilotage.web.audit.models import AuditEntry


def audit_entries(
    *,
    table: str | None = None,
    object_id: str | None = None,
    username: str | None = None,
    door: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[AuditEntry]:
    """Newest first, filtered by whatever is given."""
    entries = AuditEntry.objects.order_by("-id")
    if table:
        entries = entries.filter(table=table)
    if object_id:
        entries = entries.filter(object_id=object_id)
    if username:
        entries = entries.filter(username=username)
    if door:
        entries = entries.filter(door=door)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    return entries
