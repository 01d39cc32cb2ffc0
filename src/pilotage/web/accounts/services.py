"""Writes on users and roles (each recorded in the audit log)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from pilotage.web.accounts.models import Profile, Role
from pilotage.web.audit.services import Door, audit_record


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


class UserError(ValueError):
    """A user cannot be created as asked (the message says why, for people)."""


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    rep_id: str | None = None,
    team: str | None = None,
    email: str = "",
    door: Door = "cli",
    actor: AbstractBaseUser | None = None,
) -> AbstractBaseUser:
    """A user with its profile. The password must pass the password policy
    (AUTH_PASSWORD_VALIDATORS: at least 12 characters, not common, not all digits, not
    like the user name)."""
    from pilotage.web.crm.models import Rep

    user_model = get_user_model()
    if role not in Role.values:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(Role.values)}")
    if not username or len(username) > 150:
        raise UserError("the user name must have 1 to 150 characters")
    if user_model.objects.filter(username=username).exists():
        raise UserError(f"user {username!r} already exists")
    rep = None
    if rep_id is not None:
        rep = Rep.objects.filter(rep_id=rep_id).first()
        if rep is None:
            raise UserError(f"unknown rep {rep_id!r} (not in the reps table)")
        if Profile.objects.filter(rep=rep).exists():
            raise UserError(f"rep {rep_id!r} is already linked to another user")
    if role == Role.REP and rep is None:
        raise UserError("a rep needs --rep-id (the reps row it is)")
    if role == Role.MANAGER and not team:
        raise UserError("a manager needs --team (the team it leads)")
    if role == Role.REP and team is None and rep is not None:
        team = rep.team
    candidate = user_model(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise UserError("; ".join(error.messages)) from None
    user = user_model.objects.create_user(username=username, email=email, password=password)
    if role == Role.ADMIN:
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    Profile.objects.create(user=user, role=role, rep=rep, team=team)
    audit_record(
        user=actor,
        door=door,
        action="create",
        table="users",
        object_id=str(user.pk),
        before=None,
        after={"username": username, "role": role, "rep_id": rep_id, "team": team},
    )
    return user
