"""The one way a page shows a refused operation (any :class:`~dashboard.kernel.errors.DomainError`), and
:func:`run_action`, the unit of work every page action that writes goes through.

A message is its key's text with the values filled in: values that name a case status, an action, an
admin form field, a setting or a skill are shown by their labels; ``t()`` escapes every other value
(Markdown), so user text never becomes markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import streamlit as st
from sqlmodel import Session

from dashboard.db import session_scope
from dashboard.i18n import has, label, t
from dashboard.kernel.errors import Busy, DomainError, Problem
from dashboard.ui.volunteers import skill_label

P = ParamSpec("P")
R = TypeVar("R")

RETRY_PAUSES = (0.2, 0.5, 1.0)
"""Seconds to wait before each new attempt of an action that found the database busy."""


class Target(Protocol):
    """Where a message goes: ``st`` itself, a column, a container, a dialog's body."""

    def error(self, body: str, *, icon: str | None = None) -> object: ...

    def markdown(self, body: str) -> object: ...


def _field(name: object) -> str:
    """An admin form field, or the population group a population figure is about."""
    return label("population", name) if has(f"enum.population.{name}") else t(f"admin.field.{name}")


_LABELS: dict[str, Callable[[Any], str]] = {
    "status": lambda v: label("status", v),
    "action": lambda v: t(f"actions.{v}"),
    "field": _field,
    "total": _field,
    "setting": lambda v: t(f"settings.{v}"),
    "skill": skill_label,
}
"""How a value of that name is shown (a raw identifier becomes its label)."""


def _shown(values: Mapping[str, Any]) -> dict[str, object]:
    return {name: _LABELS[name](value) if name in _LABELS else value for name, value in values.items()}


def _problem_text(problem: Problem) -> str:
    """One listed problem in the user's language ("第 3 行：…" when it is about a table row)."""
    text = t(problem.key, **_shown(problem.values))
    return text if problem.row is None else t("errors.row_problem", row=problem.row + 1, text=text)


def _message(err: DomainError) -> str:
    """The message of `err` in the user's language (Markdown: user text in it is escaped)."""
    return t(err.key, **_shown(err.values))


def show_error(err: DomainError, where: Target = st) -> None:
    """Show `err` in `where`: its message in an error box, with the rules it lists (`details`) in the same
    box, then one line per form field to correct (`problems`)."""
    message = _message(err)
    if err.details:
        message += "\n\n" + "\n".join(f"- {_problem_text(p)}" for p in err.details)
    where.error(message, icon=":material/error:")
    for name, key in err.problems.items():
        where.markdown(f"- **{t(err.field_prefix + name)}**: {t(key)}")


def run_action(
    fn: Callable[Concatenate[Session, P], R], /, *args: P.args, **kwargs: P.kwargs
) -> tuple[bool, R | None]:
    """Run one page action as a unit of work: ``fn(session, *args, **kwargs)`` in a writer transaction,
    committed when it returns, then ``(True, result)``. A refused action writes nothing: it is shown (see
    :func:`show_error`) and ``(False, None)`` returned. When the database is busy the action is tried
    again after each of :data:`RETRY_PAUSES` before the user is told.
    """
    pauses = iter(RETRY_PAUSES)
    while True:
        try:
            with session_scope(write=True) as session:
                result = fn(session, *args, **kwargs)
        except Busy as err:
            pause = next(pauses, None)
            if pause is not None:
                time.sleep(pause)
                continue
            show_error(err)
        except DomainError as err:
            show_error(err)
        else:
            return True, result
        return False, None
