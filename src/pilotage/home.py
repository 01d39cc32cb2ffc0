"""Where Pilotage keeps its files and which database it talks to.

Free of Django imports: the command line and the analytical core resolve the database
before (or without) configuring Django.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)


def data_home() -> Path:
    """The user's Pilotage folder (`PILOTAGE_HOME`, else the platform's user data dir)."""
    configured = os.environ.get("PILOTAGE_HOME")
    home = Path(configured) if configured else Path(platformdirs.user_data_dir("pilotage"))
    home.mkdir(parents=True, exist_ok=True)
    return home


# Files of `<PILOTAGE_HOME>/cache` (kept SQL, results kept across restarts) neither written
# nor read for this long are deleted (`prune_once`): a query or page nobody has asked for
# a month costs one computation if it is asked again.
CACHE_KEPT_DAYS = 30
_pruned: set[Path] = set()
_pruned_lock = threading.Lock()


def prune_once(folder: Path, kept_days: float = CACHE_KEPT_DAYS) -> int:
    """Delete the files under `folder` last modified more than `kept_days` ago (readers
    that reuse a file touch it), the first time a process asks for this folder; the
    number deleted. Without it the cache would grow with every period and setting ever
    asked. A file another process is reading may go: readers treat a missing file as a
    miss."""
    with _pruned_lock:
        if folder in _pruned:
            return 0
        _pruned.add(folder)
    oldest = time.time() - kept_days * 86_400
    deleted = 0
    try:
        paths = [path for path in folder.rglob("*") if path.is_file()]
    except OSError:
        return 0
    for path in paths:
        try:
            if path.stat().st_mtime < oldest:
                path.unlink()
                deleted += 1
        except OSError:
            continue  # gone meanwhile, or not ours to delete: left as it is
    if deleted:
        logger.info(
            "deleted %d cached files unused for %g days from %s", deleted, kept_days, folder
        )
    return deleted


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
