"""Shared fixtures: databases on SQLite and PostgreSQL, a small seeded database, the hand-built world, and
AppTest login. Plain helpers and builders live in tests/factories.py.

Every test that takes ``db_url``, ``seeded_url`` or ``seeded_ro_url`` runs once per backend: SQLite always,
PostgreSQL when its server binaries are installed. Without them the PostgreSQL runs are skipped, except
under CI (``CI`` set), where a missing server is an error.

- ``db_url``: a fresh, migrated, empty database (function scope), dropped afterwards; ``module_db_url``
  the same per test module.
- ``seeded_ro_url``: the small seeded database shared by the whole session: read only, never write to it.
- ``seeded_url``: a private copy of the small seeded database (function scope), for tests that write.
- ``world``: a World (tests/factories.py) built in a ``db_url``; the layout and options come from a
  ``world`` mark, e.g. ``pytestmark = pytest.mark.world(VOLUNTEERS, population={...})`` (default TINY;
  ``frozen_at=`` freezes the clock while the test runs).
- ``login(url, username)``: an AppTest of app.py logged in as `username` (demo password).

Tests run in parallel (pytest-xdist, see pyproject.toml): session fixtures are per worker, so every worker
starts its own PostgreSQL server and builds its own templates. Marks added here at collection: ``e2e`` on
every test under tests/e2e/, ``postgres`` on every test that runs on PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DASHBOARD_AUTO_SEED", "0")
os.environ.setdefault("DASHBOARD_SECRET_KEY", "test-secret-key-not-for-production")
# Photos written by tests (and by the seed of the test databases) go to a folder of this process, never ./data/media.
if "DASHBOARD_MEDIA_DIR" not in os.environ:
    os.environ["DASHBOARD_MEDIA_DIR"] = tempfile.mkdtemp(prefix="gg-test-media-")
    atexit.register(shutil.rmtree, os.environ["DASHBOARD_MEDIA_DIR"], True)
os.environ.setdefault("DASHBOARD_ALERTS_SCHEDULE", "off")  # no early-warning thread in test servers

from dashboard import clock  # noqa: E402
from dashboard.db import dispose_engines, upgrade  # noqa: E402
from tests import pg  # noqa: E402
from tests.factories import DEMO_PASSWORD, TINY, World, build_world  # noqa: E402

E2E = Path(__file__).resolve().parent / "e2e"
SMALL_SEED = {
    "cases": 3000,
    "volunteers": 300,
    "service_records": 3000,
    "visits": 2000,
    "random_seed": 7,
    "photos": False,
}
"""Size of the shared test database: every status, a year of cases, but quick to build. Without the seed's
photos (and so without its after-photo rule): the photo tests build their own (tests/unit/media)."""

BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For a test whose subject does not depend on the database (escaping, role gates, words): its page runs
on PostgreSQL are already covered by tests/app/test_pages.py, so it runs once, on SQLite."""


APP = ROOT / "tests" / "app"
APP_ON_POSTGRES = {"test_pages.py", "test_figures_agree.py"}
"""The AppTest modules that also run on PostgreSQL: every page for every role, and the figures every page
shows. The other page tests are about the page (widgets, words, escaping, gates), whose queries the domain
tests run on both databases, so they run on SQLite only."""


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests ``e2e`` and tests on the PostgreSQL server ``postgres`` (for ``-m``); leave out the
    PostgreSQL runs of page tests outside ``APP_ON_POSTGRES``."""
    dropped = [
        item
        for item in items
        if item.path.parent == APP
        and item.path.name not in APP_ON_POSTGRES
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("backend") == "postgresql"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(map(id, dropped))
        items[:] = [item for item in items if id(item) not in gone]
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == "postgresql"
        if on_postgres or "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


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
    """A new database on `backend`, empty or a copy of `template` (which must have no open connection)."""
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


def _drop_database(backend: str, request: pytest.FixtureRequest, url: str) -> None:
    """Close every engine, then drop a PostgreSQL database (SQLite files go with their tmp_path)."""
    dispose_engines()
    if backend != "sqlite":
        server: pg.PgServer = request.getfixturevalue("pg_server")
        server.drop_database(url.rsplit("/", 1)[1])


class _SeedTemplates:
    """Template databases, built once per backend and session (per xdist worker): ``"seeded"`` holds the
    small seed, ``"migrated"`` is empty and migrated (copying it is faster than migrating)."""

    def __init__(self, request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> None:
        self.request, self.factory, self.urls = request, factory, {}

    def get(self, backend: str, kind: str = "seeded") -> str:
        if (backend, kind) not in self.urls:
            url = _new_database(backend, self.request, self.factory.mktemp(f"{kind}-{backend}"))
            if kind == "seeded":
                from seed.generate import seed_database

                seed_database(url, today=clock.now().date(), **SMALL_SEED)
            else:
                upgrade(url)
            dispose_engines()  # PostgreSQL refuses to copy a template with open connections
            self.urls[(backend, kind)] = url
        return self.urls[(backend, kind)]


@pytest.fixture(scope="session")
def seed_templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> _SeedTemplates:
    return _SeedTemplates(request, tmp_path_factory)


@pytest.fixture
def db_url(
    backend: str, seed_templates: _SeedTemplates, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    url = _new_database(backend, request, tmp_path, template=seed_templates.get(backend, "migrated"))
    yield url
    _drop_database(backend, request, url)


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
    _drop_database(backend, request, url)


@pytest.fixture(scope="module")
def module_db_url(
    backend: str,
    seed_templates: _SeedTemplates,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """Like ``db_url``, shared by the tests of a module (for data that is costly to build and only read)."""
    template = seed_templates.get(backend, "migrated")
    url = _new_database(backend, request, tmp_path_factory.mktemp("module-db"), template=template)
    yield url
    _drop_database(backend, request, url)


@pytest.fixture
def world(db_url: str, request: pytest.FixtureRequest) -> Iterator[World]:
    """The hand-built World in a fresh database; layout and options from the closest ``world`` mark."""
    mark = request.node.get_closest_marker("world")
    layout = mark.args[0] if mark and mark.args else TINY
    options = dict(mark.kwargs) if mark else {}
    frozen_at = options.pop("frozen_at", None)
    built = build_world(db_url, layout, **options)
    if frozen_at is None:
        yield built
    else:
        with clock.frozen(frozen_at):
            yield built


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
