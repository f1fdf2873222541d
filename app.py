"""Entry point: ``streamlit run app.py``.

Migrates (and on a fresh database seeds) the database, shows the login form, then the navigation of the
pages the user's role may open. A wall screen opened with ``?display=TOKEN`` shows the wall only.
"""

from __future__ import annotations

import threading

import streamlit as st

from dashboard import db
from dashboard.config import get_settings
from dashboard.i18n import LANGS, label, t
from dashboard.services import auth, display
from dashboard.ui.nav import DEFAULT_PAGE, pages_for, spec

st.set_page_config(page_title="网格治理指挥平台", page_icon=":material/grid_view:", layout="wide")

_seed_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _migrated(url: str) -> bool:
    db.upgrade(url)
    return True


@st.cache_resource(show_spinner=False)
def _ready(url: str) -> bool:
    """Migrate, and seed a fresh database once (other sessions wait); cached once it holds data."""
    _migrated(url)
    if db.is_seeded():
        return True
    settings = get_settings()
    if not settings.auto_seed:
        return True
    with _seed_lock:
        if not db.is_seeded():
            from seed.generate import seed_database

            bar = st.progress(0.0, text=t("app.first_start"))
            seed_database(url, cases=settings.seed_cases,
                          progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=f"{t('app.first_start')} {msg}"))
            bar.empty()
    return True


def _cookie_script(value: str | None, max_age: int) -> None:
    """Set (or clear) the session cookie in the browser; the value is our own token, never user text."""
    cookie = f"{auth.COOKIE_NAME}={value}; path=/; max-age={max_age}; SameSite=Strict" if value else (
        f"{auth.COOKIE_NAME}=; path=/; max-age=0; SameSite=Strict")
    st.html(f"<script>document.cookie = {cookie!r};</script>", unsafe_allow_javascript=True)


def _login_form() -> None:
    settings = get_settings()
    left, mid, right = st.columns([1, 1.2, 1])
    with mid:
        st.title(t("app.title"))
        st.caption(t("app.subtitle"))
        if st.session_state.pop("expired", False):
            st.warning(t("login.expired"))
        with st.form("login", border=True):
            st.subheader(t("login.title"))
            username = st.text_input(t("login.username"), key="login_username", autocomplete="username")
            password = st.text_input(t("login.password"), type="password", key="login_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button(t("login.submit"), key="login_submit", type="primary",
                                              width="stretch")
        if submitted:
            if not username or not password:
                st.error(t("login.required"))
            else:
                with db.session_scope() as s:
                    result = auth.authenticate(s, username, password)
                    cookie = auth.start_session(s, result.actor, settings.secret_key) if result.actor else None
                if result.actor:
                    st.session_state["actor"] = result.actor
                    st.session_state["cookie"] = cookie
                    st.rerun()
                elif result.error == "locked":
                    st.error(t("login.locked", until=f"{result.locked_until:%H:%M}"))
                elif result.error == "inactive":
                    st.error(t("login.inactive"))
                else:
                    st.error(t("login.failed"))
        st.caption(t("login.demo_hint"))
        _language_switch()


def _language_switch() -> None:
    current = st.session_state.get("lang", get_settings().lang)
    choice = st.segmented_control(t("app.language"), options=list(LANGS), default=current if current in LANGS else "zh",
                                  format_func=lambda x: "中文" if x == "zh" else "English", key="lang_switch")
    if choice and choice != current:
        st.session_state["lang"] = choice
        st.rerun()


def _current_actor():  # type: ignore[no-untyped-def]
    """The actor of this browser session: from session state (re-checked for expiry) or the cookie."""
    settings = get_settings()
    cookie = st.session_state.get("cookie") or st.context.cookies.get(auth.COOKIE_NAME)
    if not cookie:
        return None
    with db.session_scope() as s:
        actor = auth.resume_session(s, cookie, settings.secret_key, settings.session_idle_minutes)
    if actor is None:
        if "actor" in st.session_state or st.context.cookies.get(auth.COOKIE_NAME):
            st.session_state["expired"] = True
        st.session_state.pop("actor", None)
        st.session_state.pop("cookie", None)
        return None
    st.session_state["actor"] = actor
    st.session_state["cookie"] = cookie
    return actor


def _sidebar(actor) -> None:  # type: ignore[no-untyped-def]
    with st.sidebar:
        st.markdown(f"**{t('app.title')}**")
        st.caption(f"{actor.display_name} · {label('role', actor.role)}")
        st.caption(f"{t('app.scope')}: {_scope_text(actor)}")
        _language_switch()
        if st.button(t("app.logout"), key="logout", icon=":material/logout:"):
            with db.session_scope() as s:
                auth.end_session(s, st.session_state.get("cookie"))
            st.session_state.clear()
            st.session_state["logged_out"] = True
            st.rerun()


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _scope_name(kind: str, ident: int, url: str) -> str:
    from models import Community, Department, Grid

    model = {"community": Community, "grid": Grid, "department": Department}[kind]
    with db.session_scope() as s:
        row = s.get(model, ident)
        return row.name if row else "?"


def _scope_text(actor) -> str:  # type: ignore[no-untyped-def]
    url = get_settings().database_url
    if actor.grid_id:
        return _scope_name("grid", actor.grid_id, url)
    if actor.department_id:
        return _scope_name("department", actor.department_id, url)
    if actor.community_id:
        return _scope_name("community", actor.community_id, url)
    return t("app.scope_all")


def main() -> None:
    settings = get_settings()
    _ready(db.normalise_url(settings.database_url))

    token = st.query_params.get("display")
    if token:
        with db.session_scope() as s:
            viewer = display.resolve(s, token)
        if viewer is None:
            st.error(t("wall.link_invalid"))
            st.stop()
        st.session_state["actor"] = viewer
        st.session_state["display"] = True
        wall = spec("pages/wall.py")
        st.navigation([st.Page(wall.path, title=t(wall.title_key), url_path=wall.url_path)], position="hidden").run()
        return

    actor = _current_actor()
    if actor is None:
        if st.session_state.pop("logged_out", False) or st.context.cookies.get(auth.COOKIE_NAME):
            _cookie_script(None, 0)
        _login_form()
        return
    _cookie_script(st.session_state["cookie"], settings.session_idle_minutes * 60)
    _sidebar(actor)

    groups: dict[str, list[st.Page]] = {}
    default = DEFAULT_PAGE.get(actor.role)
    available = pages_for(actor.role)
    for page in available:
        groups.setdefault(t(page.group), []).append(
            st.Page(page.path, title=t(page.title_key), icon=page.icon, url_path=page.url_path,
                    default=(page.path == default) if any(p.path == default for p in available)
                    else page is available[0])
        )
    st.navigation(groups).run()


main()
