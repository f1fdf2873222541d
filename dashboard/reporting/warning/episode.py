"""A repeat problem (重复诉求) is one ongoing episode, not a new alert every morning.

A building with four leaks in 90 days meets the repeat rule on each of the following days until the oldest
case leaves the window; a caller or a reworked case likewise. Raising it anew each day buried the page (24
building alerts a day on the seeded history, mostly the same buildings). So a repeat finding is followed from
run to run by its key:

- **new** — the key was not raised within the last :data:`END_DAYS` days: the episode starts today;
- **updated** — it was, and the finding holds cases the last alert did not (a fifth leak): the same episode,
  shown again with its new cases marked;
- **ongoing** — it was, with nothing new: the episode goes on quietly (the page leaves it out unless asked).

An episode keeps its first day, and what a user did about it (督办, 专项, dismissed) holds as long as it goes
on. It ends when the rule no longer holds for :data:`END_DAYS` days in a row; meeting it again after that is a
new episode. Pure functions: the job (:mod:`run`) and bench/detectors.py share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from dashboard.reporting.warning.finding import Finding

END_DAYS = 7
"""Days without the rule holding after which an episode has ended."""
State = Literal["new", "updated", "ongoing"]


@dataclass(frozen=True)
class Seen:
    """The last alert of a key: its day, its episode's first day and its cases."""

    day: date
    first_day: date
    case_ids: frozenset[int]


@dataclass(frozen=True)
class Step:
    """What today's finding is to its episode."""

    state: State
    first_day: date
    new_case_ids: list[int]

    def evidence(self) -> dict[str, object]:
        """The form stored in the alert's evidence (``episode``)."""
        return {"state": self.state, "first_day": self.first_day.isoformat(), "new_cases": self.new_case_ids}


def follow(finding: Finding, seen: Seen | None, day: date) -> Step:
    """Today's finding against the key's last alert (None: never raised, or too long ago to matter)."""
    if seen is None or (day - seen.day).days > END_DAYS:
        return Step("new", day, [])
    fresh = [c for c in finding.case_ids if c not in seen.case_ids]
    return Step("updated" if fresh else "ongoing", seen.first_day, fresh)


def seen_from(day: date, first_day: date | None, case_ids: list[int]) -> Seen:
    """A stored alert as the next run sees it (an alert stored before episodes were followed starts its own)."""
    return Seen(day, first_day or day, frozenset(case_ids))
