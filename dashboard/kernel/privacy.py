"""Masking of personal data (DESIGN §9), the audited "show" action, and neutralising formula injection.

Pages show personal data masked. A role the policy allows "pii.reveal.<kind>" may press "show" for one
record: the page calls :func:`reveal`, which checks the role and writes a ``view_pii`` row to `audit_log`
(refusals too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import ColumnElement, FunctionElement, String, and_, case, func, literal
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session

from dashboard.kernel import audit
from dashboard.kernel.policy import HasRole, may
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import mobile_digits

# Spreadsheets run a cell as a formula when it starts with one of these (full-width forms: WPS and Excel with
# a Chinese input method); leading blanks are skipped by some importers, so they do not protect.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def mask_name(name: str | None) -> str:
    """张三 → 张*, 张小明 → 张*明, 欧阳小明 → 欧**明; other scripts keep the first and last letter."""
    if not name:
        return ""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678; landlines keep the last four digits."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "****"


def mask_id_number(value: str | None) -> str:
    """ID numbers keep the first 3 and last 2 characters (320102**********12)."""
    if not value:
        return ""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


_DIGIT = "[0123456789０１２３４５６７８９]"
BUILDING_PATTERN = f"{_DIGIT}+[ \u3000]*(?:号楼|栋|幢|号院|座|号)|[东西南北中]?院|{_DIGIT}+组"
"""Where an address reaches its building (3号楼, 5栋, 东院, 11组). Written with listed characters only, so
that Python's ``re`` and PostgreSQL's regular expressions read it alike (see :class:`address_shown_sql`)."""
_BUILDING = re.compile(BUILDING_PATTERN)
ADDRESS_SHOWN_FALLBACK = 6
"""Characters shown of an address in which no building is found."""


def address_shown(address: str | None) -> str:
    """The part of an address its mask shows: up to the end of the first building (…3号楼), else the first
    six characters."""
    if not address:
        return ""
    m = _BUILDING.search(address)
    return address[: m.end()] if m else address[:ADDRESS_SHOWN_FALLBACK]


def mask_address(address: str | None) -> str:
    """Keep the address down to the building; hide unit and room (…3号楼2单元301 → …3号楼***)."""
    shown = address_shown(address)
    return shown + "***" if len(shown) < len(address or "") else shown


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe (CSV/Excel injection)."""
    if isinstance(value, str) and value.lstrip(" \u3000").startswith(_FORMULA_START):
        return "'" + value
    return value


MASKERS: dict[str, Callable[[str | None], str]] = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
}
"""Masking function per kind of personal data (the `pii_columns` values of exports)."""


def can_reveal(actor: Actor, kind: str) -> bool:
    """Whether to offer the "show" action to this actor for records of `kind`: "case" (the reporter's
    name, phone and address) or "volunteer" (name and phone)."""
    return may(actor, f"pii.reveal.{kind}")


def sees_exact_location(actor: Actor) -> bool:
    """Whether the actor sees where a case photo was taken (its EXIF GPS point, which may be a reporter's
    doorstep): the roles that record cases on the spot or triage them ("case.intake"), not the read-only
    leader, departments or volunteer station."""
    return may(actor, "case.intake")


def reveal(session: Session, actor: Actor, kind: str, target_label: str) -> bool:
    """The explicit "show personal data" action: True when the role allows it; always audited as view_pii.

    `target_label` names the record (case number, volunteer id), never the personal data itself.
    The row joins the caller's transaction, so commit the session (``db_session()`` does).
    """
    allowed = can_reveal(actor, kind)
    audit.record(session, actor, "view_pii", target_label, "ok" if allowed else "denied", detail=kind)
    return allowed


# ---------------------------------------------------------------- searching masked fields

SearchMode = Literal["substring", "exact"]


def searchable(who: HasRole, kind: str) -> SearchMode:
    """How a search may match the personal fields of `kind` records for a role: a case's reporter name,
    phone and address ("case"), a volunteer's name and phone ("volunteer").

    "substring" for a role that may reveal them ("pii.reveal.<kind>"); otherwise "exact": a role searches only
    what it sees, so a masked field matches only as a whole value (the whole name, the whole phone number)
    and an address only in the part its mask shows, never in the hidden part.
    """
    return "substring" if may(who, f"pii.reveal.{kind}") else "exact"


def name_matches(column: Any, text: str, mode: SearchMode) -> ColumnElement[bool]:
    """The condition that a name column matches the search `text`: a part of it, or the whole name."""
    text = text.strip()
    return column.contains(text, autoescape=True) if mode == "substring" else column == text


_PHONE_TEXT = re.compile(r"[0-9]+")


def phone_matches(column: Any, text: str, mode: SearchMode) -> ColumnElement[bool] | None:
    """The condition that a phone column (stored as :func:`~dashboard.kernel.text.mobile_digits`) matches
    `text`, None when `text` is no phone number: some of its digits, or the whole number."""
    digits = mobile_digits(text)
    if not _PHONE_TEXT.fullmatch(digits):
        return None
    return column.contains(digits, autoescape=True) if mode == "substring" else column == digits


def address_matches(column: Any, text: str, mode: SearchMode) -> ColumnElement[bool]:
    """The condition that an address column contains `text` (ignoring case): anywhere, or only inside the
    part its mask shows (:func:`address_shown`)."""
    text = text.strip()
    anywhere = column.icontains(text, autoescape=True)
    if mode == "substring":
        return anywhere
    return and_(anywhere, address_shown_sql(column).icontains(text, autoescape=True))


class address_shown_sql(FunctionElement):
    """:func:`address_shown` in SQL. SQLite calls the Python function itself (registered on every connection
    by ``dashboard.db``); PostgreSQL takes :data:`BUILDING_PATTERN`'s leftmost match. PostgreSQL picks the
    longest match there and Python the first alternative, which for this pattern (号楼 and 号院 listed before
    号) is the same (tests/unit/kernel/test_security_search.py compares the two on every address)."""

    type = String()
    inherit_cache = True
    name = "address_shown"


@compiles(address_shown_sql, "sqlite")
def _address_shown_sqlite(element: address_shown_sql, compiler: Any, **kw: Any) -> str:
    return f"address_shown({compiler.process(element.clauses, **kw)})"


@compiles(address_shown_sql)
def _address_shown_postgresql(element: address_shown_sql, compiler: Any, **kw: Any) -> str:
    address = next(iter(element.clauses))
    building = func.substring(address, literal(f"({BUILDING_PATTERN})"))
    end = func.strpos(address, building) + func.char_length(building) - 1
    shown = case(
        (building.is_(None), func.left(address, ADDRESS_SHOWN_FALLBACK)), else_=func.left(address, end)
    )
    return compiler.process(shown, **kw)
