"""Masking of personal data (DESIGN §9) and neutralising spreadsheet formula injection."""

from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


_BUILDING = re.compile(r"^(.*?(?:号楼|栋|幢|号院|院|组|小区|苑|园|村|号))")


def mask_address(address: str | None) -> str:
    """Keep the address down to the building; hide unit and room (…3号楼2单元301 → …3号楼***)."""
    if not address:
        return ""
    m = _BUILDING.match(address)
    if m and len(m.group(1)) < len(address):
        return m.group(1) + "***"
    return address if len(address) <= 6 else address[:6] + "***"


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe (CSV/Excel injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
