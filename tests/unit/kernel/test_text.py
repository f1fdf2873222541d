"""Phone rules (dashboard.kernel.text): reporters', volunteers' and office numbers."""

from __future__ import annotations

import pytest

from dashboard.kernel.text import is_mobile, is_office_phone, mobile_digits, normalise_reporter_phone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086-13812345678", "13812345678"),
        ("0527-84361234", "0527-84361234"),
        ("（0527）84361234", "052784361234"),
        ("84361234", "84361234"),
        ("12345", None),
        ("1381234567", None),
        ("", None),
    ],
)
def test_reporter_phone(typed: str, stored: str | None) -> None:
    assert normalise_reporter_phone(typed) == stored


def test_volunteer_mobile() -> None:
    assert mobile_digits("+86 (138) 1234-5678") == "13812345678"
    assert is_mobile(mobile_digits("+86 138 1234 5678"))
    assert not is_mobile(mobile_digits("0527-84361234"))
    assert mobile_digits("abc") == "abc"  # a lookup key, not a verdict


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("0527-84361234", True),
        ("13812345678", True),
        ("+86 527 8436 1234", True),
        ("12", False),
        ("call me", False),
        ("+", False),
        ("1" * 33, False),
    ],
)
def test_office_phone(typed: str, ok: bool) -> None:
    assert is_office_phone(typed) is ok
