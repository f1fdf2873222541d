"""Every UI text key the admin pages and services use exists in Chinese and English."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import chinese_calendar
import pytest

from dashboard.admin import settings
from dashboard.i18n import _flatten, catalogue
from models.enums import CalendarOverrideKind, DepartmentKind

ROOT = Path(__file__).resolve().parents[3]
FILES = [
    *(ROOT / "pages").glob("admin_[cdgs]*.py"),
    ROOT / "dashboard/admin/calendar.py",
    ROOT / "dashboard/admin/categories.py",
    ROOT / "dashboard/admin/changes.py",
    ROOT / "dashboard/admin/departments.py",
    ROOT / "dashboard/admin/grids.py",
    ROOT / "dashboard/admin/population.py",
    ROOT / "dashboard/admin/settings.py",
    ROOT / "dashboard/reporting/display_links.py",
]
LITERAL = re.compile(
    r"""(?:\bt|Invalid|NotFound|NotPermitted|Conflict)\(\s*["']((?:admin|settings|app)\.[a-z0-9_.]*[a-z0-9])["']"""
)


def _own_keys(lang: str) -> set[str]:
    with (ROOT / f"dashboard/i18n/{lang}/admin.toml").open("rb") as fh:
        out: dict[str, str] = {}
        _flatten("", tomllib.load(fh), out)
    return set(out)


def test_same_keys_in_both_languages() -> None:
    assert _own_keys("zh") == _own_keys("en")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in FILES:
        keys |= set(LITERAL.findall(path.read_text(encoding="utf-8")))
    keys |= {
        f"admin.field.{f}"
        for f in (
            "name",
            "name_zh",
            "name_en",
            "sla_limit",
            "calendar",
            "response_limit",
            "response_calendar",
            "contact_name",
            "note",
            "code",
        )
    }
    keys |= {f"admin.dept_kind.{k}" for k in DepartmentKind}
    keys |= {f"admin.holiday.{h.name}" for h in chinese_calendar.Holiday}
    keys |= {f"admin.weekday_{i}" for i in range(7)}
    keys |= {
        f"admin.cal_legend_{k}" for k in ("holiday", "swapped", "weekend", "work", *CalendarOverrideKind)
    }
    keys |= {f"admin.cal_mark_{k}" for k in ("holiday", "swapped", *CalendarOverrideKind)}
    keys |= {f"admin.err_override_redundant_{k}" for k in CalendarOverrideKind}
    keys |= {f"settings.{k}" for k in settings.SPECS}
    return keys


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_used_key_exists(lang: str) -> None:
    keys = _used_keys()
    assert len(keys) > 150
    missing = sorted(k for k in keys if k not in catalogue(lang))
    assert not missing, missing
