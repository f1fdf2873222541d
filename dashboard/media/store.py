"""The media store: where the bytes of photos live, named by the keys of
:func:`dashboard.media.renditions.object_key`.

``MEDIA_URL`` chooses it:

- unset (or a plain path, or ``file:///path``): a local folder, ``DASHBOARD_MEDIA_DIR`` or ``./data/media/``
  (the embedded deployment: one server, its disk);
- ``s3://bucket/prefix``: an S3-compatible object store, for several replicas behind a load balancer.
  ``MEDIA_S3_ENDPOINT_URL`` (MinIO, Ceph, a cloud's S3 endpoint), ``MEDIA_S3_REGION``,
  ``MEDIA_S3_ACCESS_KEY`` / ``MEDIA_S3_SECRET_KEY`` (else boto3's usual ``AWS_*`` variables and files).

Objects are immutable (a key is the hash of its content), so a write never replaces other bytes and a
rolled-back upload leaves only objects no row names, which the retention job removes.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from dashboard.config import ROOT


class MediaStore(Protocol):
    """What the attachments service, the route, the backup and the retention job need of a store."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, keys: Iterable[str]) -> int: ...

    def objects(self) -> Iterator[tuple[str, datetime]]:
        """Every key with its last write (UTC, naive)."""
        ...

    def describe(self) -> str: ...


class LocalStore:
    """A folder; each object a file at its key. Writes go through a temporary file and a rename, so a
    reader never sees half a photo."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key outside the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.is_file() and path.stat().st_size == len(data):
            return  # content-addressed: the same key holds the same bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, ValueError):
            return None

    def delete(self, keys: Iterable[str]) -> int:
        removed = 0
        for key in keys:
            path = self._path(key)
            if path.is_file():
                path.unlink()
                removed += 1
                for parent in (path.parent, path.parent.parent):
                    if parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                        parent.rmdir()
        return removed

    def objects(self) -> Iterator[tuple[str, datetime]]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(".part-"):
                at = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
                yield path.relative_to(self.root).as_posix(), at

    def describe(self) -> str:
        return str(self.root)


class S3Store:
    """A bucket and a key prefix of an S3-compatible object store (boto3)."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            return None
        return reply["Body"].read()

    def delete(self, keys: Iterable[str]) -> int:
        batch = [{"Key": self.prefix + k} for k in keys]
        for start in range(0, len(batch), 1000):  # the API's limit per request
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch[start : start + 1000]})
        return len(batch)

    def objects(self) -> Iterator[tuple[str, datetime]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                at = item["LastModified"].astimezone(UTC).replace(tzinfo=None)
                yield item["Key"][len(self.prefix) :], at

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def local_root() -> Path:
    """The local store's folder (it need not exist yet)."""
    return Path(os.environ.get("DASHBOARD_MEDIA_DIR") or ROOT / "data" / "media")


@cache
def _s3_client(endpoint: str, region: str, key: str, secret: str) -> Any:
    """One boto3 client per endpoint and credentials (costly to make, safe to share between threads)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=region or "us-east-1",
        aws_access_key_id=key or None,
        aws_secret_access_key=secret or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def open_store(url: str | None = None) -> MediaStore:
    """The store `url` names (default: ``MEDIA_URL``), without caching."""
    url = url if url is not None else os.environ.get("MEDIA_URL", "")
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError("MEDIA_URL s3://bucket/prefix needs a bucket")
        settings = ("MEDIA_S3_ENDPOINT_URL", "MEDIA_S3_REGION", "MEDIA_S3_ACCESS_KEY", "MEDIA_S3_SECRET_KEY")
        return S3Store(parsed.netloc, parsed.path, _s3_client(*(os.environ.get(n, "") for n in settings)))
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    return LocalStore(Path(url) if url else local_root())


_stores: dict[tuple[str, ...], MediaStore] = {}
_lock = threading.Lock()


def get_store() -> MediaStore:
    """The configured store, one per configuration and process."""
    names = (
        "MEDIA_URL",
        "DASHBOARD_MEDIA_DIR",
        "MEDIA_S3_ENDPOINT_URL",
        "MEDIA_S3_REGION",
        "MEDIA_S3_ACCESS_KEY",
    )
    config = tuple(os.environ.get(n, "") for n in names)
    with _lock:
        store = _stores.get(config)
        if store is None:
            store = _stores[config] = open_store()
        return store
