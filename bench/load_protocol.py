"""One simulated browser tab speaking Streamlit's own protocol (used by ``bench/load.py`` and ``bench/soak.py``).

What the browser does, and this class does the same way (checked against Chromium's frames):

- a page load fetches the index page (which sets Streamlit's XSRF cookie), ``/_stcore/health`` and
  ``/_stcore/host-config``, then opens the WebSocket ``/_stcore/stream`` with the subprotocols
  ``streamlit, <xsrf token>`` and the tab's cookies (the app's HttpOnly session cookie among them);
- every interaction is one ``BackMsg`` with ``rerun_script``: the query string, the state of every widget on
  screen (defaults included, options as their displayed text), the page's script hash (``page_name`` for a
  deep link), the context (time zone, locale, URL) and the hashes of the cached messages it holds; a widget
  inside a fragment (a dialog) reruns only that fragment (``fragment_id``);
- the server answers with ``ForwardMsg`` s: ``new_session`` starts a run, deltas build the page (a
  ``ref_hash`` stands for a message the tab has cached), ``script_finished`` ends it; a run that ends
  ``FINISHED_EARLY_FOR_RERUN`` (``st.rerun``, ``st.switch_page``) is followed by another run, so an
  interaction is timed until the first finish that is not early;
- ``auto_rerun`` asks the tab to rerun a fragment every N seconds (the wall);
- the page's own scripts that post to the app's routes (the one-time session ticket, logout: see
  ``app.py`` ``_post``) are performed as HTTP POSTs with the tab's cookies, as the browser runs them.

Not done: drawing, static files (a browser has them cached after the first visit), media (the logo).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

FINISHED_OK = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
_FETCH = re.compile(r"fetch\((\"[^\"]*\"), \{method: 'POST'.*?body: (\"(?:[^\"\\]|\\.)*\")\}\);")
"""A script of ``app.py`` ``_post``: the route and the JSON body it posts."""
CACHE_ENTRIES = 500
"""Cached messages a tab keeps (the browser's cache is bounded too)."""


class LoadError(Exception):
    """An interaction that did not finish as a user would expect: timeout, lost connection, exception."""


@dataclass
class Widget:
    """A widget on screen: its element (the proto, as last sent), the run and fragment that sent it."""

    wid: str
    kind: str
    proto: Any
    run_id: str
    fragment_id: str

    @property
    def key(self) -> str:
        """The user key (``$$ID-<hash>-<key>``)."""
        parts = self.wid.split("-", 2)
        return parts[2] if len(parts) == 3 else self.wid


@dataclass
class Finish:
    """One ``script_finished``: its status, run and fragments, and when it arrived."""

    status: int
    run_id: str
    fragment_ids: tuple[str, ...]
    at: float


def _ends(finish: Finish, fragment_id: str, auto: bool) -> bool:
    """Whether `finish` ends a rerun request: a full run's first finish that is not early; a fragment's
    first successful run (a dialog's confirm that reruns the app: the app's run); an automatic fragment
    rerun also when another request cut it short (the browser does not send it again: the next tick does)."""
    if finish.status in (FINISHED_OK, FINISHED_ERROR):
        return True
    if not fragment_id or fragment_id not in finish.fragment_ids:
        return False
    return auto or finish.status == FINISHED_FRAGMENT


@dataclass
class _Waiter:
    match: Callable[[Finish], bool]
    future: asyncio.Future[Finish]


def _selected_options(proto: Any, indices: Any) -> list[str]:
    return [proto.options[i] for i in indices if 0 <= i < len(proto.options)]


def _chosen_option(p: Any) -> str | None:
    """A selectbox's or radio's option as shown (None: nothing chosen)."""
    if p.set_value:
        return p.raw_value if p.HasField("raw_value") else None
    if p.HasField("default") and 0 <= p.default < len(p.options):
        return p.options[p.default]
    return None


def _default_state(w: Widget) -> WidgetState | None:
    """The state the browser reports for a widget nobody touched: its value or default, as it shows it."""
    p, state = w.proto, WidgetState(id=w.wid)
    if w.kind in ("text_input", "text_area"):
        state.string_value = p.value if p.set_value else p.default
    elif w.kind == "checkbox":
        state.bool_value = p.value if p.set_value else p.default
    elif w.kind in ("selectbox", "radio"):
        option = _chosen_option(p)
        if option is None:
            return None
        state.string_value = option
    elif w.kind == "multiselect":
        values = list(p.raw_values) if p.set_value else _selected_options(p, p.default)
        state.string_array_value.data.extend(values)
    elif w.kind == "button_group":
        contents = [o.content for o in p.options]
        values = list(p.raw_values) if p.set_value else [contents[i] for i in p.default if i < len(contents)]
        state.string_array_value.data.extend(values)
    elif w.kind == "number_input":
        value = p.value if p.set_value else (p.default if p.HasField("default") else None)
        if value is None:
            return None
        state.double_value = value
    elif w.kind == "date_input":
        state.string_array_value.data.extend(list(p.value) if p.set_value else list(p.default))
    elif w.kind == "pagination":
        state.int_value = p.value if p.set_value else p.default
    else:  # buttons (triggers), tables and charts without a selection, anything else: nothing to report
        return None
    return state


def _http(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    source_address: str | None = None,
) -> tuple[int, list[str]]:
    """One HTTP request, from `source_address` when given: (status, Set-Cookie headers)."""
    parts = urlparse(url)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1",
        parts.port,
        timeout=timeout,
        source_address=(source_address, 0) if source_address else None,
    )
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.headers.get_all("Set-Cookie") or []
    finally:
        conn.close()


@dataclass
class Tab:
    """One browser tab on the app at `base` (``http://host:port``), with its own cookies.

    `forwarded_for` is sent as ``X-Forwarded-For`` (the phone's own address behind a trusted proxy, so that
    login throttling counts users apart: ``DASHBOARD_TRUSTED_PROXY``). `source_address` binds the tab's
    connections to a loopback address of its own (127.a.b.1): nginx's ``ip_hash`` then spreads the tabs over
    the replicas as it spreads phones on their own addresses."""

    base: str
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    forwarded_for: str | None = None
    source_address: str | None = None
    timeout: float = 120.0
    cookies: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    auto_rerun: dict[str, float] = field(default_factory=dict)
    query_string: str = ""
    url_path: str = ""
    bytes_received: int = 0

    def __post_init__(self) -> None:
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._widgets: dict[tuple[int, ...], Widget] = {}
        self._cache: dict[str, ForwardMsg] = {}
        self._pages: dict[str, str] = {}
        self._page_hash = ""
        self._run_id = ""
        self._waiters: list[_Waiter] = []
        self._posted: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self.last_finish: Finish | None = None
        """How the last rerun request ended."""

    # ------------------------------------------------------------ HTTP and cookies
    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _headers(self) -> dict[str, str]:
        headers = {"Cookie": self._cookie_header(), "Origin": self.base, "User-Agent": "bench.load"}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        return headers

    def _store_cookies(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                gone = morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"])
                if gone or not morsel.value or morsel.value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> int:
        """An HTTP request of the tab (its cookies kept); returns the status."""
        headers = self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        try:
            status, set_cookies = await asyncio.to_thread(
                _http, method, self.base + path, headers, body, self.timeout, self.source_address
            )
        except (OSError, http.client.HTTPException) as err:  # refused, reset, timed out
            raise LoadError(f"{method} {path}: {err}") from err
        self._store_cookies(set_cookies)
        return status

    # ------------------------------------------------------------ connection
    async def load(self, url_path: str = "", query: str = "") -> float:
        """A page load of ``/<url_path>?<query>`` (a new connection); returns the seconds until it settled."""
        await self.close()
        started = time.perf_counter()
        self.url_path, self.query_string = url_path, query
        await self.request("GET", "/" + url_path + (f"?{query}" if query else ""))
        await self.request("GET", "/_stcore/health")
        await self.request("GET", "/_stcore/host-config")
        ws_url = "ws" + self.base.removeprefix("http") + "/_stcore/stream"
        protocols = ["streamlit", self.cookies.get("_streamlit_xsrf", "")]
        headers = {k: v for k, v in self._headers().items() if k != "Origin"}
        try:
            self._ws = await connect(
                ws_url,
                subprotocols=[p for p in protocols if p],  # type: ignore[misc]
                additional_headers=headers,
                origin=self.base,  # type: ignore[arg-type]
                max_size=None,
                open_timeout=self.timeout,
                ping_interval=None,
                local_addr=(self.source_address, 0) if self.source_address else None,
            )
        except (OSError, InvalidHandshake) as err:
            raise LoadError(f"WebSocket: {err}") from err
        self.closed.clear()
        self._widgets.clear()
        self._reader = asyncio.create_task(self._read(self._ws))
        await self._send_rerun(page_name=url_path)
        await self._wait(lambda f: f.status in (FINISHED_OK, FINISHED_ERROR), started)
        return time.perf_counter() - started

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._ws = self._reader = None

    # ------------------------------------------------------------ what is on screen
    def widgets(self) -> list[Widget]:
        return list(self._widgets.values())

    def widget(self, key: str) -> Widget | None:
        """The widget with user key `key` on screen (the newest if a stale copy is still shown)."""
        found = [w for w in self._widgets.values() if w.key == key]
        return max(found, key=lambda w: w.run_id == self._run_id) if found else None

    def keys(self, prefix: str = "") -> list[str]:
        return sorted({w.key for w in self._widgets.values() if w.key.startswith(prefix)})

    @property
    def page_hash(self) -> str:
        return self._page_hash

    def page_url_paths(self) -> list[str]:
        """The url paths of the pages in the navigation (the user's pages)."""
        return list(self._pages)

    # ------------------------------------------------------------ interactions
    async def navigate(self, url_path: str, query: str = "") -> float:
        """Open a page of the navigation as a click on its link does (no reload)."""
        page_hash = self._pages.get(url_path)
        if page_hash is None:
            raise LoadError(f"page {url_path!r} is not in the navigation")
        self.url_path, self.query_string = url_path, query
        return await self.rerun(page_hash=page_hash)

    async def rerun(
        self,
        values: dict[str, WidgetState] | None = None,
        trigger: str | None = None,
        page_hash: str | None = None,
        fragment_id: str = "",
        auto: bool = False,
    ) -> float:
        """Send one rerun request with the widgets on screen (`values` by key replacing theirs, `trigger`
        clicked) and wait until it has finished; returns the seconds taken."""
        started = time.perf_counter()
        if trigger is not None:
            target = self.widget(trigger)
            if target is None:
                raise LoadError(f"no widget {trigger!r} on screen")
            fragment_id = fragment_id or target.fragment_id
        await self._send_rerun(values, trigger, page_hash, fragment_id, auto)
        self.last_finish = await self._wait(lambda f: _ends(f, fragment_id, auto), started)
        return time.perf_counter() - started

    async def click(self, key: str, values: dict[str, WidgetState] | None = None) -> float:
        return await self.rerun(values, trigger=key)

    def text(self, key: str, value: str) -> dict[str, WidgetState]:
        return {key: self._state(key, string_value=value)}

    def flag(self, key: str, value: bool) -> dict[str, WidgetState]:
        return {key: self._state(key, bool_value=value)}

    def choice(self, key: str, option: str) -> dict[str, WidgetState]:
        """A selectbox or radio set to the option shown as `option`."""
        return {key: self._state(key, string_value=option)}

    def choices(self, key: str, options: list[str]) -> dict[str, WidgetState]:
        """A multiselect, pills or segmented control set to the options shown as `options`."""
        state = self._state(key)
        state.string_array_value.data.extend(options)
        return {key: state}

    def rows(self, key: str, rows: list[int]) -> dict[str, WidgetState]:
        """A table's row selection, as the browser reports it."""
        selection = {"selection": {"rows": rows, "columns": [], "cells": []}}
        return {key: self._state(key, string_value=json.dumps(selection, separators=(",", ":")))}

    def _state(self, key: str, **value: Any) -> WidgetState:
        w = self.widget(key)
        if w is None:
            raise LoadError(f"no widget {key!r} on screen")
        return WidgetState(id=w.wid, **value)

    # ------------------------------------------------------------ protocol
    async def _send_rerun(
        self,
        values: dict[str, WidgetState] | None = None,
        trigger: str | None = None,
        page_hash: str | None = None,
        fragment_id: str = "",
        auto: bool = False,
        page_name: str = "",
    ) -> None:
        if self._ws is None:
            raise LoadError("not connected")
        msg = BackMsg()
        run = msg.rerun_script
        run.query_string = self.query_string
        run.page_script_hash = self._page_hash if page_hash is None else page_hash
        if page_name:
            run.page_name, run.page_script_hash = page_name, ""
        run.fragment_id = fragment_id
        run.is_auto_rerun = auto
        chosen = values or {}
        for w in self._widgets.values():
            state = chosen.get(w.key) or _default_state(w)
            if state is not None and w.key != trigger:
                run.widget_states.widgets.append(state)
        if trigger is not None:
            target = self.widget(trigger)
            assert target is not None
            run.widget_states.widgets.append(WidgetState(id=target.wid, trigger_value=True))
        run.cached_message_hashes.extend(self._cache)
        info = run.context_info
        info.timezone, info.locale, info.color_scheme = self.timezone, self.locale, "light"
        info.url = f"{self.base}/{self.url_path}" + (f"?{self.query_string}" if self.query_string else "")
        await self._ws.send(msg.SerializeToString())

    async def _wait(self, match: Callable[[Finish], bool], started: float) -> Finish:
        future: asyncio.Future[Finish] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(match, future)
        self._waiters.append(waiter)
        closed = asyncio.create_task(self.closed.wait())
        try:
            done, _ = await asyncio.wait(
                {future, closed},
                timeout=self.timeout - (time.perf_counter() - started),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            closed.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if future not in done:
            raise LoadError("connection lost" if self.closed.is_set() else "timeout")
        finish = future.result()
        if finish.status == FINISHED_ERROR:
            raise LoadError("script error")
        return finish

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                data = frame if isinstance(frame, bytes) else frame.encode()
                self.bytes_received += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except Exception:  # a dropped connection ends the reader; waiters see `closed`
            pass
        finally:
            self.closed.set()

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                self.exceptions.append(f"missing cached message {msg.ref_hash}")
                return
            full = ForwardMsg()
            full.CopyFrom(cached)
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, cached.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[msg.hash] = msg
        handler = _HANDLERS.get(kind or "")
        if handler is not None:
            handler(self, msg)

    def _on_new_session(self, msg: ForwardMsg) -> None:
        self._run_id = msg.metadata.run.script_run_id
        self._page_hash = msg.new_session.page_script_hash

    def _on_navigation(self, msg: ForwardMsg) -> None:
        self._pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages if p.url_pathname}
        self._page_hash = msg.navigation.page_script_hash or self._page_hash
        current = next(
            (p.url_pathname for p in msg.navigation.app_pages if p.page_script_hash == self._page_hash), None
        )
        if current:
            self.url_path = current

    def _on_page_info(self, msg: ForwardMsg) -> None:
        self.query_string = msg.page_info_changed.query_string

    def _on_auto_rerun(self, msg: ForwardMsg) -> None:
        self.auto_rerun[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval

    def _on_delta(self, msg: ForwardMsg) -> None:
        path = tuple(msg.metadata.delta_path)
        delta = msg.delta
        if delta.WhichOneof("type") == "add_block":
            for old in [p for p in self._widgets if p[: len(path)] == path]:
                del self._widgets[old]
            return
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type") or ""
        proto = getattr(element, kind) if kind else None
        self._widgets.pop(path, None)
        if kind == "exception":
            self.exceptions.append(f"{proto.type}: {proto.message}"[:300])
        elif kind == "html" and proto.unsafe_allow_javascript:
            self._run_page_script(proto.body)
        elif proto is not None and getattr(proto, "id", ""):
            self._widgets[path] = Widget(proto.id, kind, proto, self._run_id, delta.fragment_id)

    def _on_finished(self, msg: ForwardMsg) -> None:
        finish = Finish(
            msg.script_finished,
            msg.metadata.run.script_run_id,
            tuple(msg.metadata.run.fragment_ids),
            time.perf_counter(),
        )
        if finish.status == FINISHED_OK:  # what this run did not draw is gone from the screen
            self._widgets = {p: w for p, w in self._widgets.items() if w.run_id == finish.run_id}
        elif finish.status == FINISHED_FRAGMENT:
            self._widgets = {
                p: w
                for p, w in self._widgets.items()
                if w.run_id == finish.run_id or w.fragment_id not in finish.fragment_ids
            }
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.match(finish):
                waiter.future.set_result(finish)

    def _run_page_script(self, body: str) -> None:
        """Post what the page's script posts to the app's routes, once per script (as the browser runs it)."""
        for path, payload in _FETCH.findall(body):
            route, data = json.loads(path), json.loads(payload)
            if (route, data) in self._posted or urlparse(route).netloc:
                continue
            self._posted.add((route, data))
            task = asyncio.create_task(self._post(route, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, route: str, data: str) -> None:
        status = await self.request("POST", route, data.encode(), "application/json")
        if status >= 500:
            self.exceptions.append(f"POST {route}: HTTP {status}")

    async def settle_posts(self) -> None:
        """Wait for the page's posts in flight (the session cookie arrives with the ticket's answer)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


_HANDLERS: dict[str, Callable[[Tab, ForwardMsg], None]] = {
    "new_session": Tab._on_new_session,
    "navigation": Tab._on_navigation,
    "page_info_changed": Tab._on_page_info,
    "auto_rerun": Tab._on_auto_rerun,
    "delta": Tab._on_delta,
    "script_finished": Tab._on_finished,
}
