"""随手拍 · 我要反映: a resident's report through the same intake as staff (validation, text normalisation,
duplicate check), as the system actor :data:`~dashboard.residents.common.RESIDENT` with source 居民随手拍.

A report matching an open case (same category, 50 m, 24 h: :func:`dashboard.cases.intake.find_duplicates`)
becomes a 附议 (+1) on that case instead of a duplicate, recorded on its timeline as a ``support`` event
through the one change function (so staff see it, and the case's version stays the number of its events);
either way the resident gets a case number and a random 查询码 to follow it. Limits, blocked phones and the
CAPTCHA are checked first (:mod:`dashboard.residents.abuse`); the report, its lookup row, its counters and
its audit row are one unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases.change import change_case
from dashboard.cases.errors import InvalidInput, StaleCase
from dashboard.cases.intake import NewCase, create_case, find_duplicates, validate_new_case
from dashboard.kernel import audit
from dashboard.kernel.errors import Busy, Invalid
from dashboard.kernel.privacy import mask_phone
from dashboard.kernel.text import clean_text, shorten
from dashboard.residents import abuse
from dashboard.residents.common import RESIDENT, RESIDENT_NAME, digest, new_code, new_salt
from dashboard.residents.places import match_building
from dashboard.residents.topics import topic_category
from models import Case, CaseSupporter, PublicReport
from models.enums import CaseSource

TEXT_MAX = 500
"""The longest description a resident may send (staff intake allows more)."""
NAME_MAX = 32
ADDRESS_MAX = 100
MAX_PHOTOS = 3
TITLE_LENGTH = 30

_FIELDS = {
    "title": "description",
    "description": "description",
    "grid": "place",
    "building": "place",
    "location": "place",
    "category": "topic",
    "reporter_phone": "phone",
    "reporter_name": "name",
    "address": "address",
}
"""Intake's field names → the public form's (``residents.field.<name>``)."""


class PublicInvalid(Invalid):
    """What the resident must correct on the public form, by field (``residents.field.<name>``)."""

    field_prefix = "residents.field."

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems=problems)


@dataclass
class PublicForm:
    """The public form as posted (texts as typed; ids as the selects send them)."""

    topic: str = ""
    description: str = ""
    grid_id: int | None = None
    community_id: int | None = None
    building_id: int | None = None
    address: str = ""
    name: str = ""
    phone: str = ""
    consent: bool = False
    photos: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class Receipt:
    case_id: int
    number: str
    code: str
    supported: bool
    """True: the report became a 附议 on an existing case (`number` is that case's)."""


def _own_checks(session: Session, form: PublicForm) -> tuple[dict[str, str], int | None, str, str]:
    """The public form's own rules: (problems, category id, cleaned description, normalised phone)."""
    problems: dict[str, str] = {}
    category_id = topic_category(session, form.topic)
    if category_id is None:
        problems["topic"] = "errors.required"
    text = clean_text(form.description).strip()
    if not text:
        problems["description"] = "errors.required"
    elif len(text) > TEXT_MAX:
        problems["description"] = "residents.err.too_long"
    if len(clean_text(form.name).strip()) > NAME_MAX:
        problems["name"] = "residents.err.too_long"
    if len(clean_text(form.address).strip()) > ADDRESS_MAX:
        problems["address"] = "residents.err.too_long"
    phone = ""
    if clean_text(form.phone).strip():
        phone = abuse.normal_phone(form.phone) or ""
        if not phone:
            problems["phone"] = "errors.phone_format"
        elif not form.consent:
            problems["consent"] = "residents.err.consent"
    if len(form.photos) > MAX_PHOTOS:
        problems["photos"] = "residents.err.too_many_photos"
    if form.grid_id is None and form.building_id is None:
        problems["place"] = "errors.required"
    return problems, category_id, text, phone


def _new_case(session: Session, form: PublicForm, category_id: int, text: str, phone: str) -> NewCase:
    building_id = form.building_id or match_building(
        session, form.address, grid_id=form.grid_id, community_id=form.community_id
    )
    name = clean_text(form.name).strip()
    return NewCase(
        category_id=category_id,
        title=shorten(text, TITLE_LENGTH),
        source=CaseSource.resident,
        description=text,
        grid_id=form.grid_id,
        building_id=building_id,
        address=clean_text(form.address).strip(),
        reporter_name=name,
        reporter_phone=phone,
        anonymous=not name and not phone,
    )


def _validated(session: Session, data: NewCase) -> NewCase:
    try:
        return validate_new_case(session, RESIDENT, data)
    except InvalidInput as exc:
        raise PublicInvalid({_FIELDS.get(k, "place"): v for k, v in exc.problems.items()}) from None


def _store_photos(
    session: Session, case_id: int, photos: list[tuple[str, bytes]], event_id: int | None
) -> int:
    """The photos on the case through the photos issue's attachments (same checks as staff photos)."""
    if not photos:
        return 0
    from dashboard.media import attachments

    return len(
        attachments.add_photos(
            session, RESIDENT, case_id=case_id, kind="report", files=photos, event_id=event_id
        )
    )


def _support_event(session: Session, case_id: int, text: str) -> int:
    """The 附议's event on the case timeline (action ``support``, the resident's words as its note, the
    supporters so far in its payload); its id. Staff changing the case at the same moment make the whole
    report a :class:`Busy` unit of work, tried again from the start (``db.run_unit``), never a refusal
    naming them."""
    version = session.exec(select(Case.version).where(Case.id == case_id)).one()
    supporters = session.exec(select(func.count()).where(CaseSupporter.case_id == case_id)).one()
    try:
        ref = change_case(
            session, RESIDENT, case_id, version, "support", text, payload={"supporters": supporters}
        )
    except StaleCase:
        raise Busy() from None
    assert ref.event_id is not None
    return ref.event_id


def submit_report(session: Session, form: PublicForm, *, source: str, captcha_passed: bool) -> Receipt:
    """Record a resident's report (or 附议) and return the receipt; :class:`PublicInvalid` names what to
    correct, a :class:`DomainError` says why it was refused (blocked phone, limits, CAPTCHA)."""
    problems, category_id, text, phone = _own_checks(session, form)
    if problems:
        raise PublicInvalid(problems)
    assert category_id is not None
    phone_hash = abuse.phone_digest(phone)
    now = clock.now()
    abuse.check_report(session, source=source, phone_hash=phone_hash, now=now)
    if not captcha_passed and abuse.needs_captcha(session, source, now):
        raise PublicInvalid({"captcha": "residents.err.captcha"})
    clean = _validated(session, _new_case(session, form, category_id, text, phone))
    hits = find_duplicates(session, RESIDENT, category_id, clean.lon, clean.lat, now, limit=1)
    code, salt = new_code(), new_salt()
    if hits:
        case_id, number, supported = hits[0].id, hits[0].number, True
        session.add(
            CaseSupporter(
                case_id=case_id,
                at=now,
                source=source,
                phone_hash=phone_hash,
                phone_masked=mask_phone(phone),
                note=text,
            )
        )
        session.flush()  # the supporter counts itself in the event's total
        photos = _store_photos(session, case_id, form.photos, _support_event(session, case_id, text))
    else:
        ref = create_case(session, RESIDENT, clean)
        case_id, number, supported = ref.id, ref.number, False
        photos = _store_photos(session, case_id, form.photos, ref.event_id)
    session.add(
        PublicReport(
            case_id=case_id,
            kind="support" if supported else "report",
            code_salt=salt,
            code_hash=digest("code", salt, code),
            phone_hash=phone_hash,
            phone_tail_hash=digest("tail", salt, phone[-4:]) if phone else "",
            consent=bool(phone) and form.consent,
            source=source,
            created_at=now,
        )
    )
    abuse.count_report(session, source=source, phone_hash=phone_hash, now=now)
    audit.record(
        session,
        None,
        "public_support" if supported else "public_report",
        number,
        detail=f"source={source} photos={photos}" + (f" phone={mask_phone(phone)}" if phone else ""),
        actor_name=RESIDENT_NAME,
    )
    return Receipt(case_id, number, code, supported)
