"""Schema contract, i18n completeness and the database layer."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import inspect

from dashboard import i18n
from dashboard.db import BUSY_TIMEOUT_MS, get_engine, normalise_url
from dashboard.kernel import privacy

ROOT = Path(__file__).resolve().parent.parent.parent
TABLES = {
    "subdistricts",
    "communities",
    "grids",
    "departments",
    "categories",
    "users",
    "cases",
    "case_events",
    "volunteers",
    "service_records",
    "grid_visits",
    "audit_log",
}


def test_migrated_schema_has_the_contract_tables_and_indexes(db_url: str) -> None:
    insp = inspect(get_engine(db_url))
    assert TABLES <= set(insp.get_table_names())
    case_columns = {c["name"] for c in insp.get_columns("cases")}
    assert {"version", "due_at", "status", "duplicate_of", "satisfaction"} - {"duplicate_of"} <= case_columns
    assert "duplicate_of_id" in case_columns
    indexed = [tuple(ix["column_names"]) for ix in insp.get_indexes("cases")]
    # What queues and maps filter and group by leads some index (a longer index serves its prefix too).
    for cols in [
        ("status", "due_at"),
        ("grid_id", "status"),
        ("due_at",),
        ("reported_at",),
        ("department_id",),
        ("assignee_id",),
        ("category_id", "reported_at"),
    ]:
        assert any(ix[: len(cols)] == cols for ix in indexed), cols


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/p.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


# A literal key: t("area.key"). A key ending in "_" is a prefix completed at run time (t("x.y_" + kind)).
_KEY = re.compile(r"""(?<!\.)\bt\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9.])["']""")
_PUBLIC_KEY = re.compile(r"""\b(?:page|self)\.t\(\s*["']([a-z_]+\.[a-z0-9_.]*[a-z0-9.])["']""")
"""The public pages' own ``Page.t`` (dashboard/residents/web.py) looks its keys up under ``residents.``."""


def test_every_literal_ui_key_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("dashboard/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(_KEY.findall(text))
        used |= {f"residents.{key}" for key in _PUBLIC_KEY.findall(text)}
    zh, en = i18n.catalogue("zh"), i18n.catalogue("en")
    assert sorted(k for k in used if k not in zh) == []
    assert sorted(k for k in used if k not in en) == []
    assert sorted(set(zh) ^ set(en)) == [], "zh and en files have the same keys"


def test_masking() -> None:
    assert privacy.mask_name("张小明") == "张*明"
    assert privacy.mask_name("张三") == "张*"
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_id_number("320102199001011234") == "320***************34"[:3] + "*" * 13 + "34"
    assert privacy.mask_address("幸福家园3号楼2单元301") == "幸福家园3号楼***"
    assert privacy.neutralise_formula('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert privacy.neutralise_formula("普通文本") == "普通文本"


def test_metric_deltas_show_no_change_without_an_arrow() -> None:
    from dashboard.kernel.formatting import change_delta, points_delta

    assert points_delta(0.021, "个百分点") == "+2.1个百分点" and points_delta(0.021, " pt") == "+2.1 pt"
    assert points_delta(-0.0004, "个百分点") == "0" and points_delta(None, "个百分点") is None
    assert change_delta(0.18) == "+18%" and change_delta(-0.004) == "0" and change_delta(-0.2) == "-20%"


def test_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    """Every model change has its migration: upgrading to head leaves nothing for autogenerate to add."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models  # noqa: F401  (registers every table)

    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []


def _serve_one_session(port: int, origin: str) -> list[str]:
    """Open a browser-like session on the server: run the app once, return the message types received."""
    import time

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect

    url = f"ws://localhost:{port}/_stcore/stream"
    with connect(url, origin=origin, subprotocols=["streamlit"], open_timeout=10) as ws:  # type: ignore[list-item]
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        ws.send(rerun.SerializeToString())
        kinds: list[str] = []
        deadline = time.monotonic() + 30
        while "script_finished" not in kinds and time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=30))  # type: ignore[arg-type]
            kinds.append(str(msg.WhichOneof("type")))
        return kinds


def test_server_start_asks_nothing_outside_and_hides_error_details(tmp_path: Path) -> None:
    """The server, started with every outside lookup and connection logged and refused
    (tests/netguard/sitecustomize.py), tries none while it starts, serves the page and its health check,
    runs a session and turns away a cross-origin one. Streamlit 1.67 asks an outside service for the
    machine's public address for its "External URL" banner unless ``browser.serverAddress`` (or a specific
    ``server.address``) is set, and for any cross-origin WebSocket whatever is set
    (``server_util.is_url_from_allowed_origins``); ``dashboard.api.offline`` answers both locally.
    Uncaught exceptions show no details to users."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    import pytest
    from websockets.exceptions import InvalidStatus

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    guard_log = tmp_path / "outside.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/start.db",
        "DASHBOARD_AUTO_SEED": "0",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT / "tests" / "netguard"), os.environ.get("PYTHONPATH")])
        ),
        "NET_GUARD_LOG": str(guard_log),
    }
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://localhost:{port}"
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("URL:" in line for line in lines):
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        while True:  # the banner comes before the server has loaded the app: wait until it answers
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10) as health:
                    assert health.read() == b"ok"
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        assert _serve_one_session(port, base)[-1] == "script_finished"
        with pytest.raises(InvalidStatus):  # a cross-origin page may not open a session
            _serve_one_session(port, "http://grid.example.org")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    log = "".join(lines) + out
    assert f"http://localhost:{port}" in log
    assert "External URL" not in log and "external IP" not in log
    assert guard_log.read_text().splitlines() == [f"armed {proc.pid}"]  # armed, and nothing tried
    from streamlit import config

    config.get_config_options(force_reparse=True)
    assert config.get_option("client.showErrorDetails") == "none"


def test_a_missing_moment_reads_as_a_dash_or_the_callers_word() -> None:
    """Issue 19: a table never shows None or NaT for a date that is not there (从未登录, —)."""
    from datetime import date, datetime

    import pandas as pd

    from dashboard.kernel.formatting import moment

    assert moment(datetime(2026, 11, 8, 9, 5)) == "2026-11-08 09:05"
    assert moment(pd.Timestamp("2026-11-08 09:05"), "%Y-%m-%d") == "2026-11-08"
    assert moment(date(2026, 11, 8), "%Y-%m-%d") == "2026-11-08"
    assert moment(None) == "—" and moment(pd.NaT) == "—" and moment(float("nan"), missing="从未") == "从未"
