"""The after-photo rule of resolve (处置完毕): a case of a category marked ``after_photo_required`` (事件分类与
时限) resolves only with a 处置后 photo.

The rule is checked when the unit of work commits, not when the resolve event is written: the resolve
dialog writes the event first and then its photos, linked to that event, in the same transaction; at
commit the photo is there or the whole unit (event and all) is refused. :func:`expect_after_photo` is
called by the change function for every resolve (``dashboard.cases.change``); the listener below runs
the check on the session's commit.
"""

from __future__ import annotations

from sqlalchemy import event, exists
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from dashboard.kernel.errors import Conflict
from models import Case, CaseAttachment, Category
from models.enums import AttachmentKind

_DUE = "media.after_photo_due"
"""``session.info`` key: the ids of the cases resolved in this unit of work."""


def after_photo_required(session: Session, case_id: int) -> bool:
    """Whether resolving the case needs a 处置后 photo (its category says so)."""
    required = session.exec(
        select(Category.after_photo_required)
        .join(Case, Case.category_id == Category.id)
        .where(Case.id == case_id)
    ).first()
    return bool(required)


def has_after_photo(session: Session, case_id: int) -> bool:
    """Whether the case has a 处置后 photo that is not removed."""
    query = sa_select(
        exists().where(
            CaseAttachment.case_id == case_id,
            CaseAttachment.kind == AttachmentKind.after,
            CaseAttachment.deleted_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return bool(session.scalar(query))


def check_after_photo(session: Session, case_id: int) -> None:
    """Refuse (:class:`Conflict`) when the case needs a 处置后 photo and has none."""
    if after_photo_required(session, case_id) and not has_after_photo(session, case_id):
        raise Conflict("media.err.after_photo_required")


def expect_after_photo(session: Session, case_id: int) -> None:
    """Check the rule for `case_id` when this unit of work commits."""
    session.info.setdefault(_DUE, set()).add(case_id)


@event.listens_for(OrmSession, "before_commit")
def _check_due(session: OrmSession) -> None:
    due = session.info.pop(_DUE, None)
    for case_id in sorted(due or ()):
        check_after_photo(session, case_id)  # type: ignore[arg-type]


@event.listens_for(OrmSession, "after_rollback")
def _forget_due(session: OrmSession) -> None:
    session.info.pop(_DUE, None)
