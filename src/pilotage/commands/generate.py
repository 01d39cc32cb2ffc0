"""`pilotage generate`: write a synthetic company as a contract folder (same seed, same files)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pilotage.commands.common import stdout_is_terminal
from pilotage.demo.generator import (
    DEFAULT_CONTACTS,
    DEFAULT_END,
    DEFAULT_SEED,
    Progress,
    generate_company,
)
from pilotage.demo.writers import FORMATS

EXIT_OK = 0
EXIT_BAD_INPUT = 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "generate",
        help="write a synthetic company as a contract folder",
        description="Write a synthetic company (contacts, reps, campaigns, spend, "
        "interactions, stage changes, deals, orders, subscriptions and pilotage.toml) "
        "into a folder. The same seed and options always give the same files.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    parser.add_argument(
        "--contacts",
        type=_positive_int,
        default=DEFAULT_CONTACTS,
        metavar="N",
        help=f"number of contacts (default {DEFAULT_CONTACTS})",
    )
    parser.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, metavar="S", help=f"default {DEFAULT_SEED}"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="csv", help="file format (default csv)"
    )
    parser.add_argument(
        "--end",
        type=_date,
        default=DEFAULT_END,
        metavar="DATE",
        help=f"last day of the 18-month history (default {DEFAULT_END.isoformat()})",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if stdout_is_terminal():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        with RichProgress(
            TextColumn("contacts"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task("generate", total=args.contacts)

            def advance(done: int) -> None:
                bar.advance(task, done)

            rows = _generate(args, out, advance)
    else:
        rows = _generate(args, out, None)
    if rows is None:
        return EXIT_BAD_INPUT
    width = max(len(name) for name in rows)
    for name, count in rows.items():
        print(f"{name:<{width}}  {count:>12,}")
    print(f"{'total':<{width}}  {sum(rows.values()):>12,}  rows written to {out}")
    return EXIT_OK


def _generate(
    args: argparse.Namespace, out: Path, progress: Progress | None
) -> dict[str, int] | None:
    """The rows written per table, or None (after saying why on stderr) if writing failed."""
    try:
        return generate_company(
            out,
            contacts=args.contacts,
            seed=args.seed,
            fmt=args.format,
            end=args.end,
            progress=progress,
        )
    except OSError as error:
        print(f"pilotage: {out}: {error.strerror or error}", file=sys.stderr)
        return None
