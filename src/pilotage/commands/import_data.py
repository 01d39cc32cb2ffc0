"""`pilotage import DIR`: load a contract folder into the CRM database, all or nothing."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable

from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    print_json,
    stdout_is_terminal,
)
from pilotage.commands.validate import default_rejects_dir, report_problems, validation_document
from pilotage.contract.csv_safety import write_safe_csv
from pilotage.contract.settings import SETTINGS_FILE_NAME, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="load a contract folder into the CRM database",
        description="Validate a folder, then load it into the CRM database in one "
        "transaction, updating rows by id: importing the same folder twice changes "
        "nothing. A folder with any bad row loads nothing unless --allow-rejects.",
    )
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="the CRM database (default: DATABASE_URL, else the embedded database)",
    )
    parser.add_argument(
        "--allow-rejects",
        action="store_true",
        help="load the good rows and write the bad ones to the rejects folder",
    )
    parser.add_argument("--rejects", type=Path, metavar="DIR", help="rejects folder")
    add_config_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pilotage.web import setup

    setup(args.db)
    from pilotage.web.crm.services.importing import (
        ImportAudit,
        folder_import,
        stored_company_settings,
    )

    # A settings file given or in the folder wins; else the CRM's own settings (its time
    # zone reads the folder's naive timestamps).
    if args.config is not None or (args.folder / SETTINGS_FILE_NAME).is_file():
        settings = load_settings(args.config, args.folder)
    else:
        settings = stored_company_settings()

    # The audit log records the load with the rows (no Pilotage user at the command line:
    # the system account that ran it is named in the entry).
    audit = ImportAudit(user=None, door="cli", source=f"pilotage import {_who_and_what(args)}")
    started = time.perf_counter()
    rejects_dir = args.rejects or default_rejects_dir(args.folder)
    if stdout_is_terminal() and args.format == "table":
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(f"loading {table}", total=total)
                bar.update(tasks[table], completed=done)

            report = folder_import(
                folder=args.folder,
                settings=settings,
                allow_rejects=args.allow_rejects,
                progress=progress,
                audit=audit,
            )
    else:
        report = folder_import(
            folder=args.folder, settings=settings, allow_rejects=args.allow_rejects, audit=audit
        )
    elapsed = time.perf_counter() - started
    rejects = report_problems(report.validation, rejects_dir)
    if args.format == "json":
        document = validation_document(report.validation, rejects)
        document["loaded"] = report.loaded
        document["seconds"] = round(elapsed, 3)
        document["rescored"] = report.rescored
        document["settings_adopted"] = report.settings_adopted
        document["rescore_error"] = report.rescore_error
        document["changes"] = {
            name: {
                "inserted": t.inserted,
                "updated": t.updated,
                "unchanged": t.unchanged,
                "rejected": t.rejected,
            }
            for name, t in report.tables.items()
        }
        print_json(document)
    elif args.format == "csv":
        # One line per table; the problems are on stderr, one per line, as with the table.
        write_safe_csv(
            sys.stdout,
            ["table", "rows", "inserted", "updated", "unchanged", "rejected", "loaded"],
            (
                [name, t.rows, t.inserted, t.updated, t.unchanged, t.rejected, report.loaded]
                for name, t in report.tables.items()
            ),
        )
    else:
        console = Console()
        table = RichTable(title=f"import {args.folder}", title_justify="left")
        for heading in ("table", "rows", "inserted", "updated", "unchanged", "rejected"):
            table.add_column(heading, justify="left" if heading == "table" else "right")
        for name, t in report.tables.items():
            table.add_row(
                name,
                f"{t.rows:,}",
                f"{t.inserted:,}",
                f"{t.updated:,}",
                f"{t.unchanged:,}",
                f"[red]{t.rejected:,}[/red]" if t.rejected else "0",
            )
        console.print(table)
        if report.loaded:
            console.print(
                f"[green]Loaded in {elapsed:.1f} s[/green]; {report.rescored:,} contacts rescored."
            )
            if report.settings_adopted:
                console.print(
                    "The CRM had no company settings: it now uses this folder's "
                    "(time zone, currency, margin, windows); change them on the settings page."
                )
            if report.rescore_error:
                console.print(
                    f"[yellow]The data is loaded, but rescoring failed ({report.rescore_error})."
                    "[/yellow] Run `pilotage score` to finish."
                )
        else:
            console.print(
                "[red]Nothing was loaded: the database is as it was.[/red] Fix the rows listed "
                "on stderr, or load the good ones with --allow-rejects."
            )
        for path in rejects:
            console.print(f"Rejected rows: {path}")
    # With --allow-rejects the user chose to load the good rows: success, rejects listed.
    return 0 if report.loaded else 1


def _who_and_what(args: argparse.Namespace) -> str:
    try:
        account = getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment
        account = "unknown"
    return f"{args.folder.resolve()} (system user {account})"
