"""The KPI suite runs on every engine: the `source` fixture turns the same hand-made frames
into a source on DuckDB (in memory), SQLite and PostgreSQL (CRM databases laid out as the
Django models store them) and, for tests marked `spark`, Apache Spark.

PostgreSQL runs when PILOTAGE_TEST_POSTGRES_URL is set (a database is created for the test
session and dropped after). Spark is one more parametrisation, marked `spark`: its tests run
with `pytest -m spark` (pyspark and Java 17 needed; one local Spark session for the whole
test session) and are skipped, with the reason shown, in a run whose `-m` does not name
spark, so that the default `pytest` never starts a JVM. The CRM databases are built with
plain DDL and inserts, in the types Django uses (`crm_database.build_crm_database`): swap
it for the real importer (`pilotage import`) by changing that one function.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pandas as pd
import pytest
from crm_database import build_crm_database

from pilotage.contract.settings import Settings
from pilotage.engine.backends import (
    Source,
    from_database_url,
    from_frames,
    spark_session,
    spark_source_from_frames,
)

Frames = Mapping[str, pd.DataFrame]
SourceFactory = Callable[..., Source]

POSTGRES_URL = os.environ.get("PILOTAGE_TEST_POSTGRES_URL")
ENGINES: list[Any] = [
    "duckdb",
    "sqlite",
    *(["postgres"] if POSTGRES_URL else []),
    pytest.param("spark", marks=pytest.mark.spark),
]
SPARK_SKIP_REASON = "Spark tests run with `pytest -m spark` (pyspark and Java 17)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spark tests run only when the `-m` expression names spark (`-m spark`); then the
    items left are the ones it selected (`-m "not spark"` has already deselected them)."""
    if "spark" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason=SPARK_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("spark") is not None:
            item.add_marker(skip)


# Spark reads instants in the session time zone (UTC, set by Pilotage and by Ibis), never in
# the JVM's own: the test JVM runs in another zone to prove it.
SPARK_TEST_CONFIG = {"spark.driver.extraJavaOptions": "-Duser.timezone=America/New_York"}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The test session's one local Spark session (slow to start: about 10 s)."""
    pytest.importorskip("pyspark")
    session = spark_session(master="local[2]", config=SPARK_TEST_CONFIG)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A database of its own for this test session (dropped after), or None."""
    if not POSTGRES_URL:
        yield None
        return
    import psycopg

    name = f"pilotage_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parsed = urlparse(POSTGRES_URL)
    yield urlunparse(parsed._replace(path=f"/{name}"))
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _postgres_schema_url(database_url: str) -> str:
    """A fresh schema in the session's database, as a URL whose search_path is it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def source(
    engine: str,
    tmp_path: Path,
    postgres_database: str | None,
    request: pytest.FixtureRequest,
) -> Iterator[SourceFactory]:
    """A factory: `source(frames, settings=None)` -> a Source over those rows on the engine
    of this parametrisation (duckdb, sqlite, postgres, spark)."""
    opened: list[Source] = []
    counter = {"n": 0}

    def make(frames: Frames, settings: Settings | None = None) -> Source:
        settings = settings or Settings()
        if engine == "duckdb":
            made = from_frames(frames, settings)
        elif engine == "sqlite":
            counter["n"] += 1
            path = tmp_path / f"crm{counter['n']}.db"
            url = f"sqlite:///{path}"
            build_crm_database(frames, settings, url)
            made = from_database_url(url, settings)
        elif engine == "spark":
            # Typed by DuckDB as `from_frames`, then copied into a Spark session of its own
            # through Parquet files (the way `pilotage kpi --engine spark` reads a folder).
            counter["n"] += 1
            session = request.getfixturevalue("spark")
            directory = tmp_path / f"spark{counter['n']}"
            made = spark_source_from_frames(session, frames, settings, directory)
            opened.append(made)
            return made
        else:
            assert postgres_database is not None
            url = _postgres_schema_url(postgres_database)
            build_crm_database(frames, settings, url)
            made = from_database_url(url, settings)
        opened.append(made)
        return made

    yield make
    for made in opened:
        if made.engine == "spark":
            continue  # disconnecting would stop the test session's shared Spark session
        disconnect = getattr(made.backend, "disconnect", None)
        if disconnect is not None:
            disconnect()
