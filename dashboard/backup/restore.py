"""``python -m dashboard restore BACKUP``: a backup checked and restored into a database of either kind.

In order: the manifest is read and every file checked against its size and SHA-256; a target that holds
any rows is refused unless forced; the target is emptied and restored (SQLite from SQLite: the backup API
copies the file into place; PostgreSQL from PostgreSQL: ``pg_restore --clean --if-exists --no-owner``;
across kinds: :mod:`dashboard.backup.portable`); the rows of every table are compared with the manifest;
the schema is migrated forward when the backup is older than the code; the media store is copied back.
Stop the app (every replica) before restoring: the restore replaces the database under it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from dashboard.backup import postgres
from dashboard.backup.backup import (
    PG_FILE,
    SQLITE_FILE,
    backend_of,
    count_sql,
    pg_counts,
    quote,
    sqlite_copy,
    sqlite_path,
)
from dashboard.backup.manifest import Manifest, read, verify_files
from dashboard.backup.media import restore_media
from dashboard.backup.portable import copy_backup
from dashboard.config import get_settings
from dashboard.db import alembic_config, dispose_engines, get_engine, normalise_url, upgrade
from dashboard.kernel.errors import Conflict, Invalid


@dataclass
class RestoreReport:
    """What a restore did."""

    source_backend: str
    target_backend: str
    method: str  # "sqlite-backup-api", "pg_restore" or "portable"
    revision_from: str | None
    revision_to: str | None
    tables: dict[str, int]
    media_files: int
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _check_revision(url: str, revision: str | None) -> None:
    """The code knows the backup's schema revision (a backup made by a newer version is refused)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    known = {r.revision for r in script.walk_revisions()}
    if revision is None or revision not in known:
        raise Invalid("backup.unknown_revision", revision=str(revision))


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of a database (SQLite's own tables left out)."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            return pg_counts(conn)[0]
        names = [n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_")]
        return {n: int(conn.execute(text(count_sql(n))).scalar_one()) for n in names}


def rows_in(url: str) -> int:
    """Rows in the application's tables of the database at `url` (0 for none, or no database yet)."""
    if backend_of(url) == "sqlite" and not sqlite_path(url).exists():
        return 0
    counts = table_counts(get_engine(url))
    return sum(n for name, n in counts.items() if name != "alembic_version")


def _empty_postgres(engine: Engine) -> None:
    """Drop every table and sequence of the current schema, and the trigger function of case_events."""
    with engine.begin() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        for name in list(tables.scalars()):
            conn.execute(text(f"DROP TABLE IF EXISTS {quote(name)} CASCADE"))
        sequences = conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        )
        for name in list(sequences.scalars()):
            conn.execute(text(f"DROP SEQUENCE IF EXISTS {quote(name)} CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS case_events_append_only() CASCADE"))


def _empty_sqlite(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        p.unlink(missing_ok=True)


def _restore_database(backup: Path, manifest: Manifest, url: str, progress: bool | None) -> str:
    """Put the backup's database into the target (emptied first); the method used."""
    kind = backend_of(url)
    dispose_engines()
    if manifest.backend == kind == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _empty_sqlite(target)
        sqlite_copy(backup / SQLITE_FILE, target, progress, what="restore")
        return "sqlite-backup-api"
    if kind == "postgresql":
        _empty_postgres(get_engine(url))
    else:
        _empty_sqlite(sqlite_path(url))
    dispose_engines()
    if manifest.backend == kind:
        args = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
        postgres.run("pg_restore", [*args, "--exit-on-error", str(backup / PG_FILE)], url)
        return "pg_restore"
    database_file = backup / (SQLITE_FILE if manifest.backend == "sqlite" else PG_FILE)
    total = sum(n for name, n in manifest.tables.items() if name != "alembic_version")
    copy_backup(database_file, manifest.backend, url, str(manifest.schema_revision), total, progress)
    return "portable"


def verify_counts(manifest: Manifest, found: dict[str, int]) -> None:
    """Every table holds the rows the manifest says; :class:`Invalid` names the first that does not."""
    for table, expected in sorted(manifest.tables.items()):
        if table.startswith("sqlite_"):
            continue
        if found.get(table) != expected:
            raise Invalid("backup.count_mismatch", table=table, expected=expected, found=found.get(table, 0))


def restore(
    backup: Path,
    url: str | None = None,
    *,
    force: bool = False,
    progress: bool | None = None,
    media_root: Path | None = None,
) -> RestoreReport:
    """Restore the backup in folder `backup` into the database at `url` (default ``DATABASE_URL``).

    Refuses (:class:`Conflict`) a database that holds rows unless `force`, and (:class:`Invalid`) a backup
    whose files do not match its manifest, whose schema this version does not know, or whose rows did not
    all arrive.
    """
    started = time.perf_counter()
    backup = Path(backup)
    manifest = read(backup)
    verify_files(backup, manifest)
    url = normalise_url(url or get_settings().database_url)
    _check_revision(url, manifest.schema_revision)
    rows = rows_in(url)
    if rows and not force:
        raise Conflict("backup.target_not_empty", rows=rows)
    method = _restore_database(backup, manifest, url, progress)
    dispose_engines()
    found = table_counts(get_engine(url))
    verify_counts(manifest, found)
    upgrade(url)
    media = restore_media(backup, media_root)
    dispose_engines()
    return RestoreReport(
        source_backend=manifest.backend,
        target_backend=backend_of(url),
        method=method,
        revision_from=manifest.schema_revision,
        revision_to=_head(url),
        tables={t: n for t, n in found.items() if t in manifest.tables},
        media_files=media,
        seconds=round(time.perf_counter() - started, 2),
    )
