"""Imports through the API: an uploaded CSV, Excel workbook or zipped folder becomes a
contract folder, loaded by the CRM importer (`folder_import`: validated, then all or
nothing) in a background thread, tracked by an `ImportJob` row.

Uploads are bounded (setting PILOTAGE_MAX_UPLOAD_BYTES, default 200 MB; a zip's content
by PILOTAGE_MAX_IMPORT_BYTES, default 2 GB) and typed by their first bytes, not only their
name. Zip member names are never used as paths: only `<table>.csv|parquet` and
`pilotage.toml` members are read, written under names this code chooses.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
import threading
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone

from pilotage.contract.schema import TABLES_BY_NAME, ColumnType
from pilotage.web.api.models import ImportJob, JobStatus

logger = logging.getLogger(__name__)

Kind = Literal["csv", "xlsx", "zip"]
MAX_REJECTS_KEPT = 1000
_THREADS: dict[str, threading.Thread] = {}
ZIP_MAGIC = b"PK\x03\x04"


class UploadRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def max_upload_bytes() -> int:
    return int(getattr(settings, "PILOTAGE_MAX_UPLOAD_BYTES", 200 * 1024 * 1024))


def max_import_bytes() -> int:
    return int(getattr(settings, "PILOTAGE_MAX_IMPORT_BYTES", 2 * 1024 * 1024 * 1024))


def imports_home() -> Path:
    home = Path(settings.DATA_HOME) / "imports"
    home.mkdir(parents=True, exist_ok=True)
    return home


def upload_kind(upload: UploadedFile[bytes], table: str | None) -> tuple[Kind, str | None]:
    """What the upload is (by its name and its first bytes), and for a CSV its table."""
    name = PurePosixPath(upload.name or "upload").name
    suffix = PurePosixPath(name).suffix.lower()
    upload.seek(0)
    head = upload.read(65536)
    upload.seek(0)
    if not isinstance(head, bytes):
        head = str(head).encode("utf-8")
    if suffix in (".zip", ".xlsx"):
        if not head.startswith(ZIP_MAGIC):
            raise UploadRefused(415, "unsupported_media_type", f"{name} is not a {suffix} file")
        return ("zip" if suffix == ".zip" else "xlsx"), None
    if suffix == ".csv":
        if b"\x00" in head:
            raise UploadRefused(415, "unsupported_media_type", f"{name} is not a text file")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the end of the sample is fine.
            if error.start < len(head) - 4:
                raise UploadRefused(
                    415, "unsupported_media_type", f"{name} is not UTF-8 text"
                ) from None
        target = table or PurePosixPath(name).stem.lower()
        if target not in TABLES_BY_NAME:
            raise UploadRefused(
                422,
                "unknown_table",
                f"which table is {name}? Name the file <table>.csv or give the table "
                f"field (one of {', '.join(TABLES_BY_NAME)})",
            )
        return "csv", target
    raise UploadRefused(415, "unsupported_media_type", f"{name}: upload a .csv, .xlsx or .zip file")


def _cell_text(value: Any, kind: ColumnType | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if kind is ColumnType.DATE:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and kind is not ColumnType.MONEY:
        return str(int(value))
    return str(value)


def _xlsx_to_folder(path: Path, folder: Path) -> None:
    import openpyxl

    _check_zip_size(path)
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            table_name = sheet.title.strip().lower()
            if table_name not in TABLES_BY_NAME:
                continue
            table = TABLES_BY_NAME[table_name]
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                continue
            names = ["" if v is None else str(v).strip() for v in header]
            kinds = [table.column(n).type if n in table.column_names else None for n in names]
            with (folder / f"{table_name}.csv").open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(names)
                for row in rows:
                    if row is None or all(v is None for v in row):
                        continue
                    writer.writerow([_cell_text(v, k) for v, k in zip(row, kinds, strict=False)])
    finally:
        workbook.close()


def _check_zip_size(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if total > max_import_bytes():
        raise UploadRefused(413, "too_large", "the archive's content is too large")


def _zip_to_folder(path: Path, folder: Path) -> None:
    _check_zip_size(path)
    seen: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if not parts or any(p.startswith(".") or p == "__MACOSX" for p in parts):
                continue
            member = PurePosixPath(parts[-1])
            name = member.name.lower()
            if name == "pilotage.toml":
                target = "pilotage.toml"
            elif member.suffix.lower() in (".csv", ".parquet") and (
                member.stem.lower() in TABLES_BY_NAME
            ):
                target = f"{member.stem.lower()}{member.suffix.lower()}"
            else:
                continue
            table = PurePosixPath(target).stem
            if table in seen:
                raise UploadRefused(422, "invalid_upload", f"the archive has two {table} files")
            seen.add(table)
            with archive.open(info) as source, (folder / target).open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)


def _prepare_folder(path: Path, kind: Kind, table: str | None, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        assert table is not None
        shutil.copyfile(path, folder / f"{table}.csv")
    elif kind == "xlsx":
        _xlsx_to_folder(path, folder)
    else:
        _zip_to_folder(path, folder)
    if not (folder / "contacts.csv").exists() and not (folder / "contacts.parquet").exists():
        # One table of rows for contacts already in the database: an empty contacts table.
        (folder / "contacts.csv").write_text("contact_id,created_at,channel\n")


def progress_key(job_id: str) -> str:
    return f"pilotage:import:{job_id}"


def import_job_start(
    *,
    user: AbstractBaseUser | AnonymousUser,
    upload: UploadedFile[bytes],
    table: str | None = None,
    allow_rejects: bool = False,
) -> ImportJob:
    """Check the upload, store it, create the job and start loading it in the
    background. Raises UploadRefused for a file that cannot be imported at all."""
    if upload.size is not None and upload.size > max_upload_bytes():
        raise UploadRefused(413, "too_large", f"uploads are limited to {max_upload_bytes()} bytes")
    if table is not None and table not in TABLES_BY_NAME:
        raise UploadRefused(422, "unknown_table", f"the contract has no table {table!r}")
    kind, csv_table = upload_kind(upload, table)
    job_id = uuid.uuid4()
    work = imports_home() / str(job_id)
    work.mkdir()
    stored = work / f"upload.{kind}"
    with stored.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    job = ImportJob.objects.create(
        id=job_id,
        user=user if user.pk is not None else None,  # type: ignore[misc]
        file_name=PurePosixPath(upload.name or "upload").name[:255],
        allow_rejects=allow_rejects,
        progress={"phase": "queued"},
    )
    thread = threading.Thread(
        target=_run_job,
        args=(str(job.id), stored, kind, csv_table),
        name=f"pilotage-import-{job.id}",
        daemon=True,
    )
    _THREADS[str(job.id)] = thread
    thread.start()
    return job


def import_job_wait(job_id: str, timeout: float | None = None) -> None:
    """Wait for the job's thread (tests, and a clean shutdown)."""
    thread = _THREADS.get(job_id)
    if thread is not None:
        thread.join(timeout)


def import_job_progress(job: ImportJob) -> dict[str, Any]:
    if job.status == JobStatus.RUNNING:
        live = cache.get(progress_key(str(job.id)))
        if isinstance(live, dict):
            return live
    return dict(job.progress)


def _run_job(job_id: str, stored: Path, kind: Kind, table: str | None) -> None:
    from pilotage.contract.settings import SettingsError, load_settings
    from pilotage.web.crm.services.importing import ImportAudit, folder_import

    work = stored.parent
    try:
        job = ImportJob.objects.get(pk=job_id)
        job.status = JobStatus.RUNNING
        job.progress = {"phase": "reading"}
        job.save(update_fields=["status", "progress"])
        cache.set(progress_key(job_id), {"phase": "reading"}, 24 * 3600)
        folder = work / "folder"
        try:
            _prepare_folder(stored, kind, table, folder)
            company_settings = load_settings(None, folder)
        except (UploadRefused, zipfile.BadZipFile, SettingsError, OSError, ValueError) as error:
            _finish(job, JobStatus.FAILED, f"{job.file_name}: {error}")
            return
        except Exception as error:  # openpyxl raises many kinds on a broken workbook
            _finish(job, JobStatus.FAILED, f"{job.file_name}: unreadable ({error})")
            return
        cache.set(progress_key(job_id), {"phase": "validating"}, 24 * 3600)

        def progress(table_name: str, done: int, total: int) -> None:
            cache.set(
                progress_key(job_id),
                {"phase": "loading", "table": table_name, "done": done, "total": total},
                24 * 3600,
            )

        # The audit entry is written in the load's transaction; the rescoring that follows
        # runs after the commit, so that the engine's own connection sees the new rows.
        report = folder_import(
            folder=folder,
            settings=company_settings,
            allow_rejects=job.allow_rejects,
            progress=progress,
            audit=ImportAudit(
                user=job.user, door="import", source=f"import job {job_id} ({job.file_name})"
            ),
        )
        problems = report.validation.problems
        job.tables = {
            name: {
                "rows": t.rows,
                "inserted": t.inserted,
                "updated": t.updated,
                "unchanged": t.unchanged if report.loaded else 0,
                "rejected": t.rejected,
            }
            for name, t in report.tables.items()
        }
        job.rejects = [
            {"file": p.file, "line": p.line, "column": p.column, "reason": p.reason}
            for p in problems[:MAX_REJECTS_KEPT]
        ]
        job.rejects_count = len(problems)
        if report.loaded:
            message = "loaded" + (f" ({len(problems)} rows rejected)" if problems else "")
            _finish(job, JobStatus.SUCCEEDED, message)
        else:
            _finish(job, JobStatus.REJECTED, "nothing was loaded: fix the rejected rows")
    except Exception as error:
        logger.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED,
            message=f"the import failed: {type(error).__name__}",
            finished_at=timezone.now(),
        )
    finally:
        cache.delete(progress_key(job_id))
        shutil.rmtree(work, ignore_errors=True)
        connection.close()


def _finish(job: ImportJob, status: str, message: str) -> None:
    job.status = status
    job.message = message
    job.progress = {"phase": "done"}
    job.finished_at = timezone.now()
    job.save()
