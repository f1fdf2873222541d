"""The attachments service and the photo route on a real database (SQLite and PostgreSQL) and both media
stores (a local folder, an S3 bucket on moto): upload, listing by scope, serving without EXIF, refusals
that store nothing, removal, public and typical marks, the location a photo proposes, the after-photo rule
of resolve, and the retention job."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import select

from dashboard import clock
from dashboard.admin import auth
from dashboard.cases import commands
from dashboard.config import get_settings
from dashboard.db import session_scope
from dashboard.kernel.errors import Conflict, DomainError, Invalid, NotFound, NotPermitted
from dashboard.media import attachments, retention
from dashboard.media.store import get_store
from models import AuditLog, Case, CaseAttachment, CaseEvent, Category
from models.enums import AttachmentKind, CaseStatus
from tests import photo_samples as samples
from tests.factories import CASE_LOOP, World, centre, put_case
from tests.unit.media.asgi import get

pytestmark = pytest.mark.world(CASE_LOOP)
K = AttachmentKind
S = CaseStatus


@pytest.fixture
def app_db(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world as the app's own database (the route and photo_bytes open their sessions on it)."""
    monkeypatch.setenv("DATABASE_URL", world.url)
    return world


def _cookie(w: World, who: str) -> str:
    with w.session() as s:
        cookie = auth.start_session(s, w.actors[who], get_settings().secret_key)
        s.commit()
    return cookie


def _add(
    w: World, case_id: int, kind: K = K.report, who: str = "operator", files: list | None = None
) -> list[int]:
    with w.session() as s:
        ids = attachments.add_photos(
            s, w.actors[who], case_id=case_id, kind=kind, files=files or [("p.jpg", samples.jpeg())]
        )
        s.commit()
    return ids


def _objects() -> list[str]:
    return [key for key, _ in get_store().objects()]


def test_a_photo_is_stored_listed_and_served_without_its_exif(app_db: World, store_kind: str) -> None:
    w = app_db
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0)
    lon, lat = centre(0)
    data = samples.jpeg((180, 40, 40), "gps", gps=(lon, lat), size=(1600, 1200))
    assert b"Exif" in data
    [photo_id] = _add(w, case.id, files=[("scene.jpg", data)])  # type: ignore[arg-type]
    assert len(_objects()) == 3  # original, thumb, large

    with w.session() as s:
        [seen] = attachments.photos_of(s, w.actors["operator"], case_id=case.id)  # type: ignore[arg-type]
        [masked] = attachments.photos_of(s, w.actors["leader"], case_id=case.id)  # type: ignore[arg-type]
        audit_rows = s.exec(select(AuditLog).where(AuditLog.action == "photo_add")).all()
    assert (seen.id, seen.kind, seen.uploaded_by, seen.width, seen.height) == (
        photo_id,
        K.report,
        "指挥中心王芳",
        1600,
        1200,
    )
    assert seen.lon == pytest.approx(lon, abs=1e-6) and seen.lat == pytest.approx(lat, abs=1e-6)
    assert (masked.lon, masked.lat) == (None, None)  # the leader may not see exact locations
    assert [(a.target, json.loads(a.detail)["ids"]) for a in audit_rows] == [(case.number, [photo_id])]

    cookie = _cookie(w, "operator")
    for size, longest in (("thumb", 320), ("large", 1280)):
        status, headers, body = get(seen.thumb_url if size == "thumb" else seen.large_url, cookie)
        assert status == 200 and headers["content-type"] == "image/webp"
        assert headers["cache-control"].startswith("private")
        assert b"Exif" not in body and b"GPS" not in body
        with Image.open(io.BytesIO(body)) as img:
            assert max(img.size) == longest and len(img.getexif()) == 0
        assert get(seen.thumb_url if size == "thumb" else seen.large_url, cookie, headers["etag"])[0] == 304
    assert attachments.photo_bytes(photo_id, "original")[:2] == b"\xff\xd8"  # type: ignore[index]
    assert b"Exif" not in attachments.photo_bytes(photo_id, "original")  # type: ignore[operator]


def test_one_refused_file_refuses_the_upload_and_nothing_is_stored(app_db: World, store_kind: str) -> None:
    w = app_db
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0)
    for bad in (("shell.jpg", samples.FAKE_JPG), ("big.jpg", b"\xff\xd8\xff" + bytes(50 * 1024 * 1024))):
        with pytest.raises(Invalid) as caught, w.session() as s:
            files = [("ok.jpg", samples.jpeg()), bad]
            attachments.add_photos(s, w.actors["operator"], case_id=case.id, kind=K.report, files=files)  # type: ignore[arg-type]
        assert caught.value.values["name"] == bad[0]
    with w.session() as s:
        assert s.exec(select(CaseAttachment)).all() == []
        assert s.exec(select(AuditLog).where(AuditLog.action == "photo_add")).all() == []
    assert _objects() == []


def test_photos_are_seen_only_within_the_case_scope(app_db: World, local_media: object) -> None:
    w = app_db
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0)  # 幸福社区, grid XL-01-01
    [photo_id] = _add(w, case.id)  # type: ignore[arg-type]
    url = attachments.photo_url(photo_id, "thumb")
    assert get(url)[0] == 403  # no session: an id alone gets nothing
    assert get(url, "1.forged.cookie")[0] == 403
    for outsider in ("grid3", "department", "volunteers"):  # another community's worker, a department …
        status, _, body = get(url, _cookie(w, outsider))
        assert (status, body) == (403, b""), outsider
        with w.session() as s:
            assert attachments.photos_of(s, w.actors[outsider], case_id=case.id) == []  # type: ignore[arg-type]
    assert get(url, _cookie(w, "community"))[0] == 200
    assert get(url, _cookie(w, "grid"))[0] == 200
    cookie = _cookie(w, "operator")
    assert get(attachments.photo_url(photo_id + 999, "thumb"), cookie)[0] == 404
    assert get(attachments.photo_url(photo_id, "original"), cookie)[0] == 404  # originals are not served
    with w.session() as s, pytest.raises(NotFound):
        attachments.add_photos(
            s, w.actors["grid3"], case_id=case.id, kind=K.other, files=[("a.jpg", samples.jpeg())]
        )  # type: ignore[arg-type]


def test_remove_public_and_typical_are_the_command_centres_and_audited(
    app_db: World, local_media: object
) -> None:
    w = app_db
    op = w.actors["operator"]
    with w.session() as s:
        case = put_case(s, w, S.closed, grid=0)
    before_id, report_id = _add(
        w, case.id, K.before, files=[("a.jpg", samples.jpeg()), ("b.png", samples.png())]
    )  # type: ignore[arg-type]
    [after_id] = _add(w, case.id, K.after, who="grid", files=[("c.jpg", samples.jpeg((10, 200, 10)))])  # type: ignore[arg-type]
    with w.session() as s:
        with pytest.raises(NotPermitted):
            attachments.set_public(s, w.actors["grid"], attachment_id=after_id, public=True)
        with pytest.raises(NotPermitted):
            attachments.mark_typical(s, w.actors["grid"], case_id=case.id, typical=True)  # type: ignore[arg-type]
        with pytest.raises(NotPermitted):  # the grid worker may remove only what they uploaded
            attachments.remove_photo(s, w.actors["grid"], attachment_id=before_id, reason="拍错了")
        with pytest.raises(DomainError):
            attachments.remove_photo(s, op, attachment_id=before_id, reason="  ")
        attachments.set_public(s, op, attachment_id=after_id, public=True)
        attachments.mark_typical(s, op, case_id=case.id, typical=True)  # type: ignore[arg-type]
        attachments.remove_photo(s, op, attachment_id=report_id, reason="与本案无关")
        s.commit()
    with w.session() as s:
        shown = attachments.photos_of(s, op, case_id=case.id)  # type: ignore[arg-type]
        assert [(p.id, p.public) for p in shown] == [(before_id, False), (after_id, True)]
        removed = s.get(CaseAttachment, report_id)
        assert removed is not None and removed.deleted_by == op.id and removed.deleted_at is not None
        assert attachments.is_typical(s, case_id=case.id)  # type: ignore[arg-type]
        [typical] = attachments.typical_cases(s, op, limit=5)
        assert (typical.number, typical.before_id, typical.after_id) == (case.number, before_id, after_id)
        assert attachments.typical_cases(s, w.actors["grid3"], limit=5) == []  # out of scope
        actions = s.exec(select(AuditLog.action).where(AuditLog.target == case.number)).all()
        case_row = s.get(Case, case.id)
    assert {"photo_add", "photo_public", "case_typical", "photo_remove"} <= set(actions)
    assert case_row is not None and case_row.version == case.version  # the mark is no case change
    assert attachments.photo_bytes(report_id, "thumb") is None  # removed: no longer served


def test_resolve_needs_an_after_photo_where_the_category_says_so(app_db: World, local_media: object) -> None:
    w = app_db
    grid = w.actors["grid"]
    with w.session() as s:
        env = s.get(Category, w.category["ENV"])
        env.after_photo_required = True  # type: ignore[union-attr]
        s.add(env)
        s.commit()
        refused = put_case(s, w, S.in_progress, grid=0)
        photographed = put_case(s, w, S.in_progress, grid=0)
        safety = put_case(s, w, S.in_progress, grid=0, category=w.category["SAF"])
        assert attachments.require_after_photo(s, refused.id)  # type: ignore[arg-type]
        assert not attachments.require_after_photo(s, safety.id)  # type: ignore[arg-type]

    with pytest.raises(Conflict) as caught, session_scope() as s:
        commands.resolve(s, grid, refused.id, refused.version, "已清理")  # type: ignore[arg-type]
    assert caught.value.key == "media.err.after_photo_required"
    with session_scope() as s:  # a before-photo is no after-photo
        attachments.add_photos(s, grid, case_id=refused.id, kind=K.before, files=[("b.jpg", samples.jpeg())])  # type: ignore[arg-type]
    with pytest.raises(Conflict), session_scope() as s:
        commands.resolve(s, grid, refused.id, refused.version, "已清理")  # type: ignore[arg-type]

    with session_scope() as s:  # as the resolve dialog does it: the event, then its photos, one unit
        ref = commands.resolve(s, grid, photographed.id, photographed.version, "已清理")  # type: ignore[arg-type]
        attachments.add_photos(
            s,
            grid,
            case_id=photographed.id,
            kind=K.after,
            files=[("a.jpg", samples.jpeg())],
            event_id=ref.event_id,
        )  # type: ignore[arg-type]
    with session_scope() as s:
        commands.resolve(s, grid, safety.id, safety.version, "已处置")  # type: ignore[arg-type]

    with w.session() as s:
        statuses = {
            c.id: c.status
            for c in s.exec(select(Case).where(Case.id.in_([refused.id, photographed.id, safety.id])))
        }  # type: ignore[union-attr]
        linked = s.exec(select(CaseAttachment.event_id).where(CaseAttachment.kind == K.after)).one()
        resolve_event = s.exec(
            select(CaseEvent.id).where(CaseEvent.case_id == photographed.id, CaseEvent.action == "resolve")
        ).one()
        refused_events = s.exec(select(CaseEvent.action).where(CaseEvent.case_id == refused.id)).all()
    assert statuses == {refused.id: S.in_progress, photographed.id: S.resolved, safety.id: S.resolved}
    assert linked == resolve_event and "resolve" not in refused_events


def test_a_photos_gps_is_proposed_as_the_location_of_a_case_without_one(
    app_db: World, local_media: object
) -> None:
    w = app_db
    op = w.actors["operator"]
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0, lon=None, lat=None)
    point = centre(1)  # inside grid XL-01-02
    [plain_id] = _add(w, case.id, files=[("plain.jpg", samples.jpeg())])  # type: ignore[arg-type]
    [gps_id] = _add(w, case.id, files=[("gps.jpg", samples.jpeg((1, 1, 1), gps=point))])  # type: ignore[arg-type]
    with w.session() as s:
        assert attachments.photo_location(s, attachment_id=plain_id) is None
        lon, lat, grid_id = attachments.photo_location(s, case_id=case.id)  # type: ignore[arg-type,misc]
        assert (lon, lat, grid_id) == (pytest.approx(point[0]), pytest.approx(point[1]), w.grid["XL-01-02"])
        with pytest.raises(NotPermitted):
            attachments.use_photo_location(
                s, w.actors["leader"], case_id=case.id, version=case.version, attachment_id=gps_id
            )  # type: ignore[arg-type]
        version = attachments.use_photo_location(
            s, op, case_id=case.id, version=case.version, attachment_id=gps_id
        )  # type: ignore[arg-type]
        s.commit()
    with w.session() as s:
        moved = s.get(Case, case.id)
        note = s.exec(
            select(CaseEvent.note).where(CaseEvent.case_id == case.id, CaseEvent.action == "comment")
        ).one()
        assert moved is not None and (moved.grid_id, moved.version) == (w.grid["XL-01-02"], version)
        assert moved.lon == pytest.approx(point[0]) and "照片" in note
        assert attachments.photo_location(s, attachment_id=gps_id) is None  # located now: nothing to propose


def test_a_case_takes_ten_photos_and_an_event_of_its_own(app_db: World, local_media: object) -> None:
    w = app_db
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0)
        other = put_case(s, w, S.accepted, grid=0)
        other_event = s.exec(select(CaseEvent.id).where(CaseEvent.case_id == other.id)).one()
    pictures = [(f"{i}.jpg", samples.jpeg((i * 20, 50, 50), size=(64, 48))) for i in range(10)]
    assert len(_add(w, case.id, files=pictures)) == 10  # type: ignore[arg-type]
    with w.session() as s, pytest.raises(Invalid) as caught:
        attachments.add_photos(s, w.actors["operator"], case_id=case.id, kind=K.other, files=pictures[:1])  # type: ignore[arg-type]
    assert caught.value.key == "media.err.too_many"
    with w.session() as s, pytest.raises(Invalid):
        attachments.add_photos(s, w.actors["operator"], case_id=other.id, kind="selfie", files=pictures[:1])  # type: ignore[arg-type]
    with w.session() as s, pytest.raises(Invalid):
        attachments.add_photos(
            s, w.actors["operator"], case_id=case.id, kind=K.other, files=pictures[:1], event_id=other_event
        )  # type: ignore[arg-type]
    with w.session() as s, pytest.raises(NotPermitted):  # the leader reads cases, adds nothing
        attachments.add_photos(s, w.actors["leader"], case_id=other.id, kind=K.other, files=pictures[:1])  # type: ignore[arg-type]


def test_prune_removes_old_removed_photos_and_orphans_only(
    app_db: World, store_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = app_db
    op = w.actors["operator"]
    with w.session() as s:
        case = put_case(s, w, S.accepted, grid=0)
    old_id, recent_id, live_id = _add(
        w,
        case.id,
        files=[(f"{i}.jpg", samples.jpeg((i * 60, 9, 9), size=(40, 30))) for i in range(3)],  # type: ignore[arg-type]
    )
    get_store().put("ab/" + "ab" * 32 + "/thumb.webp", b"orphan of a rolled-back upload")
    with w.session() as s:
        for photo_id in (old_id, recent_id):
            attachments.remove_photo(s, op, attachment_id=photo_id, reason="重复")
        s.flush()
        old = s.get(CaseAttachment, old_id)
        old.deleted_at = clock.now() - timedelta(days=retention.RETENTION_DAYS + 1)  # type: ignore[union-attr]
        s.add(old)
        s.commit()
        hashes = {i: s.get(CaseAttachment, i).content_hash for i in (old_id, recent_id, live_id)}  # type: ignore[union-attr]
    with w.session() as s:
        young = retention.prune(s, dry_run=True)
    assert (young.objects, young.kept_objects) == (0, 10)  # everything is younger than the grace period
    monkeypatch.setattr(retention, "GRACE_HOURS", -1)
    with w.session() as s:
        assert retention.prune(s, dry_run=True).objects == 4
        done = retention.prune(s)
        s.commit()
    assert (done.objects, done.expired_photos, done.dry_run) == (4, 1, False)
    left = {key.split("/")[1] for key in _objects()}
    assert left == {hashes[recent_id], hashes[live_id]}
    with w.session() as s:
        assert s.get(CaseAttachment, old_id) is not None  # the row stays for the audit trail
        assert s.exec(select(AuditLog.action).where(AuditLog.action == "media_prune")).one()
