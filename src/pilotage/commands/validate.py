"""`pilotage validate DIR`: check a folder against the contract, reporting every bad row."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from pilotage.commands.common import add_config_option, add_format_option, print_json
from pilotage.contract.csv_safety import write_safe_csv
from pilotage.contract.settings import load_settings
from pilotage.contract.validation import Validation, validate_folder


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a folder against the data contract",
        description="Check every file of a contract folder. Each bad row is reported on "
        "stderr as file:line:column: reason (the header is line 1), and the rejected rows "
        "are written to a rejects folder. Exit code 1 when anything is wrong.",
    )
    parser.add_argument("folder", type=Path, metavar="DIR")
    parser.add_argument(
        "--rejects",
        type=Path,
        metavar="DIR",
        help="where to write the rejected rows (default: DIR-rejects next to the folder)",
    )
    add_config_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def default_rejects_dir(folder: Path) -> Path:
    folder = folder.resolve()
    return folder.parent / f"{folder.name}-rejects"


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, args.folder)
    validation = validate_folder(args.folder, settings)
    rejects = report_problems(validation, args.rejects or default_rejects_dir(args.folder))
    if args.format == "json":
        print_json(validation_document(validation, rejects))
    elif args.format == "csv":
        # One line per table; the problems are on stderr, one per line, as with the table.
        write_safe_csv(
            sys.stdout,
            ["table", "file", "rows", "good_rows", "extra_columns"],
            (
                [name, report.file, report.rows, report.good_rows, " ".join(report.extra_columns)]
                for name, report in validation.tables.items()
            ),
        )
    else:
        print_summary(validation, rejects)
    return 0 if validation.ok else 1


def report_problems(validation: Validation, rejects_dir: Path) -> list[Path]:
    """Every problem on stderr, one per line; the rejects files when there are any."""
    for warning in validation.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in validation.problems:
        print(problem, file=sys.stderr)
    if validation.ok:
        return []
    return validation.write_rejects(rejects_dir)


def validation_document(validation: Validation, rejects: list[Path]) -> dict[str, object]:
    return {
        "folder": str(validation.folder),
        "ok": validation.ok,
        "tables": {
            name: {
                "file": report.file,
                "rows": report.rows,
                "good_rows": report.good_rows,
                "extra_columns": list(report.extra_columns),
            }
            for name, report in validation.tables.items()
        },
        "problems": [
            {"file": p.file, "line": p.line, "column": p.column, "reason": p.reason}
            for p in validation.problems
        ],
        "rejects": [str(path) for path in rejects],
    }


def print_summary(validation: Validation, rejects: list[Path]) -> None:
    console = Console()
    table = RichTable(title=f"{validation.folder}", title_justify="left")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("custom attributes")
    for name, report in validation.tables.items():
        rejected = report.rows - report.good_rows
        table.add_row(
            name,
            report.file or "[dim](absent: empty)[/dim]",
            f"{report.rows:,}",
            f"[red]{rejected:,}[/red]" if rejected else "0",
            ", ".join(report.extra_columns),
        )
    console.print(table)
    if validation.ok:
        console.print("[green]The folder follows the contract.[/green]")
    else:
        console.print(
            f"[red]{len(validation.problems):,} problems in {validation.rejected_rows:,} rows[/red]"
            " (listed on stderr as file:line:column: reason)."
        )
        for path in rejects:
            console.print(f"Rejected rows: {path}")
