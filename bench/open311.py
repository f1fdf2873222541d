"""Benchmark: the Open311 API (issue 24) — ``GET requests`` latency at a million cases, ``POST requests``
throughput with concurrent clients.

The API's routes (:func:`dashboard.api.open311.routes.routes`, the same handlers ``st.App`` serves) run in
a uvicorn server of their own process; the bench calls them over HTTP from this one.

- ``GET``: each filter of the specification (the default window, status, service code, a month by
  start/end date, paging, a list of ids, one request) is called `--repeat` times after two warm-up calls
  without a key (the public view); p50/p95 in ms and the number of requests answered. The scoped reads of
  keyed clients (one community's scope and two communities', with personal data) are timed on the query
  function the endpoint calls (``requests.find_requests``) and its JSON, since the million-case database
  is shared and is not given clients.
- ``POST``: `--clients` threads post `--posts` requests in all with one write key, on a new database
  of the seed's territory and 3,000 cases (the shared benchmark databases are not written to); requests
  per second, p50/p95 and the answers by status.

Besides the wall-clock time seen by the client, every row gives the server's own share: the bench's server
adds a ``Server-Timing`` header to each answer with the time from the call's arrival to its answer and the
CPU time its process used meanwhile (``server_p50_ms``/``server_p95_ms``, ``cpu_p50_ms``: the GET calls come
one at a time), and for the POSTs the server process's CPU time in all divided by the requests answered
(``cpu_ms_per_post``). On a busy machine the wall-clock figures grow with the load; the CPU figures do not.

The anonymous rate limit (per address, 60/minute) is lifted in the server process for the run, and the
bench key gets the highest limit. PostgreSQL is skipped when its benchmark cluster is already running
for another bench (its data directory holds ``postmaster.pid``): stopping it would stop that bench.

    python -m bench.open311                                   # SQLite and PostgreSQL, 1M cases
    python -m bench.open311 --backends sqlite --repeat 20 --posts 100
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common

PREFIX = "/open311/v2"
HIGHEST_RATE = "1000000/minute"


# ---------------------------------------------------------------- the server process


class _Timing:
    """ASGI middleware of the bench's server: each answer carries ``Server-Timing: app;dur=<ms from the
    call's arrival to its answer>, cpu;dur=<CPU ms of the process meanwhile>``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wall, cpu = time.perf_counter(), time.process_time()

        async def timed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - wall) * 1000
                used = (time.process_time() - cpu) * 1000
                header = (b"server-timing", f"app;dur={took:.1f}, cpu;dur={used:.1f}".encode())
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, timed)


def _serve(url: str, port: int) -> None:
    import os

    os.environ["DATABASE_URL"] = url
    import uvicorn
    from starlette.applications import Starlette

    from dashboard.api import clients
    from dashboard.api.open311.routes import routes

    clients.ANONYMOUS_LIMIT = HIGHEST_RATE  # the bench calls from one address
    app = _Timing(Starlette(routes=routes()))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The API's routes served for `url` by a uvicorn process of their own."""

    def __init__(self, url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}{PREFIX}"
        self.process = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, self.port))

    def __enter__(self) -> Server:
        self.process.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the API server did not start")

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.join(10)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    seconds: float  # wall-clock, at the client
    server: float  # seconds, from the server's Server-Timing header (0 without one)
    cpu: float  # CPU seconds of the server process meanwhile


def _timing(header: str | None) -> tuple[float, float]:
    found = dict(re.findall(r"(\w+);dur=([\d.]+)", header or ""))
    return float(found.get("app", 0)) / 1000, float(found.get("cpu", 0)) / 1000


def _call(url: str, data: dict[str, str] | None = None) -> Answer:
    """One GET (or POST of a form)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as response:
            status, content, header = response.status, response.read(), response.headers["server-timing"]
    except urllib.error.HTTPError as exc:
        status, content, header = exc.code, exc.read(), exc.headers["server-timing"]
    return Answer(status, content, time.perf_counter() - started, *_timing(header))


def _percentiles(seconds: list[float], name: str = "") -> dict[str, float]:
    q = statistics.quantiles(seconds, n=100) if len(seconds) > 1 else seconds * 99
    return {f"{name}p50_ms": round(q[49] * 1000, 1), f"{name}p95_ms": round(q[94] * 1000, 1)}


# ---------------------------------------------------------------- GET requests


def _samples(url: str) -> dict[str, Any]:
    """What the filters name: the commonest service code, recent case numbers, the seed's last day."""
    from sqlalchemy import func, select

    from dashboard.db import get_engine
    from models import Case, Category, Community

    with get_engine(url).connect() as conn:
        code = conn.execute(
            select(Category.code)
            .join(Case, Case.category_id == Category.id)
            .group_by(Category.code)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        latest = conn.execute(select(func.max(Case.reported_at))).scalar_one()
        numbers = list(
            conn.execute(select(Case.number).order_by(Case.reported_at.desc()).limit(20)).scalars()
        )
        communities = list(conn.execute(select(Community.id).order_by(Community.id).limit(2)).scalars())
    common.dispose_engines()
    return {"code": code, "latest": latest, "numbers": numbers, "communities": communities}


def _get_filters(s: dict[str, Any]) -> dict[str, str]:
    month_end: datetime = s["latest"] - timedelta(days=120)
    start = (month_end - timedelta(days=30)).isoformat(timespec="seconds") + "+08:00"
    end = month_end.isoformat(timespec="seconds") + "+08:00"
    return {
        "default (last 90 days, 1,000)": "/requests.json",
        "status=open": "/requests.json?status=open",
        "service_code + status=closed": f"/requests.json?service_code={s['code']}&status=closed",
        "start_date/end_date (30 days)": "/requests.json?"
        + urllib.parse.urlencode({"start_date": start, "end_date": end}),
        "page=5, page_size=100": "/requests.json?page=5&page_size=100",
        "service_request_id × 20": "/requests.json?service_request_id=" + ",".join(s["numbers"]),
        "requests/{id}": f"/requests/{s['numbers'][0]}.json",
        "xml, status=open": "/requests.xml?status=open",
    }


def bench_get(db: common.BenchDb, repeat: int) -> list[dict[str, Any]]:
    samples = _samples(db.url)
    rows = []
    with Server(db.url) as server:
        for name, path in _get_filters(samples).items():
            answers = [_call(server.base + path) for _ in range(repeat + 2)][2:]
            last = answers[-1]
            answered = (
                len(json.loads(last.body))
                if path.split("?")[0].endswith(".json") and last.status == 200
                else None
            )
            rows.append(
                {"backend": db.backend, "call": f"GET {name}", "status": last.status, "requests": answered}
                | _percentiles([a.seconds for a in answers])
                | _percentiles([a.server for a in answers], "server_")
                | {"cpu_p50_ms": round(statistics.median(a.cpu for a in answers) * 1000, 1)}
            )
    rows += _scoped_reads(db, samples, repeat)
    return rows


def _scoped_reads(db: common.BenchDb, samples: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    """A keyed client's reads, on the query function the endpoint calls and the JSON it writes (see the
    module doc): a client of one community and one of two, both seeing personal data."""
    from dashboard.api.clients import ApiClientView
    from dashboard.api.open311 import formats, requests
    from dashboard.db import get_engine, session_scope

    engine = get_engine(db.url)
    one, two = samples["communities"][:1], samples["communities"][:2]
    keys = {
        "community key": ApiClientView(1, "bench", True, False, frozenset(one), True, user_id=0),
        "two-community key": ApiClientView(2, "bench2", True, False, frozenset(two), True, user_id=0),
    }
    filters = {"default": {}, "status=open": {"status": "open"}}
    rows = []
    for key, view in keys.items():
        reader = requests.reader_for(view)
        for name, params in filters.items():
            query = requests.parse_query(params, "zh")
            times, cpu, found = [], [], 0
            for i in range(repeat + 2):
                started, used = time.perf_counter(), time.thread_time()
                with session_scope(engine) as session:
                    items = requests.find_requests(session, reader, query, "zh")
                formats.to_json(items)
                found = len(items)
                if i >= 2:
                    times.append(time.perf_counter() - started)
                    cpu.append(time.thread_time() - used)
            rows.append(
                {"backend": db.backend, "call": f"find_requests ({key}, {name})", "status": 200}
                | {"requests": found}
                | _percentiles(times)
                | _percentiles(times, "server_")
                | {"cpu_p50_ms": round(statistics.median(cpu) * 1000, 1)}
            )
    common.dispose_engines()
    return rows


# ---------------------------------------------------------------- POST requests


POST_SEED = {"cases": 3000, "volunteers": 300, "service_records": 3000, "visits": 2000}
"""The database the POSTs write to: the seed's territory (every grid, category and department) and a
few thousand cases, freshly migrated (the cached benchmark files are not written to)."""


def _post_db(backend: str, cluster: common.PgCluster | None, work: Path) -> str:
    """A new database of :data:`POST_SEED` on `backend`."""
    from seed.generate import seed_database

    if backend == "sqlite":
        url = f"sqlite:///{work / 'open311-post.db'}"
    else:
        assert cluster is not None
        common.dispose_engines()
        cluster.server.execute_autocommit('DROP DATABASE IF EXISTS "open311_post"')
        cluster.server.execute_autocommit('CREATE DATABASE "open311_post"')
        url = cluster.server.url("open311_post")
    seed_database(url, **POST_SEED)  # type: ignore[arg-type]
    common.dispose_engines()
    return url


def _write_key(url: str) -> tuple[str, list[tuple[float, float]], str]:
    """A write key for the whole sub-district, points inside grids, and a service code."""
    from sqlmodel import select

    from dashboard.admin.auth import actor_of
    from dashboard.api.client_admin import ClientInput, create_client
    from dashboard.db import get_engine, run_unit
    from models import Category, Grid, User
    from models.enums import Role

    engine = get_engine(url)

    def make(s: Any) -> tuple[str, list[tuple[float, float]], str]:
        admin = actor_of(s.exec(select(User).where(User.role == Role.admin).order_by(User.id)).first())
        issued = create_client(
            s, admin, ClientInput(f"bench-{time.time_ns()}", can_write=True, rate_limit=HIGHEST_RATE)
        )
        points = [(g.centroid_lon, g.centroid_lat) for g in s.exec(select(Grid).limit(50))]
        code = s.exec(select(Category.code).where(Category.active).order_by(Category.id)).first()
        return issued.key, points, code

    made = run_unit(make, engine)
    common.dispose_engines()
    return made


def bench_post(backend: str, cluster: common.PgCluster | None, clients: int, posts: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        url = _post_db(backend, cluster, Path(work))
        key, points, code = _write_key(url)
        with Server(url) as server:
            _call(f"{server.base}/services.json")  # warm up
            times: list[float] = []
            server_times: list[float] = []
            answers: dict[int, int] = {}
            lock = threading.Lock()

            def client(worker: int) -> None:
                for n in range(worker, posts, clients):
                    lon, lat = points[n % len(points)]
                    form = {
                        "api_key": key,
                        "service_code": code,
                        "lat": f"{lat:.6f}",
                        "long": f"{lon:.6f}",
                        "description": f"压测上报 {n}：楼道堆放杂物",
                    }
                    answer = _call(f"{server.base}/requests.json", form)
                    with lock:
                        times.append(answer.seconds)
                        server_times.append(answer.server)
                        answers[answer.status] = answers.get(answer.status, 0) + 1

            started, cpu = time.perf_counter(), server.cpu_seconds()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall, cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
        common.dispose_engines()
        if backend == "postgresql" and cluster is not None:
            cluster.server.execute_autocommit('DROP DATABASE IF EXISTS "open311_post"')
    ok = sum(n for status, n in answers.items() if status in (200, 201))
    return (
        {
            "backend": backend,
            "call": f"POST requests × {posts}, {clients} clients",
            "per_second": round(ok / wall, 1),
            "answers": answers,
            "seconds": round(wall, 1),
            "cpu_ms_per_post": round(cpu / max(ok, 1) * 1000, 1),
        }
        | _percentiles(times)
        | _percentiles(server_times, "server_")
    )


# ---------------------------------------------------------------- main


def _pg_busy() -> bool:
    return (common.BENCH_DIR / "pg" / "data" / "postmaster.pid").exists()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--cases", default="1M", help="size of the GET database (default 1M)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--only", choices=["get", "post"], help="run one half only")
    args = parser.parse_args(argv)
    cases = common.parse_sizes([args.cases])[0]
    rows: list[dict[str, Any]] = []
    backends = list(args.backends)
    if "postgresql" in backends and _pg_busy():
        print("PostgreSQL skipped: its benchmark cluster is in use by another bench", flush=True)
        backends.remove("postgresql")
    with ExitStack() as stack:
        cluster = stack.enter_context(common.pg_cluster()) if "postgresql" in backends else None
        for backend in backends:
            big = None
            if args.only != "post":
                big = common.sqlite_db(cases) if backend == "sqlite" else cluster.db(cases)  # type: ignore[union-attr]
            for row in bench_get(big, args.repeat) if big is not None else []:
                rows.append(row | {"load": common.load()})
                print(
                    f"{backend:<10} {row['call']:<52} p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms  "
                    f"server p50 {row['server_p50_ms']:>6} p95 {row['server_p95_ms']:>6} cpu {row['cpu_p50_ms']:>6}  "
                    f"status {row['status']}  requests {row['requests']}  load {common.load()}",
                    flush=True,
                )
            if args.only == "get":
                continue
            row = bench_post(backend, cluster, args.clients, args.posts)
            rows.append(row | {"load": common.load()})
            print(
                f"{backend:<10} {row['call']:<52} {row['per_second']} req/s  p50 {row['p50_ms']} ms  "
                f"p95 {row['p95_ms']} ms  server p50 {row['server_p50_ms']} p95 {row['server_p95_ms']}  "
                f"cpu/post {row['cpu_ms_per_post']} ms  answers {row['answers']}  load {common.load()}",
                flush=True,
            )
    name = f"open311-{'-'.join(backends)}" + (f"-{args.only}" if args.only else "")
    common.save_json(name, {"machine": common.machine(), "cases_get": args.cases, "runs": rows})


if __name__ == "__main__":
    main()
