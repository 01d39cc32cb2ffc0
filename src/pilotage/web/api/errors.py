"""Every API error is `{"error": code, "message": ..., "details": [...]}` with a 4xx code
(503 when the database is unreachable). Bad input never gives a 500."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    response = JsonResponse(
        {"error": code, "message": message, "details": details or []}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error without the parts that may not be JSON (ctx) or may be huge
    (the input)."""
    location = [str(part) for part in error.get("loc", ())]
    return {"loc": location, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}


def install_handlers(api: NinjaAPI) -> None:
    def api_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    def validation_error(request: HttpRequest, exc: Any) -> HttpResponse:
        details = [_plain(e) for e in exc.errors[:200]]
        return error_response(422, "invalid_input", "the request does not fit the API", details)

    def authentication_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            401,
            "unauthenticated",
            "authenticate with 'Authorization: Bearer <token>' or a session",
            headers={"WWW-Authenticate": 'Bearer realm="pilotage"'},
        )

    def http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        status = exc.status_code
        message = str(exc.message)
        if status == 400 and "parse" in message.lower():
            return error_response(400, "malformed_json", "the body is not valid JSON")
        return error_response(status, CODES.get(status, "error"), message)

    def not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(404, "not_found", "no such resource")

    def too_big(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(413, "too_large", "the request body is too large")

    def suspicious(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(400, "bad_request", "the request was refused")

    def database_down(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.warning("database unavailable: %s", exc)
        return error_response(
            503,
            "unavailable",
            "the database is unavailable; retry (a batch upsert is safe to repeat)",
            headers={"Retry-After": "1"},
        )

    def unexpected(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.exception("API error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error happened")

    api.add_exception_handler(Exception, unexpected)
    api.add_exception_handler(OperationalError, database_down)
    api.add_exception_handler(InterfaceError, database_down)
    api.add_exception_handler(SuspiciousOperation, suspicious)
    api.add_exception_handler(RequestDataTooBig, too_big)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(HttpError, http_error)
    api.add_exception_handler(AuthenticationError, authentication_error)
    api.add_exception_handler(ValidationError, validation_error)
    api.add_exception_handler(ApiError, api_error)
