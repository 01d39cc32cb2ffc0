"""`/api/v1/`: thin views over the services (writes), selectors (reads) and the
analytical engines, all under one authentication and one error format.

No `from __future__ import annotations` here: the routes of the nine tables are made in
a loop, and Django Ninja reads the (generated) types from the annotations.
"""

import datetime as dt
import json
import uuid
from typing import Any

from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, NinjaAPI, Query, Router
from ninja.files import UploadedFile
from ninja.openapi.docs import Swagger
from ninja.parser import Parser
from pydantic import Field, create_model

from pilotage.web.accounts import permissions
from pilotage.web.api import analytics, imports
from pilotage.web.api.auth import SessionCsrfAuth, TokenAuth, actor_of
from pilotage.web.api.errors import ApiError, error_response, install_handlers
from pilotage.web.api.models import ImportJob
from pilotage.web.api.schemas import (
    SCHEMAS,
    SURROGATE_TABLES,
    AnalyticsOut,
    AuditPage,
    BatchOut,
    ErrorOut,
    ImportJobOut,
    ScoreOut,
    StrictModel,
    TableSchemas,
    check_text,
)
from pilotage.web.api.selectors import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadCursor,
    decode_cursor,
    encode_cursor,
    record_get,
    records_list,
    row_document,
    utc,
)
from pilotage.web.api.services import (
    Conflict,
    NotFound,
    RowsInvalid,
    WriteForbidden,
    record_create,
    record_delete,
    record_patch,
    record_replace,
    records_upsert,
)
from pilotage.web.audit.models import AuditEntry
from pilotage.web.audit.selectors import audit_entries
from pilotage.web.crm.services.importing import stored_company_settings

try:  # django-ninja >= 1.5 prefers Status(code, body) to a (code, body) tuple
    from ninja import Status as _Status

    def status(code: int, body: Any) -> Any:
        return _Status(code, body)

except ImportError:  # pragma: no cover - older django-ninja

    def status(code: int, body: Any) -> Any:
        return code, body


ERRORS = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429, 503})
BIGINT = 2**63 - 1


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class StrictJsonParser(Parser):
    """Standard JSON only: Python's parser accepts NaN and Infinity, no database does."""

    def parse_body(self, request: HttpRequest) -> Any:
        return json.loads(request.body, parse_constant=_no_constant)


api = NinjaAPI(
    parser=StrictJsonParser(),
    title="Pilotage API",
    version="1",
    description="The CRM's contract tables, KPIs, attribution, levers, scores, imports "
    "and audit log. Authenticate with `Authorization: Bearer <token>` (`pilotage token "
    "create USER`) or a browser session. Errors are `{error, message, details}`.",
    auth=[TokenAuth(), SessionCsrfAuth()],
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
    # Swagger UI from the package's own static files ("ninja" is an installed app), and
    # no call to validator.swagger.io: the docs page loads nothing from outside.
    docs=Swagger(settings={"validatorUrl": None}),
)
install_handlers(api)


def _data_error(request: HttpRequest, exc: Any) -> HttpResponse:
    return error_response(422, "invalid_input", "a value does not fit its column")


api.add_exception_handler(DataError, _data_error)


def _translate(error: Exception) -> ApiError:
    if isinstance(error, RowsInvalid):
        details = [p.to_json() for p in error.problems[:10_000]]
        return ApiError(
            422,
            "invalid_rows",
            f"{len(error.problems)} problem(s): nothing was written",
            details,
        )
    if isinstance(error, WriteForbidden):
        return ApiError(403, "forbidden", str(error))
    if isinstance(error, NotFound):
        return ApiError(404, "not_found", str(error))
    if isinstance(error, Conflict):
        return ApiError(409, "conflict", str(error))
    raise error


def _path_id(table: str, value: Any) -> Any:
    """A row id from the URL; a value that cannot be an id is simply not found."""
    if table in SURROGATE_TABLES:
        if not isinstance(value, int) or not 0 < value <= BIGINT:
            raise ApiError(404, "not_found", f"no {table} row {value!r}")
        return value
    try:
        return check_text(str(value))
    except ValueError:
        raise ApiError(404, "not_found", f"no {table} row {value!r}") from None


def _filters_model(schemas: TableSchemas) -> type[StrictModel]:
    fields: dict[str, Any] = {}
    for name, kind in schemas.filter_types.items():
        if kind is int:
            fields[name] = (int | None, Field(None, ge=-BIGINT, le=BIGINT))
        else:
            fields[name] = (kind | None, None)
    model: type[StrictModel] = create_model(
        f"{''.join(p.capitalize() for p in schemas.table.name.split('_'))}Filters",
        __base__=StrictModel,
        limit=(int, Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)),
        cursor=(str | None, Field(None, max_length=2000)),
        **fields,
    )
    return model


def _check_query(request: HttpRequest, allowed: set[str]) -> None:
    unknown = sorted(set(request.GET.keys()) - allowed)
    if unknown:
        raise ApiError(
            422,
            "invalid_input",
            f"unknown query parameter(s): {', '.join(unknown)}",
            [{"loc": ["query", name], "msg": "unknown parameter"} for name in unknown],
        )


def _table_router(table: str) -> Router:
    schemas = SCHEMAS[table]
    router = Router(tags=[table])
    Filters = _filters_model(schemas)
    allowed = set(Filters.model_fields)
    Out = schemas.out
    In = schemas.create
    Patch = schemas.patch
    Batch = schemas.batch
    IdType: Any = int if table in SURROGATE_TABLES else str
    id_label = "the database id" if table in SURROGATE_TABLES else schemas.table.key[0]

    def list_rows(request: HttpRequest, filters: Query[Filters]) -> Any:  # type: ignore[valid-type]
        _check_query(request, allowed)
        values = filters.model_dump()  # type: ignore[attr-defined]
        limit = values.pop("limit")
        cursor = values.pop("cursor")
        try:
            page = records_list(
                user=request.user, table=table, filters=values, limit=limit, cursor=cursor
            )
        except BadCursor as error:
            raise ApiError(400, "invalid_cursor", str(error)) from None
        return {"items": page.items, "next": page.next}

    def create_row(request: HttpRequest, row: In) -> Any:  # type: ignore[valid-type]
        try:
            obj = record_create(
                actor=actor_of(request),
                table=table,
                values=row.model_dump(),  # type: ignore[attr-defined]
            )
        except (RowsInvalid, WriteForbidden, NotFound, Conflict) as error:
            raise _translate(error) from None
        return status(201, row_document(table, obj))

    def get_row(request: HttpRequest, row_id: IdType) -> Any:
        obj = record_get(user=request.user, table=table, pk=_path_id(table, row_id))
        if obj is None:
            raise ApiError(404, "not_found", f"no {table} row {row_id!r}")
        return row_document(table, obj)

    def put_row(request: HttpRequest, row_id: IdType, row: In) -> Any:  # type: ignore[valid-type]
        try:
            obj = record_replace(
                actor=actor_of(request),
                table=table,
                pk=_path_id(table, row_id),
                values=row.model_dump(),  # type: ignore[attr-defined]
            )
        except (RowsInvalid, WriteForbidden, NotFound, Conflict) as error:
            raise _translate(error) from None
        return row_document(table, obj)

    def patch_row(request: HttpRequest, row_id: IdType, row: Patch) -> Any:  # type: ignore[valid-type]
        try:
            obj = record_patch(
                actor=actor_of(request),
                table=table,
                pk=_path_id(table, row_id),
                changes=row.model_dump(exclude_unset=True),  # type: ignore[attr-defined]
            )
        except (RowsInvalid, WriteForbidden, NotFound, Conflict) as error:
            raise _translate(error) from None
        return row_document(table, obj)

    def delete_row(request: HttpRequest, row_id: IdType) -> Any:
        try:
            record_delete(actor=actor_of(request), table=table, pk=_path_id(table, row_id))
        except (WriteForbidden, NotFound) as error:
            raise _translate(error) from None
        return status(204, None)

    def batch_rows(request: HttpRequest, batch: Batch) -> Any:  # type: ignore[valid-type]
        rows = [
            row.model_dump(exclude_unset=True)
            for row in batch.rows  # type: ignore[attr-defined]
        ]
        try:
            result = records_upsert(actor=actor_of(request), table=table, rows=rows)
        except (RowsInvalid, WriteForbidden, NotFound, Conflict) as error:
            raise _translate(error) from None
        return {
            "rows": result.rows,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }

    base = f"/{table}"
    item = f"/{table}/{{row_id}}"
    router.add_api_operation(
        base,
        ["GET"],
        list_rows,
        response={200: schemas.page, ERRORS: ErrorOut},
        operation_id=f"{table}_list",
        summary=f"List {table} (filter by any column; cursor pagination)",
    )
    router.add_api_operation(
        base,
        ["POST"],
        create_row,
        response={201: Out, ERRORS: ErrorOut},
        operation_id=f"{table}_create",
        summary=f"Create one {table} row",
    )
    router.add_api_operation(
        f"{base}/batch",
        ["POST"],
        batch_rows,
        response={200: BatchOut, ERRORS: ErrorOut},
        operation_id=f"{table}_batch",
        summary=f"Upsert up to 10,000 {table} rows, all or nothing",
    )
    router.add_api_operation(
        item,
        ["GET"],
        get_row,
        response={200: Out, ERRORS: ErrorOut},
        operation_id=f"{table}_get",
        summary=f"One {table} row by {id_label}",
    )
    router.add_api_operation(
        item,
        ["PUT"],
        put_row,
        response={200: Out, ERRORS: ErrorOut},
        operation_id=f"{table}_replace",
        summary=f"Replace one {table} row",
    )
    router.add_api_operation(
        item,
        ["PATCH"],
        patch_row,
        response={200: Out, ERRORS: ErrorOut},
        operation_id=f"{table}_update",
        summary=f"Change some columns of one {table} row",
    )
    router.add_api_operation(
        item,
        ["DELETE"],
        delete_row,
        response={204: None, ERRORS: ErrorOut},
        operation_id=f"{table}_delete",
        summary=f"Delete one {table} row",
    )
    return router


# `from` is a Python keyword: the parameters are named start / end and aliased.
FROM_PARAMETER: Any = Query(None, alias="from")  # type: ignore[type-arg]
TO_PARAMETER: Any = Query(None, alias="to")  # type: ignore[type-arg]
LIMIT_PARAMETER: Any = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)  # type: ignore[type-arg]

# The score route before the tables' routes: /contacts/{id}/score is more specific.
analytics_router = Router(tags=["analytics"])


def _require_analytics(request: HttpRequest) -> None:
    if not permissions.can_read_analytics(request.user):
        raise ApiError(403, "forbidden", "company-wide analytics are for managers and admins")


@analytics_router.get(
    "/contacts/{contact_id}/score",
    response={200: ScoreOut, ERRORS: ErrorOut},
    operation_id="contact_score",
    summary="The score of one contact, with its reasons",
)
def contact_score(request: HttpRequest, contact_id: str) -> Any:
    contact = record_get(user=request.user, table="contacts", pk=_path_id("contacts", contact_id))
    if contact is None:
        raise ApiError(404, "not_found", f"no contact {contact_id!r}")
    return analytics.contact_score_document(contact_id=contact.pk)


@analytics_router.get(
    "/kpis",
    response={200: AnalyticsOut, ERRORS: ErrorOut},
    operation_id="kpis",
    summary="KPIs (the document of `pilotage kpi --format json`)",
)
def kpis(
    request: HttpRequest,
    grain: str = "quarter",
    start: dt.date | None = FROM_PARAMETER,
    end: dt.date | None = TO_PARAMETER,
    by: str | None = None,
    kpi: str | None = None,
    as_of: str | None = None,
) -> Any:
    _check_query(request, {"grain", "from", "to", "by", "kpi", "as_of"})
    _require_analytics(request)
    return analytics.kpis_document(grain=grain, start=start, end=end, by=by, kpi=kpi, as_of=as_of)


@analytics_router.get(
    "/attribution",
    response={200: AnalyticsOut, ERRORS: ErrorOut},
    operation_id="attribution",
    summary="Attribution, CAC, ROAS, ROI (the document of `pilotage attribution`)",
)
def attribution(
    request: HttpRequest,
    model: str | None = None,
    by: str = "campaign",
    grain: str = "quarter",
    start: dt.date | None = FROM_PARAMETER,
    end: dt.date | None = TO_PARAMETER,
    as_of: str | None = None,
) -> Any:
    _check_query(request, {"model", "by", "grain", "from", "to", "as_of"})
    _require_analytics(request)
    return analytics.attribution_document(
        model=model, by=by, grain=grain, start=start, end=end, as_of=as_of
    )


@analytics_router.get(
    "/levers",
    response={200: AnalyticsOut, ERRORS: ErrorOut},
    operation_id="levers",
    summary="Scale / cut / watch per channel and campaign (`pilotage levers`)",
)
def levers(
    request: HttpRequest,
    start: dt.date | None = FROM_PARAMETER,
    end: dt.date | None = TO_PARAMETER,
    as_of: str | None = None,
    model: str | None = None,
) -> Any:
    _check_query(request, {"from", "to", "as_of", "model"})
    _require_analytics(request)
    return analytics.levers_document(start=start, end=end, as_of=as_of, model=model)


imports_router = Router(tags=["imports"])


def _job_document(job: ImportJob) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "status": job.status,
        "file_name": job.file_name,
        "allow_rejects": job.allow_rejects,
        "progress": imports.import_job_progress(job),
        "tables": job.tables,
        "rejects": job.rejects,
        "rejects_count": job.rejects_count,
        "message": job.message,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@imports_router.post(
    "/imports",
    response={202: ImportJobOut, ERRORS: ErrorOut},
    operation_id="import_start",
    summary="Upload a CSV, Excel workbook or zipped contract folder to import",
)
def import_start(
    request: HttpRequest,
    file: UploadedFile = File(...),  # type: ignore[type-arg]  # noqa: B008
    table: str | None = Form(None),  # type: ignore[type-arg]
    allow_rejects: bool = Form(False),  # type: ignore[type-arg]  # noqa: FBT003
) -> Any:
    actor = actor_of(request)
    if actor.read_only:
        raise ApiError(403, "forbidden", "this token is read-only")
    if not permissions.can_import(request.user):
        raise ApiError(403, "forbidden", "imports are for admins")
    try:
        job = imports.import_job_start(
            user=request.user, upload=file, table=table, allow_rejects=allow_rejects
        )
    except imports.UploadRefused as error:
        raise ApiError(error.status, error.code, error.message) from None
    return status(202, _job_document(job))


@imports_router.get(
    "/imports/{job_id}",
    response={200: ImportJobOut, ERRORS: ErrorOut},
    operation_id="import_status",
    summary="An import job: status, progress, per-table counts, rejects",
)
def import_status(request: HttpRequest, job_id: uuid.UUID) -> Any:
    if not permissions.can_import(request.user):
        raise ApiError(404, "not_found", "no such import job")
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, "not_found", "no such import job")
    return _job_document(job)


audit_router = Router(tags=["audit"])


@audit_router.get(
    "/audit",
    response={200: AuditPage, ERRORS: ErrorOut},
    operation_id="audit_list",
    summary="The audit log, newest first (admins)",
)
def audit_list(
    request: HttpRequest,
    table: str | None = None,
    object_id: str | None = None,
    username: str | None = None,
    door: str | None = None,
    since: dt.datetime | None = None,
    limit: int = LIMIT_PARAMETER,
    cursor: str | None = None,
) -> Any:
    _check_query(request, {"table", "object_id", "username", "door", "since", "limit", "cursor"})
    if not permissions.can_read_audit(request.user):
        raise ApiError(403, "forbidden", "the audit log is for admins")
    for text in (table, object_id, username, door, cursor):
        if text is not None:
            try:
                check_text(text)
            except ValueError as error:
                raise ApiError(422, "invalid_input", str(error)) from None
    try:
        before = int(decode_cursor("audit", cursor)) if cursor else None
    except BadCursor as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    with transaction.atomic():  # a savepoint, as in records_list
        entries: list[AuditEntry] = list(
            audit_entries(
                table=table,
                object_id=object_id,
                username=username,
                door=door,
                since=utc(since, stored_company_settings().zone),
                before_id=before,
            )[: limit + 1]
        )
    following = encode_cursor("audit", entries[limit - 1].pk) if len(entries) > limit else None
    return {
        "items": [
            {
                "id": e.pk,
                "at": e.at,
                "username": e.username,
                "door": e.door,
                "action": e.action,
                "table": e.table,
                "object_id": e.object_id,
                "changes": e.changes,
            }
            for e in entries[:limit]
        ],
        "next": following,
    }


api.add_router("", analytics_router)
api.add_router("", imports_router)
api.add_router("", audit_router)
for _table in SCHEMAS:
    api.add_router("", _table_router(_table))
