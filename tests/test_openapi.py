"""The API contract (command_center/api/openapi.yaml): it names every HTTP route of the built app,
method by method, and nothing else; it is valid OpenAPI 3.1; the server serves it to anyone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from starlette.routing import Route

from command_center.api import openapi
from command_center.app import build_app
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import build_runtime, serve_app

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Described in words in the spec's info.description instead: static files and the websocket.
UNDESCRIBED = re.compile(r"^/(ui|vendor)(/|$)|^/ws$")
ERRORS = ("400", "401", "403", "404", "409", "413", "415", "422", "429", "503")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Runtime:
    data = tmp_path_factory.mktemp("openapi")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    return build_runtime(config, city=small_city)


def app_operations(rt: Runtime) -> set[tuple[str, str]]:
    """(METHOD, path) of every HTTP route; HEAD only where it is not GET's automatic twin."""
    found = set()
    for route in build_app(rt).routes:
        if not isinstance(route, Route) or UNDESCRIBED.match(route.path):
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route.path)  # {id:int} → {id}, as OpenAPI writes it
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")
        found |= {(m, path) for m in methods}
    return found


def spec_operations(spec: dict) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in spec["paths"].items() for m in METHODS if m in item}


def operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def test_every_route_is_described_and_every_description_is_a_route(runtime: Runtime) -> None:
    in_app, in_spec = app_operations(runtime), spec_operations(openapi.description())
    assert in_app, "no routes found"
    assert sorted(in_app - in_spec) == [], "routes with no operation in command_center/api/openapi.yaml"
    assert sorted(in_spec - in_app) == [], (
        "operations in command_center/api/openapi.yaml that no route serves"
    )


def test_the_description_is_valid_openapi_3_1() -> None:
    spec = openapi.description()
    assert spec["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(spec)
    schema.validate()  # the OpenAPI 3.1 meta-schema
    failed = [str(result.err()) for result in schema.get_all_operations() if not result.ok()]
    assert failed == [], failed  # every $ref resolves and every operation can be generated
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert None not in ids and len(ids) == len(set(ids)), "each operation needs its own operationId"


def test_every_error_answer_has_the_common_shape() -> None:
    spec = openapi.description()
    refs = {f"#/components/responses/{name}" for name in spec["components"]["responses"]}
    for method, path, op in operations(spec):
        security = op.get("security", spec["security"])
        secured = bool(security) and {} not in security  # {}: a credential is optional
        codes = set(op["responses"])
        if secured:
            # no or a bad token, a role that may not, and a store that cannot say if it was revoked
            assert {"401", "403", "503"} <= codes, (
                f"{method} {path}: a signed-in route answers 401, 403 and 503"
            )
        if "requestBody" in op:
            assert {"400", "413"} <= codes, f"{method} {path}: a body can be malformed or too large"
        for code in codes & set(ERRORS):
            answer = op["responses"][code]
            if "$ref" in answer:
                assert answer["$ref"] in refs, f"{method} {path} {code}"
                answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
            schema = answer["content"]["application/json"]["schema"]
            # the common {"error", "detail"}; a map check lists its problems, health says what is down;
            # Open311 answers in its specification's shape ([{"code", "description"}])
            assert schema["$ref"] in (
                "#/components/schemas/Error",
                "#/components/schemas/Open311Errors",
                "#/components/schemas/MapCheck",
                "#/components/schemas/Health",
            )


def test_the_description_ships_as_package_data() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"*.yaml"' in pyproject and openapi.SPEC.suffix == ".yaml"


def test_served_to_anyone_as_json(runtime: Runtime) -> None:
    with serve_app(runtime) as srv:
        response = httpx.get(f"{srv.url}/api/openapi.json", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == openapi.description()
