"""Imports, the scoring model editor and the company settings (administrators)."""

from __future__ import annotations

import io
import json
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from pilotage.contract.schema import TABLES_BY_NAME
from pilotage.contract.settings import SETTING_NAMES, Settings, SettingsError
from pilotage.engine.periods import GRAINS
from pilotage.web.dashboard import charts, services
from pilotage.web.dashboard import imports as mapping
from pilotage.web.dashboard.access import can_import, can_manage_company
from pilotage.web.dashboard.analytics import company_settings
from pilotage.web.dashboard.cache import data_changed
from pilotage.web.dashboard.selectors import scoring as scoring_selectors
from pilotage.web.exports import write_safe_csv

SETTING_KINDS = {
    "timezone": "text",
    "currency": "text",
    "week_start": "choice",
    "attribution_model": "choice",
    "journey_stages": "list",
}


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/forbidden.html",
        {"reason": _("This page is for administrators.")},
        status=403,
    )


def _jobs_available() -> bool:
    return apps.is_installed("pilotage.web.api")


# --- Imports ------------------------------------------------------------------------


@login_required
def imports(request: HttpRequest) -> HttpResponse:
    if not can_import(request.user):
        return _forbidden(request)
    available = _jobs_available()
    if request.method == "POST" and available:
        return _upload(request)
    jobs: list[Any] = []
    if available:
        from pilotage.web.api.models import ImportJob

        jobs = list(ImportJob.objects.all()[:20])
    return render(
        request,
        "dashboard/imports.html",
        {"jobs": jobs, "available": available, "tables": list(TABLES_BY_NAME)},
    )


def _upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    table = request.POST.get("table") or None
    if upload is None:
        messages.error(request, _("Choose a file to upload."))
        return redirect("dashboard:imports")
    name = (upload.name or "").lower()
    if name.endswith(".csv"):
        if table not in TABLES_BY_NAME:
            messages.error(request, _("Say which table a CSV file holds."))
            return redirect("dashboard:imports")
        token = mapping.pending_store(upload.read())
        allow = "1" if request.POST.get("allow_rejects") else ""
        return redirect(f"/imports/map/{token}/?table={table}&allow_rejects={allow}")
    return _start(request, upload, None, bool(request.POST.get("allow_rejects")))


def _start(request: HttpRequest, upload: Any, table: str | None, allow: bool) -> HttpResponse:
    from pilotage.web.api.imports import UploadRefused, import_job_start

    try:
        job = import_job_start(user=request.user, upload=upload, table=table, allow_rejects=allow)
    except UploadRefused as refused:
        messages.error(request, refused.message)
        return redirect("dashboard:imports")
    return redirect("dashboard:import_job", job_id=job.id)


@login_required
def import_map(request: HttpRequest, token: str) -> HttpResponse:
    if not can_import(request.user) or not _jobs_available():
        return _forbidden(request)
    path = mapping.pending_path(token)
    table = request.GET.get("table", "")
    if path is None or table not in TABLES_BY_NAME:
        raise Http404(token)
    preview = mapping.mapping_preview(path, table)
    problems: list[str] = []
    if request.method == "POST":
        chosen = {
            name: request.POST.get(f"map_{index}", mapping.KEEP)
            for index, name in enumerate(preview.header)
        }
        problems = mapping.mapping_problems(chosen, table)
        if not problems:
            data = mapping.mapped_csv(path, chosen)
            path.unlink(missing_ok=True)
            upload = SimpleUploadedFile(f"{table}.csv", data, content_type="text/csv")
            return _start(request, upload, table, request.GET.get("allow_rejects") == "1")
        preview = mapping.MappingPreview(
            preview.header, preview.rows, preview.columns, preview.required, chosen
        )
    return render(
        request,
        "dashboard/import_map.html",
        {
            "preview": preview,
            "table": table,
            "fields": list(enumerate(preview.header)),
            "problems": problems,
            "KEEP": mapping.KEEP,
            "IGNORE": mapping.IGNORE,
        },
    )


def _job(request: HttpRequest, job_id: str) -> Any:
    if not _jobs_available():
        raise Http404(job_id)
    from django.core.exceptions import ValidationError

    from pilotage.web.api.models import ImportJob

    try:
        job = ImportJob.objects.filter(pk=job_id).first()
    except ValidationError:
        job = None
    if job is None:
        raise Http404(job_id)
    return job


@login_required
def import_job(request: HttpRequest, job_id: str) -> HttpResponse:
    if not can_import(request.user):
        return _forbidden(request)
    from pilotage.web.api.imports import import_job_progress

    job = _job(request, job_id)
    progress = import_job_progress(job)
    finished = job.status in ("succeeded", "rejected", "failed")
    if finished and job.status == "succeeded" and not request.session.get(f"bumped-{job.pk}"):
        # The loaded rows change every KPI: the cache must not serve the old ones.
        data_changed()
        request.session[f"bumped-{job.pk}"] = True
    percent = None
    if progress.get("total"):
        percent = int(100 * progress.get("done", 0) / max(progress["total"], 1))
    template = (
        "dashboard/_import_status.html"
        if request.headers.get("HX-Request")
        else "dashboard/import_job.html"
    )
    return render(
        request,
        template,
        {"job": job, "progress": progress, "finished": finished, "percent": percent},
    )


@login_required
def import_rejects(request: HttpRequest, job_id: str) -> HttpResponse:
    if not can_import(request.user):
        return _forbidden(request)
    job = _job(request, job_id)
    out = io.StringIO()
    write_safe_csv(
        out,
        ["file", "line", "column", "reason"],
        ([r.get("file"), r.get("line"), r.get("column"), r.get("reason")] for r in job.rejects),
    )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejects-{job.pk}.csv"'
    return response


# --- Scoring model editor -----------------------------------------------------------


@login_required
def scoring_model(request: HttpRequest) -> HttpResponse:
    if not can_manage_company(request.user):
        return _forbidden(request)
    text = scoring_selectors.active_model_text()
    check = None
    distribution = None
    chart = None
    if request.method == "POST":
        text = request.POST.get("text", "")
        check = scoring_selectors.model_check(text)
        if check.model is not None and request.POST.get("action") == "save":
            services.scoring_model_save(user=request.user, text=text)
            messages.success(request, _("Scoring model saved: it is the active model now."))
            return redirect("dashboard:scoring_model")
        if check.model is not None:
            distribution = scoring_selectors.score_distribution(check.model, text)
            chart = charts.bars(
                distribution.bins, distribution.counts, "count", "", horizontal=False
            )
    return render(
        request,
        "dashboard/scoring_model.html",
        {"text": text, "check": check, "distribution": distribution, "chart": chart},
    )


# --- Settings -----------------------------------------------------------------------


def _setting_value(name: str, raw: str, default: Any) -> Any:
    raw = raw.strip()
    if isinstance(default, tuple):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(default, float):
        return float(raw.replace(",", "."))
    if isinstance(default, int):
        return int(raw)
    return raw


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    if not can_manage_company(request.user):
        return _forbidden(request)
    current = company_settings()
    values: dict[str, Any] = current.to_dict()
    error = None
    if request.method == "POST":
        defaults = Settings().to_dict()
        submitted: dict[str, Any] = {}
        try:
            for name in SETTING_NAMES:
                default = getattr(Settings(), name)
                submitted[name] = _setting_value(name, request.POST.get(name, ""), default)
            services.company_settings_save(values=submitted)
        except (ValueError, SettingsError) as problem:
            error = str(problem)
            values = {**defaults, **submitted}
        else:
            messages.success(request, _("Settings saved."))
            return redirect("dashboard:settings")
    fields = [
        (
            name,
            ", ".join(values[name]) if isinstance(values[name], list | tuple) else values[name],
            SETTING_KINDS.get(name, "number"),
        )
        for name in SETTING_NAMES
    ]
    from pilotage.contract.settings import ATTRIBUTION_MODELS, WEEK_STARTS

    return render(
        request,
        "dashboard/settings.html",
        {
            "fields": fields,
            "error": error,
            "choices": {"week_start": WEEK_STARTS, "attribution_model": ATTRIBUTION_MODELS},
            "grains": GRAINS,
            "stored": json.dumps(values, default=str),
        },
    )
