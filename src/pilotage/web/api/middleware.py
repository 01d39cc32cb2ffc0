"""Request size limits, before Django reads a body: 413 with the API's error format.

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
