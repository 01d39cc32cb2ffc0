"""`pilotage score`: rule score, grade, RFM, conversion probability and priority of every
contact (interfaces.md). With `--data` nothing is stored; with `--db` (the CRM) the scores
of the contacts whose data changed since their last score (everyone with `--all`) are
stored with their time."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
)
from pilotage.contract.csv_safety import SafeDictWriter

EXIT_OK = 0
EXIT_BAD_INPUT = 1
TABLE_ROWS = 30


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score every contact: rule score, grade, RFM, conversion probability, priority",
        description="Scores every contact as of --as-of (default: the latest timestamp in "
        "the data), using only data up to then. --data computes and prints; --db (the CRM) "
        "also stores the scores of contacts whose data changed since their last score.",
    )
    add_source_options(parser)
    parser.add_argument("--model", type=Path, metavar="FILE.toml", help="a rule model (TOML)")
    parser.add_argument("--as-of", metavar="TS", help="ISO date or timestamp")
    parser.add_argument(
        "--all", action="store_true", help="with --db: rescore everyone, not only changes"
    )
    parser.add_argument("--lang", choices=("en", "fr"), default="en", help="language of reasons")
    add_format_option(parser)
    add_config_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pilotage.engine.backends import SourceError, open_source
    from pilotage.engine.periods import parse_instant
    from pilotage.home import data_home
    from pilotage.scoring import ModelError, ScoringError, latest_model, load_model, score

    settings = settings_for(args, args.data)
    try:
        model = load_model(args.model) if args.model else None
        as_of = parse_instant(args.as_of, settings) if args.as_of else None
    except (ModelError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.data is not None:
            source = open_source(data=args.data, settings=settings)
            trained = latest_model(data_home(), source.description)
            result = score(source, model, as_of, trained=trained)
        else:
            from pilotage.web import setup

            setup(args.db)
            from pilotage.web.scoring.services import scores_refresh

            report = scores_refresh(everyone=args.all, model=model, as_of=as_of)
            result = report.result
            print(
                f"stored {len(report.rescored)} new scores of {len(result.frame)} contacts",
                file=sys.stderr,
            )
    except ModelError as error:
        print(str(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ScoringError, SourceError, ValueError) as error:
        print(f"pilotage score: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    rows = result.rows(args.lang)
    if args.format == "json":
        print_json(result.to_json(args.lang))
    elif args.format == "csv":
        _write_csv(rows)
    else:
        _print_table(rows, result.as_of.replace(tzinfo=UTC).isoformat(), result.model.name)
    return EXIT_OK


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    rfm = row["rfm"] or {}
    return {
        "contact_id": row["contact_id"],
        "score": row["score"],
        "grade": row["grade"],
        **{f"group_{k}": v for k, v in row["groups"].items()},
        "rfm_r": rfm.get("r"),
        "rfm_f": rfm.get("f"),
        "rfm_m": rfm.get("m"),
        "segment": rfm.get("segment"),
        "conversion_probability": row["conversion_probability"],
        "priority": row["priority"],
        "reason": row["reason"],
        "rules": json.dumps(row["rules"], ensure_ascii=False),
    }


def _write_csv(rows: list[dict[str, Any]]) -> None:
    flat = [_flat(row) for row in rows]
    if not flat:
        return
    writer = SafeDictWriter(sys.stdout, fieldnames=list(flat[0]))
    writer.writeheader()
    writer.writerows(flat)


def _print_table(rows: list[dict[str, Any]], as_of: str, model: str) -> None:
    from rich.console import Console
    from rich.table import Table

    ranked = sorted(rows, key=lambda r: -(r["priority"] or 0))
    table = Table(title=f"Scores as of {as_of} (model {model}), by priority")
    for name in ("contact", "priority", "score", "grade", "segment", "p(convert)", "reason"):
        table.add_column(name)
    for row in ranked[:TABLE_ROWS]:
        rfm = row["rfm"] or {}
        probability = row["conversion_probability"]
        table.add_row(
            row["contact_id"],
            f"{row['priority']:.1f}",
            f"{row['score']:.1f}",
            row["grade"] or "",
            rfm.get("segment") or "",
            "" if probability is None else f"{probability:.1%}",
            row["reason"] or "",
        )
    console = Console()
    console.print(table)
    if len(ranked) > TABLE_ROWS:
        console.print(f"... and {len(ranked) - TABLE_ROWS} more (--format csv or json for all)")
