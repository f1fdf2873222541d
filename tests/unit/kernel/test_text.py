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


def test_shorten_cuts_at_a_pause_not_in_the_middle_of_a_word() -> None:
    """Issue 19: an automatic title ends at the last pause within reach ("存在消防隐患…", not "存在消…"), a
    Latin word is never split, text without a pause is cut at the limit; always with "…" and within it."""
    from dashboard.kernel.text import shorten

    assert shorten("短标题", 30) == "短标题"
    assert (
        shorten("3号楼楼道堆放纸箱，存在消防隐患，居民多次反映无人处理", 20)
        == "3号楼楼道堆放纸箱，存在消防隐患…"
    )
    assert shorten("很" * 40, 30) == "很" * 29 + "…"
    assert shorten("Broken street light outside the school gate", 20) == "Broken street light…"
    assert shorten("短，" + "很" * 40, 30) == "短，" + "很" * 27 + "…", "a pause too early is out of reach"
    assert all(
        len(shorten(s, 12)) <= 12 for s in ("一二三四五六七八九十一二三四", "a b c d e f g h i j k l m")
    )
