"""What each simulated user does (``bench/load.py``): the sub-district's roles as they work, on the real pages.

A user logs in through the login form, then repeats: think (`Think`), pick an interaction by its weight,
perform it and time it. Every interaction is what a person does on the page: open a page from the
navigation, set a filter, select a table row, click a button, fill in and confirm an action's dialog.
An interaction that cannot be done right now (an empty to-do list, no row to select) falls back to
reopening the user's start page, as a person would look elsewhere.

- grid worker (phone): my grid, record a visit, 代录 (quick intake: a category and what happened), the next
  step of a to-do card (start, resolve, follow-up) in its dialog;
- operator (desk): the queue, its filters (view, search), open a case from the table, the case's usual next
  step (accept, dispatch, verify, close …) in its dialog;
- department: its queue, the pending-only switch, a case from the table and its next step (start, resolve,
  report back);
- leader: overview, map (and another figure on it), the meeting report;
- wall: one screen that refreshes itself (every part is a fragment with ``run_every``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.load_protocol import LoadError, Tab, Widget

NOTE = "负载测试：已现场查看"
"""The note typed into dialogs and forms (every required note accepts it)."""


@dataclass(frozen=True)
class Think:
    """Seconds between two interactions of one user, uniformly distributed."""

    low: float = 15.0
    high: float = 60.0

    def pick(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass
class Sample:
    """One timed interaction."""

    role: str
    kind: str
    seconds: float
    ok: bool
    at: float
    error: str = ""


@dataclass
class Recorder:
    """Every sample of a run, and the errors by text."""

    samples: list[Sample] = field(default_factory=list)

    def add(self, role: str, kind: str, seconds: float, ok: bool, error: str = "") -> None:
        self.samples.append(Sample(role, kind, seconds, ok, time.time(), error))


Step = Callable[["User"], Awaitable[str]]
"""One interaction of a user: performs it on the user's tab, returns its kind (what the sample is named)."""


@dataclass
class User:
    """One simulated person: a role, an account, a tab on the app, what they do, and the recorder."""

    role: str
    username: str
    password: str
    tab: Tab
    steps: list[tuple[Step, int]]
    recorder: Recorder
    rng: random.Random
    start_page: str = ""

    async def timed(self, kind: str, action: Awaitable[float]) -> str:
        """Await one interaction, record its time (or its failure); the tab's new exceptions are errors."""
        before = len(self.tab.exceptions)
        started = time.perf_counter()
        try:
            await action
        except LoadError as err:
            self.recorder.add(self.role, kind, time.perf_counter() - started, False, str(err))
            raise
        seconds = time.perf_counter() - started
        shown = self.tab.exceptions[before:]
        self.recorder.add(self.role, kind, seconds, not shown, shown[0] if shown else "")
        return kind

    async def login(self) -> None:
        """Open the app and log in through the form, as the browser sends it; wait for the session cookie."""
        await self.timed("page load", self.tab.load())
        if self.tab.widget("login_username") is None:
            raise LoadError("no login form")
        values = {
            **self.tab.text("login_username", self.username),
            **self.tab.text("login_password", self.password),
        }
        await self.timed("login", self.tab.click("login_submit", values))
        if self.tab.widget("login_username") is not None:
            self.recorder.add(self.role, "login", 0.0, False, "login refused")
            raise LoadError(f"login refused for {self.username}")
        await self.tab.settle_posts()
        self.start_page = self.tab.url_path

    async def step(self) -> str:
        """One interaction picked by weight."""
        steps, weights = zip(*self.steps, strict=True)
        chosen = self.rng.choices(steps, weights=weights)[0]
        return await chosen(self)

    async def go(self, url_path: str, kind: str = "") -> str:
        return await self.timed(kind or f"open {url_path}", self.tab.navigate(url_path))


# ---------------------------------------------------------------- shared moves


async def act_in_dialog(user: User, button: str, kind: str) -> str:
    """Click an action button, fill in its dialog (a note, a first choice where nothing is chosen) and
    confirm; both clicks are timed (``<kind> dialog``, ``<kind>``)."""
    tab = user.tab
    await user.timed(f"{kind} dialog", tab.click(button))
    keys = tab.keys("dlg_")
    ok = next((k for k in keys if k.endswith("_ok")), None)
    if ok is None:
        return f"{kind} dialog"
    values = {}
    for key in keys:
        w = tab.widget(key)
        assert w is not None
        if w.kind == "text_area":
            values.update(tab.text(key, NOTE))
        elif w.kind == "radio" and not w.proto.HasField("default") and w.proto.options:
            values.update(tab.choice(key, w.proto.options[0]))
        elif w.kind == "multiselect" and not w.proto.default and w.proto.options:
            values.update(tab.choices(key, [w.proto.options[0]]))
    return await user.timed(kind, tab.click(ok, values))


def primary_action(tab: Tab, prefix: str) -> str | None:
    """The highlighted (usual next step) action button on screen, e.g. ``act_dispatch``."""
    found = [
        w.key for w in tab.widgets() if w.key.startswith(prefix) and getattr(w.proto, "type", "") == "primary"
    ]
    return found[0] if found else None


async def select_row(user: User, table: str, kind: str) -> bool:
    """Select one of the first rows of `table` (as a click on its checkbox does); False if it is empty."""
    tab = user.tab
    w = tab.widget(table)
    count = table_rows(w) if w is not None else 0
    if not count:
        return False
    await user.timed(kind, tab.rerun(tab.rows(table, [user.rng.randrange(min(count, 5))])))
    return True


def table_rows(w: Widget) -> int:
    """The rows of a table on screen (its Arrow data, as the browser reads it)."""
    import pyarrow as pa

    data = w.proto.arrow_data.data
    return pa.ipc.open_stream(data).read_all().num_rows if data else 0


# ---------------------------------------------------------------- grid worker


async def gw_my_grid(user: User) -> str:
    return await user.go("my-grid")


async def gw_visit(user: User) -> str:
    """Open 走访, fill in households and a note, save."""
    tab = user.tab
    if tab.url_path != "visit":
        await user.go("visit")
    submit = next((k for k in tab.keys("visit") if k.endswith("_submit")), None)
    if submit is None:
        return await user.go("my-grid")
    prefix = submit.removesuffix("submit")
    values = {**tab.text(prefix + "note", NOTE)}
    return await user.timed("record visit", tab.click(submit, values))


async def gw_quick_intake(user: User) -> str:
    """Open 代录, pick the first category, describe, submit (and save anyway when duplicates are shown)."""
    tab = user.tab
    if tab.url_path != "quick-intake":
        await user.go("quick-intake")
    pick = next((k for k in tab.keys("quick") if k.endswith("_pick")), None)
    if pick is None:
        return await user.go("my-grid")
    w = tab.widget(pick)
    assert w is not None
    prefix = pick.removesuffix("pick")
    values = {**tab.choices(pick, [w.proto.options[0].content]), **tab.text(prefix + "description", NOTE)}
    kind = await user.timed("quick intake", tab.click(prefix + "submit", values))
    if tab.widget("quick_confirm") is not None:
        kind = await user.timed("quick intake", tab.click("quick_confirm"))
    return kind


async def gw_todo(user: User) -> str:
    """The next step of the first to-do card, in its dialog (start, resolve, follow-up …)."""
    tab = user.tab
    if tab.url_path != "my-grid":
        await user.go("my-grid")
    button = next((k for k in tab.keys("todo_") if not k.startswith(("todo_open", "todo_card"))), None)
    if button is None:
        return await user.go("my-grid")
    return await act_in_dialog(user, button, "todo " + button.split("_")[1])


# ---------------------------------------------------------------- operator


async def op_queue(user: User) -> str:
    return await user.go("queue")


async def op_filter(user: User) -> str:
    """Switch the queue's view (open, a status, all) or search for case numbers of a day."""
    tab = user.tab
    if tab.url_path != "queue":
        await user.go("queue")
    view = tab.widget("qf_view")
    if view is not None and user.rng.random() < 0.6:
        option = user.rng.choice([o.content for o in view.proto.options])
        return await user.timed("queue filter", tab.rerun(tab.choices("qf_view", [option])))
    return await user.timed(
        "queue search", tab.rerun(tab.text("qf_q", user.rng.choice(("XL", "楼道", "噪音"))))
    )


async def op_open_case(user: User) -> str:
    """Select a row of the queue and open it (two interactions)."""
    tab = user.tab
    if tab.url_path != "queue":
        await user.go("queue")
    if not await select_row(user, "queue_table", "select row") or tab.widget("queue_open") is None:
        return "select row"
    return await user.timed("open case", tab.click("queue_open"))


async def op_act(user: User) -> str:
    """The open case's usual next step (accept, dispatch, verify, close …), confirmed in its dialog."""
    tab = user.tab
    if tab.url_path != "case":
        await op_open_case(user)
    button = primary_action(tab, "act_")
    if button is None:
        return await user.go("queue")
    return await act_in_dialog(user, button, button.removeprefix("act_"))


# ---------------------------------------------------------------- department


async def dept_queue(user: User) -> str:
    return await user.go("department")


async def dept_toggle(user: User) -> str:
    tab = user.tab
    if tab.url_path != "department":
        await user.go("department")
    w = tab.widget("dq_pending")
    if w is None:
        return await user.go("department")
    return await user.timed("pending only", tab.rerun(tab.flag("dq_pending", not w.proto.value)))


async def dept_act(user: User) -> str:
    """Pick a dispatched case (or an escalation) and do its next step (start, resolve, report back)."""
    tab = user.tab
    if tab.url_path != "department":
        await user.go("department")
    table = "dq_dispatched" if tab.widget("dq_dispatched") is not None else "dq_escalations"
    if not await select_row(user, table, "select row"):
        return await user.go("department")
    button = primary_action(tab, "act_") or next(iter(tab.keys("act_report_back")), None)
    if button is None:
        return "select row"
    return await act_in_dialog(user, button, button.removeprefix("act_"))


# ---------------------------------------------------------------- leader


async def leader_overview(user: User) -> str:
    return await user.go("overview")


async def leader_map(user: User) -> str:
    """The map; now and then another figure on it."""
    tab = user.tab
    if tab.url_path == "map" and (w := tab.widget("map_figure")) is not None and w.proto.options:
        option = user.rng.choice(list(w.proto.options))
        return await user.timed("map figure", tab.rerun(tab.choice("map_figure", option)))
    return await user.go("map")


async def leader_report(user: User) -> str:
    return await user.go("report")


PROFILES: dict[str, list[tuple[Step, int]]] = {
    "grid_worker": [(gw_my_grid, 3), (gw_visit, 3), (gw_quick_intake, 1), (gw_todo, 2)],
    "operator": [(op_queue, 2), (op_filter, 3), (op_open_case, 3), (op_act, 3)],
    "department": [(dept_queue, 2), (dept_toggle, 1), (dept_act, 3)],
    "leader": [(leader_overview, 3), (leader_map, 3), (leader_report, 1)],
}
"""Each role's interactions and their weights."""
