"""Outbound status callbacks (issue 24): a status change of a case from the API is queued in the change's own
transaction and nothing is sent there; a deliverer claims the row, posts it signed to the client's server
(a real local HTTP server here), retries failures with back-off, gives up after the last attempt and lists
it; two deliverers never post the same row."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session, select

from dashboard import clock, db
from dashboard.api import callbacks, client_admin, clients
from dashboard.api.client_admin import ClientInput, IssuedKey
from dashboard.cases.change import change_case
from models import AuditLog
from models.api_client import ApiCallback
from tests.factories import World, add_case
from tests.unit.api.open311_helpers import Receiver

NOW = datetime(2026, 11, 20, 10, 0)
pytestmark = pytest.mark.world(frozen_at=NOW)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """No background worker in these tests (they deliver themselves): the wake-ups it would have had."""
    calls: list[object] = []
    monkeypatch.setattr(callbacks, "start_worker", calls.append)
    return calls


def _engine(w: World):  # type: ignore[no-untyped-def]
    return db.get_engine(w.url)


def _api_case(w: World, url: str) -> tuple[int, IssuedKey]:
    """A case reported by a write client whose callback URL is `url`."""
    data = ClientInput("区12345平台", can_write=True, callback_url=url)
    issued = db.run_unit(lambda s: client_admin.create_client(s, w.actors["admin"], data), _engine(w))
    with w.session() as s:
        view = clients.authenticate(s, issued.key)
        assert view is not None
        case_id = add_case(s, w, grid_index=0, reported_at=NOW - timedelta(hours=1)).id
        clients.register_request(s, view, case_id)  # type: ignore[arg-type]
        s.commit()
    return case_id, issued  # type: ignore[return-value]


def _accept(w: World, case_id: int, version: int = 1, note: str = "已受理，转城管处置") -> None:
    db.run_unit(lambda s: change_case(s, w.actors["operator"], case_id, version, "accept", note), _engine(w))


def _rows(w: World) -> list[ApiCallback]:
    with w.session() as s:
        return list(s.exec(select(ApiCallback).order_by(ApiCallback.id)).all())


def test_a_change_queues_the_callback_in_its_transaction_and_sends_nothing(world: World, woken: list) -> None:
    # A server that takes the connection and never answers: a delivery inside the change would hang on it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        case_id, _ = _api_case(world, f"http://127.0.0.1:{silent.getsockname()[1]}/never-answers")
        started = time.perf_counter()
        _accept(world, case_id)
        assert time.perf_counter() - started < callbacks.TIMEOUT_SECONDS / 2
    [row] = _rows(world)
    assert (row.case_id, row.attempts, row.delivered_at, row.next_attempt_at) == (case_id, 0, None, NOW)
    payload = json.loads(row.payload)
    assert payload["status"] == "open" and payload["status_notes"].endswith("已受理，转城管处置")
    assert payload["token"] and payload["service_request_id"].startswith("TS")
    assert payload["service_code"] == "ENV" and payload["requested_datetime"] == "2026-11-20T09:00:00+08:00"
    assert "reporter_name" not in payload and "reporter_phone" not in payload
    assert len(woken) == 1, "the deliverer is woken once the change has committed"

    # a change that is rolled back queues nothing and wakes nobody
    def fails(s: Session) -> None:
        change_case(s, world.actors["operator"], case_id, 2, "dispatch", "", lambda *_: ({}, {}))
        raise RuntimeError("the unit of work fails after the change")

    with pytest.raises(RuntimeError):
        db.run_unit(fails, _engine(world))
    assert len(_rows(world)) == 1 and len(woken) == 1


def test_a_case_not_from_the_api_or_without_a_callback_queues_nothing(world: World, woken: list) -> None:
    with world.session() as s:
        plain = add_case(s, world, grid_index=0).id
        s.commit()
    _accept(world, plain)  # type: ignore[arg-type]
    no_url, _ = _api_case(world, "")
    _accept(world, no_url)
    assert _rows(world) == [] and woken == []


def test_the_callback_is_posted_signed_once(world: World, woken: list, receiver: Receiver) -> None:
    case_id, issued = _api_case(world, receiver.url)
    _accept(world, case_id)
    assert callbacks.deliver_due(_engine(world)) == 1
    [(headers, body)] = receiver.posts
    expected = "sha256=" + hmac.new(issued.callback_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers[callbacks.SIGNATURE_HEADER] == expected
    sent = json.loads(body)
    assert sent["status"] == "open" and sent["service_request_id"].startswith("TS")
    [row] = _rows(world)
    assert row.delivered_at == NOW and row.attempts == 1 and row.claimed_at is None
    assert headers[callbacks.DELIVERY_HEADER] == str(row.id)
    assert callbacks.deliver_due(_engine(world)) == 0 and len(receiver.posts) == 1, "never twice"
    assert callbacks.seconds_to_next(_engine(world)) is None


def test_a_failing_callback_backs_off_gives_up_is_listed_and_retried(
    world: World, woken: list, receiver: Receiver
) -> None:
    engine = _engine(world)
    case_id, _ = _api_case(world, receiver.url)
    _accept(world, case_id)
    receiver.status = 503
    assert callbacks.deliver_due(engine) == 0
    [row] = _rows(world)
    assert (row.attempts, row.last_error, row.next_attempt_at) == (1, "http:503", NOW + timedelta(seconds=30))
    assert callbacks.deliver_due(engine) == 0 and len(receiver.posts) == 1, "not due before the back-off"
    assert callbacks.seconds_to_next(engine) == 30
    with clock.frozen(NOW + timedelta(seconds=30)):
        callbacks.deliver_due(engine)
    [row] = _rows(world)
    assert (row.attempts, row.next_attempt_at) == (2, NOW + timedelta(seconds=90)), "the pause doubles"
    with world.session() as s:
        listed = client_admin.failed_callbacks(s, world.actors["admin"])
    assert list(listed["attempts"]) == [2] and pd.isna(listed.loc[0, "failed_at"])

    # the remaining attempts, each when due, without the network: then it is given up
    at = NOW + timedelta(seconds=90)
    for attempt in range(3, callbacks.MAX_ATTEMPTS + 1):
        with clock.frozen(at):
            callbacks.deliver_due(engine, post=lambda *_: 500)
        at += callbacks.backoff(attempt)
    [row] = _rows(world)
    assert row.attempts == callbacks.MAX_ATTEMPTS and row.failed_at is not None
    assert callbacks.seconds_to_next(engine) is None, "given up: nothing pending"
    with world.session() as s:
        listed = client_admin.failed_callbacks(s, world.actors["admin"])
    assert list(listed["id"]) == [row.id] and pd.notna(listed.loc[0, "failed_at"])

    # an administrator retries it; the client's server is back
    receiver.status = 200
    db.run_unit(lambda s: client_admin.retry_callback(s, world.actors["admin"], row.id), engine)  # type: ignore[arg-type]
    assert callbacks.deliver_due(engine) == 1
    [row] = _rows(world)
    assert row.delivered_at is not None and row.failed_at is None
    with world.session() as s:
        assert client_admin.failed_callbacks(s, world.actors["admin"]).empty
        assert s.exec(select(AuditLog.action).where(AuditLog.action == "api_callback_retry")).all()


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(world: World, woken: list) -> None:
    engine = _engine(world)
    case_id, _ = _api_case(world, "http://127.0.0.1:9/")
    _accept(world, case_id)
    first = callbacks.claim_due(engine, "replica-a")
    assert len(first) == 1
    assert callbacks.claim_due(engine, "replica-b") == [], "another replica does not get the claimed row"
    late = NOW + timedelta(seconds=callbacks.LEASE_SECONDS + 1)
    with clock.frozen(late):
        assert [i for i, _ in callbacks.claim_due(engine, "replica-b")] == [first[0][0]], (
            "a dead claim lapses"
        )
        # the first claimant finishing late changes nothing: the row is no longer its own
        callbacks._finish(engine, first[0][0], "replica-a", first[0][1], None)
    [row] = _rows(world)
    assert row.delivered_at is None and row.claimed_by == "replica-b"


def test_concurrent_deliverers_post_each_row_once(world: World, woken: list, receiver: Receiver) -> None:
    engine = _engine(world)
    case_id, _ = _api_case(world, receiver.url)
    _accept(world, case_id)
    with world.session() as s:  # four more changes of the same client's cases waiting
        client_id = s.exec(select(ApiCallback.client_id)).one()
        for _ in range(4):
            other = add_case(s, world, grid_index=1).id
            s.add(
                ApiCallback(
                    client_id=client_id, case_id=other, payload="{}", created_at=NOW, next_attempt_at=NOW
                )
            )
        s.commit()
    threads = [threading.Thread(target=callbacks.deliver_due, args=(engine,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    delivered = [r for r in _rows(world) if r.delivered_at is not None]
    assert len(delivered) == 5 and len(receiver.posts) == 5
    assert sorted(h[callbacks.DELIVERY_HEADER] for h, _ in receiver.posts) == sorted(
        str(r.id) for r in delivered
    )


def test_the_worker_thread_delivers_after_the_commit_and_stops(world: World, receiver: Receiver) -> None:
    case_id, _ = _api_case(world, receiver.url)
    _accept(world, case_id)  # wakes (starts) this process's worker for the database once committed
    assert receiver.got.wait(timeout=15), "the worker posted the callback"
    deadline = time.monotonic() + 15
    while callbacks._workers and time.monotonic() < deadline:
        thread = next(iter(callbacks._workers.values()))[0]
        thread.join(timeout=1)
    assert not callbacks._workers, "nothing pending: the worker thread ended"
    assert _rows(world)[0].delivered_at is not None
    assert callbacks.resume_pending(_engine(world)) is False, "nothing pending at start: no thread"


def test_the_command_delivers_what_is_due(world: World, woken: list, receiver: Receiver, capsys) -> None:  # type: ignore[no-untyped-def]
    from dashboard.cli import main

    case_id, _ = _api_case(world, receiver.url)
    _accept(world, case_id)
    assert main(["api", "deliver", "--database-url", world.url]) == 0
    assert "delivered 1; none pending" in capsys.readouterr().out
    assert len(receiver.posts) == 1 and _rows(world)[0].delivered_at is not None
