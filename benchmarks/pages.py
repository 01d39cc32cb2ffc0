"""Server time of every web page, cold (empty KPI cache) and warm, on a CRM database.

    PILOTAGE_HOME=/tmp/pdemo pilotage demo --no-serve        # the demo database
    python benchmarks/pages.py --db sqlite:////tmp/pdemo/demo.db

Uses Django's test client (no network), logged in as an administrator it creates if
needed. Prints one line per page: cold ms, then the median of `--repeat` warm loads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="the CRM database URL")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.db
    from pilotage.web import setup

    setup(args.db)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import setup_test_environment

    from pilotage.web.accounts.models import Profile, Role
    from pilotage.web.crm.models import Contact

    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(username="benchmark-admin")
    Profile.objects.update_or_create(user=user, defaults={"role": Role.ADMIN})
    client = Client()
    client.force_login(user)
    contact = Contact.objects.order_by("contact_id").values_list("contact_id", flat=True).first()
    pages = [
        "/dashboard/",
        "/kpis/",
        "/kpis/revenue/?by=channel",
        "/funnel/",
        "/attrition/",
        "/acquisition/",
        "/team/",
        "/contacts/",
        "/contacts/?stage=sql&sort=name",
        "/contacts/?sort=-score",
        "/contacts/?sort=-priority&segment=at_risk&score_min=10",
        f"/contacts/{contact}/",
        "/imports/",
        "/scoring/model/",
        "/settings/",
    ]
    cache.clear()
    print(f"{'page':40} {'cold ms':>9} {'warm ms':>9}")
    for url in pages:
        start = time.perf_counter()
        status = client.get(url).status_code
        cold = (time.perf_counter() - start) * 1000
        warm = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            client.get(url)
            warm.append((time.perf_counter() - start) * 1000)
        print(f"{url:40} {cold:9.0f} {statistics.median(warm):9.1f}  ({status})")


if __name__ == "__main__":
    main()
