"""The Django project around the analytical core: CRM models, web pages, API.

`setup(database_url)` configures Django for the command line and migrates the database.
"""

from __future__ import annotations

import os


def setup(database_url: str | None = None, *, migrate: bool = True) -> None:
    """Configure Django (once) for `database_url` (default: DATABASE_URL, else the embedded
    SQLite database) and bring the schema up to date."""
    import django
    from django.conf import settings

    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pilotage.web.settings")
    if not settings.configured or not _django_ready():
        django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def _django_ready() -> bool:
    from django.apps import apps

    return apps.ready
