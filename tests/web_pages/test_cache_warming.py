"""The KPI cache and its warming: after a write, what the default pages read is computed
before anyone asks, never stored under a version it does not belong to, and computed
once when several requests miss it together. On the real test database; the warmer's
thread is a real thread, waited for with a timeout (never a sleep)."""

from __future__ import annotations

import re
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache as django_cache
from django.db import connections

from pilotage.engine.backends import from_database_url
from pilotage.engine.compute import compute_kpis
from pilotage.web.accounts.models import Profile, Role
from pilotage.web.crm.models import Contact, Rep
from pilotage.web.dashboard import cache, warming
from pilotage.web.dashboard.analytics import (
    company_settings,
    engine_database_url,
    kpi_series,
    resolve_period,
    trailing_periods,
)
from pilotage.web.dashboard.models import PinnedKpi
from pilotage.web.dashboard.selectors.kpis import DEFAULT_PINS
from pilotage.web.scoring.models import ContactScore

DEFAULT_PAGES = [
    "/dashboard/",
    "/team/",
    "/funnel/",
    "/attrition/",
    "/acquisition/",
    "/contacts/",
    "/kpis/revenue/",  # a pinned KPI's page, where its dashboard card leads
]
WAIT = 600  # seconds: a bound for a loaded machine, not an expectation


def computations() -> int:
    return sum(cache.computed.values())


def assert_served_from_cache(client, urls: list[str]) -> None:
    before = computations()
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert computations() == before, "a page computed what the warm should have"


def test_a_warm_fills_what_every_default_page_reads(admin_client):
    rep = Rep.objects.exclude(team=None).order_by("rep_id").first()
    rita = get_user_model().objects.create_user("rita", password="a-long-passphrase-42")
    Profile.objects.create(user=rita, role=Role.REP, rep=rep, team=rep.team)
    PinnedKpi.objects.create(user=rita, kpi="deals_won", position=0)
    PinnedKpi.objects.create(user=rita, kpi="revenue_won", position=1)

    report = warming.warm()

    assert not report.superseded
    assert report.errors == []
    assert [name for name, _seconds in report.steps] == [
        name for name, _step in warming.default_steps()
    ]
    assert_served_from_cache(admin_client, DEFAULT_PAGES)
    admin_client.force_login(rita)
    assert_served_from_cache(admin_client, ["/dashboard/"])
    # Other grains and periods are not warmed: they compute when asked.
    before = computations()
    assert admin_client.get("/dashboard/?grain=week").status_code == 200
    assert computations() > before


def test_the_kpis_computed_together_are_the_engines(company):
    """The dashboard's KPIs come from one engine context (shared tables computed once):
    the same rows as the engine's own computation of each."""
    settings = company_settings()
    period = resolve_period("month", None, settings)
    first = trailing_periods(period, 12, settings)[0].start
    together = kpi_series(list(DEFAULT_PINS), "month", first, period.start)
    engine = compute_kpis(
        from_database_url(engine_database_url()),
        grain="month",
        start=first,
        end=period.start,
        kpis=list(DEFAULT_PINS),
    )
    assert list(together) == list(DEFAULT_PINS)
    for name, series in together.items():
        assert series.error is None, name
        assert list(series.rows) == [row for row in engine.rows if row.kpi == name], name


def test_a_result_computed_across_a_write_is_kept_under_the_old_version(company):
    old = cache.data_version()

    def compute_while_data_changes() -> str:
        cache.data_changed()  # a write commits while this computation runs
        return "computed from the data of the old version"

    assert cache.cached("probe", (1,), compute_while_data_changes).startswith("computed")
    assert cache.data_version() == old + 1
    assert django_cache.get(cache.cache_key("probe", 1, version=old)) is not None
    assert django_cache.get(cache.cache_key("probe", 1)) is None
    assert cache.cached("probe", (1,), lambda: "recomputed") == "recomputed"


def test_a_warm_overtaken_by_a_write_stops_and_stores_nothing_for_the_new_version(company):
    steps = dict(warming.default_steps())
    report = warming.warm(
        cache.data_version(),
        [
            ("dashboard", steps["dashboard"]),
            ("a write", cache.data_changed),
            ("attrition", steps["attrition"]),
        ],
    )
    assert report.superseded
    assert [name for name, _seconds in report.steps] == ["dashboard", "a write"]
    # What the overtaken warm computed is not served for the new version.
    before = cache.computed["kpi"]
    steps["dashboard"]()
    assert cache.computed["kpi"] > before


UPDATING = {
    "en": "Figures are being updated after recent changes",
    "fr": "Les chiffres sont en cours de mise à jour après des modifications récentes",
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_while_a_warm_runs_pages_show_the_figures_before_the_write_and_say_so(
    admin_client, language
):
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    first = admin_client.get("/dashboard/", **headers)
    assert UPDATING[language] not in first.content.decode()
    version = cache.data_changed()  # a write
    before = computations()
    with cache.warming(version):  # what the warmer declares while it recomputes
        during = admin_client.get("/dashboard/", **headers)
    assert during.status_code == 200
    assert computations() == before, "served the figures computed before the write"
    assert UPDATING[language] in during.content.decode()
    # The same figures as before the write: the page differs only by the notice.
    notice = re.compile(r'<p class="message warning" role="status">.*?</p>', re.S)
    assert notice.sub("", during.content.decode()).count(
        "kpi-card"
    ) == first.content.decode().count("kpi-card")
    # Once the warm is over, the page computes the current figures, without the notice.
    after = admin_client.get("/dashboard/", **headers)
    assert computations() > before
    assert UPDATING[language] not in after.content.decode()


def test_figures_before_a_write_are_served_only_to_pages_during_a_warm(company):
    assert cache.cached("probe", (2,), lambda: "v1") == "v1"
    cache.data_changed()
    with cache.stale_allowed():  # a page, and no warm under way: computed
        assert cache.cached("probe", (2,), lambda: "v2") == "v2"
        assert cache.stale_since() is None
    version = cache.data_changed()
    with cache.warming(version):  # the warmer itself, the API, the command line
        assert cache.cached("probe", (2,), lambda: "v3") == "v3"
    version = cache.data_changed()
    with cache.warming(version), cache.stale_allowed():  # a page during a warm
        assert cache.cached("probe", (2,), lambda: "v4") == "v3"
        assert cache.stale_since() is not None
        assert cache.cached("probe", (9,), lambda: "new") == "new"  # nothing before it
    assert cache.cached("probe", (2,), lambda: "v4") == "v4"
    # One value per item: the one of the version before is gone.
    assert django_cache.get(cache.cache_key("probe", 2, version=version - 1)) is None


def test_a_figure_computed_from_figures_before_a_write_is_not_kept(company):
    cache.cached("probe", ("inner",), lambda: "old inner")
    version = cache.data_changed()
    with cache.warming(version), cache.stale_allowed():
        outer = cache.cached(
            "probe",
            ("outer",),
            lambda: "outer of " + cache.cached("probe", ("inner",), lambda: "new inner"),
        )
    assert outer == "outer of old inner"  # shown to that page, with the notice
    assert cache.cached("probe", ("outer",), lambda: "outer of new inner") == "outer of new inner"


def test_a_page_asked_before_the_warmer_starts_on_a_write_gets_the_figures_before_it(
    admin_client,
):
    """The redirect right after a write comes before the warmer has started on it."""
    assert admin_client.get("/dashboard/").status_code == 200
    busy, release = threading.Event(), threading.Event()

    def a_long_step() -> None:
        busy.set()
        assert release.wait(WAIT)

    warmer = warming.Warmer(poll_seconds=0.1, steps=[("long", a_long_step)]).start()
    unregister = cache.on_warm_pending(warmer.behind)
    try:
        assert busy.wait(WAIT)  # warming the current version
        cache.data_changed()  # the next one: the warmer will get to it after
        before = computations()
        page = admin_client.get("/dashboard/")
        assert page.status_code == 200
        assert computations() == before
        assert UPDATING["en"] in page.content.decode()
    finally:
        release.set()
        unregister()
        warmer.stop(WAIT)
    assert not warmer._thread.is_alive()


def test_requests_missing_the_same_key_compute_it_once(company):
    release = threading.Event()
    calls: list[int] = []
    results: list[str] = []

    def slow() -> str:
        calls.append(1)
        assert release.wait(WAIT)
        return "value"

    def request() -> None:
        try:
            results.append(cache.cached("shared", ("k",), slow))
        finally:
            connections.close_all()

    first = threading.Thread(target=request)
    first.start()
    key = cache.cache_key("shared", "k")
    while not calls:  # the first request is computing
        assert first.is_alive()
        threading.Event().wait(0.01)
    second = threading.Thread(target=request)
    second.start()
    while cache.waiting_on(key) == 0:  # the second waits for the first's result
        assert second.is_alive()
        threading.Event().wait(0.01)
    release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert results == ["value", "value"]
    assert len(calls) == 1


def test_the_background_warmer_warms_after_a_write_of_any_process(admin_client):
    warmer = warming.Warmer(poll_seconds=0.1).start()
    try:
        assert warmer.wait_until_warmed(cache.data_version(), WAIT)
        assert_served_from_cache(admin_client, ["/dashboard/", "/attrition/"])
        # A write the warmer is not told of (as by `pilotage import` in another process)
        # is seen by polling the data version.
        version = cache.data_changed()
        assert warmer.wait_until_warmed(version, WAIT)
        assert warmer.last_report is not None
        assert warmer.last_report.version == version
        assert_served_from_cache(admin_client, ["/dashboard/", "/attrition/"])
    finally:
        warmer.stop(WAIT)
    assert not warmer._thread.is_alive()


def test_a_web_write_warms_the_cache_once_committed(admin_client, settings):
    settings.PILOTAGE_CACHE_WARMING = "sync"
    contact = Contact.objects.order_by("contact_id").first()
    before = cache.data_version()
    response = admin_client.post(f"/contacts/{contact.contact_id}/log/", {"type": "call"})
    assert response.status_code == 302
    assert cache.data_version() == before + 1
    assert_served_from_cache(admin_client, ["/dashboard/", "/funnel/"])


def test_a_web_write_rescores_before_the_cache_is_told(admin_client):
    """The warm a write starts reads stored scores (the team's expected wins): it must
    find the contact rescored by that write, not its score of before."""
    contact = Contact.objects.order_by("contact_id").first()
    scores = ContactScore.objects.filter(contact_id=contact.contact_id)
    before = scores.count()
    seen: list[int] = []

    def told(_version: int) -> None:
        seen.append(scores.count())

    cache.on_data_changed(told)
    try:
        response = admin_client.post(f"/contacts/{contact.contact_id}/log/", {"type": "call"})
    finally:
        cache._callbacks.remove(told)
    assert response.status_code == 302
    assert seen == [before + 1]


@pytest.mark.django_db
def test_old_versions_are_dropped_from_the_cache():
    version = cache.data_version()
    cache.cached("old", (), lambda: "x")
    key = cache.cache_key("old", version=version)
    assert django_cache.get(key) is not None
    assert cache.forget_versions_before(version + 1) >= 1
    assert django_cache.get(key) is None
