"""The role policy (dashboard.kernel.policy): each page opens for the roles of the actions it exists for,
every workflow action has an entry, and the registry and the policy name the same pages."""

from __future__ import annotations

import pytest

from dashboard.cases.workflow import TRANSITIONS
from dashboard.kernel import policy
from dashboard.kernel.policy import may, page_roles, roles_for
from dashboard.kernel.scope import Actor
from dashboard.ui.nav import DEFAULT_PAGE, PAGES, pages_for
from models.enums import Role

R = Role
ADMIN_PAGES = [p.url_path for p in PAGES if p.path.startswith("pages/admin_")]


def test_every_workflow_action_has_a_policy_entry() -> None:
    for action in TRANSITIONS:
        assert action in policy.CASE_ACTIONS or policy.RECORDED_BY[action] in policy.ACTIONS, action
    assert set(policy.CASE_ACTIONS) <= set(TRANSITIONS)
    assert not set(policy.CASE_ACTIONS) & set(policy.RECORDED_BY)
    assert not set(policy.CASE_ACTIONS) & set(policy.ACTIONS)


def test_registry_and_policy_name_the_same_pages() -> None:
    assert sorted(p.url_path for p in PAGES) == sorted(policy.PAGE_ROLES)
    assert len(ADMIN_PAGES) == 8  # … and api-clients (系统对接 · API 客户端)


@pytest.mark.parametrize(
    ("page", "action"),
    [
        ("queue", "case.browse"),
        ("case", "case.read"),
        ("matching", "volunteer.match"),
        ("volunteers", "volunteer.read"),
        ("audit", "audit.read"),
        ("import", "data.import"),
        ("wall", "scope.sub_district"),
        *((page, "admin.manage") for page in ADMIN_PAGES),
    ],
)
def test_page_opens_for_exactly_the_roles_of_its_action(page: str, action: str) -> None:
    assert page_roles(page) == roles_for(action)
    for role in Role:
        assert (role in page_roles(page)) is may(role, action), role


def test_department_queue() -> None:
    """The sub-district watches every department; whoever may start, resolve and report back on a
    department's cases and has no other case list (the department) works from it; nobody else opens it."""
    roles = page_roles("department")
    assert roles_for("scope.sub_district") <= roles
    workers = roles_for("start") & roles_for("resolve") & roles_for("report_back")
    assert workers - roles_for("case.browse") == {R.department}
    assert roles == roles_for("scope.sub_district") | (workers - roles_for("case.browse"))


def test_map_shows_cases_and_volunteers_to_whoever_may_read_them() -> None:
    assert page_roles("map") == roles_for("case.browse") | roles_for("volunteer.read")


def test_volunteer_work_pages() -> None:
    hours, coverage = page_roles("service-hours"), page_roles("coverage")
    assert roles_for("volunteer.record_hours") | roles_for("volunteer.verify_hours") <= hours
    assert roles_for("volunteer.edit_rules") <= coverage
    assert hours <= roles_for("volunteer.read") and coverage <= roles_for("volunteer.read")
    assert roles_for("volunteer.edit") <= page_roles("volunteers")


def test_one_intake_per_role() -> None:
    """Whoever records cases has one intake page: the grid worker the phone one (代录事件), the desk roles the
    desk one (案件登记)."""
    assert page_roles("intake") == roles_for("case.intake") - {R.grid_worker}
    assert page_roles("intake") | page_roles("quick-intake") == roles_for("case.intake")
    assert not page_roles("intake") & page_roles("quick-intake")


def test_field_pages_are_the_grid_workers() -> None:
    """The phone pages record visits and cases in the worker's own grid."""
    for page in ("my-grid", "visit", "quick-intake"):
        assert page_roles(page) == {R.grid_worker}
    assert page_roles("visit") <= roles_for("visit.record")
    assert page_roles("quick-intake") <= roles_for("case.intake")
    assert page_roles("field") == page_roles("report") == roles_for("scope.sub_district") | {R.community}


def test_every_case_action_is_open_to_a_case_reader() -> None:
    for action, roles in policy.CASE_ACTIONS.items():
        assert roles and roles <= roles_for("case.read"), action


def test_every_role_has_pages_and_its_start_page() -> None:
    for role in Role:
        assert page_roles("overview") >= {role}
        assert any(role in p.roles for p in PAGES)
    for role, path in DEFAULT_PAGE.items():
        assert path in {p.path for p in pages_for(role)}, role


@pytest.mark.parametrize("role", list(Role))
def test_actor_properties_read_the_policy(role: Role) -> None:
    me = Actor(1, "u", "U", role)
    assert me.reads_all is may(role, "scope.sub_district") is may(me, "scope.sub_district")
    assert me.is_supervisor is (role in roles_for("case.triage"))


def test_unknown_action_fails_loudly() -> None:
    with pytest.raises(KeyError):
        may(R.admin, "case.intak")
    with pytest.raises(KeyError):
        roles_for("nope")
