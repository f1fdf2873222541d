"""``python -m dashboard create-user`` and ``reset-password``: accounts from the shell, e.g. the first admin
of a real deployment or an admin who is locked out. The password is read from stdin (``--password-stdin``)
or asked for twice without echo; it must meet the password rules."""

from __future__ import annotations

import argparse
import getpass
import sys

from dashboard.cli import command
from dashboard.kernel.errors import DomainError
from models.enums import Role


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        print("passwords do not match", file=sys.stderr)
        return None
    return first


def _explain(err: DomainError) -> str:
    """The refusal in English: each broken rule, else the reason."""
    from dashboard.i18n import t_plain

    return "; ".join(t_plain(p.key, "en", **p.values) for p in err.details) or t_plain(
        err.key, "en", **err.values
    )


def _create_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--display-name", help="default: the username")
    p.add_argument("--community", help="community code (role community)")
    p.add_argument("--grid", help="grid code (role grid_worker)")
    p.add_argument("--department", help="department code (role department)")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("create-user", "create a user (for example the first admin); asks for the password", _create_args)
def create_user(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from dashboard.admin import users
    from dashboard.db import get_engine, session_scope, upgrade
    from models import Community, Department, Grid

    upgrade(args.database_url)
    password = _password(args)
    if password is None:
        return 1
    with session_scope(get_engine(args.database_url), write=True) as s:
        scope: dict[str, int | None] = {}
        for flag, model, field in (
            ("community", Community, "community_id"),
            ("grid", Grid, "grid_id"),
            ("department", Department, "department_id"),
        ):
            code = getattr(args, flag)
            if code:
                found = s.exec(select(model.id).where(model.code == code)).first()
                if found is None:
                    print(f"no {flag} with code {code}", file=sys.stderr)
                    return 1
                scope[field] = found
        data = users.UserInput(display_name=args.display_name or args.username, role=Role(args.role), **scope)
        try:
            user_id = users.create_user(s, None, args.username, password, data)
        except DomainError as e:
            print(f"refused: {_explain(e)}", file=sys.stderr)
            return 1
    print(f"created user {args.username} (id {user_id}, role {args.role})")
    return 0


def _reset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--username", required=True)
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("reset-password", "set a user's password, lift any lockout and end the user's sessions", _reset_args)
def reset_password(args: argparse.Namespace) -> int:
    from dashboard.admin import users
    from dashboard.db import get_engine, session_scope, upgrade

    upgrade(args.database_url)
    with session_scope(get_engine(args.database_url), write=True) as s:
        user_id = users.find_by_username(s, args.username)
        if user_id is None:
            print(f"no user {args.username}", file=sys.stderr)
            return 1
        password = _password(args)
        if password is None:
            return 1
        try:
            users.reset_password(s, None, user_id, password)
        except DomainError as e:
            print(f"refused: {_explain(e)}", file=sys.stderr)
            return 1
    print(f"password of {args.username} reset")
    return 0
