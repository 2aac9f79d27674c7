"""Operator commands: `python -m jobs_ui.admin create-key | list-keys | revoke-key`.

It reads the app's own settings and migrates first, so it works on a fresh clone before the
app has ever started, against the same database the app will use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from jobs_ui.access.api_keys import (
    ApiKey,
    create_key,
    list_keys,
    revoke_key,
    validate_owner,
    validate_scopes,
)
from jobs_ui.db import make_engine, migrate
from jobs_ui.models import as_utc
from jobs_ui.settings import get_settings

PROG = "python -m jobs_ui.admin"
LIST_COLUMNS = ("ID", "OWNER", "SCOPES", "CREATED", "LAST USED", "REVOKED")


class CommandError(Exception):
    """A refusal for the operator: one line on stderr and exit status 1."""


def open_engine() -> Engine:
    settings = get_settings()
    if settings.database_url is None:
        # The default SQLite file lives in the data dir, which a fresh clone does not have.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    return engine


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M:%SZ")


def _scopes(scopes: Sequence[str]) -> str:
    return ",".join(scopes) or "-"


def _checked(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse type that checks a value as the key functions will, so bad input is
    refused (exit 2, with the usage) before the database is opened or a data dir made."""

    def parse(value: str) -> str:
        try:
            check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    return parse


def cmd_create_key(engine: Engine, args: argparse.Namespace) -> None:
    key, text = create_key(engine, owner=args.owner, scopes=args.scope)
    print(f"Created API key {key.id} for owner {key.owner}, scopes: {_scopes(key.scopes)}")
    print("The key is shown once: store it now. It is the last line below.")
    # Alone on the last line, so `KEY=$(... create-key --owner ci | tail -n1)` works.
    print(text)


def key_table(keys: Sequence[ApiKey]) -> list[str]:
    """The rows of `list-keys`, aligned; ids, owners and scopes only, never secrets."""
    rows = [LIST_COLUMNS] + [
        (
            key.id,
            key.owner,
            _scopes(key.scopes),
            _when(key.created_at),
            _when(key.last_used_at),
            _when(key.revoked_at),
        )
        for key in keys
    ]
    widths = [max(len(row[index]) for row in rows) for index in range(len(LIST_COLUMNS))]
    return ["  ".join(map(str.ljust, row, widths)).rstrip() for row in rows]


def cmd_list_keys(engine: Engine, _args: argparse.Namespace) -> None:
    keys = list_keys(engine)
    if not keys:
        print("No API keys yet; make one with: create-key --owner NAME")
        return
    for line in key_table(keys):
        print(line)


def cmd_revoke_key(engine: Engine, args: argparse.Namespace) -> None:
    key = revoke_key(engine, key_id=args.key_id)
    if key is None:
        raise CommandError(f"no API key has the id {args.key_id!r}; see list-keys")
    print(f"API key {key.id} of owner {key.owner} is revoked (since {_when(key.revoked_at)}).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Manage the jobs UI's API keys.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create-key", help="make a key; prints it once")
    create.add_argument(
        "--owner", required=True, type=_checked(validate_owner), help="the subject the key acts as"
    )
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        type=_checked(lambda scope: validate_scopes([scope])),
        help="a scope to grant, e.g. jobs:admin (repeat for several)",
    )
    create.set_defaults(run=cmd_create_key)

    listing = commands.add_parser("list-keys", help="show every key (never the secrets)")
    listing.set_defaults(run=cmd_list_keys)

    revoke = commands.add_parser("revoke-key", help="stop a key from working, for good")
    revoke.add_argument("key_id", metavar="ID", help="the key's id, as list-keys shows it")
    revoke.set_defaults(run=cmd_revoke_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # exits 2 with the usage on bad arguments
    run: Callable[[Engine, argparse.Namespace], None] = args.run
    try:
        engine = open_engine()
        try:
            run(engine, args)
        finally:
            engine.dispose()
    except CommandError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except ValidationError as error:
        print(
            f"{PROG}: error: the settings in the environment are not valid: {error}",
            file=sys.stderr,
        )
        return 1
    except (SQLAlchemyError, OSError) as error:
        # An unreachable database or unwritable data dir is the operator's to fix: say
        # which, without a traceback.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{PROG}: error: database error: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
