"""The one domain error type: a refusal the user can act on, with an i18n key, values and field problems.

Domain code raises :class:`DomainError` or one of the few subclasses callers need to tell apart; the UI
has one renderer for all of them (``dashboard.ui.errors``), and no stack trace reaches a user.

Values named ``status`` (a case status) and ``action`` (an action name) are raw identifiers that the
renderer shows through their labels. `problems` maps a field name to the i18n key of what is wrong;
`details` lists problems no single form field names (several password rules, the rows of a table).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One of several things wrong with the input: an i18n key, the values it formats, and the row of a
    table it is on (counted from 0; None when the input is not a table)."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    row: int | None = None


class DomainError(Exception):
    """A refused operation: ``t(key, **values)`` says why; `problems` lists what to correct, by field, and
    `details` what no single field names."""

    key = "errors.generic"
    field_prefix = ""
    """The i18n prefix of the field names in `problems`: with ``"casefield."``, ``title`` is labelled
    ``casefield.title``."""

    def __init__(
        self,
        key: str | None = None,
        /,
        problems: Mapping[str, str] | None = None,
        details: Iterable[Problem] = (),
        **values: Any,
    ) -> None:
        self.key = key or type(self).key
        self.values = values
        self.problems: dict[str, str] = dict(problems or {})
        self.details: list[Problem] = list(details)
        text = self.key + (f" {values}" if values else "") + (f" {self.problems}" if self.problems else "")
        super().__init__(text + "".join(f" {p.key}" for p in self.details))


class NotFound(DomainError):
    """No such record in the actor's scope (deliberately the same answer for both)."""

    key = "errors.not_found"


class NotPermitted(DomainError):
    """The actor's role (or relation to the record) does not allow the action."""

    key = "errors.not_permitted"


class Conflict(DomainError):
    """The record changed since the user loaded it (optimistic lock), or the action clashes with its
    current state; nothing was written."""

    key = "errors.conflict"


class Invalid(DomainError):
    """Input the user must correct; `problems` says what, by field."""

    key = "errors.invalid"


class Busy(DomainError):
    """The database could not take the write in time (other writers, a lock, a deadlock it broke);
    nothing was saved and the same action can simply be tried again."""

    key = "errors.busy"
