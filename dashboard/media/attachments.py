"""The photos of a case, as the pages and the other services use them: add, list, remove, mark public, mark
the case 典型案例, the location a photo proposes, the after-photo rule of resolve, the typical cases of the
report and the wall, and the bytes of a photo for server-side use (the PPTX, the wall).

Every write joins the caller's unit of work with its audit row, and nothing here commits: a photo added
with a case action is stored or refused together with it. Bytes go to the media store before the rows are
written; when the transaction then rolls back, the objects no row names are left to the retention job
(``python -m dashboard media prune``), which is cheaper and safer than deleting from a store inside a
transaction that may still commit.

Scope is the case's: a photo is visible to whoever may see its case (:func:`dashboard.kernel.scope.case_filter`)
and to nobody else; its EXIF point only to the roles :func:`~dashboard.kernel.privacy.sees_exact_location`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from dashboard import clock
from dashboard.cases.change import change_case, note_text
from dashboard.i18n import t_plain
from dashboard.kernel import audit, privacy
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from dashboard.media import rules
from dashboard.media.checks import MAX_BYTES, MAX_PER_CASE, check_count, check_photo
from dashboard.media.renditions import ORIGINAL, SIZES, object_key, render
from dashboard.media.store import get_store
from models import Case, CaseAttachment, CaseEvent, Grid, User
from models.enums import AttachmentKind

__all__ = [
    "MAX_BYTES",
    "MAX_PER_CASE",
    "PhotoView",
    "TypicalCaseRef",
    "add_photos",
    "is_typical",
    "mark_typical",
    "photo_bytes",
    "photo_location",
    "photos_of",
    "remove_photo",
    "require_after_photo",
    "set_public",
    "typical_cases",
    "use_photo_location",
]

ROUTE_PREFIX = "/_app/photos"
"""Where the app serves photos (:mod:`dashboard.media.routes`); Streamlit reserves ``/media/`` for its own."""
FORMS = (*SIZES, ORIGINAL)
"""What :func:`photo_bytes` serves: ``thumb`` (320 px WebP), ``large`` (1280 px WebP), ``original``."""
MANAGE = "case.triage"
"""Who marks photos public and cases typical, and removes others' photos: the command centre (the
supervisors of the role policy)."""
_ADD = ("comment", "case.intake")
"""Who may add photos to a case in scope: whoever works on cases (a note's roles) or records them."""


@dataclass(frozen=True)
class PhotoView:
    """One photo of a case as a page shows it; the pictures are the URLs of the session-checked route."""

    id: int
    kind: AttachmentKind
    event_id: int | None
    uploaded_at: datetime
    uploaded_by: str
    width: int
    height: int
    public: bool
    thumb_url: str
    large_url: str
    taken_at: datetime | None
    lon: float | None
    """EXIF GPS (WGS-84); None unless the viewer may see exact locations."""
    lat: float | None


@dataclass(frozen=True)
class TypicalCaseRef:
    """A case marked 典型案例, with its newest photo from before the work and from after it."""

    id: int
    number: str
    title: str
    category_id: int
    grid_id: int
    grid: str
    result: str
    """The note of its last 处置完毕 (resolve) event."""
    before_id: int | None
    after_id: int | None


def photo_url(attachment_id: int, form: str) -> str:
    """The app's route of a form of a photo (the route checks the session and scope on every request)."""
    return f"{ROUTE_PREFIX}/{attachment_id}/{form}"


# ---------------------------------------------------------------- reading


def _case_in_scope(session: Session, actor: Actor, case_id: int) -> Case | None:
    if not may(actor, "case.read"):
        return None
    return session.exec(select(Case).where(Case.id == case_id, case_filter(actor))).first()


def _attachment_in_scope(session: Session, actor: Actor, attachment_id: int) -> tuple[CaseAttachment, Case]:
    """The live photo and its case, or NotFound when either is unknown, removed or out of scope."""
    row = session.exec(
        select(CaseAttachment, Case)
        .join(Case, Case.id == CaseAttachment.case_id)
        .where(CaseAttachment.id == attachment_id, CaseAttachment.deleted_at.is_(None), case_filter(actor))
    ).first()
    if row is None or not may(actor, "case.read"):
        raise NotFound()
    return row[0], row[1]


def photos_of(session: Session, actor: Actor, *, case_id: int) -> list[PhotoView]:
    """The case's photos in upload order; empty when the case is out of the actor's scope (a page cannot
    tell that from a case without photos)."""
    if _case_in_scope(session, actor, case_id) is None:
        return []
    exact = privacy.sees_exact_location(actor)
    rows = session.exec(
        select(CaseAttachment, User.display_name)
        .outerjoin(User, User.id == CaseAttachment.uploaded_by)
        .where(CaseAttachment.case_id == case_id, CaseAttachment.deleted_at.is_(None))
        .order_by(col(CaseAttachment.uploaded_at), col(CaseAttachment.id))
    ).all()
    system = t_plain("media.uploader_public")
    return [
        PhotoView(
            id=a.id,  # type: ignore[arg-type]
            kind=AttachmentKind(a.kind),
            event_id=a.event_id,
            uploaded_at=a.uploaded_at,
            uploaded_by=name or system,
            width=a.width,
            height=a.height,
            public=a.public,
            thumb_url=photo_url(a.id, "thumb"),  # type: ignore[arg-type]
            large_url=photo_url(a.id, "large"),  # type: ignore[arg-type]
            taken_at=a.taken_at,
            lon=a.lon if exact else None,
            lat=a.lat if exact else None,
        )
        for a, name in rows
    ]


def is_typical(session: Session, *, case_id: int) -> bool:
    """Whether the case is marked 典型案例 (the caller has the case in scope already)."""
    return bool(session.exec(select(Case.typical).where(Case.id == case_id)).first())


def require_after_photo(session: Session, case_id: int) -> bool:
    """Whether resolving the case needs a 处置后 photo (its category is marked so in 事件分类与时限). The
    resolve action enforces it when its unit of work commits (:mod:`dashboard.media.rules`)."""
    return rules.after_photo_required(session, case_id)


# ---------------------------------------------------------------- writing


def _audit(session: Session, actor: Actor, action: str, target: str, detail: str) -> None:
    """The audit row of a photo write; a system actor (id 0: the residents' channel) is no users row."""
    if actor.id:
        audit.record(session, actor, action, target, detail=detail)
    else:
        audit.record(session, None, action, target, detail=detail, actor_name=actor.display_name)


def _kind(kind: AttachmentKind | str) -> AttachmentKind:
    try:
        return AttachmentKind(kind)
    except ValueError:
        raise Invalid("media.err.kind", kind=str(kind)) from None


def _check_event(session: Session, case_id: int, event_id: int | None) -> None:
    if event_id is None:
        return
    owner = session.exec(select(CaseEvent.case_id).where(CaseEvent.id == event_id)).first()
    if owner != case_id:
        raise Invalid("media.err.event")


def add_photos(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    kind: AttachmentKind | str,
    files: list[tuple[str, bytes]],
    event_id: int | None = None,
) -> list[int]:
    """Check every file, then store them and add their rows (with one audit row); the new ids in the
    order given. One refused file refuses all (:class:`~dashboard.kernel.errors.Invalid`: what and why),
    and nothing is stored. `event_id` links the photos to the case event they were taken for."""
    case = _case_in_scope(session, actor, case_id)
    if case is None:
        raise NotFound()
    if not any(may(actor, action) for action in _ADD):
        raise NotPermitted("media.err.not_permitted")
    if not files:
        return []
    photo_kind = _kind(kind)
    _check_event(session, case_id, event_id)
    existing = session.exec(
        select(func.count())
        .select_from(CaseAttachment)
        .where(CaseAttachment.case_id == case_id, CaseAttachment.deleted_at.is_(None))
    ).one()
    check_count(int(existing), len(files))
    # Each file is checked and rendered before anything is stored; only the encoded forms are kept, not
    # the decoded pixels (ten 12-megapixel photos would hold 360 MB).
    ready = []
    for name, data in files:
        photo = check_photo(name, data)
        ready.append(((photo.taken_at, photo.lon, photo.lat), render(photo)))
    store = get_store()
    now = clock.now()
    rows = []
    for (taken_at, lon, lat), done in ready:
        for form, blob in done.objects().items():
            store.put(object_key(done.content_hash, form), blob)
        rows.append(
            CaseAttachment(
                case_id=case_id,
                event_id=event_id,
                kind=photo_kind,
                content_hash=done.content_hash,
                mime=done.mime,
                size=len(done.original),
                width=done.width,
                height=done.height,
                taken_at=taken_at,
                lon=lon,
                lat=lat,
                uploaded_by=actor.id or None,
                uploaded_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    ids = [r.id for r in rows]
    detail = json.dumps({"kind": photo_kind.value, "ids": ids, "event_id": event_id}, ensure_ascii=False)
    _audit(session, actor, "photo_add", case.number, detail)
    return ids  # type: ignore[return-value]


def remove_photo(session: Session, actor: Actor, *, attachment_id: int, reason: str) -> None:
    """Remove a photo from its case (the command centre, or whoever uploaded it), with the reason, audited.
    The row stays, marked removed; its bytes stay until the retention job."""
    photo, case = _attachment_in_scope(session, actor, attachment_id)
    if not (may(actor, MANAGE) or (actor.id and photo.uploaded_by == actor.id)):
        raise NotPermitted("media.err.not_permitted")
    why = note_text(reason, "reason", required=True)
    photo.deleted_at = clock.now()
    photo.deleted_by = actor.id or None
    session.add(photo)
    detail = json.dumps({"id": attachment_id, "kind": photo.kind, "reason": why}, ensure_ascii=False)
    _audit(session, actor, "photo_remove", case.number, detail)


def set_public(session: Session, actor: Actor, *, attachment_id: int, public: bool) -> None:
    """Mark a photo public (the residents' channel may show it) or not; the command centre only, audited."""
    if not may(actor, MANAGE):
        raise NotPermitted("media.err.not_permitted")
    photo, case = _attachment_in_scope(session, actor, attachment_id)
    photo.public = bool(public)
    session.add(photo)
    _audit(session, actor, "photo_public", case.number, json.dumps({"id": attachment_id, "public": public}))


def mark_typical(session: Session, actor: Actor, *, case_id: int, typical: bool) -> None:
    """Mark a case 典型案例 (the meeting report's slide, the wall) or unmark it; the command centre only.

    The mark is an editorial choice about the case, not a step of its handling: it is written directly
    and audited, without a timeline event or a new version (a version step would make every open page of
    the case stale for a flag that changes nothing of its state).
    """
    if not may(actor, MANAGE):
        raise NotPermitted("media.err.not_permitted")
    case = _case_in_scope(session, actor, case_id)
    if case is None:
        raise NotFound()
    session.exec(update(Case).where(Case.id == case_id).values(typical=bool(typical)))  # type: ignore[call-overload]
    _audit(session, actor, "case_typical", case.number, json.dumps({"typical": bool(typical)}))


# ---------------------------------------------------------------- location from a photo


def photo_location(
    session: Session, *, case_id: int | None = None, attachment_id: int | None = None
) -> tuple[float, float, int | None] | None:
    """(lon, lat, grid id or None) of a photo's EXIF point, proposed as the case's location while the case
    has none: of the photo `attachment_id`, or of the first photo of `case_id` that has one. None when the
    case is located already or no photo carries a point. The caller has checked the actor's scope and
    :func:`~dashboard.kernel.privacy.sees_exact_location`."""
    from dashboard.cases.intake import locate_grid

    query = (
        select(CaseAttachment.lon, CaseAttachment.lat)
        .join(Case, Case.id == CaseAttachment.case_id)
        .where(
            CaseAttachment.deleted_at.is_(None),
            CaseAttachment.lon.is_not(None),
            CaseAttachment.lat.is_not(None),
            Case.lon.is_(None),
        )
        .order_by(col(CaseAttachment.id))
        .limit(1)
    )
    if attachment_id is not None:
        query = query.where(CaseAttachment.id == attachment_id)
    elif case_id is not None:
        query = query.where(CaseAttachment.case_id == case_id)
    else:
        raise ValueError("photo_location needs case_id or attachment_id")
    row = session.exec(query).first()
    if row is None:
        return None
    lon, lat = float(row[0]), float(row[1])
    return lon, lat, locate_grid(session, lon, lat)


def use_photo_location(
    session: Session, actor: Actor, *, case_id: int, version: int, attachment_id: int
) -> int:
    """Locate the case at its photo's point (the user confirmed the proposal): the case's lon/lat and, when
    the point falls in another grid the actor may record in, that grid; a timeline note says so. Returns
    the case's new version."""
    if not privacy.sees_exact_location(actor):
        raise NotPermitted(action="comment")
    photo, _ = _attachment_in_scope(session, actor, attachment_id)
    found = photo_location(session, attachment_id=attachment_id) if photo.case_id == case_id else None
    if found is None:
        raise Invalid("media.err.no_location")
    lon, lat, grid_id = found
    grid = (
        session.exec(select(Grid).where(Grid.id == grid_id, grid_filter(actor))).first() if grid_id else None
    )

    def change(case: Case, _state: object, _now: datetime) -> tuple[dict[str, object], dict[str, object]]:
        values: dict[str, object] = {"lon": lon, "lat": lat}
        if grid is not None and grid.id != case.grid_id:
            values.update(grid_id=grid.id, community_id=grid.community_id)
        return values, {"location_from_photo": attachment_id, **values}

    note = t_plain("media.location_note", lon=f"{lon:.6f}", lat=f"{lat:.6f}")
    return change_case(session, actor, case_id, version, "comment", note, change).version  # type: ignore[arg-type]


# ---------------------------------------------------------------- typical cases and bytes


def _result(session: Session, case_id: int) -> str:
    note = session.exec(
        select(CaseEvent.note)
        .where(CaseEvent.case_id == case_id, CaseEvent.action == "resolve")
        .order_by(col(CaseEvent.at).desc(), col(CaseEvent.id).desc())
        .limit(1)
    ).first()
    return note or ""


def _newest(session: Session, case_id: int, kinds: Sequence[AttachmentKind]) -> int | None:
    return session.exec(
        select(CaseAttachment.id)
        .where(
            CaseAttachment.case_id == case_id,
            col(CaseAttachment.kind).in_([k.value for k in kinds]),
            CaseAttachment.deleted_at.is_(None),
        )
        .order_by(col(CaseAttachment.uploaded_at).desc(), col(CaseAttachment.id).desc())
        .limit(1)
    ).first()


def typical_cases(session: Session, actor: Actor, *, limit: int = 6) -> list[TypicalCaseRef]:
    """The cases marked 典型案例 in the actor's scope, newest report first, each with its newest before
    photo (处置前, else 上报照片) and after photo (处置后)."""
    if not may(actor, "case.read"):
        return []
    rows = session.exec(
        select(Case.id, Case.number, Case.title, Case.category_id, Case.grid_id, Grid.name)
        .join(Grid, Grid.id == Case.grid_id)
        .where(Case.typical.is_(True), case_filter(actor))  # type: ignore[attr-defined]
        .order_by(col(Case.reported_at).desc(), col(Case.id).desc())
        .limit(limit)
    ).all()
    return [
        TypicalCaseRef(
            id=case_id,  # type: ignore[arg-type]
            number=number,
            title=title,
            category_id=category_id,
            grid_id=grid_id,
            grid=grid,
            result=_result(session, case_id),  # type: ignore[arg-type]
            before_id=_newest(session, case_id, (AttachmentKind.before,))  # type: ignore[arg-type]
            or _newest(session, case_id, (AttachmentKind.report,)),  # type: ignore[arg-type]
            after_id=_newest(session, case_id, (AttachmentKind.after,)),  # type: ignore[arg-type]
        )
        for case_id, number, title, category_id, grid_id, grid in rows
    ]


def stored_bytes(session: Session, attachment_id: int, form: str) -> tuple[bytes, str] | None:
    """A form of a live photo and its MIME type, or None (unknown, removed, not in the store). No scope
    check: the callers (the route, :func:`photo_bytes`) decide who gets it."""
    if form not in FORMS:
        return None
    row = session.exec(
        select(CaseAttachment.content_hash, CaseAttachment.mime).where(
            CaseAttachment.id == attachment_id, CaseAttachment.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    data = get_store().get(object_key(row[0], form))
    if data is None:
        return None
    return data, row[1] if form == ORIGINAL else "image/webp"


def photo_bytes(attachment_id: int, size: str) -> bytes | None:
    """The bytes of a photo (``thumb``, ``large`` or ``original``) for server-side use: the PPTX slide, the
    wall's data URIs. The caller got the id from a scoped listing (:func:`typical_cases`, :func:`photos_of`)."""
    from dashboard.db import session_scope

    with session_scope() as session:
        found = stored_bytes(session, attachment_id, size)
    return found[0] if found else None
