"""Who may do what, and who may open which page: the one role policy (DESIGN §9).

Every permission check in the services and every entry of the page registry (`dashboard.ui.nav`) reads
this module, so a role's rights are read and changed in one place. The table has two parts:

- :data:`CASE_ACTIONS`, keyed by the action names of the workflow table (`dashboard.cases.workflow`), in
  the order the case page offers them;
- :data:`ACTIONS`, named actions outside the case loop ("case.intake", "volunteer.match", "audit.read" …).

Permission is not scope: `dashboard.kernel.scope` narrows every query to the actor's community, grid or
department, and a permitted action still reaches only records in scope.

:data:`PAGE_ROLES` gives the roles that open each page (by its URL path), written in terms of the actions
the page exists for; ``tests/unit/kernel/test_policy.py`` checks that pages and actions agree.
"""

from __future__ import annotations

from typing import Protocol

from models.enums import Role

R = Role

EVERYONE = frozenset(Role)
SUB_DISTRICT = frozenset({R.admin, R.leader, R.operator})
"""Roles whose scope is the whole sub-district (街道领导, 指挥中心, admin)."""
SUPERVISORS = frozenset({R.admin, R.operator, R.community})
"""Roles that triage, dispatch, verify, close and approve extensions (网格长 / 指挥中心)."""
HANDLERS = frozenset({R.grid_worker, R.department})
"""Roles that work on cases dispatched to them."""
DESK = SUB_DISTRICT | {R.community}
"""Desk roles that follow the figures of their territory (reports, field supervision)."""
ADMINS = frozenset({R.admin})

CASE_ACTIONS: dict[str, frozenset[Role]] = {
    "accept": SUPERVISORS,
    "reject": SUPERVISORS,
    "dispatch": SUPERVISORS,
    "start": SUPERVISORS | HANDLERS,
    "return": SUPERVISORS | HANDLERS,
    "resolve": SUPERVISORS | HANDLERS,
    "rework": SUPERVISORS,
    "verify": SUPERVISORS,
    "follow_up": SUPERVISORS | {R.grid_worker},  # 回访 by phone or at the door, in own grid
    "close": SUPERVISORS,
    "reopen": SUPERVISORS,
    "merge": SUPERVISORS,
    "extend_request": SUPERVISORS | HANDLERS,
    "extend_approve": SUPERVISORS,
    "extend_refuse": SUPERVISORS,
    "supervise": SUPERVISORS,
    "escalate": SUPERVISORS | {R.grid_worker},
    "report_back": SUPERVISORS | {R.department},
    "comment": SUPERVISORS | HANDLERS,
}
"""Who may take each action on an existing case (the case must also be in the actor's scope)."""

ACTIONS: dict[str, frozenset[Role]] = {
    "scope.sub_district": SUB_DISTRICT,  # see and count every case, grid and figure of the sub-district
    "case.read": EVERYONE - {R.volunteer_manager},  # open a case in scope
    "case.browse": EVERYONE - {R.volunteer_manager, R.department},  # case lists and map layers
    "case.intake": SUPERVISORS | {R.grid_worker},  # record a new case (also for a resident: 代录)
    "case.triage": SUPERVISORS,  # bulk actions on the queue
    "data.import": ADMINS,  # import files; set a status the source system reached by its own path
    "export.unmasked": ADMINS,  # export personal data unmasked (audited)
    "pii.reveal.case": SUPERVISORS,  # "show" a reporter's name, phone and address (audited)
    "pii.reveal.volunteer": frozenset({R.admin, R.volunteer_manager}),  # a volunteer's name and phone
    "visit.record": frozenset({R.grid_worker, R.community, R.admin}),  # 走访: also 两委 cadres walking a grid
    "volunteer.read": EVERYONE - {R.department},  # the registry, coverage on the map
    "volunteer.edit": frozenset({R.admin, R.volunteer_manager}),  # editing shows personal data: PII roles
    "volunteer.record_hours": frozenset({R.admin, R.volunteer_manager, R.community}),  # community: own grids
    "volunteer.verify_hours": frozenset({R.admin, R.volunteer_manager}),
    "volunteer.edit_rules": frozenset({R.admin, R.volunteer_manager}),  # the need rules of coverage
    "volunteer.match": SUPERVISORS | {R.volunteer_manager},  # propose and assign volunteers to cases
    "audit.read": frozenset({R.admin, R.leader}),
    "resident.moderate": frozenset({R.admin, R.operator}),  # 随手拍: mark spam, block phones
    "alert.read": DESK,  # 研判预警: the alerts of one's territory (community: its own)
    "alert.act": SUPERVISORS,  # 督办 / 专项 / 忽略 an alert (audited)
    "alert.run": ADMINS,  # run the alert job now
    "admin.manage": ADMINS,  # users, categories, departments, grids, calendar, settings, backups
}
"""Named actions outside the case loop → the roles allowed."""

POLICY: dict[str, frozenset[Role]] = {**CASE_ACTIONS, **ACTIONS}

RECORDED_BY: dict[str, str] = {
    "report": "case.intake",
    "assign_volunteer": "volunteer.match",
    "import_update": "data.import",
    "support": "case.intake",
}
"""Workflow actions that are not taken on the case page but written by another service, whose action
decides who may: a case is reported by intake, a volunteer assigned by matching, a change from another
system's file written by an import, a 附议 (a resident's report matching an open case) by the public intake."""

_FIELD = frozenset({R.grid_worker})
"""The phone pages of the grid worker (own grid, visits, quick intake)."""
_VOLUNTEER_DESK = DESK | {R.volunteer_manager}
"""Service hours and coverage: read by the desk roles, worked on by the volunteer station."""

PAGE_ROLES: dict[str, frozenset[Role]] = {
    "overview": EVERYONE,
    "wall": ACTIONS["scope.sub_district"],
    "map": ACTIONS["case.browse"] | ACTIONS["volunteer.read"],
    "my-grid": _FIELD,
    "visit": _FIELD,
    "quick-intake": _FIELD,
    "field": DESK,
    "queue": ACTIONS["case.browse"],
    "case": ACTIONS["case.read"],
    # the desk intake; the grid worker records cases on the phone one (quick-intake) only
    "intake": ACTIONS["case.intake"] - _FIELD,
    # a department's worklist (start, resolve, report back); the sub-district sees every department's
    "department": ACTIONS["scope.sub_district"] | {R.department},
    "volunteers": ACTIONS["volunteer.read"],
    "service-hours": _VOLUNTEER_DESK,
    "coverage": _VOLUNTEER_DESK,
    "matching": ACTIONS["volunteer.match"],
    "report": DESK,
    "warning": ACTIONS["alert.read"],
    "audit": ACTIONS["audit.read"],
    "residents": ACTIONS["resident.moderate"],  # 随手拍管理: blocked phone numbers
    **dict.fromkeys(
        ("users", "categories", "departments", "grids", "calendar", "settings", "backup", "api-clients"),
        ACTIONS["admin.manage"],
    ),
    "import": ACTIONS["data.import"],
}
"""Page (URL path) → the roles that may open it; a page not open to a role is not in its navigation."""


class HasRole(Protocol):
    """Anything acting under a role (an :class:`~dashboard.kernel.scope.Actor`)."""

    @property
    def role(self) -> Role: ...


def roles_for(action: str) -> frozenset[Role]:
    """The roles allowed `action`; KeyError for a name not in the policy (a typo must fail loudly)."""
    return POLICY[action]


def may(who: Role | HasRole, action: str) -> bool:
    """Whether the role (or the actor's role) may take `action`."""
    role = who if isinstance(who, Role) else who.role
    return role in POLICY[action]


def page_roles(url_path: str) -> frozenset[Role]:
    """The roles that may open the page at `url_path`."""
    return PAGE_ROLES[url_path]
