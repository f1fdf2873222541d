"""Column headers of import spreadsheets: the synonym table (field → the spellings files use), the fields
a mapping must provide, and matching headers to fields after :func:`norm_key`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=8192)
def _norm_key(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip().lower()
    value = re.sub(r"[(\[【].*?[)\]】]", "", value)
    return re.sub(r"[\s_\-.:*#/]+", "", value)


def norm_key(text: object) -> str:
    """A header or key reduced for matching: NFKC (full-width → ASCII), lower case, without bracketed
    remarks, required-markers, blanks, underscores, hyphens and dots (``Service-Request_ID`` → ``servicerequestid``)."""
    return _norm_key(str(text or "")[:200])


SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "cases": {
        "number": (
            "事件编号",
            "案件编号",
            "编号",
            "工单编号",
            "工单号",
            "事件号",
            "案件号",
            "number",
            "case_number",
            "case_no",
            "caseno",
            "case_id",
            "service_request_id",
            "request_id",
            "id",
            "序号",
            "unique_key",
            "sr_number",
        ),
        "title": (
            "标题",
            "事件标题",
            "案件标题",
            "诉求标题",
            "事项",
            "事件名称",
            "title",
            "subject",
            "summary",
        ),
        "description": (
            "描述",
            "事件描述",
            "问题描述",
            "诉求内容",
            "内容",
            "详情",
            "情况描述",
            "description",
            "details",
            "detail",
        ),
        "category": (
            "类别",
            "分类",
            "事件类别",
            "案件类别",
            "事件分类",
            "案件分类",
            "类别编码",
            "分类编码",
            "问题类型",
            "事件类型",
            "类型",
            "category",
            "category_code",
            "service_code",
            "type",
            "类别名称",
            "分类名称",
            "category_name",
            "service_name",
        ),
        "reported_at": (
            "上报时间",
            "报告时间",
            "反映时间",
            "登记时间",
            "来电时间",
            "发现时间",
            "发生时间",
            "上报日期",
            "reported_at",
            "reported",
            "report_time",
            "requested_datetime",
            "created_at",
            "created",
            "date",
            "日期",
            "时间",
            "created_date",
            "open_date",
        ),
        "accepted_at": ("受理时间", "accepted_at"),
        "resolved_at": ("处置时间", "处置完成时间", "办结时间", "resolved_at"),
        "closed_at": ("结案时间", "关闭时间", "closed_at", "closed", "closed_date", "close_date"),
        "due_at": (
            "办理期限",
            "处置期限",
            "期限",
            "截止时间",
            "到期时间",
            "due_at",
            "deadline",
            "expected_datetime",
            "due_date",
        ),
        "updated_at": ("更新时间", "updated_at", "updated_datetime"),
        "grid": ("网格", "网格编号", "网格编码", "所属网格", "网格代码", "grid", "grid_code"),
        "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
        "lat": ("纬度", "lat", "latitude", "y"),
        "address": (
            "地址",
            "事发地址",
            "事发地点",
            "详细地址",
            "地点",
            "位置",
            "address",
            "location",
            "incident_address",
        ),
        "source": ("来源", "事件来源", "案件来源", "渠道", "来源渠道", "source", "channel"),
        "status": ("状态", "案件状态", "事件状态", "办理状态", "处理状态", "status"),
        "status_notes": ("状态说明", "status_notes"),
        "reporter_name": (
            "报告人",
            "上报人",
            "反映人",
            "诉求人",
            "报告人姓名",
            "联系人",
            "reporter_name",
            "reporter",
            "contact_name",
            "name",
        ),
        "reporter_phone": (
            "电话",
            "联系电话",
            "报告人电话",
            "手机",
            "手机号",
            "手机号码",
            "reporter_phone",
            "phone",
            "telephone",
            "tel",
            "mobile",
        ),
        "department": (
            "责任部门",
            "承办部门",
            "处置部门",
            "主办部门",
            "部门",
            "department",
            "agency_responsible",
            "agency",
        ),
        "priority": ("紧急程度", "优先级", "priority"),
        "satisfaction": ("满意度", "回访结果", "回访满意度", "satisfaction"),
        "duplicate_of": ("重复案件", "并入案件", "重复于", "duplicate_of"),
    },
    "volunteers": {
        "external_id": ("志愿者编号", "编号", "external_id", "volunteer_id", "id", "序号"),
        "name": ("姓名", "志愿者姓名", "name"),
        "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile", "tel"),
        "gender": ("性别", "gender", "sex"),
        "birth_year": ("出生年份", "出生年", "出生日期", "birth_year", "birthday", "birth_date"),
        "grid": ("网格", "所属网格", "居住网格", "网格编号", "网格编码", "home_grid", "grid", "grid_code"),
        "skills": ("技能", "特长", "服务技能", "志愿服务技能", "skills", "skill"),
        "political_status": ("政治面貌", "political_status", "political"),
        "party_kind": ("党员类型", "党员类别", "party_kind", "party_member_kind"),
        "employer": ("工作单位", "驻区单位", "所在单位", "employer", "employer_unit", "unit"),
        "registered_at": ("注册时间", "登记时间", "注册日期", "报到时间", "registered_at", "registered"),
        "active": ("是否有效", "在册", "状态", "active", "status"),
    },
    "service_records": {
        "external_id": ("记录编号", "服务记录编号", "编号", "external_id", "record_id", "id", "序号"),
        "volunteer": ("志愿者编号", "volunteer_id", "volunteer"),
        "volunteer_phone": ("志愿者手机", "志愿者电话", "手机", "手机号", "电话", "volunteer_phone", "phone"),
        "grid": ("服务网格", "网格", "网格编号", "网格编码", "grid", "grid_code"),
        "case": ("案件编号", "关联案件", "事件编号", "case", "case_number"),
        "skill": ("服务技能", "技能", "服务类型", "服务内容", "skill", "activity"),
        "start": ("开始时间", "服务开始时间", "start", "start_time", "started_at"),
        "end": ("结束时间", "服务结束时间", "end", "end_time", "ended_at"),
        "hours": ("时长", "服务时长", "小时", "hours", "duration"),
        "note": ("备注", "说明", "note", "notes", "remark"),
        "verified": ("已核实", "是否核实", "核实", "verified"),
    },
}
"""Per kind: field → header spellings, best first. Matching is exact after :func:`norm_key`."""

REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "cases": (("number",), ("title", "description"), ("category",), ("reported_at",), ("grid", "lon")),
    "volunteers": (("external_id",), ("name",), ("phone",), ("grid",), ("skills",)),
    "service_records": (
        ("external_id",),
        ("volunteer", "volunteer_phone"),
        ("skill",),
        ("start",),
        ("end", "hours"),
    ),
}
"""Columns a mapping must provide: each tuple needs at least one of its fields (lat comes with lon)."""


def _lookup_table(fields: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    """norm_key(spelling) → (field, rank of the spelling); a spelling shared by two fields goes to the
    field where it ranks better."""
    table: dict[str, tuple[str, int]] = {}
    for fld, names in fields.items():
        for rank, name in enumerate(names):
            key = norm_key(name)
            if key not in table or rank < table[key][1]:
                table[key] = (fld, rank)
    return table


_LOOKUP: dict[str, dict[str, tuple[str, int]]] = {
    kind: _lookup_table(fields) for kind, fields in SYNONYMS.items()
}


def suggest_mapping(kind: str, headers: Sequence[str]) -> dict[str, str]:
    """Header → field for the headers recognised by the synonym table; each field taken once, by the header
    whose spelling ranks best (so ``类别`` wins over ``类别名称`` when a file has both)."""
    table = _LOOKUP[kind]
    best: dict[str, tuple[int, int, str]] = {}
    for pos, header in enumerate(headers):
        hit = table.get(norm_key(header))
        if hit is None:
            continue
        fld, rank = hit
        if fld not in best or (rank, pos) < best[fld][:2]:
            best[fld] = (rank, pos, header)
    return {header: fld for fld, (_r, _p, header) in best.items()}


def missing_fields(kind: str, mapping: Mapping[str, str]) -> list[str]:
    """The required fields (first alternative of each group) that `mapping` does not provide."""
    mapped = {f for f in mapping.values() if f}
    missing = [group[0] for group in REQUIRED.get(kind, ()) if not mapped.intersection(group)]
    if "lon" in mapped and "lat" not in mapped:
        missing.append("lat")
    if "lat" in mapped and "lon" not in mapped:
        missing.append("lon")
    return missing


def header_score(kind: str, cells: Sequence[Any]) -> int:
    """How many of the cells are header spellings of `kind` (to find the header line of a spreadsheet)."""
    table = _LOOKUP.get(kind, {})
    return sum(1 for c in cells if isinstance(c, str) and norm_key(c) in table)


def template_headers(kind: str, lang: str = "zh") -> list[str]:
    """Column headers of an empty template for `kind`: the first Chinese spelling of each field (zh),
    else the field names (which the import recognises as well)."""
    fields = SYNONYMS[kind]
    if lang != "zh":
        return list(fields)
    return [next((n for n in names if not n.isascii()), f) for f, names in fields.items()]
