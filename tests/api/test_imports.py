"""POST /imports: CSV, Excel and zipped folders loaded in the background, with progress,
per-table counts and the rejects; nothing loaded when a row is bad."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

import openpyxl
import pytest
from api_helpers import Company
from django.core.files.uploadedfile import SimpleUploadedFile

from pilotage.web.api.imports import import_job_wait
from pilotage.web.audit.models import AuditEntry
from pilotage.web.crm.models import Contact, Interaction, Rep

pytestmark = pytest.mark.django_db(transaction=True)


def upload(company: Company, name: str, content: bytes, **fields: Any) -> Any:
    client = company.client("admin")
    return client.post("/api/v1/imports", {"file": SimpleUploadedFile(name, content), **fields})


def finished(company: Company, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    import_job_wait(job_id, timeout=120)
    deadline = time.monotonic() + 30
    while True:
        job = company.client("admin").get(f"/api/v1/imports/{job_id}").json()
        if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return dict(job)
        time.sleep(0.1)


def test_csv_upload_loads_one_table(company_tx: Company) -> None:
    csv = (
        b"interaction_id,contact_id,occurred_at,type\n"
        b"u1,c1,2024-02-01,call\nu2,c3,2024-02-02,demo\n"
    )
    job = finished(company_tx, upload(company_tx, "interactions.csv", csv))
    assert job["status"] == "succeeded", job
    assert job["tables"]["interactions"]["inserted"] == 2
    assert Interaction.objects.filter(pk__in=["u1", "u2"]).count() == 2
    entry = AuditEntry.objects.get(action="import")
    assert entry.door == "import"
    assert entry.changes["interactions"]["inserted"] == 2


def test_bad_rows_load_nothing_and_are_listed(company_tx: Company) -> None:
    csv = b"contact_id,created_at,channel\nn1,2024-02-01,web\nn2,not a date,web\n"
    job = finished(company_tx, upload(company_tx, "contacts.csv", csv))
    assert job["status"] == "rejected"
    assert job["rejects"] == [
        {
            "file": "contacts.csv",
            "line": 3,
            "column": "created_at",
            "reason": job["rejects"][0]["reason"],
        }
    ]
    assert not Contact.objects.filter(pk="n1").exists()
    job = finished(company_tx, upload(company_tx, "contacts.csv", csv, allow_rejects="true"))
    assert job["status"] == "succeeded"
    assert job["rejects_count"] == 1
    assert Contact.objects.filter(pk="n1").exists()


def test_zip_folder_and_excel_workbook(company_tx: Company) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as folder:
        folder.writestr("company/reps.csv", "rep_id,name,team\nz1,Zed,East\n")
        folder.writestr(
            "company/contacts.csv",
            "contact_id,created_at,channel,owner_id\nz1c,2024-02-01,web,z1\n",
        )
        folder.writestr("../../evil/contacts.txt", "ignored")
        folder.writestr("__MACOSX/._reps.csv", "ignored")
    job = finished(company_tx, upload(company_tx, "company.zip", archive.getvalue()))
    assert job["status"] == "succeeded", job
    assert Contact.objects.get(pk="z1c").owner_id == "z1"

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "reps"
    sheet.append(["rep_id", "name", "team"])
    sheet.append(["x1", "Xavier", "West"])
    sheet.append([7, "Seven", None])
    data = io.BytesIO()
    workbook.save(data)
    job = finished(company_tx, upload(company_tx, "team.xlsx", data.getvalue()))
    assert job["status"] == "succeeded", job
    assert set(Rep.objects.filter(pk__in=["x1", "7"]).values_list("pk", flat=True)) == {"x1", "7"}


def test_uploads_are_bounded_and_typed(company_tx: Company, settings: Any) -> None:
    assert upload(company_tx, "x.exe", b"MZ...").status_code == 415
    assert upload(company_tx, "fake.zip", b"not a zip").status_code == 415
    assert upload(company_tx, "bin.csv", b"a,b\n\x00\x01").status_code == 415
    assert upload(company_tx, "whatever.csv", b"a,b\n1,2\n").status_code == 422
    settings.PILOTAGE_MAX_UPLOAD_BYTES = 1000
    big = upload(company_tx, "contacts.csv", b"contact_id\n" + b"x\n" * 100_000)
    assert big.status_code == 413
    assert big.json()["error"] == "too_large"
    corrupt = finished(company_tx, upload(company_tx, "broken.xlsx", b"PK\x03\x04garbage"))
    assert corrupt["status"] == "failed"
