"""Reads for the home page."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from pilotage.web.accounts.models import Profile, Role
from pilotage.web.crm.models import Contact, Deal, Order


@dataclass(frozen=True)
class HomeSummary:
    role: str
    contacts: int
    open_deals: int
    orders: int


def user_role(user: AbstractBaseUser | AnonymousUser) -> str:
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    if user.pk is None:
        return Role.REP
    profile = Profile.objects.filter(user_id=user.pk).first()
    return profile.role if profile else Role.REP


def home_summary(user: AbstractBaseUser | AnonymousUser) -> HomeSummary:
    return HomeSummary(
        role=user_role(user),
        contacts=Contact.objects.count(),
        open_deals=Deal.objects.filter(status="open").count(),
        orders=Order.objects.count(),
    )
