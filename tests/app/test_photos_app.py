"""AppTest of case photos: the grid worker records a case (代录) with a camera photo and album photos, removes
one before submitting, is refused for a fake "image" with nothing stored, and takes the photo's GPS point
for the case; starts a case with a before-photo and resolves it with an after-photo (refused without one
where the category asks for it); the operator verifies with before and after side by side, marks the case
典型案例 and a photo public on the case page; the admin switches the category's after-photo rule."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlmodel import select

from dashboard.i18n import t
from dashboard.media.attachments import photo_url
from models import Case, CaseEvent, Category
from models.enums import CaseStatus
from tests import photo_samples as samples
from tests.conftest import SQLITE_ONLY
from tests.factories import CASE_LOOP, World, centre, put_case

pytestmark = [pytest.mark.world(CASE_LOOP), SQLITE_ONLY]

S = CaseStatus
QUICK = "pages/quick_intake.py"


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    """No exception, and no error but My grid's blind-spot notice (the hand-built grid has no visits)."""
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error if e.value != t("field.blind_now", days=30)]
    assert not errors, errors


def _photos(w: World, case_id: int) -> list[tuple]:
    with w.session() as s:
        return list(
            s.exec(  # type: ignore[call-overload]
                text("SELECT id, kind, event_id FROM case_attachments WHERE case_id = :c ORDER BY id"),
                params={"c": case_id},
            ).all()
        )


def _count(w: World, table: str) -> int:
    with w.session() as s:
        return int(s.exec(text(f"SELECT count(*) FROM {table}")).one()[0])  # type: ignore[call-overload]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def test_quick_intake_sends_camera_and_album_photos_with_the_case(world: World, login: Callable) -> None:
    w = world
    shot = samples.jpeg((200, 90, 40), "camera", gps=centre(0))
    album = samples.png((40, 160, 80), "album")
    dropped = samples.jpeg((90, 90, 90), "dropped")
    at = login(w.url, "grid", QUICK)
    _ok(at)
    key = "quick0_photos"
    at.toggle(key=f"{key}__camera_on").set_value(True).run()
    at.camera_input(key=f"{key}__camera0").set_value(("shot.jpg", shot, "image/jpeg")).run()
    _ok(at)
    at.file_uploader(key=f"{key}__files0").set_value(
        [
            ("album.png", album, "image/png"),
            ("dropped.jpg", dropped, "image/jpeg"),
            ("evil.jpg", samples.FAKE_JPG, "image/jpeg"),
        ]
    ).run()
    _ok(at)
    # the camera and the album start empty again; the strip holds all four, each with its "remove"
    assert at.camera_input(key=f"{key}__camera1").value is None
    assert at.file_uploader(key=f"{key}__files1") is not None
    assert len(at.image) == 3  # previews; the fake image has none
    assert any(t("photos.no_preview") in c.value for c in at.caption)
    at.button(key=f"{key}__rm_{_digest(dropped)}").click().run()
    _ok(at)
    assert len(at.image) == 2

    # the photo's GPS point is proposed, with the grid it falls in
    gps = at.checkbox(key=f"{key}__use_gps")
    assert "XL-01-01" in gps.label.replace("\\", "")  # Markdown-escaped
    gps.check().run()
    at.pills(key="quick0_pick").set_value(w.category["ENV"]).run()
    at.text_area(key="quick0_description").input("东门垃圾桶满溢，已拍照").run()
    at.checkbox(key="quick0_anonymous").check().run()
    cases_before = _count(w, "cases")

    # a fake "image" refuses the whole intake: no case, no photo
    at.button(key="quick0_submit").click().run()
    assert at.error, "the fake image must be refused"
    assert _count(w, "cases") == cases_before
    assert _count(w, "case_attachments") == 0

    at.button(key=f"{key}__rm_{_digest(samples.FAKE_JPG)}").click().run()
    at.button(key="quick0_submit").click().run()
    _ok(at)
    assert any(t("field.case_saved", number="") in m.value for m in at.success), [m.value for m in at.success]
    with w.session() as s:
        case = s.exec(select(Case).order_by(Case.id.desc())).first()  # type: ignore[union-attr]
        assert case is not None
        report = s.exec(select(CaseEvent.id).where(CaseEvent.case_id == case.id)).one()
    assert (case.lon, case.lat) == pytest.approx(centre(0), abs=1e-4)
    stored = _photos(w, case.id)  # type: ignore[arg-type]
    assert [(kind, event) for _, kind, event in stored] == [("report", report), ("report", report)]
    # the next form starts without photos
    assert not at.image


def _set_after_photo_rule(w: World, required: bool) -> None:
    with w.session() as s:
        s.exec(  # type: ignore[call-overload]
            text("UPDATE categories SET after_photo_required = :r WHERE code = 'ENV'"), params={"r": required}
        )
        s.commit()


def test_before_and_after_photos_from_the_phone_to_the_verify_dialog(world: World, login: Callable) -> None:
    w = world
    _set_after_photo_rule(w, True)
    with w.session() as s:
        case = put_case(s, w, S.dispatched, grid=0, number="XL20260309-0031", title="东门垃圾满溢")
    cid = case.id
    at = login(w.url, "grid", "pages/my_grid.py")
    _ok(at)

    # 开始处置 with a photo of the scene
    at.button(key=f"todo_start_{cid}").click().run()
    at.file_uploader(key=f"dlg_start_{cid}_photos__files0").set_value(
        ("before.jpg", samples.jpeg((150, 60, 30), "before"), "image/jpeg")
    ).run()
    at.button(key=f"dlg_start_{cid}_ok").click().run()
    _ok(at)

    # 处置完毕: the category needs an after-photo
    at.button(key=f"todo_resolve_{cid}").click().run()
    assert any(t("photos.after_required") in i.value for i in at.info)
    at.text_area(key=f"dlg_resolve_{cid}_note").input("已清运完毕").run()
    at.button(key=f"dlg_resolve_{cid}_ok").click().run()
    assert at.error, "resolving without the after-photo must be refused"
    with w.session() as s:
        assert s.get(Case, cid).status == S.in_progress  # type: ignore[union-attr]
    at.file_uploader(key=f"dlg_resolve_{cid}_photos__files0").set_value(
        ("after.jpg", samples.jpeg((40, 150, 60), "after"), "image/jpeg")
    ).run()
    at.button(key=f"dlg_resolve_{cid}_ok").click().run()
    _ok(at)
    stored = _photos(w, cid)
    with w.session() as s:
        events = dict(s.exec(select(CaseEvent.action, CaseEvent.id).where(CaseEvent.case_id == cid)).all())
        assert s.get(Case, cid).status == S.resolved  # type: ignore[union-attr]
    assert [(kind, event) for _, kind, event in stored] == [
        ("before", events["start"]),
        ("after", events["resolve"]),
    ]
    before_id, after_id = stored[0][0], stored[1][0]

    # the operator's verify dialog: before and after side by side, large
    at = login(w.url, "operator", "pages/case_detail.py")
    at.query_params["case"] = "XL20260309-0031"
    at.run()
    _ok(at)
    timeline = next(f.value for f in at.dataframe if t("photos.column") in f.value.columns)
    assert list(timeline[t("photos.column")]).count(t("photos.event_photos", count=1)) == 2
    at.button(key="act_verify").click().run()
    _ok(at)
    pictures = "".join(h.proto.body for h in at.html)
    before_at, after_at = (
        pictures.find(photo_url(before_id, "large")),
        pictures.find(photo_url(after_id, "large")),
    )
    assert 0 <= before_at < after_at  # before in the left column, after in the right one
    at.button(key=f"dlg_verify_{cid}_ok").click().run()
    _ok(at)

    # 典型案例, and a photo made public
    at.button(key="photo_typical").click().run()
    _ok(at)
    at.button(key=f"gallery_pub_{after_id}").click().run()
    _ok(at)
    with w.session() as s:
        public = s.exec(
            text("SELECT public FROM case_attachments WHERE id = :i"), params={"i": after_id}
        ).one()[0]  # type: ignore[call-overload]
    assert public
    assert any(t("photos.unmark_typical") == b.label for b in at.button)


def test_admin_switches_the_after_photo_rule_of_a_category(world: World, login: Callable) -> None:
    w = world
    _set_after_photo_rule(w, True)
    cat = w.category["ENV"]
    at = login(w.url, "admin", "pages/admin_categories.py")
    at.selectbox(key="cat_pick").select(cat).run()
    at.toggle(key=f"cat_{cat}_after_photo").set_value(False)  # a form: sent with "save"
    at.button(key=f"cat_{cat}_save").click().run()
    _ok(at)
    with w.session() as s:
        assert s.get(Category, cat).after_photo_required is False  # type: ignore[union-attr]
