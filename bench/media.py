"""Case photos: upload-to-thumbnail time, and the bytes a case detail with 6 photos makes the browser load.

1. **Upload to thumbnail**: a phone-sized JPEG (4032 × 3024, EXIF with GPS, ≈ 2–4 MB) through
   ``attachments.add_photos`` (content checks, EXIF read and strip, the original and two WebP renditions,
   the store, the row and its audit row), the commit, then the first request of its thumbnail through the
   session-checked route, as a browser would ask for it. Median and max of ``--runs`` uploads.
2. **Bytes of a case detail with 6 photos** (3 before, 3 after): the case page is rendered (AppTest, as
   the operator), the photo URLs its HTML carries are collected and fetched through the route, and their
   bytes summed, next to what the 6 originals would have cost.

A temporary SQLite database (the tests' hand-built world) and a temporary local store, or with
``--store s3`` a bucket on a moto server on loopback.

    python -m bench.media [--runs 10] [--store local|s3] [--json bench/results/media.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

PHONE = (4032, 3024)


def phone_photo(seed: int) -> bytes:
    """A phone-sized JPEG with detail (so it compresses like a photo, not like a flat colour) and GPS."""
    from tests import photo_samples

    small = (
        PHONE[0] // 16,
        PHONE[1] // 16,
    )  # noise blown up: blotches that survive the downscale like detail
    img = Image.effect_noise(small, 60 + seed % 20).convert("RGB").resize(PHONE, Image.Resampling.BICUBIC)
    tint = Image.new("RGB", PHONE, ((seed * 47) % 255, (seed * 91) % 255, 160))
    img = Image.blend(img, tint, 0.5)
    ImageDraw.Draw(img).rectangle((400, 1600, 3600, 2800), fill=(90, 90, 95))
    exif = Image.Exif()
    lon, lat = photo_samples.GPS_POINT
    exif[0x8825] = {1: "N", 2: photo_samples._dms(lat), 3: "E", 4: photo_samples._dms(lon)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88, exif=exif.tobytes())
    return out.getvalue()


def _configure(store: str, work: Path) -> Any:
    """Environment for a temporary database and store; returns the moto server to stop (or None)."""
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench-media.db'}"
    os.environ.setdefault("DASHBOARD_SECRET_KEY", "bench-secret")
    os.environ["DASHBOARD_AUTO_SEED"] = "0"
    if store == "local":
        os.environ["DASHBOARD_MEDIA_DIR"] = str(work / "media")
        os.environ.pop("MEDIA_URL", None)
        return None
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    ).create_bucket(Bucket="bench")
    os.environ.update(
        MEDIA_URL="s3://bench/photos",
        MEDIA_S3_ENDPOINT_URL=endpoint,
        MEDIA_S3_ACCESS_KEY="b",
        MEDIA_S3_SECRET_KEY="b",
    )
    return server


def upload_to_thumbnail(world: Any, cookie: str, runs: int) -> dict[str, Any]:
    from dashboard.db import session_scope
    from dashboard.media import attachments, routes
    from models.enums import AttachmentKind, CaseStatus
    from tests.factories import put_case

    photos = [phone_photo(i) for i in range(runs)]
    times, uploads, thumbs = [], [], []
    for data in photos:
        with world.session() as s:
            case = put_case(s, world, CaseStatus.accepted, grid=0)
        started = time.perf_counter()
        with session_scope() as s:
            [photo_id] = attachments.add_photos(
                s,
                world.actors["operator"],
                case_id=case.id,
                kind=AttachmentKind.report,
                files=[("IMG.jpg", data)],
            )
        response = routes.answer(cookie, photo_id, "thumb")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
        uploads.append(len(data))
        thumbs.append(len(response.body))
    return {
        "runs": runs,
        "photo_px": list(PHONE),
        "upload_bytes_median": int(statistics.median(uploads)),
        "thumb_bytes_median": int(statistics.median(thumbs)),
        "upload_to_thumbnail_s_median": round(statistics.median(times), 3),
        "upload_to_thumbnail_s_max": round(max(times), 3),
    }


def case_page_bytes(world: Any, cookie: str) -> dict[str, Any]:
    """The photo bytes the case page of a case with 3 before and 3 after photos makes the browser load."""
    from streamlit.testing.v1 import AppTest

    from dashboard.config import ROOT
    from dashboard.db import session_scope
    from dashboard.media import attachments, routes
    from models.enums import AttachmentKind, CaseStatus
    from tests.factories import DEMO_PASSWORD, put_case

    with world.session() as s:
        case = put_case(s, world, CaseStatus.resolved, grid=0, number="XL20260309-0606")
    originals = [phone_photo(100 + i) for i in range(6)]
    with session_scope() as s:
        for kind, files in ((AttachmentKind.before, originals[:3]), (AttachmentKind.after, originals[3:])):
            attachments.add_photos(
                s,
                world.actors["operator"],
                case_id=case.id,
                kind=kind,
                files=[(f"{i}.jpg", d) for i, d in enumerate(files)],
            )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.text_input(key="login_username").input("operator")
    at.text_input(key="login_password").input(DEMO_PASSWORD)
    at.button(key="login_submit").click()
    at.run()
    at.switch_page("pages/case_detail.py")
    at.query_params["case"] = case.number
    at.run()
    html = "".join(h.proto.body for h in at.html)
    urls = re.findall(re.escape(attachments.ROUTE_PREFIX) + r"/(\d+)/(thumb|large)", html)
    by_size: dict[str, int] = {"thumb": 0, "large": 0}
    for photo_id, size in set(urls):
        by_size[size] += len(routes.answer(cookie, int(photo_id), size).body)
    return {
        "photos": 6,
        "image_urls_on_page": len(set(urls)),
        "thumb_bytes": by_size["thumb"],
        "large_bytes": by_size["large"],
        "page_photo_bytes": by_size["thumb"] + by_size["large"],
        "original_bytes": sum(len(d) for d in originals),
        "originals_served": 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--store", choices=["local", "s3"], default="local")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        server = _configure(args.store, Path(tmp))
        try:
            from dashboard.admin import auth
            from dashboard.config import get_settings
            from dashboard.db import dispose_engines, upgrade
            from tests.factories import CASE_LOOP, build_world

            upgrade(os.environ["DATABASE_URL"])
            world = build_world(os.environ["DATABASE_URL"], CASE_LOOP)
            with world.session() as s:
                cookie = auth.start_session(s, world.actors["operator"], get_settings().secret_key)
                s.commit()
            result = {
                "store": args.store,
                "upload": upload_to_thumbnail(world, cookie, args.runs),
                "case_page": case_page_bytes(world, cookie),
            }
            dispose_engines()
        finally:
            if server is not None:
                server.stop()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
