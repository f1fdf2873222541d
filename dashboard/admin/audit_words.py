"""The audit log's details and targets in words: what the writers record for machines (JSON such as
``{"changes": {"role": ["operator", "leader"]}}``, ``source=… reason=…`` pairs, a setting's
``key: old → new``) as its reader reads it — each field by its label, enum values by their names, ids by
the name of the community, grid, department or user, yes/no for flags.

A field without a label in the catalogue (``audit_field.*``) shows as it is written, so a writer that adds
one shows up in ``tests/app/test_words.py`` and ``tests/unit/admin/test_audit_words.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.i18n import current_lang, has, t_plain
from dashboard.volunteers.need import basis_label

LIST_SHOWN = 12
"""Items of a list shown before "等 N 项" (a schedule's days, photo ids)."""


@dataclass(frozen=True)
class AuditNames:
    """Names for the ids a detail records, by kind; and the categories by code (a rule's basis)."""

    communities: Mapping[int, str] = field(default_factory=dict)
    grids: Mapping[int, str] = field(default_factory=dict)
    departments: Mapping[int, str] = field(default_factory=dict)
    users: Mapping[int, str] = field(default_factory=dict)
    categories: Mapping[int, str] = field(default_factory=dict)
    category_codes: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def of(self, kind: str) -> Mapping[int, str]:
        return getattr(self, kind)


_IDS = {
    "community_id": "communities",
    "community_ids": "communities",
    "grid_id": "grids",
    "department_id": "departments",
    "handler_department_id": "departments",
    "worker_id": "users",
    "categories": "categories",
}
"""Fields holding ids, and whose names they are."""

_VALUES = {
    "role": "enum.role.{}",
    "calendar": "enum.calendar.{}",
    "response_calendar": "enum.calendar.{}",
    "priority_default": "enum.priority.{}",
    "ageing": "enum.ageing.{}",
    "sources": "enum.source.{}",
    "party_kind": "enum.party_kind.{}",
    "sort": "queue.sort_{}",
    "format": "audit_words.format.{}",
    "lang": "audit_words.lang.{}",
    "op": "audit_words.op.{}",
    "reason": "audit_words.reason.{}",
    "rating": "enum.satisfaction.{}",
    "by": "audit_words.by.{}",
    "status": "audit_words.status.{}",
    "actions": "audit_action.{}",
    "outcome": "audit_outcome.{}",
    "source": "audit.source_{}",
}
"""Fields whose values are codes, and the catalogue key of each value's name."""

_KINDS = {
    "calendar_override_add": "admin.cal_legend_{}",
    "calendar_override_remove": "admin.cal_legend_{}",
    "department_create": "admin.dept_kind.{}",
    "department_update": "admin.dept_kind.{}",
    "photo_add": "photos.kind.{}",
    "photo_remove": "photos.kind.{}",
    "export": "report.kind_{}",
}
"""What ``kind`` means in each action's detail."""

_CHANGES_AT_TOP = frozenset({"api_client_update"})
"""Actions whose detail is ``{field: [before, after]}`` itself (others nest it under ``changes``)."""

_PUNCTUATION = {"zh": ("：", "；", "，", "、", "（{}）"), "en": (": ", "; ", ", ", ", ", " ({})")}
"""(after a label, between parts, inside brackets, between list items, brackets) in each language."""
_PAIRS = re.compile(r"^(?:\w+=\S*(?:;\s*|\s+|$))+$")
_PAIR = re.compile(r"(\w+)=(\S*?)(?:;|\s|$)")
_SETTING = re.compile(r"^([\w.]+): (.*) → (.*?)( \(default\))?$", re.S)
_RETENTION = re.compile(r"^cases (\d+): names (\d+), phones (\d+), addresses (\d+)$")


def detail_words(action: str, detail: str, lang: str | None = None, names: AuditNames | None = None) -> str:
    """An audit row's detail as its reader reads it (see the module docstring); empty stays empty."""
    raw = str(detail or "").strip()
    if not raw:
        return ""
    names = names or AuditNames()
    if raw[0] in "[{":
        try:
            value = json.loads(raw)
        except ValueError:
            return raw  # cut short (a long list of rule changes is stored cut): as written
        return _value(action, "", value, lang, names, top=True)
    if action == "setting_update" and (m := _SETTING.match(raw)):
        key, old, new, default = m.groups()
        name = t_plain(f"settings.{key}", lang) if has(f"settings.{key}") else key
        after = t_plain("audit_words.default", lang, value=new) if default else new
        return f"{name}{_marks(lang)[0]}{old} → {after}"
    if m := _RETENTION.match(raw):
        cases, names_n, phones, addresses = m.groups()
        return t_plain(
            "audit_words.retention", lang, cases=cases, names=names_n, phones=phones, addresses=addresses
        )
    if _PAIRS.match(raw):
        pairs = _PAIR.findall(raw)
        return _marks(lang)[1].join(_part(action, k, _scalar(k, v), lang, names) for k, v in pairs)
    key = f"audit_words.text.{raw}"
    return t_plain(key, lang) if has(key) else raw


def target_words(action: str, target: str, lang: str | None = None) -> str:
    """An audit row's target as its reader reads it: a retention run's cut-off, an import's kind and
    file, an alert's kind; other targets (user names, case numbers, codes) as they are."""
    if action == "retention_mask" and target.startswith("closed before "):
        return t_plain("audit_words.closed_before", lang, day=target.removeprefix("closed before "))
    if m := re.match(r"^(volunteers?|service_totals):(.+)$", target):
        kind, rest = m.groups()
        if kind == "service_totals":
            rest = _word("by", rest, lang)
        return f"{t_plain(f'audit_words.target.{kind}', lang)} {rest}"
    if action in ("export", "need_rules_change") and has(f"audit_words.target.{target}"):  # cases, report …
        return t_plain(f"audit_words.target.{target}", lang)
    if action == "import" and ":" in target:
        kind, name = target.split(":", 1)
        key = f"io.kind.{kind}"
        return f"{t_plain(key, lang)}{_marks(lang)[0]}{name}" if has(key) else target
    if m := re.match(r"^alert:(\d+) (\w+)/(.*)$", target):
        number, kind, scope = m.groups()
        key = f"warning.kind_label.{kind}"
        return t_plain(
            "audit_words.alert", lang, id=number, kind=t_plain(key, lang) if has(key) else kind, scope=scope
        )
    return target


def _marks(lang: str | None) -> tuple[str, str, str, str, str]:
    return _PUNCTUATION.get(lang or current_lang(), _PUNCTUATION["zh"])


def _scalar(key: str, text: str) -> object:
    """A ``key=value`` pair's value as JSON would hold it (numbers and True/False typed)."""
    if text in ("True", "False"):
        return text == "True"
    return int(text) if text.isdigit() and key not in ("source", "prefix") else text


def _label(action: str, key: str, lang: str | None) -> str:
    for candidate in (f"audit_field.{action}.{key}", f"audit_field.{key}", f"enum.population.{key}"):
        if has(candidate):
            return t_plain(candidate, lang)
    return t_plain(f"warning.kind_label.{key}", lang) if has(f"warning.kind_label.{key}") else key


def _part(action: str, key: str, value: object, lang: str | None, names: AuditNames) -> str:
    return f"{_label(action, key, lang)}{_marks(lang)[0]}{_value(action, key, value, lang, names)}"


def _value(
    action: str, key: str, value: Any, lang: str | None, names: AuditNames, *, top: bool = False
) -> str:
    """A detail's value in words: a mapping as its parts, a list item by item, a scalar by its field."""
    colon, between, inside, items, brackets = _marks(lang)
    if isinstance(value, Mapping):
        if key == "grid_codes":  # a community's new code renames its grids: old → new
            return items.join(f"{old} → {new}" for old, new in value.items())
        if key == "changes" or (top and action in _CHANGES_AT_TOP):
            return between.join(_change(action, k, v, lang, names) for k, v in value.items())
        if key == "" and "op" in value:  # one rule change: 新增 / 修改 / 删除, then the rule
            rest = {k: v for k, v in value.items() if k not in ("op", "id")}
            return f"{_word('op', value['op'], lang)}{colon}{_value(action, 'rule', rest, lang, names)}"
        parts = [
            _value(action, k, v, lang, names) if k == "changes" else _part(action, k, v, lang, names)
            for k, v in value.items()
            if v not in (None, "", [], {})
        ]
        text = between.join(parts) if top else inside.join(parts)
        return text if top or key == "rule" or not text else brackets.format(text)
    if isinstance(value, list):
        if top:
            return between.join(_value(action, "", v, lang, names) for v in value)
        shown = [_value(action, key, v, lang, names) for v in value[:LIST_SHOWN]]
        more = t_plain("audit_words.more", lang, n=len(value)) if len(value) > LIST_SHOWN else ""
        return items.join(shown) + more if shown else t_plain("audit_words.none", lang)
    return _scalar_words(action, key, value, lang, names)


def _change(action: str, key: str, value: Any, lang: str | None, names: AuditNames) -> str:
    if isinstance(value, list) and len(value) == 2:
        before, after = (_value(action, key, v, lang, names) for v in value)
        return f"{_label(action, key, lang)}{_marks(lang)[0]}{before} → {after}"
    return _part(action, key, value, lang, names)


def _scalar_words(action: str, key: str, value: Any, lang: str | None, names: AuditNames) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return t_plain("audit_words.yes" if value else "audit_words.no", lang)
    if key in _IDS and isinstance(value, int):
        return names.of(_IDS[key]).get(value) or t_plain("audit_words.id", lang, id=value)
    if key == "basis":
        return basis_label(str(value), names.category_codes, lang)
    if key == "view":
        return _word("view", value, lang)
    template = _KINDS.get(action) if key == "kind" else _VALUES.get(key)
    if template is not None:
        word = template.format(value)
        return t_plain(word, lang) if has(word) else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _word(kind: str, value: object, lang: str | None) -> str:
    """A queue view (its own views, else a status) or a rule change's kind, by name."""
    for key in (f"audit_words.{kind}.{value}", f"queue.view_{value}", f"enum.status.{value}"):
        if has(key):
            return t_plain(key, lang)
    return str(value)
