"""Settings read from environment variables, with defaults that work on a fresh machine."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE = ROOT / "data" / "dashboard.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    lang: str
    map_style_url: str
    secret_key: str
    session_idle_minutes: int
    wall_refresh_seconds: int
    blind_spot_days: int
    auto_seed: bool
    seed_cases: int | None
    max_upload_mb: int
    trusted_proxy: bool = False
    """Behind a reverse proxy that sets X-Forwarded-For/-Proto (nginx): believe those headers."""
    backup_dir: str = str(ROOT / "data" / "backups")
    """Where ``python -m dashboard backup`` writes and the backup page looks (setting ``backup.dir``)."""
    backup_interval_hours: int = 24
    """A backup older than this is reported as missing (setting ``backup.interval_hours``)."""
    retention_mask_after_years: int = 0
    """Mask reporters' personal data of cases closed longer ago than this; 0: never."""
    public_base_url: str = "http://127.0.0.1:8501"
    """The address residents reach the public pages at, printed in QR posters (setting
    ``residents.public_base_url``)."""


@functools.cache
def _key_file(path: Path) -> str:
    """The kept secret, read once per process (every page run reads the settings many times)."""
    return path.read_text().strip()


def _secret_key() -> str:
    """A stable secret for signing cookies: env var, else a random one kept under ./data/."""
    env = os.environ.get("DASHBOARD_SECRET_KEY")
    if env:
        return env
    path = ROOT / "data" / ".secret_key"
    if path.exists():
        return _key_file(path)
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def get_settings() -> Settings:
    """Read the settings now (environment variables may change between tests)."""
    seed_cases = os.environ.get("DASHBOARD_SEED_CASES")
    return Settings(
        database_url=os.environ.get("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE}"),
        lang=os.environ.get("DASHBOARD_LANG", "zh"),
        map_style_url=os.environ.get("MAP_STYLE_URL", "/app/static/map-style.json"),
        secret_key=_secret_key(),
        session_idle_minutes=int(os.environ.get("DASHBOARD_SESSION_IDLE_MINUTES", "120")),
        wall_refresh_seconds=int(os.environ.get("DASHBOARD_WALL_REFRESH_SECONDS", "60")),
        blind_spot_days=int(os.environ.get("DASHBOARD_BLIND_SPOT_DAYS", "30")),
        auto_seed=os.environ.get("DASHBOARD_AUTO_SEED", "1") not in ("0", "false", "no"),
        seed_cases=int(seed_cases) if seed_cases else None,
        max_upload_mb=int(os.environ.get("DASHBOARD_MAX_UPLOAD_MB", "50")),
        trusted_proxy=os.environ.get("DASHBOARD_TRUSTED_PROXY", "0") in ("1", "true", "yes"),
        backup_dir=os.environ.get("DASHBOARD_BACKUP_DIR", str(ROOT / "data" / "backups")),
        backup_interval_hours=int(os.environ.get("DASHBOARD_BACKUP_INTERVAL_HOURS", "24")),
        retention_mask_after_years=int(os.environ.get("DASHBOARD_RETENTION_MASK_AFTER_YEARS", "0")),
        public_base_url=os.environ.get("DASHBOARD_PUBLIC_BASE_URL", "http://127.0.0.1:8501"),
    )
