"""Pages that may compute for long answer within a time budget.

A view nobody asked for since the last write computes its figures on demand: on a
million contacts, from seconds to a minute (acquisition under another attribution model:
about 30 s in SQLite). Rather than leave the browser waiting with nothing to show (and a
proxy in front of the server cutting the request), such a page is computed by a worker
thread. When it is not ready within `PILOTAGE_PAGE_BUDGET_SECONDS`, the request answers
at once (202) with a page saying that the figures are being computed and since when,
which reloads itself every few seconds; the computation goes on and lands in the KPI
cache, where a reload finds it. Reloads of the same page (same user, language and
address) share that one computation instead of starting another.

The worker renders the page as the request's own thread would: in the request's
language, allowed to show figures of before the last write (`cache.stale_allowed`), with
connections of its own. A computation that fails is raised to the next request of that
page, which then gets the usual error page. `PILOTAGE_PAGE_BUDGET_SECONDS` unset (None)
renders in the request's thread, without budget (tests using a transaction of their own
need it: a worker thread would not see their rows).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from pilotage.web.dashboard import cache

View = Callable[..., HttpResponse]

# At most this many pages computed at once; more wait for a worker (and meanwhile get the
# page saying their figures are being computed).
WORKERS = 4
RELOAD_SECONDS = 3
# A finished computation nobody came back for is forgotten after this long.
FORGET_SECONDS = 600


class _PageWorkers:
    """`WORKERS` daemon threads rendering pages in turn.

    Not a ThreadPoolExecutor: Python joins its threads at exit, so stopping the server
    (Ctrl-C) while a page computed waited for that computation, up to a minute on a
    million contacts. A page computation only reads: dropping it at exit loses nothing
    but its result, which the next process computes again."""

    def __init__(self, workers: int) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[HttpResponse], Callable[[], HttpResponse]]]
        self._tasks = queue.SimpleQueue()
        self._workers = workers
        self._started = False
        self._start_lock = threading.Lock()

    def submit(self, render: Callable[[], HttpResponse]) -> Future[HttpResponse]:
        self._start()
        future: Future[HttpResponse] = Future()
        self._tasks.put((future, render))
        return future

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
            for index in range(self._workers):
                name = f"pilotage-page-{index}"
                threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        while True:
            future, render = self._tasks.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(render())
            except BaseException as error:  # raised to the request that reads the page
                future.set_exception(error)


_workers = _PageWorkers(WORKERS)
_lock = threading.Lock()


@dataclass
class _Computation:
    future: Future[HttpResponse]
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None


_computations: dict[tuple[Any, ...], _Computation] = {}


def within_budget(view: View) -> View:
    """Decorate a page view (GET) that may compute for long; see the module docstring."""

    @functools.wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        budget = getattr(settings, "PILOTAGE_PAGE_BUDGET_SECONDS", None)
        if budget is None or request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        language = translation.get_language()
        key = (request.user.pk, language, request.get_full_path())
        computation, started_here = _join_or_start(
            key,
            lambda: _workers.submit(
                functools.partial(_render, view, language, request, args, kwargs)
            ),
        )
        if computation is None:  # ended since this page was last asked: its figures are cached
            return view(request, *args, **kwargs)
        try:
            response = computation.future.result(timeout=budget)
        except FutureTimeout:
            return computing(request, time.monotonic() - computation.started)
        finally:
            if computation.future.done():
                _forget(key, computation)
        # A page rendered for another request is never handed to this one: rendered again,
        # from the cache the computation filled.
        return response if started_here else view(request, *args, **kwargs)

    return page


def _join_or_start(
    key: tuple[Any, ...], start: Callable[[], Future[HttpResponse]]
) -> tuple[_Computation | None, bool]:
    """The computation of the page under way (and whether this request started it), or
    None when it ended since the page was last asked (its error is raised here)."""
    with _lock:
        _forget_old()
        computation = _computations.get(key)
        if computation is not None and computation.ended is not None:
            del _computations[key]
            if (error := computation.future.exception()) is not None:
                raise error
            return None, False
        if computation is not None:
            return computation, False
        computation = _computations[key] = _Computation(start())
    computation.future.add_done_callback(lambda _done: _ended(computation))
    return computation, True


def _render(
    view: View, language: str, request: HttpRequest, args: tuple[Any, ...], kwargs: Any
) -> HttpResponse:
    close_old_connections()
    try:
        with translation.override(language), cache.stale_allowed():
            return view(request, *args, **kwargs)
    finally:
        close_old_connections()


def _forget(key: tuple[Any, ...], computation: _Computation) -> None:
    with _lock:
        if _computations.get(key) is computation:
            del _computations[key]


def _ended(computation: _Computation) -> None:
    with _lock:
        if computation.ended is None:
            computation.ended = time.monotonic()


def _forget_old() -> None:
    """Drop the finished computations nobody came back for (called with the lock)."""
    now = time.monotonic()
    old = [
        key
        for key, computation in _computations.items()
        if computation.ended is not None and now - computation.ended > FORGET_SECONDS
    ]
    for key in old:
        del _computations[key]


def computing(request: HttpRequest, seconds: float) -> HttpResponse:
    """The page said while the figures are being computed; it reloads itself."""
    return render(
        request,
        "dashboard/computing.html",
        {"seconds": int(seconds), "reload_seconds": RELOAD_SECONDS},
        status=202,
    )
