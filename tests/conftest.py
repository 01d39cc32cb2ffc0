"""Shared test set-up: a private Pilotage home, Django settings, contract-folder helpers."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# Before anything imports Django or reads the home folder: tests never touch the user's.
os.environ.setdefault("PILOTAGE_HOME", tempfile.mkdtemp(prefix="pilotage-test-home-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pilotage.web.settings")

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
