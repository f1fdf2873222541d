"""Browser-test fixtures: the system Chromium, and the app running on a private copy of the seeded SQLite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import browser as b

# tests/conftest.py marks every test in this folder ``e2e`` (a ``pytestmark`` in a conftest marks nothing).


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(b.CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = b.launch(p)
        yield browser
        browser.close()


@pytest.fixture
def e2e_db_url(seed_templates, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """A private copy of the small seeded SQLite database."""
    template = seed_templates.get("sqlite").removeprefix("sqlite:///")
    path = tmp_path / "e2e.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_base(e2e_db_url: str) -> Iterator[str]:
    """Base URL of the app running on `e2e_db_url`."""
    with b.running_app(e2e_db_url) as base:
        yield base
