"""The API clients page (系统对接 · API 客户端, issue 24) in AppTest: an admin creates a client and reads its
key once, revokes it; the page speaks Chinese (no English beyond the allowlist) and switches to English; a
callback the client's server refused is in the failure list; a client is limited to several communities."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from dashboard.admin.auth import actor_of
from dashboard.api import callbacks, client_admin, clients
from dashboard.api.client_admin import ClientInput
from dashboard.cases.change import change_case
from dashboard.db import get_engine, run_unit
from dashboard.i18n import t_plain
from models import AuditLog, Case, Community, User
from models.api_client import ApiClient
from models.enums import CaseStatus
from tests import words
from tests.conftest import SQLITE_ONLY
from tests.unit.api.open311_helpers import Receiver

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


@SQLITE_ONLY
def test_admin_limits_a_client_to_communities_and_sees_its_failed_callback(  # type: ignore[no-untyped-def]
    seeded_url: str, login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client whose callback server answers 503 is in the 投递失败 tab with the case and the error; the
    administrator limits the client to two communities (none chosen is refused)."""
    monkeypatch.setattr(callbacks, "start_worker", lambda _engine: False)  # this test delivers itself
    engine = get_engine(seeded_url)
    receiver = Receiver()
    receiver.status = 503
    try:
        with Session(engine) as s:
            admin = actor_of(s.exec(select(User).where(User.username == "admin")).one())
            operator = actor_of(s.exec(select(User).where(User.username == "operator")).one())
            case = s.exec(select(Case).where(Case.status == CaseStatus.reported).order_by(Case.id)).first()
            first, second = s.exec(select(Community.id, Community.name).order_by(Community.id).limit(2)).all()
        assert case is not None
        data = ClientInput("区城运中心", can_write=True, callback_url=receiver.url)
        issued = run_unit(lambda s: client_admin.create_client(s, admin, data), engine)

        def reported_by_the_client(s: Session) -> None:
            view = clients.authenticate(s, issued.key)
            assert view is not None
            clients.register_request(s, view, case.id)  # type: ignore[arg-type]
            change_case(s, operator, case.id, case.version, "accept", "已受理")  # type: ignore[arg-type]

        run_unit(reported_by_the_client, engine)
        assert callbacks.deliver_due(engine) == 0 and len(receiver.posts) == 1
    finally:
        receiver.close()

    at = login(seeded_url, "admin", PAGE)
    _ok(at)
    failed = next(d.value for d in at.dataframe if t_plain("api_clients.col_error", "zh") in d.value.columns)
    assert list(failed[t_plain("api_clients.col_case", "zh")]) == [case.number]
    assert list(failed[t_plain("api_clients.col_error", "zh")]) == [
        t_plain("api_clients.error.http", "zh", code=503)
    ]
    assert list(failed[t_plain("api_clients.col_state", "zh")]) == [t_plain("api_clients.waiting", "zh")]

    at.selectbox(key="api_client_pick").set_value(issued.client_id).run()
    prefix = f"api_client_{issued.client_id}"
    at.radio(key=f"{prefix}_limited").set_value(True)
    at.button(key=f"{prefix}_save").click().run()
    assert [e.value for e in at.error] and t_plain("api_clients.err.no_community", "zh") in at.error[0].value
    at.radio(key=f"{prefix}_limited").set_value(True)
    at.multiselect(key=f"{prefix}_community").set_value([first[0], second[0]])
    at.button(key=f"{prefix}_save").click().run()
    _ok(at)
    with Session(engine) as s:
        view = clients.authenticate(s, issued.key)
    assert view is not None and view.community_ids == frozenset({first[0], second[0]})
    shown = next(d.value for d in at.dataframe if t_plain("api_clients.col_prefix", "zh") in d.value.columns)
    assert list(shown[t_plain("api_clients.col_community", "zh")]) == [f"{first[1]}、{second[1]}"]
