"""The case state machine of DESIGN §5 as one table.

``TRANSITIONS[action] = (allowed from-statuses, to-status or None for "stays")``. The workflow service
(`cases.py`) checks every move against it; the seed writes its histories through it; the replay test
uses it to check that every case's events lead to its status.

It also names the groups of open statuses every page, the wall and the reports count by (in the words of
``i18n`` ``status_group.*``, each with a help text), so that one figure has one name everywhere:

- 未结案 ``NOT_CLOSED``: every case not closed (and not rejected) = 在办 + 待核查;
- 在办 ``IN_HAND``: being handled, the SLA clock running (待受理, 已受理, 已派遣, 处置中); 超期 counts these;
- 待受理 ``AWAITING_ACCEPTANCE``: the part of 在办 the command centre has not accepted yet;
- 待核查 ``AWAITING_VERIFICATION``: handling finished (已处置, 已核查), waiting for 核查, 回访 and 结案.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.i18n import t_plain
from models.enums import ACTIVE_STATUSES, OPEN_STATUSES, CaseStatus

S = CaseStatus

NOT_CLOSED: tuple[CaseStatus, ...] = OPEN_STATUSES
IN_HAND: tuple[CaseStatus, ...] = ACTIVE_STATUSES
AWAITING_ACCEPTANCE: tuple[CaseStatus, ...] = (S.reported,)
AWAITING_VERIFICATION: tuple[CaseStatus, ...] = (S.resolved, S.verified)


@dataclass(frozen=True)
class OpenCounts:
    """Open cases by status group: 在办 (of which 待受理) and 待核查; 未结案 is their sum."""

    in_hand: int = 0
    awaiting_acceptance: int = 0
    awaiting_verification: int = 0

    @property
    def not_closed(self) -> int:
        return self.in_hand + self.awaiting_verification

    @classmethod
    def from_statuses(cls, counts: Mapping[str, int]) -> OpenCounts:
        """The groups of a ``{status value: count}`` mapping (other statuses are ignored)."""

        def total(group: tuple[CaseStatus, ...]) -> int:
            return sum(int(counts.get(s.value, 0)) for s in group)

        return cls(total(IN_HAND), total(AWAITING_ACCEPTANCE), total(AWAITING_VERIFICATION))

    def breakdown(self, lang: str | None = None) -> str:
        """未结案 58 = 在办 40（含待受理 3）· 待核查 18 (plain text: escape or wrap it where it is rendered)."""
        return t_plain(
            "status_group.breakdown",
            lang,
            not_closed=f"{self.not_closed:,}",
            in_hand=f"{self.in_hand:,}",
            awaiting_acceptance=f"{self.awaiting_acceptance:,}",
            awaiting_verification=f"{self.awaiting_verification:,}",
        )


TRANSITIONS: dict[str, tuple[frozenset[CaseStatus | None], CaseStatus | None]] = {
    "report": (frozenset({None}), S.reported),
    "accept": (frozenset({S.reported}), S.accepted),
    "reject": (frozenset({S.reported}), S.rejected),
    "dispatch": (frozenset({S.accepted}), S.dispatched),
    # the grid handles it itself (accepted → in_progress), or the dispatched handler starts
    "start": (frozenset({S.accepted, S.dispatched}), S.in_progress),
    "return": (frozenset({S.dispatched, S.in_progress}), S.accepted),  # 退回 to the dispatcher
    "resolve": (frozenset({S.in_progress}), S.resolved),
    "rework": (frozenset({S.resolved, S.verified}), S.in_progress),  # 返工
    "verify": (frozenset({S.resolved}), S.verified),
    "follow_up": (frozenset({S.verified}), None),  # 回访: records satisfaction
    "close": (frozenset({S.verified}), S.closed),
    "reopen": (frozenset({S.closed, S.rejected}), S.accepted),
    "merge": (frozenset(OPEN_STATUSES), S.closed),  # closed as a duplicate of another case
    # side actions: no status change
    "extend_request": (frozenset({S.accepted, S.dispatched, S.in_progress}), None),
    "extend_approve": (frozenset({S.accepted, S.dispatched, S.in_progress}), None),
    "extend_refuse": (frozenset({S.accepted, S.dispatched, S.in_progress}), None),
    "supervise": (frozenset(OPEN_STATUSES), None),  # 督办
    "escalate": (frozenset({S.accepted, S.dispatched, S.in_progress}), None),  # 吹哨
    "report_back": (frozenset(OPEN_STATUSES), None),  # a department's 报到
    "assign_volunteer": (frozenset(OPEN_STATUSES), None),
    "comment": (frozenset(set(S)), None),
    "support": (frozenset(OPEN_STATUSES), None),  # 居民附议: a resident's matching report, +1
    # an import sets the status the source system reached by its own path (change_case's `to_status`)
    "import_update": (frozenset(set(S)), None),
}


def next_status(action: str, current: CaseStatus | None) -> CaseStatus | None:
    """The status after `action` from `current`; raises KeyError/ValueError for unknown or illegal moves."""
    allowed, to = TRANSITIONS[action]
    if current not in allowed:
        raise ValueError(f"{action} not allowed from {current}")
    return current if to is None else to
