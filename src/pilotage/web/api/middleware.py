"""Request size limits, before Django reads a body: 413 with the API's error format; and
the framework's own 404 and 405 under /api/ in that format too.

JSON bodies: PILOTAGE_MAX_REQUEST_BYTES (default 32 MB: a 10,000-row batch is a few MB).
Uploads to /api/v1/imports: PILOTAGE_MAX_UPLOAD_BYTES (default 200 MB).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from pilotage.web.api.errors import error_response

MULTIPART_OVERHEAD = 64 * 1024


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "bad_request", "invalid Content-Length")
        if request.path.startswith("/api/v1/imports"):
            limit = int(settings.PILOTAGE_MAX_UPLOAD_BYTES) + MULTIPART_OVERHEAD
        else:
            limit = int(settings.PILOTAGE_MAX_REQUEST_BYTES)
        if length > limit:
            return error_response(
                413, "too_large", f"the request body is larger than {limit} bytes"
            )
        return self.get_response(request)


# Django and the API framework answer an unknown path with an HTML page and a method a
# route does not take with plain text; interfaces.md: every API error is JSON.
_FRAMEWORK_ERRORS = {
    404: ("not_found", "no such endpoint: see /api/v1/docs"),
    405: ("method_not_allowed", "this endpoint does not take {method}"),
}


class ApiJsonErrorsMiddleware:
    """Under /api/, a 404 or 405 that is not already the API's JSON error becomes one
    (keeping `Allow` on a 405)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        known = _FRAMEWORK_ERRORS.get(response.status_code)
        if (
            known is None
            or not request.path.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        code, message = known
        allow = {"Allow": response["Allow"]} if response.has_header("Allow") else None
        return error_response(
            response.status_code, code, message.format(method=request.method), headers=allow
        )
