"""Where Pilotage keeps its files and which database it talks to.

Free of Django imports: the command line and the analytical core resolve the database
before (or without) configuring Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import platformdirs


def data_home() -> Path:
    """The user's Pilotage folder (`PILOTAGE_HOME`, else the platform's user data dir)."""
    configured = os.environ.get("PILOTAGE_HOME")
    home = Path(configured) if configured else Path(platformdirs.user_data_dir("pilotage"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def embedded_database_path() -> Path:
    return data_home() / "pilotage.db"


def database_url() -> str:
    """`DATABASE_URL` when set, else the embedded SQLite database in the data folder."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{embedded_database_path()}"


def secret_key() -> str:
    """`PILOTAGE_SECRET_KEY`, else a random key made once per installation and kept in the
    data folder (readable by its owner only): never a key from the repository."""
    configured = os.environ.get("PILOTAGE_SECRET_KEY")
    if configured:
        return configured
    path = data_home() / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()
