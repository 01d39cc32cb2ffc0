"""Who may see and change what: the one place where the scoping rules live.

The API uses it now, the web pages and the exports will use it too: never filter by role
anywhere else.

Rules
- admin (a superuser, or a profile with role admin): every row of every table.
- manager: the contacts owned by a rep of its team (reps.team = profile.team) and every
  row attached to those contacts (stage changes, interactions, deals, orders,
  subscriptions); the reps of its team; all campaigns; all spend (budgets are a manager's
  business); company-wide analytics.
- rep: the contacts it owns (contacts.owner_id = profile.rep) and every row attached to
  them; its own reps row; all campaigns (to tag its contacts); no spend; no analytics
  (company-wide figures would show other reps' numbers).
- Writes: contacts and their rows within the same scope, and a written contact must stay in
  the writer's scope (a rep cannot hand a contact to someone else). reps, campaigns and
  spend are written by admins only. A read-only token never writes.
- A user without a profile (and not a superuser), a manager without a team or a rep not
  linked to a reps row sees nothing.
A row outside the user's scope does not exist for that user: the API answers 404, and a
reference to it is reported as an unknown id, exactly as for an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import Q, QuerySet

from pilotage.web.accounts.models import Profile, Role
from pilotage.web.crm.models import CONTRACT_MODELS, Contact, Rep

AnyUser = AbstractBaseUser | AnonymousUser

# Tables whose rows hang off a contact (their scope is their contact's).
CONTACT_CHILD_TABLES = ("stage_changes", "interactions", "deals", "orders", "subscriptions")
ADMIN_ONLY_WRITES = ("reps", "campaigns", "spend")


@dataclass(frozen=True)
class Scope:
    """What a user is, for the rules above."""

    role: str | None  # None: anonymous or no profile
    rep_id: str | None = None
    team: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


NO_SCOPE = Scope(role=None)
_CACHE_ATTRIBUTE = "_pilotage_scope"


def scope_of(user: AnyUser | None) -> Scope:
    """The user's role, rep and team (cached on the user object for the request)."""
    if user is None or not user.is_authenticated:
        return NO_SCOPE
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if isinstance(cached, Scope):
        return cached
    if getattr(user, "is_superuser", False):
        scope = Scope(role=Role.ADMIN)
    else:
        profile = Profile.objects.filter(user_id=user.pk).first()
        if profile is None:
            scope = NO_SCOPE
        else:
            scope = Scope(role=profile.role, rep_id=profile.rep_id, team=profile.team)
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def visible_reps(user: AnyUser | None) -> QuerySet[Rep]:
    scope = scope_of(user)
    reps = Rep.objects.all()
    if scope.is_admin:
        return reps
    if scope.role == Role.MANAGER and scope.team:
        return reps.filter(team=scope.team)
    if scope.role == Role.REP and scope.rep_id:
        return reps.filter(rep_id=scope.rep_id)
    return reps.none()


def _contact_condition(scope: Scope, prefix: str = "") -> Q | None:
    """The condition on contacts (through `prefix`, e.g. 'contact__') of the scope; None
    means everything."""
    if scope.is_admin:
        return None
    if scope.role == Role.MANAGER and scope.team:
        return Q(**{f"{prefix}owner__team": scope.team})
    if scope.role == Role.REP and scope.rep_id:
        return Q(**{f"{prefix}owner_id": scope.rep_id})
    return Q(pk__in=[])


def visible_contacts(user: AnyUser | None) -> QuerySet[Contact]:
    condition = _contact_condition(scope_of(user))
    contacts = Contact.objects.all()
    return contacts if condition is None else contacts.filter(condition)


def visible(user: AnyUser | None, table: str) -> QuerySet[Any]:
    """The rows of the contract table `table` the user may read."""
    model = CONTRACT_MODELS[table]
    scope = scope_of(user)
    rows: QuerySet[Any] = model._default_manager.all()
    if scope.role is None:
        return rows.none()
    if table == "contacts":
        return visible_contacts(user)
    if table == "reps":
        return visible_reps(user)
    if table == "campaigns":
        return rows
    if table == "spend":
        return rows if scope.role in (Role.ADMIN, Role.MANAGER) else rows.none()
    condition = _contact_condition(scope, "contact__")
    return rows if condition is None else rows.filter(condition)


def can_read_table(user: AnyUser | None, table: str) -> bool:
    scope = scope_of(user)
    if scope.role is None:
        return False
    return not (table == "spend" and scope.role == Role.REP)


def can_write_table(user: AnyUser | None, table: str) -> bool:
    """Whether the user may write some rows of `table` at all (before looking at rows)."""
    scope = scope_of(user)
    if scope.role is None:
        return False
    if table in ADMIN_ONLY_WRITES:
        return scope.is_admin
    return scope.is_admin or bool(
        (scope.role == Role.MANAGER and scope.team) or (scope.role == Role.REP and scope.rep_id)
    )


def owner_allowed(user: AnyUser | None, owner_id: str | None) -> bool:
    """Whether a contact owned by `owner_id` is (still) in the user's scope."""
    scope = scope_of(user)
    if scope.is_admin:
        return True
    if owner_id is None:
        return False
    if scope.role == Role.REP:
        return owner_id == scope.rep_id
    if scope.role == Role.MANAGER and scope.team:
        return Rep.objects.filter(rep_id=owner_id, team=scope.team).exists()
    return False


def can_write(user: AnyUser | None, obj: models.Model) -> bool:
    """Whether the user may change or delete this stored row (as it is now)."""
    table = str(obj._meta.db_table)
    if not can_write_table(user, table):
        return False
    if scope_of(user).is_admin:
        return True
    if table == "contacts":
        return owner_allowed(user, getattr(obj, "owner_id", None))
    if table in CONTACT_CHILD_TABLES:
        return visible_contacts(user).filter(pk=getattr(obj, "contact_id", None)).exists()
    return False


def can_read_analytics(user: AnyUser | None) -> bool:
    """Company-wide KPIs, attribution and levers."""
    return scope_of(user).role in (Role.ADMIN, Role.MANAGER)


def can_import(user: AnyUser | None) -> bool:
    """Folder imports load whole tables, beyond any scope: admins only."""
    return scope_of(user).is_admin


def can_read_audit(user: AnyUser | None) -> bool:
    return scope_of(user).is_admin
