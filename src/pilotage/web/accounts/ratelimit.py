"""Rate limits: failed log-ins (per user name and per client address) and API requests
(per token, or per user for session requests).

Counters live in Django's cache. The default cache is the local-memory one: correct for
one server process (`pilotage serve` runs one process with threads); with several
processes, configure a shared cache (CACHES, e.g. Redis or the database cache) so that
they share the counters. Fixed windows: simple, and a burst at a window edge is at most
twice the limit.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"pilotage:rl:{kind}:{digest}"


def _increment(key: str, window: int) -> int:
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


# -- log-in -------------------------------------------------------------------------------


def login_limits() -> tuple[int, int]:
    return (
        int(getattr(settings, "PILOTAGE_LOGIN_MAX_FAILURES", 10)),
        int(getattr(settings, "PILOTAGE_LOGIN_WINDOW_SECONDS", 15 * 60)),
    )


def client_address(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy
    # rewrites it, and trusting it would let anyone pick their own counter.
    return str(request.META.get("REMOTE_ADDR", ""))


def login_blocked(username: str, address: str) -> bool:
    maximum, _window = login_limits()
    keys = [_key("login-user", username.lower())]
    if address:
        keys.append(_key("login-ip", address))
    return any(int(cache.get(key, 0)) >= maximum for key in keys)


def login_failed(username: str, address: str) -> None:
    _maximum, window = login_limits()
    _increment(_key("login-user", username.lower()), window)
    if address:
        _increment(_key("login-ip", address), window)


def login_succeeded(username: str) -> None:
    cache.delete(_key("login-user", username.lower()))


class ThrottledModelBackend(ModelBackend):
    """Django's user/password check, refused outright after too many failures for the
    user name or from the address (10 per 15 minutes by default), and counting failures.
    Every log-in (the web form, the admin) goes through it."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get("username")
        name = str(username or "")
        address = client_address(request)
        if login_blocked(name, address):
            # PermissionDenied stops the other backends too: the form shows its usual
            # "enter a correct user name and password" and the password is not checked.
            raise PermissionDenied("too many failed log-ins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failed(name, address)
        else:
            login_succeeded(name)
        return user


# -- API ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int  # seconds until the window resets (when not allowed)


def api_rate_limit() -> int:
    return int(getattr(settings, "PILOTAGE_API_RATE_LIMIT", 600))


def api_request_allowed(identity: str) -> RateDecision:
    """Count one request of `identity` (a token prefix or a user id) in the current
    minute; refuse beyond the limit (setting PILOTAGE_API_RATE_LIMIT per minute)."""
    window = 60
    now = time.time()
    bucket = int(now // window)
    count = _increment(_key("api", f"{identity}:{bucket}"), window + 5)
    if count > api_rate_limit():
        return RateDecision(False, max(1, int((bucket + 1) * window - now) + 1))
    return RateDecision(True, 0)
