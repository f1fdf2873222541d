"""Masking of personal data (DESIGN §9), the audited "show" action, and neutralising formula injection.

Pages show personal data masked. A role the policy allows "pii.reveal.<kind>" may press "show" for one
record: the page calls :func:`reveal`, which checks the role and writes a ``view_pii`` row to `audit_log`
(refusals too).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import Session

from dashboard.kernel import audit
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor

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


_BUILDING = re.compile(r"\d+\s*(?:号楼|栋|幢|号院|座|号)|[东西南北中]?院|\d+组")


def mask_address(address: str | None) -> str:
    """Keep the address down to the building; hide unit and room (…3号楼2单元301 → …3号楼***)."""
    if not address:
        return ""
    m = _BUILDING.search(address)
    if m and m.end() < len(address):
        return address[: m.end()] + "***"
    if m:
        return address
    return address if len(address) <= 6 else address[:6] + "***"


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


def reveal(session: Session, actor: Actor, kind: str, target_label: str) -> bool:
    """The explicit "show personal data" action: True when the role allows it; always audited as view_pii.

    `target_label` names the record (case number, volunteer id), never the personal data itself.
    The row joins the caller's transaction, so commit the session (``db_session()`` does).
    """
    allowed = can_reveal(actor, kind)
    audit.record(session, actor, "view_pii", target_label, "ok" if allowed else "denied", detail=kind)
    return allowed
