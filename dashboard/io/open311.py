"""Open311 GeoReport v2 output: cases as service requests (``requests.json``) and categories as services
(``services.json``), streamed in SQL pages.

GeoReport v2 knows two statuses, ``open`` and ``closed``; a case that is closed, merged as a duplicate or
rejected is ``closed``, everything else ``open``. The finer status goes into ``status_notes`` as its label
(已结案, 不予受理 …) with, for a merged duplicate, the number it was merged into ("重复件，并入 XL…"); the
import reads both back. ``description`` is the title, a line break and the description (the format has
no title; the line break is there even when both are the same, so that the import gives the description
back), cut to the specification's 4,000 characters with "…"; ``service_code``/``service_name`` the
category, ``agency_responsible`` the department handling the case, ``expected_datetime`` the due time,
``updated_datetime`` the closing time of a closed case (else the last change). Times are ISO 8601 with
``+08:00``. A key without a value (no due time, no coordinates) is left out, and so is ``media_url``
(cases have no public media address; ``""`` is not a URI). The address is masked unless the role may
export personal data unmasked; reporters never appear. JSON and XML are not spreadsheets, so text is
written exactly as stored (no formula neutralisation). Every export is written to the audit log.

The JSON is GeoReport v2's ``requests.json`` array; the XML its ``<service_requests>`` document, one
``<request>`` element per case with the same keys as child elements.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import IO, Any

from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard.cases.export import PAGE_SIZE, check_unmasked, selected_pages
from dashboard.i18n import current_lang, label, t_plain
from dashboard.io import exports
from dashboard.kernel.privacy import mask_address
from dashboard.kernel.scope import Actor
from models import Case, Category, Department
from models.enums import CaseStatus

FIELDS: tuple[str, ...] = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
"""The keys of a GeoReport v2 service request, in the order the specification lists them."""

CLOSED_STATUSES = frozenset({CaseStatus.closed, CaseStatus.rejected})
DESCRIPTION_LIMIT = 4000
"""Characters of ``description`` the specification allows."""


def open311_status(status: CaseStatus | str) -> str:
    """``closed`` for closed (and merged) or rejected cases, else ``open``."""
    return "closed" if CaseStatus(status) in CLOSED_STATUSES else "open"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the Beijing offset (stored times are naive Asia/Shanghai)."""
    return None if value is None else value.isoformat(timespec="seconds") + "+08:00"


def status_notes(status: CaseStatus | str, duplicate_of: str | None, lang: str) -> str:
    note = label("status", status, lang)
    if duplicate_of:
        note += t_plain("io.open311.duplicate_of", lang, number=duplicate_of)
    return note


def request_description(title: str, description: str | None) -> str:
    """The title and, on the next line, the description (also when they are the same: the import takes
    the first line for the title and the rest for the description), at most :data:`DESCRIPTION_LIMIT`
    characters (the last one "…" when cut; cut text stays the same on the next round trip)."""
    text = f"{title}\n{description}" if description else title
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"


def request_select() -> Select:
    """One row per case with what :func:`request_item` needs, ``Case.id`` first (for paging); the API
    (``dashboard.api.open311``) reads the same rows, so export and API agree."""
    dup = aliased(Case)
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            Category.name_zh,
            Category.name_en,
            Category.code,
            Category.sla_limit,
            Category.calendar,
            Case.title,
            Case.description,
            Department.name,
            Case.reported_at,
            Case.updated_at,
            Case.closed_at,
            Case.due_at,
            Case.address,
            Case.lat,
            Case.lon,
            dup.number,
        )
        .select_from(Case)
        .join(Category, Category.id == Case.category_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(dup, dup.id == Case.duplicate_of_id)
    )


def request_item(row: Any, lang: str, unmasked: bool) -> dict[str, Any]:
    """A row of :func:`request_select` as a GeoReport v2 service request (keys without a value left out)."""
    (
        _id,
        number,
        status,
        name_zh,
        name_en,
        code,
        limit,
        calendar,
        title,
        description,
        dept,
        reported,
        updated,
        closed,
        due,
        address,
        lat,
        lon,
        dup,
    ) = row
    last_change = closed if status == CaseStatus.closed and closed else (updated or reported)
    request = {
        "service_request_id": number,
        "status": open311_status(status),
        "status_notes": status_notes(status, dup, lang),
        "service_name": name_zh if lang == "zh" else name_en,
        "service_code": code,
        "description": request_description(title, description),
        "agency_responsible": dept or "",
        "service_notice": f"{limit:g} {label('calendar', calendar, lang)}",
        "requested_datetime": iso(reported),
        "updated_datetime": iso(last_change),
        "expected_datetime": iso(due),
        "address": address if unmasked else mask_address(address),
        "address_id": "",
        "zipcode": "",
        "lat": lat,
        "long": lon,
    }
    return {k: v for k, v in request.items() if v is not None}


def cases_to_open311(
    session: Session,
    actor: Actor,
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """Service requests of the cases in the actor's scope matching `conditions` (SQL conditions on
    `Case`, e.g. ``queue.conditions(actor, filters, now)``) and, when given, the case `numbers`: one list
    per SQL page, by ascending case id. Not audited: the writers below are (:func:`write_open311`)."""
    check_unmasked(actor, unmasked)
    lang = lang or current_lang()
    for rows in selected_pages(session, actor, request_select(), conditions, numbers, page_size):
        yield [request_item(r, lang, unmasked) for r in rows]


@dataclass(frozen=True)
class RequestFormat:
    """How one export format writes the requests of :func:`write_requests`: what comes before the first,
    each request (given how many came before it), and what closes the document (given how many there
    were); `audit` is the export's format in the audit log."""

    audit: str
    head: bytes
    item: Callable[[dict[str, Any], int], bytes]
    tail: Callable[[int], bytes]


def _json_item(item: dict[str, Any], before: int) -> bytes:
    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return f"{',' if before else ''}\n{text}".encode()


_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
"""What XML text must escape; a carriage return as a reference, or parsers turn it into a line feed."""
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters XML 1.0 cannot hold at all (rows stored before text was cleaned on the way in may have them)."""


_XML_TO_ESCAPE = re.compile("[&<>\r]")
_XML_CHANGED = re.compile("[&<>\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]")
"""Any character :func:`xml_text` changes: most values have none and are written as they are (a page of the
API's requests holds some 17,000 values)."""


def xml_text(value: object) -> str:
    """`value` as XML element text: escaped, without the characters XML 1.0 cannot hold; a number as JSON
    writes it."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)
    raw = str(value)
    if _XML_CHANGED.search(raw) is None:
        return raw
    return _XML_TO_ESCAPE.sub(lambda m: _XML_ESCAPES[m.group()], _XML_ILLEGAL.sub("", raw))


def _xml_item(item: dict[str, Any], before: int) -> bytes:
    fields = "".join(f"<{k}>{xml_text(v)}</{k}>" for k, v in item.items())
    return f"<request>{fields}</request>\n".encode()


JSON = RequestFormat("open311", b"[", _json_item, lambda n: b"\n]\n" if n else b"]\n")
"""GeoReport v2's ``requests.json``: an array, one request a line."""
XML = RequestFormat(
    "open311-xml",
    b'<?xml version="1.0" encoding="utf-8"?>\n<service_requests>\n',
    _xml_item,
    lambda n: b"</service_requests>\n",
)
"""GeoReport v2's ``<service_requests>`` document: one ``<request>`` a line, the keys as child elements."""


def write_requests(
    fmt: RequestFormat,
    session: Session,
    actor: Actor,
    out: IO[bytes],
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
) -> int:
    """Write the service requests of :func:`cases_to_open311` to `out` (UTF-8) in `fmt`, one SQL page at a
    time; audited as an export of the format's name. Returns the number of requests."""
    n = 0
    out.write(fmt.head)
    for chunk in cases_to_open311(session, actor, conditions, numbers, unmasked=unmasked, lang=lang):
        for item in chunk:
            out.write(fmt.item(item, n))
            n += 1
    out.write(fmt.tail(n))
    exports.record_export(session, actor, "cases", n, fmt.audit, unmasked, filters)
    return n


write_open311 = partial(write_requests, JSON)
"""A GeoReport v2 ``requests.json`` array (:func:`write_requests` in :data:`JSON`)."""
write_open311_xml = partial(write_requests, XML)
"""A GeoReport v2 ``<service_requests>`` XML document (:func:`write_requests` in :data:`XML`)."""


def open311_bytes(
    session: Session,
    actor: Actor,
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
) -> bytes:
    """:func:`write_open311` into memory, for a download button (the queue page's export)."""
    buffer = io.BytesIO()
    write_open311(session, actor, buffer, conditions, numbers, unmasked=unmasked, lang=lang, filters=filters)
    return buffer.getvalue()


def services(session: Session, lang: str | None = None) -> list[dict[str, Any]]:
    """The active categories as GeoReport v2 services (``services.json``)."""
    lang = lang or current_lang()
    rows = session.exec(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    return [
        {
            "service_code": c.code,
            "service_name": c.name_zh if lang == "zh" else c.name_en,
            "description": f"{c.sla_limit:g} {label('calendar', c.calendar, lang)}",
            "metadata": False,
            "type": "realtime",
            "keywords": f"{c.name_zh},{c.name_en}",
            "group": "",
        }
        for c in rows
    ]
