"""Password hashing under a burst of logins: memory is bounded by the cores, not by the burst."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dashboard.admin import auth


class _Counting:
    """Stands in for the argon2 hasher and records how many calls ran at the same moment."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self._lock = threading.Lock()

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1

    def verify(self, _hash: str, _password: str) -> bool:
        self._enter()
        return True

    def hash(self, _password: str) -> str:
        self._enter()
        return "h"


def test_a_login_burst_hashes_no_more_passwords_at_once_than_there_are_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = _Counting()
    monkeypatch.setattr(auth, "_hasher", counting)
    cores = os.cpu_count() or 2
    with ThreadPoolExecutor(4 * cores + 4) as pool:
        results = list(
            pool.map(
                lambda i: auth.verify_password("h", "pw") if i % 2 else auth.hash_password("pw"),
                range(8 * cores),
            )
        )
    assert len(results) == 8 * cores
    assert 1 <= counting.most <= cores


def test_a_wrong_password_still_frees_its_turn() -> None:
    stored = auth.hash_password("right password")
    for _ in range((os.cpu_count() or 2) + 2):
        assert auth.verify_password(stored, "wrong password") is False
    assert auth.verify_password(stored, "right password") is True
