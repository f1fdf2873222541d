"""Running PostgreSQL's own tools (``pg_dump``, ``pg_restore``) against the database of a URL.

The tools are taken from the PATH, else from the newest ``/usr/lib/postgresql/*/bin``. The connection is
passed as a libpq URI without the password; the password goes in ``PGPASSWORD``, so it appears in no
process list.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from dashboard.db import normalise_url
from dashboard.kernel.errors import DomainError


class ToolFailed(DomainError):
    """pg_dump or pg_restore is missing or stopped with an error (its last lines are in `detail`)."""

    key = "backup.tool_failed"


def find_tool(name: str) -> Path:
    """The path of PostgreSQL client tool `name`; :class:`ToolFailed` when it is not installed."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for folder in reversed(candidates):
        if Path(folder, name).exists():
            return Path(folder, name)
    raise ToolFailed("backup.tool_missing", tool=name)


def connection(url: str) -> tuple[str, dict[str, str]]:
    """(libpq URI without the password, environment with ``PGPASSWORD``) for a PostgreSQL URL."""
    parsed = make_url(normalise_url(url))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


_TABLE = re.compile(r'(?:dumping contents of|processing data for) table "?(?:[\w]+\.)?"?([\w]+)"?')


@contextmanager
def _running(cmd: list[str], env: dict[str, str], **kw: object) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(cmd, env=env, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def run(tool: str, args: list[str], url: str, on_table: Callable[[str], None] | None = None) -> None:
    """Run `tool` with `args` against `url`'s database (``--verbose``: `on_table` hears of each table it
    reaches); :class:`ToolFailed` with its last messages when it fails."""
    uri, env = connection(url)
    cmd = [str(find_tool(tool)), "--verbose", *args, f"--dbname={uri}"]
    tail: list[str] = []
    with _running(cmd, env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail = [*tail[-9:], line.rstrip()]
            m = _TABLE.search(line)
            if m and on_table:
                on_table(m.group(1))
        code = proc.wait()
    if code != 0:
        errors = [line for line in tail if "error" in line.lower()] or tail
        raise ToolFailed(tool=tool, code=code, detail=" | ".join(errors[-3:]))


@contextmanager
def data_stream(dump: Path) -> Iterator[Iterator[bytes]]:
    """The data of a custom-format dump as SQL text (``pg_restore --data-only``: COPY blocks), line by
    line; needs no server."""
    cmd = [str(find_tool("pg_restore")), "--data-only", "--file=-", str(dump)]
    with _running(cmd, dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        yield iter(proc.stdout)
        proc.stdout.read()
        code = proc.wait()
        if code != 0:
            raise ToolFailed(tool="pg_restore", code=code, detail=proc.stderr.read().decode()[-300:])
