"""Every page renders for every role that may open it, on every backend, without an exception."""

from __future__ import annotations

import pytest

from dashboard.ui.nav import PAGES, pages_for
from models.enums import Role

DEMO = {
    Role.admin: "admin",
    Role.leader: "leader",
    Role.operator: "operator",
    Role.community: "community",
    Role.grid_worker: "grid",
    Role.department: "department",
    Role.volunteer_manager: "volunteers",
}


def test_every_registered_page_exists() -> None:
    missing = [p.path for p in PAGES if not p.exists]
    assert not missing, f"pages in the registry without a file: {missing}"


@pytest.mark.parametrize("role", list(DEMO), ids=[str(r) for r in DEMO])
def test_every_page_renders_for_role(role: Role, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, DEMO[role])
    pages = pages_for(role)
    assert pages, "every role has at least one page"
    for page in pages:
        at.switch_page(page.path)
        at.run()
        assert not at.exception, (page.path, [e.value for e in at.exception])
        errors = [e.value for e in at.error]
        assert not errors, (page.path, errors)


def test_wrong_password_shows_error(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input(key="login_username").input("admin")
    at.text_input(key="login_password").input("wrong-password")
    at.button(key="login_submit").click()
    at.run()
    assert at.error and "密码" in at.error[0].value
    assert "actor" not in at.session_state


def _first_page_of_each_group() -> list[str]:
    """One page per navigation group, the first an admin sees there (from the page registry)."""
    first: dict[str, str] = {}
    for spec in pages_for(Role.admin):
        first.setdefault(spec.group, spec.path)
    return list(first.values())


@pytest.mark.parametrize("page", _first_page_of_each_group())
def test_switching_language_relabels_pages_and_keeps_the_login(page: str, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "admin")
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    zh_title = at.title[0].value
    # Switch on a page without translated option lists: AppTest re-formats the current page's options
    # outside the app's session (in the default language) when it sends the next run.
    at.switch_page("pages/admin_settings.py").run()
    at.segmented_control(key="lang_switch").set_value("en").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["lang"] == "en"
    assert at.session_state["actor"].username == "admin", "switching language keeps the user logged in"
    assert at.sidebar.button(key="logout").label == "Log out"
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value != zh_title
    assert at.title[0].value.isascii(), at.title[0].value
