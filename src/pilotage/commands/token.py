"""`pilotage token create USER [--read-only]`, `pilotage token revoke PREFIX`,
`pilotage token list [USER]`: personal API tokens (shown once, stored hashed)."""

from __future__ import annotations

import argparse
import sys

from pilotage.commands.common import print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token",
        help="create, list and revoke API tokens",
        description="Personal API tokens for `Authorization: Bearer ...`. A new token is "
        "shown once: only its hash is kept.",
    )
    actions = parser.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token for a user (shown once)")
    create.add_argument("username", metavar="USER")
    create.add_argument("--read-only", action="store_true", help="a token that cannot write")
    create.add_argument("--name", default="", help="what the token is for")
    revoke = actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("prefix", metavar="PREFIX", help="the token's prefix (or the token)")
    listing = actions.add_parser("list", help="list tokens (never their secret)")
    listing.add_argument("username", metavar="USER", nargs="?")
    for sub in (create, revoke, listing):
        sub.add_argument("--db", metavar="URL", help="the CRM database (default: DATABASE_URL)")
        sub.add_argument("--format", choices=("table", "json"), default="table")
        sub.set_defaults(handler=run)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pilotage.web import setup

    setup(args.db)
    from django.contrib.auth import get_user_model

    from pilotage.web.accounts.models import ApiToken
    from pilotage.web.accounts.tokens import token_create, token_revoke

    if args.token_action == "create":
        user = get_user_model().objects.filter(username=args.username).first()
        if user is None:
            print(f"pilotage: no user {args.username!r}", file=sys.stderr)
            return 1
        new = token_create(user=user, name=args.name, read_only=args.read_only, door="cli")
        if args.format == "json":
            print_json(
                {"token": new.plaintext, "prefix": new.token.prefix, "read_only": args.read_only}
            )
        else:
            print(new.plaintext)
            print(
                "This token is shown once: keep it now. Revoke it with "
                f"`pilotage token revoke {new.token.prefix}`.",
                file=sys.stderr,
            )
        return 0
    if args.token_action == "revoke":
        try:
            token = token_revoke(prefix=args.prefix, door="cli")
        except ApiToken.DoesNotExist:
            print(f"pilotage: no token {args.prefix!r}", file=sys.stderr)
            return 1
        if args.format == "json":
            print_json({"prefix": token.prefix, "revoked": True})
        else:
            print(f"Revoked token {token.prefix}.")
        return 0
    tokens = ApiToken.objects.select_related("user").order_by("created_at")
    if args.username:
        tokens = tokens.filter(user__username=args.username)
    rows = [
        {
            "prefix": t.prefix,
            "user": t.user.get_username(),
            "name": t.name,
            "read_only": t.read_only,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        }
        for t in tokens
    ]
    if args.format == "json":
        print_json(rows)
    else:
        for row in rows:
            state = "revoked" if row["revoked_at"] else "active"
            mode = "read-only" if row["read_only"] else "read-write"
            print(
                f"{row['prefix']}  {row['user']}  {mode}  {state}  "
                f"last used {row['last_used_at'] or 'never'}  {row['name']}"
            )
    return 0
