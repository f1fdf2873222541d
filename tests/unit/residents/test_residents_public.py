"""The residents' public channel (issue 23): reports through the staff intake, 附议, the abuse limits and
CAPTCHA, lookups with their lock, and the rating as the 回访 result (居民自评), 不满意 reopening the case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from dashboard.admin.settings import set_setting
from dashboard.cases import view as case_view
from dashboard.kernel.errors import Busy, Conflict, DomainError, NotPermitted
from dashboard.kernel.privacy import address_shown
from dashboard.reporting import kpi
from dashboard.residents import abuse, captcha, lookup, rating, signing
from dashboard.residents.common import CODE_ALPHABET
from dashboard.residents.places import match_building, resolve_place
from dashboard.residents.report import PublicInvalid, submit_report
from dashboard.residents.topics import available_topics
from models import AuditLog, Case, CaseAttachment, CaseEvent, CaseSupporter, PublicReport
from models.enums import CaseSource, CaseStatus, Satisfaction
from tests import photo_samples as samples
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World
from tests.unit.residents.helpers import add_building, close_by_staff, form

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)

SRC = "203.0.113.7"
PHONE = "138 1234 5678"


def _audit(s: Session, action: str) -> list[AuditLog]:
    return list(s.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_report_goes_through_intake_and_gets_a_random_code(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        receipt = submit_report(
            s,
            form(world, building, name="李阿姨", phone=PHONE, consent=True),
            source=SRC,
            captcha_passed=False,
        )
        s.commit()
        case = s.get(Case, receipt.case_id)
        assert case is not None and case.number == receipt.number and not receipt.supported
        assert case.source == CaseSource.resident and case.status == CaseStatus.reported
        assert case.reporter_phone == "13812345678" and case.address.startswith("幸福路8号3号楼")
        assert case.lon is not None and case.due_at is not None  # the building's point, the SLA clock
        assert len(receipt.code) == 6 and set(receipt.code) <= set(CODE_ALPHABET)
        row = s.exec(select(PublicReport).where(PublicReport.case_id == case.id)).one()
        stored = json.dumps(row.model_dump(), default=str)
        assert receipt.code not in stored and "13812345678" not in stored and row.consent
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        assert event.action == "report" and event.actor_id is None  # the system, never a staff name
        (entry,) = _audit(s, "public_report")
        assert entry.target == case.number and f"source={SRC}" in entry.detail and "5678" in entry.detail
        assert "13812345678" not in entry.detail  # masked
        # Two receipts never share a code.
        other = submit_report(
            s, form(world, None, topic="safety"), source="198.51.100.1", captcha_passed=False
        )
        assert other.code != receipt.code and other.number != receipt.number


def test_a_matching_report_is_a_support_on_the_open_case(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        first = submit_report(s, form(world, building), source=SRC, captcha_passed=False)
        again = submit_report(
            s,
            form(world, building, description="垃圾没人收", photos=[("bin.jpg", samples.jpeg())]),
            source="198.51.100.2",
            captcha_passed=False,
        )
        s.commit()
        assert again.supported and again.number == first.number and again.code != first.code
        assert s.exec(select(Case).where(Case.source == CaseSource.resident)).all().__len__() == 1
        (supporter,) = s.exec(select(CaseSupporter)).all()
        assert supporter.case_id == first.case_id and supporter.source == "198.51.100.2"
        assert len(_audit(s, "public_support")) == 1
        # Staff see the 附议 on the case timeline, by the system (no staff name), with its time and words;
        # the case's version stays the number of its events.
        timeline = case_view.timeline(s, world.actors["operator"], first.case_id)
        assert [e.action for e in timeline] == ["report", "support"]
        support = timeline[-1]
        assert support.actor == "" and support.note == "垃圾没人收" and support.at == CASE_LOOP_NOW
        assert support.from_status == CaseStatus.reported and support.to_status is None  # a side action
        (photo,) = s.exec(select(CaseAttachment).where(CaseAttachment.case_id == first.case_id)).all()
        assert (
            photo.event_id == support.event_id and not photo.public
        )  # the supporter's photo, with its event
        assert case_view.event_summary("support", support.payload, "zh") == "+1（共 1 位居民附议）"
        case = s.get(Case, first.case_id, populate_existing=True)
        assert case is not None and case.version == len(timeline) == 2
        # Another topic at the same place is a case of its own.
        third = submit_report(
            s, form(world, building, topic="safety"), source="198.51.100.3", captcha_passed=False
        )
        assert not third.supported and third.number != first.number
        # The supporter follows the case with its own code and sees the +1 count.
        found = lookup.prove(s, again.number, again.code, source="198.51.100.2")
        assert found is not None
        view = lookup.public_case(s, found)
        assert view is not None and view.kind == "support" and view.supporters == 1 and not view.can_rate


def test_limits_captcha_and_blocked_phones(world: World) -> None:
    with world.session() as s:
        set_setting(s, world.actors["admin"], "residents.reports_per_hour", 2)
        submit_report(s, form(world, None), source=SRC, captcha_passed=False)
        with pytest.raises(PublicInvalid) as refused:
            submit_report(s, form(world, None, topic="safety"), source=SRC, captcha_passed=False)
        assert refused.value.problems == {"captcha": "residents.err.captcha"}
        submit_report(s, form(world, None, topic="safety"), source=SRC, captcha_passed=True)
        with pytest.raises(DomainError) as limited:
            submit_report(s, form(world, None, topic="safety"), source=SRC, captcha_passed=True)
        assert limited.value.key == "residents.err.too_many" and limited.value.values["per_hour"] == 2
        # The same phone from elsewhere is limited too (counted by its digest).
        for i in range(2):
            submit_report(
                s, form(world, None, phone=PHONE, consent=True), source=f"10.0.0.{i}", captcha_passed=False
            )
        with pytest.raises(DomainError, match="too_many"):
            submit_report(
                s, form(world, None, phone=PHONE, consent=True), source="10.0.0.9", captcha_passed=False
            )
        with pytest.raises(PublicInvalid) as consent:
            submit_report(s, form(world, None, phone="13900001111"), source="10.0.1.1", captcha_passed=False)
        assert consent.value.problems == {"consent": "residents.err.consent"}
        with pytest.raises(PublicInvalid) as long:
            submit_report(
                s, form(world, None, description="长" * 501), source="10.0.1.1", captcha_passed=False
            )
        assert long.value.problems == {"description": "residents.err.too_long"}
        op = world.actors["operator"]
        view = abuse.block_phone(s, op, phone="139-0000-1111", reason="反复提交无关内容")
        assert view.phone_masked == "139****1111"
        with pytest.raises(DomainError, match="blocked"):
            submit_report(
                s,
                form(world, None, phone="13900001111", consent=True),
                source="10.0.1.2",
                captcha_passed=False,
            )
        with pytest.raises(NotPermitted):
            abuse.block_phone(s, world.actors["grid"], phone="13900002222", reason="x")
        assert [b.phone_masked for b in abuse.blocked_phones(s)] == ["139****1111"]
        assert abuse.unblock_phone(s, op, phone_hash=view.phone_hash)
        submit_report(
            s, form(world, None, phone="13900001111", consent=True), source="10.0.1.2", captcha_passed=False
        )
        assert {a.action for a in s.exec(select(AuditLog)).all()} >= {"public_block", "public_unblock"}


def test_a_report_in_the_first_hour_of_the_day_counts_once(world: World) -> None:
    """At midnight the hour's window and the day's start at the same moment: each must count apart (they
    shared one counter row, so a report between 00:00 and 01:00 used up two of the allowance)."""
    from datetime import datetime

    from dashboard.residents import counters

    midnight = datetime(2026, 12, 3, 0, 12, 11)
    with world.session() as s:
        abuse.count_report(s, source=SRC, phone_hash="", now=midnight)
        assert counters.count(s, abuse.REPORTS_BY_SOURCE, SRC, counters.HOUR, midnight) == 1
        assert counters.count(s, abuse.REPORTS_BY_SOURCE, SRC, counters.DAY, midnight) == 1


def test_captcha_answer_is_one_use_and_signed(world: World) -> None:
    with world.session() as s:
        token = captcha.new_challenge()
        right = captcha.answer(token)
        assert len(right) == captcha.LENGTH and right not in token
        assert captcha.image(token)[:8] == b"\x89PNG\r\n\x1a\n"
        assert captcha.verify(s, token, right.lower())
        assert not captcha.verify(s, token, right)  # used up
        other = captcha.new_challenge()
        assert not captcha.verify(s, other, "????")
        assert not captcha.verify(s, other, captcha.answer(other))  # the wrong try used it up
        forged = other.rsplit(".", 1)[0] + ".0" * 1
        assert captcha.answer(forged) == "" and not captcha.verify(s, forged, "ABCD")
    assert signing.unsign("view", signing.sign("view", "12", 60)) == "12"
    assert signing.unsign("case", signing.sign("view", "12", 60)) is None
    assert signing.unsign("view", signing.sign("view", "12", 60).replace("12.", "13.", 1)) is None


def test_lookup_by_code_or_phone_tail_and_the_lock(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        receipt = submit_report(
            s,
            form(world, building, name="李阿姨", phone=PHONE, consent=True),
            source=SRC,
            captcha_passed=False,
        )
        s.commit()
        assert lookup.prove(s, receipt.number.lower(), receipt.code.lower(), source=SRC) is not None
        found = lookup.prove(s, receipt.number, "5678", source=SRC)
        assert found is not None
        view = lookup.public_case(s, found)
        assert (
            view is not None
            and view.number == receipt.number
            and view.place == address_shown("幸福路8号3号楼2单元门口")
        )
        shown = json.dumps(view.__dict__, default=str, ensure_ascii=False)
        assert "李阿姨" not in shown and "****5678" not in shown and "2单元" not in shown
        assert [st.done for st in view.stages] == [True, False, False, False, False]  # 已提交 only
        for attempt in range(lookup.WRONG_PER_NUMBER):
            assert lookup.prove(s, receipt.number, "AAAAAA", source=f"10.1.0.{attempt}") is None
        s.commit()
        with pytest.raises(DomainError) as locked:
            lookup.prove(s, receipt.number, receipt.code, source="10.2.0.1")
        assert locked.value.key == "residents.err.locked"
        assert [a.target for a in _audit(s, "public_lookup_lock")] == [receipt.number]
        # An unknown number costs and counts the same as a wrong code.
        assert lookup.prove(s, "XL20990101-0001", receipt.code, source=SRC) is None


def test_rating_is_the_follow_up_result_when_staff_did_not_follow_up(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        receipt = submit_report(s, form(world, building), source=SRC, captcha_passed=False)  # anonymous
        s.commit()
        period = kpi.Period(CASE_LOOP_NOW.replace(hour=0), CASE_LOOP_NOW.replace(hour=23))
        before = kpi.figures(s, world.actors["leader"], period)
        case = close_by_staff(s, world, receipt.case_id)
        assert case.satisfaction == Satisfaction.not_reached
        row_id = lookup.prove(s, receipt.number, receipt.code, source=SRC)
        assert row_id is not None
        view = lookup.public_case(s, row_id)
        assert view is not None and view.can_rate and all(st.done for st in view.stages)
        assert view.department == "" and view.reply == "已清运，垃圾桶已清洗"
        done = rating.rate(s, row_id, "satisfied", "很快就清理了", source=SRC)
        s.commit()
        assert done.counted and not done.reopened
        s.refresh(case)
        assert case.satisfaction == Satisfaction.satisfied and case.status == CaseStatus.closed
        row = s.get(PublicReport, row_id)
        assert row is not None and row.rating_counted and row.rating == "satisfied"
        event = s.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
        ).first()
        assert (
            event is not None and event.actor_id is None and json.loads(event.payload)["source"] == "resident"
        )
        after = kpi.figures(s, world.actors["leader"], period)
        assert (after.followed_up, after.satisfied) == (before.followed_up + 1, before.satisfied + 1)
        with pytest.raises(Conflict):  # once per closing
            rating.rate(s, row_id, "basically", "", source=SRC)


def test_dissatisfied_reopens_for_review_and_staff_follow_up_wins(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        receipt = submit_report(
            s, form(world, building, phone=PHONE, consent=True), source=SRC, captcha_passed=False
        )
        s.commit()
        case = close_by_staff(s, world, receipt.case_id, follow_up="basically")
        row_id = lookup.prove(s, receipt.number, receipt.code, source=SRC)
        assert row_id is not None
        with pytest.raises(PublicInvalid):
            rating.rate(s, row_id, "not_reached", "", source=SRC)
        done = rating.rate(s, row_id, "dissatisfied", "垃圾桶还是满的", source=SRC)
        s.commit()
        assert done.reopened and not done.counted
        s.refresh(case)
        assert case.status == CaseStatus.accepted and case.closed_at is None
        reopen = s.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "reopen")
        ).one()
        assert "垃圾桶还是满的" in reopen.note and reopen.actor_id is None
        (entry,) = _audit(s, "public_rate")
        assert "reopened=True" in entry.detail and f"source={SRC}" in entry.detail
        view = lookup.public_case(s, row_id)
        assert view is not None and not view.can_rate and view.stages[-1].done is False


def test_mark_spam_closes_as_invalid_and_blocks_the_reporter(world: World) -> None:
    with world.session() as s:
        receipt = submit_report(
            s, form(world, None, phone=PHONE, consent=True), source=SRC, captcha_passed=False
        )
        s.commit()
        with pytest.raises(NotPermitted):
            abuse.mark_spam(s, world.actors["grid"], case_id=receipt.case_id, reason="广告")
        ref = abuse.mark_spam(s, world.actors["operator"], case_id=receipt.case_id, reason="广告信息")
        blocked = abuse.block_reporter(s, world.actors["operator"], case_id=receipt.case_id, reason="广告")
        s.commit()
        assert ref.status == CaseStatus.rejected and blocked.phone_masked == "138****5678"
        event = s.exec(
            select(CaseEvent).where(CaseEvent.case_id == receipt.case_id, CaseEvent.action == "reject")
        ).one()
        assert json.loads(event.payload)["spam"] is True and event.note == "广告信息"
        assert len(_audit(s, "public_spam")) == 1
        row = s.exec(select(PublicReport).where(PublicReport.case_id == receipt.case_id)).one()
        assert row.spam_at is not None
        with pytest.raises(DomainError, match="blocked"):
            submit_report(
                s,
                form(world, None, phone="13812345678", consent=True),
                source="10.9.9.9",
                captcha_passed=False,
            )
        with pytest.raises(Conflict):  # already closed: nothing to mark
            abuse.mark_spam(s, world.actors["operator"], case_id=receipt.case_id, reason="广告")


def test_places_follow_the_qr_grid_and_typed_addresses(world: World) -> None:
    with world.session() as s:
        building = add_building(s, world)
        other = add_building(s, world, grid=2, name="和平路1号楼")
        place = resolve_place(s, grid_code="XL-01-02")
        assert place.grid_id == world.grid["XL-01-02"] and place.community_id == world.community_ids[0]
        assert [g.label for g in place.grids] == ["第1网格", "第2网格"] and place.buildings == []
        # A building outside the chosen grid, or a grid outside the chosen community, is dropped.
        place = resolve_place(s, community=str(world.community_ids[1]), grid=str(world.grid_ids[0]))
        assert place.community_id == world.community_ids[1] and place.grid_id is None
        place = resolve_place(s, grid=str(world.grid_ids[0]), building=str(other))
        assert place.building_id is None and [b.value for b in place.buildings] == [str(building)]
        assert match_building(s, "幸福路8号3号楼门口", grid_id=None, community_id=None) == building
        assert match_building(s, "幸福路8号3号楼门口", grid_id=world.grid_ids[2], community_id=None) is None
        # A typed address finds the building, and so the case's point and grid.
        receipt = submit_report(
            s, form(world, None, address="幸福路8号3号楼北侧"), source=SRC, captcha_passed=False
        )
        case = s.get(Case, receipt.case_id)
        assert case is not None and case.lon is not None and case.grid_id == world.grid_ids[0]
        assert [t.key for t in available_topics(s)] == ["litter", "safety"]


def test_staff_changing_the_case_meanwhile_makes_the_write_busy_never_names_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staff write slipping in between reading the case and changing it (the optimistic lock's
    StaleCase, which names who changed it) is a Busy unit of work for a resident: tried again by run_unit,
    and no staff name in what the public page would show."""
    from dashboard.residents import report as report_module

    def racing(real):  # type: ignore[no-untyped-def]
        def change(session: Session, actor, case_id: int, version: int, *args, **kwargs):  # type: ignore[no-untyped-def]
            session.exec(update(Case).where(Case.id == case_id).values(version=Case.version + 1))  # type: ignore[call-overload]
            return real(session, actor, case_id, version, *args, **kwargs)

        return change

    with world.session() as s:
        building = add_building(s, world)
        first = submit_report(s, form(world, building), source=SRC, captcha_passed=False)
        s.commit()
        with monkeypatch.context() as mp:
            mp.setattr(report_module, "change_case", racing(report_module.change_case))
            with pytest.raises(Busy) as busy:
                submit_report(s, form(world, building), source="198.51.100.9", captcha_passed=False)
        s.rollback()
        assert busy.value.key == "errors.busy" and not busy.value.values
        close_by_staff(s, world, first.case_id)
        row_id = lookup.prove(s, first.number, first.code, source=SRC)
        assert row_id is not None
        s.commit()
        with monkeypatch.context() as mp:
            mp.setattr(rating, "change_case", racing(rating.change_case))
            with pytest.raises(Busy):
                rating.rate(s, row_id, "dissatisfied", "", source=SRC)
        s.rollback()
        case = s.get(Case, first.case_id, populate_existing=True)
        assert case is not None and case.status == CaseStatus.closed  # nothing of the try was written
