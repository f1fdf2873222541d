"""A backup restored into the other kind of database: SQLite → PostgreSQL (the path of a sub-district
that outgrows SQLite) and PostgreSQL → SQLite.

The target gets its schema from the migrations, at the backup's revision, then every table's rows in
the order of the foreign keys, then (PostgreSQL) its sequences set past the highest id; the restore then
migrates it forward like any other. Rows come from the SQLite file of a backup (read as it is, never
opened for writing) or from the COPY blocks of a custom-format dump (``pg_restore --data-only`` writes
them as text; no PostgreSQL server is needed to read them). They go into PostgreSQL with COPY, one
statement per table (a case that is a duplicate of a later case is checked when the table is complete),
and into SQLite with batched inserts in one transaction whose foreign keys are checked at commit.
``case_events`` refuses updates and deletions, not inserts: the target starts empty.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.engine import Engine
from tqdm import tqdm

from dashboard.backup import postgres
from dashboard.backup.backup import quote
from dashboard.db import alembic_config, get_engine, normalise_url
from dashboard.kernel.errors import Invalid

BATCH = 5000
"""Rows per batched insert (SQLite)."""
SKIP = frozenset({"alembic_version"})
"""Tables the migrations fill themselves."""

Rows = Iterator[tuple[object, ...]]
Source = Iterator[tuple[sa.Table, list[str], Rows]]


def migrate_to(url: str, revision: str) -> None:
    """Create the schema of `revision` in the (empty) database at `url`."""
    from alembic import command

    url = normalise_url(url)
    cfg = alembic_config(url)
    with get_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def target_tables(engine: Engine) -> list[sa.Table]:
    """The target's tables (as the migrations made them), parents before children."""
    meta = sa.MetaData()
    meta.reflect(engine)
    return [t for t in meta.sorted_tables if t.name not in SKIP and not t.name.startswith("sqlite_")]


# ---------------------------------------------------------------- reading a backup


def sqlite_source(path: Path, tables: list[sa.Table]) -> Source:
    """The rows of every table from the SQLite file of a backup, as stored (SQLite's own values)."""
    con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        for table in tables:
            columns = [c.name for c in table.columns]
            sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} ORDER BY rowid"  # noqa: S608
            try:
                cursor = con.execute(sql)
            except sqlite3.OperationalError as exc:
                raise Invalid("backup.schema_mismatch", table=table.name) from exc
            yield table, columns, iter(cursor)
    finally:
        con.close()


_COPY = re.compile(r'^COPY (?:"?\w+"?\.)?"?(\w+)"? \((.*)\) FROM stdin;$')
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))")
_ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(value: str) -> str:
    """A field of COPY's text format, its backslash escapes decoded."""
    if "\\" not in value:
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 8))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _ESCAPED.get(m.group(3), m.group(3))

    return _ESCAPE.sub(one, value)


def _sqlite_datetime(value: str) -> str:
    """PostgreSQL's text of a timestamp → SQLAlchemy's SQLite form (``YYYY-MM-DD HH:MM:SS.ffffff``), which
    the app writes and compares as text."""
    if len(value) == 19:
        return value + ".000000"
    if len(value) <= 26 and value[19:20] == ".":
        return value[:20] + value[20:].ljust(6, "0")
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parser(column: sa.Column) -> Callable[[str], object]:
    """Text of COPY → the value SQLite stores for the target column (as SQLAlchemy would write it)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return lambda v: 1 if v == "t" else 0
    if isinstance(kind, sa.Integer):
        return int
    if isinstance(kind, sa.Float | sa.Numeric):
        return float
    if isinstance(kind, sa.DateTime):
        return _sqlite_datetime
    return str  # text, and dates (YYYY-MM-DD in both)


def _copy_rows(lines: Iterator[bytes], parsers: list[Callable[[str], object]]) -> Rows:
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\n")
        if line == "\\.":
            return
        yield tuple(
            None if f == "\\N" else parse(_unescape(f) if "\\" in f else f)
            for f, parse in zip(line.split("\t"), parsers, strict=True)
        )
    raise Invalid("backup.bad_dump")


def _columns(header: str) -> list[str]:
    return [c.strip().strip('"').replace('""', '"') for c in header.split(",")]


def dump_source(lines: Iterator[bytes], tables: list[sa.Table]) -> Source:
    """The rows of every table from the text of a dump's data, converted to the target's column types."""
    by_name = {t.name: t for t in tables}
    for raw in lines:
        m = _COPY.match(raw.decode("utf-8").rstrip("\n"))
        if not m:
            continue
        name, columns = m.group(1), _columns(m.group(2))
        table = by_name.get(name)
        if name in SKIP:
            for line in lines:  # the target's own revision row stays
                if line.rstrip(b"\n") == b"\\.":
                    break
            continue
        if table is None or any(c not in table.columns for c in columns):
            raise Invalid("backup.schema_mismatch", table=name)
        yield table, columns, _copy_rows(lines, [_parser(table.columns[c]) for c in columns])


# ---------------------------------------------------------------- writing the target


def _write_sqlite(engine: Engine, source: Source, bar: tqdm) -> None:
    with engine.execution_options(write=True).begin() as conn:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # checked at commit
        for table, columns, rows in source:
            names, marks = ", ".join(quote(c) for c in columns), ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608
            while batch := list(islice(rows, BATCH)):
                conn.exec_driver_sql(sql, batch)
                bar.update(len(batch))


_SEQUENCES = text(
    "SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name) AS seq "
    "FROM information_schema.columns WHERE table_schema = current_schema() "
    "AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL"
)


def reset_sequences(conn: sa.Connection) -> int:
    """Set every serial column's sequence past the column's highest value; how many were set."""
    rows = conn.execute(_SEQUENCES).all()
    for table, column, seq in rows:
        top = conn.execute(text(f"SELECT MAX({quote(column)}) FROM {quote(table)}")).scalar()  # noqa: S608
        conn.execute(text("SELECT setval(:seq, :value, false)"), {"seq": seq, "value": int(top or 0) + 1})
    return len(rows)


def _write_postgres(engine: Engine, source: Source, bar: tqdm) -> None:
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        for table, columns, rows in source:
            sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
            n = 0
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
                    if n % BATCH == 0:
                        bar.update(BATCH)
            bar.update(n % BATCH)
        reset_sequences(conn)


def copy_backup(
    database_file: Path, backend: str, url: str, revision: str, total: int, progress: bool | None = None
) -> None:
    """Fill the empty database at `url` (the other kind than `backend`) from a backup's database file:
    the schema at `revision`, then every row."""
    url = normalise_url(url)
    migrate_to(url, revision)
    engine = get_engine(url)
    tables = target_tables(engine)
    with tqdm(
        total=total, unit="row", desc="restore", disable=None if progress is None else not progress
    ) as bar:
        if backend == "sqlite":
            _write_postgres(engine, sqlite_source(database_file, tables), bar)
        else:
            with postgres.data_stream(database_file) as lines:
                _write_sqlite(engine, dump_source(lines, tables), bar)
