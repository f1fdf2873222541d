"""The media store on both backends (a local folder and an S3 bucket on moto), the backup of its objects
and their restore (also from one kind of store into the other), and the retention command."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.backup.media import back_up_media, restore_media
from dashboard.media.renditions import object_key
from dashboard.media.store import LocalStore, S3Store, get_store, open_store

HASH = "cd" * 32


def test_put_get_list_and_delete(store_kind: str) -> None:
    store = get_store()
    assert isinstance(store, LocalStore if store_kind == "local" else S3Store)
    assert store is get_store()  # one per configuration
    key = object_key(HASH, "thumb")
    assert store.get(key) is None and list(store.objects()) == []
    store.put(key, b"webp bytes")
    store.put(object_key(HASH, "original"), b"jpeg bytes")
    assert store.get(key) == b"webp bytes"
    assert sorted(k for k, _ in store.objects()) == [f"cd/{HASH}/original", f"cd/{HASH}/thumb.webp"]
    assert store.delete([key]) == 1
    assert store.get(key) is None and [k for k, _ in store.objects()] == [f"cd/{HASH}/original"]


def test_a_local_key_cannot_leave_the_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "m"))
    with pytest.raises(ValueError):
        store.put("../escape", b"x")
    assert store.get("../../etc/passwd") is None


def test_backup_and_restore_carry_the_objects_across_stores(store_kind: str, tmp_path: Path) -> None:
    store = get_store()
    for form in ("original", "thumb", "large"):
        store.put(object_key(HASH, form), form.encode())
    backup = tmp_path / "backup-1"
    backup.mkdir()
    assert back_up_media(backup) == 3
    assert (backup / "media" / "cd" / HASH / "thumb.webp").read_bytes() == b"thumb"
    other = tmp_path / "restored"
    assert restore_media(backup, other) == 3  # into a local folder, whichever store it came from
    assert LocalStore(other).get(object_key(HASH, "large")) == b"large"
    store.delete([k for k, _ in store.objects()])
    assert restore_media(backup) == 3  # and back into the configured store
    assert store.get(object_key(HASH, "original")) == b"original"


def test_the_prune_command_runs_on_the_configured_store(
    db_url: str, local_media: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dashboard.cli import main

    assert main(["media", "prune", "--dry-run", "--database-url", db_url]) == 0
    out = capsys.readouterr().out
    assert "Would remove 0 media files" in out and str(local_media) in out
