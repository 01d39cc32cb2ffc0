"""A page whose figures take longer than the budget to compute answers at once with a page
saying they are being computed, reloading itself; the computation goes on, reloads share
it, and the figures are shown from the cache once it ends. The computation is held back
with an event (never a sleep) so that "still computing" is certain, not a race."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from pilotage.web.accounts.models import Profile, Role
from pilotage.web.dashboard import budget, cache
from pilotage.web.dashboard.selectors import analysis

WAIT = 600  # seconds: a bound for a loaded machine, not an expectation


@pytest.fixture
def held_funnel(monkeypatch) -> Iterator[tuple[threading.Event, list[int]]]:
    """The funnel's selector, held until the event is set; the list counts its calls."""
    release = threading.Event()
    calls: list[int] = []
    real: Callable[..., Any] = analysis.funnel

    def held(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        assert release.wait(WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "funnel", held)
    yield release, calls
    release.set()


def wait_for_computations() -> None:
    for computation in list(budget._computations.values()):
        computation.future.exception(timeout=WAIT)  # ended, whatever its outcome


@pytest.fixture(autouse=True)
def _no_computation_left() -> Iterator[None]:
    """Users' ids repeat from one test's database to the next: no computation of a test
    may be found by the next one."""
    yield
    wait_for_computations()
    budget._computations.clear()


def test_a_slow_page_says_it_is_computing_then_shows_the_figures(
    admin_client, settings, held_funnel
):
    release, calls = held_funnel
    settings.PILOTAGE_PAGE_BUDGET_SECONDS = 0.05
    first = admin_client.get("/funnel/")
    assert first.status_code == 202
    text = first.content.decode()
    assert "Computing the figures" in text
    assert '<meta http-equiv="refresh" content="3">' in text
    # A reload while it computes shares the computation.
    assert admin_client.get("/funnel/").status_code == 202
    assert calls == [1]
    release.set()
    wait_for_computations()
    before = sum(cache.computed.values())
    shown = admin_client.get("/funnel/")
    assert shown.status_code == 200
    assert "Funnel by channel" in shown.content.decode()
    assert sum(cache.computed.values()) == before, "the reload computed again"
    assert not budget._computations


def test_a_page_ready_within_the_budget_is_served_at_once(admin_client, settings):
    settings.PILOTAGE_PAGE_BUDGET_SECONDS = float(WAIT)
    response = admin_client.get("/attrition/")
    assert response.status_code == 200
    assert not budget._computations


def test_the_computing_page_speaks_french(admin_client, settings, held_funnel):
    settings.PILOTAGE_PAGE_BUDGET_SECONDS = 0.05
    response = admin_client.get("/funnel/", headers={"accept-language": "fr"})
    assert response.status_code == 202
    assert "Calcul des chiffres" in response.content.decode()
    held_funnel[0].set()
    wait_for_computations()


def test_a_failed_computation_is_raised_to_the_next_request(admin_client, settings, monkeypatch):
    release = threading.Event()

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        assert release.wait(WAIT)
        raise RuntimeError("the funnel failed")

    monkeypatch.setattr(analysis, "funnel", failing)
    settings.PILOTAGE_PAGE_BUDGET_SECONDS = 0.05
    assert admin_client.get("/funnel/").status_code == 202
    release.set()
    wait_for_computations()
    with pytest.raises(RuntimeError, match="the funnel failed"):
        admin_client.get("/funnel/")  # the test client raises what the view raised
    assert not budget._computations


def test_another_user_never_gets_a_page_rendered_for_someone_else(
    admin_client, settings, held_funnel
):
    """Two users asking the same page compute separately (each page is rendered for its
    user: its name, its scope, its CSRF token)."""
    release, calls = held_funnel
    settings.PILOTAGE_PAGE_BUDGET_SECONDS = 0.05
    second = get_user_model().objects.create_user("second-boss", password="a-long-passphrase-42")
    Profile.objects.create(user=second, role=Role.ADMIN)
    other = Client()
    other.force_login(second)
    assert admin_client.get("/funnel/").status_code == 202
    assert other.get("/funnel/").status_code == 202
    assert len(calls) == 2
    release.set()
    wait_for_computations()
    assert "second-boss" in other.get("/funnel/").content.decode()


def test_the_process_ends_while_a_page_computes(tmp_path):
    """Stopping the server does not wait for a page still computing (a minute on a
    million contacts): the page workers are daemon threads. The page here never ends."""
    code = "\n".join(
        [
            "import threading, django",
            "django.setup()",
            "from pilotage.web.dashboard import budget",
            "started = threading.Event()",
            "def never_ends():",
            "    started.set()",
            "    threading.Event().wait()",
            "budget._workers.submit(never_ends)",
            "assert started.wait(60)",
            "print('leaving')",
        ]
    )
    env = {
        **os.environ,
        "PILOTAGE_HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "pilotage.web.settings",
    }
    # The bound is a failure's, not a timing: a process waiting for the page never ends.
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leaving"
