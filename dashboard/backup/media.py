"""The media store's part of a backup: the photo objects of ``MEDIA_URL`` (a local folder or an S3 bucket,
:mod:`dashboard.media.store`), as files under ``media/`` of the backup folder, one file per object key.

A backup holds the same tree whichever store it came from, so a restore may go from a local folder to
a bucket and back. A local store is copied as a folder; a bucket object by object. Objects are immutable
(named by their content hash), so restoring over a store that already has some only adds what is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dashboard.media.store import LocalStore, MediaStore, get_store, local_root

FOLDER = "media"
"""Where the media files sit inside a backup folder."""


def media_root() -> Path:
    """The local media store's folder (it need not exist: no photos yet)."""
    return local_root()


def _store(root: Path | None) -> MediaStore:
    return LocalStore(root) if root is not None else get_store()


def back_up_media(backup: Path, root: Path | None = None) -> int:
    """Copy the media store (`root`: a local folder instead of ``MEDIA_URL``) into ``<backup>/media/``;
    the number of files (0, and no folder, when the store is empty)."""
    store = _store(root)
    target = backup / FOLDER
    if isinstance(store, LocalStore):
        if not store.root.is_dir():
            return 0
        shutil.copytree(store.root, target, symlinks=False, ignore=shutil.ignore_patterns(".part-*"))
        return sum(1 for p in target.rglob("*") if p.is_file())
    count = 0
    for key, _written in store.objects():
        data = store.get(key)
        if data is None:  # removed by the retention job meanwhile
            continue
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        count += 1
    return count


def restore_media(backup: Path, root: Path | None = None) -> int:
    """Copy ``<backup>/media/`` into the media store (`root`: a local folder instead of ``MEDIA_URL``);
    objects already there are kept. The number of files."""
    source = backup / FOLDER
    if not source.is_dir():
        return 0
    store = _store(root)
    files = [p for p in sorted(source.rglob("*")) if p.is_file()]
    if isinstance(store, LocalStore):
        shutil.copytree(source, store.root, dirs_exist_ok=True)
        return len(files)
    for path in files:
        store.put(path.relative_to(source).as_posix(), path.read_bytes())
    return len(files)
