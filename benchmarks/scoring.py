"""Scoring speed: rule scores + RFM + priorities for a large base, and one contact rescored
in the CRM.

    .venv/bin/python benchmarks/scoring.py [--contacts 1000000] [--crm-contacts 5000]

1. `generate_company(contacts=N)` (Parquet) into a temporary folder, opened as a source
   (validated, then read with DuckDB); `pilotage.scoring.score(source, default_model())`
   (rule points of every rule, groups, grades, RFM quintiles and segments, priorities and
   reasons in both languages; CLV off: it is the CLV benchmark's business) against a
   straightforward pandas baseline computing the same rule points and RFM from the same
   Parquet files. The script checks that both give the same scores.
2. A CRM database (SQLite, in a temporary folder) with a generated company of M contacts
   imported, scored in a batch; then `contact_rescore` of single contacts after adding an
   interaction: median and worst of 200 calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from pilotage.contract.reader import read_folder
from pilotage.demo.generator import generate_company
from pilotage.scoring import default_model, score
from pilotage.scoring.rfm import rfm_scores


def pandas_baseline(folder: Path, as_of: datetime) -> pd.DataFrame:
    """The default model and RFM, written the obvious way in pandas."""
    contacts = pd.read_parquet(folder / "contacts.parquet")
    interactions = pd.read_parquet(
        folder / "interactions.parquet", columns=["contact_id", "occurred_at", "type"]
    )
    orders = pd.read_parquet(
        folder / "orders.parquet", columns=["contact_id", "ordered_at", "amount", "status"]
    )
    changes = pd.read_parquet(folder / "stage_changes.parquet")
    subscriptions = pd.read_parquet(
        folder / "subscriptions.parquet", columns=["contact_id", "started_at"]
    )
    zone = "Europe/Paris"

    def utc(series: pd.Series) -> pd.Series:
        values = pd.to_datetime(series)
        if values.dt.tz is None:
            values = values.dt.tz_localize(zone)
        return values.dt.tz_convert("UTC").dt.tz_localize(None)

    at = pd.Timestamp(as_of)
    contacts["created_at"] = utc(contacts["created_at"])
    contacts = contacts[contacts["created_at"] <= at].set_index("contact_id")
    interactions["occurred_at"] = utc(interactions["occurred_at"])
    interactions = interactions[interactions["occurred_at"] <= at]
    age = (at - interactions["occurred_at"]).dt.total_seconds() / 86400
    frame = pd.DataFrame(index=contacts.index)
    for key, types, points, half_life, cap in (
        ("a", ["demo", "quote_sent", "meeting"], 15, 21, 25),
        ("b", ["form_submit", "store_visit", "call"], 8, 21, 20),
        ("c", ["web_visit", "email_click", "event_attended"], 1, 14, 5),
    ):
        mask = interactions["type"].isin(types)
        weights = (
            (0.5 ** (age[mask] / half_life)).groupby(interactions.loc[mask, "contact_id"]).sum()
        )
        frame[key] = (points * weights.reindex(frame.index).fillna(0)).clip(-cap, cap)
    last_touch = interactions.groupby("contact_id")["occurred_at"].max().reindex(frame.index)
    since = (at - last_touch).dt.total_seconds() / 86400
    frame["silent"] = np.where(since.isna() | (since >= 90), -10, 0)
    engagement = frame[["a", "b", "c", "silent"]].sum(axis=1).clip(-40, 40)
    fit = (
        np.where(
            contacts["industry"].isin(["retail", "software", "healthcare", "hospitality"]), 10, 0
        )
        + np.where(
            contacts["job_title"].isin(
                ["ceo", "owner", "purchasing manager", "operations director"]
            ),
            10,
            0,
        )
        + np.where(contacts["employees"] >= 10, 5, 0)
        + np.where(contacts["channel"].isin(["referral", "partner", "event", "store"]), 5, 0)
        - np.where(
            contacts["industry"].isin(["public sector", "education"])
            | contacts["job_title"].isin(["intern", "assistant"]),
            10,
            0,
        )
    )
    fit = pd.Series(fit, index=contacts.index).clip(-30, 30)
    orders["ordered_at"] = utc(orders["ordered_at"])
    paid = orders[
        (orders["status"] == "paid") & (orders["amount"] > 0) & (orders["ordered_at"] <= at)
    ]
    paid_age = (at - paid["ordered_at"]).dt.total_seconds() / 86400
    by = paid.groupby("contact_id")
    count = by.size().reindex(frame.index).fillna(0)
    revenue = by["amount"].sum().reindex(frame.index).fillna(0)
    revenue_365 = paid["amount"].where(paid_age < 365, 0).groupby(paid["contact_id"]).sum()
    revenue_365 = revenue_365.reindex(frame.index).fillna(0)
    last_order = by["ordered_at"].max().reindex(frame.index)
    purchases = (np.where(count >= 2, 5, 0) + np.where(revenue_365 >= 1000, 5, 0)).clip(-10, 10)
    subscriptions["started_at"] = utc(subscriptions["started_at"])
    subscribed = subscriptions[subscriptions["started_at"] <= at]["contact_id"].unique()
    customer = (count > 0) | frame.index.isin(subscribed)
    stages = ["lead", "mql", "sql", "opportunity", "customer"]
    changes["changed_at"] = utc(changes["changed_at"])
    changes = changes[changes["changed_at"] <= at]
    index = (
        changes["stage"]
        .map({s: i for i, s in enumerate(stages)})
        .groupby(changes["contact_id"])
        .max()
    )
    index = index.reindex(frame.index)
    index = index.where(~customer, 4)
    journey = index.map({0: 0, 1: 5, 2: 10, 3: 15, 4: 20}).fillna(0).clip(-20, 20)
    result = pd.DataFrame(
        {"score": (fit + engagement + journey + purchases).clip(0, 100)}, index=frame.index
    )
    buyers = count > 0
    rfm_input = pd.DataFrame(
        {
            "recency_days": (at - last_order[buyers]).dt.total_seconds() / 86400,
            "frequency": count[buyers],
            "monetary": revenue[buyers],
        }
    )
    result = result.join(rfm_scores(rfm_input))
    return result


def run_engine(folder: Path) -> tuple[float, float, pd.DataFrame, datetime]:
    started = time.perf_counter()
    source = read_folder(folder)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    result = score(source, default_model(), use_clv=False)
    scored = time.perf_counter() - started
    return opened, scored, result.frame, result.as_of


def run_crm(contacts: int, home: Path) -> list[float]:
    os.environ["PILOTAGE_HOME"] = str(home)
    os.environ["DATABASE_URL"] = f"sqlite:///{home / 'crm.db'}"
    from pilotage.web import setup

    setup()
    from django.utils import timezone

    from pilotage.contract.settings import Settings
    from pilotage.web.crm.models import Interaction
    from pilotage.web.crm.services.importing import folder_import
    from pilotage.web.scoring.services import contact_rescore, scores_refresh

    folder = home / "company"
    generate_company(folder, contacts=contacts, seed=7)
    folder_import(folder=folder, settings=Settings(timezone="Europe/Paris"))
    scores_refresh()
    ids = [f"c{n:06d}" for n in range(1, contacts + 1, max(1, contacts // 200))][:200]
    timings = []
    for number, contact_id in enumerate(ids):
        Interaction.objects.create(
            interaction_id=f"bench{number}",
            contact_id=contact_id,
            occurred_at=timezone.now(),
            type="form_submit",
        )
        started = time.perf_counter()
        contact_rescore(contact_id=contact_id)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--crm-contacts", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pilotage-bench-scoring-") as tmp:
        folder = Path(tmp) / "company"
        started = time.perf_counter()
        rows = generate_company(folder, contacts=args.contacts, seed=7, fmt="parquet")
        print(f"generated {rows} in {time.perf_counter() - started:.1f} s")
        opened, scored, frame, as_of = run_engine(folder)
        print(f"engine: open (validate + read) {opened:.1f} s, score {scored:.1f} s")
        started = time.perf_counter()
        baseline = pandas_baseline(folder, as_of)
        pandas_seconds = time.perf_counter() - started
        print(f"pandas baseline (read + score + RFM): {pandas_seconds:.1f} s")
        engine = frame.set_index("contact_id")
        joined = engine[["score", "r", "f", "m"]].join(baseline, rsuffix="_pandas")
        assert len(joined) == len(baseline) == len(engine)
        np.testing.assert_allclose(joined["score"], joined["score_pandas"], atol=1e-6)
        for column in ("r", "f", "m"):
            left = joined[column].astype("float64").fillna(0).to_numpy()
            right = joined[f"{column}_pandas"].astype("float64").fillna(0).to_numpy()
            np.testing.assert_array_equal(left, right)
        print(
            f"same scores and RFM for {len(joined)} contacts; ratio {pandas_seconds / scored:.2f}x"
        )
        timings = run_crm(args.crm_contacts, Path(tmp) / "crm")
        print(
            f"CRM one-contact rescoring ({args.crm_contacts} contacts): median "
            f"{1000 * statistics.median(timings):.1f} ms, worst {1000 * max(timings):.1f} ms"
        )


if __name__ == "__main__":
    main()
