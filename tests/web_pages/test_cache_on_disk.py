"""Results kept on disk across restarts: a restarted server serves what its predecessor
computed for the same data, never a result of other data as current. A restart is the
process's memory emptied (`cache.clear(memory_only=True)`); the files stay."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_cache_warming import DEFAULT_PAGES, computations

from pilotage.web.dashboard import cache
from pilotage.web.dashboard.models import DataVersion

CSRF_TOKEN = re.compile(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]*"')


@pytest.fixture
def on_disk(settings: Any) -> Iterator[None]:
    settings.PILOTAGE_RESULTS_ON_DISK = True
    cache.clear()
    yield
    cache.clear()


def counting(value: str, calls: list[str]):
    def compute() -> str:
        calls.append(value)
        return value

    return compute


@pytest.mark.django_db
def test_a_restarted_process_reads_what_the_last_one_computed(on_disk):
    cache.data_changed()
    calls: list[str] = []
    assert cache.cached("figure", ("q1",), counting("first", calls)) == "first"
    cache.clear(memory_only=True)  # a restart
    read = cache.read_from_disk["figure"]
    assert cache.cached("figure", ("q1",), counting("second", calls)) == "first"
    assert calls == ["first"]
    assert cache.read_from_disk["figure"] == read + 1
    # Another item (other parameters) is not mistaken for it.
    assert cache.cached("figure", ("q2",), counting("other", calls)) == "other"


@pytest.mark.django_db
def test_after_a_write_a_kept_result_is_only_a_figure_of_before(on_disk):
    cache.data_changed()
    calls: list[str] = []
    cache.cached("figure", (), counting("before", calls))
    version = cache.data_changed()
    cache.clear(memory_only=True)
    # While a warm of the new version is to come, a web page may show it, saying when it
    # was computed; the API and the command line get the current figure.
    unregister = cache.on_warm_pending(lambda pending: pending == version)
    try:
        with cache.stale_allowed():
            assert cache.cached("figure", (), counting("unused", calls)) == "before"
            assert cache.stale_since() is not None
        assert cache.cached("figure", (), counting("after", calls)) == "after"
    finally:
        unregister()
    assert calls == ["before", "after"]


@pytest.mark.django_db
def test_the_same_count_reached_by_other_data_is_not_current(on_disk):
    """A database restored from a backup, or replaced, may reach the same version count
    with other data: the nonce drawn at each write tells them apart."""
    cache.data_changed()
    calls: list[str] = []
    cache.cached("figure", (), counting("theirs", calls))
    DataVersion.objects.filter(pk=1).update(nonce="another-history")
    cache.clear(memory_only=True)
    assert cache.cached("figure", (), counting("ours", calls)) == "ours"


@pytest.mark.django_db
def test_an_expired_result_is_not_current(on_disk, monkeypatch):
    cache.data_changed()
    calls: list[str] = []
    cache.cached("figure", (), counting("old", calls))
    cache.clear(memory_only=True)
    monkeypatch.setattr(cache, "TIMEOUT_SECONDS", 0)
    assert cache.cached("figure", (), counting("new", calls)) == "new"


@pytest.mark.django_db
def test_an_unreadable_file_is_computed_again(on_disk, caplog):
    cache.data_changed()
    cache.cached("figure", (), lambda: "kept")
    folder = cache._disk_folder()
    assert folder is not None
    (written,) = folder.glob("figure-*.pickle")
    written.write_bytes(b"not a pickle")
    cache.clear(memory_only=True)
    assert cache.cached("figure", (), lambda: "computed") == "computed"
    assert "unreadable" in caplog.text


@pytest.mark.django_db
def test_nothing_is_written_when_switched_off(settings):
    settings.PILOTAGE_RESULTS_ON_DISK = False
    cache.data_changed()
    cache.cached("figure", (), lambda: "in memory only")
    settings.PILOTAGE_RESULTS_ON_DISK = True
    folder = cache._disk_folder()
    assert folder is None or not any(folder.glob("figure-*.pickle"))


def test_a_restarted_server_serves_every_default_page_without_computing(admin_client, settings):
    settings.PILOTAGE_RESULTS_ON_DISK = True
    cache.clear()

    def page(url: str) -> bytes:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        return CSRF_TOKEN.sub(rb"\1", response.content)

    first = {url: page(url) for url in DEFAULT_PAGES}
    cache.clear(memory_only=True)
    before = computations()
    for url in DEFAULT_PAGES:
        assert page(url) == first[url], url  # the same figures, no notice of staleness
    assert computations() == before, "a page computed what the last process kept"
    cache.clear()


@pytest.mark.django_db
def test_results_unused_for_a_month_are_deleted_by_the_first_write(on_disk, monkeypatch):
    from pilotage import home

    monkeypatch.setattr(home, "_pruned", set())  # a new process
    cache.data_changed()
    folder = cache._disk_folder()
    assert folder is not None
    # Another database's result of 31 days ago, and one of this database of yesterday.
    old = folder.parent / "another-database" / "kpi-x.pickle"
    recent = folder / "kpi-y.pickle"
    for path, days in ((old, home.CACHE_KEPT_DAYS + 1), (recent, 1)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        moment = time.time() - days * 86_400
        os.utime(path, (moment, moment))
    cache.cached("figure", ("q1",), counting("first", []))
    assert not old.exists()
    assert recent.exists()
