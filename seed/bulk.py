"""Fast bulk inserts for the seed, on SQLite and PostgreSQL, and the reset of a database.

Rows are plain tuples in a given column order with ids assigned by the caller. On SQLite they go through
the driver's ``executemany`` with datetimes formatted exactly as SQLAlchemy stores them (so SQL comparisons
against values written later by the app stay right); on PostgreSQL through ``COPY … FROM STDIN``. After
inserting explicit ids on PostgreSQL, :func:`fix_sequences` moves the id sequences past them.

A large load runs inside :func:`bulk_load`: the secondary indexes of the big tables are dropped for the load
and built once at the end, and SQLite skips fsync meanwhile. Maintaining a dozen indexes row by row made the
million-case seed slow down as it went (the indexes outgrew the page cache and every insert became random
I/O); building each index once from sorted data is many times cheaper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Date, DateTime, Integer, MetaData, bindparam, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat(" ")
    return text if value.microsecond else text + ".000000"


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (tuples in `columns` order) into `table` inside the connection's transaction."""
    if not rows:
        return
    columns, rows = _with_defaults(table, columns, rows)
    quote = conn.dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table)} ({cols}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    converters = _sqlite_converters(table, columns)
    if converters:
        converted = []
        for row in rows:
            values = list(row)
            for i, conv in converters:
                values[i] = conv(values[i])
            converted.append(tuple(values))
        rows = converted
    placeholders = ", ".join("?" for _ in columns)
    # identifiers come from the model metadata, quoted by the dialect; values are bound parameters
    sql = f"INSERT INTO {quote(table)} ({cols}) VALUES ({placeholders})"  # noqa: S608
    conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]


def _with_defaults(
    table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> tuple[Sequence[str], list[tuple[Any, ...]]]:
    """Add the model's scalar default for every NOT NULL column the caller did not give (new columns)."""
    tab = SQLModel.metadata.tables[table]
    extra = [
        (c.name, c.default.arg)  # type: ignore[union-attr]
        for c in tab.c
        if c.name not in columns and not c.nullable and c.default is not None and c.default.is_scalar
    ]
    if not extra:
        return columns, rows
    values = tuple(v.value if isinstance(v, Enum) else v for _, v in extra)
    return (*columns, *(n for n, _ in extra)), [row + values for row in rows]


def _sqlite_converters(table: str, columns: Sequence[str]) -> list[tuple[int, Callable[[Any], Any]]]:
    tab = SQLModel.metadata.tables[table]
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        col_type = tab.c[name].type
        if isinstance(col_type, DateTime):
            out.append((i, _sqlite_datetime))
        elif isinstance(col_type, Date):
            out.append((i, _sqlite_date))
    return out


def fix_sequences(conn: Connection) -> None:
    """On PostgreSQL, set every serial ``id`` sequence past the largest id (no-op elsewhere)."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for name in sorted(SQLModel.metadata.tables):
        pk = SQLModel.metadata.tables[name].primary_key.columns
        if len(pk) != 1 or pk.keys() != ["id"] or not isinstance(pk["id"].type, Integer):
            continue
        seq = conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{name}', 'id')").scalar()
        if seq:
            conn.exec_driver_sql(
                f"SELECT setval('{seq}', (SELECT COALESCE(MAX(id), 0) + 1 FROM {quote(name)}), false)"  # noqa: S608
            )


def drop_everything(engine: Engine) -> None:
    """Drop every table of the database, ``alembic_version`` included, children before parents."""
    if not inspect(engine).get_table_names():
        return
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)


def analyze(conn: Connection) -> None:
    """Refresh the planner statistics after the bulk load: a full ANALYZE (about 10 s at a million cases).

    Not sampled on SQLite: ``analysis_limit`` sampling recorded nonsense row counts for the skewed ``cases``
    indexes (e.g. 500 rows per status), and the planner then picked status indexes over date ranges,
    making the KPI queries 10-100x slower at a million cases.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit=0")
    conn.exec_driver_sql("ANALYZE")


def secondary_indexes(conn: Connection, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes of `tables` that back no constraint (primary key, unique)."""
    if conn.dialect.name == "postgresql":
        stmt = text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass) ORDER BY i.indexname"
        ).bindparams(tables=list(tables))
    else:
        stmt = text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN :tables ORDER BY name"
        ).bindparams(bindparam("tables", list(tables), expanding=True))
    return [(name, sql) for name, sql in conn.execute(stmt).all()]


@contextmanager
def bulk_load(engine: Engine, tables: Sequence[str]) -> Iterator[None]:
    """Load `tables` without maintaining their secondary indexes; rebuild them (and restore the settings) after.

    The indexes are rebuilt from their stored definitions even when the load fails, so the schema stays
    whole. On SQLite the load also runs with ``synchronous=OFF`` (a failed seed is thrown away anyway).
    """
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        indexes = secondary_indexes(conn, tables)
        for name, _ in indexes:
            conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        event.listen(engine, "connect", _sqlite_fast)
        engine.dispose()  # new connections get the fast settings
    try:
        yield
    finally:
        if sqlite:
            event.remove(engine, "connect", _sqlite_fast)
            engine.dispose()
        with engine.begin() as conn:
            for _, create in indexes:
                conn.exec_driver_sql(create)


def _sqlite_fast(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MB while loading
    cursor.close()
