"""Who is calling: a personal token (`Authorization: Bearer ...`, CSRF-exempt: a browser
never sends it by itself) or the browser session (CSRF-checked on writes). Both are rate
limited per minute (per token, or per user for sessions)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from pilotage.web.accounts.ratelimit import api_request_allowed
from pilotage.web.accounts.tokens import token_authenticate
from pilotage.web.api.errors import ApiError
from pilotage.web.api.services import Actor


def _throttle(identity: str) -> None:
    decision = api_request_allowed(identity)
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            "too many requests: slow down",
            headers={"Retry-After": str(decision.retry_after)},
        )


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = token_authenticate(token)
        if found is None:
            return None
        _throttle(f"token:{found.prefix}")
        request.user = found.user
        request.pilotage_actor = Actor(  # type: ignore[attr-defined]
            user=found.user, door="api", read_only=found.read_only
        )
        return found.user


class SessionCsrfAuth(SessionAuth):
    """The Django session, CSRF-checked on unsafe methods (ninja's SessionAuth does it)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        _throttle(f"user:{user.pk}")
        request.pilotage_actor = Actor(user=user, door="api")  # type: ignore[attr-defined]
        return user


def actor_of(request: HttpRequest) -> Actor:
    actor = getattr(request, "pilotage_actor", None)
    if not isinstance(actor, Actor):
        raise ApiError(401, "unauthenticated", "authentication required")
    return actor
