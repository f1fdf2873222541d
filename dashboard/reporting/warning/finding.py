"""What a detector hands to the job: one finding, not yet stored (the job turns it into an ``alerts`` row)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.enums import AlertKind, AlertScope


@dataclass
class Finding:
    """One unusual thing: where, what, how unusual, since when, which cases, and the detector's evidence."""

    kind: AlertKind
    scope_type: AlertScope
    scope_code: str
    scope_name: str
    category_id: int | None
    category_code: str | None
    observed: float
    expected: float
    score: float
    since: date
    grid_ids: set[int] = field(default_factory=set)
    community_ids: set[int] = field(default_factory=set)
    case_ids: list[int] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    identity: str = ""
    """What names the finding from day to day when the scope code alone does not (a phone's keyed hash)."""

    @property
    def key(self) -> str:
        """The finding's name independent of the day: a rerun or the next day's run meets it again."""
        who = self.identity or self.scope_code
        return f"{self.kind}|{self.scope_type}|{who}|{self.category_code or ''}"[:160]
