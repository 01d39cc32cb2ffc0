"""Personal API tokens: creation (shown once), lookup by prefix, constant-time check of the
stored hash, revocation and last-used time.

A token reads `pil_<prefix>_<secret>`: 8 hex characters of lookup prefix and a 32-byte
random secret (URL-safe base64). The database keeps the prefix and the SHA-256 of the whole
token; a stolen database copy gives no usable token. SHA-256 rather than a slow password
hash: the secret has 256 bits of entropy, so there is nothing to brute-force, and every API
request checks a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from pilotage.web.accounts.models import ApiToken
from pilotage.web.audit.services import Door, audit_record

TOKEN_PREFIX = "pil_"
# last_used_at is written at most this often per token: not one UPDATE per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def _split(plaintext: str) -> str | None:
    """The lookup prefix of a well-formed token, else None."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = plaintext[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not secret or len(plaintext) > 200:
        return None
    return prefix


@transaction.atomic
def token_create(
    *,
    user: AbstractBaseUser,
    name: str = "",
    read_only: bool = False,
    door: Door = "cli",
    actor: AbstractBaseUser | None = None,
) -> NewToken:
    """A new token for `user`; the plaintext is in the result and nowhere else."""
    while True:
        prefix = secrets.token_hex(4)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,  # type: ignore[misc]  # AUTH_USER_MODEL is Django's User
        name=name,
        prefix=prefix,
        token_hash=hash_token(plaintext),
        read_only=read_only,
    )
    audit_record(
        user=actor,
        door=door,
        action="create",
        table="api_tokens",
        object_id=str(token.pk),
        before=None,
        after={"user": user.get_username(), "prefix": prefix, "read_only": read_only},
    )
    return NewToken(token, plaintext)


@transaction.atomic
def token_revoke(
    *, prefix: str, door: Door = "cli", actor: AbstractBaseUser | None = None
) -> ApiToken:
    """Revoke the token with this prefix (`pil_<prefix>_...`, or just the prefix).
    Raises ApiToken.DoesNotExist when there is none."""
    if prefix.startswith(TOKEN_PREFIX):
        prefix = prefix[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_for_update().get(prefix=prefix)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            user=actor,
            door=door,
            action="update",
            table="api_tokens",
            object_id=str(token.pk),
            before={"revoked_at": None},
            after={"revoked_at": token.revoked_at.isoformat()},
        )
    return token


def token_authenticate(plaintext: str) -> ApiToken | None:
    """The active token matching `plaintext` (its user loaded), else None; updates its
    last-used time (at most once a minute)."""
    prefix = _split(plaintext)
    if prefix is None:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_hash, hash_token(plaintext)):
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
