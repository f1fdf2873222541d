"""The wall screen renders for a logged-in leader and for a TV on a display link, escapes case titles,
stops on a revoked link and takes its refresh interval from the settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.admin import settings as app_settings
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.reporting import display_links as display
from dashboard.reporting import periods, wall
from models import Case, DisplayLink, Setting
from models.enums import ACTIVE_STATUSES, Role
from tests.conftest import ROOT

ADMIN = Actor(id=1, username="admin", display_name="admin", role=Role.admin)


def _html(at: AppTest) -> str:
    """The page's HTML elements, without app.py's session-cookie script."""
    return "\n".join(h.proto.body for h in at.html if not h.proto.body.startswith("<script>document.cookie"))


def _wall_for_token(monkeypatch: pytest.MonkeyPatch, url: str, token: str) -> AppTest:
    import streamlit as st

    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["display"] = token
    at.run()
    return at


def _new_link(url: str, name: str = "大厅电视") -> str:
    with Session(get_engine(url)) as s:
        token = display.create_link(s, ADMIN, name)
        s.commit()
    return token


def test_wall_renders_for_leader(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader", page="pages/wall.py")
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    body = _html(at)
    for part in ("wall-tiles", "wall-num", "wall-ticker", "wall-rates", "wall-spark-img", "map-legend"):
        assert part in body, part
    assert "display: none !important" in body  # the chrome-hiding stylesheet
    charts = at.get("plotly_chart")
    assert len(charts) == 1  # the map, with the community names on it
    assert "annotations" in charts[0].proto.spec
    assert at.page_link  # a logged-in user can leave the wall


def test_wall_on_display_link_needs_no_password(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = _new_link(seeded_url)
    at = _wall_for_token(monkeypatch, seeded_url, token)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert "wall-tiles" in _html(at)
    assert at.session_state["display"] is True
    assert at.session_state["actor"].role == Role.leader
    assert not at.text_input  # no login form
    assert not at.page_link  # and no way off the wall
    # a reload (a fresh session with the same URL) comes back by itself
    again = _wall_for_token(monkeypatch, seeded_url, token)
    assert "wall-tiles" in _html(again) and not again.exception


def test_revoked_link_stops_the_wall(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = _new_link(seeded_url, "会议室")
    at = _wall_for_token(monkeypatch, seeded_url, token)
    assert "wall-tiles" in _html(at)
    with Session(get_engine(seeded_url)) as s:
        link_id = s.exec(select(DisplayLink.id).where(DisplayLink.name == "会议室")).scalar_one()  # type: ignore[call-overload]
        display.revoke_link(s, ADMIN, link_id)
        s.commit()
    at.run()  # the next refresh: the wall is gone
    assert not at.exception
    assert at.error
    assert "wall-tiles" not in _html(at)
    assert "actor" not in at.session_state
    reloaded = _wall_for_token(monkeypatch, seeded_url, token)  # and a reload does not bring it back
    assert reloaded.error and "无效" in reloaded.error[0].value
    assert "wall-tiles" not in _html(reloaded)


def test_bad_token_shows_the_invalid_link_message(
    seeded_ro_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _wall_for_token(monkeypatch, seeded_ro_url, "not-a-token")
    assert at.error and "无效" in at.error[0].value
    assert not at.text_input


def test_ticker_escapes_case_titles(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    now = clock.now()
    with Session(get_engine(seeded_url)) as s:
        case_id = s.exec(  # type: ignore[call-overload]
            select(Case.id)
            .where(
                Case.status.in_([a.value for a in ACTIVE_STATUSES]),
                Case.due_at < now,
                Case.duplicate_of_id.is_(None),
            )
            .order_by(Case.due_at)
            .limit(1)
        ).scalar_one()
        s.exec(  # type: ignore[call-overload]
            update(Case).where(Case.id == case_id).values(title=evil, due_at=now - timedelta(seconds=30))
        )  # it falls overdue now: on today's ticker
        s.commit()
    at = login(seeded_url, "operator", page="pages/wall.py")
    assert not at.exception
    body = _html(at)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body
    assert "<script>alert" not in body and "<img src=x" not in body  # (the page posts its own cookie script)


def test_refresh_interval_from_settings_table(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_WALL_REFRESH_SECONDS", "45")
    app_settings.clear_cache()
    assert wall.refresh_seconds(seeded_url) == 45  # no row: configuration
    with Session(get_engine(seeded_url)) as s:
        s.add(Setting(key="wall_refresh_seconds", value="120", updated_at=datetime(2026, 1, 1)))
        s.commit()
    app_settings.clear_cache()
    assert wall.refresh_seconds(seeded_url) == 120  # the stored setting wins
    app_settings.clear_cache()


def test_wall_snapshot_figures_match_kpi(seeded_ro_url: str) -> None:
    """The wall's grouped queries give the same figures as kpi.figures for each tile."""
    from dashboard.reporting import kpi

    leader = Actor(id=0, username="display:test", display_name="test", role=Role.leader)
    now = clock.now()
    with Session(get_engine(seeded_ro_url)) as s:
        snap = wall.snapshot(s, leader, now)
        today = kpi.figures(s, leader, kpi.day_period(now.date()), now=now)
        month = periods.compare_periods(kpi.month_period(now.date()), now)
        assert (snap.today.reported, snap.today.accepted, snap.today.closed, snap.today.overdue_now) == (
            today.reported,
            today.accepted,
            today.closed,
            today.overdue_now,
        )
        assert snap.month == kpi.figures(s, leader, month.current, now=now)
        assert snap.month_previous.satisfied == kpi.figures(s, leader, month.previous, now=now).satisfied
        hot = kpi.figures(s, leader, month.current, source="hotline", now=now)
        assert (snap.hotline.response_rate, snap.hotline.resolution_rate, snap.hotline.satisfaction_rate) == (
            hot.response_rate,
            hot.resolution_rate,
            hot.satisfaction_rate,
        )
        assert (
            sum(r for _, r, _ in snap.trend)
            == kpi.figures(
                s,
                leader,
                kpi.Period(
                    kpi.day_period(now.date() - timedelta(days=6)).start, kpi.day_period(now.date()).end
                ),
                now=now,
            ).reported
        )
        assert len(snap.ticker) <= 20
        assert all(item.kind in wall.TICKER_KINDS and item.at.date() == now.date() for item in snap.ticker)
        assert snap.on_duty_now <= snap.served_today or snap.served_today == 0
