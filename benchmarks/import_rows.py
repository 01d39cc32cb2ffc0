"""Importing about a million rows into the CRM database, against Django's bulk_create.

    python benchmarks/import_rows.py                      # embedded SQLite, ~1M rows
    python benchmarks/import_rows.py --db postgresql://postgres@127.0.0.1:5432/pilotage_bench
    python benchmarks/import_rows.py --contacts 20000     # smaller

Generates a company (the generator writes about 10 rows per contact), then in the same
process and on the same database: validates it, imports it with Pilotage's bulk upsert,
imports it a second time (nothing changes), empties the tables and loads the same rows
with the ORM's `bulk_create` (the straightforward Django way) as the baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pilotage-bench-import-"))
    os.environ["PILOTAGE_HOME"] = str(work)
    db_url = args.db or f"sqlite:///{work / 'bench.db'}"

    from pilotage.contract.settings import load_settings
    from pilotage.contract.validation import validate_folder
    from pilotage.demo.generator import generate_company
    from pilotage.web import setup

    folder = work / "company"
    started = time.perf_counter()
    counts = generate_company(folder, contacts=args.contacts, seed=7)
    rows = sum(counts.values())
    print(
        f"generated {rows:,} rows ({args.contacts:,} contacts) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    settings = load_settings(None, folder)

    started = time.perf_counter()
    validation = validate_folder(folder, settings)
    validate_seconds = time.perf_counter() - started
    assert validation.ok, validation.problems[:5]
    print(f"validate: {validate_seconds:.1f} s ({rows / validate_seconds:,.0f} rows/s)")

    setup(db_url)
    from django.db import connection

    from pilotage.web.crm.services.importing import folder_import

    _empty_tables(connection)
    started = time.perf_counter()
    report = folder_import(folder=folder, settings=settings, rescore=False)
    import_seconds = time.perf_counter() - started
    assert report.loaded
    print(
        f"import ({connection.vendor}): {import_seconds:.1f} s for {rows:,} rows "
        f"({rows / import_seconds:,.0f} rows/s, validation included)"
    )

    started = time.perf_counter()
    again = folder_import(folder=folder, settings=settings, rescore=False)
    reimport_seconds = time.perf_counter() - started
    assert again.changed_rows == 0
    print(
        f"re-import, nothing changes: {reimport_seconds:.1f} s ({again.changed_rows} rows changed)"
    )

    if not args.skip_baseline:
        _empty_tables(connection)
        started = time.perf_counter()
        _bulk_create_baseline(validation)
        baseline_seconds = time.perf_counter() - started
        print(
            f"baseline, Django bulk_create (no validation, no upsert): {baseline_seconds:.1f} s "
            f"({rows / baseline_seconds:,.0f} rows/s)"
        )
        print(f"ratio: Pilotage's import is {baseline_seconds / import_seconds:.1f}x faster")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MB")
    return 0


def _empty_tables(connection) -> None:  # type: ignore[no-untyped-def]
    from pilotage.contract.schema import TABLES

    with connection.cursor() as cursor:
        for table in reversed(TABLES):
            cursor.execute(f'DELETE FROM "{table.name}"')


def _bulk_create_baseline(validation) -> None:  # type: ignore[no-untyped-def]
    """Model objects built from the validated rows, saved with bulk_create per table."""
    from datetime import UTC

    from django.db import transaction

    from pilotage.contract.schema import TABLES, ColumnType
    from pilotage.web.crm.models import CONTRACT_MODELS

    con = validation.connection
    with transaction.atomic():
        for table in TABLES:
            model = CONTRACT_MODELS[table.name]
            fields = {f.column: f.attname for f in model._meta.concrete_fields}
            names = list(table.column_names)
            result = con.execute(
                f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM _clean_{table.name}"
            )
            while batch := result.fetchmany(10_000):
                objects = []
                for row in batch:
                    values = {}
                    for column, value in zip(names, row, strict=True):
                        if table.column(column).type is ColumnType.TIMESTAMP and value is not None:
                            value = value.replace(tzinfo=UTC)
                        values[fields[column]] = value
                    if table.name == "spend":
                        values["spend_key"] = "|".join(
                            str(values.get(k) or "")
                            for k in ("spent_on", "channel", "campaign_id", "category")
                        )
                    objects.append(model(**values))
                model.objects.bulk_create(objects, batch_size=2_000)


if __name__ == "__main__":
    sys.exit(main())
