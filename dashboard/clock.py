"""The one source of "now": naive wall-clock time in Asia/Shanghai.

All timestamps in the database are naive local times of the sub-district (Asia/Shanghai, no DST), so
that day boundaries in SQL are local days. Tests freeze the clock with :func:`frozen`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    """Current local time (Asia/Shanghai), naive, to the second."""
    if _frozen is not None:
        return _frozen
    return datetime.now(TZ).replace(tzinfo=None, microsecond=0)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze :func:`now` at `at` inside the block."""
    global _frozen
    before = _frozen
    _frozen = at
    try:
        yield
    finally:
        _frozen = before
