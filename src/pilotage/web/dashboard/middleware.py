"""Web pages may show the figures computed before the last write while the cache warmer
recomputes them (`cache.stale_allowed`); the API never does."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from pilotage.web.dashboard import cache


class StaleFiguresMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or request.path.startswith("/api/"):
            return self.get_response(request)
        with cache.stale_allowed():
            return self.get_response(request)


def figures_updating(request: HttpRequest) -> dict[str, object]:
    """Template context: `figures_stale_since`, when the page shows figures computed
    before the last write (base.html then says they are being updated)."""
    return {"figures_stale_since": cache.stale_since()}
