"""Shared fixtures of the import tests: a tiny territory (tests.factories), counts of every table, and
writers of messy files. No tests here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from dashboard import clock
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from models import Category, ResidentUnit
from models.enums import CalendarKind, Priority
from tests.factories import World, build_world

NOW = datetime(2026, 11, 25, 10, 0)
"""Frozen "now" of the import tests (a Wednesday)."""

INSIDE = [(118.0025, 33.0025), (118.0025, 33.0075), (118.0125, 33.0025), (118.0125, 33.0075)]
"""A point inside each of the four grids TS-01-01, TS-01-02, TS-02-01, TS-02-02."""


@dataclass
class IoWorld:
    url: str
    world: World
    admin: Actor

    def session(self) -> Session:
        return Session(get_engine(self.url), expire_on_commit=False)


@pytest.fixture
def io_world(db_url: str) -> Iterator[IoWorld]:
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        w = build_world(s)
        s.add(
            Category(
                code="SAF",
                name_zh="安全隐患",
                name_en="Safety hazards",
                sla_limit=24,
                calendar=CalendarKind.natural_hours,
                response_limit=1,
                response_calendar=CalendarKind.natural_hours,
                priority_default=Priority.urgent,
            )
        )
        s.add(ResidentUnit(name="项里小学", kind="school"))
        s.commit()
    with clock.frozen(NOW):
        yield IoWorld(db_url, w, w.users["admin"])


def counts(url: str) -> dict[str, int]:
    """Rows of every table."""
    with Session(get_engine(url)) as s:
        return {
            name: s.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]], title_row: str | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write(path: Path, data: bytes | str | object) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
