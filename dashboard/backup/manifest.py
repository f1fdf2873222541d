"""The manifest of a backup (``manifest.json``): when it was made, by which version of the app, at which
schema revision, from which kind of database, the rows of every table, and the size and SHA-256 of every
file. A restore checks the files against it first and the restored rows against it last.

A backup is a folder ``backup-<yyyymmdd>-<hhmmss>-<backend>`` in the backup folder; it is written under a
hidden name and renamed when complete, so a folder with that name and a manifest is a whole backup.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from dashboard.config import ROOT
from dashboard.kernel.errors import Invalid

MANIFEST = "manifest.json"
FORMAT = 1
PREFIX = "backup-"
_CHUNK = 1 << 20


@dataclass
class Manifest:
    """What a backup holds. `files` maps a path inside the backup folder to its size and SHA-256."""

    created_at: datetime
    backend: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    tables: dict[str, int]
    files: dict[str, dict[str, int | str]] = field(default_factory=dict)
    app_version: str = ""
    database: str = ""  # the database's name or file name (never a password)
    duration_seconds: float = 0.0
    format: int = FORMAT

    @property
    def size(self) -> int:
        """Bytes of all files of the backup."""
        return sum(int(f["size"]) for f in self.files.values())

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat(timespec="seconds")
        data["size"] = self.size
        return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(
            created_at=datetime.fromisoformat(data["created_at"]),
            backend=str(data["backend"]),
            schema_revision=data.get("schema_revision"),
            tables={str(k): int(v) for k, v in data["tables"].items()},
            files={
                str(k): {"size": int(v["size"]), "sha256": str(v["sha256"])} for k, v in data["files"].items()
            },
            app_version=str(data.get("app_version", "")),
            database=str(data.get("database", "")),
            duration_seconds=float(data.get("duration_seconds", 0.0)),
            format=int(data.get("format", FORMAT)),
        )


def app_version() -> str:
    """The app's version (pyproject.toml)."""
    try:
        with (ROOT / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(folder: Path) -> dict[str, dict[str, int | str]]:
    """Size and SHA-256 of every file under `folder` (but the manifest), by path relative to it."""
    out: dict[str, dict[str, int | str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST:
            out[rel] = {"size": path.stat().st_size, "sha256": sha256(path)}
    return out


def write(folder: Path, manifest: Manifest) -> Path:
    path = folder / MANIFEST
    path.write_text(manifest.to_json(), encoding="utf-8")
    return path


def read(folder: Path) -> Manifest:
    """The manifest of the backup in `folder`; :class:`Invalid` when there is none or it is unreadable."""
    path = folder / MANIFEST
    if not path.is_file():
        raise Invalid("backup.no_manifest", path=str(folder))
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid("backup.bad_manifest", path=str(folder)) from exc
    if manifest.format > FORMAT:
        raise Invalid("backup.newer_format", path=str(folder))
    return manifest


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there with its size and checksum; :class:`Invalid` names the
    first that is not (a damaged or incomplete backup is never restored)."""
    for rel, expected in sorted(manifest.files.items()):
        path = folder / rel
        if not path.is_file():
            raise Invalid("backup.file_missing", file=rel)
        if path.stat().st_size != int(expected["size"]) or sha256(path) != expected["sha256"]:
            raise Invalid("backup.checksum_mismatch", file=rel)


# ---------------------------------------------------------------- the backups in a folder


@dataclass(frozen=True)
class BackupInfo:
    """One whole backup found in the backup folder."""

    path: Path
    created_at: datetime
    backend: str
    size: int
    schema_revision: str | None
    cases: int | None


def list_backups(directory: Path) -> list[BackupInfo]:
    """The whole backups in `directory`, newest first (folders without a readable manifest are skipped)."""
    if not directory.is_dir():
        return []
    out: list[BackupInfo] = []
    for folder in directory.iterdir():
        if not (folder.is_dir() and folder.name.startswith(PREFIX)):
            continue
        try:
            m = read(folder)
        except (Invalid, OSError):
            continue
        out.append(
            BackupInfo(folder, m.created_at, m.backend, m.size, m.schema_revision, m.tables.get("cases"))
        )
    return sorted(out, key=lambda b: (b.created_at, b.path.name), reverse=True)


@dataclass(frozen=True)
class BackupStatus:
    """The backups in the folder, newest first, and whether the newest is older than the configured
    interval (or missing)."""

    backups: tuple[BackupInfo, ...]
    stale: bool
    interval_hours: int

    @property
    def latest(self) -> BackupInfo | None:
        return self.backups[0] if self.backups else None

    @property
    def count(self) -> int:
        return len(self.backups)

    def age(self, now: datetime) -> timedelta | None:
        return now - self.backups[0].created_at if self.backups else None


def backup_status(directory: Path, interval_hours: int, now: datetime) -> BackupStatus:
    """Whether a backup younger than `interval_hours` exists in `directory`."""
    backups = tuple(list_backups(directory))
    stale = not backups or now - backups[0].created_at > timedelta(hours=interval_hours)
    return BackupStatus(backups, stale, interval_hours)
