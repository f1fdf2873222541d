"""Text rules shared by the services: what a phone number must look like, what free text may hold, and
how text is escaped when it is shown as Markdown.

Three kinds of number, with different jobs, and so their rules side by side:

- a **reporter's** phone is how a resident is reached for the follow-up (回访), so it must be a
  mainland number that can be dialled: a mobile, a landline with its area code, or a local 7–8 digit
  number. It is stored normalised (no spaces, no +86, mobiles without dashes) so that it masks and
  compares the same way wherever it came from (intake, import).
- a **volunteer's** phone is a mobile (reached by SMS for 双向报到) and also the registry's key: one
  volunteer per number, so it is stored and looked up as :func:`mobile_digits`.
- an **office** phone (a staff account's or a department's contact) is read by colleagues only; any
  dialled form (digits, spaces, hyphens, a leading +, 3 to 32 characters) is kept as typed.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s()（）]")
_COUNTRY_PREFIX = re.compile(r"^(\+86|0086)-?")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_LOCAL = re.compile(r"^\d{7,8}$")
_OFFICE = re.compile(r"^\+?[0-9][0-9 \-]{2,30}$")


def _cleaned(phone: str) -> str:
    return _COUNTRY_PREFIX.sub("", _SEPARATORS.sub("", phone or ""))


def mobile_digits(phone: str) -> str:
    """`phone` without spaces, brackets, dashes and a +86/0086 prefix (valid or not: a lookup key)."""
    return _cleaned(phone).replace("-", "")


def is_mobile(digits: str) -> bool:
    """Whether `digits` (see :func:`mobile_digits`) is a mainland mobile number (13812345678)."""
    return _MOBILE.match(digits) is not None


def normalise_reporter_phone(phone: str) -> str | None:
    """A mainland mobile (13812345678), landline (0527-84361234) or local (84361234) number, else None.

    Spaces, brackets, dashes in mobiles and a +86/0086 country prefix are removed.
    """
    value = _cleaned(phone)
    if is_mobile(value.replace("-", "")):
        return value.replace("-", "")
    if _LANDLINE.match(value) or _LOCAL.match(value):
        return value
    return None


def is_office_phone(phone: str) -> bool:
    """Whether `phone` (already stripped) is a dialled form: digits, spaces, hyphens and a leading +."""
    return _OFFICE.match(phone) is not None


# ---------------------------------------------------------------- free text


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""C0 control characters but tab and newline (carriage returns are folded into newlines first), and DEL."""
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Bidirectional marks and overrides (U+202E makes "gpj.exe" read "exe.jpg")."""

NOTE_MAX = 2000
"""The longest note, reason or result a case action takes (the same limit the forms show)."""


def clean_text(value: object) -> str:
    """User or file text as it may be stored and exported: line breaks as ``\\n``, no control characters
    (a NUL is refused by PostgreSQL, a vertical tab by Excel files) and no bidirectional overrides.
    Everything else, spaces included, is kept as given."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BIDI.sub("", _CONTROLS.sub("", text))


_PAUSES = "，。；、！？：,.;!?: \t"
"""Where a shortened text may end: after a clause (Chinese or Latin punctuation) or between words."""


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in "…" when cut: at the last pause (，。；、！？ or a space)
    in the second half of the room, else at the limit, but never inside a Latin word ("存在消防隐患…",
    not "存在消…")."""
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    if text[limit - 1] not in _PAUSES:  # else the room ends where a clause or a word does
        pause = max(room.rfind(c) for c in _PAUSES)
        if pause >= (limit - 1) // 2:
            room = room[:pause]
        elif room[-1].isascii() and room[-1].isalnum() and text[limit - 1].isalnum():
            space = room.rfind(" ")
            room = room[:space] if space > 0 else room
    return room.rstrip(_PAUSES) + "…"


# ---------------------------------------------------------------- text shown as Markdown


class Markup(str):
    """Text that already is Markdown: a translated text (its values escaped), text escaped by
    :func:`escape_markdown`, or formatting a caller built itself and vouches for (:func:`trusted`).
    ``dashboard.i18n.t`` interpolates it as it is; any other value is escaped.

    Joining or concatenating gives an ordinary ``str`` again, which would be escaped: wrap a join of
    Markup parts in :func:`trusted`."""

    __slots__ = ()


def trusted(text: object) -> Markup:
    """`text` as markup the caller built (``**bold**``, a badge): interpolated without escaping. Never for
    text that came from a user, a file or a URL."""
    return text if isinstance(text, Markup) else Markup("" if text is None else str(text))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")
"""The characters that start Markdown syntax Streamlit reads: CommonMark and GFM (links, images, emphasis,
code, tables, block markers, autolinks ``http://`` and ``www.``, entities), ``$`` math, ``:red[…]`` and
``:icon:`` directives, and HTML. CommonMark shows each one literally after a backslash."""


WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?<=\\:)(?=//)|(?<=www)(?=\\\.)|(?<=@)", re.IGNORECASE)
"""Where GFM would still see a bare URL (``http://…``, ``www.…``) or an e-mail address after the escaping:
Streamlit's Markdown finds those in the text once the backslashes are gone."""


def escape_markdown(text: object) -> Markup:
    """`text` escaped so Markdown shows it literally: no link, image, HTML, autolink, formatting, math or
    directive. Markup (already escaped or trusted) is returned unchanged, so escaping twice is escaping once.

    A backslash cannot stop a bare URL or e-mail address from becoming a link, so an invisible
    :data:`WORD_JOINER` goes after the ``:`` of ``://``, between ``www`` and its dot, and after an ``@``."""
    if isinstance(text, Markup):
        return text
    escaped = _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))
    return Markup(_AUTOLINK.sub(WORD_JOINER, escaped))
