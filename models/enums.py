"""Enumerations shared by models, services and pages.

Values are stable English identifiers stored in the database; the UI shows them through i18n.
"""

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    leader = "leader"
    operator = "operator"
    community = "community"
    grid_worker = "grid_worker"
    department = "department"
    volunteer_manager = "volunteer_manager"


class CaseStatus(StrEnum):
    reported = "reported"
    accepted = "accepted"
    rejected = "rejected"
    dispatched = "dispatched"
    in_progress = "in_progress"
    resolved = "resolved"
    verified = "verified"
    closed = "closed"


OPEN_STATUSES: tuple[CaseStatus, ...] = (
    CaseStatus.reported,
    CaseStatus.accepted,
    CaseStatus.dispatched,
    CaseStatus.in_progress,
    CaseStatus.resolved,
    CaseStatus.verified,
)
"""Statuses in which a case still needs work (not closed, not rejected)."""

ACTIVE_STATUSES: tuple[CaseStatus, ...] = (
    CaseStatus.reported,
    CaseStatus.accepted,
    CaseStatus.dispatched,
    CaseStatus.in_progress,
)
"""Statuses in which the SLA clock is still running (not yet resolved)."""


class CaseSource(StrEnum):
    walk_in = "walk_in"  # 来访
    hotline = "hotline"  # 电话/12345
    grid_visit = "grid_visit"  # 网格员巡查上报
    proxy = "proxy"  # 代录
    online = "online"  # 网上
    assigned = "assigned"  # 上级交办
    imported = "imported"  # 导入
    resident = "resident"  # 居民随手拍 (public pages, no account)
    api = "api"  # 系统对接 (another system over the Open311 API)


class Priority(StrEnum):
    emergency = "emergency"
    urgent = "urgent"
    general = "general"
    complex = "complex"


class CalendarKind(StrEnum):
    natural_hours = "natural_hours"  # 自然时
    working_hours = "working_hours"  # 工作时 08-12, 14-18 on working days
    working_days = "working_days"  # 工作日
    natural_days = "natural_days"  # 自然日


class Satisfaction(StrEnum):
    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意
    not_reached = "not_reached"  # 未回访 (anonymous or unreachable)


class EscalationLevel(StrEnum):
    daily = "daily"  # 日常哨
    tough = "tough"  # 攻坚哨
    emergency = "emergency"  # 应急哨


class Ageing(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"
    black = "black"


class CommunityKind(StrEnum):
    urban = "urban"
    suburban = "suburban"
    farm = "farm"


class DepartmentKind(StrEnum):
    urban_management = "urban_management"  # 城管
    civil_affairs = "civil_affairs"  # 民政
    police = "police"  # 公安/派出所
    justice = "justice"  # 司法
    market = "market"  # 市场监管
    housing = "housing"  # 住建
    health = "health"  # 卫健
    emergency = "emergency"  # 应急管理
    disabled = "disabled"  # 残联
    women = "women"  # 妇联
    labour = "labour"  # 人社
    office = "office"  # 党政办/党建办
    discipline = "discipline"  # 纪工委
    other = "other"


class PoliticalStatus(StrEnum):
    party_member = "party_member"  # 中共党员
    probationary = "probationary"  # 中共预备党员
    league_member = "league_member"  # 共青团员
    masses = "masses"  # 群众


class PartyMemberKind(StrEnum):
    in_work = "in_work"  # 在职党员
    retired = "retired"  # 离退休党员
    floating = "floating"  # 流动党员
    none = "none"


class CalendarOverrideKind(StrEnum):
    closure = "closure"  # local non-working day
    workday = "workday"  # extra working day


class AttachmentKind(StrEnum):
    """What a case photo shows (DESIGN §4 ``case_attachments``)."""

    report = "report"  # 上报照片
    before = "before"  # 处置前
    after = "after"  # 处置后
    followup = "followup"  # 回访
    other = "other"  # 其他


class AlertKind(StrEnum):
    spike = "spike"  # 异常增长
    repeat = "repeat"  # 重复诉求 / 高频
    hotspot = "hotspot"  # 热点
    risk = "risk"  # 超期风险


class AlertScope(StrEnum):
    grid = "grid"
    community = "community"
    building = "building"  # a normalised address, down to the building
    phone = "phone"  # a reporter's phone (stored and shown masked)
    case = "case"


class AlertStatus(StrEnum):
    open = "open"  # 待研判
    supervised = "supervised"  # 已督办
    project = "project"  # 专项候选
    dismissed = "dismissed"  # 已排除 (with a reason)


SKILLS: tuple[str, ...] = (
    "急救",
    "助老探访",
    "助残",
    "儿童关爱",
    "心理疏导",
    "义诊",
    "法律咨询",
    "矛盾调解",
    "治安巡逻",
    "环境整治",
    "疫情防控",
    "应急救援",
    "政策宣传",
    "文体活动",
    "就业指导",
    "帮贫济困",
    "家政便民",
    "入户走访",
    "数字助老",
    "其他",
)
"""Volunteer skills (DESIGN §7). Stored as these Chinese labels; en names live in i18n."""

POPULATION_FIELDS: tuple[str, ...] = (
    "elderly_60",
    "elderly_alone",
    "elderly_solitary",
    "disabled",
    "low_income",
    "special_care",
    "left_behind_children",
    "floating",
    "unemployed",
    "party_members",
)
"""Population-group aggregate columns on `grids` (DESIGN §3)."""
