"""The page registry: which page file, under which title and group; its roles are the role policy's.

app.py builds ``st.navigation`` from this list, showing only the pages whose file exists and whose roles
(:data:`dashboard.kernel.policy.PAGE_ROLES`) include the user's. The same list decides access: a page not in
a user's navigation cannot be opened by URL either (Streamlit only routes to pages passed to
``st.navigation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboard.kernel.policy import page_roles
from models.enums import Role

ROOT = Path(__file__).resolve().parent.parent.parent

R = Role


@dataclass(frozen=True)
class PageSpec:
    path: str  # relative to the project root, e.g. "pages/queue.py"
    title_key: str  # i18n key
    icon: str  # material icon, ":material/name:"
    group: str  # i18n key of the navigation section
    url_path: str

    @property
    def roles(self) -> frozenset[Role]:
        """Who may open the page: the role policy's entry for its URL path."""
        return page_roles(self.url_path)

    @property
    def exists(self) -> bool:
        return (ROOT / self.path).exists()


PAGES: list[PageSpec] = [
    PageSpec("pages/overview.py", "overview.title", ":material/dashboard:", "nav.overview", "overview"),
    PageSpec("pages/wall.py", "wall.title", ":material/tv:", "nav.overview", "wall"),
    PageSpec("pages/map.py", "map.title", ":material/map:", "nav.overview", "map"),
    PageSpec("pages/warning.py", "warning.title", ":material/crisis_alert:", "nav.overview", "warning"),
    PageSpec("pages/my_grid.py", "field.my_grid", ":material/home_pin:", "nav.field", "my-grid"),
    PageSpec("pages/visit.py", "field.visit", ":material/directions_walk:", "nav.field", "visit"),
    PageSpec(
        "pages/quick_intake.py",
        "field.quick_intake",
        ":material/record_voice_over:",
        "nav.field",
        "quick-intake",
    ),
    PageSpec("pages/field.py", "field.supervision", ":material/groups:", "nav.field", "field"),
    PageSpec("pages/queue.py", "queue.title", ":material/list_alt:", "nav.cases", "queue"),
    PageSpec("pages/case_detail.py", "case.title", ":material/description:", "nav.cases", "case"),
    PageSpec("pages/intake.py", "intake.title", ":material/add_circle:", "nav.cases", "intake"),
    PageSpec("pages/department_queue.py", "dept.title", ":material/campaign:", "nav.cases", "department"),
    PageSpec(
        "pages/volunteers.py", "vol.registry", ":material/volunteer_activism:", "nav.volunteers", "volunteers"
    ),
    PageSpec("pages/service_hours.py", "vol.hours", ":material/schedule:", "nav.volunteers", "service-hours"),
    PageSpec("pages/coverage.py", "vol.coverage", ":material/grid_on:", "nav.volunteers", "coverage"),
    PageSpec("pages/matching.py", "vol.matching", ":material/handshake:", "nav.volunteers", "matching"),
    PageSpec("pages/report.py", "report.title", ":material/slideshow:", "nav.reports", "report"),
    PageSpec("pages/audit.py", "audit.title", ":material/policy:", "nav.admin", "audit"),
    PageSpec("pages/admin_users.py", "admin.users", ":material/manage_accounts:", "nav.admin", "users"),
    PageSpec(
        "pages/admin_categories.py", "admin.categories", ":material/category:", "nav.admin", "categories"
    ),
    PageSpec(
        "pages/admin_departments.py", "admin.departments", ":material/apartment:", "nav.admin", "departments"
    ),
    PageSpec("pages/admin_grids.py", "admin.grids", ":material/pentagon:", "nav.admin", "grids"),
    PageSpec(
        "pages/admin_calendar.py", "admin.calendar", ":material/calendar_month:", "nav.admin", "calendar"
    ),
    PageSpec("pages/admin_settings.py", "admin.settings", ":material/settings:", "nav.admin", "settings"),
    PageSpec("pages/admin_backup.py", "admin.backup", ":material/backup:", "nav.admin", "backup"),
    PageSpec(
        "pages/resident_reports.py",
        "residents_admin.title",
        ":material/phone_disabled:",
        "nav.admin",
        "residents",
    ),
    PageSpec("pages/admin_api_clients.py", "api_clients.title", ":material/hub:", "nav.admin", "api-clients"),
    PageSpec("pages/import_data.py", "io.import_title", ":material/upload_file:", "nav.admin", "import"),
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
