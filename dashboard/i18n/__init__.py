"""UI text in Chinese (default) and English.

Text lives in TOML files, one per area of the app: ``dashboard/i18n/<lang>/<area>.toml``. A file's
top-level tables become the first part of the key, so ``[queue] title = "…"`` in ``cases.toml`` is
``t("queue.title")``. Every file of a language is merged; a key missing in English falls back to Chinese,
and a key missing everywhere shows the key itself (tests catch that).

Text is data until rendered: :func:`t` is for the places Streamlit renders as Markdown (markdown, captions,
alerts, toasts, titles, widget labels, button, tab, expander and radio/pills labels) and escapes every value
it fills in, unless the value is :class:`~dashboard.kernel.text.Markup` (another translated text, escaped or
trusted markup). :func:`t_plain` fills values in as they are, for what is not Markdown: table cells and
headers, selectbox options, metric values, st.text, HTML built with ``html.escape``, files, the API, the CLI.
Domain packages use :func:`t_plain`; the UI escapes what it shows.
"""

from __future__ import annotations

import os
import tomllib
from functools import cache
from numbers import Number
from pathlib import Path

from dashboard.kernel.text import Markup, escape_markdown

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
_DIR = Path(__file__).resolve().parent


def _flatten(prefix: str, table: dict, out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All keys of a language, merged from its TOML files."""
    out: dict[str, str] = {}
    for path in sorted((_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            _flatten("", tomllib.load(fh), out)
    return out


def current_lang() -> str:
    """The language of the current Streamlit session, else the configured default."""
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if get_script_run_ctx(suppress_warning=True) is not None:
            lang = st.session_state.get("lang")
            if lang in LANGS:
                return lang
    except Exception:
        pass
    lang = os.environ.get("DASHBOARD_LANG", DEFAULT_LANG)  # the setting, without reading all settings
    return lang if lang in LANGS else DEFAULT_LANG


def _template(key: str, lang: str | None) -> str | None:
    lang = lang or current_lang()
    return catalogue(lang).get(key) or catalogue(DEFAULT_LANG).get(key)


def _escaped(value: object) -> object:
    """A value as Markdown: numbers keep their type (for ``{n:,}``), Markup stays, other text is escaped."""
    if isinstance(value, Markup) or (isinstance(value, Number) and not isinstance(value, bool)):
        return value
    return escape_markdown(value)


def t(key: str, lang: str | None = None, /, **values: object) -> Markup:
    """Translate `key` as Markdown, formatting ``{name}`` placeholders with `values`, each escaped unless it is
    Markup (see :func:`dashboard.kernel.text.trusted`)."""
    text = _template(key, lang)
    if text is None:  # a missing key shows itself, and a key may hold a value (``enum.status.{value}``)
        return escape_markdown(key)
    return Markup(text.format(**{name: _escaped(v) for name, v in values.items()}) if values else text)


def t_plain(key: str, lang: str | None = None, /, **values: object) -> str:
    """Translate `key` as plain text, with `values` as they are: for what Streamlit does not render as
    Markdown (table cells, selectbox options, metric values), files, the API and HTML escaped by the caller."""
    text = _template(key, lang)
    if text is None:
        return key
    return str(text.format(**values)) if values else str(text)


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalogue(lang)


def label(kind: str, value: object, lang: str | None = None) -> Markup:
    """Label of an enum value: ``label("status", "closed")`` → ``t("enum.status.closed")``."""
    if value is None:
        return Markup("")
    return t(f"enum.{kind}.{value}", lang)
