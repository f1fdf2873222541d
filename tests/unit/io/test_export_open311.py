"""Open311 GeoReport v2 export: valid against the specification's schema (JSON and XML, format checking
on), and export → import → export gives the same file for every field the format carries."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import update
from sqlmodel import Session, select

from dashboard.cli import main
from dashboard.db import get_engine
from dashboard.io import open311
from dashboard.io.cases import import_open311
from models import Case
from tests.unit.io.test_import_roundtrip import _admin, _without_cases

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "georeport_v2_requests.schema.json").read_text())
CHECKER = FormatChecker()
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=CHECKER)

TRICKY = {
    "same": ("路灯不亮", "路灯不亮"),  # title equal to the description
    "apostrophe": ("'=already escaped", "'+86 号码"),  # an apostrophe some tool put before a formula
    "indent": ("\u3000\u3000段落缩进", "\u3000\u3000第一段。\n\u00a0第二段以不换行空格开头"),
    "formula": ("=1+1", "+86 电话打不通"),  # JSON is not a spreadsheet: written as stored
    "long": ("长" * 200, "描" * 4000),  # the longest title and description a case may hold
    "empty": ("只有标题", ""),
}


def _problems(items: list[dict[str, Any]]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(items)][:10]


def _xml_items(data: bytes) -> list[dict[str, Any]]:
    """The requests of an XML export as JSON values (lat/long numbers, as the schema types them)."""
    root = ElementTree.fromstring(data)
    assert root.tag == "service_requests"
    items = []
    for request in root:
        assert request.tag == "request"
        item: dict[str, Any] = {child.tag: child.text or "" for child in request}
        for key in ("lat", "long"):
            if key in item:
                item[key] = float(item[key])
        items.append(item)
    return items


def _tricky_cases(url: str) -> list[str]:
    """Give six seeded cases the texts of TRICKY; their numbers."""
    with Session(get_engine(url)) as s:
        numbers = s.exec(select(Case.number).order_by(Case.id).limit(len(TRICKY))).all()
        for number, (title, description) in zip(numbers, TRICKY.values(), strict=True):
            s.execute(update(Case).where(Case.number == number).values(title=title, description=description))
        s.commit()
    return list(numbers)


def _export(url: str, fmt: str) -> bytes:
    with Session(get_engine(url)) as s:
        writer = open311.write_open311 if fmt == "json" else open311.write_open311_xml
        buffer = io.BytesIO()
        writer(s, _admin(s), buffer, unmasked=True, lang="zh")
        s.commit()
    return buffer.getvalue()


def test_format_checking_is_on() -> None:
    """Without the format packages jsonschema skips ``uri`` and ``date-time`` silently."""
    assert {"uri", "date-time"} <= set(CHECKER.checkers)
    bad = {
        "service_request_id": "1",
        "status": "open",
        "service_name": "x",
        "service_code": "x",
        "requested_datetime": "2026-11-02 08:00",
        "updated_datetime": "2026-11-02T08:00:00+08:00",
        "media_url": "",
        "description": "x" * 4001,
    }
    found = {e.validator for e in VALIDATOR.iter_errors([bad])}
    assert found == {"format", "maxLength"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_export_validates_against_the_georeport_v2_schema(seeded_url: str, fmt: str) -> None:
    numbers = _tricky_cases(seeded_url)
    data = _export(seeded_url, fmt)
    items = json.loads(data) if fmt == "json" else _xml_items(data)
    assert len(items) > 1000 and _problems(items) == []
    by_number = {i["service_request_id"]: i for i in items}
    assert all("media_url" not in i for i in items)  # no media: left out, not ""
    assert by_number[numbers[0]]["description"] == "路灯不亮\n路灯不亮"
    assert by_number[numbers[2]]["description"].startswith("\u3000\u3000段落缩进\n\u3000\u3000第一段")
    assert by_number[numbers[3]]["description"].startswith("=1+1\n+86")
    longest = by_number[numbers[4]]["description"]
    assert len(longest) == 4000 and longest.startswith("长" * 200 + "\n描") and longest.endswith("…")
    assert by_number[numbers[5]]["description"] == "只有标题"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_export_import_export_is_identical(seeded_url: str, fmt: str) -> None:
    numbers = _tricky_cases(seeded_url)
    first = _export(seeded_url, fmt)
    _without_cases(seeded_url)
    with Session(get_engine(seeded_url)) as s:
        report = import_open311(s, _admin(s), first, name=f"requests.{fmt}", commit=True)
        s.commit()
    assert report.committed and report.ok, report.problems_frame("en").head(10).to_dict("records")
    with Session(get_engine(seeded_url)) as s:
        texts = {
            number: (title, description)
            for number, title, description in s.exec(
                select(Case.number, Case.title, Case.description).where(Case.number.in_(numbers))
            ).all()
        }
    assert [texts[n] for n in numbers[:4]] == [TRICKY[k] for k in ("same", "apostrophe", "indent", "formula")]
    assert texts[numbers[4]] == ("长" * 200, "描" * 3798 + "…") and texts[numbers[5]] == TRICKY["empty"]
    second = _export(seeded_url, fmt)
    if fmt == "json":
        a, b = json.loads(first), json.loads(second)
    else:
        a, b = _xml_items(first), _xml_items(second)
    differing = Counter(
        k for x, y in zip(a, b, strict=True) for k in x.keys() | y.keys() if x.get(k) != y.get(k)
    )
    assert len(a) == len(b) and differing == Counter()
    assert first == second


def test_the_command_exports_open311_xml(seeded_url: str, tmp_path: Path) -> None:
    out = tmp_path / "requests.xml"
    assert (
        main(["export", "cases", "--format", "open311-xml", "--out", str(out), "--database-url", seeded_url])
        == 0
    )
    items = _xml_items(out.read_bytes())
    assert len(items) > 1000 and _problems(items) == []
