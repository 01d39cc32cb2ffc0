"""Files of `<PILOTAGE_HOME>/cache` unused for `CACHE_KEPT_DAYS` are deleted
(`home.prune_once`), by the first write of a process; kept SQL that is read stays."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import contacts, orders

from pilotage import home
from pilotage.contract.schema import TABLE_NAMES
from pilotage.engine import compute as compute_module
from pilotage.engine.backends import from_frames
from pilotage.engine.compute import compute_kpis


def _aged(path: Path, days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("{}")
    moment = time.time() - days * 86_400
    os.utime(path, (moment, moment))
    return path


@pytest.fixture
def fresh_process(tmp_path, monkeypatch):
    """A Pilotage folder of its own, as a new process finds it (nothing pruned yet)."""
    monkeypatch.setenv("PILOTAGE_HOME", str(tmp_path))
    monkeypatch.setattr(home, "_pruned", set())
    compute_module._batches._entries.clear()
    return tmp_path


def test_old_files_go_recent_ones_stay(fresh_process):
    folder = fresh_process / "cache" / "results"
    old = _aged(folder / "db1" / "kpi-old.pickle", home.CACHE_KEPT_DAYS + 1)
    leftover = _aged(folder / "db2" / "tmp123.part", home.CACHE_KEPT_DAYS + 5)
    recent = _aged(folder / "db1" / "kpi-recent.pickle", home.CACHE_KEPT_DAYS - 1)
    assert home.prune_once(folder) == 2
    assert not old.exists()
    assert not leftover.exists()
    assert recent.exists()
    # Once per process and folder: a file aged since is left for the next process.
    _aged(recent, home.CACHE_KEPT_DAYS + 1)
    assert home.prune_once(folder) == 0
    assert recent.exists()


def test_the_first_kept_sql_written_prunes_and_reading_keeps_a_file(fresh_process):
    # Every contract table (batches over an absent table are not kept), most empty.
    frames = {name: pd.DataFrame() for name in TABLE_NAMES} | {
        "contacts": contacts(("c1", "2024-01-05 09:00:00", "web")),
        "orders": orders(("c1", "2024-01-10 10:00:00", 100)),
    }
    # A kept query nobody asked for in a month: deleted when the next one is written.
    stale = _aged(fresh_process / "cache" / "sql" / "unused.json", home.CACHE_KEPT_DAYS + 1)
    first = compute_kpis(from_frames(frames), grain="month", kpis=["revenue"])
    assert not stale.exists()
    kept = list((fresh_process / "cache" / "sql").glob("*.json"))
    assert len(kept) == 1, "the batch's SQL is kept on disk"
    # Read by a later process (memory emptied), the file counts as used again.
    for path in kept:
        _aged(path, home.CACHE_KEPT_DAYS - 1)
    compute_module._batches._entries.clear()
    again = compute_kpis(from_frames(frames), grain="month", kpis=["revenue"])
    assert again.rows == first.rows
    for path in kept:
        assert time.time() - path.stat().st_mtime < 60, path
