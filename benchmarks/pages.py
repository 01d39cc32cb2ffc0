"""Server time of every web page on a CRM database: cold, warm-up and warm.

    PILOTAGE_HOME=/tmp/pdemo pilotage demo --no-serve        # the demo database
    python benchmarks/pages.py --db sqlite:////tmp/pdemo/demo.db

Uses Django's test client (no network), logged in as an administrator it creates if
needed (the database gets that user, and its data version is bumped: use a copy). For
each page:

- cold: the first load right after `data_changed()` (a write) with nothing warmed, the
  KPI cache emptied, in a process that never showed the page: what a server that has
  just started would pay without its start-up warm (it compiles the page's SQL);
- write: the same again once every page was shown, each after a call logged on the
  contact page (a real write, which moves the data's latest timestamp): the first load
  after a write in a running server that has not finished warming (the page's queries
  run again; their SQL, and the KPI batches' expressions, are reused);
- warm-up: the seconds the cache warmer's step for that page takes (the warmer runs the
  steps in turn after each write, in a thread of the server; run here in this thread);
- warm: the median of `--repeat` loads once warmed, and whether they computed anything
  (`hit` when every load was served from the cache);
- after a restart: the first load once the process's memory is emptied, the results kept
  on disk (`cache/results`) read back, as a restarted server finds them;
- within a budget (`--budget`, the server's PILOTAGE_PAGE_BUDGET_SECONDS): after a write,
  nothing warmed, the first answer (a page saying the figures are being computed, 202,
  when they take longer) and the seconds until the page shows them, reloaded every
  3 seconds as the browser does.

Then the background warmer for real: a write, and the dashboard asked at once while the
warmer runs (it waits for the warmer's computation instead of repeating it), and the time
until the warmer is done. The contacts list (not cached: keyset-paged queries) is timed
with its filters and sorts, first page and next page. The load average is printed before
and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

RELOAD_SECONDS = 3  # as the page saying the figures are being computed reloads itself
ANALYTIC_PAGES = [
    # (url, the warmer's step that computes it, or None when not warmed)
    ("/dashboard/", "dashboard"),
    ("/team/", "team"),
    ("/funnel/", "funnel"),
    ("/attrition/", "attrition"),
    ("/acquisition/", "acquisition"),
    ("/kpis/revenue/", "kpi pages"),  # a pinned KPI's page (its breakdown: by channel)
    ("/kpis/orders/?by=owner", None),
    # Views nobody asked for before (not warmed): another attribution model, another grain.
    ("/acquisition/?model=first_touch", None),
    ("/acquisition/?model=markov", None),
    ("/dashboard/?grain=quarter", None),
    ("/kpis/", None),
    ("/contacts/", "contacts"),
    ("{contact}", None),  # its RFM table is warmed, its own rule score is not
    ("/imports/", None),
    ("/scoring/model/", None),
    ("/settings/", None),
]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def timed(get: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    response = get()
    return (time.perf_counter() - start) * 1000, response


def contact_queries(rep: str | None, channel: str | None, name: str, contact: str) -> list[str]:
    queries = [
        "",
        "?sort=created",
        "?sort=name",
        "?sort=-score",
        "?sort=-priority",
        "?sort=-priority&segment=at_risk&score_min=10",
        "?segment=champions",
        "?score_min=60&score_max=80",
        "?stage=sql&sort=name",
        "?kind=customer",
        "?kind=prospect",
        f"?q={contact}",
        f"?q={name}",
    ]
    if rep:
        queries.append(f"?owner={rep}")
        queries.append(f"?owner={rep}&sort=-score")
    if channel:
        queries.append(f"?channel={channel}&kind=customer")
    return [f"/contacts/{query}" for query in queries]


def progress(name: str, step: Callable[[], object]) -> Callable[[], object]:
    """`step`, printing its time when done (a warm-up takes minutes on 1M contacts)."""

    def run() -> object:
        elapsed, result = timed(step)
        print(f"  warm-up step {name}: {elapsed / 1000:.1f} s; load {load()}", flush=True)
        return result

    return run


NEXT = re.compile(r'href="\?([^"]+)"[^>]*rel="next"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="the CRM database URL (a copy: it is written)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-cold", action="store_true", help="no cold loads (slow at 1M)")
    parser.add_argument(
        "--budget", type=float, default=1.5, help="the page budget's section (seconds)"
    )
    parser.add_argument(
        "--steps",
        help="only these warm-up steps and their pages, comma-separated "
        "(dashboard,team,funnel,attrition,acquisition,contacts,kpi pages); default: all",
    )
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.db
    # The benchmark runs the warmer itself, step by step.
    os.environ["PILOTAGE_CACHE_WARMING"] = "off"
    # Server times are those of computing the pages (the budget: its own section).
    os.environ["PILOTAGE_PAGE_BUDGET_SECONDS"] = ""
    from pilotage.web import setup

    setup(args.db)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache as django_cache
    from django.test import Client
    from django.test.utils import setup_test_environment

    from pilotage.web.accounts.models import Profile, Role
    from pilotage.web.crm.models import Contact, Rep
    from pilotage.web.dashboard import cache, warming

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(username="benchmark-admin")
    Profile.objects.update_or_create(user=user, defaults={"role": Role.ADMIN})
    client = Client()
    client.force_login(user)
    first = Contact.objects.order_by("contact_id").values("contact_id", "name").first() or {}
    contact = str(first.get("contact_id", ""))
    contacts = Contact.objects.count()
    print(f"{args.db}: {contacts:,} contacts; load average {load()}")

    def computations() -> int:
        return sum(cache.computed.values())

    def get(url: str) -> tuple[float, int]:
        elapsed, response = timed(lambda: client.get(url))
        return elapsed, response.status_code

    pages = [
        (url.replace("{contact}", f"/contacts/{contact}/"), step) for url, step in ANALYTIC_PAGES
    ]
    steps_run = warming.default_steps()
    if args.steps:
        chosen = {"span", *(name.strip() for name in args.steps.split(","))}
        steps_run = [(name, step) for name, step in steps_run if name in chosen]
        pages = [(url, step) for url, step in pages if step is None or step in chosen]
    steps_run = [(name, progress(name, step)) for name, step in steps_run]
    client.get("/kpis/")  # imports and first connection, outside the figures
    # A call logged now: the data then ends now, as in a CRM in use (the generated
    # company's history ends earlier), so that the writes below stay in the same periods.
    client.post(f"/contacts/{contact}/log/", {"type": "call"})

    cold: dict[str, tuple[float, int]] = {}
    after_write: dict[str, tuple[float, int]] = {}
    if not args.skip_cold:
        for loads, label in ((cold, "cold"), (after_write, "after a write")):
            for url, _step in pages:
                if loads is cold:
                    cache.data_changed()
                else:  # a real write: a call logged now, which moves the data's end
                    client.post(f"/contacts/{contact}/log/", {"type": "call"})
                django_cache.clear()
                loads[url] = get(url)
                ms, status = loads[url]
                print(f"  {label} {url}: {ms:.0f} ms ({status}); load {load()}", flush=True)

    cache.data_changed()
    django_cache.clear()
    report = warming.warm(steps=steps_run)
    steps = dict(report.steps)
    print(
        f"warm-up: {report.seconds:.1f} s in all "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in report.steps)
        + (f"; errors: {report.errors}" if report.errors else "")
        + f"; load {load()}"
    )

    print(f"\n{'page':42} {'cold ms':>9} {'write ms':>9} {'warm-up s':>10} {'warm ms':>9}  served")
    for url, step in pages:
        if step is None:
            client.get(url)  # not warmed: the first load computes, the next ones read
        before = computations()
        loads = [get(url) for _ in range(args.repeat)]
        served = "hit" if computations() == before else "computed"
        if step is None:
            served += " (not warmed)"
        cold_text = f"{cold[url][0]:9.0f}" if url in cold else f"{'-':>9}"
        cold_text += f" {after_write[url][0]:9.0f}" if url in after_write else f" {'-':>9}"
        step_text = f"{steps[step]:10.2f}" if step in steps else f"{'-':>10}"
        status = {code for _ms, code in loads}
        print(
            f"{url[:42]:42} {cold_text} {step_text} "
            f"{statistics.median(ms for ms, _code in loads):9.1f}  {served} {sorted(status)}"
        )

    # A restart: this process's memory emptied; the results kept on disk are read back.
    cache.clear(memory_only=True)
    print(f"\n{'after a restart':42} {'first ms':>9}  served")
    for url, _step in pages:
        before = computations()
        ms, status = get(url)
        served = "from disk" if computations() == before else "computed"
        print(f"{url[:42]:42} {ms:9.0f}  {served} [{status}]")

    # The page budget: after a write, nothing warmed, each page asked as a browser does
    # (the page saying it computes, reloaded until the figures are there).
    from django.conf import settings as django_settings

    django_settings.PILOTAGE_PAGE_BUDGET_SECONDS = args.budget
    client.post(f"/contacts/{contact}/log/", {"type": "call"})
    django_cache.clear()
    print(f"\n{'within a budget of ' + str(args.budget) + ' s':42} {'first ms':>9} {'ready s':>8}")
    for url, _step in pages:
        started = time.perf_counter()
        first_ms, status = get(url)
        while status == 202:
            time.sleep(RELOAD_SECONDS)
            _ms, status = get(url)
        ready = time.perf_counter() - started
        print(f"{url[:42]:42} {first_ms:9.0f} {ready:8.1f}  [{status}]", flush=True)
    django_settings.PILOTAGE_PAGE_BUDGET_SECONDS = None

    # The background warmer, as the server runs it.
    warmer = warming.Warmer(poll_seconds=0.5, steps=steps_run).start()
    cache.on_warm_pending(warmer.behind)  # as `warming.start_warming` does in a server
    try:
        warmer.wait_until_warmed(cache.data_version(), 3600)
        written = time.perf_counter()
        version = cache.data_changed()
        warmer.notify()
        dashboard_ms, _status = get("/dashboard/")
        warmer.wait_until_warmed(version, 3600)
        total = time.perf_counter() - written
    finally:
        warmer.stop(3600)
    print(
        f"\nafter a write, with the background warmer: dashboard answered in "
        f"{dashboard_ms:.0f} ms; every default page warm {total:.1f} s after the write; "
        f"load {load()}"
    )

    rep = Rep.objects.order_by("rep_id").values_list("rep_id", flat=True).first()
    channel = Contact.objects.order_by("contact_id").values_list("channel", flat=True).first()
    name = str(first.get("name") or "a").split(" ")[0][:5] or "a"
    print(f"\n{'contacts list':58} {'first ms':>9} {'warm ms':>9} {'next page ms':>13}")
    for url in contact_queries(rep, channel, name, contact):
        first_ms, response = timed(lambda url=url: client.get(url))
        warm = [get(url)[0] for _ in range(args.repeat)]
        found = NEXT.search(response.content.decode())
        next_text = f"{'-':>13}"
        if found:
            next_url = "/contacts/?" + html.unescape(found.group(1))
            next_ms = statistics.median(get(next_url)[0] for _ in range(args.repeat))
            next_text = f"{next_ms:13.1f}"
        print(
            f"{url[:58]:58} {first_ms:9.0f} {statistics.median(warm):9.1f} {next_text}"
            f"  ({response.status_code})"
        )
    print(f"\nload average {load()}")


if __name__ == "__main__":
    main()
