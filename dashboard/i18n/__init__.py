"""UI text in Chinese (default) and English.

Text lives in TOML files, one per area of the app: ``dashboard/i18n/<lang>/<area>.toml``. A file's
top-level tables become the first part of the key, so ``[queue] title = "…"`` in ``cases.toml`` is
``t("queue.title")``. Every file of a language is merged; a key missing in English falls back to Chinese,
and a key missing everywhere shows the key itself (tests catch that).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

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
    from dashboard.config import get_settings

    lang = get_settings().lang
    return lang if lang in LANGS else DEFAULT_LANG


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """Translate `key`, formatting ``{name}`` placeholders with `values`."""
    lang = lang or current_lang()
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANG).get(key) or key
    return text.format(**values) if values else text


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalogue(lang)


def label(kind: str, value: object, lang: str | None = None) -> str:
    """Label of an enum value: ``label("status", "closed")`` → ``t("enum.status.closed")``."""
    if value is None:
        return ""
    return t(f"enum.{kind}.{value}", lang)
