"""The OpenAPI description of the Open311 API: a valid OpenAPI 3.1 document of exactly the routes served,
every status code it documents reached, and a property-based run of it with schemathesis (no server error,
only documented status codes, content types and bodies)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from dashboard.api import clients
from dashboard.api.open311 import openapi, routes, services
from dashboard.i18n import catalogue
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, centre
from tests.unit.api.open311_helpers import (
    Answer,
    app,
    call,
    new_client,
    problems,
    reset_rate_counts,
    use_database,
)

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)
API = app()
V2 = "/open311/v2"
ROOT = Path(__file__).parents[3]
EXAMPLES = 5
"""Examples per operation in the schemathesis run (7 operations; about 40 calls per database)."""

KIND = {
    "/discovery.{format}": "discovery",
    "/services.{format}": "services",
    "/services/{service_code}.{format}": "service_definition",
    "/requests.{format}": "requests",
    "/requests/{service_request_id}.{format}": "requests",
    "/tokens/{token}.{format}": "token_response",
}
"""The vendored GeoReport v2 schema of each path's 200 answer (a POST's answer: post_response)."""


def _documented() -> set[tuple[str, str, int]]:
    return {
        (path, method, int(code))
        for path, item in openapi.document()["paths"].items()
        for method, operation in item.items()
        for code in operation["responses"]
    }


def test_the_document_is_valid_openapi_and_served() -> None:
    document = openapi.document()
    validate(document)  # raises on an invalid OpenAPI 3.1 document
    answer = call(API, "GET", f"{V2}/openapi.json")
    assert answer.status == 200 and answer.json() == document


def test_the_document_describes_exactly_the_routes_served() -> None:
    served = {
        (r.path, method.lower())
        for r in routes.routes()
        if isinstance(r, Route) and ("{format}" in r.path or r.path.endswith(".json"))
        for method in (r.methods or set()) - {"HEAD"}
    }
    assert served == {(path, method) for path, method, _ in _documented()}


def test_every_documented_status_code_is_reached(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    use_database(monkeypatch, world.url)
    reset_rate_counts()
    writer = new_client(world, "区12345平台", can_write=True)
    lon, lat = centre(0)
    form = {"service_code": "ENV", "lat": str(lat), "long": str(lon), "description": "井盖缺失"}
    reached: set[tuple[str, str, int]] = set()

    def reach(path: str, method: str, code: int, answer: Answer) -> Answer:
        assert answer.status == code, (path, method, answer.text)
        if path.endswith(".{format}"):
            kind = (
                "errors"
                if code != 200
                else "post_response"
                if method == "post"
                else KIND[path.removeprefix(V2)]
            )
            assert problems(kind, answer.json()) == [], (path, method, code)
        reached.add((path, method, code))
        return answer

    posted = reach(
        f"{V2}/requests.{{format}}",
        "post",
        200,
        call(API, "POST", f"{V2}/requests.json", form={**form, "api_key": writer.key}),
    )
    number, token = posted.json()[0]["service_request_id"], posted.json()[0]["token"]
    bad_key = {"api_key": "g311_00000000_unknown"}
    table: list[tuple[str, str, int, Callable[[], Answer]]] = [
        ("/openapi.json", "get", 200, lambda: call(API, "GET", f"{V2}/openapi.json")),
        ("/discovery.{format}", "get", 200, lambda: call(API, "GET", f"{V2}/discovery.json")),
        ("/discovery.{format}", "get", 400, lambda: call(API, "GET", f"{V2}/discovery.json", {"lang": "de"})),
        ("/services.{format}", "get", 200, lambda: call(API, "GET", f"{V2}/services.json")),
        ("/services.{format}", "get", 400, lambda: call(API, "GET", f"{V2}/services.json", {"lang": "de"})),
        (
            "/services/{service_code}.{format}",
            "get",
            200,
            lambda: call(API, "GET", f"{V2}/services/SAF.json"),
        ),
        (
            "/services/{service_code}.{format}",
            "get",
            400,
            lambda: call(API, "GET", f"{V2}/services/SAF.json", {"lang": "x"}),
        ),
        (
            "/services/{service_code}.{format}",
            "get",
            404,
            lambda: call(API, "GET", f"{V2}/services/NOPE.json"),
        ),
        ("/requests.{format}", "get", 200, lambda: call(API, "GET", f"{V2}/requests.json")),
        ("/requests.{format}", "get", 400, lambda: call(API, "GET", f"{V2}/requests.json", {"page": "0"})),
        ("/requests.{format}", "get", 403, lambda: call(API, "GET", f"{V2}/requests.json", bad_key)),
        (
            "/requests.{format}",
            "post",
            400,
            lambda: call(API, "POST", f"{V2}/requests.json", form={"api_key": writer.key}),
        ),
        ("/requests.{format}", "post", 403, lambda: call(API, "POST", f"{V2}/requests.json", form=form)),
        (
            "/requests.{format}",
            "post",
            404,
            lambda: call(
                API,
                "POST",
                f"{V2}/requests.json",
                form={**form, "service_code": "NOPE", "api_key": writer.key},
            ),
        ),
        (
            "/requests/{service_request_id}.{format}",
            "get",
            200,
            lambda: call(API, "GET", f"{V2}/requests/{number}.json"),
        ),
        (
            "/requests/{service_request_id}.{format}",
            "get",
            400,
            lambda: call(API, "GET", f"{V2}/requests/{number}.json", {"lang": "x"}),
        ),
        (
            "/requests/{service_request_id}.{format}",
            "get",
            403,
            lambda: call(API, "GET", f"{V2}/requests/{number}.json", bad_key),
        ),
        (
            "/requests/{service_request_id}.{format}",
            "get",
            404,
            lambda: call(API, "GET", f"{V2}/requests/XL0.json"),
        ),
        ("/tokens/{token}.{format}", "get", 200, lambda: call(API, "GET", f"{V2}/tokens/{token}.json")),
        (
            "/tokens/{token}.{format}",
            "get",
            400,
            lambda: call(API, "GET", f"{V2}/tokens/{token}.json", {"lang": "x"}),
        ),
        ("/tokens/{token}.{format}", "get", 404, lambda: call(API, "GET", f"{V2}/tokens/nope.json")),
    ]
    for path, method, code, make in table:
        reach(f"{V2}{path}", method, code, make())
    monkeypatch.setattr(clients, "check_rate", lambda *args, **kwargs: False)
    for path, method, _ in sorted(_documented()):
        if path.endswith(".{format}"):
            concrete = re.sub(r"\{(service_code|service_request_id|token)\}", "X", path).replace(
                "{format}", "json"
            )
            extra = {"form": form} if method == "post" else {}
            reach(path, method, 429, call(API, method.upper(), concrete, **extra))  # type: ignore[arg-type]
    assert reached == _documented()


def test_schemathesis_finds_no_server_error_and_only_documented_answers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database(monkeypatch, world.url)
    writer = new_client(world, "区12345平台", can_write=True, sees_personal_data=True)
    monkeypatch.setattr(clients, "check_rate", lambda *args, **kwargs: True)  # 429s are reached above
    schema = schemathesis.openapi.from_asgi(f"{V2}/openapi.json", API)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    seen: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:  # type: ignore[no-untyped-def]
            if case.method == "POST" and isinstance(case.body, dict):
                case.body = {**case.body, "api_key": writer.key}
            response = case.call()
            seen[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=checks)

        run()
    operations = {f"{m.upper()} {p}" for p, m, _ in _documented() if p.endswith(".{format}")}
    assert {label for label, _ in seen} == operations, seen  # schemathesis leaves out the document itself
    assert sum(seen.values()) >= len(operations) * EXAMPLES // 2


def test_every_open311_text_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in (ROOT / "dashboard/api/open311").glob("*.py"):
        used |= set(re.findall(r'"(open311\.[a-z_.]+[a-z_])"', path.read_text(encoding="utf-8")))
    for a in (a for group in services.ATTRIBUTES.values() for a in group):
        used |= {f"open311.attribute.{a.code}.{k}" for k in ("label", "description", "datatype_description")}
        if a.target == "description":
            used |= {f"open311.attribute.{a.code}.values.{v}" for v in a.values}
    assert len(used) > 30
    for lang in ("zh", "en"):
        assert sorted(k for k in used if k not in catalogue(lang)) == [], lang
