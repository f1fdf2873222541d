"""Operational commands: ``python -m dashboard <command> …``.

Each command is a function registered in COMMANDS with its argument parser; run without arguments for
the list.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def command(name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None]):  # type: ignore[no-untyped-def]
    """Register `fn(args) -> exit code` as a sub-command."""

    def wrap(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, configure, fn)
        return fn

    return wrap


def _migrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("migrate", "upgrade the database schema to the newest revision", _migrate_args)
def _migrate(args: argparse.Namespace) -> int:
    from dashboard.db import upgrade

    upgrade(args.database_url)
    print("database at newest revision")
    return 0


def _load_command_modules() -> None:
    """Import the modules that register further commands (they call `command` at import)."""
    import importlib
    import pkgutil

    import dashboard.commands as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"dashboard.commands.{mod.name}")


def main(argv: list[str] | None = None) -> int:
    _load_command_modules()
    parser = argparse.ArgumentParser(
        prog="python -m dashboard", description="网格治理指挥平台 operational commands"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure, _fn) in sorted(COMMANDS.items()):
        configure(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)
