"""Load generator: many simulated users on a running app, each over Streamlit's own WebSocket protocol.

Each user is a tab (:class:`bench.load_protocol.Tab`): it opens ``/_stcore/stream``, logs in through the
login form, then works as its role does (:mod:`bench.load_profiles`) with a think time between two
interactions; every interaction is timed from the rerun request to the end of its run. The wall is one
screen that refreshes itself. At the end: p50/p95/p99 per kind of interaction, the errors, and (with
``--out``) every sample as JSON.

    python -m bench.load --url http://127.0.0.1:8501 --users 20 --minutes 5 --mix subdistrict \\
        --database-url sqlite:///data/bench/sqlite-1000000.db
    python -m bench.load --url http://127.0.0.1:8501 --validate      # against Chromium, a small table

Accounts: without ``--database-url`` every user of a role shares the role's demo account (password
demo1234). With it, the generated staff accounts (gw-…, dept-…, cc-…) get the password ``--password``
through :func:`dashboard.admin.users.reset_password` (as an administrator would), so that up to 97 grid
workers log in as themselves, and the wall gets a display link. Each user sends its own
``X-Forwarded-For`` (10.x.y.z): with ``DASHBOARD_TRUSTED_PROXY=1`` login throttling counts them apart, as
phones on their own addresses; otherwise all logins come from one address, so keep ``--ramp`` long
enough (at most ~20 logins in flight, ``dashboard.admin.throttle.SOURCE_LIMIT``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bench.load_profiles import PROFILES, Recorder, Sample, Think, User
from bench.load_protocol import FINISHED_EARLY, LoadError, Tab

MIXES: dict[str, dict[str, int]] = {
    "subdistrict": {"grid_worker": 97, "operator": 14, "department": 18, "leader": 4},
    "desk": {"operator": 3, "department": 1, "leader": 1},
    "field": {"grid_worker": 1},
}
"""Shares of the roles (the wall is one more user): a sub-district's ~97 grid workers on phones, 15–20 desk
users, the department handlers."""
DEMO = {"grid_worker": ["grid"], "operator": ["operator"], "department": ["department"], "leader": ["leader"]}
"""Demo accounts (password demo1234), shared by every user of a role when no accounts were prepared."""
DEMO_PASSWORD = "demo1234"


def split(users: int, mix: dict[str, int]) -> dict[str, int]:
    """How many of `users` take each role: the wall one (from two users on), the rest by `mix` (largest
    remainders)."""
    wall = 1 if users >= 2 else 0
    rest, total = users - wall, sum(mix.values())
    exact = {role: rest * share / total for role, share in mix.items()}
    counts = {role: int(x) for role, x in exact.items()}
    for role in sorted(exact, key=lambda r: exact[r] - counts[r], reverse=True)[
        : rest - sum(counts.values())
    ]:
        counts[role] += 1
    return {**counts, "wall": wall}


def prepare_accounts(
    database_url: str, password: str, counts: dict[str, int]
) -> tuple[dict[str, list[str]], str]:
    """Give the first ``counts[role]`` staff accounts of each role `password` (an account whose password
    already is `password` is left alone) and create a wall display link; returns (usernames by role,
    token)."""
    from sqlmodel import select

    from dashboard.admin import auth, users
    from dashboard.db import dispose_engines, get_engine, session_scope
    from dashboard.reporting import display_links
    from models import User as UserRow

    roles = {
        "grid_worker": ["grid_worker"],
        "operator": ["operator", "community"],
        "department": ["department"],
    }
    roles["leader"] = ["leader", "admin"]
    found: dict[str, list[str]] = {}
    with session_scope(get_engine(database_url), write=True) as s:
        admin = auth.actor_of(s.exec(select(UserRow).where(UserRow.username == "admin")).one())
        for profile, names in roles.items():
            active = select(UserRow).where(UserRow.role.in_(names), UserRow.active.is_(True))  # type: ignore[attr-defined]
            rows = s.exec(active.order_by(UserRow.username).limit(counts.get(profile, 0))).all()
            found[profile] = [u.username for u in rows]
            for u in rows:
                if not auth.verify_password(u.password_hash or "", password):
                    users.reset_password(s, admin, u.id, password)  # type: ignore[arg-type]
        token = display_links.create_link(s, admin, f"load test {time.strftime('%Y-%m-%d %H:%M')}")
    dispose_engines()
    return found, token


def build_users(
    args: argparse.Namespace,
    recorder: Recorder,
    accounts: dict[str, list[str]],
    source_address: Callable[[int], str] | None = None,
) -> list[User]:
    """``args.users`` users of ``args.mix`` in a fixed random order (``args.seed``), so that the first n of
    them are the same kinds of users whatever the total; the k-th user's tab connects from
    ``source_address(k)`` when given."""
    rng = random.Random(args.seed)
    counts = split(args.users, MIXES[args.mix])
    out: list[User] = []
    for role, n in counts.items():
        if role == "wall":
            continue
        names = accounts.get(role) or DEMO[role]
        for i in range(n):
            k = len(out)
            tab = Tab(
                args.url,
                forwarded_for=f"10.{k // 65536}.{k // 256 % 256}.{k % 256}",
                source_address=source_address(k) if source_address else None,
            )
            tab.timeout = args.timeout
            out.append(
                User(
                    role,
                    names[i % len(names)],
                    args.password,
                    tab,
                    PROFILES[role],
                    recorder,
                    random.Random(rng.random()),
                )
            )
    rng.shuffle(out)
    return out


async def run_user(user: User, think: Think, start_delay: float, deadline: float) -> None:
    """Log in after `start_delay`, then think and act until `deadline`; reconnect after a lost connection."""
    await asyncio.sleep(start_delay)
    while time.time() < deadline:
        try:
            if user.start_page:
                await user.timed("reconnect", user.tab.load(user.start_page))
            else:
                await user.login()
            while time.time() < deadline:
                await asyncio.sleep(min(think.pick(user.rng), max(0.0, deadline - time.time())))
                if time.time() >= deadline:
                    break
                await user.step()
        except LoadError:
            await asyncio.sleep(2)  # a person reloads the page after a moment
        except Exception as err:  # a page the profile did not expect: count it, reload, go on
            user.recorder.add(user.role, "unexpected page", 0.0, False, repr(err)[:300])
            await asyncio.sleep(2)
    await user.tab.close()


async def run_wall(
    tab: Tab, recorder: Recorder, token: str | None, deadline: float, role: str = "wall"
) -> int:
    """One wall screen (display link, else the leader's wall page) refreshing itself until `deadline`, each
    part on its own timer as the browser does; returns the number of refreshes."""
    if token:
        await tab.load("", f"display={token}")
    else:
        user = User("wall", "leader", DEMO_PASSWORD, tab, [], recorder, random.Random(0))
        await user.login()
        await tab.navigate("wall")
    refreshes = 0

    async def part(fragment_id: str, interval: float) -> None:
        nonlocal refreshes
        while time.time() + interval < deadline:
            await asyncio.sleep(interval)
            started = time.perf_counter()
            try:
                seconds = await tab.rerun(fragment_id=fragment_id, auto=True)
            except LoadError as err:
                recorder.add(role, "wall refresh", time.perf_counter() - started, False, str(err))
                return
            if tab.last_finish is not None and tab.last_finish.status != FINISHED_EARLY:
                recorder.add(role, "wall refresh", seconds, True)
                refreshes += 1

    await asyncio.gather(*(part(f, i) for f, i in list(tab.auto_rerun.items())))
    await tab.close()
    return refreshes


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of `values` (sorted or not), q in 0..100."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(samples: list[Sample]) -> list[dict[str, object]]:
    """Per kind of interaction (and all together): count, errors, p50/p95/p99 seconds of the successful ones."""
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    rows = []
    for kind, group in sorted(by_kind.items()) + [("ALL", samples)]:
        ok = [s.seconds for s in group if s.ok]
        rows.append(
            {
                "kind": kind,
                "n": len(group),
                "errors": len(group) - len(ok),
                **{f"p{q}": round(percentile(ok, q), 3) if ok else None for q in (50, 95, 99)},
            }
        )
    return rows


def print_summary(samples: list[Sample]) -> None:
    print(f"{'interaction':<24}{'n':>6}{'errors':>8}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}")
    for row in summary(samples):
        cells = [f"{row[f'p{q}']:>9.3f}" if row[f"p{q}"] is not None else f"{'—':>9}" for q in (50, 95, 99)]
        print(f"{row['kind']:<24}{row['n']:>6}{row['errors']:>8}{''.join(cells)}")
    errors: dict[str, int] = defaultdict(int)
    for s in samples:
        if not s.ok:
            errors[f"{s.kind}: {s.error}"] += 1
    for text, n in sorted(errors.items(), key=lambda x: -x[1]):
        print(f"  error ×{n}: {text}")


async def run(args: argparse.Namespace) -> list[Sample]:
    recorder = Recorder()
    counts = split(args.users, MIXES[args.mix])
    accounts, token = (
        prepare_accounts(args.database_url, args.password, counts) if args.database_url else ({}, None)
    )
    users = build_users(args, recorder, accounts)
    deadline = time.time() + args.ramp + args.minutes * 60
    think = Think(args.think[0], args.think[1])
    tasks = [run_user(u, think, args.ramp * i / max(1, len(users)), deadline) for i, u in enumerate(users)]
    if counts["wall"]:
        wall = Tab(args.url, timeout=args.timeout)
        tasks.append(run_wall(wall, recorder, token or args.wall_token, deadline))
    print(f"{len(tasks)} users ({counts}) for {args.minutes} min after a {args.ramp:.0f} s ramp", flush=True)
    await asyncio.gather(*tasks)
    return recorder.samples


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="the app (or nginx) base URL, e.g. http://127.0.0.1:8501"
    )
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="subdistrict")
    parser.add_argument("--think", type=float, nargs=2, default=(15.0, 60.0), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--ramp", type=float, default=None, help="seconds over which users log in (default: users, ≤ 120)"
    )
    parser.add_argument(
        "--database-url", help="prepare staff accounts and a wall display link in this database"
    )
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument(
        "--wall-token", help="a display link token for the wall (else the leader opens the wall page)"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds before an interaction counts as failed"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write every sample as JSON here")
    parser.add_argument("--validate", action="store_true", help="compare a few interactions with Chromium")
    args = parser.parse_args()
    args.url = args.url.rstrip("/")
    if args.validate:
        from bench.load_validate import validate

        validate(args.url)
        return
    if args.ramp is None:
        args.ramp = float(min(args.users, 120))
    samples = asyncio.run(run(args))
    print_summary(samples)
    if args.out:
        args.out.write_text(json.dumps([asdict(s) for s in samples], ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
