"""Attribution at scale: all six models for a year on DuckDB, against a pandas baseline.

    .venv/bin/python benchmarks/attribution.py [--contacts 1000000] [--touchpoints 5000000]

Builds a seeded company with numpy (contacts, 50 campaigns on 9 channels, touchpoints
over 2024, about 20 % of contacts buying one to three times, daily spend per campaign)
into a DuckDB file, then, each in a fresh process so that peak memory is its own:
- engine: `pilotage.attribution.attribute(source, "all", "campaign", "quarter")` for 2024
  (paths, five rule-based models, Markov transition counts and chains, revenue, spend);
- baseline: the same numbers with straightforward pandas (merges, sort, groupby, shift),
  reading the same tables into DataFrames first (that read is part of its time).
Prints wall time and peak resident memory of each, the ratio, and checks that both agree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from pilotage.contract.schema import CHANNELS
from pilotage.contract.settings import Settings

SEED = 20240101
YEAR_START = np.datetime64("2024-01-01T00:00:00", "us")
YEAR_SECONDS = 366 * 86_400
CAMPAIGNS = 50


def build(path: Path, contacts: int, touchpoints: int) -> None:
    rng = np.random.default_rng(SEED)
    connection = duckdb.connect(str(path))
    campaign_channel = rng.integers(0, len(CHANNELS), CAMPAIGNS)
    campaigns = pd.DataFrame(
        {
            "campaign_id": [f"cmp{i:03d}" for i in range(CAMPAIGNS)],
            "name": [f"Campaign {i}" for i in range(CAMPAIGNS)],
            "channel": [CHANNELS[c] for c in campaign_channel],
        }
    )
    connection.register("campaigns_frame", campaigns)
    connection.execute(
        "CREATE TABLE campaigns AS SELECT campaign_id, name, channel, "
        "NULL::DATE AS started_on, NULL::DATE AS ended_on FROM campaigns_frame"
    )
    contact_numbers = pd.DataFrame(
        {
            "n": np.arange(contacts),
            "created": YEAR_START
            + rng.integers(-90 * 86_400, YEAR_SECONDS, contacts).astype("timedelta64[s]"),
            "channel": rng.integers(0, len(CHANNELS), contacts),
        }
    )
    connection.register("contact_frame", contact_numbers)
    channel_list = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    connection.execute(
        f"""CREATE TABLE contacts AS SELECT 'k' || lpad(n::VARCHAR, 8, '0') AS contact_id,
        created::TIMESTAMP AS created_at, {channel_list}[channel + 1] AS channel,
        NULL::VARCHAR AS campaign_id, NULL::VARCHAR AS owner_id, NULL::VARCHAR AS name,
        NULL::VARCHAR AS email, NULL::VARCHAR AS phone, NULL::VARCHAR AS company,
        NULL::VARCHAR AS industry, NULL::VARCHAR AS country, NULL::VARCHAR AS city,
        NULL::BIGINT AS employees, NULL::VARCHAR AS job_title FROM contact_frame"""
    )
    # Touchpoints: skewed towards some contacts (a few have long paths), campaigns with
    # uneven reach, times over the year.
    who = np.minimum((rng.pareto(1.5, touchpoints) * contacts / 8).astype(np.int64), contacts - 1)
    who = np.where(rng.random(touchpoints) < 0.5, rng.integers(0, contacts, touchpoints), who)
    reach = rng.dirichlet(np.full(CAMPAIGNS, 0.7))
    touch_frame = pd.DataFrame(
        {
            "n": np.arange(touchpoints),
            "who": who,
            "instant": YEAR_START
            + rng.integers(0, YEAR_SECONDS, touchpoints).astype("timedelta64[s]"),
            "campaign": rng.choice(CAMPAIGNS, touchpoints, p=reach),
        }
    )
    connection.register("touch_frame", touch_frame)
    connection.execute(
        """CREATE TABLE interactions AS SELECT 'i' || lpad(n::VARCHAR, 9, '0') AS interaction_id,
        'k' || lpad(who::VARCHAR, 8, '0') AS contact_id, instant::TIMESTAMP AS occurred_at,
        'ad_click' AS type, NULL::VARCHAR AS channel,
        'cmp' || lpad(campaign::VARCHAR, 3, '0') AS campaign_id, NULL::VARCHAR AS rep_id
        FROM touch_frame"""
    )
    # Buyers: 20 % of contacts, more likely when touched; first order some time after a
    # random touch or at a random time; one to three orders.
    buyers = rng.choice(contacts, contacts // 5, replace=False)
    first = YEAR_START + rng.integers(0, YEAR_SECONDS, buyers.size).astype("timedelta64[s]")
    repeats = rng.integers(1, 4, buyers.size)
    order_who = np.repeat(buyers, repeats)
    order_first = np.repeat(first, repeats)
    offsets = rng.integers(0, 200 * 86_400, order_who.size).astype("timedelta64[s]")
    is_first = np.concatenate([[True], order_who[1:] != order_who[:-1]])
    order_frame = pd.DataFrame(
        {
            "n": np.arange(order_who.size),
            "who": order_who,
            "instant": np.where(is_first, order_first, order_first + offsets),
            "amount": np.round(rng.gamma(2.0, 60.0, order_who.size), 2),
        }
    )
    connection.register("order_frame", order_frame)
    connection.execute(
        """CREATE TABLE orders AS SELECT 'o' || lpad(n::VARCHAR, 9, '0') AS order_id,
        'k' || lpad(who::VARCHAR, 8, '0') AS contact_id, instant::TIMESTAMP AS ordered_at,
        amount::DOUBLE AS amount, NULL::VARCHAR AS channel, 'paid' AS status,
        NULL::DOUBLE AS margin, NULL::VARCHAR AS rep_id FROM order_frame"""
    )
    days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    spend_frame = pd.DataFrame(
        {
            "spent_on": np.repeat(days.values, CAMPAIGNS),
            "campaign": np.tile(np.arange(CAMPAIGNS), days.size),
            "amount": np.round(rng.gamma(2.0, 150.0, days.size * CAMPAIGNS), 2),
        }
    )
    connection.register("spend_frame", spend_frame)
    connection.execute(
        """CREATE TABLE spend AS SELECT spent_on::DATE AS spent_on, amount::DOUBLE AS amount,
        c.channel, c.campaign_id, 'media' AS category
        FROM spend_frame s JOIN campaigns c
        ON c.campaign_id = 'cmp' || lpad(s.campaign::VARCHAR, 3, '0')"""
    )
    connection.close()


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_engine(path: str, queue: Any) -> None:
    from pilotage.attribution import attribute
    from pilotage.engine.backends import from_duckdb

    started = time.perf_counter()
    connection = duckdb.connect(path, read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    source = from_duckdb(connection, Settings())
    result = attribute(
        source, "all", "campaign", "quarter", start=date(2024, 1, 1), end=date(2024, 12, 31)
    )
    elapsed = time.perf_counter() - started
    totals = result.to_frame().groupby("model")["conversions"].sum().to_dict()
    queue.put(("engine", elapsed, peak_memory_mb(), totals))


def run_baseline(path: str, queue: Any) -> None:
    """The straightforward pandas way: read the tables, merge, sort, groupby."""
    from pilotage.attribution import MarkovAttribution

    started = time.perf_counter()
    connection = duckdb.connect(path, read_only=True)
    connection.execute("SET enable_progress_bar = false")
    touches = connection.execute(
        "SELECT interaction_id, contact_id, occurred_at, campaign_id FROM interactions"
    ).df()
    orders = connection.execute("SELECT contact_id, ordered_at, amount FROM orders").df()
    connection.close()
    settings = Settings()
    lookback = pd.Timedelta(days=settings.attribution_lookback_days)
    first = orders.groupby("contact_id", as_index=False)["ordered_at"].min()
    first = first.rename(columns={"ordered_at": "converted_at"})
    window = orders.merge(first, on="contact_id")
    in_window = (window.ordered_at >= window.converted_at) & (
        window.ordered_at < window.converted_at + pd.Timedelta(days=settings.revenue_window_days)
    )
    revenue = window[in_window].groupby("contact_id")["amount"].sum().rename("revenue")
    first = first.join(revenue, on="contact_id")
    first["quarter"] = first.converted_at.dt.quarter
    paths = touches.merge(first, on="contact_id")
    paths = paths[
        (paths.occurred_at <= paths.converted_at)
        & (paths.occurred_at >= paths.converted_at - lookback)
    ]
    paths = paths.sort_values(["contact_id", "occurred_at", "interaction_id"])
    grouped = paths.groupby("contact_id", sort=False)
    k = grouped.cumcount() + 1
    n = grouped["interaction_id"].transform("size")
    age = (paths.converted_at - paths.occurred_at).dt.total_seconds() / 86_400
    weight = 0.5 ** (age / settings.time_decay_half_life_days)
    credit = {
        "first_touch": (k == 1).astype(float),
        "last_touch": (k == n).astype(float),
        "linear": 1.0 / n,
        "time_decay": weight / weight.groupby(paths.contact_id).transform("sum"),
        "position_based": np.select(
            [n == 1, n == 2, (k == 1) | (k == n)], [1.0, 0.5, 0.4], 0.2 / (n - 2).clip(lower=1)
        ),
    }
    totals: dict[str, float] = {}
    for model, values in credit.items():
        frame = pd.DataFrame(
            {"quarter": paths.quarter, "campaign_id": paths.campaign_id, "credit": values}
        )
        frame["revenue"] = frame.credit * paths.revenue
        table = frame.groupby(["quarter", "campaign_id"])[["credit", "revenue"]].sum()
        totals[model] = float(table.credit.sum())
    direct = first[~first.contact_id.isin(paths.contact_id)]
    for model in totals:
        totals[model] += len(direct)
    # Markov: converted paths and null paths, transitions with shift, one chain a quarter.
    prospects = touches[~touches.contact_id.isin(first.contact_id)].copy()
    prospects["ended_at"] = prospects.groupby("contact_id")["occurred_at"].transform("max")
    prospects = prospects[prospects.occurred_at >= prospects.ended_at - lookback]
    prospects = prospects.sort_values(["contact_id", "occurred_at", "interaction_id"])
    prospects["quarter"] = prospects.ended_at.dt.quarter
    prospects["end"] = "(null)"
    converted = paths[["contact_id", "campaign_id", "quarter"]].assign(end="(conversion)")
    steps = pd.concat(
        [converted, prospects[["contact_id", "campaign_id", "quarter", "end"]]],
        ignore_index=True,
    )
    following = steps.groupby("contact_id", sort=False)["campaign_id"].shift(-1)
    moves = pd.DataFrame(
        {
            "quarter": steps.quarter,
            "from_state": steps.campaign_id,
            "to_state": following.fillna(steps.end),
        }
    )
    starts = steps[steps.groupby("contact_id", sort=False).cumcount() == 0]
    moves = pd.concat(
        [
            moves,
            pd.DataFrame(
                {"quarter": starts.quarter, "from_state": "(start)", "to_state": starts.campaign_id}
            ),
        ]
    )
    counts = moves.groupby(["quarter", "from_state", "to_state"]).size().reset_index()
    markov_total = 0.0
    for _, rows in counts.groupby("quarter"):
        chain = MarkovAttribution().fit(
            zip(rows.from_state, rows.to_state, rows[0].astype(float), strict=True)
        )
        markov_total += sum(chain.credits().values())
    totals["markov"] = markov_total + len(direct)
    elapsed = time.perf_counter() - started
    queue.put(("baseline", elapsed, peak_memory_mb(), totals))


def measure(target: Any, path: str) -> tuple[str, float, float, dict[str, float]]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(path, queue))
    process.start()
    outcome: tuple[str, float, float, dict[str, float]] = queue.get()
    process.join()
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=5_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pilotage-bench-") as folder:
        path = Path(folder) / "company.duckdb"
        started = time.perf_counter()
        build(path, args.contacts, args.touchpoints)
        print(
            f"built {args.contacts:,} contacts, {args.touchpoints:,} touchpoints in "
            f"{time.perf_counter() - started:.1f} s ({datetime.now().astimezone():%Y-%m-%d})"
        )
        _, engine_time, engine_memory, engine_totals = measure(run_engine, str(path))
        print(f"engine   (DuckDB, 6 models): {engine_time:6.1f} s, peak {engine_memory:,.0f} MB")
        _, base_time, base_memory, base_totals = measure(run_baseline, str(path))
        print(f"baseline (pandas, 6 models): {base_time:6.1f} s, peak {base_memory:,.0f} MB")
        print(
            f"ratio: {base_time / engine_time:.1f}x faster, "
            f"{base_memory / engine_memory:.1f}x less memory"
        )
        for model, total in engine_totals.items():
            if abs(total - base_totals[model]) > 1e-6 * max(1.0, total):
                print(f"MISMATCH {model}: engine {total} baseline {base_totals[model]}")
                return 1
        print(f"both agree: {engine_totals['linear']:,.0f} conversions attributed per model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
