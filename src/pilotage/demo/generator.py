"""`pilotage generate`: a synthetic company that looks real, written as a contract folder.

The demo, the benchmarks and the tests of every model (KPIs, attribution, scoring, CLV,
team evaluation) run on this company, so its regularities are real properties of the data
(see `pilotage.demo.simulate` for the model): channels with different volumes, costs and
conversion rates, campaigns with daily spend, journeys through the five default stages,
interactions whose kind and recency predict conversion, reps of unequal skill, repeat
purchases from a Pareto/NBD process with gamma-gamma order values, subscriptions,
seasonality and weekday effects.

Same seed and options, same bytes: every random draw comes from a numpy Generator seeded
by `SeedSequence(seed, spawn_key=...)`, one stream for the company and one per chunk of
`CHUNK_SIZE` contacts, and nothing reads the clock. Contacts are simulated chunk by chunk
and appended to open writers, so a million contacts fit in well under 2 GB.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from pilotage.contract.schema import TABLE_NAMES
from pilotage.contract.settings import SETTINGS_FILE_NAME
from pilotage.demo.company import CHANNEL_NAMES, Company, build_company
from pilotage.demo.simulate import ChunkSimulator
from pilotage.demo.writers import FORMATS, TableWriter, open_writer

DEFAULT_END = date(2026, 9, 30)
DEFAULT_CONTACTS = 5000
DEFAULT_SEED = 7
# Part of the output's definition: changing it changes the generated company.
CHUNK_SIZE = 25_000
TIMEZONE = "Europe/Paris"
CURRENCY = "EUR"
# The simulated orders carry a margin of 22 % to 55 % of their amount where the margin is
# known: the company's default for the others is the middle of that range, so that ROI,
# CLV and payback are computed on margin, not on revenue.
GROSS_MARGIN = 0.38

Progress = Callable[[int], None]


def generate_company(
    out: Path,
    contacts: int = DEFAULT_CONTACTS,
    seed: int = DEFAULT_SEED,
    fmt: str = "csv",
    end: date = DEFAULT_END,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write a synthetic company into the folder `out`; return the rows written per table.

    `out` receives one file per contract table (`contacts.csv` ... or `.parquet`) and a
    `pilotage.toml` (time zone Europe/Paris, currency EUR). Files of the other format
    left there by an earlier run are removed, so the folder holds one company. The
    history covers the 18 months ending on `end` (inclusive). `progress`, if given, is
    called with the number of contacts just written, after each chunk.
    """
    if contacts < 1:
        raise ValueError("contacts: must be at least 1")
    if seed < 0:
        raise ValueError("seed: must not be negative")
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        for other in FORMATS:
            stale = out / f"{name}.{other}"
            if other != fmt and stale.exists():
                stale.unlink()
    (out / SETTINGS_FILE_NAME).write_text(
        f"# Synthetic company written by `pilotage generate` (seed {seed}, "
        f"{contacts} contacts, history ending {end.isoformat()}).\n"
        f'timezone = "{TIMEZONE}"\ncurrency = "{CURRENCY}"\ngross_margin = {GROSS_MARGIN}\n',
        encoding="utf-8",
    )
    company = build_company(contacts, seed, end)
    writers: dict[str, TableWriter] = {}
    try:
        for name in TABLE_NAMES:
            writers[name] = open_writer(out / f"{name}.{fmt}", name, fmt)
        writers["reps"].write(_reps_table(company))
        writers["campaigns"].write(_campaigns_table(company))
        writers["spend"].write(company.spend)
        simulator = ChunkSimulator(company)
        for index, first in enumerate(range(0, contacts, CHUNK_SIZE)):
            size = min(CHUNK_SIZE, contacts - first)
            for name, data in simulator.chunk(index, first + 1, size).items():
                writers[name].write(data)
            if progress is not None:
                progress(size)
    finally:
        for writer in writers.values():
            writer.close()
    return {name: writers[name].rows for name in TABLE_NAMES}


def _reps_table(company: Company) -> pa.Table:
    reps = company.reps
    return pa.table(
        {
            "rep_id": pa.array(reps.ids, pa.string()),
            "name": pa.array(reps.names, pa.string()),
            "team": pa.array(reps.teams, pa.string()),
        }
    )


def _campaigns_table(company: Company) -> pa.Table:
    campaigns = company.campaigns
    start = company.calendar.start
    base = np.datetime64(start.isoformat(), "D")
    return pa.table(
        {
            "campaign_id": pa.array(campaigns.ids, pa.string()),
            "name": pa.array(campaigns.names, pa.string()),
            "channel": pa.array([CHANNEL_NAMES[c] for c in campaigns.channel.tolist()]),
            "started_on": pa.array(
                base + campaigns.first_day.astype("timedelta64[D]"), pa.date32()
            ),
            "ended_on": pa.array(base + campaigns.last_day.astype("timedelta64[D]"), pa.date32()),
        }
    )
