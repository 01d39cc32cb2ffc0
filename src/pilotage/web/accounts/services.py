"""Writes on users and roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from pilotage.web.accounts.models import Profile, Role


@transaction.atomic
def demo_user_ensure(*, username: str, password: str) -> None:
    """The demo administrator. Only `pilotage demo` calls this, on the demo's own database:
    its weak password is set directly, bypassing the password policy on purpose."""
    user_model = get_user_model()
    user, _created = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = True
    user.is_superuser = True
    user.save()
    Profile.objects.update_or_create(user=user, defaults={"role": Role.ADMIN})
