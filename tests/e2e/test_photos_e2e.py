"""Case photos in Chromium, on one app server for the module: on a 390×844 phone the grid worker takes a
photo with the camera (Chromium's fake camera plays a picture drawn with Pillow) and picks one from the
album through the real file chooser, sees both in the strip and submits them with a case (代录); at
1920×1080 the operator's verify dialog shows the before and the after photo side by side, loaded from the
session-checked routes. Screenshots to /tmp/shots/ when ``TEST_ARTIFACTS`` names a folder (else test-artifacts/)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests import photo_samples as samples
from tests.e2e import browser as b

PHONE = (390, 844)
DESK = (1920, 1080)


def _db(url: str, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, args).fetchall()


def _y4m(path: Path, picture: Image.Image) -> Path:
    """A one-frame Y4M video (4:2:0) of `picture`, which Chromium's fake camera plays in a loop."""
    w, h = picture.size
    ycc = np.asarray(picture.convert("YCbCr"))
    planes = [ycc[:, :, 0], ycc[::2, ::2, 1], ycc[::2, ::2, 2]]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        fh.write(b"FRAME\n" + b"".join(np.ascontiguousarray(p).tobytes() for p in planes))
    return path


@pytest.fixture(scope="module")
def photo_app(seed_templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(base URL, database URL) of one app server on a private copy of the seeded SQLite (photos in the
    test process's media folder, tests/conftest.py, which the server inherits)."""
    db = tmp_path_factory.mktemp("photos-e2e") / "e2e.db"
    shutil.copyfile(seed_templates.get("sqlite").removeprefix("sqlite:///"), db)
    url = f"sqlite:///{db}"
    with b.running_app(url) as base:
        yield base, url


@pytest.fixture(scope="module")
def camera_browser(chromium, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A second Chromium whose camera is a fake device playing a Pillow scene (no permission prompt)."""
    video = _y4m(tmp_path_factory.mktemp("camera") / "scene.y4m", samples.scene((200, 120, 40), "camera"))
    browser = chromium.browser_type.launch(
        executable_path=b.CHROMIUM,
        args=[
            *b.CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    yield browser
    browser.close()


def _shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    folder = Path(os.environ.get("TEST_ARTIFACTS") or b.ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def _page(browser, base: str, size: tuple[int, int], phone: bool = False):  # type: ignore[no-untyped-def]
    """A fresh page watched like ``browser.new_page``'s; `phone`: a touch phone, as the grid worker's."""
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]}, has_touch=phone, is_mobile=phone, locale="zh-CN"
    )
    page = context.new_page()
    watch = b.Watch(own_host=urlparse(base).netloc)
    page.on("console", lambda m: watch.console_errors.append(m.text[:300]) if b._counts(m) else None)
    page.on(
        "request",
        lambda r: (
            watch.outside_requests.append(r.url)
            if urlparse(r.url).netloc not in (watch.own_host, "") and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    page.watch = watch
    return page


def _loaded_images(scope) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return scope.locator("img").evaluate_all(
        "els => els.map(e => [e.getAttribute('src') || '', e.complete ? e.naturalWidth : 0])"
    )


def test_phone_intake_with_a_camera_photo_and_an_album_photo(
    photo_app, camera_browser, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    base, url = photo_app
    page = _page(camera_browser, base, PHONE, phone=True)
    b.login_page(page, base, "grid")
    b.goto(page, base, "quick-intake")
    key = "quick0_photos"
    box = page.locator(f".st-key-{key}__box")

    # the camera, behind its toggle: take a photo of the fake camera's scene
    box.locator(f".st-key-{key}__camera_on label").click()
    shutter = box.locator("[data-testid=stCameraInputButton]")
    shutter.wait_for(timeout=30000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2 && v.videoWidth > 0)",
        timeout=30000,
    )
    shutter.click()
    page.locator(f".st-key-{key}__strip img").first.wait_for(timeout=30000)
    b.settle(page)

    # and one from the album, through the real file chooser
    album = tmp_path / "album.jpg"
    album.write_bytes(samples.jpeg((40, 150, 70), "album"))
    with page.expect_file_chooser() as chooser:
        box.locator("[data-testid=stFileUploaderDropzone] button").click()
    chooser.value.set_files(str(album))
    page.wait_for_function(
        f"() => document.querySelectorAll('.st-key-{key}__strip img').length === 2", timeout=30000
    )
    b.settle(page)
    assert all(width > 0 for _, width in _loaded_images(page.locator(f".st-key-{key}__strip")))
    assert box.locator("button:has-text('移除')").count() == 2
    box.scroll_into_view_if_needed()
    _shot(page, "phone_intake_two_photos")

    page.locator(".st-key-quick0_pick button").first.click()
    page.locator(".st-key-quick0_description textarea").fill("东门垃圾桶满溢，附现场照片")
    page.locator(".st-key-quick0_anonymous label").click()
    b.settle(page)
    page.locator(".st-key-quick0_submit button").click()
    b.settle(page, 1000)
    if page.locator(".st-key-quick_confirm button").count():  # a seeded case nearby may look like a duplicate
        page.locator(".st-key-quick_confirm button").click()
        b.settle(page, 1000)
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    case_id = _db(url, "SELECT id FROM cases WHERE title = ?", "东门垃圾桶满溢，附现场照片")[0][0]
    kinds = _db(url, "SELECT kind FROM case_attachments WHERE case_id = ? ORDER BY id", case_id)
    assert kinds == [("report",), ("report",)]
    b.assert_clean(page)
    page.context.close()


def _resolved_with_photos(url: str) -> tuple[str, int, int]:
    """A case of the `grid` worker's grid, resolved by them with a before- and an after-photo, through the
    services: (number, before photo id, after photo id)."""
    from sqlmodel import Session, select

    from dashboard.admin.auth import actor_of
    from dashboard.cases import commands as cases
    from dashboard.cases import intake as case_intake
    from dashboard.cases.intake import NewCase
    from dashboard.db import dispose_engines, get_engine
    from dashboard.media import attachments
    from models import Category, User
    from models.enums import AttachmentKind, CaseSource

    with Session(get_engine(url)) as s:
        op, gw = (
            actor_of(s.exec(select(User).where(User.username == n)).one()) for n in ("operator", "grid")
        )
        category = s.exec(select(Category.id).where(Category.code == "ENV")).one()
        data = NewCase(
            category_id=category, title="西门绿化带垃圾堆积", source=CaseSource.hotline, grid_id=gw.grid_id
        )
        ref = case_intake.create_case(s, op, data)
        ref = cases.accept(s, op, ref.id, ref.version)
        ref = cases.dispatch(s, op, ref.id, ref.version, assignee_id=gw.id)
        ref = cases.start(s, gw, ref.id, ref.version)
        before = attachments.add_photos(
            s,
            gw,
            case_id=ref.id,
            kind=AttachmentKind.before,
            files=[("before.jpg", samples.jpeg((150, 70, 30), "before"))],
        )
        ref = cases.resolve(s, gw, ref.id, ref.version, "已清理完毕")
        after = attachments.add_photos(
            s,
            gw,
            case_id=ref.id,
            kind=AttachmentKind.after,
            files=[("after.jpg", samples.jpeg((40, 150, 70), "after"))],
            event_id=ref.event_id,
        )
        s.commit()
    dispose_engines()
    return ref.number, before[0], after[0]


def test_verify_dialog_shows_before_and_after_side_by_side(photo_app, chromium) -> None:  # type: ignore[no-untyped-def]
    base, url = photo_app
    number, before, after = _resolved_with_photos(url)
    page = _page(chromium, base, DESK)
    b.login_page(page, base, "operator")
    b.goto(page, base, "case", f"case={number}")
    page.locator(".st-key-act_verify button").click()
    dialog = page.locator("[role=dialog]")
    dialog.wait_for(timeout=30000)
    page.wait_for_function(
        """() => { const imgs = [...document.querySelectorAll('[role=dialog] img.case-photo-large')];
                   return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
        timeout=30000,
    )
    b.settle(page)
    sources = [src for src, _ in _loaded_images(dialog)]
    from dashboard.media.attachments import photo_url

    assert sources.index(photo_url(before, "large")) < sources.index(photo_url(after, "large"))
    boxes = [dialog.locator(f"img[src='{photo_url(i, 'large')}']").bounding_box() for i in (before, after)]
    assert boxes[0] and boxes[1] and boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"]  # side by side
    assert min(boxes[0]["width"], boxes[1]["width"]) >= 500, boxes  # large enough to judge
    _shot(page, "verify_before_after")
    dialog.locator("[class*=st-key-dlg_verify_][class*=_ok] button").click()
    page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=30000)
    assert _db(url, "SELECT status FROM cases WHERE number = ?", number) == [("verified",)]
    b.assert_clean(page)
    page.context.close()
