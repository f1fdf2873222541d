"""Categories as Open311 services (``GET services``), their service definitions (``GET services/{code}``)
and the reading of a POST's ``attribute[code]`` values.

A service is an active category: its code, its name, a description saying its time limit and who handles
it, the handling department as its group. Most categories need nothing beyond the standard fields; those
that do have attributes, listed once in :data:`ATTRIBUTES` (their texts in the i18n ``open311.attribute.*``
keys), and only they have ``metadata`` true. An attribute's answer goes where the intake keeps it: the
priority and the upper level's number into the case's own fields, the rest as a labelled line of the
case description (what the handler reads).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from dashboard.i18n import t_plain
from dashboard.kernel.errors import Invalid, NotFound, Problem
from dashboard.kernel.text import clean_text
from models import Category, Department
from models.enums import Priority


@dataclass(frozen=True)
class Attribute:
    """One attribute of a service definition. `target` is where its answer goes: ``"priority"`` and
    ``"external_id"`` (fields of the case), ``"description"`` (a line of the description)."""

    code: str
    datatype: str  # string, number, text, singlevaluelist (the specification's datatypes we use)
    required: bool
    values: tuple[str, ...] = ()
    target: str = "description"
    max_length: int = 64


_PRIORITY = Attribute(
    "priority",
    "singlevaluelist",
    False,
    (Priority.emergency, Priority.urgent, Priority.general),
    target="priority",
)

ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "SAF": (
        Attribute(
            "hazard", "singlevaluelist", True, ("gas", "electric", "fire_access", "structure", "other")
        ),
        _PRIORITY,
    ),
    "SEC": (_PRIORITY,),
    "DIS": (Attribute("parties", "number", False),),
    "ELD": (Attribute("elder", "singlevaluelist", False, ("alone", "empty_nest", "disabled", "other")),),
    "ADM": (Attribute("external_id", "string", True, target="external_id"),),
}
"""The attributes of the categories that need more than the standard fields, by category code, in order."""

PARTIES_MAX = 100_000


def _limit_text(category: Category, lang: str) -> str:
    return f"{category.sla_limit:g} {t_plain(f'enum.calendar.{category.calendar}', lang)}"


def _description(category: Category, department: str | None, lang: str) -> str:
    name = category.name_zh if lang == "zh" else category.name_en
    if department:
        key = "open311.service_description"
        return t_plain(key, lang, name=name, limit=_limit_text(category, lang), department=department)
    return t_plain("open311.service_description_plain", lang, name=name, limit=_limit_text(category, lang))


def services(session: Session, lang: str) -> list[dict[str, Any]]:
    """The active categories as GeoReport v2 services, by code."""
    rows = session.exec(
        select(Category, Department.name)
        .outerjoin(Department, Department.id == Category.department_id)
        .where(Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    return [
        {
            "service_code": c.code,
            "service_name": c.name_zh if lang == "zh" else c.name_en,
            "description": _description(c, dept, lang),
            "metadata": c.code in ATTRIBUTES,
            "type": "realtime",
            "keywords": f"{c.name_zh},{c.name_en}",
            "group": dept or "",
        }
        for c, dept in rows
    ]


def active_category(session: Session, code: str) -> Category:
    """The active category of a service code; :class:`NotFound` for any other code."""
    category = session.exec(select(Category).where(Category.code == code, Category.active.is_(True))).first()
    if category is None:
        raise NotFound("open311.error.no_service", code=code)
    return category


def _attribute_json(attribute: Attribute, order: int, lang: str) -> dict[str, Any]:
    key = f"open311.attribute.{attribute.code}"
    item: dict[str, Any] = {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": t_plain(f"{key}.datatype_description", lang),
        "order": order,
        "description": t_plain(f"{key}.description", lang),
    }
    if attribute.values:
        item["values"] = [{"key": v, "name": value_name(attribute, v, lang)} for v in attribute.values]
    return item


def value_name(attribute: Attribute, value: str, lang: str) -> str:
    if attribute.target == "priority":
        return t_plain(f"enum.priority.{value}", lang)
    return t_plain(f"open311.attribute.{attribute.code}.values.{value}", lang)


def definition(session: Session, code: str, lang: str) -> dict[str, Any]:
    """The service definition of `code` (:class:`NotFound` unless it is an active category's)."""
    category = active_category(session, code)
    attributes = ATTRIBUTES.get(category.code, ())
    return {
        "service_code": category.code,
        "attributes": [_attribute_json(a, i + 1, lang) for i, a in enumerate(attributes)],
    }


# ---------------------------------------------------------------- answers posted as attribute[code]


@dataclass
class Answers:
    """What a POST's attributes say, sorted by where it goes."""

    priority: str | None = None
    external_id: str | None = None
    lines: list[str] = field(default_factory=list)


def attribute_code(name: str) -> str | None:
    """``attribute[hazard]`` (or ``attribute[hazard][]``) → ``hazard``; None for another parameter."""
    if not name.startswith("attribute[") or "]" not in name:
        return None
    code, _, rest = name[len("attribute[") :].partition("]")
    return code if rest in ("", "[]") else None


def _problem(code: str, key: str, lang: str, **values: object) -> Problem:
    reason = t_plain(key, lang, **values)
    return Problem("open311.error.bad_param", {"name": f"attribute[{code}]", "reason": reason})


def _answer(attribute: Attribute, raw: str, lang: str) -> tuple[str | None, Problem | None]:
    """The value to keep for one answer (a list value's key, a number as typed), or the problem with it."""
    value = clean_text(raw).strip()
    if attribute.values:
        return (
            (value, None)
            if value in attribute.values
            else (None, _problem(attribute.code, "open311.error.choice", lang))
        )
    if attribute.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and 0 <= number <= PARTIES_MAX):
            return None, _problem(attribute.code, "open311.error.number_range", lang, high=PARTIES_MAX)
        return f"{number:g}", None
    if len(value) > attribute.max_length:
        return None, _problem(attribute.code, "errors.too_long", lang)
    return value, None


def read_answers(category: Category, posted: Iterable[tuple[str, str]], lang: str) -> Answers:
    """The attributes of a POST for `category`, checked against its definition: unknown codes, missing
    required answers, values not in the list, bad numbers raise :class:`Invalid` naming each."""
    defined = {a.code: a for a in ATTRIBUTES.get(category.code, ())}
    given: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in posted:
        code = attribute_code(name)
        if code is None:
            continue
        if code not in defined:
            problems.append(_problem(code, "open311.error.unknown_attribute", lang, service=category.code))
        elif raw.strip():
            given.setdefault(code, raw)
    answers = Answers()
    for attribute in defined.values():
        raw = given.get(attribute.code)
        if raw is None:
            if attribute.required:
                problems.append(_problem(attribute.code, "errors.required", lang))
            continue
        value, problem = _answer(attribute, raw, lang)
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            _keep(answers, attribute, value, lang)
    if problems:
        raise Invalid(details=problems)
    return answers


def _keep(answers: Answers, attribute: Attribute, value: str, lang: str) -> None:
    if attribute.target == "priority":
        answers.priority = value
    elif attribute.target == "external_id":
        answers.external_id = value
    else:
        shown = value_name(attribute, value, lang) if attribute.values else value
        label = t_plain(f"open311.attribute.{attribute.code}.label", lang)
        answers.lines.append(t_plain("open311.attribute_line", lang, label=label, value=shown))
