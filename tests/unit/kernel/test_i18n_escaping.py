"""Text is data until rendered: ``t()`` escapes every value it interpolates (Markdown and HTML angle
brackets) unless the value is marked as trusted markup; ``t_plain()`` is for places that are not Markdown;
domain packages produce plain text and leave the escaping to the UI."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from dashboard.i18n import label, t, t_plain
from dashboard.kernel.text import WORD_JOINER, Markup, escape_markdown, trusted
from dashboard.ui.common import plain

ROOT = Path(__file__).resolve().parents[3]

HOSTILE = [
    "[点我](http://evil.example/login)",
    "![](http://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    '<a href="http://evil.example">x</a>',
    "**bold** __bold__ *it* ~~gone~~",
    "`code` ```block```",
    "$x^2$ $$y$$",
    "http://evil.example/auto www.evil.example a@evil.example",
    ":red[红色] :material/home: :smile:",
    "# 标题\n\n> quote\n- item\n1. one\n===\n|a|b|\n|-|-|",
    "&lt;b&gt; &#x3C;img&#x3E; 5 & 6",
    "\\[escaped\\](http://evil.example)",
]
"""Values that, unescaped, would be a link, an image, HTML, formatting, code, math, an autolink, a colour or
icon directive, block structure, or entities (and a value that tries to cancel the escaping)."""

_PUNCTUATION = set(string.punctuation)
_SYNTAX = set("\\`*_{}[]()<>#+-.!|~$:&")
"""What starts Markdown syntax in Streamlit: links and images, emphasis, code, block markers and tables,
autolinks (``http:``, ``www.``), math, directives (``:red[…]``), entities, HTML."""


def _text_node(text: str) -> str:
    """The text Markdown reads out of `text`: a backslash before ASCII punctuation shows the character."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _unescape(text: str) -> str:
    """What a reader sees (the word joiners that keep bare URLs from becoming links are invisible)."""
    return _text_node(text).replace(WORD_JOINER, "")


_BARE_LINK = re.compile(r"(?i)https?://|www\.|@[\w-]")
"""What GFM turns into a link in a text node, after the escapes are resolved (Streamlit's Markdown does)."""


def _live(text: str) -> list[str]:
    """Characters in `text` that Markdown would read as syntax (not backslash-escaped)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _PUNCTUATION:
            i += 2
            continue
        if text[i] in _SYNTAX:
            out.append(text[i])
        i += 1
    return out


@pytest.mark.parametrize("value", HOSTILE)
def test_interpolated_values_are_inert(value: str) -> None:
    for lang in ("zh", "en"):
        shown = t("vol.grid_not_in_scope", lang, code=value)
        assert not re.search(r"(?<!\\)(\]\(|<|!\[|://)", shown), shown
        escaped = escape_markdown(value)
        assert escaped in shown
        assert _live(escaped) == [], escaped
        # shown as Markdown, the value reads exactly as given
        assert _unescape(shown) == t_plain("vol.grid_not_in_scope", lang, code=value)
        assert _unescape(escaped) == value
        assert not _BARE_LINK.search(_text_node(shown)), shown


def test_plain_text_is_left_as_is() -> None:
    value = HOSTILE[0]
    assert (
        t_plain("vol.grid_not_in_scope", "en", code=value)
        == f"Grid {value} does not exist or is outside your scope."
    )
    assert not isinstance(t_plain("vol.grid_not_in_scope", "en", code=value), Markup)


def test_trusted_markup_passes_through() -> None:
    shown = t("vol.grid_not_in_scope", "en", code=trusted("**G-01**"))
    assert shown == "Grid **G-01** does not exist or is outside your scope."
    assert isinstance(shown, Markup) and isinstance(trusted("x"), Markup)


def test_a_translated_text_in_a_text_is_escaped_once() -> None:
    inner = t("vol.err.basis", "en", basis="cases:*X*")
    outer = t("errors.row_problem", "en", row=3, text=inner)
    assert outer == f"Row 3: {inner}" and "cases\\:\\*X\\*" in outer and "\\\\" not in outer
    assert t("errors.row_problem", "en", row=3, text=label("status", "closed", "en")) == (
        f"Row 3: {label('status', 'closed', 'en')}"
    )


def test_escaping_is_idempotent_and_shared_with_plain() -> None:
    for value in HOSTILE:
        once = escape_markdown(value)
        assert escape_markdown(once) == once and plain(value) == once and plain(once) == once
    assert plain(None) == "" and escape_markdown(None) == ""


def test_numbers_keep_their_formats() -> None:
    assert t("queue.showing", "en", start=1, end=50, total=12345) == t_plain(
        "queue.showing", "en", start=1, end=50, total=12345
    )
    assert "12,345" in t("queue.showing", "en", start=1, end=50, total=12345)


def test_a_value_cannot_reach_the_template() -> None:
    """A value holding ``{placeholders}`` is text, not a format string."""
    assert (
        t_plain("vol.grid_not_in_scope", "en", code="{code}")
        == "Grid {code} does not exist or is outside your scope."
    )
    assert "\\{code\\}" in t("vol.grid_not_in_scope", "en", code="{code}")


UI = {"ui", "i18n"}
"""The packages that render; every other package of dashboard/ is domain code (or the kernel, db, config)."""


def _calls_t_with_values(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "t"
        and node.keywords
    ]


def test_domain_packages_produce_plain_text() -> None:
    """Files, the API, the CLI and map tooltips are not Markdown: domain code formats with ``t_plain`` and the
    UI escapes what it shows."""
    paths = [
        path
        for path in sorted((ROOT / "dashboard").rglob("*.py"))
        if path.relative_to(ROOT / "dashboard").parts[0] not in UI
    ]
    assert len(paths) > 50 and ROOT / "dashboard/reporting/deck.py" in paths
    found = {str(path.relative_to(ROOT)): lines for path in paths if (lines := _calls_t_with_values(path))}
    assert found == {}
