"""What the volunteer modules share: the definition of an *active* volunteer, the role check (against
the role policy), and the pagination and skill-order helpers.

- **Active** volunteer: the ``active`` flag is set AND (a service record started in the last
  :data:`ACTIVE_SERVICE_DAYS` days, not in the future, OR registered in the last :data:`NEW_VOLUNTEER_DAYS`
  days). A planned (future) service record does not make anyone active.

Refusals are :class:`~dashboard.kernel.errors.DomainError` with an i18n key (``vol.err.*``) and format
values (a list of row problems as its `details`); pages show them through the one renderer.
Names with a leading underscore are private to the ``dashboard.volunteers`` package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlmodel import Session

from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from models import ServiceRecord, Volunteer, VolunteerSkill
from models.enums import SKILLS

ACTIVE_SERVICE_DAYS = 90
"""A service record in this many days makes a volunteer active (DESIGN §7)."""
NEW_VOLUNTEER_DAYS = 30
"""A volunteer registered in this many days counts as active without service yet."""


# ---------------------------------------------------------------- errors


def _require(actor: Actor, action: str) -> None:
    """NotPermitted unless the role policy allows the actor `action` ("volunteer.edit" …)."""
    if not may(actor, action):
        raise NotPermitted("vol.err.forbidden")


# ---------------------------------------------------------------- shared SQL pieces


def active_condition(now: datetime) -> ColumnElement[bool]:
    """SQL condition on `Volunteer`: active by the DESIGN §7 definition at `now`."""
    recent_service = exists().where(
        ServiceRecord.volunteer_id == Volunteer.id,
        ServiceRecord.start >= now - timedelta(days=ACTIVE_SERVICE_DAYS),
        ServiceRecord.start <= now,
    )
    return and_(
        Volunteer.active.is_(True),
        or_(Volunteer.registered_at >= now - timedelta(days=NEW_VOLUNTEER_DAYS), recent_service),
    )


def _has_skill(skills: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(VolunteerSkill.volunteer_id == Volunteer.id, VolunteerSkill.skill.in_(list(skills)))


def _skills_of(session: Session, volunteer_ids: Sequence[int]) -> dict[int, list[str]]:
    """Skills of a bounded list of volunteers (a page), in the order of :data:`SKILLS`."""
    if not volunteer_ids:
        return {}
    rows = session.exec(
        select(VolunteerSkill.volunteer_id, VolunteerSkill.skill).where(
            VolunteerSkill.volunteer_id.in_(list(volunteer_ids))
        )
    ).all()
    out: dict[int, list[str]] = {}
    order = {s: i for i, s in enumerate(SKILLS)}
    for vid, skill in rows:
        out.setdefault(vid, []).append(skill)
    for skills in out.values():
        skills.sort(key=lambda s: order.get(s, len(order)))
    return out


# ---------------------------------------------------------------- pages and skill order


@dataclass
class Page:
    """One page of rows and the total number of matching rows."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def _clamp_page(page: int, page_size: int, total: int) -> int:
    pages = max(1, math.ceil(total / page_size))
    return min(max(1, page), pages)


def _skill_order(skill: str) -> int:
    return SKILLS.index(skill) if skill in SKILLS else len(SKILLS)
