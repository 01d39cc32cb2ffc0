"""`pilotage user create NAME --role admin|manager|rep [--rep-id ID] [--team T]`."""

from __future__ import annotations

import argparse
import getpass
import sys

from pilotage.commands.common import print_json

ROLES = ("admin", "manager", "rep")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "user",
        help="create CRM users",
        description="Create a CRM user with its role. The password is asked twice on the "
        "terminal, or read from stdin with --password-stdin; it must have at least 12 "
        "characters and be neither common, all digits, nor like the user name.",
    )
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a user")
    create.add_argument("username", metavar="NAME")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--rep-id", metavar="ID", help="the reps row this user is (role rep)")
    create.add_argument("--team", metavar="T", help="the team a manager leads")
    create.add_argument("--email", default="", help="e-mail address")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.add_argument("--db", metavar="URL", help="the CRM database (default: DATABASE_URL)")
    create.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)
    create.set_defaults(handler=run)


def read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        print("pilotage: the passwords differ", file=sys.stderr)
        return None
    return first


def run(args: argparse.Namespace) -> int:
    from pilotage.web import setup

    password = read_password(args.password_stdin)
    if password is None:
        return 1
    setup(args.db)
    from pilotage.web.accounts.services import UserError, user_create

    try:
        user = user_create(
            username=args.username,
            password=password,
            role=args.role,
            rep_id=args.rep_id,
            team=args.team,
            email=args.email,
            door="cli",
        )
    except UserError as error:
        print(f"pilotage: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        print_json({"id": user.pk, "username": args.username, "role": args.role})
    else:
        print(f"Created {args.role} {args.username!r}.")
    return 0
