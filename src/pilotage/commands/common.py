"""Options and helpers shared by the subcommands (interfaces.md, "Command line")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pilotage.contract.settings import Settings, load_settings

FORMATS = ("table", "json", "csv")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (TOML); default: pilotage.toml in the data folder, else defaults",
    )


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (readable, the default), json (the machine interface) or csv",
    )


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """`--data DIR` (a contract folder) or `--db URL` (the CRM database)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--data", type=Path, metavar="DIR", help="a contract folder (CSV/Parquet)")
    group.add_argument(
        "--db",
        metavar="URL",
        help="the CRM database (sqlite:///path.db, postgresql://...); "
        "default: DATABASE_URL, else the embedded database",
    )


def settings_for(args: argparse.Namespace, data_dir: Path | None = None) -> Settings:
    return load_settings(getattr(args, "config", None), data_dir)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
