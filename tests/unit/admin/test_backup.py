"""Backup and restore (dashboard.backup) on SQLite and PostgreSQL: a consistent backup while five writer
processes work, restored into a fresh database whose rows and files match the manifest and on which the
case loop goes on; an older backup migrated forward; SQLite ↔ PostgreSQL with every figure unchanged;
refusals (a target that holds data, a damaged backup); pruning by the 7/4/12 rules; the admin's page."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from bench.workload import replay_problems
from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.backup.backup import make_backup
from dashboard.backup.manifest import MANIFEST, Manifest, backup_status, read, sha256
from dashboard.backup.prune import Retention, prune
from dashboard.backup.restore import restore, rows_in, table_counts
from dashboard.cases import commands
from dashboard.cases.intake import NewCase, create_case
from dashboard.cli import main
from dashboard.db import alembic_config, dispose_engines, get_engine, normalise_url, session_scope
from dashboard.kernel.errors import Conflict, DomainError, Invalid
from models import Case, Category, Grid, User
from models.enums import CaseSource, CaseStatus

WRITERS = 5


def _cases(url: str) -> int:
    with session_scope(get_engine(url)) as s:
        return int(s.exec(select(func.count()).select_from(Case)).one())


def _writer(url: str, seed: int, ready: Any, stop: Any) -> None:
    """A desk user's process: intakes and actions (bench/workload.py), one unit of work each, until told."""
    import random

    from bench.workload import load_world, step

    engine = get_engine(url)
    world = load_world(engine)
    rng = random.Random(seed)
    done = 0
    while not stop.is_set():
        try:
            step(engine, rng, world, intake_share=0.5)
        except DomainError:
            pass
        done += 1
        if done == 3:
            ready.set()
    dispose_engines()


def _files_match(folder: Path, manifest: Manifest) -> None:
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {*manifest.files, MANIFEST}
    for rel, meta in manifest.files.items():
        assert sha256(folder / rel) == meta["sha256"] and (folder / rel).stat().st_size == meta["size"], rel
    assert manifest.size == sum((folder / rel).stat().st_size for rel in manifest.files)


def _case_loop_goes_on(url: str) -> CaseStatus:
    """Create a case and accept it, as the operator; the new case's status."""
    with session_scope(get_engine(url), write=True) as s:
        me = actor_of(s.exec(select(User).where(User.username == "operator")).one())
        category = s.exec(select(Category.id).where(Category.active.is_(True)).order_by(Category.id)).first()
        grid = s.exec(select(Grid.id).order_by(Grid.id)).first()
        data = NewCase(category_id=category, title="恢复后新报事件", source=CaseSource.hotline, grid_id=grid,
                       reporter_name="王五", reporter_phone="13900001111")  # fmt: skip
        ref = create_case(s, me, data)
        commands.accept(s, me, ref.id, ref.version)
    with session_scope(get_engine(url)) as s:
        return s.exec(select(Case.status).where(Case.id == ref.id)).one()


def test_backup_while_five_writers_work_restores_whole(seeded_url: str, db_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "cases" / "2026").mkdir(parents=True)
    (media / "cases" / "2026" / "photo.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    before = _cases(seeded_url)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    readies = [ctx.Event() for _ in range(WRITERS)]
    workers = [
        ctx.Process(target=_writer, args=(seeded_url, i, readies[i], stop), daemon=True)
        for i in range(WRITERS)
    ]
    for w in workers:
        w.start()
    try:
        assert all(r.wait(180) for r in readies), "the writers did not start"
        folder, manifest = make_backup(seeded_url, tmp_path / "backups", progress=False, media_root=media)
        deadline = time.monotonic() + 60
        while _cases(seeded_url) <= manifest.tables["cases"] and time.monotonic() < deadline:
            time.sleep(0.2)  # the writers went on during and after the backup
        after = _cases(seeded_url)
    finally:
        stop.set()
        for w in workers:
            w.join(60)
    dispose_engines()
    assert before < manifest.tables["cases"] < after
    assert read(folder) == manifest
    assert manifest.schema_revision and manifest.backend == (
        "sqlite" if "sqlite" in seeded_url else "postgresql"
    )
    _files_match(folder, manifest)
    assert "media/cases/2026/photo.jpg" in manifest.files

    restored_media = tmp_path / "media-restored"
    report = restore(folder, db_url, progress=False, media_root=restored_media)
    found = table_counts(get_engine(db_url))
    assert {t: found[t] for t in manifest.tables if not t.startswith("sqlite_")} == {
        t: n for t, n in manifest.tables.items() if not t.startswith("sqlite_")
    }
    assert report.rows == sum(n for t, n in manifest.tables.items() if not t.startswith("sqlite_"))
    assert report.media_files == 1
    assert (restored_media / "cases/2026/photo.jpg").read_bytes() == (
        media / "cases/2026/photo.jpg"
    ).read_bytes()
    with session_scope(get_engine(db_url)) as s:
        assert replay_problems(s) == [], "the backup is one snapshot: every case has all its events"
    assert _case_loop_goes_on(db_url) == CaseStatus.accepted


def _alembic(url: str, verb: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(normalise_url(url))
    with get_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, verb)(cfg, revision)


def _revision(url: str) -> str:
    with get_engine(url).connect() as conn:
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()


def test_an_older_backup_is_migrated_forward(seeded_url: str, db_url: str, tmp_path: Path) -> None:
    head = _revision(seeded_url)
    _alembic(seeded_url, "downgrade", "-1")  # the database of the previous release
    older = _revision(seeded_url)
    assert older != head
    folder, manifest = make_backup(seeded_url, tmp_path, progress=False)
    assert manifest.schema_revision == older
    report = restore(folder, db_url, progress=False)
    assert (report.revision_from, report.revision_to) == (older, head)
    assert _revision(db_url) == head
    assert _cases(db_url) == manifest.tables["cases"]
    assert _case_loop_goes_on(db_url) == CaseStatus.accepted


# ---------------------------------------------------------------- SQLite ↔ PostgreSQL


def _other_kind(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of the other kind (dropped after the test)."""
    if backend == "postgresql":
        return f"sqlite:///{tmp_path / 'moved.db'}"
    server = request.getfixturevalue("pg_server")
    name = f"moved_{uuid.uuid4().hex[:10]}"
    server.execute_autocommit(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        dispose_engines()
        server.drop_database(name)

    request.addfinalizer(drop)
    return server.url(name)


def _figures(url: str, now: datetime) -> dict[str, object]:
    """The overview's and the reports' figures of the whole sub-district at `now`."""
    from dashboard.reporting import kpi

    periods = {
        "30 days": kpi.last_days(30, now),
        "month": kpi.month_period(now.date()).clipped(now),
        "year": kpi.Period(now - timedelta(days=366), now),
    }
    out: dict[str, object] = {}
    with session_scope(get_engine(url)) as s:
        me = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        for name, period in periods.items():
            out[name] = kpi.figures(s, me, period, now=now)
            for by in ("community", "grid", "category", "department", "day"):
                frame = kpi.figures_by(s, me, period, by, now=now)  # type: ignore[arg-type]
                out[f"{name} by {by}"] = frame.fillna(-1).to_dict("records")
        out["open by grid"] = kpi.open_counts_by(s, me, "grid", now=now).fillna(-1).to_dict("records")
        out["blind spots"] = kpi.blind_spots(s, me, 30, now).fillna(-1).to_dict("records")
        out["numbers"] = sorted(s.exec(select(Case.number)).all())
    dispose_engines()
    return out


def test_moving_to_the_other_kind_of_database_keeps_every_figure(
    seeded_url: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SQLite → PostgreSQL (a sub-district outgrowing SQLite) and PostgreSQL → SQLite, through a backup."""
    now = clock.now()
    target = _other_kind(backend, request, tmp_path)
    before = _figures(seeded_url, now)
    folder, manifest = make_backup(seeded_url, tmp_path / "backups", progress=False)
    report = restore(folder, target, progress=False)
    assert report.method == "portable" and report.target_backend != report.source_backend
    assert report.rows == sum(n for t, n in manifest.tables.items() if not t.startswith("sqlite_"))
    after = _figures(target, now)
    assert after == before
    assert before["year"].reported > 1000  # type: ignore[attr-defined]
    with session_scope(get_engine(target)) as s:
        assert replay_problems(s) == []
    assert _case_loop_goes_on(target) == CaseStatus.accepted  # ids continue after the copied rows
    assert _cases(target) == manifest.tables["cases"] + 1


# ---------------------------------------------------------------- refusals


def test_a_target_that_holds_data_is_refused_without_force(
    seeded_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "backups"
    assert main(["backup", "--out", str(out), "--database-url", seeded_url, "--no-progress"]) == 0
    assert "backup " in capsys.readouterr().out
    (folder,) = out.iterdir()
    manifest = read(folder)
    _case_loop_goes_on(seeded_url)  # the database changed after the backup
    assert main(["restore", str(folder), "--database-url", seeded_url, "--no-progress"]) == 1
    assert "holds data" in capsys.readouterr().err
    with pytest.raises(Conflict) as refused:
        restore(folder, seeded_url, progress=False)
    assert refused.value.key == "backup.target_not_empty"
    assert _cases(seeded_url) == manifest.tables["cases"] + 1, "nothing was touched"
    assert main(["restore", str(folder), "--database-url", seeded_url, "--force", "--no-progress"]) == 0
    assert "every table's rows match the manifest" in capsys.readouterr().out
    assert _cases(seeded_url) == manifest.tables["cases"]
    assert _case_loop_goes_on(seeded_url) == CaseStatus.accepted


def test_a_damaged_backup_is_refused(seeded_ro_url: str, db_url: str, tmp_path: Path) -> None:
    folder, manifest = make_backup(seeded_ro_url, tmp_path, progress=False)
    (database,) = (folder / rel for rel in manifest.files if rel.startswith("database."))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size
    database.write_bytes(bytes(data))
    with pytest.raises(Invalid) as refused:
        restore(folder, db_url, progress=False)
    assert refused.value.key == "backup.checksum_mismatch" and refused.value.values["file"] == database.name
    assert rows_in(db_url) == 0, "nothing was restored"
    database.unlink()
    with pytest.raises(Invalid) as refused:
        restore(folder, db_url, progress=False)
    assert refused.value.key == "backup.file_missing"
    (folder / MANIFEST).unlink()
    with pytest.raises(Invalid) as refused:
        restore(folder, db_url, progress=False)
    assert refused.value.key == "backup.no_manifest"


# ---------------------------------------------------------------- retention of backups, status


def _fake_backup(root: Path, at: datetime) -> Path:
    folder = root / f"backup-{at:%Y%m%d-%H%M%S}-sqlite"
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(Manifest(at, "sqlite", "0003", {"cases": 1}).to_json())
    return folder


def test_pruning_keeps_the_newest_of_7_days_4_weeks_and_12_months(tmp_path: Path) -> None:
    day = datetime(2026, 1, 1, 2, 0)
    while day <= datetime(2026, 12, 1, 2, 0):  # nightly for eleven months, and one more on the last day
        _fake_backup(tmp_path, day)
        day += timedelta(days=1)
    _fake_backup(tmp_path, datetime(2026, 12, 1, 14, 0))
    (tmp_path / "notes").mkdir()  # not a backup: left alone
    kept_days = [
        "20261201-140000",  # daily (the newest of 1 December), weekly (week of 30 Nov), monthly (December)
        *(
            f"202611{d:02d}-020000" for d in (30, 29, 28, 27, 26, 25)
        ),  # daily; 29 Nov: weekly; 30 Nov: monthly
        "20261122-020000",  # weekly (16–22 Nov)
        "20261115-020000",  # weekly (9–15 Nov)
        *(f"2026{m:02d}{d:02d}-020000" for m, d in ((10, 31), (9, 30), (8, 31), (7, 31), (6, 30), (5, 31))),
        *(f"2026{m:02d}{d:02d}-020000" for m, d in ((4, 30), (3, 31), (2, 28), (1, 31))),  # monthly
    ]
    assert len(list(tmp_path.glob("backup-*"))) == 336
    gone = prune(tmp_path, Retention(7, 4, 12), dry_run=True)
    assert len(gone) == 336 - 19 and len(list(tmp_path.glob("backup-*"))) == 336
    gone = prune(tmp_path, Retention(7, 4, 12))
    kept = sorted(p.name for p in tmp_path.glob("backup-*"))
    assert kept == sorted(f"backup-{d}-sqlite" for d in kept_days)
    assert len(gone) == 336 - 19 and not any(p.exists() for p in gone)
    assert (tmp_path / "notes").is_dir()
    assert prune(tmp_path, Retention(7, 4, 12)) == [], "pruning again deletes nothing"
    with pytest.raises(Invalid):
        prune(tmp_path, Retention(0, 0, 0))


def test_backup_status_says_when_the_newest_is_older_than_the_interval(tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 9, 0)
    assert backup_status(tmp_path / "none", 24, now).stale
    _fake_backup(tmp_path, now - timedelta(hours=30))
    status = backup_status(tmp_path, 24, now)
    assert status.stale and status.latest and status.age(now) == timedelta(hours=30)
    _fake_backup(tmp_path, now - timedelta(hours=2))
    (tmp_path / "backup-20261201-080000-sqlite").mkdir()  # a folder without a manifest is no backup
    status = backup_status(tmp_path, 24, now)
    assert not status.stale and status.count == 2
    assert status.latest and status.latest.created_at == now - timedelta(hours=2)
    assert backup_status(tmp_path, 1, now).stale


def test_every_backup_text_exists_in_both_languages() -> None:
    import re

    from dashboard.i18n import catalogue

    root = Path(__file__).resolve().parents[3]
    sources = [*(root / "dashboard/backup").glob("*.py"), root / "dashboard/ui/backup.py",
               root / "pages/admin_backup.py", root / "dashboard/cases/retention.py"]  # fmt: skip
    keys = {
        k
        for p in sources
        for k in re.findall(r"[\"']((?:backup|retention)\.[a-z_]+)[\"']", p.read_text(encoding="utf-8"))
        if k not in ("backup.dir", "backup.interval_hours", "retention.mask_after_years")  # settings
    }
    assert len(keys) > 25
    for lang in ("zh", "en"):
        assert sorted(k for k in keys if k not in catalogue(lang)) == [], lang
