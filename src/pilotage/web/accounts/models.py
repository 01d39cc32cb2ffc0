"""Users of the CRM, their role and their link to the sales team (reps)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Manager")
    REP = "rep", _("Sales rep")


class Profile(models.Model):
    """What a user may see: a rep its own contacts, a manager its team's, an admin all."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    rep = models.OneToOneField(
        "crm.Rep",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="user_profile",
        help_text="the sales rep this user is (for the rep role)",
    )
    team = models.TextField(
        null=True, blank=True, help_text="the team a manager leads, or a rep belongs to"
    )

    class Meta:
        db_table = "user_profiles"

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class ApiToken(models.Model):
    """A personal API token (`Authorization: Bearer pil_<prefix>_<secret>`).

    Only the SHA-256 of the whole token is stored: the token is shown once, at creation.
    The prefix is stored in clear to find the row without scanning, and to name the token
    in lists and in `pilotage token revoke`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.user})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
