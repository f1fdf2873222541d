"""The one renderer of domain errors (labels for identifiers, escaped text, field and row problems) and
run_action: one writer transaction per page action, retried while the database is busy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from dashboard.cases.errors import InvalidInput
from dashboard.db import get_engine, session_scope
from dashboard.i18n import label, t
from dashboard.kernel.errors import Busy, Conflict, DomainError, Invalid, Problem
from dashboard.ui import errors as ui_errors
from dashboard.ui.common import plain
from dashboard.ui.errors import run_action, show_error
from models import Setting


class Recorder:
    """A stand-in for ``st``: keeps what would be shown."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.lines: list[str] = []

    def error(self, body: str, *, icon: str | None = None) -> None:
        self.errors.append(body)

    def markdown(self, body: str) -> None:
        self.lines.append(body)


def test_values_are_labelled_or_escaped() -> None:
    shown = Recorder()
    show_error(Conflict("errors.illegal_move", action="accept", status="closed"), shown)
    assert shown.errors == [
        t("errors.illegal_move", action=t("actions.accept"), status=label("status", "closed"))
    ]
    shown = Recorder()
    show_error(Invalid("admin.err_limit", field="sla_limit", maximum=0), shown)
    show_error(Conflict("errors.stale", by="*王*", at="2026-03-09 10:00"), shown)
    assert shown.errors == [
        t("admin.err_limit", field=t("admin.field.sla_limit"), maximum=0),
        t("errors.stale", by=plain("*王*"), at=plain("2026-03-09 10:00")),
    ]


def test_field_problems_are_lines_under_the_message() -> None:
    shown = Recorder()
    show_error(InvalidInput({"title": "errors.required", "reporter_phone": "errors.phone_format"}), shown)
    assert shown.errors == [t("errors.invalid")]
    assert shown.lines == [
        f"- **{t('casefield.title')}**: {t('errors.required')}",
        f"- **{t('casefield.reporter_phone')}**: {t('errors.phone_format')}",
    ]


def test_listed_problems_share_the_message_box_with_their_rows() -> None:
    shown = Recorder()
    show_error(
        Invalid(details=[Problem("auth.rule_length"), Problem("vol.err.basis", {"basis": "cases:X"}, row=2)]),
        shown,
    )
    text = t("errors.row_problem", row=3, text=t("vol.err.basis", basis=plain("cases:X")))
    assert shown.errors == [f"{t('errors.invalid')}\n\n- {t('auth.rule_length')}\n- {text}"]
    assert not shown.lines


@pytest.fixture
def action_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[float], list[DomainError]]:
    """run_action on `db_url`, with its pauses and the errors it shows recorded instead of slept or drawn."""
    engine = get_engine(db_url)
    pauses: list[float] = []
    shown: list[DomainError] = []
    monkeypatch.setattr(ui_errors, "session_scope", lambda write: session_scope(engine, write=write))
    monkeypatch.setattr(ui_errors.time, "sleep", pauses.append)
    monkeypatch.setattr(ui_errors, "show_error", shown.append)
    return db_url, pauses, shown


def _stored(url: str, key: str) -> Setting | None:
    with Session(get_engine(url)) as s:
        return s.get(Setting, key)


def test_run_action_commits_and_retries_while_busy(action_db: Any) -> None:
    url, pauses, shown = action_db
    tries: list[int] = []

    def busy_twice(s: Session, value: str) -> str:
        tries.append(1)
        if len(tries) < 3:
            raise Busy()
        s.add(Setting(key="blind_spot_days", value=value))
        return value

    assert run_action(busy_twice, "14") == (True, "14")
    assert pauses == [0.2, 0.5] and shown == []
    assert _stored(url, "blind_spot_days").value == "14"  # type: ignore[union-attr]

    def always_busy(s: Session) -> None:
        raise Busy()

    pauses.clear()
    assert run_action(always_busy) == (False, None)
    assert pauses == [0.2, 0.5, 1.0] and [type(e) for e in shown] == [Busy]


def test_a_refused_action_writes_nothing_and_is_shown(action_db: Any) -> None:
    url, pauses, shown = action_db

    def refused(s: Session) -> None:
        s.add(Setting(key="map_style_url", value="x"))
        s.flush()
        raise Invalid("settings.bad_url", setting="map_style_url")

    assert run_action(refused) == (False, None)
    assert pauses == [] and [e.key for e in shown] == ["settings.bad_url"]
    assert _stored(url, "map_style_url") is None
