"""KPI engine benchmark: every KPI for 8 quarters on DuckDB (and PostgreSQL), against a
straightforward pandas implementation measured in the same run.

    .venv/bin/python benchmarks/kpis.py --contacts 1000000
    .venv/bin/python benchmarks/kpis.py --data path/to/folder      # a contract folder
    .venv/bin/python benchmarks/kpis.py --contacts 3000 --dashboard  # the dashboard query

Each phase runs in its own process, so that its peak memory (max RSS) is its own. The
synthetic company is built with numpy (contacts, orders, interactions, stage changes,
deals, subscriptions, spend: about 10 rows per contact) and written once as Parquet.
The pandas baseline implements the KPIs that are plain group-bys and windows (the core
of the catalogue, listed in PANDAS_KPIS); the ratio printed compares the engine on the
same KPIs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

QUARTERS = 8
START = date(2023, 1, 1)
END = date(2024, 12, 31)
CHANNELS = ["web", "store", "phone", "email", "event", "referral", "partner", "social", "ads"]
PANDAS_KPIS = [
    "new_leads",
    "new_customers",
    "lead_conversion_rate",
    "acquisition_spend",
    "cac",
    "active_customers",
    "customer_churn_rate",
    "early_churn_rate",
    "revenue",
    "orders",
    "average_order_value",
    "revenue_per_customer",
]
DASHBOARD_KPIS = [
    "new_leads",
    "new_customers",
    "lead_conversion_rate",
    "cac",
    "customer_churn_rate",
    "revenue",
    "average_order_value",
    "early_churn_rate",
]


def synthetic_company(out: Path, contacts: int, seed: int) -> dict[str, int]:
    """A contract folder (Parquet, UTC timestamps) of about 10 rows per contact."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-07-01T00:00:00", "s")
    span = int((np.datetime64("2025-01-01T00:00:00", "s") - start).astype(int))
    ids = np.char.add("c", np.arange(contacts).astype(str))
    created = start + rng.integers(0, span, contacts).astype("timedelta64[s]")
    campaigns = np.char.add("k", rng.integers(0, 40, contacts).astype(str))
    tables: dict[str, pd.DataFrame] = {}
    tables["reps"] = pd.DataFrame({"rep_id": [f"r{i}" for i in range(30)], "name": "rep"})
    tables["campaigns"] = pd.DataFrame(
        {
            "campaign_id": [f"k{i}" for i in range(40)],
            "name": "campaign",
            "channel": [CHANNELS[i % len(CHANNELS)] for i in range(40)],
        }
    )
    tables["contacts"] = pd.DataFrame(
        {
            "contact_id": ids,
            "created_at": created,
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), contacts)],
            "campaign_id": np.where(rng.random(contacts) < 0.6, campaigns, None),
            "owner_id": np.where(
                rng.random(contacts) < 0.5,
                np.char.add("r", rng.integers(0, 30, contacts).astype(str)),
                None,
            ),
        }
    )
    # Orders: 40 % of contacts buy, 1 to 8 orders each, from a few days after creation.
    buyers = np.flatnonzero(rng.random(contacts) < 0.4)
    counts = rng.integers(1, 9, buyers.size)
    owner = np.repeat(buyers, counts)
    first = rng.exponential(20 * 86_400, buyers.size).astype("int64")
    gaps = rng.exponential(60 * 86_400, owner.size).astype("int64")
    offsets = np.repeat(first, counts) + gaps
    ordered = created[owner] + offsets.astype("timedelta64[s]")
    status = np.where(rng.random(owner.size) < 0.05, "refunded", "paid")
    tables["orders"] = pd.DataFrame(
        {
            "order_id": np.char.add("o", np.arange(owner.size).astype(str)),
            "contact_id": ids[owner],
            "ordered_at": ordered,
            "amount": np.round(rng.gamma(2.0, 40.0, owner.size), 2),
            "status": status,
        }
    )
    touches = contacts * 4
    toucher = rng.integers(0, contacts, touches)
    tables["interactions"] = pd.DataFrame(
        {
            "interaction_id": np.char.add("i", np.arange(touches).astype(str)),
            "contact_id": ids[toucher],
            "occurred_at": created[toucher]
            + rng.integers(-10 * 86_400, 90 * 86_400, touches).astype("timedelta64[s]"),
            "type": "web_visit",
            "campaign_id": np.where(rng.random(touches) < 0.3, campaigns[toucher], None),
            "rep_id": np.where(
                rng.random(touches) < 0.2,
                np.char.add("r", rng.integers(0, 30, touches).astype(str)),
                None,
            ),
        }
    )
    staged = rng.integers(0, contacts, int(contacts * 1.5))
    tables["stage_changes"] = pd.DataFrame(
        {
            "contact_id": ids[staged],
            "stage": np.array(["lead", "mql", "sql", "opportunity"])[
                rng.integers(0, 4, staged.size)
            ],
            "changed_at": created[staged]
            + rng.integers(0, 60 * 86_400, staged.size).astype("timedelta64[s]"),
        }
    )
    dealt = rng.integers(0, contacts, contacts // 5)
    closed = rng.random(dealt.size) < 0.8
    tables["deals"] = pd.DataFrame(
        {
            "deal_id": np.char.add("d", np.arange(dealt.size).astype(str)),
            "contact_id": ids[dealt],
            "rep_id": np.char.add("r", rng.integers(0, 30, dealt.size).astype(str)),
            "created_at": created[dealt],
            "amount": np.round(rng.gamma(2.0, 500.0, dealt.size), 2),
            "status": np.where(
                closed, np.where(rng.random(dealt.size) < 0.4, "won", "lost"), "open"
            ),
            "closed_at": np.where(
                closed,
                created[dealt]
                + rng.integers(86_400, 120 * 86_400, dealt.size).astype("timedelta64[s]"),
                np.datetime64("NaT"),
            ),
        }
    )
    subscribed = rng.integers(0, contacts, contacts // 10)
    began = created[subscribed] + rng.integers(0, 30 * 86_400, subscribed.size).astype(
        "timedelta64[s]"
    )
    ended = began + rng.integers(30 * 86_400, 700 * 86_400, subscribed.size).astype(
        "timedelta64[s]"
    )
    tables["subscriptions"] = pd.DataFrame(
        {
            "subscription_id": np.char.add("s", np.arange(subscribed.size).astype(str)),
            "contact_id": ids[subscribed],
            "started_at": began,
            "ended_at": np.where(rng.random(subscribed.size) < 0.5, ended, np.datetime64("NaT")),
            "mrr": np.round(rng.gamma(2.0, 20.0, subscribed.size), 2),
        }
    )
    days = pd.date_range("2022-07-01", "2024-12-31", freq="D")
    grid = pd.MultiIndex.from_product([days, range(40)], names=["spent_on", "k"]).to_frame(
        index=False
    )
    tables["spend"] = pd.DataFrame(
        {
            "spent_on": grid.spent_on.dt.date,
            "amount": np.round(rng.gamma(2.0, 50.0, len(grid)), 2),
            "channel": [CHANNELS[k % len(CHANNELS)] for k in grid.k],
            "campaign_id": [f"k{k}" for k in grid.k],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return {name: len(frame) for name, frame in tables.items()}


def duckdb_source(folder: Path) -> Any:
    """The folder's Parquet files as typed DuckDB tables (the engine's own types)."""
    import duckdb

    from pilotage.contract.schema import TABLE_NAMES, engine_schema
    from pilotage.contract.settings import Settings
    from pilotage.engine.backends import from_duckdb

    types = {
        "string": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "float64": "DOUBLE",
        "int64": "BIGINT",
    }
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for name in TABLE_NAMES:
        path = folder / f"{name}.parquet"
        if not path.exists():
            continue
        present = set(
            connection.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").df()["column_name"]
        )
        selected = []
        for column, dtype in engine_schema(name).items():
            value = f'"{column}"' if column in present else "NULL"
            selected.append(f'CAST({value} AS {types[dtype]}) AS "{column}"')
        columns = ", ".join(selected)
        connection.execute(
            f"CREATE TABLE \"{name}\" AS SELECT {columns} FROM read_parquet('{path}')"
        )
    return from_duckdb(connection, Settings(), str(folder))


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from
    the parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_engine(
    folder: str,
    kpis: list[str] | None,
    breakdowns: list[str | None],
    queue: Any,
    span: tuple[date, date] = (START, END),
) -> None:
    from pilotage.engine.compute import compute_kpis

    began = time.perf_counter()
    source = duckdb_source(Path(folder))
    load = time.perf_counter() - began
    timings = {}
    for by in breakdowns:
        began = time.perf_counter()
        compute_kpis(source, grain="quarter", start=span[0], end=span[1], by=by, kpis=kpis)  # type: ignore[arg-type]
        timings[str(by)] = time.perf_counter() - began
    queue.put({"load": load, "timings": timings, "peak_mb": peak_mb()})


def phase_postgres(
    url: str, kpis: list[str] | None, breakdowns: list[str | None], queue: Any
) -> None:
    from pilotage.engine.backends import from_database_url
    from pilotage.engine.compute import compute_kpis

    source = from_database_url(url)
    timings = {}
    for by in breakdowns:
        began = time.perf_counter()
        compute_kpis(source, grain="quarter", start=START, end=END, by=by, kpis=kpis)  # type: ignore[arg-type]
        timings[str(by)] = time.perf_counter() - began
    queue.put({"timings": timings, "peak_mb": peak_mb()})


def pandas_kpis(
    tables: dict[str, pd.DataFrame], d_days: int = 365, w_days: int = 90
) -> pd.DataFrame:
    """The PANDAS_KPIS for the 8 quarters of 2023-2024 (UTC), written plainly with pandas."""
    quarters = pd.period_range("2023Q1", "2024Q4", freq="Q")
    starts = quarters.start_time
    ends = (quarters + 1).start_time
    contacts = tables["contacts"]
    orders = tables["orders"]
    paid = orders[(orders.status.fillna("paid") == "paid") & (orders.amount > 0)]
    subs = tables["subscriptions"]
    converted = (
        pd.concat(
            [
                paid.groupby("contact_id").ordered_at.min(),
                subs.groupby("contact_id").started_at.min(),
            ]
        )
        .groupby(level=0)
        .min()
        .rename("converted_at")
    )
    results: list[dict[str, Any]] = []
    people = contacts.set_index("contact_id").join(converted)
    people["delay"] = ((people.converted_at - people.created_at).dt.total_seconds()).clip(lower=0)
    spend = tables["spend"].copy()
    spend["spent_on"] = pd.to_datetime(spend.spent_on)
    paid_sorted = paid.sort_values(["contact_id", "ordered_at"])
    nxt = paid_sorted.merge(converted.reset_index(), on="contact_id")
    nxt = nxt[nxt.ordered_at > nxt.converted_at].groupby("contact_id").ordered_at.min()
    first_orders = people.join(nxt.rename("next_order"))
    for label, start, end in zip(quarters.astype(str), starts, ends, strict=True):
        cohort = people[(people.created_at >= start) & (people.created_at < end)]
        new = people[(people.converted_at >= start) & (people.converted_at < end)]
        in_window = cohort.converted_at.notna() & (cohort.delay < w_days * 86_400)
        spent = spend[(spend.spent_on >= start) & (spend.spent_on < end)].amount.sum()
        window = paid[(paid.ordered_at >= start) & (paid.ordered_at < end)]
        before = paid[
            (paid.ordered_at >= start - pd.Timedelta(days=d_days)) & (paid.ordered_at < start)
        ]
        base = set(before.contact_id.unique())
        at_end = paid[
            (paid.ordered_at >= end - pd.Timedelta(days=d_days)) & (paid.ordered_at < end)
        ]
        kept = base & set(at_end.contact_id.unique())
        early = first_orders[
            (first_orders.converted_at >= start) & (first_orders.converted_at < end)
        ]
        stayed = early.next_order.notna() & (
            (early.next_order - early.converted_at).dt.total_seconds() <= d_days * 86_400
        )
        buyers = window.contact_id.nunique()
        values = {
            "new_leads": len(cohort),
            "new_customers": len(new),
            "lead_conversion_rate": in_window.sum() / len(cohort) if len(cohort) else None,
            "acquisition_spend": spent,
            "cac": spent / len(new) if len(new) else None,
            "active_customers": len(base),
            "customer_churn_rate": (len(base) - len(kept)) / len(base) if base else None,
            "early_churn_rate": (len(early) - stayed.sum()) / len(early) if len(early) else None,
            "revenue": window.amount.sum(),
            "orders": len(window),
            "average_order_value": window.amount.sum() / len(window) if len(window) else None,
            "revenue_per_customer": window.amount.sum() / buyers if buyers else None,
        }
        results += [{"kpi": k, "period": label, "value": v} for k, v in values.items()]
    return pd.DataFrame(results)


def phase_pandas(folder: str, queue: Any) -> None:
    began = time.perf_counter()
    tables = {
        name: pd.read_parquet(Path(folder) / f"{name}.parquet")
        for name in ("contacts", "orders", "subscriptions", "spend")
    }
    load = time.perf_counter() - began
    began = time.perf_counter()
    pandas_kpis(tables)
    queue.put(
        {"load": load, "timings": {"None": time.perf_counter() - began}, "peak_mb": peak_mb()}
    )


def run_phase(target: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue), kwargs=kwargs)
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="a folder of Parquet contract files")
    parser.add_argument("--postgres", metavar="URL", help="also time a CRM database")
    parser.add_argument("--dashboard", action="store_true", help="8 KPIs, one quarter, by channel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pilotage-bench-") as scratch:
        folder = args.data
        if folder is None:
            folder = Path(scratch)
            began = time.perf_counter()
            rows = synthetic_company(folder, args.contacts, args.seed)
            print(
                f"generated {sum(rows.values()):,} rows ({args.contacts:,} contacts) "
                f"in {time.perf_counter() - began:.1f} s: {rows}"
            )
        if args.dashboard:
            quarter = (date(2024, 10, 1), date(2024, 12, 31))
            result = run_phase(phase_engine, str(folder), DASHBOARD_KPIS, ["channel"], span=quarter)
            print(
                "dashboard (8 KPIs, one quarter, by channel) on DuckDB: "
                f"{result['timings']['channel'] * 1000:.0f} ms"
            )
            return 0
        engine = run_phase(phase_engine, str(folder), None, [None, "channel", "campaign", "owner"])
        print(f"DuckDB load {engine['load']:.1f} s, peak {engine['peak_mb']:.0f} MB")
        for by, seconds in engine["timings"].items():
            print(f"  all KPIs, 8 quarters, by {by}: {seconds:.2f} s")
        subset = run_phase(phase_engine, str(folder), PANDAS_KPIS, [None])
        baseline = run_phase(phase_pandas, str(folder))
        ratio = baseline["timings"]["None"] / subset["timings"]["None"]
        print(
            f"{len(PANDAS_KPIS)} core KPIs, 8 quarters: DuckDB {subset['timings']['None']:.2f} s "
            f"(peak {subset['peak_mb']:.0f} MB) vs pandas {baseline['timings']['None']:.2f} s "
            f"(+ {baseline['load']:.1f} s reading, peak {baseline['peak_mb']:.0f} MB): {ratio:.1f}x"
        )
        if args.postgres:
            result = run_phase(phase_postgres, args.postgres, None, [None, "channel"])
            for by, seconds in result["timings"].items():
                print(f"  PostgreSQL, all KPIs, by {by}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
