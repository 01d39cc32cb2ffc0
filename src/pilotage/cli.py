"""The `pilotage` command.

Each subcommand lives in its own module of `pilotage.commands` and exposes
`register(subparsers)`, which adds its parser and sets `handler` to a function taking the
parsed arguments and returning the exit code. Exit codes (interfaces.md): 0 success,
1 bad input (every problem on stderr, one per line), 2 bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Callable, Sequence

from pilotage import __version__
from pilotage.contract.settings import SettingsError

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_BAD_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a command killed by the closed pipe

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
    except BrokenPipeError:
        # The reader stopped early (`pilotage kpi ... | head`): not an error to report.
        # stdout goes to devnull so that Python's last flush does not fail again.
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing will flush to the pipe


if __name__ == "__main__":
    sys.exit(main())
