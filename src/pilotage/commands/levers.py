"""`pilotage levers`: scale / cut / watch per channel and campaign, with the numbers behind
each flag (kpis.md, "Recommendations (levers)")."""

from __future__ import annotations

import argparse
import os
import sys

from pilotage.attribution import Lever, LeversResult, levers
from pilotage.commands.attribution import (
    add_period_options,
    as_of_utc,
    money,
    percent,
    render_table,
)
from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
)
from pilotage.contract.csv_safety import SafeWriter
from pilotage.engine.backends import SourceError, open_source

EXIT_OK = 0
EXIT_BAD_INPUT = 1
LANGS = ("en", "fr")

LABELS = {
    "en": {
        "title": "Levers from {start} to {end} (model {model}, as of {as_of})",
        "summary": "Spend {spend}, new customers {customers}, blended CAC {cac}, overall ROI "
        "{roi}; a flag needs at least {minimum} attributed customers.",
        "incomplete": "Revenue windows not yet elapsed at as_of: ROI may still rise.",
        "channels": "Channels",
        "campaigns": "Campaigns",
        "none": "(none)",
        "headers": (
            "lever",
            "spend",
            "new cust.",
            "CAC",
            "x avg",
            "ROAS",
            "ROI",
            "early churn",
            "flag",
            "reason",
        ),
        "flags": {"scale": "SCALE", "cut": "CUT", "watch": "watch"},
    },
    "fr": {
        "title": "Leviers du {start} au {end} (modèle {model}, données au {as_of})",
        "summary": "Dépense {spend}, nouveaux clients {customers}, CAC moyen {cac}, ROI "
        "global {roi} ; un signal demande au moins {minimum} clients attribués.",
        "incomplete": "Fenêtres de revenu pas encore écoulées : le ROI peut encore monter.",
        "channels": "Canaux",
        "campaigns": "Campagnes",
        "none": "(aucun)",
        "headers": (
            "levier",
            "dépense",
            "nouv. clients",
            "CAC",
            "x moy.",
            "ROAS",
            "ROI",
            "attrition précoce",
            "signal",
            "raison",
        ),
        "flags": {"scale": "AUGMENTER", "cut": "COUPER", "watch": "surveiller"},
    },
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "levers",
        help="scale / cut / watch per channel and campaign, with the numbers",
        description="For each channel and campaign over the period (default: the 365 days "
        "up to as_of): spend, new customers, CAC, ROAS, ROI and early churn, flagged scale, "
        "cut or watch with the reason.",
    )
    add_period_options(parser)
    parser.add_argument(
        "--lang", choices=LANGS, help="language of the table (default: from LANG, else en)"
    )
    add_source_options(parser)
    add_config_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def language(requested: str | None) -> str:
    if requested in LANGS:
        return requested
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args, args.data)
    try:
        source = open_source(args.data, args.db, settings)
        result = levers(source, args.start, args.end, as_of=as_of_utc(args.as_of, settings))
    except (SourceError, ValueError) as error:
        print(f"pilotage: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print_json(result.to_json())
    elif args.format == "csv":
        write_csv(result, language(args.lang))
    else:
        print_table(result, language(args.lang))
    return EXIT_OK


def write_csv(result: LeversResult, lang: str) -> None:
    columns = [
        "level",
        "key",
        "channel",
        "spend",
        "new_customers",
        "revenue",
        "cac",
        "cac_vs_blended",
        "roas",
        "roi",
        "early_churn_rate",
        "flag",
        "reason",
    ]
    writer = SafeWriter(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for lever in [*result.channels, *result.campaigns]:
        values = [
            lever.level,
            lever.key,
            lever.channel,
            lever.spend,
            lever.new_customers,
            lever.revenue,
            lever.cac,
            lever.cac_vs_blended,
            lever.roas,
            lever.roi,
            lever.early_churn_rate,
            lever.flag,
            lever.reason(lang),
        ]
        writer.writerow(["" if value is None else value for value in values])


def print_table(result: LeversResult, lang: str) -> None:
    labels = LABELS[lang]
    as_of = "-" if result.as_of is None else f"{result.as_of:%Y-%m-%d %H:%M} UTC"
    print(
        str(labels["title"]).format(
            start=result.start, end=result.end, model=result.model, as_of=as_of
        )
    )
    print(
        str(labels["summary"]).format(
            spend=money(result.spend),
            customers=result.new_customers,
            cac=money(result.blended_cac),
            roi=percent(result.overall_roi),
            minimum=result.settings.min_customers,
        )
    )
    if not result.complete:
        print(str(labels["incomplete"]))
    for title, group in (("channels", result.channels), ("campaigns", result.campaigns)):
        print()
        print(str(labels[title]))
        if not group:
            print(str(labels["none"]))
            continue
        headers = list(labels["headers"])
        rows = [_row(lever, lang) for lever in group]
        print(render_table(headers, rows, right_aligned=range(1, 8)))


def _row(lever: Lever, lang: str) -> list[str]:
    flags = LABELS[lang]["flags"]
    assert isinstance(flags, dict)
    return [
        lever.key,
        money(lever.spend),
        f"{lever.new_customers:,.1f}",
        money(lever.cac),
        "-" if lever.cac_vs_blended is None else f"{lever.cac_vs_blended:.2f}",
        "-" if lever.roas is None else f"{lever.roas:.2f}",
        percent(lever.roi),
        percent(lever.early_churn_rate),
        str(flags[lever.flag]),
        lever.reason(lang),
    ]
