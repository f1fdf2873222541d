"""``python -m dashboard backup``: a consistent backup of the running installation.

SQLite: the online backup API copies the database page by page inside one read transaction of the
source, so the copy is one snapshot while writers go on (WAL: readers never block writers; a copy
outside such a transaction would start over each time another process writes). PostgreSQL: ``pg_dump
--format=custom`` reads a snapshot exported by a repeatable-read transaction, the one that also counts
the rows, so the manifest's counts are the dump's. Then the media store, then the manifest; the folder is
renamed to its final name only when all of it is written.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from tqdm import tqdm

from dashboard import clock
from dashboard.backup import postgres
from dashboard.backup.manifest import PREFIX, Manifest, app_version, describe_files, write
from dashboard.backup.media import back_up_media
from dashboard.config import get_settings
from dashboard.db import get_engine, normalise_url
from dashboard.kernel.errors import Invalid

SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
PAGES_PER_STEP = 2048
"""SQLite pages copied per step of the backup API (8 MiB at 4 KiB pages): progress between steps."""


def backend_of(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return make_url(normalise_url(url)).get_backend_name()


def sqlite_path(url: str) -> Path:
    database = make_url(normalise_url(url)).database
    if not database or database == ":memory:":
        raise Invalid("backup.no_database", database=str(database))
    return Path(database)


def quote(name: str) -> str:
    """A table name as an SQL identifier (names come from the database's own catalogue)."""
    return '"' + name.replace('"', '""') + '"'


def count_sql(table: str) -> str:
    """``SELECT COUNT(*)`` of a table named by the database's catalogue."""
    return f"SELECT COUNT(*) FROM {quote(table)}"  # noqa: S608


def backup_folder(url: str | None = None) -> Path:
    """Where backups go by default: the setting ``backup.dir`` (its configured default when the database
    cannot be read)."""
    from dashboard.admin import settings

    try:
        return Path(str(settings.cached_setting("backup.dir", url)))
    except Exception:  # no database yet, or no settings table: the configured default
        return Path(str(settings.default("backup.dir")))


# ---------------------------------------------------------------- SQLite


def sqlite_counts(path: Path) -> tuple[dict[str, int], str | None]:
    """Rows per table and the schema revision of a SQLite file that nobody writes (a backup)."""
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        counts = {n: int(con.execute(count_sql(n)).fetchone()[0]) for n in names}
        revision = None
        if "alembic_version" in counts:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        return counts, revision
    finally:
        con.close()


def _page_bar(progress: bool | None, what: str) -> tuple[tqdm, Callable[[int, int, int], None]]:
    bar = tqdm(total=0, unit="page", desc=what, disable=None if progress is None else not progress)

    def step(_status: int, remaining: int, total: int) -> None:
        bar.total = total
        bar.n = total - remaining
        bar.refresh()

    return bar, step


def sqlite_copy(source: Path, target: Path, progress: bool | None = None, what: str = "backup") -> None:
    """Copy SQLite database `source` into `target` as one snapshot, page by page (the backup API), while
    other processes write to `source`; `target` ends as a single file (rollback journal)."""
    if not source.is_file():
        raise Invalid("backup.no_database", database=str(source))
    src = sqlite3.connect(str(source), isolation_level=None, timeout=30)
    try:
        src.execute("BEGIN")
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        dst = sqlite3.connect(str(target), isolation_level=None)
        bar, step = _page_bar(progress, what)
        try:
            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            bar.close()
            dst.close()
        src.execute("COMMIT")
    finally:
        src.close()


# ---------------------------------------------------------------- PostgreSQL


def pg_counts(conn: Connection) -> tuple[dict[str, int], str | None]:
    """Rows per table of the current schema and the schema revision, in `conn`'s transaction."""
    names = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    ).scalars()
    counts = {n: int(conn.execute(text(count_sql(n))).scalar_one()) for n in list(names)}
    revision = None
    if "alembic_version" in counts:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return counts, revision


def _pg_dump(url: str, target: Path, progress: bool | None) -> tuple[dict[str, int], str | None]:
    engine = get_engine(url)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.execute(text("SET TRANSACTION READ ONLY"))
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts, revision = pg_counts(conn)
        with tqdm(
            total=len(counts),
            unit="table",
            desc="pg_dump",
            disable=None if progress is None else not progress,
        ) as bar:
            postgres.run(
                "pg_dump",
                ["--format=custom", f"--file={target}", f"--snapshot={snapshot}"],
                url,
                on_table=lambda _name: bar.update(),
            )
    return counts, revision


# ---------------------------------------------------------------- a backup


def _folder_name(out: Path, kind: str) -> Path:
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    path, n = out / f"{PREFIX}{stamp}-{kind}", 1
    while path.exists() or (out / f".{path.name}.partial").exists():
        n += 1
        path = out / f"{PREFIX}{stamp}-{kind}-{n}"
    return path


def make_backup(
    url: str | None = None,
    out: Path | None = None,
    *,
    progress: bool | None = None,
    media_root: Path | None = None,
) -> tuple[Path, Manifest]:
    """Back up the database at `url` (default ``DATABASE_URL``) and the media store into a new folder in
    `out` (default: the setting ``backup.dir``); the folder and its manifest.

    Runs while the app runs: writers are not blocked (SQLite WAL, PostgreSQL snapshot).
    """
    url = normalise_url(url or get_settings().database_url)
    kind = backend_of(url)
    source = sqlite_path(url) if kind == "sqlite" else None
    if source is not None and not source.is_file():  # do not let the settings lookup create it
        raise Invalid("backup.no_database", database=str(source))
    out = Path(out) if out is not None else backup_folder(url)
    out.mkdir(parents=True, exist_ok=True)
    created = clock.now()
    started = time.perf_counter()
    final = _folder_name(out, kind)
    work = out / f".{final.name}.partial"
    work.mkdir()
    try:
        if source is not None:
            sqlite_copy(source, work / SQLITE_FILE, progress)
            counts, revision = sqlite_counts(work / SQLITE_FILE)
            database = source.name
        else:
            counts, revision = _pg_dump(url, work / PG_FILE, progress)
            database = str(make_url(url).database)
        back_up_media(work, media_root)
        manifest = Manifest(
            created_at=created,
            backend=kind,
            schema_revision=revision,
            tables=counts,
            files=describe_files(work),
            app_version=app_version(),
            database=database,
            duration_seconds=round(time.perf_counter() - started, 2),
        )
        write(work, manifest)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, manifest
