"""nginx in front of replicas, configured by the README's own file (deploy/nginx.conf): started by the replica
test and by the capacity benchmark (bench/capacity.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import pg
from tests.e2e import browser as b

CONF = b.ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is required under CI (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    return found


def site_conf(upstreams: list[int], listen: int) -> str:
    """deploy/nginx.conf with the replicas' ports in its upstream and nginx's own port in its listen line:
    nothing else is changed."""
    source = CONF.read_text()
    block = re.search(r"upstream grid_dashboard \{.*?\}", source, re.S)
    assert block is not None
    options = re.search(r"^\s*server \S+ (.*);$", block.group(0), re.M)
    assert options is not None
    servers = "".join(f"    server 127.0.0.1:{p} {options.group(1)};\n" for p in upstreams)
    upstream = re.sub(r"(?:^\s*server \S+ .*;\n)+", servers, block.group(0), flags=re.M)
    source = source.replace(block.group(0), upstream)
    source, n = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{listen};", source, flags=re.M)
    assert n == 1
    return source


@dataclass
class Proxy:
    base: str
    access_log: Path

    def upstream_of(self, path: str) -> int:
        """The replica port nginx sent the last request for `path` to."""
        for line in reversed(self.access_log.read_text().splitlines()):
            uri, upstream = line.split(" ", 1)
            if uri.split("?")[0] == path:
                return int(upstream.split(",")[-1].strip().rsplit(":", 1)[1])
        raise AssertionError(f"nginx logged no request for {path}")


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


@contextmanager
def start_nginx(binary: str, root: Path, upstreams: list[int]) -> Iterator[Proxy]:
    port = pg.free_port()
    root.mkdir()
    (root / "grid.conf").write_text(site_conf(upstreams, port))
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {root / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {root / 'nginx.pid'};\nevents {{ worker_connections 2048; }}\n"
        f"http {{\n    log_format upstream '$request_uri $upstream_addr';\n"
        f"    access_log {root / 'access.log'} upstream;\n{temp}    include {root / 'grid.conf'};\n}}\n"
    )
    log = (root / "nginx.out").open("w")
    proc = subprocess.Popen(
        [
            binary,
            "-p",
            str(root),
            "-e",
            str(root / "error.log"),
            "-c",
            str(root / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 20
        while not healthy(base):
            assert proc.poll() is None and time.time() < deadline, (root / "error.log").read_text()
            time.sleep(0.2)
        yield Proxy(base, root / "access.log")
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def healthy(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False
