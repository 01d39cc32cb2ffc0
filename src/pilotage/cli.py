"""The `pilotage` command.

Each subcommand lives in its own module of `pilotage.commands` and exposes
`register(subparsers)`, which adds its parser and sets `handler` to a function taking the
parsed arguments and returning the exit code. Exit codes (interfaces.md): 0 success,
1 bad input (every problem on stderr, one per line), 2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from pilotage import __version__
from pilotage.contract.settings import SettingsError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_BAD_USAGE = 2

# One line per subcommand module; the order is the order of `pilotage --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "pilotage.commands.demo",
    "pilotage.commands.generate",
    "pilotage.commands.validate",
    "pilotage.commands.import_data",
    "pilotage.commands.kpi",
    "pilotage.commands.attribution",
    "pilotage.commands.levers",
    "pilotage.commands.clv",
    "pilotage.commands.score",
    "pilotage.commands.train",
    "pilotage.commands.user",
    "pilotage.commands.token",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilotage",
        description="Pilotage, the sales-performance CRM: KPIs, attribution, scoring, CLV.",
    )
    parser.add_argument("--version", action="version", version=f"pilotage {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SettingsError as error:
        print(f"pilotage: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("pilotage: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
