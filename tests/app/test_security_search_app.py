"""The search boxes of the queue and the registry through the pages (security finding 2): a role that sees a
field masked finds nothing by its hidden part, and finds the record by what it sees or by the whole value."""

from __future__ import annotations

from sqlmodel import Session, select

from dashboard.admin.auth import actor_of
from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.kernel import privacy, scope
from models import Case, User, Volunteer
from models.enums import OPEN_STATUSES


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _me(s: Session, username: str):  # type: ignore[no-untyped-def]
    return actor_of(s.exec(select(User).where(User.username == username)).one())


def test_leader_queue_search_matches_the_building_not_the_hidden_unit(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        me = _me(s, "leader")
        cases = s.exec(
            select(Case.number, Case.title, Case.address).where(
                scope.case_filter(me), Case.status.in_([x.value for x in OPEN_STATUSES])
            )
        ).all()
    tails = {a[len(privacy.address_shown(a)) :] for _, _, a in cases}
    number, address = next(
        (n, a)
        for n, _, a in cases
        if "单元" in (tail := a[len(privacy.address_shown(a)) :])
        and not any(tail in ti or tail in privacy.address_shown(x) for _, ti, x in cases)
    )
    tail = address[len(privacy.address_shown(address)) :]
    assert tail in tails
    at = login(seeded_url, "leader", "pages/queue.py")
    _ok(at)
    at.segmented_control(key="qf_view").set_value("open").run()  # overdue cases too
    box = at.text_input(key="qf_q")
    assert box.placeholder == t("queue.search_hint_exact")
    box.input(tail).run()
    _ok(at)
    assert t("queue.empty_filtered") in [i.value for i in at.info]
    at.text_input(key="qf_q").input(privacy.address_shown(address)).run()
    _ok(at)
    table = next(df.value for df in at.dataframe if t("queue.col_address") in df.value.columns)
    assert f"case?case={number}" in set(table[t("queue.col_number")])
    assert not any(tail in a for a in table[t("queue.col_address")])  # still masked


def test_community_registry_search_needs_the_whole_name(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        me = _me(s, "community")
        names = list(s.exec(select(Volunteer.name).where(scope.volunteer_filter(me))).all())
    name = next(n for n in names if len(n) == 3 and n[1] not in names)
    at = login(seeded_url, "community", "pages/volunteers.py")
    _ok(at)
    box = at.text_input(key="volreg_text")
    assert box.placeholder == t("vol.search_hint_exact")
    box.input(name[1]).run()  # the hidden middle character
    _ok(at)
    assert t("vol.found", n="0") in [c.value for c in at.caption]
    at.text_input(key="volreg_text").input(name).run()
    _ok(at)
    found = names.count(name)
    assert t("vol.found", n=f"{found:,}") in [c.value for c in at.caption]
    table = next(df.value for df in at.dataframe if t("vol.name") in df.value.columns)
    assert set(table[t("vol.name")]) == {privacy.mask_name(name)}
