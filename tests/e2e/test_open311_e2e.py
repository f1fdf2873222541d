"""The Open311 API on the real server (``streamlit run app.py``, one for the module): a system POSTs a request
with its key → the case is in the operator's queue → staff take it through the loop to 结案 with the domain
functions → ``GET requests/{id}`` says closed, with the department and the closing note (for the key; the
public sees the status without the staff's notes) → the system's callback server (a thread on a loopback
port, the client's callback URL) received every status change, signed with the client's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from sqlmodel import Session, select

from dashboard import db
from dashboard.admin.auth import actor_of
from dashboard.api import callbacks, client_admin
from dashboard.api.client_admin import ClientInput
from dashboard.cases import commands, queue
from models import Case, Department, Grid, User
from tests.e2e import browser as b
from tests.unit.api.open311_helpers import Receiver


@dataclass(frozen=True)
class Server:
    base: str
    url: str  # the database
    writer: str  # a key that may write (the district 12345 platform)
    reader: str  # a key that reads, with personal data
    receiver: Receiver  # the writer's callback server
    secret: str  # the writer's callback signing secret


@pytest.fixture(scope="module")
def server(seed_templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("open311") / "open311.db"
    shutil.copyfile(seed_templates.get("sqlite").removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    receiver = Receiver()

    def clients(s: Session) -> tuple[client_admin.IssuedKey, client_admin.IssuedKey]:
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        data = ClientInput("区12345平台", can_write=True, callback_url=receiver.url)
        writer = client_admin.create_client(s, admin, data)
        reader = client_admin.create_client(s, admin, ClientInput("区城运中心", sees_personal_data=True))
        return writer, reader

    writer, reader = db.run_unit(clients, db.get_engine(url))
    db.dispose_engines()
    try:
        with b.running_app(url) as base:
            yield Server(base, url, writer.key, reader.key, receiver, writer.callback_secret)
    finally:
        receiver.close()


def _http(
    base: str, method: str, path: str, form: dict[str, str] | None = None, **query: str
) -> tuple[int, str, bytes]:
    target = f"{base}{path}" + (f"?{urlencode(query)}" if query else "")
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(target, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def _json(answer: tuple[int, str, bytes]) -> Any:
    status, kind, body = answer
    assert kind == "application/json; charset=utf-8", (status, kind)
    return json.loads(body)


def test_a_posted_request_goes_round_the_loop_and_reads_back_closed(server: Server) -> None:
    engine = db.get_engine(server.url)
    with Session(engine) as s:
        lon, lat = s.exec(select(Grid.centroid_lon, Grid.centroid_lat).order_by(Grid.id)).first()  # type: ignore[misc]
        handler = s.exec(select(User).where(User.username == "department")).one()
        operator = actor_of(s.exec(select(User).where(User.username == "operator")).one())
        department = s.get(Department, handler.department_id)
    form = {
        "api_key": server.writer,
        "service_code": "INF",
        "lat": str(lat),
        "long": str(lon),
        "description": "小区门口井盖缺失\n夜间有行人踩空的危险",
        "phone": "13912345678",
        "first_name": "芳",
        "last_name": "李",
    }
    status, _, body = _http(server.base, "POST", "/open311/v2/requests.json", form)
    assert status == 200, body
    (created,) = json.loads(body)
    number = created["service_request_id"]

    with Session(engine) as s:  # in the operator's queue (待办)
        rows = queue.queue_page(s, operator, queue.QueueFilters(text=number)).rows
        case = s.exec(select(Case).where(Case.number == number)).one()
    assert list(rows["number"]) == [number]

    def loop(s: Session) -> None:
        ref = commands.accept(s, operator, case.id, case.version)  # type: ignore[arg-type]
        ref = commands.dispatch(s, operator, ref.id, ref.version, department_id=department.id)  # type: ignore[union-attr]
        ref = commands.start(s, actor_of(handler), ref.id, ref.version)
        ref = commands.resolve(s, actor_of(handler), ref.id, ref.version, "已补装井盖并设置警示")
        ref = commands.verify(s, operator, ref.id, ref.version)
        ref = commands.follow_up(s, operator, ref.id, ref.version, "satisfied")
        commands.close(s, operator, ref.id, ref.version, note="居民回访满意，予以结案")

    db.run_unit(loop, engine)

    keyed = _json(_http(server.base, "GET", f"/open311/v2/requests/{number}.json", api_key=server.reader))
    (request,) = keyed
    assert request["status"] == "closed"
    assert request["agency_responsible"] == department.name  # type: ignore[union-attr]
    assert request["status_notes"] == "已结案；居民回访满意，予以结案"
    (public,) = _json(_http(server.base, "GET", f"/open311/v2/requests/{number}.json"))
    assert (public["status"], public["status_notes"]) == ("closed", "已结案")
    assert public["agency_responsible"] == department.name  # type: ignore[union-attr]
    status, kind, body = _http(server.base, "GET", "/open311/v2/requests.xml", service_request_id=number)
    assert (status, kind) == (200, "text/xml; charset=utf-8")
    assert ElementTree.fromstring(body).findtext("request/status") == "closed"
    assert b"13912345678" not in body and "李芳".encode() not in body

    # the client's server got each status change, signed, once, with the token the POST answered
    steps = ["已受理", "已派遣", "处置中", "已处置", "已核查", "已结案"]
    assert server.receiver.wait_for(len(steps)), server.receiver.posts
    posts = sorted(server.receiver.posts, key=lambda p: int(p[0][callbacks.DELIVERY_HEADER]))
    for headers, body in posts:
        signed = hmac.new(server.secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[callbacks.SIGNATURE_HEADER], f"sha256={signed}")
    sent = [json.loads(body) for _, body in posts]
    assert [c["status_notes"].split("；")[0] for c in sent] == steps
    assert {c["service_request_id"] for c in sent} == {number}
    assert {c["token"] for c in sent} == {created["token"]}
    assert [c["status"] for c in sent] == ["open"] * 5 + ["closed"]
    assert sent[-1]["status_notes"] == request["status_notes"]
    assert sent[-1]["agency_responsible"] == department.name  # type: ignore[union-attr]
    assert (sent[0]["agency_responsible"], sent[1]["agency_responsible"]) == ("", department.name)  # type: ignore[union-attr]


def test_the_server_answers_the_api_beside_the_pages(server: Server) -> None:
    status, kind, body = _http(server.base, "GET", "/open311/v2/services.xml")
    assert (status, kind) == (200, "text/xml; charset=utf-8")
    assert "环境卫生" in body.decode("utf-8")
    doc = _json(_http(server.base, "GET", "/open311/v2/discovery.json"))
    assert doc["endpoints"][0]["url"] == f"{server.base}/open311/v2"
    assert _json(_http(server.base, "GET", "/open311/v2/openapi.json"))["openapi"] == "3.1.0"
    status, _, body = _http(server.base, "POST", "/open311/v2/requests.json", {"service_code": "ENV"})
    assert status == 403 and json.loads(body)[0]["code"] == 403
    status, _, _ = _http(server.base, "GET", "/open311/v2/nothing.json")
    assert status == 404
