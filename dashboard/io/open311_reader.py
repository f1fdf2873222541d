"""Open311 GeoReport v2 request files (``requests.json`` or XML) read as a stream of requests, their keys
in canonical spelling.

JSON arrays are read one element at a time (``JSONDecoder.raw_decode`` over a growing buffer), XML with
``XMLPullParser``; a document that ends early raises :class:`FileProblem` naming the element. XML safety:
the standard library's expat never fetches external entities or DTDs; to rule out entity expansion
attacks as well, any document declaring a DOCTYPE or ENTITY is refused before parsing (Open311 feeds have
none), and files are size-limited by the caller (``uploads.check_upload`` or the CLI).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any
from xml.etree import ElementTree

from dashboard.io.headers import norm_key
from dashboard.io.sources import FileProblem, RawRow, Source
from dashboard.io.values import Verbatim, text

OPEN311_KEYS: dict[str, tuple[str, ...]] = {
    "number": ("service_request_id", "servicerequestid", "request_id", "requestid", "id"),
    "status": ("status",),
    "status_notes": ("status_notes", "statusnote", "status_note"),
    "service_code": ("service_code",),
    "service_name": ("service_name",),
    "description": ("description", "descr"),
    "agency": ("agency_responsible", "agency"),
    "service_notice": ("service_notice",),
    "reported_at": ("requested_datetime", "requesteddate", "requested_date", "requested_at", "requested"),
    "updated_at": ("updated_datetime", "updateddate", "updated_date", "updated_at", "updated"),
    "due_at": ("expected_datetime", "expecteddate", "expected_date", "expected_at", "expected"),
    "address": ("address", "address_string"),
    "address_id": ("address_id",),
    "zipcode": ("zipcode", "zip_code", "zip", "postcode", "postal_code"),
    "lat": ("lat", "latitude"),
    "lon": ("long", "lon", "lng", "longitude"),
    "media_url": ("media_url",),
}
"""Canonical key → spellings seen in Open311 feeds (matched after :func:`norm_key`), best first."""

_OPEN311_LOOKUP: dict[str, tuple[str, int]] = {
    norm_key(name): (canon, rank) for canon, names in OPEN311_KEYS.items() for rank, name in enumerate(names)
}


def normalise_open311(item: Mapping[str, Any]) -> dict[str, Any]:
    """An Open311 request with its keys in canonical spelling; unknown keys dropped, the best-ranked
    spelling kept when a feed has two (``service_request_id`` over ``id``). Text values are
    :class:`Verbatim`: the format holds text exactly."""
    out: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    for key, value in item.items():
        hit = _OPEN311_LOOKUP.get(norm_key(key))
        if hit is None:
            continue
        canon, rank = hit
        if canon not in ranks or rank < ranks[canon]:
            out[canon], ranks[canon] = Verbatim(value) if isinstance(value, str) else value, rank
    return out


def _read_text_chunks(stream: IO[bytes], size: int = 1 << 20) -> Iterator[str]:
    head = stream.read(4)
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8[:3]) else "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)()
    data = head
    lines = 1  # the line the next chunk starts on
    while True:
        try:
            piece = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = lines + data[: max(exc.start, 0)].count(b"\n")
            raise FileProblem("io.err.not_utf8", row=line, line=line) from exc
        lines += data.count(b"\n")
        if piece:
            yield piece
        if not data:
            return
        data = stream.read(size)


class _JsonText:
    """A JSON document's text read chunk by chunk, with the position reached (what lies before it is
    dropped when the next chunk comes in)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._chunks = _read_text_chunks(stream)
        self._eof = False
        self.buf = ""
        self.pos = 0

    def more(self) -> bool:
        """Append the next chunk; False at the end of the file."""
        if self._eof:
            return False
        try:
            piece = next(self._chunks)
        except StopIteration:
            self._eof = True
            return False
        self.buf = self.buf[self.pos :] + piece
        self.pos = 0
        return True

    def skip_blanks(self) -> bool:
        """Move past white space; False when the file ends first."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return True
            if not self.more():
                return False

    @property
    def char(self) -> str:
        return self.buf[self.pos]

    def rest(self) -> str:
        """Everything from the position to the end of the file."""
        while self.more():
            pass
        return self.buf[self.pos :]

    def at_element(self, index: int) -> bool:
        """Move to the start of the array element after element `index` (0: the first); False at the
        closing bracket."""
        if not self.skip_blanks():
            raise FileProblem("io.err.json_truncated", row=index + 1, detail="missing ]")
        if self.char == "]":
            return False
        if index > 0:
            if self.char != ",":
                raise FileProblem("io.err.json_truncated", row=index + 1, detail=f"unexpected {self.char!r}")
            self.pos += 1
            if not self.skip_blanks():
                raise FileProblem("io.err.json_truncated", row=index + 1, detail="missing ]")
        return True

    def value(self, decoder: json.JSONDecoder, row: int) -> Any:
        """The JSON value at the position, reading more of the file until it is complete."""
        while True:
            try:
                value, self.pos = decoder.raw_decode(self.buf, self.pos)
                return value
            except json.JSONDecodeError as exc:
                if not self.more():
                    raise FileProblem("io.err.json_truncated", row=row, detail=str(exc)) from exc


class _Request(dict[str, Any]):
    """A request (JSON object, XML element) with the keys it has more than once (the last value is used,
    as by every JSON reader; real feeds have had a second ``updated_datetime`` holding ``true``)."""

    duplicated: dict[str, list[Any]]


def _request(pairs: list[tuple[str, Any]]) -> _Request:
    out = _Request(pairs)
    out.duplicated = {}
    if len(out) < len(pairs):
        for key, value in pairs:
            out.duplicated.setdefault(key, []).append(value)
        out.duplicated = {k: v for k, v in out.duplicated.items() if len(v) > 1}
    return out


def _duplicate_warnings(item: Mapping[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """A warning for each key the request has more than once, naming its values."""
    return [
        (
            key,
            text(values[-1]),
            "io.warn.duplicate_key",
            {"n": len(values), "values": " | ".join(map(text, values))},
        )
        for key, values in getattr(item, "duplicated", {}).items()
    ]


def iter_json_items(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(1-based index, element) of a JSON array read incrementally; an object holding the array under
    ``service_requests``/``requests``/``data`` (or a single request object) is read whole.

    A document that ends early raises :class:`FileProblem` ``io.err.json_truncated`` naming the element.
    """
    doc = _JsonText(stream)
    if not doc.skip_blanks():
        raise FileProblem("io.err.json_empty")
    if doc.char != "[":
        try:
            whole = json.loads(doc.rest(), object_pairs_hook=_request)
        except json.JSONDecodeError as exc:
            raise FileProblem("io.err.json_truncated", row=1, detail=str(exc)) from exc
        yield from enumerate(_unwrap(whole), start=1)
        return
    doc.pos += 1
    decoder = json.JSONDecoder(object_pairs_hook=_request)
    index = 0
    while doc.at_element(index):
        index += 1
        yield index, doc.value(decoder, index)


def _unwrap(whole: Any) -> list[Any]:
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        for key in ("service_requests", "servicerequests", "requests", "request", "data", "items", "results"):
            for k, v in whole.items():
                if norm_key(k) == norm_key(key):
                    return v if isinstance(v, list) else [v]
        return [whole]
    raise FileProblem("io.err.json_shape")


_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def iter_xml_items(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based index, {tag: text}) of each ``<request>`` element of an Open311 XML document, streamed.

    Documents with a DOCTYPE or ENTITY declaration are refused (``io.err.xml_dtd``).
    """
    parser = ElementTree.XMLPullParser(events=("end",))
    index = 0
    tail = b""
    while True:
        data = stream.read(1 << 20)
        if _FORBIDDEN_XML.search(tail + data):
            raise FileProblem("io.err.xml_dtd")
        tail = data[-16:]
        try:
            if data:
                parser.feed(data)
            else:
                parser.close()
        except ElementTree.ParseError as exc:
            raise FileProblem("io.err.xml_broken", row=index + 1, detail=str(exc)) from exc
        for _event, elem in parser.read_events():
            tag = elem.tag.rsplit("}", 1)[-1].lower()
            if tag == "request":
                index += 1
                yield index, _request([(child.tag.rsplit("}", 1)[-1], child.text or "") for child in elem])
                elem.clear()
        if not data:
            return


def iter_open311(source: Source) -> Iterator[RawRow]:
    """The requests of an Open311 GeoReport v2 file (JSON or XML), keys normalised (:func:`normalise_open311`)."""
    with source.open() as stream:
        items = iter_xml_items(stream) if source.suffix == ".xml" else iter_json_items(stream)
        for index, item in items:
            if not isinstance(item, Mapping):
                yield RawRow(index, {}, "io.err.not_an_object")
                continue
            yield RawRow(index, normalise_open311(item), warnings=_duplicate_warnings(item))


def preview_open311(source: Source, n: int = 20) -> list[dict[str, str]]:
    """The first `n` requests of an Open311 file as text, keys normalised."""
    rows: list[dict[str, str]] = []
    for raw in iter_open311(source):
        rows.append({k: text(v) for k, v in raw.values.items()})
        if len(rows) >= n:
            break
    return rows
