"""Shared test set-up: a private Pilotage home, Django settings, contract-folder helpers."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings as django_settings

# Before anything imports Django or reads the home folder: tests never touch the user's.
os.environ.setdefault("PILOTAGE_HOME", tempfile.mkdtemp(prefix="pilotage-test-home-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pilotage.web.settings")
# No background cache warming in the test process (a thread reading the test database
# while a test writes it): tests that warm call it themselves, or set "sync".
os.environ.setdefault("PILOTAGE_CACHE_WARMING", "off")
# pytest-django loads the settings in its early hook, before this file: the variable set
# above only reaches subprocesses, so the setting itself is switched off too (else the
# first import of pilotage.web.wsgi, as by the Schemathesis test, would start a warmer
# thread that outlives its test and warms under the next ones' feet).
django_settings.PILOTAGE_CACHE_WARMING = "off"
# Each test starts with the results it computes: the tests of results kept on disk
# across restarts switch it on (`settings` fixture).
os.environ.setdefault("PILOTAGE_RESULTS_ON_DISK", "0")
django_settings.PILOTAGE_RESULTS_ON_DISK = False
# Pages render in the request's thread, where the test's transaction is (the tests of the
# page budget set one).
os.environ.setdefault("PILOTAGE_PAGE_BUDGET_SECONDS", "")
django_settings.PILOTAGE_PAGE_BUDGET_SECONDS = None

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"

FolderWriter = Callable[..., Path]


@pytest.fixture
def write_folder(tmp_path: Path) -> FolderWriter:
    """Write a contract folder from {table: csv text}; returns its path."""
    counter = {"n": 0}

    def write(tables: dict[str, str], settings: str | None = None) -> Path:
        counter["n"] += 1
        folder = tmp_path / f"folder{counter['n']}"
        folder.mkdir()
        for name, text in tables.items():
            (folder / f"{name}.csv").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        if settings is not None:
            (folder / "pilotage.toml").write_text(textwrap.dedent(settings), encoding="utf-8")
        return folder

    return write
