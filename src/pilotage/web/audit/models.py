"""One row per write: who, when, through which door, what changed (before/after)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Door(models.TextChoices):
    API = "api", "API"
    WEB = "web", "web"
    IMPORT = "import", "import"
    CLI = "cli", "command line"


class Action(models.TextChoices):
    CREATE = "create", "create"
    UPDATE = "update", "update"
    DELETE = "delete", "delete"
    IMPORT = "import", "import"


class AuditEntry(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The user may be deleted later: the name they had stays in `username`.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True, default="")
    door = models.CharField(max_length=8, choices=Door.choices)
    action = models.CharField(max_length=8, choices=Action.choices)
    table = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=400, blank=True, default="")
    # {column: [before, after]} of the changed columns only (create: before is null;
    # delete: after is null); for an import, the counts per table.
    changes = models.JSONField(default=dict)

    class Meta:
        db_table = "audit_log"
        ordering = ["-id"]
        indexes = [models.Index(fields=["table", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.table}"
