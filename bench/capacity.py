"""Capacity: a staircase of concurrent users on one configuration, at a million cases.

One configuration per run: one ``streamlit run`` process on SQLite, or 1–3 replicas on PostgreSQL behind
nginx (``deploy/nginx.conf``, as the README deploys it, started by :mod:`tests.e2e.proxy`). The users are
the load generator's (:mod:`bench.load`: Streamlit's own protocol, the sub-district mix, think times of
15–60 s, one wall). Each step adds users (logged in over a ramp), lets them settle, then measures a window:
p50/p95/p99 of the interactions that ended in it (logins apart), errors, and CPU and RSS of every server
process, of PostgreSQL (all its processes) and of the generator itself. The staircase stops past the knee
(p95 above ``--stop-p95`` or more than 10 % errors). Every tab has a loopback address of its own
(127.a.b.1), so nginx's ``ip_hash`` spreads the tabs over the replicas as it spreads phones.

    python -m bench.capacity --backend sqlite --steps 10 20 40 60 80 120
    python -m bench.capacity --backend postgresql --replicas 2 --steps 10 40 80 120 160 200 300
    python -m bench.capacity --backend postgresql --replicas 2 --steps 120 --hold 30   # 120 users for 30 min
    python -m bench.capacity --report      # bench/LOAD.md and bench/load_curves.html/.png from the results

Results: ``bench/results/capacity-<backend>-<replicas>.json``; with ``--hold M`` the last step is kept for M
minutes, measured window after window (memory over time under load), in ``capacity-hold-…json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import common
from bench.load import MIXES, build_users, prepare_accounts, run_user, run_wall, split, summary
from bench.load_profiles import Recorder, Sample, Think
from bench.load_protocol import Tab

TARGET_P95 = 2.0
"""The interaction p95 (seconds) a configuration must hold, with no errors."""
FAR = 10**10
"""A deadline no run reaches: users stop when the staircase cancels them."""
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return out


def _machine() -> tuple[float, float]:
    """CPU seconds all cores spent busy since boot, and memory in use (MB): PostgreSQL's parallel workers
    come and go between two samples, so only the machine's figure holds all of its work."""
    cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(cpu) - cpu[3] - cpu[4]  # all but idle and iowait
    mem = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()[:3]
    }
    return busy / _TICK, (mem["MemTotal"] - mem["MemAvailable"]) / 1024


@dataclass
class Monitor:
    """Samples CPU seconds and RSS of named process groups every `every` seconds in a thread."""

    groups: dict[str, list[int]]
    every: float = 2.0
    samples: list[tuple[float, dict[str, tuple[float, float]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _group_pids(self, name: str) -> list[int]:
        pids = self.groups[name]
        return pids + _children(pids[0]) if name == "postgresql" else pids

    def _sample(self) -> dict[str, tuple[float, float]]:
        out = {"machine": _machine()}
        for name in self.groups:
            cpu = rss = 0.0
            for pid in self._group_pids(name):
                try:
                    cpu, rss = cpu + _cpu_seconds(pid), rss + _rss_mb(pid)
                except (OSError, ValueError):  # a PostgreSQL backend that just ended
                    continue
            out[name] = (cpu, rss)
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._sample()))
            self._stop.wait(self.every)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per group: mean CPU % (100 = one core) and peak RSS over [start, end]."""
        inside = [(t, s) for t, s in self.samples if start <= t <= end]
        if len(inside) < 2:
            return {}
        (t0, first), (t1, last) = inside[0], inside[-1]
        return {
            name: {
                "cpu_pct": round((last[name][0] - first[name][0]) / (t1 - t0) * 100, 1),
                "rss_mb": round(max(s[name][1] for _, s in inside), 1),
            }
            for name in ("machine", *self.groups)
        }


def _address(i: int) -> str:
    """The i-th user's own loopback address; nginx's ip_hash hashes the first three octets."""
    return f"127.{1 + i // 250}.{i % 250}.1"


def _row(users: int, samples: list[Sample], resources: dict[str, dict[str, float]]) -> dict[str, object]:
    work = [s for s in samples if s.kind not in ("login", "reconnect")]
    overall = summary(work)[-1]
    logins = summary([s for s in samples if s.kind == "login"])[-1]
    return {
        "users": users,
        "interactions": overall["n"],
        "errors": overall["errors"],
        "p50": overall["p50"],
        "p95": overall["p95"],
        "p99": overall["p99"],
        "logins": logins["n"],
        "login_p95": logins["p95"],
        "by_kind": summary(work)[:-1],
        "error_texts": Counter(f"{s.kind}: {s.error[:160]}" for s in samples if not s.ok).most_common(8),
        "resources": resources,
        "load": os.getloadavg()[0],
    }


async def staircase(
    args: argparse.Namespace, base: str, token: str, monitor: Monitor
) -> list[dict[str, object]]:
    recorder = Recorder()
    spec = argparse.Namespace(
        url=base, users=max(args.steps), mix=args.mix, seed=1, timeout=60.0, password=args.password
    )
    users = build_users(spec, recorder, args.accounts, source_address=_address)
    think = Think(*args.think)
    tasks: list[asyncio.Task[object]] = []
    wall = Tab(base, source_address=_address(len(users)))
    tasks.append(asyncio.create_task(run_wall(wall, recorder, token, FAR)))
    rows: list[dict[str, object]] = []
    running = 0
    began = time.time()
    held = [args.steps[-1]] * int(args.hold * 60 // args.measure)
    for n in [*args.steps, *held]:
        fresh = users[running:n]
        ramp = min(args.max_ramp, 0.4 * len(fresh))
        for i, u in enumerate(fresh):
            tasks.append(asyncio.create_task(run_user(u, think, ramp * i / max(1, len(fresh)), FAR)))
        running = n
        start = time.time() + ramp + args.settle
        await asyncio.sleep(start + args.measure - time.time())
        end = time.time()
        window = [s for s in recorder.samples if start <= s.at < end]
        row = _row(n + 1, window, monitor.window(start, end))
        row["minute"] = round((end - began) / 60, 1)
        rows.append(row)
        print(
            f"{row['users']:>4} users  n={row['interactions']:<5} errors={row['errors']:<3} "
            f"p50={row['p50']} p95={row['p95']} p99={row['p99']}  {row['resources']}  load {row['load']:.1f}",
            flush=True,
        )
        failed = row["errors"] > 0.1 * max(1, int(row["interactions"]))  # type: ignore[operator]
        if failed or (row["p95"] or 0) > args.stop_p95:  # type: ignore[operator]
            print("past the knee: stopping", flush=True)
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for tab in [*(u.tab for u in users), wall]:
        await tab.close()
    return rows


@contextmanager
def configuration(backend: str, replicas: int) -> Iterator[tuple[str, str, dict[str, list[int]]]]:
    """The servers of one configuration at 1 M cases: yields (base URL, database URL, process groups)."""
    from tests.e2e import browser as b
    from tests.e2e.proxy import nginx_binary, port_of, start_nginx

    env = {"DASHBOARD_TRUSTED_PROXY": "1"}
    with ExitStack() as stack:
        if backend == "sqlite":
            url = common.sqlite_db(1_000_000).url
            groups: dict[str, list[int]] = {}
        else:
            cluster = stack.enter_context(common.pg_cluster())
            url = cluster.db(1_000_000).url
            pid_file = cluster.root / "data" / "postmaster.pid"
            groups = {"postgresql": [int(pid_file.read_text().split()[0])]}
        started = [stack.enter_context(b.app_process(url, env, start_timeout=180)) for _ in range(replicas)]
        for i, (_, pid) in enumerate(started):
            groups[f"app{i + 1}"] = [pid]
        base = started[0][0]
        if backend != "sqlite":
            root = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "nginx"
            base = stack.enter_context(
                start_nginx(nginx_binary(), root, [port_of(x) for x, _ in started])
            ).base
        groups["generator"] = [os.getpid()]
        yield base, url, groups


def measure(args: argparse.Namespace) -> Path:
    with configuration(args.backend, args.replicas) as (base, url, groups):
        args.accounts, token = prepare_accounts(url, args.password, split(max(args.steps), MIXES[args.mix]))
        monitor = Monitor(groups)
        monitor.start()
        try:
            rows = asyncio.run(staircase(args, base, token, monitor))
        finally:
            monitor.stop()
    name = f"capacity-{'hold-' if args.hold else ''}{args.backend}-{args.replicas}"
    return common.save_json(
        name,
        {
            "backend": args.backend,
            "replicas": args.replicas,
            "cases": 1_000_000,
            "mix": args.mix,
            "think_s": list(args.think),
            "settle_s": args.settle,
            "measure_s": args.measure,
            "machine": common.machine(),
            "measured": time.strftime("%Y-%m-%d %H:%M"),
            "steps": rows,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 40, 80, 120, 160, 200, 300])
    parser.add_argument("--mix", choices=sorted(MIXES), default="subdistrict")
    parser.add_argument("--think", type=float, nargs=2, default=(15.0, 60.0))
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds after a step's ramp before measuring"
    )
    parser.add_argument("--measure", type=float, default=90.0, help="seconds measured per step")
    parser.add_argument("--max-ramp", type=float, default=40.0)
    parser.add_argument("--stop-p95", type=float, default=8.0)
    parser.add_argument(
        "--hold", type=float, default=0.0, help="minutes to keep the last step running, window after window"
    )
    parser.add_argument("--password", default="Load-test-2026")
    parser.add_argument("--report", action="store_true", help="write bench/LOAD.md from the results")
    args = parser.parse_args()
    if args.report:
        from bench import load_report

        print(load_report.write())
        return
    if args.backend == "sqlite" and args.replicas != 1:
        parser.error("SQLite is one process")
    print(measure(args))


if __name__ == "__main__":
    main()
