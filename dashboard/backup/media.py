"""The media store's part of a backup (photos of cases and visits, from a later release).

The store is a local folder today (``DASHBOARD_MEDIA_DIR``, default ``./data/media/``); an object store
(an S3 bucket and prefix) will take its place by changing these two functions only: everything else sees
the files under ``media/`` of the backup folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dashboard.config import ROOT

FOLDER = "media"
"""Where the media files sit inside a backup folder."""


def media_root() -> Path:
    """The local media store (it need not exist: no photos yet)."""
    return Path(os.environ.get("DASHBOARD_MEDIA_DIR", ROOT / "data" / "media"))


def back_up_media(backup: Path, root: Path | None = None) -> int:
    """Copy the media store into ``<backup>/media/``; the number of files (0, and no folder, when the
    store does not exist yet)."""
    root = root or media_root()
    if not root.is_dir():
        return 0
    target = backup / FOLDER
    shutil.copytree(root, target, symlinks=False)
    return sum(1 for p in target.rglob("*") if p.is_file())


def restore_media(backup: Path, root: Path | None = None) -> int:
    """Copy ``<backup>/media/`` into the media store (files of the same name are replaced, others kept);
    the number of files."""
    source = backup / FOLDER
    if not source.is_dir():
        return 0
    root = root or media_root()
    shutil.copytree(source, root, dirs_exist_ok=True)
    return sum(1 for p in source.rglob("*") if p.is_file())
