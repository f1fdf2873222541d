"""Enum values from the spellings import files use: case statuses (Open311's open/closed among them),
priorities, satisfaction, political status and party membership, and yes/no cells."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from dashboard.i18n import LANGS, label
from dashboard.io.headers import norm_key
from dashboard.io.values import text
from models.enums import (
    CaseStatus,
    PartyMemberKind,
    PoliticalStatus,
    Priority,
    Satisfaction,
)

_STATUS_WORDS: dict[str, tuple[CaseStatus, bool]] = {
    "open": (CaseStatus.reported, True),
    "opened": (CaseStatus.reported, True),
    "closed": (CaseStatus.closed, True),
}
"""Open311's two statuses: coarse (the fine status is unknown)."""

_Value = TypeVar("_Value", bound=StrEnum)

_STATUS_SPELLINGS: dict[CaseStatus, tuple[str, ...]] = {
    CaseStatus.reported: (
        "new",
        "submitted",
        "pending",
        "待处理",
        "未处理",
        "待办",
        "已上报",
        "上报",
        "新建",
        "未受理",
    ),
    CaseStatus.accepted: ("acknowledged", "受理", "已受理"),
    CaseStatus.rejected: ("驳回", "已驳回", "declined", "invalid"),
    CaseStatus.dispatched: ("已派单", "派遣", "已交办", "assigned"),
    CaseStatus.in_progress: ("处理中", "办理中", "在办", "进行中", "inprogress", "processing"),
    CaseStatus.resolved: ("已处理", "已办结", "办结", "fixed"),
    CaseStatus.verified: ("已核实",),
    CaseStatus.closed: ("结案", "已关闭", "关闭", "已完成", "完成", "done", "completed", "archived"),
}
"""Spellings of case statuses seen in files, besides the values and their zh/en labels."""

_PRIORITY_SPELLINGS: dict[Priority, tuple[str, ...]] = {
    Priority.urgent: ("加急", "急", "high"),
    Priority.general: ("普通", "normal", "low"),
}
_SATISFACTION_SPELLINGS: dict[Satisfaction, tuple[str, ...]] = {
    Satisfaction.satisfied: ("非常满意",),
    Satisfaction.basically: ("比较满意",),
    Satisfaction.dissatisfied: ("很不满意",),
    Satisfaction.not_reached: ("未回访", "无法联系"),
}
_POLITICAL_SPELLINGS: dict[PoliticalStatus, tuple[str, ...]] = {
    PoliticalStatus.party_member: ("党员", "中共党员"),
    PoliticalStatus.probationary: ("预备党员",),
    PoliticalStatus.league_member: ("团员", "共青团员"),
    PoliticalStatus.masses: ("群众",),
}
_PARTY_KIND_SPELLINGS: dict[PartyMemberKind, tuple[str, ...]] = {
    PartyMemberKind.in_work: ("在职",),
    PartyMemberKind.retired: ("离退休", "退休"),
    PartyMemberKind.floating: ("流动",),
    PartyMemberKind.none: ("无", "非党员"),
}


def _label_table(
    kind: str, values: Iterable[str], spellings: Mapping[_Value, tuple[str, ...]]
) -> dict[str, str]:
    """norm_key(spelling) → enum value, for the values, their zh/en labels and the other spellings."""
    out: dict[str, str] = {}
    for v in values:
        out[norm_key(v)] = v
        for lang in LANGS:
            out[norm_key(label(kind, v, lang))] = v
    out.update({norm_key(k): str(v) for v, names in spellings.items() for k in names})
    return out


class Labels:
    """Enum values from the spellings files use (values, zh/en labels, common synonyms)."""

    def __init__(self) -> None:
        self.status = _label_table("status", [s.value for s in CaseStatus], _STATUS_SPELLINGS)
        self.priority = _label_table("priority", [p.value for p in Priority], _PRIORITY_SPELLINGS)
        self.satisfaction = _label_table(
            "satisfaction", [s.value for s in Satisfaction], _SATISFACTION_SPELLINGS
        )
        self.political = _label_table("political", [p.value for p in PoliticalStatus], _POLITICAL_SPELLINGS)
        self.party_kind = _label_table(
            "party_kind", [p.value for p in PartyMemberKind], _PARTY_KIND_SPELLINGS
        )

    def case_status(self, value: object) -> tuple[CaseStatus, bool] | None:
        """(status, coarse) — coarse for Open311's open/closed, where the fine status is unknown."""
        key = norm_key(value)
        if key in _STATUS_WORDS:
            return _STATUS_WORDS[key]
        hit = self.status.get(key)
        return (CaseStatus(hit), False) if hit else None


YES = frozenset(
    norm_key(v) for v in ("是", "有效", "在册", "正常", "已核实", "y", "yes", "true", "1", "active", "√")
)
NO = frozenset(
    norm_key(v)
    for v in ("否", "无效", "停用", "离开", "注销", "未核实", "n", "no", "false", "0", "inactive", "×")
)


def yes_no(value: object) -> bool | None:
    """True/False from 是/否, yes/no, 1/0 …; None when the text means neither."""
    key = norm_key(text(value))
    return True if key in YES else False if key in NO else None
