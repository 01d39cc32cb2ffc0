"""Who sees what, for the pages: the rules live in `pilotage.web.accounts.permissions`
(a rep its own contacts, a manager its team's, an admin everyone's); this module only
adds the page-level questions asked in terms of those rules."""

from __future__ import annotations

from typing import Any

from pilotage.web.accounts.models import Role
from pilotage.web.accounts.permissions import (
    can_import,
    can_read_analytics,
    scope_of,
    visible,
    visible_contacts,
    visible_reps,
)

__all__ = [
    "can_import",
    "can_manage_company",
    "can_read_analytics",
    "rep_of",
    "scope_of",
    "visible",
    "visible_contacts",
    "visible_reps",
]


def can_manage_company(user: Any) -> bool:
    """Settings, targets and the scoring model: administrators only."""
    return scope_of(user).is_admin


def rep_of(user: Any) -> str | None:
    """The rep a user with the rep role is (its KPIs are its own), else None."""
    scope = scope_of(user)
    return scope.rep_id if scope.role == Role.REP else None
