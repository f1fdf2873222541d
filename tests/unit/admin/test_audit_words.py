"""The audit log's details and targets in words (issue 19): what the writers record as JSON, ``key=value``
pairs or a setting's ``key: old → new`` reads as labels and names, never as field names or codes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pytest
from sqlmodel import Session

from dashboard.admin import audit, calendar, categories
from dashboard.admin.audit import AuditFilters
from dashboard.admin.audit_words import AuditNames, detail_words, target_words
from dashboard.admin.categories import CategoryInput
from dashboard.cases.queue import QueueFilters
from dashboard.db import get_engine
from dashboard.io import exports
from dashboard.kernel import audit as audit_log
from models.enums import CalendarKind
from tests import words
from tests.factories import World, build_world

NAMES = AuditNames(
    communities={1: "项里社区"},
    departments={3: "城管"},
    users={9: "张三"},
    category_codes={"DIS": ("矛盾纠纷", "Disputes")},
)


@pytest.mark.parametrize(
    ("action", "detail", "expected"),
    [
        (
            "user_update",
            '{"role": "grid_worker", "community_id": 1, "phone": "***"}',
            "角色：网格员；社区：项里社区；电话：***",
        ),
        (
            "category_update",
            '{"code": "ENV", "changes": {"calendar": ["working_days", "natural_days"], "department_id": [3, null]}}',
            "编号：ENV；办理时限计法：工作日 → 自然日；部门：城管 → —",
        ),
        (
            "export",
            '{"rows": 120, "format": "xlsx", "unmasked": false, "filters": {"view": "todo", "community_id": 1}}',
            "行数：120；格式：Excel；未脱敏：否；筛选条件：（视图：待办，社区：项里社区）",
        ),
        (
            "need_rules_change",
            '[{"op": "delete", "id": 4, "skill": "助老", "basis": "cases:DIS"}]',
            "删除：技能：助老，测算依据：案件：矛盾纠纷",
        ),
        ("grid_worker_assign", '{"changes": {"worker_id": [null, 9]}}', "网格员：— → 张三"),
        ("api_refused", "source=10.0.0.1; reason=bad_key", "来源：10.0.0.1；原因：密钥无效"),
        (
            "public_rate",
            "source=1.2.3.4 rating=satisfied counted=True",
            "来源：1.2.3.4；评价：满意；计入满意率：是",
        ),
        (
            "setting_update",
            "wall_refresh_seconds: 60 → 30 (default)",
            "大屏刷新间隔（秒）：60 → 30（默认值）",
        ),
        (
            "retention_mask",
            "cases 5: names 3, phones 2, addresses 1",
            "案件 5 件：遮蔽姓名 3 个、电话 2 个、地址 1 个",
        ),
        ("alert_run", '{"spike": 3, "risk": 10}', "异常增长：3；超期风险：10"),
        ("volunteer_change", "deactivate", "停用"),
        ("view_pii", "case", "案件反映人信息"),
        (
            "photo_add",
            '{"kind": "after", "ids": [1, 2], "event_id": 5}',
            "类型：处置后；记录号：1、2；流转记录号：5",
        ),
        (
            "need_rules_change",
            '[{"op": "add", "skill": "助',
            '[{"op": "add", "skill": "助',
        ),  # stored cut short
    ],
)
def test_stored_details_read_as_words(action: str, detail: str, expected: str) -> None:
    assert detail_words(action, detail, "zh", NAMES) == expected


def test_english_details_use_english_punctuation_and_targets_read_as_words() -> None:
    assert detail_words("export", '{"rows": 2, "unmasked": true}', "en") == "Rows: 2; Unmasked: yes"
    assert target_words("retention_mask", "closed before 2023-01-01", "zh") == "结案早于 2023-01-01"
    assert target_words("alert_dismiss", "alert:12 spike/XL-01-01", "zh") == "预警 12（异常增长，XL-01-01）"
    assert target_words("import", "cases:a.csv", "zh") == "案件（CSV/Excel）：a.csv"
    assert target_words("user_update", "comm-xl-02", "zh") == "comm-xl-02"
    long = detail_words(
        "calendar_schedule_save", '{"days_off": [' + ",".join(f'"d{i}"' for i in range(20)) + "]}", "zh"
    )
    assert long.endswith("d11 等 20 项")


def test_what_the_writers_record_reads_in_chinese_on_the_audit_page(db_url: str) -> None:
    """The real writers' rows, as the page shows them (details and targets): no field name, code or id."""
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        w = build_world(s)
        s.commit()
        _write_and_read(s, w)


def _write_and_read(s: Session, w: World) -> None:
    admin = w.actors["admin"]
    values: dict[str, object] = {"name_zh": "环境卫生", "name_en": "Environment", "sla_limit": 5}
    values |= {"calendar": CalendarKind.natural_days, "response_limit": 2}
    values |= {
        "response_calendar": CalendarKind.working_hours,
        "priority_default": "general",
        "department_id": None,
    }
    categories.update_category(s, admin, w.category["ENV"], CategoryInput(**values))  # type: ignore[arg-type]
    calendar.add_calendar_override(s, admin, date(2026, 12, 31), "closure", "设备检修")
    filters = QueueFilters(view="overdue", community_id=w.community_ids[0], ageing=("red",))
    exports.record_export(
        s,
        admin,
        "cases",
        12,
        "csv",
        filters={k: v for k, v in asdict(filters).items() if v not in (None, (), "")},
    )
    audit_log.record(
        s,
        None,
        "retention_mask",
        "closed before 2023-01-01",
        detail="cases 0: names 0, phones 0, addresses 0",
    )
    s.commit()
    rows = audit.search(s, admin, AuditFilters(source="audit"), 1, 50).rows
    names = audit.names_for_details(s, "zh")
    shown = {
        a: (target_words(a, t, "zh"), audit.detail_text(r, "zh", names))
        for (_, r), a, t in zip(rows.iterrows(), rows["action"], rows["target"], strict=True)
    }
    assert set(shown) == {"category_update", "calendar_override_add", "export", "retention_mask"}
    assert (
        "办理时限：3 → 5" in shown["category_update"][1] and "工作日 → 自然日" in shown["category_update"][1]
    )
    assert shown["calendar_override_add"][1] == "日期：2026-12-31；类型：本地停工日；备注：设备检修"
    assert (
        "视图：超期" in shown["export"][1]
        and "社区：" in shown["export"][1]
        and "排序：" in shown["export"][1]
    )
    # a category is named by its code, labelled 编号 (as the catalogue's own page shows it)
    found = words.findings((("audit", text) for pair in shown.values() for text in pair), ["ENV"])
    assert not found, "\n".join(found)
