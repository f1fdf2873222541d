"""Entry point: ``streamlit run app.py``.

Migrates (and on a fresh database seeds) the database, shows the login form, then the navigation of the
pages the user's role may open. A wall screen opened with ``?display=TOKEN`` shows the wall only.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from urllib.parse import urlparse

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from dashboard import clock, db
from dashboard.admin import auth
from dashboard.admin.settings import cached_setting
from dashboard.api import callbacks, offline, session_cookie
from dashboard.api.open311 import routes as open311
from dashboard.config import get_settings
from dashboard.i18n import LANGS, label, t
from dashboard.kernel.errors import DomainError
from dashboard.kernel.policy import may
from dashboard.media import routes as media_routes
from dashboard.reporting import display_links as display
from dashboard.reporting.warning import schedule as alert_schedule
from dashboard.residents import web as public_web
from dashboard.ui.calendar_notice import missing_schedule_warning
from dashboard.ui.common import own_words, plain
from dashboard.ui.errors import show_error
from dashboard.ui.nav import DEFAULT_PAGE, PAGES, PageSpec, pages_for, spec

_seed_lock = threading.Lock()
SSO_FRESH = timedelta(minutes=5)
_KEEP_ON_LANGUAGE_CHANGE = frozenset(
    {
        "actor",
        "cookie",
        "cookie_ticket",
        "login_remember",
        "ended_cookie",
        "display",
        "display_token",
        "expired",
        "sso_refused",
        "next",
    }
)
"""How recent the provider's confirmation must be for single sign-on to open a session."""


@st.cache_resource(show_spinner=False)
def _migrated(url: str) -> bool:
    db.upgrade(url)
    callbacks.resume_pending(db.get_engine(url))  # status callbacks left waiting by a restart or a replica
    alert_schedule.start(db.get_engine(url))  # the morning's early-warning run (研判预警), once per process
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
            seed_database(
                url,
                cases=settings.seed_cases,
                progress=lambda f, step: bar.progress(
                    min(max(f, 0.0), 1.0), text=f"{t('app.first_start')} {t(f'app.seed_step.{step}')}"
                ),
            )
            bar.empty()
    return True


COOKIE_REFRESH = timedelta(minutes=10)
"""How often a remembered cookie's lifetime is renewed while the user is active."""


def _post(path: str, body: str) -> None:
    """Have the page post `body` to one of the app's own routes (:mod:`dashboard.api.session_cookie`)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    script = (
        f"fetch({json.dumps(prefix + path)}, {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}});"
    )
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _send_cookie(value: str | None) -> None:
    """Clear the session cookie (None), or have the server set it to `value` (see :func:`_keep_cookie`)."""
    if value is None:
        st.session_state.pop("cookie_ticket", None)
        _post(session_cookie.LOGOUT_PATH, "{}")
        return
    remember = bool(st.session_state.get("login_remember"))
    ticket = session_cookie.issue(value, _idle_minutes() * 60 if remember else None)
    st.session_state["cookie_ticket"] = (value, ticket, clock.now())
    _post(session_cookie.SESSION_PATH, json.dumps({"ticket": ticket}))


def _keep_cookie(cookie: str) -> None:
    """Make sure the browser holds the HttpOnly session cookie: the page posts a one-time ticket whose
    answer sets it; no script ever sees the cookie. A run whose output is replaced before the browser
    posted (a page switch right after login) posts the same ticket again; a remembered cookie's lifetime
    is renewed now and then. It ends with the browser session unless the user ticked "remember me"."""
    held = st.session_state.get("cookie_ticket")
    if held is not None and held[0] == cookie:
        state = session_cookie.status(held[1])
        remember = bool(st.session_state.get("login_remember"))
        if state == "redeemed" and (not remember or clock.now() - held[2] < COOKIE_REFRESH):
            return
        if state == "pending":
            _post(session_cookie.SESSION_PATH, json.dumps({"ticket": held[1]}))
            return
    _send_cookie(cookie)


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
            password = st.text_input(
                t("login.password"), type="password", key="login_password", autocomplete="current-password"
            )
            st.checkbox(t("login.remember"), key="login_remember", help=t("login.remember_help"))
            submitted = st.form_submit_button(
                t("login.submit"), key="login_submit", type="primary", width="stretch"
            )
        if submitted:
            if not username or not password:
                st.error(t("login.required"))
            else:
                # Attempts are counted per address: the connection's, or behind the trusted proxy (setting
                # DASHBOARD_TRUSTED_PROXY) the address it appended to X-Forwarded-For.
                forwarded = ",".join(st.context.headers.get_all("X-Forwarded-For"))
                source = auth.client_address(st.context.ip_address, forwarded, int(settings.trusted_proxy))
                try:
                    result = auth.authenticate(username, password, source=source)
                    cookie = (
                        db.run_unit(lambda s: auth.start_session(s, result.actor, settings.secret_key))
                        if result.actor
                        else None
                    )
                except DomainError as err:  # the database stayed busy
                    show_error(err)
                else:
                    if result.actor:
                        st.session_state["actor"] = result.actor
                        st.session_state["cookie"] = cookie
                        st.rerun()
                    # Unknown user, wrong password, too many attempts: one answer (auth.authenticate).
                    st.error(t("login.inactive" if result.error == "inactive" else "login.failed"))
        _sso_section()
        st.caption(t("login.demo_hint"))
        _language_switch()


def _language_switch() -> None:
    current = st.session_state.get("lang", get_settings().lang)
    current = current if current in LANGS else "zh"
    picked = st.session_state.pop("lang_picked", None)
    if picked and picked != current:
        # Widgets whose options are translated labels would hold values of the other language: start them
        # afresh in a new run, keeping only who is logged in.
        for key in list(st.session_state.keys()):
            if key not in _KEEP_ON_LANGUAGE_CHANGE:
                del st.session_state[key]
        st.session_state["lang"] = picked
        st.rerun()
    # The control shows the session's language, also when something else (a link, a test) set it.
    if st.session_state.get("lang_switch") != current:
        st.session_state["lang_switch"] = current
    st.segmented_control(
        t("app.language"),
        options=list(LANGS),
        format_func=lambda x: "中文" if x == "zh" else "English",
        key="lang_switch",
        on_change=_pick_language,
    )


def _pick_language() -> None:
    """Remember the user's click on the language control: only a click switches the language."""
    st.session_state["lang_picked"] = st.session_state.get("lang_switch")


def _browser_cookie() -> str | None:
    """The session cookie the browser sent when the page loaded, unless this session already ended it."""
    cookie = st.context.cookies.get(auth.COOKIE_NAME)
    return (
        cookie
        if isinstance(cookie, str) and cookie and cookie != st.session_state.get("ended_cookie")
        else None
    )


def _sso_provider() -> str | None:
    """ "" (the single provider of a flat [auth] section) or the first named provider ([auth.NAME]) when
    single sign-on is configured in secrets and Authlib is installed; None otherwise (never raises)."""
    try:
        if not st.secrets.load_if_toml_exists() or "auth" not in st.secrets:
            return None
        section = st.secrets["auth"]
        import authlib  # noqa: F401  (st.login needs it)
    except Exception:
        return None
    if "client_id" in section:
        return ""
    return next((name for name, value in section.items() if hasattr(value, "keys")), None)


def _sso_fresh() -> bool:
    """Whether the provider confirmed the identity just now (its ID token's ``iat``), i.e. this is the return
    from the provider rather than Streamlit's 30-day identity cookie, which must not undo idle expiry.
    Without ``iat`` only a browser session that has not timed out or logged out is trusted."""
    iat = st.user.get("iat")
    if not isinstance(iat, int | float):
        return not st.session_state.get("ended_cookie")
    issued = datetime.fromtimestamp(iat, clock.TZ).replace(tzinfo=None)
    return abs(clock.now() - issued) <= SSO_FRESH


def _sso_actor():  # type: ignore[no-untyped-def]
    """Log in the user whose identity the OIDC provider has just confirmed (st.user), mapped to a users row."""
    if (
        _sso_provider() is None
        or not st.user.get("is_logged_in", False)
        or st.session_state.get("sso_refused")
    ):
        return None
    if not _sso_fresh():
        return None
    with db.session_scope(write=True) as s:
        verified = auth.claim_true(st.user.get("email_verified"))
        result = auth.sso_login(s, st.user.get("sub"), st.user.get("email"), verified)
        cookie = auth.start_session(s, result.actor, get_settings().secret_key) if result.actor else None
    if result.actor is None:
        st.session_state["sso_refused"] = result.error
        return None
    st.session_state.pop("expired", None)
    st.session_state["actor"] = result.actor
    st.session_state["cookie"] = cookie
    return result.actor


def _sso_section() -> None:
    """The "使用单点登录" button, shown only when single sign-on is configured."""
    provider = _sso_provider()
    if provider is None:
        return
    refused = st.session_state.get("sso_refused")
    if refused:
        messages = {"inactive": "login.inactive", "unverified": "sso.unverified"}
        st.error(t(messages.get(refused, "sso.unknown")))
        if st.button(t("sso.logout"), key="sso_logout", width="stretch"):
            st.session_state.pop("sso_refused", None)
            st.logout()
            st.stop()
        return
    if st.button(t("login.sso"), key="login_sso", icon=":material/key:", width="stretch"):
        try:
            st.login(provider or None)
        except Exception as e:  # misconfigured provider: say so instead of crashing the login page
            st.error(t("sso.unavailable", message=type(e).__name__))


def _remember_destination() -> None:
    """Note the page (and its query, e.g. a shared map view) the browser asked for before logging in, so
    the user lands there after logging in rather than on the start page."""
    if "next" in st.session_state:
        return
    path = urlparse(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
    if path:
        st.session_state["next"] = (path, st.query_params.to_dict())


def _idle_minutes() -> int:
    """Idle session expiry: the admin's system setting, defaulting to ``SESSION_IDLE_MINUTES``."""
    return int(cached_setting("session_idle_minutes"))


def _current_actor():  # type: ignore[no-untyped-def]
    """The actor of this browser session: from session state (re-checked for expiry) or the cookie."""
    settings = get_settings()
    cookie = st.session_state.get("cookie") or _browser_cookie()
    if not cookie:
        return _sso_actor()
    actor = auth.resume(None, cookie, settings.secret_key, _idle_minutes())
    if actor is None:
        if "actor" in st.session_state or _browser_cookie():
            st.session_state["expired"] = True
            # The cookie the page was loaded with stays in st.context until a reload: do not try it again.
            st.session_state["ended_cookie"] = cookie
        st.session_state.pop("actor", None)
        st.session_state.pop("cookie", None)
        return None
    st.session_state["actor"] = actor
    st.session_state["cookie"] = cookie
    return actor


def _sidebar(actor) -> None:  # type: ignore[no-untyped-def]
    with st.sidebar:
        st.markdown(f"**{t('app.title')}**")
        st.caption(f"{plain(actor.display_name)} · {label('role', actor.role)}")
        st.caption(f"{t('app.scope')}: {plain(_scope_text(actor))}")
        _language_switch()
        if st.button(t("app.logout"), key="logout", icon=":material/logout:"):
            ended = st.session_state.get("cookie")
            with db.session_scope() as s:
                auth.end_session(s, ended)
            st.session_state.clear()
            st.session_state["logged_out"] = True
            st.session_state["ended_cookie"] = ended
            if _sso_provider() is not None and st.user.get("is_logged_in", False):
                _send_cookie(None)
                st.logout()  # redirects the browser through Streamlit's /auth/logout
                st.stop()
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
    st.set_page_config(page_title="网格治理指挥平台", page_icon="static/logo.png", layout="wide")
    own_words()
    settings = get_settings()
    _ready(db.normalise_url(settings.database_url))

    token = st.query_params.get("display")
    if token:
        with db.session_scope() as s:
            viewer = display.resolve(s, token)
        if viewer is None:
            st.session_state.pop("actor", None)
            st.session_state.pop("display", None)
            st.error(t("wall.link_invalid"))
            st.stop()
        st.session_state["actor"] = viewer
        st.session_state["display"] = True
        st.session_state["display_token"] = token  # fragments re-check it (dashboard.ui.session)
        wall = spec("pages/wall.py")
        st.navigation(
            [st.Page(wall.path, title=t(wall.title_key), url_path=wall.url_path)], position="hidden"
        ).run()
        return

    actor = _current_actor()
    if actor is None:
        _remember_destination()
        # Know every page's address while the login form shows, so a deep link is not "page not found".
        st.navigation([_home_page(None), *(_page(p) for p in PAGES if p.exists)], position="hidden")
        if st.session_state.pop("logged_out", False) or st.context.cookies.get(auth.COOKIE_NAME):
            _send_cookie(None)
        _login_form()
        return
    _keep_cookie(st.session_state["cookie"])
    _sidebar(actor)

    available = pages_for(actor.role)
    by_url = {p.url_path: _page(p) for p in available}
    start = next((p for p in available if p.path == DEFAULT_PAGE.get(actor.role)), available[0])
    groups: dict[str, list[st.Page]] = {}
    for page in available:
        groups.setdefault(t(page.group), []).append(by_url[page.url_path])
    first = next(iter(groups))
    groups[first] = [_home_page(by_url[start.url_path]), *groups[first]]
    navigation = st.navigation(groups, expanded=True)  # no untranslated "View N more"
    destination = st.session_state.pop("next", None)
    if destination and destination[0] in by_url:
        st.switch_page(by_url[destination[0]], query_params=destination[1] or None)
    if navigation.url_path == start.url_path and may(actor, "admin.manage"):
        missing_schedule_warning()  # working-day clocks on the weekend fallback: say so where admins land
    navigation.run()


def _page(spec: PageSpec) -> st.Page:
    return st.Page(spec.path, title=t(spec.title_key), icon=spec.icon, url_path=spec.url_path)


def _home_page(start: st.Page | None) -> st.Page:
    """The hidden default page at ``/``: it opens the role's start page under that page's own address.
    (Streamlit serves the default page at ``/`` only, so a real page as default could not be bookmarked.)"""

    def home() -> None:
        if start is not None:
            st.switch_page(start)

    return st.Page(home, title=t("app.title"), url_path="home", default=True, visibility="hidden")


if __name__ == "__main__":
    main()  # a page run: Streamlit executes this file as __main__ for every rerun
else:
    # Imported by the server: ``streamlit run app.py`` finds this st.App and serves the pages with the app's
    # own HTTP routes beside them (the session cookie, set by the server). The server asks nothing outside.
    # Every run goes through main()'s st.navigation from the first one on: in Streamlit's old multipage mode
    # (a pages/ folder) the sidebar would list the page files by name while the first start seeds.
    offline.answer_locally()
    PagesManager.uses_pages_directory = False
    # /public/: the residents' pages (no login; dashboard.residents.web).
    # /open311/v2/: the Open311 GeoReport v2 API (dashboard.api.open311).
    # /_app/photos/{id}/{thumb|large}: case photos, session- and scope-checked (dashboard.media.routes).
    app = st.App(
        __file__,
        routes=[*session_cookie.routes(), *public_web.routes(), *open311.routes(), *media_routes.routes()],
    )
