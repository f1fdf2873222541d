"""Login hardening (DESIGN §9): failures counted atomically in the database under parallel attempts (threads
and processes), delays per (username, address) and per address instead of a lock strangers can set off,
one answer for unknown users, wrong passwords and throttled attempts, the administrator's unlock, the
client address behind a trusted proxy, single sign-on only with a verified e-mail, and a hash of its own
for every seeded demo user."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import inspect
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import auth, throttle, users
from dashboard.admin.users import UserInput
from dashboard.db import alembic_config, get_engine
from models import AuditLog, LoginAttempt, User
from models.enums import Role

T0 = datetime(2026, 11, 20, 9, 0)
PASSWORD = "Grid2026pass"
WRONG = "wrong-password1"
HOME, ATTACKER = "10.0.0.7", "203.0.113.66"
LIMIT = throttle.FREE_FAILURES

_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Parallel tests check 40 passwords; with these parameters each check takes a millisecond, not a second.
The dummy hash of unknown users gets the same parameters (as in production: one hasher for both)."""


# ---------------------------------------------------------------- helpers


def _alice_and_root(url: str) -> None:
    with Session(get_engine(url)) as s:
        users.create_user(s, None, "alice", PASSWORD, UserInput("Alice", Role.operator))
        users.create_user(s, None, "root", "Boss2026pass", UserInput("Root", Role.admin))
        s.commit()


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    """alice and root, with the production hasher."""
    _alice_and_root(db_url)
    with clock.frozen(T0):
        yield db_url


@pytest.fixture
def cheap_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """alice and root, with a quick hasher (for the dummy hash too)."""
    monkeypatch.setattr(auth, "_hasher", _CHEAP)
    monkeypatch.setattr(auth, "_DUMMY_HASH", _CHEAP.hash("dummy"))
    _alice_and_root(db_url)
    with clock.frozen(T0):
        yield db_url


def _login(url: str, username: str, password: str, source: str = HOME) -> auth.LoginResult:
    return auth.authenticate(username, password, source=source, engine=get_engine(url))


def _outcomes(url: str, target: str | None = None) -> list[str]:
    with Session(get_engine(url)) as s:
        stmt = select(AuditLog.outcome).where(AuditLog.action == "login").order_by(AuditLog.id)
        if target is not None:
            stmt = stmt.where(AuditLog.target == target)
        return list(s.exec(stmt).all())


def _row(url: str, username: str, source: str) -> LoginAttempt | None:
    with Session(get_engine(url)) as s:
        return s.get(LoginAttempt, (username, source))


def _in_parallel(n: int, attempt: Callable[[int], auth.LoginResult]) -> list[auth.LoginResult]:
    """`attempt(i)` for i in range(n), all released at once from n threads."""
    barrier = threading.Barrier(n)

    def run(i: int) -> auth.LoginResult:
        barrier.wait()
        return attempt(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


# ---------------------------------------------------------------- finding 1: parallel attempts


def test_parallel_wrong_guesses_are_counted_exactly_and_the_limit_holds(cheap_url: str) -> None:
    results = _in_parallel(40, lambda i: _login(cheap_url, "alice", WRONG))
    assert {(r.actor, r.error) for r in results} == {(None, "failed")}
    # Exactly LIMIT guesses were checked; the other 35 were refused before any password check.
    assert Counter(_outcomes(cheap_url)) == {"failed": LIMIT, "throttled": 40 - LIMIT}
    row = _row(cheap_url, "alice", HOME)
    assert row is not None and row.failures == LIMIT
    assert row.blocked_until == T0 + throttle.BASE_DELAY
    assert _login(cheap_url, "alice", PASSWORD).actor is None  # the lock applies to the right password too
    with clock.frozen(T0 + throttle.BASE_DELAY):
        assert _login(cheap_url, "alice", PASSWORD).actor is not None


def test_the_right_password_sent_while_the_limit_is_reached_does_not_get_in(
    cheap_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """39 wrong guesses and the right one in parallel; the right one is sent once LIMIT wrong guesses are
    being checked (counted, not finished): it is refused, as is every guess after them."""
    checking, real_verify = threading.Semaphore(0), auth.verify_password

    def slow_verify(password_hash: str, password: str) -> bool:
        if password == WRONG:
            checking.release()
            time.sleep(0.3)  # still checking when the right password arrives
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", slow_verify)

    def attempt(i: int) -> auth.LoginResult:
        if i == 0:
            for _ in range(LIMIT):
                checking.acquire(timeout=30)
            return _login(cheap_url, "alice", PASSWORD)
        return _login(cheap_url, "alice", WRONG)

    results = _in_parallel(40, attempt)
    assert results[0].actor is None and results[0].error == "failed"
    assert all(r.actor is None for r in results)
    assert Counter(_outcomes(cheap_url)) == {"failed": LIMIT, "throttled": 40 - LIMIT}
    row = _row(cheap_url, "alice", HOME)
    assert row is not None and row.failures == LIMIT


def test_thirty_nine_wrong_and_one_right_in_parallel(cheap_url: str) -> None:
    """Released together, the right password gets in only if it is among the first LIMIT attempts; either
    way no more than LIMIT wrong guesses are checked before it, and the count is exact."""
    results = _in_parallel(40, lambda i: _login(cheap_url, "alice", PASSWORD if i == 20 else WRONG))
    outcomes = Counter(_outcomes(cheap_url))
    assert outcomes["failed"] + outcomes["throttled"] + outcomes["ok"] == 40
    row = _row(cheap_url, "alice", HOME)
    if results[20].actor is None:
        assert outcomes == {"failed": LIMIT, "throttled": 40 - LIMIT}
        assert row is not None and row.failures == LIMIT
    else:
        # Up to LIMIT - 1 guesses before it, and the count starts afresh after it: at most LIMIT more.
        assert outcomes["ok"] == 1 and outcomes["failed"] <= 2 * LIMIT - 1
        assert row is None or row.failures <= LIMIT


def _attempts_in_a_process(url: str, dummy_hash: str, passwords: list[str], barrier) -> list[str]:  # type: ignore[no-untyped-def]
    """Run in a child process: one thread per password, all released with the other processes' threads."""
    from dashboard.admin import auth as child_auth
    from dashboard.db import get_engine as child_engine

    child_auth._DUMMY_HASH = dummy_hash
    engine = child_engine(url)
    engine.connect().close()
    barrier.wait(timeout=60)
    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        results = pool.map(
            lambda pw: child_auth.authenticate("alice", pw, source=HOME, engine=engine), passwords
        )
        return [r.error or r.actor.username for r in results]  # type: ignore[union-attr]


def test_parallel_guesses_from_several_processes(cheap_url: str) -> None:
    """4 processes × 10 threads, as replicas of the app behind a load balancer would send them."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(4)
        with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
            futures = [
                pool.submit(_attempts_in_a_process, cheap_url, auth._DUMMY_HASH, [WRONG] * 10, barrier)
                for _ in range(4)
            ]
            answers = [a for f in futures for a in f.result(timeout=300)]
    assert answers == ["failed"] * 40
    assert Counter(_outcomes(cheap_url)) == {"failed": LIMIT, "throttled": 40 - LIMIT}
    row = _row(cheap_url, "alice", HOME)
    assert row is not None and row.failures == LIMIT and row.blocked_until is not None
    with clock.frozen(row.blocked_until - timedelta(seconds=1)):  # the children ran on the real clock
        assert _login(cheap_url, "alice", PASSWORD).actor is None


def test_one_address_gets_a_limited_number_of_guesses_across_usernames(cheap_url: str) -> None:
    n = throttle.SOURCE_LIMIT + 10
    results = _in_parallel(n, lambda i: _login(cheap_url, f"guess{i}", WRONG, ATTACKER))
    assert {r.error for r in results} == {"failed"}
    assert Counter(_outcomes(cheap_url)) == {"failed": throttle.SOURCE_LIMIT, "throttled": 10}
    # Even a right password is refused from that address now; from another address it is not.
    assert _login(cheap_url, "alice", PASSWORD, ATTACKER).actor is None
    assert _login(cheap_url, "alice", PASSWORD, HOME).actor is not None
    with clock.frozen(T0 + throttle.SOURCE_WINDOW):
        assert _login(cheap_url, "alice", PASSWORD, ATTACKER).actor is not None


def test_a_successful_login_takes_back_only_its_own_attempt_from_the_address(cheap_url: str) -> None:
    for i in range(throttle.SOURCE_LIMIT - 1):
        _login(cheap_url, f"nobody{i}", WRONG)
    assert _login(cheap_url, "alice", PASSWORD).actor is not None
    row = _row(cheap_url, throttle.ANY_USER, HOME)
    assert row is not None and row.failures == throttle.SOURCE_LIMIT - 1
    _login(cheap_url, "nobody", WRONG)  # the limit's failure: the address waits
    assert _login(cheap_url, "alice", PASSWORD).actor is None
    assert _outcomes(cheap_url)[-1] == "throttled"


# ---------------------------------------------------------------- finding 6: enumeration, lock-out of others


def test_unknown_user_wrong_password_and_throttled_get_one_answer_after_one_check(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real_verify = auth.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting_verify)
    with Session(get_engine(url)) as s:
        s.add(LoginAttempt(username="carol", source=HOME, failures=9, window_started_at=T0,
                           last_failure_at=T0, blocked_until=T0 + timedelta(minutes=5)))  # fmt: skip
        users.create_user(s, None, "carol", PASSWORD, UserInput("Carol", Role.operator))
        s.commit()
    answers = {
        "unknown user": _login(url, "nobody", WRONG),
        "wrong password": _login(url, "alice", WRONG),
        "throttled, right password": _login(url, "carol", PASSWORD),
    }
    assert set(answers.values()) == {auth.LoginResult(None, "failed")}
    # One argon2 check each, all with the same parameters: the time taken does not tell them apart.
    assert len(checked) == 3
    parameters = [extract_parameters(h) for h in checked]
    assert all(p == parameters[0] for p in parameters)
    assert _outcomes(url) == ["failed", "failed", "throttled"]


def test_an_unknown_username_is_throttled_like_an_existing_one(cheap_url: str) -> None:
    url = cheap_url
    for name in ("alice", "nobody"):
        answers = [_login(url, name, WRONG).error for _ in range(LIMIT + 1)]
        assert answers == ["failed"] * (LIMIT + 1)
        assert _outcomes(url, name) == ["failed"] * LIMIT + ["throttled"]


def test_a_stranger_cannot_lock_the_admin_out(cheap_url: str) -> None:
    url = cheap_url
    for _ in range(LIMIT + 3):
        _login(url, "root", WRONG, ATTACKER)
    assert _outcomes(url, "root")[-1] == "throttled"
    result = _login(url, "root", "Boss2026pass", HOME)
    assert result.actor is not None and result.actor.username == "root"
    assert _login(url, "root", "Boss2026pass", ATTACKER).actor is None


def test_the_delay_doubles_with_each_failure_up_to_a_cap(cheap_url: str) -> None:
    url = cheap_url
    now, delays = T0, []
    for _ in range(LIMIT - 1):
        assert _login(url, "alice", WRONG, ATTACKER).error == "failed"
    for _ in range(6):
        with clock.frozen(now):
            _login(url, "alice", WRONG, ATTACKER)
            row = _row(url, "alice", ATTACKER)
            assert row is not None and row.blocked_until is not None
            delays.append(row.blocked_until - now)
            assert _login(url, "alice", PASSWORD, ATTACKER).actor is None  # waits, even with the password
        now = row.blocked_until
    assert [d // timedelta(minutes=1) for d in delays] == [1, 2, 4, 8, 15, 15]
    assert set(_outcomes(url)[LIMIT::2]) == {"throttled"}  # every attempt while waiting was refused
    with clock.frozen(now):
        assert _login(url, "alice", PASSWORD, ATTACKER).actor is not None
        assert _row(url, "alice", ATTACKER) is None  # a right password starts the count afresh


def test_admin_sees_the_delay_and_unlocks(cheap_url: str) -> None:
    url = cheap_url
    for _ in range(LIMIT):
        _login(url, "alice", WRONG, ATTACKER)
    for i in range(throttle.SOURCE_LIMIT - LIMIT):
        _login(url, f"x{i}", WRONG, ATTACKER)
    assert _login(url, "alice", PASSWORD, ATTACKER).actor is None
    with Session(get_engine(url)) as s:
        admin = auth.actor_of(s.exec(select(User).where(User.username == "root")).one())
        alice = next(u for u in users.list_users(s, admin) if u.username == "alice")
        assert alice.locked_until == T0 + throttle.BASE_DELAY
        users.unlock(s, admin, alice.id)
        users.unlock(s, admin, alice.id)  # nothing left to lift: no second audit row
        s.commit()
        assert next(u for u in users.list_users(s, admin) if u.username == "alice").locked_until is None
        assert s.exec(select(AuditLog.target).where(AuditLog.action == "user_unlock")).all() == ["alice"]
    # The address's own delay went too: alice gets in from there at once.
    assert _login(url, "alice", PASSWORD, ATTACKER).actor is not None


def test_a_password_reset_lifts_the_delays(cheap_url: str) -> None:
    url = cheap_url
    for _ in range(LIMIT):
        _login(url, "alice", WRONG)
    with Session(get_engine(url)) as s:
        admin = auth.actor_of(s.exec(select(User).where(User.username == "root")).one())
        users.reset_password(s, admin, users.find_by_username(s, "alice") or 0, "Fresh2026pass")
        s.commit()
    assert _login(url, "alice", "Fresh2026pass").actor is not None


def test_username_case_and_blanks_do_not_give_more_guesses(cheap_url: str) -> None:
    url = cheap_url
    for name in ("alice", "Alice", " ALICE ", "alicE", "aLice"):
        _login(url, name, WRONG)
    row = _row(url, "alice", HOME)
    assert row is not None and row.failures == LIMIT and row.blocked_until is not None


# ---------------------------------------------------------------- the client's address


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        (None, None, 0, "local"),  # Streamlit gives no address for loopback
        ("198.51.100.4", None, 0, "198.51.100.4"),
        ("198.51.100.4", "1.2.3.4", 0, "198.51.100.4"),  # no trusted proxy: the header is ignored
        ("10.0.0.2", "198.51.100.9", 1, "198.51.100.9"),
        # The proxy appends the address it saw; what the client wrote before it is not believed.
        ("10.0.0.2", "6.6.6.6, 7.7.7.7, 198.51.100.9", 1, "198.51.100.9"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.9, 10.0.0.1", 2, "198.51.100.9"),
        ("10.0.0.2", "not-an-address", 1, "10.0.0.2"),
        ("10.0.0.2", "", 1, "10.0.0.2"),
        ("10.0.0.2", " 2001:db8::1 ", 1, "2001:db8::1"),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, proxies: int, expected: str) -> None:
    assert auth.client_address(peer, forwarded, proxies) == expected


# ---------------------------------------------------------------- single sign-on: verified e-mail only


def test_sso_maps_an_email_only_when_the_provider_verified_it(cheap_url: str) -> None:
    url = cheap_url
    with Session(get_engine(url)) as s:
        users.create_user(s, None, "bob@example.org", PASSWORD, UserInput("Bob", Role.leader))
        alice = s.exec(select(User).where(User.username == "alice")).one()
        alice.sso_subject = "alice@example.org"  # bound by e-mail
        s.add(alice)
        s.commit()
        for email in ("bob@example.org", "Alice@Example.org"):
            refused = auth.sso_login(s, "oidc|attacker", email, email_verified=False)
            assert refused.actor is None and refused.error == "unverified"
        by_username = auth.sso_login(s, "oidc|bob", "Bob@Example.org", email_verified=True)
        by_subject_email = auth.sso_login(s, "oidc|alice", "alice@example.org", email_verified=True)
        assert by_username.actor is not None and by_username.actor.username == "bob@example.org"
        assert by_subject_email.actor is not None and by_subject_email.actor.username == "alice"
        alice.sso_subject = "oidc|alice"  # bound by the provider's subject: the e-mail does not matter
        s.add(alice)
        subject_only = auth.sso_login(s, "oidc|alice", "unverified@example.org", email_verified=False)
        assert subject_only.actor is not None and subject_only.actor.username == "alice"
        s.commit()
        details = s.exec(select(AuditLog.detail).where(AuditLog.outcome == "failed")).all()
        assert details == ["sso: e-mail not verified"] * 2


@pytest.mark.parametrize(
    ("claim", "verified"),
    [(True, True), ("true", True), ("True", True), (False, False), ("false", False), (None, False),
     (1, False), ("yes", False)],
)  # fmt: skip
def test_email_verified_claim(claim: object, verified: bool) -> None:
    assert auth.claim_true(claim) is verified


# ---------------------------------------------------------------- storage: migration and seed


def test_migration_adds_login_attempts_and_drops_the_old_counter(db_url: str) -> None:
    from alembic import command

    engine = get_engine(db_url)
    columns = {c["name"] for c in inspect(engine).get_columns("users")}
    assert "login_attempts" in inspect(engine).get_table_names()
    assert not {"failed_logins", "locked_until"} & columns
    cfg = alembic_config(db_url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003")
    engine.dispose()
    assert "login_attempts" not in inspect(engine).get_table_names()
    assert {"failed_logins", "locked_until"} <= {c["name"] for c in inspect(engine).get_columns("users")}
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    engine.dispose()
    assert "login_attempts" in inspect(engine).get_table_names()


def test_every_seeded_demo_user_has_a_hash_of_its_own(seeded_ro_url: str) -> None:
    demo = ("admin", "leader", "operator", "community", "grid", "department", "volunteers")
    with Session(get_engine(seeded_ro_url)) as s:
        rows = s.exec(select(User.username, User.password_hash)).all()
    hashes = {name: h for name, h in rows if name in demo}
    assert set(hashes) == set(demo)
    assert len(set(hashes.values())) == len(demo)
    salts = {h.rsplit("$", 2)[1] for h in hashes.values()}
    assert len(salts) == len(demo)
    assert all(auth.verify_password(h, "demo1234") for h in hashes.values())
    # Generated accounts (gw-…, cc-…) have no usable password until an administrator sets one.
    assert {h for name, h in rows if name not in demo} == {"!disabled"}
