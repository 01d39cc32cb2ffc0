"""Warming the KPI cache: after data changes, the server computes what pages show by
default before anyone asks, so that the first load after a write reads the cache.

Where it runs. The cache is Django's local-memory cache (settings `CACHES`): one per
process, no I/O, and right for `pilotage serve` (waitress: one process, threads), with a
copy of each result on disk that a restarted server reads back (`cache`). So a warm
helps the server process; computing in the command line's process (after `pilotage
import`) would only leave files for the server to read. The server's warmer thread
therefore watches the data version in the database: it is told at once of the writes
made by its own process (`cache.on_data_changed`), and notices within
`PILOTAGE_CACHE_WARMING_POLL_SECONDS` those made by any other (the command line, another
server process). A cache shared between processes (Django's database or file cache,
Redis) would have let the command line warm it, at the price of a read from disk, the
database or the network for every result a page shows (the local-memory cache unpickles
it from memory); with one, this design still holds (each server process warms, and
reads what any of them stored).

What it computes: for the current data version, the default view of each page: the
data's span (every period picker), the dashboard with the pins of every active user (the
defaults for those without), the sales team, attrition, the contact pages' shared tables,
the pages of the KPIs pinned company-wide (where a dashboard card leads), and last the
costliest, acquisition (attribution and levers) and the funnel. Each step calls the
page's own selectors with the page's default parameters, so that it fills exactly the
keys the page reads.

Never stored under the wrong version: every key carries the data version read before
its computation (`cache`), so a warm overtaken by a write stores its results under the
old version, which is never served as current; and it stops at the next step, to start
over for the new version. While a warm runs, a web page that needs a figure it has not
recomputed yet is shown the one computed before the write, and says so with the time it
was computed (`cache.stale_allowed`: on a million contacts a warm takes minutes, and a
write is a call logged by a rep); without a previous figure, it waits for the warmer's
computation instead of running it a second time. The API and the command line always
get the current figures.

`PILOTAGE_CACHE_WARMING` (setting, from the environment): "background" (the default: a
thread of the server process), "sync" (right after each committed `data_changed()`, in
the thread that made the change, in any process: for tests, or with a shared cache so
that the command line warms it), or "off".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections

from pilotage.web.dashboard import cache

logger = logging.getLogger(__name__)

MODES = ("background", "sync", "off")

Step = tuple[str, Callable[[], object]]


@dataclass
class WarmReport:
    """What one warm did: the seconds each step took, and whether it was overtaken."""

    version: int
    steps: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    superseded: bool = False
    seconds: float = 0.0


def _dashboards() -> None:
    """Every active user's dashboard at its default grain and period: one computation for
    the union of the KPIs pinned company-wide, one for those reps see broken down by
    owner (the same keys each user's dashboard reads)."""
    from pilotage.web.dashboard.access import rep_of
    from pilotage.web.dashboard.analytics import (
        company_settings,
        resolve_period,
        trailing_periods,
    )
    from pilotage.web.dashboard.selectors.kpis import (
        DEFAULT_PINS,
        SPARK_PERIODS,
        pinned_kpi_names,
        scoped_series,
    )
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    company: dict[str, None] = {}
    reps: dict[str, None] = {}
    rep_id = None
    for user in get_user_model().objects.filter(is_active=True).order_by("pk"):
        own = rep_of(user)
        names = pinned_kpi_names(user)
        if own is None:
            company.update(dict.fromkeys(names))
        else:
            rep_id = own
            reps.update(dict.fromkeys(names))
    if not company and not reps:
        company = dict.fromkeys(DEFAULT_PINS)
    grain = DEFAULT_GRAINS["dashboard"]
    settings_now = company_settings()
    period = resolve_period(grain, None, settings_now)
    first = trailing_periods(period, SPARK_PERIODS, settings_now)[0].start
    if company:
        scoped_series(list(company), grain, first, period.start, None)
    if reps and rep_id is not None:
        scoped_series(list(reps), grain, first, period.start, rep_id)


def _pinned_kpi_pages() -> None:
    """The page of each KPI pinned company-wide (where a dashboard card leads), at its
    default grain and breakdown, for an administrator."""
    from pilotage.engine.catalogue import KPIS
    from pilotage.web.dashboard.access import rep_of
    from pilotage.web.dashboard.selectors.kpis import DEFAULT_PINS, kpi_detail, pinned_kpi_names
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    names: dict[str, None] = {}
    for user in get_user_model().objects.filter(is_active=True).order_by("pk"):
        if rep_of(user) is None:
            names.update(dict.fromkeys(pinned_kpi_names(user)))
    for name in names or DEFAULT_PINS:
        kpi = KPIS[name]
        by = kpi.breakdowns[0] if kpi.breakdowns else None
        kpi_detail(name, DEFAULT_GRAINS["kpi"], None, by, "en", None, None)


def _team() -> None:
    from pilotage.web.crm.models import Rep
    from pilotage.web.dashboard.selectors import analysis
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    analysis.team(DEFAULT_GRAINS["team"], None, Rep.objects.all(), "revenue_won")


def _funnel() -> None:
    from pilotage.web.dashboard.selectors import analysis
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    analysis.funnel(DEFAULT_GRAINS["funnel"], None)


def _attrition() -> None:
    from pilotage.web.crm.models import Contact
    from pilotage.web.dashboard.selectors import analysis
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    analysis.attrition(DEFAULT_GRAINS["attrition"], None, Contact.objects.all())


def _acquisition() -> None:
    from pilotage.web.dashboard.selectors import analysis
    from pilotage.web.dashboard.views.common import DEFAULT_GRAINS

    analysis.acquisition(DEFAULT_GRAINS["acquisition"], None, "")


def _contacts() -> None:
    from pilotage.web.crm.models import Contact
    from pilotage.web.dashboard.selectors import contacts

    contacts.filter_choices(Contact.objects.all())
    contacts.rfm_base()


def _span() -> None:
    from pilotage.web.dashboard.analytics import data_bounds

    data_bounds()


def default_steps() -> list[Step]:
    """What a warm computes, in order: the landing page first, the costliest last."""
    return [
        ("span", _span),
        ("dashboard", _dashboards),
        ("team", _team),
        ("attrition", _attrition),
        ("contacts", _contacts),
        ("kpi pages", _pinned_kpi_pages),
        # The costliest last, so that they never hold the others back (on a million
        # contacts in SQLite, the funnel's early churn by channel takes many minutes).
        ("acquisition", _acquisition),
        ("funnel", _funnel),
    ]


def warm(version: int | None = None, steps: list[Step] | None = None) -> WarmReport:
    """Compute the default pages for data `version` (default: the current one), in this
    thread; stops before the next step once the data version has moved on."""
    expected = cache.data_version() if version is None else version
    report = WarmReport(expected)
    started = time.perf_counter()
    with cache.warming(expected):
        for name, step in steps if steps is not None else default_steps():
            if cache.data_version() != expected:
                report.superseded = True
                break
            step_started = time.perf_counter()
            try:
                step()
            except Exception as error:  # noqa: BLE001 - a failing page still warms the others
                logger.exception("warming the cache of %s failed", name)
                report.errors.append(f"{name}: {type(error).__name__}: {error}")
            report.steps.append((name, time.perf_counter() - step_started))
        else:
            report.superseded = cache.data_version() != expected
    report.seconds = time.perf_counter() - started
    logger.info(
        "cache warmed for data version %s in %.1f s%s",
        expected,
        report.seconds,
        " (superseded)" if report.superseded else "",
    )
    return report


def mode() -> str:
    chosen = str(getattr(settings, "PILOTAGE_CACHE_WARMING", "background"))
    return chosen if chosen in MODES else "background"


class Warmer:
    """A daemon thread that warms the cache for every new data version."""

    def __init__(self, poll_seconds: float = 5.0, steps: list[Step] | None = None) -> None:
        self.poll_seconds = poll_seconds
        self.steps = steps
        self.warmed_version: int | None = None
        self.last_report: WarmReport | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="pilotage-cache-warmer", daemon=True)

    def start(self) -> Warmer:
        self._thread.start()
        return self

    def notify(self, _version: int | None = None) -> None:
        """A write was committed: look at the data version now rather than at the next
        poll."""
        self._wake.set()

    def behind(self, version: int) -> bool:
        """Whether this warmer runs and has not warmed data `version` yet."""
        return self._thread.is_alive() and (self.warmed_version or -1) < version

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wait_until_warmed(self, version: int, timeout: float) -> bool:
        """Whether a warm of `version` (or a later one) ended within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (self.warmed_version or -1) < version:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._changed.wait(min(left, 1.0))
        return True

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                superseded = self._warm_if_needed()
                if not superseded:
                    self._wake.wait(self.poll_seconds)
        finally:
            from django.db import connections

            connections.close_all()

    def _warm_if_needed(self) -> bool:
        close_old_connections()
        try:
            version = cache.data_version()
            if version == self.warmed_version:
                return False
            report = warm(version, self.steps)
        except Exception:  # the thread must live on: the next write tries again
            logger.exception("warming the KPI cache failed")
            return False
        finally:
            close_old_connections()
        with self._changed:
            self.last_report = report
            if not report.superseded:
                self.warmed_version = version
            self._changed.notify_all()
        return report.superseded


_warmer: Warmer | None = None
_warmer_pid: int | None = None
_start_lock = threading.Lock()


def start_warming() -> Warmer | None:
    """Start this process's background warmer when `PILOTAGE_CACHE_WARMING` is
    "background" (the server calls it; calling it again does nothing); returns it."""
    global _warmer, _warmer_pid
    if mode() != "background":
        return None
    with _start_lock:
        if _warmer is None or _warmer_pid != os.getpid():
            poll = float(getattr(settings, "PILOTAGE_CACHE_WARMING_POLL_SECONDS", 5.0))
            _warmer = Warmer(poll).start()
            _warmer_pid = os.getpid()
            cache.on_warm_pending(_this_process_warmer_behind)
        return _warmer


def _this_process_warmer_behind(version: int) -> bool:
    return _warmer is not None and _warmer_pid == os.getpid() and _warmer.behind(version)


def after_data_changed(version: int) -> None:
    """Called once a `data_changed()` of this process is committed (`cache`)."""
    chosen = mode()
    if chosen == "sync":
        try:
            warm(version)
        except Exception:  # the write is committed; a failed warm leaves the cache cold
            logger.exception("warming the KPI cache failed")
    elif chosen == "background" and _warmer is not None and _warmer_pid == os.getpid():
        _warmer.notify()
