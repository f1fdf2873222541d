"""Searches never undo masks (DESIGN §9, security finding 2): a role searches only what it sees.

The attack of the finding: a role that sees volunteer names as 张*明 or an address as 项王名居3号楼*** types
one or two characters at a time into the search box and reads, from which records still match, the hidden
characters. Here every demo role sweeps every masked field of the seeded database through the services the
pages call (the queue, its counts and export, the registry, its export and the volunteer picker) with the
characters and pairs of characters of the hidden parts, and counts the records a search narrows down by a
hidden part: there must be none. The whole value (a whole name, a whole phone number, the part of an address
the mask shows) still finds its record, and the roles that may reveal the field keep searching inside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pytest
from sqlalchemy import String, literal
from sqlmodel import Session, select

from dashboard.admin import auth
from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.db import get_engine
from dashboard.kernel import privacy
from dashboard.kernel.scope import Actor, case_filter, volunteer_filter
from dashboard.volunteers import registry
from dashboard.volunteers.registry import VolunteerQuery
from models import Case, User, Volunteer
from models.enums import Role

CASE_SUBSTRING = {"admin", "operator", "community"}
"""Demo accounts that may reveal a reporter's data (pii.reveal.case) and so search inside addresses."""
CASE_EXACT = {"leader", "grid"}
"""Demo accounts that browse the queue and see addresses masked to the building."""
VOLUNTEER_SUBSTRING = {"admin", "volunteers"}
VOLUNTEER_EXACT = {"leader", "operator", "community", "grid"}
"""Demo accounts that read the registry with names and phones masked."""


def _actor(s: Session, username: str) -> Actor:
    return auth.actor_of(s.exec(select(User).where(User.username == username)).one())


def _sweep(values: Iterable[str]) -> list[str]:
    """Every character and every pair of adjacent characters of `values` (what the attacker types)."""
    terms = {v[i : i + n] for v in values for n in (1, 2) for i in range(len(v) - n + 1)}
    return sorted(t for t in terms if t.strip() and "*" not in t)


# ---------------------------------------------------------------- the rule in one place


@pytest.mark.parametrize("role", list(Role))
def test_searchable_is_substring_only_for_roles_that_may_reveal(role: Role) -> None:
    me = Actor(1, "u", "U", role)
    case_roles = {Role.admin, Role.operator, Role.community}
    volunteer_roles = {Role.admin, Role.volunteer_manager}
    assert privacy.searchable(me, "case") == ("substring" if role in case_roles else "exact")
    assert privacy.searchable(me, "volunteer") == ("substring" if role in volunteer_roles else "exact")


TRICKY_ADDRESSES = [
    "幸福小区3号楼2单元301室",
    "项里街道人民路88号3栋2单元501",
    "洋河社区11组6号院",
    "12号院3号楼",
    "东院2排3号",
    "院",
    "中院4号楼1单元",
    "阳光100号楼502",
    "３号楼２单元６０１",
    "幸福路3\u3000号楼201",
    "幸福路3 号楼201",
    "组团3号楼201",
    "3座2单元",
    "北京东路100号1幢",
    "黄河路（人民小区3号楼附近）",
    "abcdefghij",
    "AB号楼12",
    "12345678",
    "",
]


def test_sql_shows_the_part_of_every_address_the_mask_shows(seeded_ro_url: str) -> None:
    """The SQL form of the visible part (SQLite: the Python function; PostgreSQL: a regular expression) equals
    the Python one on every seeded address and on awkward ones, so the database never matches more."""
    with Session(get_engine(seeded_ro_url)) as s:
        rows = s.exec(select(Case.address, privacy.address_shown_sql(Case.address))).all()
        for text in TRICKY_ADDRESSES:
            rows.append((text, s.exec(select(privacy.address_shown_sql(literal(text, String)))).one()))
    wrong = [(a, sql) for a, sql in rows if sql != privacy.address_shown(a)]
    assert len(rows) > 100 and wrong == []
    assert privacy.address_shown("幸福小区3号楼2单元301室") == "幸福小区3号楼"
    assert privacy.mask_address("幸福路3\u3000号楼201") == "幸福路3\u3000号楼***"
    assert privacy.mask_address("洋河社区11组6号院") == "洋河社区11组***"


# ---------------------------------------------------------------- case queue: addresses


def _cases(s: Session, me: Actor) -> list[tuple[int, str, str, str]]:
    return list(s.exec(select(Case.id, Case.number, Case.title, Case.address).where(case_filter(me))).all())


def _visible_match(term: str, number: str, title: str, address: str) -> bool:
    """Whether a case matches `term` by what a masked role sees (number, title, the shown address)."""
    low = term.lower()
    return term.upper() in number or low in title.lower() or low in privacy.address_shown(address).lower()


def _hidden_tails(cases: list[tuple[int, str, str, str]]) -> list[str]:
    return [a[len(privacy.address_shown(a)) :] for _, _, _, a in cases if privacy.mask_address(a) != a]


@pytest.mark.parametrize("username", sorted(CASE_EXACT))
def test_queue_search_never_matches_the_hidden_part_of_an_address(seeded_ro_url: str, username: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        assert privacy.searchable(me, "case") == "exact"
        cases = _cases(s, me)
        terms = _sweep(_hidden_tails(cases))
        assert len(terms) > 20, "the seed has addresses with hidden parts"
        narrowed: set[int] = set()
        for term in terms:
            expected = {i for i, n, ti, a in cases if _visible_match(term, n, ti, a)}
            page = queue.queue_page(s, me, QueueFilters(view="all", text=term), 1, 500)
            found = set(page.rows["id"].astype(int))
            narrowed |= found - expected
            assert page.total == len(expected), term
            if page.total <= 500:
                assert found == expected, term
            # every row is explained by what the role sees on it (the masked address shows no more)
            rows = page.rows
            seen = rows["number"].str.contains(term.upper(), regex=False) | (
                rows["title"] + "\n" + rows["address"].str.removesuffix("***")
            ).str.lower().str.contains(term.lower(), regex=False)
            assert seen.all(), term
        assert narrowed == set()


def test_leader_cannot_recover_a_hidden_unit_and_room_but_finds_the_building(seeded_ro_url: str) -> None:
    """The finding's case: a leader typing the hidden tail (2单元504) finds nothing by it; the operator, who may
    reveal the address, finds the case; the building part the mask shows finds it for both."""
    with Session(get_engine(seeded_ro_url)) as s:
        leader, operator = _actor(s, "leader"), _actor(s, "operator")
        cases = _cases(s, leader)
        target = next(
            (i, n, ti, a)
            for i, n, ti, a in cases
            if "单元" in a[len(privacy.address_shown(a)) :]
            and not any(a[len(privacy.address_shown(a)) :] in t for _, _, t, _ in cases)
        )
        case_id, _, _, address = target
        tail = address[len(privacy.address_shown(address)) :]
        by_tail = QueueFilters(view="all", text=tail)
        assert queue.queue_page(s, leader, by_tail, 1, 50).total == 0
        assert queue.status_counts(s, leader, by_tail)["all"] == 0
        assert queue.export_ids(s, leader, filters=by_tail) == []
        assert case_id in set(queue.queue_page(s, operator, by_tail, 1, 500).rows["id"].astype(int))
        building = QueueFilters(view="all", text=privacy.address_shown(address))
        for me in (leader, operator):
            assert case_id in set(queue.queue_page(s, me, building, 1, 5000).rows["id"].astype(int))


@pytest.mark.parametrize("username", sorted(CASE_SUBSTRING))
def test_roles_that_may_reveal_an_address_search_inside_it(seeded_ro_url: str, username: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        cases = _cases(s, me)
        terms = _sweep(_hidden_tails(cases))[::7]
        assert terms
        hidden_hits = 0
        for term in terms:
            low = term.lower()
            expected = {
                i for i, n, ti, a in cases if term.upper() in n or low in ti.lower() or low in a.lower()
            }
            page = queue.queue_page(s, me, QueueFilters(view="all", text=term), 1, 5000)
            assert set(page.rows["id"].astype(int)) == expected, term
            hidden_hits += len(expected - {i for i, n, ti, a in cases if _visible_match(term, n, ti, a)})
        assert hidden_hits > 0


def test_case_export_with_a_search_matches_as_the_queue(seeded_url: str) -> None:
    """The filtered export (CSV, what the queue's export button writes) uses the same rule."""
    with Session(get_engine(seeded_url)) as s:
        me = _actor(s, "leader")
        cases = _cases(s, me)
        tail = next(t for t in _hidden_tails(cases) if "单元" in t)
        data = queue.export_file(s, me, filters=QueueFilters(view="all", text=tail))
        s.commit()  # the export's audit row
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    expected = sum(_visible_match(tail, n, ti, a) for _, n, ti, a in cases)
    assert len(rows) - 1 == expected


# ---------------------------------------------------------------- volunteer registry: names and phones


def _volunteers(s: Session, me: Actor) -> list[tuple[int, str, str]]:
    stmt = select(Volunteer.id, Volunteer.name, Volunteer.phone).where(volunteer_filter(me))
    return list(s.exec(stmt).all())


def _hidden_name_parts(names: Iterable[str]) -> list[str]:
    """The characters a mask hides (张*明 hides the middle) and the pairs that hold one."""
    out = set()
    for name in names:
        hidden = [i for i, c in enumerate(privacy.mask_name(name)) if c == "*"]
        out.update(name[i] for i in hidden)
        out.update(name[i : i + 2] for i in range(len(name) - 1) if i in hidden or i + 1 in hidden)
    return sorted(out)


DIGIT_SWEEP = [str(d) for d in range(10)] + [f"{d:02d}" for d in range(100)]


@pytest.mark.parametrize("username", sorted(VOLUNTEER_EXACT))
def test_registry_search_never_narrows_a_masked_name_or_phone(seeded_ro_url: str, username: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        assert privacy.searchable(me, "volunteer") == "exact"
        people = _volunteers(s, me)
        assert people
        terms = _hidden_name_parts(n for _, n, _ in people) + DIGIT_SWEEP
        narrowed: set[int] = set()
        for term in terms:
            exact = {i for i, n, p in people if n == term or p == term}
            n = registry.count_volunteers(s, me, VolunteerQuery(text=term))
            picked = registry.pick_volunteers(s, me, term, limit=1000, active_only=False)
            narrowed |= set(picked["id"].astype(int)) - exact
            if n != len(exact):
                page = registry.list_volunteers(s, me, VolunteerQuery(text=term), page_size=1000)
                narrowed |= set(page.rows["id"].astype(int)) - exact
        assert narrowed == set()


@pytest.mark.parametrize("username", sorted(VOLUNTEER_EXACT))
def test_whole_name_and_whole_phone_still_find_the_volunteer(seeded_ro_url: str, username: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        vid, name, phone = sorted(_volunteers(s, me))[0]
        spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        for text in (
            name,
            f" {name} ",
            phone,
            spaced,
            f"+86-{phone}",
            f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
        ):
            page = registry.list_volunteers(s, me, VolunteerQuery(text=text))
            assert vid in set(page.rows["id"].astype(int)), text
            assert all("*" in v for v in page.rows["phone"])  # still shown masked
        assert vid in set(registry.pick_volunteers(s, me, phone)["id"].astype(int))
        assert registry.count_volunteers(s, me, VolunteerQuery(text=phone[:-1])) == 0
        assert registry.count_volunteers(s, me, VolunteerQuery(text=phone[3:7])) == 0
        assert registry.count_volunteers(s, me, VolunteerQuery(text=name[0])) == sum(
            n == name[0] for _, n, _ in _volunteers(s, me)
        )


@pytest.mark.parametrize("username", sorted(VOLUNTEER_SUBSTRING))
def test_roles_that_may_reveal_volunteers_search_inside_names_and_phones(
    seeded_ro_url: str, username: str
) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        people = _volunteers(s, me)
        vid, name, phone = next(p for p in sorted(people) if len(p[1]) >= 3)
        for text in (name[1], name[1:], phone[3:7], phone[-5:]):
            expected = {i for i, n, p in people if text in n or text in p}
            assert registry.count_volunteers(s, me, VolunteerQuery(text=text)) == len(expected) > 0
            page = registry.list_volunteers(s, me, VolunteerQuery(text=text), page_size=1000)
            assert set(page.rows["id"].astype(int)) == expected and vid in expected


def test_volunteer_export_with_a_search_matches_as_the_registry(seeded_url: str) -> None:
    with Session(get_engine(seeded_url)) as s:
        me = _actor(s, "community")
        people = _volunteers(s, me)
        middle = next(n[1] for _, n, _ in people if len(n) >= 3)
        data = registry.export_volunteers(s, me, VolunteerQuery(text=middle))
        whole = registry.export_volunteers(s, me, VolunteerQuery(text=people[0][1]))
        s.commit()  # the export audit rows
    assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) == 1 + sum(
        n == middle for _, n, _ in people
    )
    ids = {int(r["id"]) for r in csv.DictReader(io.StringIO(whole.decode("utf-8-sig")))}
    assert people[0][0] in ids
