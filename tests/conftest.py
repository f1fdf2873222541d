"""Shared fixtures: databases on SQLite and PostgreSQL, a small seeded database, and AppTest login.

Every test that takes ``db_url``, ``seeded_url`` or ``seeded_ro_url`` runs once per backend: SQLite always,
PostgreSQL when its server binaries are installed. Without them the PostgreSQL runs are skipped, except
under CI (``CI`` set), where a missing server is an error.

- ``db_url``: a fresh, migrated, empty database (function scope).
- ``seeded_ro_url``: the small seeded database shared by the whole session: read only, never write to it.
- ``seeded_url``: a private copy of the small seeded database (function scope), for tests that write.
- ``login(url, username)``: an AppTest of app.py logged in as `username` (demo password).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DASHBOARD_AUTO_SEED", "0")
os.environ.setdefault("DASHBOARD_SECRET_KEY", "test-secret-key-not-for-production")

from dashboard import clock  # noqa: E402
from dashboard.db import dispose_engines, upgrade  # noqa: E402
from tests import pg  # noqa: E402

DEMO_PASSWORD = "demo1234"
SMALL_SEED = {
    "cases": 3000,
    "volunteers": 300,
    "service_records": 3000,
    "visits": 2000,
    "random_seed": 7,
}
"""Size of the shared test database: every status, a year of cases, but quick to build."""

BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(autouse=True)
def _app_uses_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest runs app.py as the server does (tests/apptest.py)."""
    from streamlit.testing.v1 import app_test

    from tests.apptest import NavigationPagesManager

    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    if pg.find_bin_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are required under CI")
        pytest.skip("no PostgreSQL server binaries installed")
    server = pg.start_server()
    yield server
    dispose_engines()
    server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _new_database(
    backend: str, request: pytest.FixtureRequest, tmp_dir: Path, template: str | None = None
) -> str:
    if backend == "sqlite":
        path = tmp_dir / f"db-{uuid.uuid4().hex[:8]}.db"
        if template:
            shutil.copyfile(template.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    server: pg.PgServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    if template:
        server.execute_autocommit(f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"')
    else:
        server.execute_autocommit(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = _new_database(backend, request, tmp_path)
    upgrade(url)
    yield url
    dispose_engines()


class _SeedTemplates:
    """The small seeded database, built once per backend and session."""

    def __init__(self, request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> None:
        self.request, self.factory, self.urls = request, factory, {}

    def get(self, backend: str) -> str:
        if backend not in self.urls:
            from seed.generate import seed_database

            url = _new_database(backend, self.request, self.factory.mktemp(f"seed-{backend}"))
            seed_database(url, today=clock.now().date(), **SMALL_SEED)
            dispose_engines()  # PostgreSQL refuses to copy a template with open connections
            self.urls[backend] = url
        return self.urls[backend]


@pytest.fixture(scope="session")
def seed_templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> _SeedTemplates:
    return _SeedTemplates(request, tmp_path_factory)


@pytest.fixture(scope="session")
def seeded_ro_url(backend: str, seed_templates: _SeedTemplates) -> str:
    return seed_templates.get(backend)


@pytest.fixture
def seeded_url(
    seeded_ro_url: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    dispose_engines()
    url = _new_database(backend, request, tmp_path, template=seeded_ro_url)
    yield url
    dispose_engines()


@pytest.fixture
def today() -> date:
    return clock.now().date()


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """``login(url, username, page=None)`` → a logged-in AppTest of app.py (optionally switched to `page`)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def _login(
        url: str, username: str, page: str | None = None, password: str = DEMO_PASSWORD, timeout: float = 60
    ) -> AppTest:
        monkeypatch.setenv("DATABASE_URL", url)
        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        at.run()
        at.text_input(key="login_username").input(username)
        at.text_input(key="login_password").input(password)
        at.button(key="login_submit").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if page:
            at.switch_page(page)
            at.run()
        return at

    return _login
