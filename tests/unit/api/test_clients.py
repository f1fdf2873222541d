"""API clients (issue 24): keys stored hashed, rotation and revocation refuse the old key, scopes act as the
UI's roles, rate limits, and the audit of refused calls and of every administration change."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import TypeVar

import pytest
from sqlmodel import Session, select

from dashboard import clock, db
from dashboard.admin.auth import verify_password
from dashboard.api import client_admin, clients
from dashboard.api.client_admin import ClientInput
from dashboard.cases.intake import NewCase, create_case
from dashboard.kernel.errors import Invalid, NotPermitted
from dashboard.kernel.scope import case_filter
from models import AuditLog, Case, User
from models.api_client import ApiCallback, ApiClient, ApiClientCommunity, ApiRequest
from models.enums import CaseSource, Role
from tests.factories import World, add_case

T = TypeVar("T")
NOW = datetime(2026, 11, 20, 10, 0)
pytestmark = pytest.mark.world(frozen_at=NOW)


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> Iterator[None]:
    """Rate counts live in the process: every test starts from none (client ids repeat across databases)."""
    clients._storage.reset()
    yield
    clients._storage.reset()


def _unit(w: World, fn: Callable[[Session], T]) -> T:
    return db.run_unit(fn, db.get_engine(w.url))


def _create(w: World, **fields: object) -> client_admin.IssuedKey:
    data = ClientInput(**{"name": "区12345平台", **fields})  # type: ignore[arg-type]
    return _unit(w, lambda s: client_admin.create_client(s, w.actors["admin"], data))


def _auth(w: World, key: str | None) -> clients.ApiClientView | None:
    with w.session() as s:
        return clients.authenticate(s, key)


def test_the_key_is_stored_hashed_and_found_by_it(world: World) -> None:
    issued = _create(world, can_write=True, community_ids=(world.community_ids[1],), sees_personal_data=True)
    assert issued.key.startswith(clients.KEY_TAG) and len(issued.key) > 40
    with world.session() as s:
        row = s.exec(select(ApiClient)).one()
        stored = " ".join(str(v) for v in row.model_dump().values())
        user = s.get(User, row.user_id)
    assert (
        issued.key not in stored and issued.key[len(clients.KEY_TAG) + clients.PREFIX_LEN + 1 :] not in stored
    ), "only a hash is kept"
    assert row.key_hash == clients.key_hash(issued.key, row.key_salt)
    view = _auth(world, issued.key)
    assert view is not None
    assert (view.id, view.name, view.can_read, view.can_write) == (
        issued.client_id,
        "区12345平台",
        True,
        True,
    )
    assert view.community_ids == frozenset({world.community_ids[1]}) and view.sees_personal_data
    # the client's own users row: named after it, scoped like it, and never able to log in
    assert user is not None and user.display_name == "区12345平台" and not user.active
    assert (user.role, user.community_id) == (Role.community, world.community_ids[1])
    assert not verify_password(user.password_hash, "") and not verify_password(user.password_hash, issued.key)
    for wrong in (None, "", "  ", issued.key + "x", issued.key[:-1], "g311_", "Bearer " + issued.key):
        assert _auth(world, wrong) is None, wrong
    other = issued.key[: len(clients.KEY_TAG)] + "00000000" + issued.key[len(clients.KEY_TAG) + 8 :]
    assert _auth(world, other) is None, "an unknown prefix"


def test_rotate_and_revoke_refuse_the_old_key(world: World) -> None:
    admin = world.actors["admin"]
    first = _create(world)
    second = _unit(world, lambda s: client_admin.rotate_key(s, admin, first.client_id))
    assert second.key != first.key and second.callback_secret != first.callback_secret
    assert _auth(world, first.key) is None, "the rotated-away key is refused"
    assert _auth(world, second.key) is not None
    _unit(world, lambda s: client_admin.revoke_client(s, admin, first.client_id))
    assert _auth(world, second.key) is None, "a revoked client's key is refused"
    with pytest.raises(Invalid):
        _unit(world, lambda s: client_admin.rotate_key(s, admin, first.client_id))
    with world.session() as s:
        actions = s.exec(select(AuditLog.action, AuditLog.target).order_by(AuditLog.id)).all()
    assert actions == [
        ("api_client_create", "区12345平台"),
        ("api_client_rotate", "区12345平台"),
        ("api_client_revoke", "区12345平台"),
    ]


def test_an_expired_key_is_refused(world: World) -> None:
    issued = _create(world, expires_on=date(2026, 11, 21))
    assert _auth(world, issued.key) is not None
    with clock.frozen(datetime(2026, 11, 21, 0, 0)):
        assert _auth(world, issued.key) is None


def test_only_an_admin_manages_clients_and_bad_input_is_refused(world: World) -> None:
    for role in ("operator", "leader", "community"):
        with pytest.raises(NotPermitted):
            _unit(world, lambda s, r=role: client_admin.create_client(s, world.actors[r], ClientInput("x")))
    bad = ClientInput(" ", can_read=False, can_write=False, rate_limit="0/minute", callback_url="ftp://x")
    with pytest.raises(Invalid) as refused:
        _unit(world, lambda s: client_admin.create_client(s, world.actors["admin"], bad))
    keys = {p.key for p in refused.value.details}
    assert keys == {
        "api_clients.err.name",
        "api_clients.err.no_scope",
        "api_clients.err.rate",
        "api_clients.err.url",
    }
    _create(world)
    with pytest.raises(Invalid) as taken:
        _create(world)
    assert [p.key for p in taken.value.details] == ["api_clients.err.name_taken"]
    with world.session() as s:
        assert len(s.exec(select(ApiClient)).all()) == 1


def test_an_edit_moves_the_scope_of_the_client_and_its_user(world: World) -> None:
    issued = _create(world)
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids is None and clients.actor_for(view).role == Role.operator
    data = ClientInput("区12345平台", community_ids=(world.community_ids[0],), rate_limit="10/second")
    changed = _unit(
        world, lambda s: client_admin.update_client(s, world.actors["admin"], issued.client_id, data)
    )
    assert set(changed) == {"community_ids", "rate_limit"}
    same = _unit(
        world, lambda s: client_admin.update_client(s, world.actors["admin"], issued.client_id, data)
    )
    assert same == []
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids == frozenset({world.community_ids[0]})
    assert view.rate_limit == "10/second"
    with world.session() as s:
        user = s.get(User, view.user_id)
        table = client_admin.client_table(s, world.actors["admin"])
    assert user is not None and (user.role, user.community_id) == (Role.community, world.community_ids[0])
    assert list(table["name"]) == ["区12345平台"] and "key_hash" not in table.columns
    assert table.loc[0, "community"] == "测试1社区"


def test_a_client_may_be_limited_to_several_communities_and_moved_back_to_all(world: World) -> None:
    admin = world.actors["admin"]
    first, second = world.community_ids
    with world.session() as s:
        in_first, in_second = add_case(s, world, grid_index=0).id, add_case(s, world, grid_index=2).id
        s.commit()
    issued = _create(world, community_ids=(second, first, second))
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids == frozenset({first, second})
    actor = clients.actor_for(view)
    assert (actor.role, actor.communities) == (Role.community, frozenset({first, second}))
    with world.session() as s:
        assert set(s.exec(select(Case.id).where(case_filter(actor))).all()) == {in_first, in_second}
        user = s.get(User, view.user_id)
        rows = s.exec(select(ApiClientCommunity.community_id)).all()
        table = client_admin.client_table(s, admin)
    assert user is not None and (user.role, user.community_id) == (Role.community, min(first, second))
    assert sorted(rows) == sorted([first, second])
    assert table.loc[0, "community"] == "测试1社区、测试2社区"
    assert table.loc[0, "community_ids"] == tuple(sorted([first, second]))

    def edit(ids: tuple[int, ...] | None) -> list[str]:
        data = ClientInput("区12345平台", community_ids=ids)
        return _unit(world, lambda s: client_admin.update_client(s, admin, issued.client_id, data))

    assert edit((first,)) == ["community_ids"]
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids == frozenset({first})
    with world.session() as s:
        assert s.exec(select(Case.id).where(case_filter(clients.actor_for(view)))).all() == [in_first]
    assert edit(None) == ["community_ids"]
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids is None
    assert clients.actor_for(view).role == Role.operator
    with world.session() as s:
        user = s.get(User, view.user_id)
        assert s.exec(select(ApiClientCommunity)).all() == []
        details = s.exec(
            select(AuditLog.detail).where(AuditLog.action == "api_client_update").order_by(AuditLog.id)
        ).all()
    assert user is not None and (user.role, user.community_id) == (Role.operator, None)
    assert [json.loads(d)["community_ids"] for d in details] == [
        [sorted([first, second]), [first]],
        [[first], []],
    ]
    for ids, problem in (((), "api_clients.err.no_community"), ((first, 10**6), "api_clients.err.community")):
        with pytest.raises(Invalid) as refused:
            edit(ids)
        assert [p.key for p in refused.value.details] == [problem]


def test_a_community_key_sees_its_community_only_and_a_read_only_key_cannot_write(world: World) -> None:
    with world.session() as s:
        mine = add_case(s, world, grid_index=0).id
        other = add_case(s, world, grid_index=2).id
        s.commit()
    scoped = _auth(world, _create(world, name="社区App", community_ids=(world.community_ids[0],)).key)
    whole = _auth(world, _create(world, name="城运中心").key)
    assert scoped is not None and whole is not None
    with world.session() as s:

        def seen(view: clients.ApiClientView) -> set[int]:
            return set(s.exec(select(Case.id).where(case_filter(clients.actor_for(view)))).all())

        assert seen(scoped) == {mine}
        assert seen(whole) == {mine, other}
    with pytest.raises(NotPermitted):
        clients.require_write(whole)


def test_a_write_key_reports_cases_as_itself(world: World) -> None:
    view = _auth(world, _create(world, can_write=True).key)
    assert view is not None
    actor = clients.require_write(view)
    data = NewCase(
        category_id=world.category["ENV"],
        title="井盖缺失",
        source=CaseSource.api,
        grid_id=world.grid_ids[3],
        anonymous=True,
    )

    def post(s: Session) -> tuple[int, str]:
        ref = create_case(s, actor, data)
        token = clients.register_request(s, view, ref.id)
        clients.audit_write(s, view, "/open311/v2/requests.json", ref.number)
        return ref.id, token

    case_id, token = _unit(world, post)
    with world.session() as s:
        assert clients.case_for_token(s, token) == case_id
        assert clients.case_for_token(s, "nope") is None
        assert s.exec(select(ApiRequest.client_id).where(ApiRequest.case_id == case_id)).one() == view.id
        audit_row = s.exec(select(AuditLog).where(AuditLog.action == "api_write")).one()
    assert audit_row.actor_id == view.user_id and audit_row.actor_name == view.username


def test_rate_limits_per_key_and_per_address(world: World) -> None:
    assert [clients.check_rate(1, "10.0.0.1", "3/minute") for _ in range(4)] == [True, True, True, False]
    assert clients.check_rate(2, "10.0.0.1", "3/minute"), "another key counts on its own"
    assert [clients.check_rate(None, "10.0.0.9", "2/minute") for _ in range(3)] == [True, True, False]
    assert clients.check_rate(None, "10.0.0.8", "2/minute"), "another address counts on its own"
    # the limit an administrator set is the one authenticate remembers for the key
    view = _auth(world, _create(world, rate_limit="2/minute").key)
    assert view is not None
    assert [clients.check_rate(view.id, "10.0.0.1") for _ in range(3)] == [True, True, False]


def test_refused_calls_are_audited(world: World) -> None:
    issued = _create(world, name="社区App")
    path = f"/open311/v2/requests.json?api_key={issued.key}"

    def refuse(s: Session) -> None:
        clients.audit_refused(s, None, "203.0.113.7", path, "bad_key")
        clients.audit_refused(s, issued.client_id, "203.0.113.8", path, "read_only")

    _unit(world, refuse)
    with world.session() as s:
        rows = s.exec(select(AuditLog).where(AuditLog.action == "api_refused").order_by(AuditLog.id)).all()
        user_id = s.exec(select(ApiClient.user_id)).one()
    assert [(r.outcome, r.target) for r in rows] == [("denied", "/open311/v2/requests.json")] * 2
    assert issued.key not in " ".join(r.detail + r.target for r in rows), (
        "a key in the query string is not logged"
    )
    assert rows[0].actor_id is None and rows[0].actor_name == "203.0.113.7"
    assert "reason=bad_key" in rows[0].detail and "source=203.0.113.7" in rows[0].detail
    assert (rows[1].actor_id, rows[1].actor_name) == (user_id, "社区App")


def test_last_use_is_written_at_most_once_a_minute(world: World) -> None:
    issued = _create(world)

    def used() -> datetime | None:
        _unit(world, lambda s: clients.record_use(s, issued.client_id))
        with world.session() as s:
            return s.exec(select(ApiClient.last_used_at)).one()

    engine = db.get_engine(world.url)
    assert clients.use_due(engine, issued.client_id)
    assert used() == NOW
    with clock.frozen(NOW + timedelta(seconds=30)):
        assert not clients.use_due(engine, issued.client_id), "a read opens no writer transaction"
        assert used() == NOW
    with clock.frozen(NOW + timedelta(seconds=61)):
        assert clients.use_due(engine, issued.client_id)
        assert used() == NOW + timedelta(seconds=61)


def test_the_migration_moves_a_clients_community_down_and_back(world: World) -> None:
    """0010 turns `api_clients.community_id` into rows of `api_client_communities` (and back, keeping the
    first community), with the client's requests and callbacks kept (SQLite rebuilds the table)."""
    from alembic import command
    from sqlalchemy import inspect

    issued = _create(world, community_ids=(world.community_ids[1],), callback_url="http://127.0.0.1:9/")
    with world.session() as s:
        case_id = add_case(s, world, grid_index=2).id
        s.add(ApiRequest(case_id=case_id, client_id=issued.client_id, token="tok", created_at=NOW))  # type: ignore[arg-type]
        s.add(
            ApiCallback(
                client_id=issued.client_id, case_id=case_id, payload="{}", created_at=NOW, next_attempt_at=NOW
            )  # type: ignore[arg-type]
        )
        s.commit()
    engine = db.get_engine(world.url)
    cfg = db.alembic_config(world.url)

    def migrate(step: Callable[..., None], revision: str) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, revision)

    migrate(command.downgrade, "0009")
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT community_id FROM api_clients").scalar_one()
            == world.community_ids[1]
        )
        assert not inspect(conn).has_table("api_client_communities")
    migrate(command.upgrade, "head")
    view = _auth(world, issued.key)
    assert view is not None and view.community_ids == frozenset({world.community_ids[1]})
    with world.session() as s:
        assert s.exec(select(ApiRequest.token)).all() == ["tok"]
        assert [c.case_id for c in s.exec(select(ApiCallback)).all()] == [case_id]
