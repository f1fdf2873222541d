"""Photos on the public 进度查询 (issue 23): the photos staff marked public appear as thumbnails of the
proven lookup, the resident's own unpublished photo and removed photos do not, and the photo route serves
nothing without the proven lookup of that very case (the id alone, a forged or another case's cookie)."""

from __future__ import annotations

import pytest

from dashboard.media import attachments
from dashboard.residents import lookup, photos, signing
from dashboard.residents.report import submit_report
from dashboard.residents.web import routes
from tests import photo_samples as samples
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World
from tests.unit.media.asgi import call
from tests.unit.residents.helpers import add_building, form

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)

SRC = "203.0.113.9"


@pytest.fixture
def app_db(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world as the app's own database (the public routes open their sessions on it)."""
    monkeypatch.setenv("DATABASE_URL", world.url)
    return world


def _view(report_id: int) -> dict[str, str]:
    return {signing.VIEW_COOKIE: signing.sign("view", str(report_id), signing.VIEW_SECONDS)}


def test_only_public_photos_and_only_to_the_proven_lookup(app_db: World) -> None:
    w = app_db
    op = w.actors["operator"]
    with w.session() as s:
        building = add_building(s, w)
        mine = submit_report(
            s,
            form(w, building, photos=[("mine.jpg", samples.jpeg((200, 30, 30)))]),
            source=SRC,
            captcha_passed=False,
        )
        other = submit_report(s, form(w, None, topic="safety"), source="198.51.100.4", captcha_passed=False)
        s.commit()
        (own_photo,) = [p.id for p in attachments.photos_of(s, op, case_id=mine.case_id)]
        shown, removed = attachments.add_photos(
            s,
            op,
            case_id=mine.case_id,
            kind="after",
            files=[("a.jpg", samples.jpeg()), ("b.jpg", samples.jpeg())],
        )
        for photo_id in (shown, removed):
            attachments.set_public(s, op, attachment_id=photo_id, public=True)
        attachments.remove_photo(s, op, attachment_id=removed, reason="拍到了车牌")
        s.commit()
        rid = lookup.prove(s, mine.number, mine.code, source=SRC)
        other_rid = lookup.prove(s, other.number, other.code, source="198.51.100.4")
        assert rid is not None and other_rid is not None
        view = lookup.public_case(s, rid)
        assert view is not None and view.photos == (shown,)  # not the resident's unpublished one, not removed
        thumb = photos.public_photo(s, rid, shown, "thumb")
        assert thumb is not None and thumb[1] == "image/webp" and thumb[0][:4] == b"RIFF"
        assert photos.public_photo(s, rid, own_photo, "thumb") is None
        assert photos.public_photo(s, rid, shown, "original") is None  # renditions only, never the upload
        assert photos.public_photo(s, other_rid, shown, "thumb") is None  # another case's lookup

    status, headers, body = call(routes(), "/public/case", _view(rid))
    assert status == 200
    page = body.decode()
    assert f'src="/public/photo/{shown}/thumb"' in page and f'href="/public/photo/{shown}/large"' in page
    assert f"/public/photo/{own_photo}/" not in page and f"/public/photo/{removed}/" not in page

    status, headers, body = call(routes(), f"/public/photo/{shown}/large", _view(rid))
    assert status == 200 and headers["content-type"] == "image/webp" and body[:4] == b"RIFF"
    assert headers["cache-control"] == "no-store"
    assert call(routes(), f"/public/photo/{shown}/thumb")[0] == 403  # the URL alone
    forged = {signing.VIEW_COOKIE: f"{rid}.9999999999.{'0' * 64}"}
    assert call(routes(), f"/public/photo/{shown}/thumb", forged)[0] == 403
    assert call(routes(), f"/public/photo/{shown}/thumb", _view(other_rid))[0] == 404
    assert call(routes(), f"/public/photo/{own_photo}/thumb", _view(rid))[0] == 404  # not public
    assert call(routes(), f"/public/photo/{removed}/thumb", _view(rid))[0] == 404
    assert call(routes(), f"/public/photo/{shown}/original", _view(rid))[0] == 404
