"""Text is data until rendered, through the running app: a crafted link (hostile query parameters on every
page that reads them) and admin-entered names with Markdown or HTML show as text, never as a link, an image
or markup."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.protobuf.message import Message
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dashboard.db import dispose_engines, get_engine
from dashboard.kernel.text import escape_markdown
from dashboard.ui.nav import PAGES, pages_for
from models import Category, Community, Department, Grid, User
from models.enums import Role
from tests.conftest import SQLITE_ONLY

ROOT = Path(__file__).resolve().parents[2]
HOST = "evil.example"
HOSTILE = (
    f"[点我](http://{HOST}/login) ![](http://{HOST}/p.png) <img src=http://{HOST}/x.png> www.{HOST} **粗**"
)
SHORT = f"[x](//{HOST}/a)"
"""A link that fits a 24-character box (the matching page cuts a case number there)."""

DEMO = {
    Role.admin: "admin",
    Role.leader: "leader",
    Role.operator: "operator",
    Role.community: "community",
    Role.grid_worker: "grid",
    Role.department: "department",
    Role.volunteer_manager: "volunteers",
}
MARKDOWN_FIELDS = {"body", "label", "help", "title", "text", "caption", "content", "delta", "captions"}
"""Proto fields Streamlit renders as Markdown (element bodies, labels, tooltips, option contents, metric values);
input values, placeholders and selectbox options are plain text and not read here."""
_QUERY_READ = re.compile(
    r"""(?:query_params|\bqp)\.get(?:_all)?\(\s*["'](\w+)["']|_from_url\(\s*["']\w+["'],\s*["'](\w+)["']"""
)


def _query_params_read() -> dict[str, set[str]]:
    """Each page (by path) and the query parameters it reads, found in its source."""
    out: dict[str, set[str]] = {}
    for spec in PAGES:
        found = {a or b for a, b in _QUERY_READ.findall((ROOT / spec.path).read_text(encoding="utf-8"))}
        if found:
            out[spec.path] = found
    return out


def _strings(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        repeated = not isinstance(value, str | bytes | Message) and hasattr(value, "__len__")
        for item in value if repeated else [value]:
            if isinstance(item, Message):
                yield from _strings(item)
            elif isinstance(item, str) and field.name in MARKDOWN_FIELDS:
                yield item


def _nodes(node: object) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def rendered_markdown(at: AppTest, sidebar: bool = True) -> list[str]:
    """Every text of the current page (and its sidebar) that Streamlit renders as Markdown."""
    out: list[str] = []
    for root in (at.main, at.sidebar) if sidebar else (at.main,):
        for node in _nodes(root):
            proto = getattr(node, "proto", None)
            if isinstance(proto, Message):
                out.extend(_strings(proto))
    return out


def live_markup(texts: list[str]) -> list[str]:
    """Texts naming the hostile host unescaped: escaped, its dot reads ``evil\\.example`` and the brackets,
    parentheses, ``!``, ``<`` and ``:`` around it are escaped too (see tests/unit/kernel/test_i18n_escaping.py)."""
    return [s for s in texts if HOST in s]


def chart_strings(at: AppTest) -> list[str]:
    """Every text in the page's Plotly figures (Plotly reads a few HTML tags, links among them)."""

    def walk(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v)

    out: list[str] = []
    for node in _nodes(at.main):
        proto = getattr(node, "proto", None)
        if getattr(node, "type", "") == "plotly_chart" and proto is not None:
            out.extend(walk(json.loads(proto.spec)))
    return out


def _user_for(path: str) -> str:
    role = next(r for r in DEMO if any(p.path == path for p in pages_for(r)))
    return DEMO[role]


def test_the_pages_reading_query_parameters_are_found() -> None:
    found = _query_params_read()
    assert {"pages/volunteers.py", "pages/matching.py", "pages/map.py", "pages/case_detail.py"} <= set(found)
    assert {"grid", "community"} <= found["pages/volunteers.py"] and "case" in found["pages/matching.py"]


def _signed_in(url: str, user: str, login) -> Callable[..., AppTest]:  # type: ignore[no-untyped-def]
    """Log `user` in once; then each call opens a fresh browser session of theirs (their cookie) on a page
    with the given query parameters, as a link opened in a new tab would."""
    first = login(url, user)
    cookie, actor = first.session_state["cookie"], first.session_state["actor"]

    def open_page(path: str, **params: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["cookie"] = cookie
        at.session_state["actor"] = actor
        at.run()
        at.switch_page(path)
        for name, value in params.items():
            at.query_params[name] = value
        at.run()
        assert not at.exception, (path, params, [e.value for e in at.exception])
        return at

    return open_page


@SQLITE_ONLY  # escaping is the page's work, not the database's
@pytest.mark.parametrize("path", sorted(_query_params_read()))
def test_hostile_query_parameters_stay_text(path: str, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    open_page = _signed_in(seeded_ro_url, _user_for(path), login)
    params = sorted(_query_params_read()[path])
    runs = [dict.fromkeys(params, HOSTILE), dict.fromkeys(params, SHORT)]
    runs += [{param: value} for param in params for value in (HOSTILE, SHORT)] if len(params) > 1 else []
    for query in runs:
        at = open_page(path, **query)
        shown = rendered_markdown(at)
        assert shown, path  # the page rendered something to look at
        assert live_markup(shown) == [], (path, query, live_markup(shown))


@pytest.mark.parametrize(
    ("path", "param", "user"),
    [
        ("pages/volunteers.py", "grid", "volunteers"),
        ("pages/matching.py", "case", "operator"),
        ("pages/map.py", "grid", "leader"),
        ("pages/map.py", "community", "leader"),
    ],
)
def test_an_unknown_area_or_case_is_named_as_text(
    path: str, param: str, user: str, seeded_ro_url: str, login
) -> None:  # type: ignore[no-untyped-def]
    """The finding: the crafted value was shown in a warning as a live link and image."""
    at = login(seeded_ro_url, user, page=path)
    value = HOSTILE if param != "case" else SHORT
    at.query_params[param] = value
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(escape_markdown(value) in w for w in warnings), warnings
    assert not [w for w in warnings if "](" in w or re.search(r"(?<!\\)<img", w)]


def _hostile_name(i: int) -> str:
    """A name with an image and emphasis, short enough for a category's Chinese name (32 characters)."""
    return f"![](//{HOST})*{i}*"


def _rename(url: str) -> set[str]:
    """Every department, category, community and grid, and every user's display name, renamed to Markdown
    and HTML (codes kept, so links and lookups still work); the names given."""
    names: set[str] = set()
    with Session(get_engine(url)) as s:
        for model, attr in (
            (Department, "name"),
            (Category, "name_zh"),
            (Community, "name"),
            (Grid, "name"),
            (User, "display_name"),
        ):
            for row in s.exec(select(model).order_by(model.id)).all():
                name = (
                    _hostile_name(len(names))
                    if model is not Department
                    else f"<img src=//{HOST}>{len(names)}"
                )
                setattr(row, attr, name)
                s.add(row)
                names.add(name)
        s.commit()
    dispose_engines()
    return names


def _plain_cells(at: AppTest) -> set[str]:
    """What plain-text places hold: table cells and selectbox / multiselect options."""
    cells = {str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel()}
    return cells | {str(o) for box in [*at.selectbox, *at.multiselect] for o in box.options}


@pytest.mark.parametrize(
    ("user", "path", "where"),
    [
        ("admin", "pages/admin_departments.py", "table"),
        ("admin", "pages/admin_categories.py", "table"),
        ("admin", "pages/admin_users.py", "table"),
        ("department", "pages/department_queue.py", "markdown"),
        ("leader", "pages/overview.py", "chart"),
        ("leader", "pages/report.py", "chart"),
        ("grid", "pages/my_grid.py", "markdown"),
        ("grid", "pages/quick_intake.py", "markdown"),
        ("grid", "pages/map.py", "markdown"),
        ("community", "pages/field.py", "markdown"),
    ],
)
def test_names_with_markup_show_literally(user: str, path: str, where: str, seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    names = _rename(seeded_url)
    at = login(seeded_url, user, page=path)
    assert not at.exception, [e.value for e in at.exception]
    shown, cells, charts = rendered_markdown(at), _plain_cells(at), chart_strings(at)
    assert live_markup(shown) == [], live_markup(shown)
    assert not [s for s in charts if "<img" in s]  # Plotly would draw a tag: names are entities there
    assert not [c for c in cells if "\\" in c and HOST in c.replace("\\", "")]  # no escapes in plain text
    found = {
        "markdown": {n for n in names if any(escape_markdown(n) in s for s in rendered_markdown(at, False))},
        "table": {n for n in names if n in cells},
        "chart": {n for n in names if any(html.escape(n, quote=False) in s for s in charts)},
    }
    assert found[where], (path, where)  # the page does show names there
    assert any(escape_markdown(at.session_state["actor"].display_name) in s for s in rendered_markdown(at))
