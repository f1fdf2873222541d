"""The case state machine of DESIGN §5 as one table.

``TRANSITIONS[action] = (allowed from-statuses, to-status or None for "stays")``. The workflow service
(`cases.py`) checks every move against it; the seed writes its histories through it; the replay test
uses it to check that every case's events lead to its status.
"""

from __future__ import annotations

from models.enums import OPEN_STATUSES, CaseStatus

S = CaseStatus

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
    # an import sets the status the source system reached by its own path (change_case's `to_status`)
    "import_update": (frozenset(set(S)), None),
}


def next_status(action: str, current: CaseStatus | None) -> CaseStatus | None:
    """The status after `action` from `current`; raises KeyError/ValueError for unknown or illegal moves."""
    allowed, to = TRANSITIONS[action]
    if current not in allowed:
        raise ValueError(f"{action} not allowed from {current}")
    return current if to is None else to
