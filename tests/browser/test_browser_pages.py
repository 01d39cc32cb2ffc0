"""The web app in a real browser (Debian's Chromium driven by Playwright), served by
waitress as `pilotage serve` does, on a database filled with a small generated company.

Run with `pytest -m browser`; needs Chromium (`apt-get install chromium`, or the path in
PILOTAGE_CHROMIUM). Screenshots of every page land in `screenshots/` (git-ignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "screenshots"
CHROMIUM = os.environ.get("PILOTAGE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-passphrase-42"
PAGES = [
    ("dashboard", "/dashboard/"),
    ("catalogue", "/kpis/"),
    ("kpi", "/kpis/revenue/?grain=quarter&by=channel"),
    ("funnel", "/funnel/"),
    ("attrition", "/attrition/"),
    ("acquisition", "/acquisition/"),
    ("team", "/team/"),
    ("contacts", "/contacts/"),
    ("imports", "/imports/"),
    ("scoring_model", "/scoring/model/"),
    ("settings", "/settings/"),
]

PREPARE = """
import sys
from pathlib import Path
from pilotage.web import setup
setup(sys.argv[1])
from pilotage.contract.settings import load_settings
from pilotage.demo.generator import generate_company
from pilotage.web.accounts.services import user_create
from pilotage.web.crm.models import Contact, Rep
from pilotage.web.crm.services.importing import folder_import
folder = Path(sys.argv[2])
generate_company(folder, contacts=400, seed=7)
assert folder_import(folder=folder, settings=load_settings(None, folder)).loaded
user_create(username="boss", password=sys.argv[3], role="admin")
rep = Rep.objects.exclude(team=None).order_by("rep_id").first()
user_create(username="rita", password=sys.argv[3], role="rep", rep_id=rep.rep_id)
other = Contact.objects.exclude(owner__team=rep.team).exclude(owner=None).first()
own = Contact.objects.filter(owner=rep).first()
print(other.contact_id, own.contact_id)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        message = (
            f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set PILOTAGE_CHROMIUM)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a failure
        pytest.skip(message)
    home = tmp_path_factory.mktemp("browser-home")
    url = f"sqlite:///{home / 'company.db'}"
    env = {**os.environ, "PILOTAGE_HOME": str(home), "DATABASE_URL": url}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    prepared = subprocess.run(
        [sys.executable, "-c", PREPARE, url, str(home / "company"), PASSWORD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    other_contact, own_contact = prepared.stdout.split()[-2:]
    port = free_port()
    # As in production: the server warms its KPI cache in the background (the test
    # process itself runs with warming off, tests/conftest.py).
    env["PILOTAGE_CACHE_WARMING"] = "background"
    # Pages render in the server's page workers, as in production, with a budget no page
    # of this small company reaches (the page said while computing: test_page_budget).
    env["PILOTAGE_PAGE_BUDGET_SECONDS"] = "120"
    process = subprocess.Popen(
        [sys.executable, "-m", "pilotage.cli", "serve", "--db", url, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.3)
    yield {"base": base, "url": url, "other": other_contact, "own": own_contact}
    process.terminate()
    process.communicate(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Watch:
    """Console errors and every request the page tries to make outside the server."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.route("**/*", self.route)

    def route(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if host not in ("127.0.0.1", None) and not route.request.url.startswith("data:"):
            self.outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def test_every_page_in_the_browser(server, browser):
    SCREENSHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    watch = Watch(page)
    base = server["base"]
    log_in(page, base, "boss")
    for name, path in PAGES:
        response = page.goto(f"{base}{path}")
        assert response is not None, path
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        if page.locator("[data-chart]").count():
            page.wait_for_selector("[data-chart] .main-svg", timeout=15000)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.goto(f"{base}/contacts/{server['other']}/")
    page.screenshot(path=str(SCREENSHOTS / "contact.png"), full_page=True)
    assert page.locator("h2", has_text="Timeline").count() == 1
    assert watch.errors == [], watch.errors
    assert watch.outside == [], watch.outside
    context.close()


def test_a_pinned_kpi_shows_the_value_of_pilotage_kpi(server, browser):
    from pilotage.engine.backends import from_database_url
    from pilotage.engine.compute import compute_kpis

    expected = compute_kpis(from_database_url(server["url"]), grain="month", kpis=["revenue"])
    last = expected.rows[-1]
    context = browser.new_context()
    page = context.new_page()
    log_in(page, server["base"], "boss")
    page.goto(f"{server['base']}/dashboard/?grain=month")
    card = page.locator('[data-kpi="revenue"] .kpi-value')
    assert float(card.get_attribute("data-value")) == pytest.approx(last.value)
    assert page.locator("#period").input_value() == last.period
    # The click leads to the KPI's page.
    page.click('[data-kpi="revenue"]')
    page.wait_for_url("**/kpis/revenue/**")
    assert page.locator("h1").inner_text().startswith("Revenue")
    context.close()


def test_the_french_page_is_in_french(server, browser):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    log_in(page, server["base"], "boss")
    page.goto(f"{server['base']}/dashboard/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").inner_text() == "Tableau de bord"
    assert page.get_by_text("Nouveaux clients").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "dashboard-fr.png"), full_page=True)
    # The switch goes back to English.
    # The select submits its form on change: wait for that navigation, not for the page
    # already loaded.
    with page.expect_navigation():
        page.select_option("#language", "en")
    from playwright.sync_api import expect

    expect(page.locator("h1")).to_have_text("Dashboard")
    context.close()


def test_a_rep_cannot_open_another_teams_contact(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    log_in(page, server["base"], "rita")
    response = page.goto(f"{server['base']}/contacts/{server['other']}/")
    assert response is not None
    assert response.status == 404
    response = page.goto(f"{server['base']}/contacts/{server['own']}/")
    assert response is not None
    assert response.status == 200
    page.goto(f"{server['base']}/dashboard/")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-phone-rep.png"), full_page=True)
    context.close()
