"""The KPI cache: results keyed by a data version that every write bumps.

Computing a KPI on the CRM database takes from a fraction of a second (thousands of
contacts) to many seconds (millions), so pages read cached results. The key holds the
data version kept in the database (`dashboard_data_version`), not in process memory, so
that an import run by the command line or by another server process is seen at once by
every process: call `data_changed()` after any write that changes what KPIs show (imports,
edits of contacts, orders or deals, company settings).

A key is made from the version read *before* computing, and the result is stored under
that key whatever happens meanwhile: a computation overtaken by a write lands under the
old version, which no one reads any more, never under the new one.

Within a process, requests that miss the same key at the same time compute it once: the
first computes, the others wait for its result (single flight). After a write, the
server recomputes what pages show by default in the background (`warming`); meanwhile,
web pages may show the figures computed before the write, saying so (`stale_allowed`).
Each item (kind and parameters) keeps one value in the cache: the newest.

Across restarts. Each newest value is also written to a file of the user's data folder
(`<PILOTAGE_HOME>/cache/results/<database>/`), with the data version and nonce it was
computed for. A process that misses a key in memory reads that file: the value is
current if it was computed for the same version and nonce (`DataVersion`) less than
`TIMEOUT_SECONDS` ago, else it may be shown as a figure of before the last write while a
warm recomputes it (`stale_allowed`), as if this process had computed it. So a restarted
server serves what its predecessor computed, instead of computing every page again (on a
million contacts, minutes). The files are pickles written by Pilotage itself, like
Django's file cache; delete the folder to start afresh. Files not rewritten for
`home.CACHE_KEPT_DAYS` are deleted by the first write of a process (`home.prune_once`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from pilotage.home import data_home, prune_once
from pilotage.web.dashboard.models import DataVersion, new_nonce

logger = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
# A safety net for writes that forget to call data_changed(): nothing stays cached longer.
TIMEOUT_SECONDS = 6 * 3600
# How long a request waits for another thread's computation of the same key before
# computing it itself (a safety net: a computation normally ends, with a result or not).
WAIT_SECONDS = 15 * 60

# Computations run by this process per kind ("kpi", "attribution"...): what tests and
# benchmarks read to tell a page served from the cache from one that computed.
computed: Counter[str] = Counter()
# Values this process read back from the files of an earlier process, per kind.
read_from_disk: Counter[str] = Counter()

_callbacks: list[Callable[[int], None]] = []


def data_version() -> int:
    return _version_and_nonce()[0]


def _version_and_nonce() -> tuple[int, str]:
    try:
        row = DataVersion.objects.filter(pk=1).values_list("version", "nonce").first()
    except DatabaseError:  # before the first migration
        return 0, ""
    return (int(row[0]), str(row[1])) if row is not None else (0, "")


def data_changed() -> int:
    """Invalidate every cached KPI result (for every process); returns the new version.

    Once the write is committed, the functions given to `on_data_changed` (the cache
    warmer of a server process) are told the new version."""
    updated = DataVersion.objects.filter(pk=1).update(version=F("version") + 1, nonce=new_nonce())
    if not updated:
        DataVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    version = data_version()
    for callback in list(_callbacks):
        transaction.on_commit(lambda callback=callback: callback(version))  # type: ignore[misc]
    return version


def on_data_changed(callback: Callable[[int], None]) -> None:
    """Call `callback(version)` after each committed `data_changed()` of this process."""
    if callback not in _callbacks:
        _callbacks.append(callback)


def cache_key(kind: str, *parts: Any, version: int | None = None) -> str:
    current = data_version() if version is None else version
    digest = hashlib.sha1(
        json.dumps(parts, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()
    return f"pilotage:{current}:{kind}:{digest}"


def key_version(key: str) -> int:
    """The data version a key was made for."""
    return int(key.split(":", 2)[1])


class _Flight:
    """One computation of a key under way, that other threads may wait for."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.done = threading.Event()
        self.value: Any = None
        self.succeeded = False
        self.waiters = 0


_flights: dict[str, _Flight] = {}
_flights_lock = threading.Lock()
# The newest value this process stored for each item (kind and parameters, whatever the
# version): its version, key and when it was computed. Older ones are dropped as soon
# as a newer one is stored; the newest stays until then, to be shown while a warm
# recomputes it (`stale_allowed`).
_newest: dict[str, tuple[int, str, datetime]] = {}
# The data version the cache warmer of this process is computing, if any (`warming`).
_warming_version: int | None = None
_request = threading.local()


def item_of(key: str) -> str:
    """A key without its version: the same item (kind and parameters) in every version."""
    return key.split(":", 2)[2]


def waiting_on(key: str) -> int:
    """How many threads wait for the computation of `key` under way (0 when none)."""
    with _flights_lock:
        flight = _flights.get(key)
        return flight.waiters if flight is not None else 0


def _store(key: str, value: Any, nonce: str | None = None, at: datetime | None = None) -> bool:
    """Keep `value` as the newest of its item, in memory and, given the `nonce` of its
    data version, on disk; False when a newer value is already known."""
    version, item = key_version(key), item_of(key)
    computed_at = at or timezone.now()
    with _flights_lock:
        newest = _newest.get(item)
        if newest is not None and newest[0] > version and cache.has_key(newest[1]):
            return False  # computed across a write, and a newer value is already known
        _newest[item] = (version, key, computed_at)
    cache.set(key, (value,), TIMEOUT_SECONDS)  # wrapped: a None result is cached too
    if newest is not None and newest[1] != key:
        cache.delete(newest[1])
    if nonce is not None and version:
        _write_to_disk(item, version, nonce, computed_at, value)
    return True


# The files this process read and found not current, with their modification time.
_disk_not_current: dict[Path, int] = {}


def _disk_folder() -> Path | None:
    """Where this database's results are kept across restarts (None: not kept). One
    folder per database (its engine, name, host and port), so that copies of a database
    at other paths never read each other's results."""
    if not getattr(settings, "PILOTAGE_RESULTS_ON_DISK", True):
        return None
    database = connection.settings_dict
    identity = json.dumps(
        [connection.vendor, str(database.get("NAME")), database.get("HOST"), database.get("PORT")]
    )
    digest = hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:16]
    return data_home() / "cache" / "results" / digest


def _disk_path(folder: Path, item: str) -> Path:
    return folder / (item.replace(":", "-") + ".pickle")


def _write_to_disk(item: str, version: int, nonce: str, at: datetime, value: Any) -> None:
    """Replace the item's file at once (a reader sees the old file or the new one)."""
    folder = _disk_folder()
    if folder is None:
        return
    temporary: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        prune_once(folder.parent)  # every database's results
        data = pickle.dumps((version, nonce, at, value), protocol=pickle.HIGHEST_PROTOCOL)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, _disk_path(folder, item))
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        # The value stays cached in memory: only a restart will miss it.
        logger.warning("could not keep the cached %s on disk", item, exc_info=True)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def _read_from_disk(kind: str, key: str, version: int, nonce: str) -> tuple[Any] | None:
    """The value an earlier process kept for `key`'s item, when it is current; an older
    one becomes this process's figure of before the write (`_stale`)."""
    folder = _disk_folder()
    if folder is None or not version:
        return None
    item = item_of(key)
    path = _disk_path(folder, item)
    try:
        written = path.stat().st_mtime_ns
        if _disk_not_current.get(path) == written:
            return None  # read already, and not current: not read again on every miss
        with path.open("rb") as file:
            kept_version, kept_nonce, at, value = pickle.load(file)  # noqa: S301 - our own files
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        logger.warning("ignoring the unreadable cached %s on disk", item, exc_info=True)
        return None
    fresh = timezone.now() - at < timedelta(seconds=TIMEOUT_SECONDS)
    if kept_version == version and kept_nonce == nonce and fresh:
        if _store(key, value, at=at):
            read_from_disk[kind] += 1
        return (value,)
    _disk_not_current[path] = written
    if kept_version <= version:
        # Shown, if at all, as a figure computed before the last write (older, expired
        # or of another history of the database), under a key of its own that no
        # current read asks for.
        _store(f"pilotage:{min(kept_version, version - 1)}:{item}", value, at=at)
    return None


def forget_versions_before(version: int) -> int:
    """Drop from the cache what this process stored for versions older than `version`."""
    with _flights_lock:
        old = [item for item, (v, _key, _at) in _newest.items() if v < version]
        keys = [_newest.pop(item)[1] for item in old]
    if keys:
        cache.delete_many(keys)
    return len(keys)


def clear(*, memory_only: bool = False) -> None:
    """Empty the KPI cache of this process and the results kept on disk (tests; a
    database replaced, with its data versions, under a running server). With
    `memory_only`, as a restart would find it (benchmarks)."""
    with _flights_lock:
        _newest.clear()
    _disk_not_current.clear()
    cache.clear()
    folder = None if memory_only else _disk_folder()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def warming(version: int) -> Iterator[None]:
    """The cache warmer computes what pages show for data `version` meanwhile."""
    global _warming_version
    _warming_version = version
    try:
        yield
    finally:
        _warming_version = None


@contextmanager
def stale_allowed() -> Iterator[None]:
    """Within: a value the cache warmer is recomputing for the current data version is
    served as it was before the write, rather than waited for or computed a second time
    (on a million contacts, a warm takes minutes). Web pages only, which then say so
    (`stale_since`); the API and the command line always get the current figures."""
    _request.allow_stale = True
    _request.stale_since = None
    try:
        yield
    finally:
        _request.allow_stale = False


def stale_since() -> datetime | None:
    """When the oldest figure served in this request was computed, if a figure computed
    before the last write was served (`stale_allowed`)."""
    since: datetime | None = getattr(_request, "stale_since", None)
    return since


def _stale(key: str, version: int) -> tuple[Any] | None:
    """The value stored for `key`'s item before data `version`, when this request may be
    served it and the current one is being computed by another thread."""
    if not getattr(_request, "allow_stale", False):
        return None
    with _flights_lock:
        flight = _flights.get(key)
        being_computed = _warming_version == version or (
            flight is not None and flight.owner != threading.get_ident()
        )
        newest = _newest.get(item_of(key))
    if newest is None or newest[0] >= version:
        return None
    # A warm that will run counts as one under way: the warmer of this process is woken
    # by the write, or polls for those of other processes, and a page asked in between
    # (the redirect right after a write) must not compute what it is about to compute.
    if not being_computed and not any(pending(version) for pending in _warm_pending):
        return None
    found = cache.get(newest[1])
    if found is None:
        return None
    since = stale_since()
    _request.stale_since = newest[2] if since is None else min(since, newest[2])
    _request.stale_served = getattr(_request, "stale_served", 0) + 1
    return (found[0],)


_warm_pending: list[Callable[[int], bool]] = []


def on_warm_pending(pending: Callable[[int], bool]) -> Callable[[], None]:
    """`pending(version)` says whether a warm of data `version` is to come in this
    process (the background warmer has not warmed it yet). Returns what unregisters it."""
    if pending not in _warm_pending:
        _warm_pending.append(pending)
    return lambda: _warm_pending.remove(pending) if pending in _warm_pending else None


def cached(kind: str, parts: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """`compute()` once per data version and parameters."""
    result: dict[int, T] = cached_many(kind, {0: parts}, lambda _items: {0: compute()})
    return result[0]


def cached_many(
    kind: str,
    parts: Mapping[K, tuple[Any, ...]],
    compute: Callable[[list[K]], Mapping[K, T]],
) -> dict[K, T]:
    """For each item, its cached value, else `compute(missing items)` once for all those
    no other thread is computing (each value stored under its own key), in the order of
    `parts`. One data version for all the keys."""
    version, nonce = _version_and_nonce()
    keys = {item: cache_key(kind, *p, version=version) for item, p in parts.items()}
    found = cache.get_many(list(keys.values()))
    values: dict[K, T] = {item: found[key][0] for item, key in keys.items() if key in found}
    for item, key in keys.items():
        if item not in values and (kept := _read_from_disk(kind, key, version, nonce)):
            values[item] = kept[0]
    for item, key in keys.items():
        if item not in values and (stale := _stale(key, version)) is not None:
            values[item] = stale[0]
    pending = [item for item in keys if item not in values]
    while pending:
        led, followed = _claim({item: keys[item] for item in pending})
        if led:
            values.update(_lead(kind, led, compute, nonce))
        pending = []
        for item, flight in followed.items():
            outcome = _follow(keys[item], flight)
            if outcome is not None:
                values[item] = outcome[0]
            elif flight.done.is_set():
                pending.append(item)  # the other computation failed: try again
            else:  # still not done after WAIT_SECONDS: compute it here, unshared
                values[item] = compute([item])[item]
                _store(keys[item], values[item], nonce)
    return {item: values[item] for item in keys}


_Led = dict[K, tuple[str, _Flight | None]]


def _claim(keys: Mapping[K, str]) -> tuple[_Led[K], dict[K, _Flight]]:
    """The keys this thread computes, with the flight it leads (None for a key this
    thread is already computing further up its stack: a thread never waits for itself),
    and the flights of other threads it waits for."""
    me = threading.get_ident()
    led: _Led[K] = {}
    followed: dict[K, _Flight] = {}
    with _flights_lock:
        for item, key in keys.items():
            flight = _flights.get(key)
            if flight is None:
                led[item] = (key, _flights.setdefault(key, _Flight()))
            elif flight.owner == me:
                led[item] = (key, None)
            else:
                flight.waiters += 1
                followed[item] = flight
    return led, followed


def _lead(
    kind: str, led: _Led[K], compute: Callable[[list[K]], Mapping[K, T]], nonce: str
) -> dict[K, T]:
    served_before = getattr(_request, "stale_served", 0)
    try:
        results = compute(list(led))
        computed[kind] += 1
        if getattr(_request, "stale_served", 0) > served_before:
            # Computed from figures of before the write: shown to this page (which says
            # so), never kept as the current version's, nor handed to other threads.
            return {item: results[item] for item in led}
        for item, (key, flight) in led.items():
            _store(key, results[item], nonce)
            if flight is not None:
                flight.value = results[item]
                flight.succeeded = True
        return {item: results[item] for item in led}
    finally:
        with _flights_lock:
            for key, flight in led.values():
                if flight is not None:
                    del _flights[key]
        for _key, flight in led.values():
            if flight is not None:
                flight.done.set()


def _follow(key: str, flight: _Flight) -> tuple[Any] | None:
    """The value another thread computed for `key`, or None if it failed or is late."""
    finished = flight.done.wait(WAIT_SECONDS)
    with _flights_lock:
        flight.waiters -= 1
    if not finished or not flight.succeeded:
        return None
    # Read back from the cache: each reader gets its own copy, as on a cache hit.
    found = cache.get(key)
    return (found[0],) if found is not None else (flight.value,)
