"""The seed's photos (seed/photos.py) on a small hand-built world: report and after photos linked to their
events, their objects in the store, the typical cases and the after-photo rule of the categories."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from dashboard.db import get_engine
from dashboard.media import attachments
from dashboard.media.renditions import object_key
from dashboard.media.store import get_store
from models import Case, CaseAttachment, CaseEvent, Category
from models.enums import AttachmentKind, CaseStatus
from seed import photos as seed_photos
from tests.factories import CASE_LOOP, World, put_case


@pytest.mark.world(CASE_LOOP)
def test_seeded_cases_get_photos_typical_marks_and_the_after_photo_rule(
    world: World, local_media: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed_photos, "PHOTO_SHARE", 1.0)
    monkeypatch.setattr(seed_photos, "VARIANTS", 1)
    w = world
    with w.session() as s:
        closed = put_case(s, w, CaseStatus.closed, grid=0)
        reported = put_case(s, w, CaseStatus.reported, grid=1, category=w.category["ADM"])
        resolve = CaseEvent(
            case_id=closed.id,  # type: ignore[arg-type]
            at=closed.reported_at + timedelta(hours=3),
            actor_id=w.actors["grid"].id,
            action="resolve",
            from_status=CaseStatus.in_progress,
            to_status=CaseStatus.resolved,
        )
        s.add(resolve)
        s.commit()
    assert seed_photos.write_photos(get_engine(w.url)) == {"case_attachments": 3, "typical_cases": 1}
    with w.session() as s:
        shown = attachments.photos_of(s, w.actors["operator"], case_id=closed.id)  # type: ignore[arg-type]
        assert [(p.kind, p.event_id) for p in shown] == [
            (AttachmentKind.report, shown[0].event_id),
            (AttachmentKind.after, resolve.id),
        ]
        assert shown[0].lon == pytest.approx(closed.lon) and shown[0].taken_at == closed.reported_at
        assert [p.kind for p in attachments.photos_of(s, w.actors["operator"], case_id=reported.id)] == [
            AttachmentKind.report
        ]  # type: ignore[arg-type]
        assert s.exec(select(Case.id).where(Case.typical.is_(True))).all() == [closed.id]  # type: ignore[attr-defined]
        rule = dict(s.exec(select(Category.code, Category.after_photo_required)).all())
        hashes = set(s.exec(select(CaseAttachment.content_hash)).all())
    assert rule == {"ENV": True, "SAF": True, "ADM": False}
    store = get_store()
    for content_hash in hashes:
        for form in ("original", "thumb", "large"):
            assert store.get(object_key(content_hash, form)), form
