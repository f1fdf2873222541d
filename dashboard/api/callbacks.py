"""Status changes pushed back to the systems that reported the cases (Open311 outbound callbacks).

A change of status of a case that came in over the API (:class:`~models.api_client.ApiRequest`) adds one
``api_callbacks`` row in the change's own transaction (:func:`enqueue_status_change`, called by the one
change function): a row insert, nothing sent, so a user's action is never blocked or slowed by a client's
server. Delivery happens afterwards, outside any user's request:

- a background thread of the app process (:func:`start_worker`), woken when a transaction that enqueued a
  callback commits and started once per database at app start when rows are waiting; it stops when nothing
  is left to deliver, so an idle process runs no thread;
- or ``python -m dashboard api deliver`` (one pass, or ``--loop``), e.g. from a timer.

A deliverer first *claims* a due row with ``UPDATE … WHERE id = :id AND (claimed_at IS NULL OR claimed_at
< :lease_expired)``: on SQLite writers are serialised, on PostgreSQL the second of two concurrent UPDATEs
re-checks the condition on the row the first one wrote and changes nothing, so two replicas never post the
same row (a deliverer that died holding a claim loses it after :data:`LEASE_SECONDS`). It posts the JSON
with an HMAC-SHA256 signature of the body under the client's callback secret in :data:`SIGNATURE_HEADER`,
waits at most :data:`TIMEOUT_SECONDS`, and on failure schedules the next attempt with exponential back-off;
after :data:`MAX_ATTEMPTS` the row is given up and listed on the API clients page, where it can be retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from dashboard import clock
from dashboard.db import session_scope
from dashboard.i18n import t_plain
from dashboard.io.open311 import request_item, request_select
from dashboard.kernel.errors import DomainError
from models import Case, CaseEvent
from models.api_client import ApiCallback, ApiClient, ApiRequest

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
"""The pause after the first failure; it doubles after each further one (30 s, 1 min, 2 min … )."""
BACKOFF_CAP_SECONDS = 3600
LEASE_SECONDS = 120
"""How long a claim holds: a deliverer that died after claiming frees its rows after this. Longer than a
pass takes at worst (:data:`BATCH` posts of :data:`TIMEOUT_SECONDS` each), so a live claim never lapses."""
TIMEOUT_SECONDS = 5.0
BATCH = 10
"""Rows one pass claims at most (the rest wait for the next pass)."""
IDLE_POLL_SECONDS = 30.0
"""The longest a worker sleeps between passes while rows are pending."""
MAX_DB_FAILURES = 10
"""Passes in a row that fail on the database before a worker thread ends."""
SIGNATURE_HEADER = "X-Grid-Signature"
"""``sha256=<hex HMAC-SHA256 of the body under the client's callback secret>``."""
DELIVERY_HEADER = "X-Grid-Delivery"
"""The callback's id: a receiver can drop a repeat (delivery is at least once)."""
ERROR_KINDS = ("http", "timeout", "unreachable", "bad_url", "revoked")
"""What `last_error` starts with (before any ``:``): an HTTP status other than 2xx, no answer in time, no
connection, a URL that is not http(s), a client revoked or without a callback URL since."""

Post = Callable[[str, bytes, dict[str, str]], int]
"""Sends a body to a URL with headers and returns the HTTP status (raises OSError on a network failure)."""


# ---------------------------------------------------------------- enqueue (inside the change's transaction)


def request_payload(session: Session, case_id: int, unmasked: bool, note: str) -> dict[str, Any]:
    """The case as the Open311 service request ``GET requests/{id}`` answers (the export's representation,
    :func:`dashboard.io.open311.request_item`, in Chinese), with the token of the POST and the change's note
    in ``status_notes``. Personal data (the exact address) only for a client that may see it."""
    row = session.exec(request_select().where(Case.id == case_id)).one()
    item = request_item(row, "zh", unmasked)
    if note:
        item["status_notes"] = t_plain(
            "open311.status_with_note", "zh", status=item["status_notes"], note=note
        )
    token = session.exec(select(ApiRequest.token).where(ApiRequest.case_id == case_id)).first()
    return {**item, "token": token}


_outbox: dict[str, bool] = {}


def _has_outbox(session: Session) -> bool:
    """Whether the database has the API's tables (checked once per process and database). One stamped at
    revision 0008 while that revision was still an empty placeholder (databases built during this release's
    development, such as the benchmark ones) lacks them; its case changes must go through all the same, with
    a warning that no callbacks are kept until the tables exist."""
    key = _key(session.get_bind().engine)
    found = _outbox.get(key)
    if found is None:
        found = _outbox[key] = inspect(session.connection()).has_table("api_requests")
        if not found:
            log.warning("no api_requests table in %s: status callbacks are not kept", key.split("@")[-1])
    return found


def enqueue_status_change(session: Session, case_id: int) -> bool:
    """Store the callback for a status change of `case_id` if the case came from a client with a callback
    URL (in the caller's transaction; nothing is sent here). Returns whether a row was added."""
    if not _has_outbox(session):
        return False
    target = session.exec(
        select(ApiClient.id, ApiClient.sees_personal_data)
        .join(ApiRequest, ApiRequest.client_id == ApiClient.id)
        .where(ApiRequest.case_id == case_id, ApiClient.callback_url != "", ApiClient.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if target is None:
        return False
    client_id, unmasked = target
    note = session.exec(
        select(CaseEvent.note).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc()).limit(1)
    ).first()
    now = clock.now()
    payload = json.dumps(
        request_payload(session, case_id, unmasked, note or ""), ensure_ascii=False, sort_keys=True
    )
    session.add(
        ApiCallback(
            client_id=client_id, case_id=case_id, payload=payload, created_at=now, next_attempt_at=now
        )
    )
    wake_after_commit(session)
    return True


def wake_after_commit(session: Session) -> None:
    """Have this process deliver once `session`'s transaction commits (nothing happens on a rollback)."""
    if session.info.get("api_callbacks_wake"):
        return
    session.info["api_callbacks_wake"] = True
    engine = session.get_bind().engine

    def wake(_session: Session) -> None:
        session.info.pop("api_callbacks_wake", None)
        start_worker(engine)

    event.listen(session, "after_commit", wake, once=True)


# ---------------------------------------------------------------- delivery


def signature(secret: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failed attempt."""
    return timedelta(seconds=min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)))


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` and return the status (4xx/5xx too); OSError when the server cannot be reached in time."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("callback URL must be http or https")  # urllib would open file:// too
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def _due(now: datetime):  # type: ignore[no-untyped-def]
    """The condition of a row a deliverer may claim now."""
    lease_expired = now - timedelta(seconds=LEASE_SECONDS)
    return (
        ApiCallback.delivered_at.is_(None),  # type: ignore[union-attr]
        ApiCallback.failed_at.is_(None),  # type: ignore[union-attr]
        ApiCallback.next_attempt_at <= now,
        or_(ApiCallback.claimed_at.is_(None), ApiCallback.claimed_at < lease_expired),  # type: ignore[union-attr]
    )


def claim_due(engine: Engine, worker: str, limit: int = BATCH) -> list[tuple[int, datetime]]:
    """Claim up to `limit` due rows for `worker`: (id, claim time) of each row this call won."""
    now = clock.now()
    with session_scope(engine, write=True) as session:
        ids = session.exec(
            select(ApiCallback.id)
            .where(*_due(now))
            .order_by(ApiCallback.next_attempt_at, ApiCallback.id)
            .limit(limit)
        ).all()
        won: list[tuple[int, datetime]] = []
        for callback_id in ids:
            stmt = (
                update(ApiCallback)
                .where(ApiCallback.id == callback_id, *_due(now))
                .values(claimed_at=now, claimed_by=worker)
            )
            if session.exec(stmt.execution_options(synchronize_session=False)).rowcount == 1:  # type: ignore[call-overload]
                won.append((callback_id, now))  # type: ignore[arg-type]
    return won


def _finish(engine: Engine, callback_id: int, worker: str, claimed: datetime, error: str | None) -> None:
    """Record a delivery (`error` None) or a failed attempt, if the claim is still ours."""
    now = clock.now()
    with session_scope(engine, write=True) as session:
        row = session.exec(
            select(ApiCallback).where(
                ApiCallback.id == callback_id,
                ApiCallback.claimed_by == worker,
                ApiCallback.claimed_at == claimed,
            )
        ).first()
        if row is None:
            return
        row.claimed_at = None
        row.claimed_by = ""
        row.attempts += 1
        if error is None:
            row.delivered_at = now
            row.last_error = ""
        else:
            row.last_error = error[:300]
            if row.attempts >= MAX_ATTEMPTS:
                row.failed_at = now
            else:
                row.next_attempt_at = now + backoff(row.attempts)
        session.add(row)


def _failure(exc: Exception) -> str:
    """A failed post as stored in `last_error`: a kind the admin page names, then the technical detail."""
    if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
        return "timeout"
    if isinstance(exc, ValueError):
        return f"bad_url:{exc}"
    return f"unreachable:{exc}"


def _attempt(engine: Engine, callback_id: int, post: Post) -> str | None:
    """Post one claimed row; None when the client answered 2xx, else what went wrong (see `ERROR_KINDS`)."""
    with session_scope(engine) as session:
        row = session.exec(
            select(
                ApiCallback.payload, ApiClient.callback_url, ApiClient.callback_secret, ApiClient.revoked_at
            )
            .join(ApiClient, ApiClient.id == ApiCallback.client_id)
            .where(ApiCallback.id == callback_id)
        ).one()
    payload, url, secret, revoked = row
    if revoked is not None or not url:
        return "revoked"
    body = payload.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(secret, body),
        DELIVERY_HEADER: str(callback_id),
        "User-Agent": "grid-dashboard-open311-callback",
    }
    try:
        status = post(url, body, headers)
    except (OSError, ValueError) as exc:
        return _failure(exc)
    return None if 200 <= status < 300 else f"http:{status}"


def deliver_due(engine: Engine, post: Post = http_post) -> int:
    """One pass: claim the due rows, post each, record the outcome. Returns how many were delivered."""
    worker = _worker_id()
    delivered = 0
    for callback_id, claimed in claim_due(engine, worker):
        error = _attempt(engine, callback_id, post)
        _finish(engine, callback_id, worker, claimed, error)
        delivered += error is None
    return delivered


def seconds_to_next(engine: Engine) -> float | None:
    """Seconds until a pending row may be attempted (0: now), or None when nothing is pending."""
    now = clock.now()
    with session_scope(engine) as session:
        rows = session.exec(
            select(ApiCallback.next_attempt_at, ApiCallback.claimed_at)
            .where(ApiCallback.delivered_at.is_(None), ApiCallback.failed_at.is_(None))  # type: ignore[union-attr]
            .order_by(ApiCallback.next_attempt_at)
            .limit(BATCH)
        ).all()
    if not rows:
        return None
    lease = timedelta(seconds=LEASE_SECONDS)
    soonest = min(max(due, claimed + lease) if claimed else due for due, claimed in rows)
    return max(0.0, (soonest - now).total_seconds())


# ---------------------------------------------------------------- the background worker

_lock = threading.Lock()
_workers: dict[str, tuple[threading.Thread, threading.Event]] = {}


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _run(engine: Engine, key: str, wake: threading.Event) -> None:
    failures = 0
    while True:
        wake.clear()
        try:
            deliver_due(engine)
            delay = seconds_to_next(engine)
            failures = 0
        except (SQLAlchemyError, DomainError):  # a database hiccup (Busy …) must not end delivery: later
            failures += 1
            # …but a database that stays away (dropped, moved) ends it: the next enqueue or start wakes one
            delay = None if failures >= MAX_DB_FAILURES else IDLE_POLL_SECONDS
        if delay is None:
            with _lock:
                if not wake.is_set():
                    _workers.pop(key, None)
                    return
            continue
        wake.wait(min(delay, IDLE_POLL_SECONDS))


def start_worker(engine: Engine) -> bool:
    """Make sure this process delivers for `engine`'s database: wake its worker thread, or start one.
    Idempotent; returns whether a thread was started."""
    key = _key(engine)
    with _lock:
        running = _workers.get(key)
        if running is not None and running[0].is_alive():
            running[1].set()
            return False
        wake = threading.Event()
        thread = threading.Thread(target=_run, args=(engine, key, wake), name="api-callbacks", daemon=True)
        _workers[key] = (thread, wake)
        thread.start()
    return True


_resumed: set[str] = set()


def resume_pending(engine: Engine) -> bool:
    """Once per process and database, at app start: start the worker when rows are waiting (left by a
    restart, or enqueued by a replica that stopped). Returns whether a thread was started."""
    key = _key(engine)
    with _lock:
        if key in _resumed:
            return False
        _resumed.add(key)
    if not inspect(engine).has_table("api_callbacks"):  # see _has_outbox
        return False
    return seconds_to_next(engine) is not None and start_worker(engine)
