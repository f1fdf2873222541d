"""JSON and XML answers of the Open311 API, and its error list.

GeoReport v2 defines XML and maps it to JSON by the "Spark convention": an XML element holding a list is a
JSON array, the list's items are its child elements named in the singular (``<services><service>``), text
is text, ``true``/``false`` are booleans. :func:`render` writes either form from the same JSON-shaped value,
so the two always hold the same data. Request items are written exactly as the Open311 export writes them
(:func:`dashboard.io.open311.xml_text`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from dashboard.i18n import t_plain
from dashboard.io.open311 import xml_text
from dashboard.kernel.errors import DomainError, NotFound, NotPermitted

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
"""The element name of one item of each list (Spark convention), by the list's own element name."""


def _xml_value(tag: str, value: Any, out: list[str]) -> None:
    """Append `value` as the element `tag` to `out`. The values are the handlers' own dicts and lists
    (concrete types: an abstract Mapping/Sequence check per value costs more than the rest of the work)."""
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        for key, item in value.items():
            _xml_value(key, item, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list | tuple):
        item_tag = ITEM_TAGS[tag]
        out.append(f"<{tag}>")
        for item in value:
            _xml_value(item_tag, item, out)
        out.append(f"</{tag}>")
    elif value is None:
        out.append(f"<{tag}/>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    else:
        out.append(f"<{tag}>{xml_text(value)}</{tag}>")


def to_xml(root: str, value: Any) -> bytes:
    """`value` as the XML document whose root element is `root` (a list's items named by :data:`ITEM_TAGS`)."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n']
    _xml_value(root, value, out)
    out.append("\n")
    return "".join(out).encode("utf-8")


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(value: Any, fmt: str, root: str, status: int = 200) -> Response:
    """The answer in `fmt` ("json" or "xml"); `root` names the XML document's root element."""
    body = to_json(value) if fmt == "json" else to_xml(root, value)
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def error_list(status: int, descriptions: Sequence[str]) -> list[dict[str, Any]]:
    """The specification's error list: one ``{code, description}`` per problem, the HTTP status as code."""
    return [{"code": status, "description": text} for text in descriptions]


def errors(status: int, descriptions: Sequence[str], fmt: str = "json") -> Response:
    """An error answer (400, 403, 404, 429 …) in `fmt`, as the specification's ``<errors>`` list."""
    return render(error_list(status, descriptions), fmt if fmt in FORMATS else "json", "errors", status)


ERROR_STATUS: tuple[tuple[type[DomainError], int], ...] = ((NotFound, 404), (NotPermitted, 403))
"""The HTTP status of a refusal: 404 for what does not exist (in the caller's scope), 403 for what the
client may not do, 400 for everything else (input to correct, a busy database: nothing was saved)."""

PARAMETERS = {
    "title": "description",
    "description": "description",
    "address": "address_string",
    "reporter_name": "first_name/last_name",
    "reporter_phone": "phone",
    "category": "service_code",
    "grid": "lat/long",
    "location": "lat/long",
    "building": "address_id",
    "priority": "attribute[priority]",
}
"""The POST parameter behind each field the intake names in a problem."""


def describe(err: DomainError, lang: str) -> list[str]:
    """What the caller should know of a refusal: one text per problem, else the refusal's own text."""
    texts = [f"{PARAMETERS.get(f, f)}: {t_plain(key, lang)}" for f, key in err.problems.items()]
    texts += [t_plain(p.key, lang, **p.values) for p in err.details]
    return texts or [t_plain(err.key, lang, **err.values)]


def status_of(err: DomainError) -> int:
    return next((status for kind, status in ERROR_STATUS if isinstance(err, kind)), 400)


def refusal(err: DomainError, fmt: str, lang: str) -> Response:
    """A :class:`DomainError` as the specification's error list with its HTTP status."""
    return errors(status_of(err), describe(err, lang), fmt)
