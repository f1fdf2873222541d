"""The API clients page (系统对接 · API 客户端, issue 24) in AppTest: an admin creates a client and reads its
key once, revokes it; the page speaks Chinese (no English beyond the allowlist) and switches to English."""

from __future__ import annotations

from sqlmodel import Session, select

from dashboard.api import clients
from dashboard.db import get_engine
from dashboard.i18n import t_plain
from models import AuditLog
from models.api_client import ApiClient
from tests import words
from tests.conftest import SQLITE_ONLY

PAGE = "pages/admin_api_clients.py"


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@SQLITE_ONLY
def test_admin_creates_a_client_reads_the_key_once_and_revokes_it(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "admin", PAGE)
    _ok(at)
    assert at.title[0].value == t_plain("api_clients.title", "zh")
    at.text_input(key="api_client_new_name").input("区12345平台")
    at.checkbox(key="api_client_new_write").check()
    at.text_input(key="api_client_new_callback").input("https://12345.example.gov.cn/open311/callback")
    at.button(key="api_client_new_save").click().run()
    _ok(at)
    assert at.success and "区12345平台" in at.success[0].value
    key, secret = (c.value for c in at.code)
    engine = get_engine(seeded_url)
    with Session(engine) as s:
        row = s.exec(select(ApiClient)).one()
        view = clients.authenticate(s, key)
    assert view is not None and view.can_write and row.callback_secret == secret
    assert key not in " ".join(str(v) for v in row.model_dump().values())
    shown_as_is = [f"g311_{row.key_prefix}…", row.callback_url, "admin"]  # codes, and who changed it
    assert words.page_findings(at._tree, shown_as_is) == [], "Chinese only"

    at.selectbox(key="api_client_pick").set_value(row.id).run()
    _ok(at)
    assert not at.code, "the key is shown once"
    at.checkbox(key=f"api_client_{row.id}_confirm").check().run()
    at.button(key=f"api_client_{row.id}_revoke").click().run()
    _ok(at)
    with Session(engine) as s:
        assert s.exec(select(ApiClient.revoked_at)).one() is not None
        assert clients.authenticate(s, key) is None
        logged = s.exec(select(AuditLog.action).where(AuditLog.action.startswith("api_client"))).all()
    assert sorted(logged) == ["api_client_create", "api_client_revoke"]

    at.segmented_control(key="lang_switch").set_value("en").run()
    _ok(at)
    assert at.title[0].value == t_plain("api_clients.title", "en")
