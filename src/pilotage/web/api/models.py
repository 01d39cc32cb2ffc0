"""Import jobs: an upload loaded in the background, its progress and its rejects."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"  # loaded (maybe with rejects, when allowed)
    REJECTED = "rejected", "rejected"  # bad rows: nothing loaded
    FAILED = "failed", "failed"  # could not run (unreadable upload, server error)


class ImportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    allow_rejects = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # {"phase": ..., "table": ..., "done": n, "total": n}; live progress is in the cache
    # while the load runs (its transaction hides writes to this row until it ends).
    progress = models.JSONField(default=dict)
    tables = models.JSONField(default=dict)  # per table: rows, inserted, updated, rejected
    rejects = models.JSONField(default=list)  # the first problems: file, line, column, reason
    rejects_count = models.IntegerField(default=0)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "import_jobs"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"
