"""AppTest of the staff side of 居民随手拍: the operator marks a resident's report as spam (closed as 无效,
audited) and blocks its phone, which the 随手拍管理 page lists masked and unblocks; the overview and the
meeting report count resident reports, 附议 and 居民自评 beside the 回访 satisfaction; the admin's grid page
offers the QR posters; the case page shows a 附议 and a resident's 不满意 reopening the case for review."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from dashboard.i18n import t
from dashboard.kernel.formatting import pct
from dashboard.residents import abuse, lookup, rating
from dashboard.residents.report import submit_report
from models import AuditLog, BlockedPhone, Case, CaseEvent, CaseSupporter, PublicReport
from models.enums import CaseSource, CaseStatus, Satisfaction
from tests.conftest import SQLITE_ONLY
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case
from tests.unit.residents.helpers import add_building, close_by_staff, form

pytestmark = [pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW), SQLITE_ONLY]

R = CaseSource.resident
PHONE = "13812345678"


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _lookup_row(case: Case, **values: object) -> PublicReport:
    return PublicReport(
        case_id=case.id,  # type: ignore[arg-type]
        kind="report",
        code_salt="s",
        code_hash="h",
        phone_hash=abuse.phone_digest(PHONE),
        consent=True,
        created_at=case.reported_at,
        **values,  # type: ignore[arg-type]
    )


def _metric(at, label: str) -> str:  # type: ignore[no-untyped-def]
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, (label, [m.label for m in at.metric])
    return values[0]


def test_operator_marks_spam_blocks_the_phone_and_unblocks_it(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        case = put_case(s, w, CaseStatus.reported, source=R, reporter_phone=PHONE)
        s.add(_lookup_row(case))
        s.commit()
        case_id, number = int(case.id), case.number  # type: ignore[arg-type]
    at = login(w.url, "operator", "pages/case_detail.py")
    at.query_params["case"] = number
    at.run()
    _ok(at)
    at.text_input(key=f"moderate_{case_id}_reason").input("广告推销")
    at.button(key=f"moderate_{case_id}_spam").click().run()
    _ok(at)
    assert any(t("moderate.spam_done", number=number) in s.value for s in at.success)
    with w.session() as s:
        closed = s.get(Case, case_id)
        assert closed is not None and closed.status == CaseStatus.rejected
        event = s.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc())
        ).first()  # type: ignore[attr-defined]
        assert (
            event is not None and event.action == "reject" and json.loads(event.payload).get("spam") is True
        )
        assert event.note == "广告推销" and event.actor_id == w.actors["operator"].id
        audit = s.exec(select(AuditLog).where(AuditLog.action == "public_spam")).all()
        assert [(a.target, a.actor_id) for a in audit] == [(number, w.actors["operator"].id)]
    assert at.button(key=f"moderate_{case_id}_spam").disabled  # no longer waiting for acceptance

    at.text_input(key=f"moderate_{case_id}_reason").input("多次恶意提交")
    at.button(key=f"moderate_{case_id}_block").click().run()
    _ok(at)
    with w.session() as s:
        assert [b.phone_masked for b in s.exec(select(BlockedPhone)).all()] == ["138****5678"]

    at.switch_page("pages/resident_reports.py").run()
    _ok(at)
    table = at.dataframe[0].value
    assert table[t("residents_admin.col_phone")].tolist() == ["138****5678"]
    assert table[t("residents_admin.col_reason")].tolist() == ["多次恶意提交"]
    assert table[t("residents_admin.col_by")].tolist() == ["指挥中心王芳"]
    assert PHONE not in json.dumps(
        [str(e.value) for e in at.text_input] + table.astype(str).values.ravel().tolist()
    )
    assert _metric(at, t("residents_admin.reported_30")) == "1"
    at.selectbox(key="res_unblock_pick").select_index(0).run()
    at.button(key="res_unblock").click().run()
    _ok(at)
    with w.session() as s:
        assert s.exec(select(BlockedPhone)).all() == []
        assert {a.action for a in s.exec(select(AuditLog)).all()} >= {"public_block", "public_unblock"}


def test_overview_and_report_count_resident_reports_supporters_and_self_ratings(
    world: World, login: Callable
) -> None:
    w = world
    day = CASE_LOOP_NOW - timedelta(days=2)
    with w.session() as s:
        rated = put_case(s, w, CaseStatus.closed, source=R, reported_at=day)  # closed, 满意 (the resident's)
        later = put_case(s, w, CaseStatus.closed, source=R, reported_at=day, satisfaction="basically")
        put_case(s, w, CaseStatus.reported, source=R, grid=2)
        put_case(s, w, CaseStatus.reported)  # 12345: not a resident report
        s.add(
            _lookup_row(
                rated, rating="satisfied", rated_at=CASE_LOOP_NOW - timedelta(hours=3), rating_counted=True
            )
        )
        s.add(
            _lookup_row(
                later, rating=Satisfaction.dissatisfied.value, rated_at=CASE_LOOP_NOW - timedelta(hours=2)
            )
        )
        s.add_all([CaseSupporter(case_id=rated.id, at=day + timedelta(hours=1)) for _ in range(3)])  # type: ignore[arg-type]
        s.commit()
    at = login(w.url, "leader", "pages/overview.py")
    _ok(at)
    assert _metric(at, t("resfig.reported")) == "3"
    assert _metric(at, t("resfig.supporters")) == "3"
    assert _metric(at, t("resfig.self_rate")) == pct(0.5)  # 满意 of 2 ratings (one counted as 回访)
    assert _metric(at, t("resfig.follow_rate")) == pct(1.0)  # 满意 + 基本满意 of 2 followed up
    help_text = next(m.help for m in at.metric if m.label == t("resfig.self_rate"))
    assert "2" in help_text and "1" in help_text
    table = at.dataframe[0].value
    assert table[t("resfig.per_unit")].sum() == 3

    at.switch_page("pages/report.py").run()
    at.selectbox(key="report_month").select_index(0).run()  # this month (the default is the last one)
    _ok(at)
    assert _metric(at, t("resfig.reported")) == "3"
    assert _metric(at, t("resfig.self_rate")) == pct(0.5)


def test_admin_grid_page_offers_the_qr_posters(world: World, login: Callable) -> None:
    w = world
    at = login(w.url, "admin", "pages/admin_grids.py")
    _ok(at)
    assert t("qr.community_pdf", n=2) in [b.proto.label for b in at.get("download_button")]
    assert any(t("qr.base_default", url="http://127.0.0.1:8501") in x.value for x in at.warning)
    at.selectbox(key="grid_pick").select_index(0).run()
    _ok(at)
    assert [c.value for c in at.code] == ["http://127.0.0.1:8501/public/report?grid=XL-01-01"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert t("qr.pdf") in labels and t("qr.png") in labels
    assert len(at.image) == 1  # the preview


def test_the_case_page_shows_the_support_and_the_dissatisfied_rating_reopening_it(
    world: World, login: Callable
) -> None:
    """A 附议 is on the case timeline (居民附议 +1, with its time and words); after 办结 the reporter's 不满意
    reopens the case for review: the page shows it back at 已受理 with the rating and the 重办 reason."""
    w = world
    with w.session() as s:
        building = add_building(s, w)
        first = submit_report(s, form(w, building), source="203.0.113.1", captcha_passed=False)
        again = form(w, building, description="垃圾还是没人收")
        assert submit_report(s, again, source="203.0.113.2", captcha_passed=False).supported
        s.commit()
        close_by_staff(s, w, first.case_id)
        report_id = lookup.prove(s, first.number, first.code, source="203.0.113.1")
        assert report_id is not None
        assert rating.rate(s, report_id, "dissatisfied", "还是很脏", source="203.0.113.1").reopened
        s.commit()
    at = login(w.url, "operator", "pages/case_detail.py")
    at.query_params["case"] = first.number
    at.run()
    _ok(at)
    timeline = next(d.value for d in at.dataframe if t("timeline.action") in d.value.columns)
    rows = timeline.set_index(t("timeline.action"))
    support = rows.loc[t("actions.support")]
    assert support[t("timeline.note")] == "垃圾还是没人收" and support[t("timeline.actor")] == "—"
    assert support[t("timeline.detail")] == "+1（共 1 位居民附议）"
    assert support[t("timeline.at")] == CASE_LOOP_NOW.strftime("%Y-%m-%d %H:%M")
    actions = timeline[t("timeline.action")].tolist()
    assert actions[:2] == [t("actions.report"), t("actions.support")]
    assert actions[-2:] == [t("actions.comment"), t("actions.reopen")]
    assert "居民自评：不满意" in timeline[t("timeline.note")].iloc[-2]
    assert "还是很脏" in timeline[t("timeline.note")].iloc[-1]
    assert t("enum.status.accepted") in timeline[t("timeline.status")].iloc[-1]
    with w.session() as s:
        case = s.get(Case, first.case_id)
        assert case is not None and case.status == CaseStatus.accepted and case.satisfaction is None
        assert case.version == len(timeline)  # the version is the number of its events
        (audit,) = s.exec(select(AuditLog).where(AuditLog.action == "public_rate")).all()
        assert "reopened=True" in audit.detail and audit.target == first.number
