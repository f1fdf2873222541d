"""Refusals of case operations that callers tell apart from the kernel's own (:mod:`dashboard.kernel.errors`).

A case outside the actor's scope is a kernel ``NotFound``, a role that may not act a ``NotPermitted``, an
action the case's status does not allow a ``Conflict`` (``errors.illegal_move`` and the like).
"""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.kernel.errors import Conflict, Invalid


class StaleCase(Conflict):
    """The case changed since the user loaded it (optimistic lock); values: by, at."""

    key = "errors.stale"


class InvalidInput(Invalid):
    """Case input the user must correct; `problems` maps a case field to the i18n key of what is wrong."""

    field_prefix = "casefield."

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(problems=problems)
