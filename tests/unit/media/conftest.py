"""Fixtures of the media tests: the media store on both backends, a local folder and an S3 bucket on a
moto server in server mode, started on a free loopback port once per session (per xdist worker)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

BUCKET = "case-photos"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback with the bucket :data:`BUCKET`; its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """The media store for this test: a fresh local folder, or a fresh prefix of the moto bucket."""
    if request.param == "local":
        monkeypatch.delenv("MEDIA_URL", raising=False)
        monkeypatch.setenv("DASHBOARD_MEDIA_DIR", str(tmp_path / "media"))
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        monkeypatch.setenv("MEDIA_URL", f"s3://{BUCKET}/t-{uuid.uuid4().hex[:10]}")
        monkeypatch.setenv("MEDIA_S3_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("MEDIA_S3_ACCESS_KEY", "test")
        monkeypatch.setenv("MEDIA_S3_SECRET_KEY", "test")
    return str(request.param)


@pytest.fixture
def local_media(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """A fresh local store folder for a test that is about something else than the store."""
    monkeypatch.delenv("MEDIA_URL", raising=False)
    monkeypatch.setenv("DASHBOARD_MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"
