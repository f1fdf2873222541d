"""The page registry: which page file, under which title and group, for which roles.

app.py builds ``st.navigation`` from this list, showing only the pages whose file exists and whose roles
include the user's. The same list decides access: a page not in a user's navigation cannot be opened
by URL either (Streamlit only routes to pages passed to ``st.navigation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.enums import Role

ROOT = Path(__file__).resolve().parent.parent.parent

R = Role
ALL = frozenset(Role)
DESK = frozenset({R.admin, R.leader, R.operator, R.community})
CASE_READERS = frozenset({R.admin, R.leader, R.operator, R.community, R.grid_worker, R.department})


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root, e.g. "pages/queue.py"
    title_key: str  # i18n key
    icon: str  # material icon, ":material/name:"
    group: str  # i18n key of the navigation section
    roles: frozenset[Role]
    url_path: str

    @property
    def exists(self) -> bool:
        return (ROOT / self.path).exists()


PAGES: list[PageSpec] = [
    PageSpec("pages/overview.py", "overview.title", ":material/dashboard:", "nav.overview", ALL, "overview"),
    PageSpec(
        "pages/wall.py",
        "wall.title",
        ":material/tv:",
        "nav.overview",
        frozenset({R.admin, R.leader, R.operator}),
        "wall",
    ),
    PageSpec(
        "pages/map.py",
        "map.title",
        ":material/map:",
        "nav.overview",
        frozenset({R.admin, R.leader, R.operator, R.community, R.grid_worker, R.volunteer_manager}),
        "map",
    ),
    PageSpec(
        "pages/my_grid.py",
        "field.my_grid",
        ":material/home_pin:",
        "nav.field",
        frozenset({R.grid_worker}),
        "my-grid",
    ),
    PageSpec(
        "pages/visit.py",
        "field.visit",
        ":material/directions_walk:",
        "nav.field",
        frozenset({R.grid_worker}),
        "visit",
    ),
    PageSpec(
        "pages/quick_intake.py",
        "field.quick_intake",
        ":material/record_voice_over:",
        "nav.field",
        frozenset({R.grid_worker}),
        "quick-intake",
    ),
    PageSpec("pages/field.py", "field.supervision", ":material/groups:", "nav.field", DESK, "field"),
    PageSpec(
        "pages/queue.py",
        "queue.title",
        ":material/list_alt:",
        "nav.cases",
        frozenset({R.admin, R.leader, R.operator, R.community, R.grid_worker}),
        "queue",
    ),
    PageSpec(
        "pages/case_detail.py", "case.title", ":material/description:", "nav.cases", CASE_READERS, "case"
    ),
    PageSpec(
        "pages/intake.py",
        "intake.title",
        ":material/add_circle:",
        "nav.cases",
        frozenset({R.admin, R.operator, R.community, R.grid_worker}),
        "intake",
    ),
    PageSpec(
        "pages/department_queue.py",
        "dept.title",
        ":material/campaign:",
        "nav.cases",
        frozenset({R.admin, R.leader, R.operator, R.department}),
        "department",
    ),
    PageSpec(
        "pages/volunteers.py",
        "vol.registry",
        ":material/volunteer_activism:",
        "nav.volunteers",
        frozenset({R.admin, R.leader, R.operator, R.community, R.grid_worker, R.volunteer_manager}),
        "volunteers",
    ),
    PageSpec(
        "pages/service_hours.py",
        "vol.hours",
        ":material/schedule:",
        "nav.volunteers",
        frozenset({R.admin, R.leader, R.operator, R.community, R.volunteer_manager}),
        "service-hours",
    ),
    PageSpec(
        "pages/coverage.py",
        "vol.coverage",
        ":material/grid_on:",
        "nav.volunteers",
        frozenset({R.admin, R.leader, R.operator, R.community, R.volunteer_manager}),
        "coverage",
    ),
    PageSpec(
        "pages/matching.py",
        "vol.matching",
        ":material/handshake:",
        "nav.volunteers",
        frozenset({R.admin, R.operator, R.community, R.volunteer_manager}),
        "matching",
    ),
    PageSpec("pages/report.py", "report.title", ":material/slideshow:", "nav.reports", DESK, "report"),
    PageSpec(
        "pages/audit.py",
        "audit.title",
        ":material/policy:",
        "nav.admin",
        frozenset({R.admin, R.leader}),
        "audit",
    ),
    PageSpec(
        "pages/admin_users.py",
        "admin.users",
        ":material/manage_accounts:",
        "nav.admin",
        frozenset({R.admin}),
        "users",
    ),
    PageSpec(
        "pages/admin_categories.py",
        "admin.categories",
        ":material/category:",
        "nav.admin",
        frozenset({R.admin}),
        "categories",
    ),
    PageSpec(
        "pages/admin_departments.py",
        "admin.departments",
        ":material/apartment:",
        "nav.admin",
        frozenset({R.admin}),
        "departments",
    ),
    PageSpec(
        "pages/admin_grids.py",
        "admin.grids",
        ":material/pentagon:",
        "nav.admin",
        frozenset({R.admin}),
        "grids",
    ),
    PageSpec(
        "pages/admin_calendar.py",
        "admin.calendar",
        ":material/calendar_month:",
        "nav.admin",
        frozenset({R.admin}),
        "calendar",
    ),
    PageSpec(
        "pages/admin_settings.py",
        "admin.settings",
        ":material/settings:",
        "nav.admin",
        frozenset({R.admin}),
        "settings",
    ),
    PageSpec(
        "pages/import_data.py",
        "io.import_title",
        ":material/upload_file:",
        "nav.admin",
        frozenset({R.admin}),
        "import",
    ),
]

DEFAULT_PAGE: dict[Role, str] = {
    R.grid_worker: "pages/my_grid.py",
    R.department: "pages/department_queue.py",
    R.volunteer_manager: "pages/coverage.py",
}


def pages_for(role: Role) -> list[PageSpec]:
    """The pages a role may open, in registry order, whose files exist."""
    return [p for p in PAGES if role in p.roles and p.exists]


def spec(path: str) -> PageSpec:
    return next(p for p in PAGES if p.path == path)
