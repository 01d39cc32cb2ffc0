"""`pilotage train`: train the conversion model and print its evaluation report
(interfaces.md, scoring.md section 3). The model is stored under the Pilotage home
(`models/conversion/`) and, with `--db`, in the CRM database, where it serves the scores.
Too little history: exit code 1, and the rule score keeps serving."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
)

EXIT_OK = 0
EXIT_BAD_INPUT = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the conversion model and print its evaluation report",
        description="Learns each prospect's probability to convert within "
        "conversion_window_days (W) from snapshots up to --cutoff (features as of each "
        "snapshot, labels in the W days after it; default cutoff: the data's end - 2W), "
        "and evaluates it on the later holdout (cutoff + W).",
    )
    add_source_options(parser)
    parser.add_argument("--cutoff", metavar="DATE", help="ISO date or timestamp")
    add_format_option(parser)
    add_config_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pilotage.engine.backends import SourceError, open_source
    from pilotage.engine.periods import parse_instant
    from pilotage.home import data_home
    from pilotage.scoring import LeakageError, TrainingRefused, store_model, train

    settings = settings_for(args, args.data)
    try:
        cutoff = parse_instant(args.cutoff, settings) if args.cutoff else None
    except ValueError as error:
        print(f"pilotage train: --cutoff: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if args.data is not None:
            source = open_source(data=args.data, settings=settings)
        else:
            from pilotage.web import setup

            setup(args.db)
            from pilotage.web.scoring.services import database_source

            source = database_source()
        trained = train(source, cutoff)
    except (TrainingRefused, LeakageError) as error:
        print(f"pilotage train: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SourceError, ValueError) as error:
        print(f"pilotage train: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = store_model(trained, data_home())
    if args.data is None:
        from pilotage.web.scoring.services import conversion_model_store

        conversion_model_store(trained=trained)
    document = {"version": trained.version, "path": str(path), **trained.report}
    if args.format == "json":
        print_json(document)
    elif args.format == "csv":
        _print_csv(trained.report)
    else:
        _print_report(document)
    return EXIT_OK


def _print_csv(report: dict[str, Any]) -> None:
    import csv

    writer = csv.writer(sys.stdout)
    writer.writerow(["decile", "prospects", "predicted", "observed", "conversions", "lift"])
    for row in report["holdout"]["deciles"]:
        writer.writerow(
            [
                row["decile"],
                row["prospects"],
                row["predicted"],
                row["observed"],
                row["conversions"],
                row["lift"],
            ]
        )


def _print_report(document: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    holdout = document["holdout"]
    training = document["training"]
    console.print(f"conversion model {document['version']} -> {document['path']}")
    console.print(
        f"training: {training['rows']} snapshot rows, {training['prospects']} prospects, "
        f"{training['conversions']} conversions (cutoffs {training['snapshots'][-1]} .. "
        f"{document['cutoff']})"
    )
    console.print(
        f"holdout at {document['holdout_cutoff']} (W = {document['window_days']} days): "
        f"{holdout['prospects']} prospects, {holdout['conversions']} conversions"
    )
    console.print(
        f"ROC AUC {holdout['roc_auc']}  (rule score: {holdout.get('rule_score_roc_auc')})  "
        f"log loss {holdout['log_loss']}  Brier {holdout['brier_score']}"
    )
    table = Table(title="Lift and calibration by decile (1 = most likely)")
    for name in ("decile", "prospects", "predicted", "observed", "conversions", "lift"):
        table.add_column(name, justify="right")
    for row in holdout["deciles"]:
        table.add_row(
            str(row["decile"]),
            str(row["prospects"]),
            f"{row['predicted']:.2%}",
            f"{row['observed']:.2%}",
            str(row["conversions"]),
            "" if row["lift"] is None else f"{row['lift']:.2f}",
        )
    console.print(table)
