"""schemathesis against the real server: every operation of the OpenAPI description, signed in as
each role and anonymous, valid and invalid input, and the stateful links between operations.

Over 2,000 generated requests must find no server error (5xx) and no answer that breaks the
description (status code, content type, headers, body schema); invalid input must be refused
with a 4xx. Failures are collected over the whole run and reported together.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Flaky, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from command_center.app import build_app
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from dispatch.city.codes import significant_digits
from tests.conftest import ServerThread, token_for
from vision.evidence import snapshot
from vision.incident import Incident

CAMERA = "drone-01"  # as in the demo, so that the description's examples name it
# WHIP and WHEP take an SDP offer: text, sent as it is.
schemathesis.serializer.alias("application/sdp", "text/plain")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Generated cases per operation and role: (valid input, invalid input). The anonymous caller is
# refused almost everywhere, so it gets fewer; admins reach the most code.
EXAMPLES = {
    "admin": (9, 4),
    "officer": (5, 2),
    "district": (5, 2),
    "emergency": (4, 2),
    "worker": (5, 2),
    "anonymous": (3, 1),
}
# Would wreck the run for everyone after it (a new map): its own small run at the end.
SEPARATE = ["PUT /api/grids"]
# An endless answer (the live MJPEG view) is no use to a request-response fuzzer: checked by hand.
LIVE = "GET /api/cameras/{id}/live.mjpg"
SETTINGS = settings(
    derandomize=True,  # the same requests on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # failures are collected, not raised: nothing to shrink
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)  # per role
    stateful: Counter[str] = field(default_factory=Counter)  # of them, made by the state machine
    statuses: Counter[int] = field(default_factory=Counter)
    served: set[str] = field(default_factory=set)  # operations that answered 2xx at least once
    failures: list[str] = field(default_factory=list)

    def record(self, role: str, case: Any, response: Any, checks: list) -> None:
        self.requests[role] += 1
        self.statuses[response.status_code] += 1
        if response.status_code < 300:
            self.served.add(case.operation.label)
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            title = f"{role}: {case.operation.label} → {response.status_code}"
            self.failures.append(f"{title}\n{case.as_curl_command()}\n{group}")

    def report(self, seconds: float) -> str:
        return (
            f"{sum(self.requests.values())} requests in {seconds:.0f} s; per role {dict(self.requests)}; "
            f"by the state machine {dict(self.stateful)}; statuses {dict(sorted(self.statuses.items()))}; "
            f"{len(self.failures)} failures"
        )


@dataclass
class World:
    srv: ServerThread
    tokens: dict[str, str | None]  # role → token; None: anonymous
    protected: set[str]  # the run's own usernames: disabling one or changing its role would end the run

    def harmless(self, case: Any) -> bool:
        return (case.path_parameters or {}).get("username") not in self.protected

    def session(self, role: str) -> requests.Session:
        session = requests.Session()
        if self.tokens[role] is not None:
            session.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return session


def inject(srv: ServerThread, rt: Runtime, lon: float, lat: float, rule: str) -> dict:
    image = np.zeros((120, 160, 3), np.uint8)
    incident = Incident(
        camera_id=CAMERA, ts=time.time(), rule=rule, zone="z", label="vehicle", score=0.9,
        box=(10, 10, 60, 40), lon=lon, lat=lat, track_id=1, snapshot_jpeg=snapshot(image, (10, 10, 60, 40), "t"),
    )  # fmt: skip
    return srv.run(rt.record_incident(incident))  # type: ignore[return-value]


def wait_case(srv: ServerThread, incident_id: str) -> dict:
    headers = srv.headers()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        incident = httpx.get(f"{srv.url}/api/incidents/{incident_id}", headers=headers).json()
        if incident.get("case_id"):
            return httpx.get(f"{srv.url}/api/cases/{incident['case_id']}", headers=headers).json()
        time.sleep(0.05)
    raise AssertionError("no case for the incident")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("schemathesis")
    grid = small_city.grids[len(small_city.grids) // 3]
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "webrtc": {"ice_hosts": ["127.0.0.1"], "connect_timeout_s": 2},
            # Throttles on: their 429s are part of the contract. Loose enough that the run gets past
            # them to the sign-ins and reports themselves; argon2 cheap, as every sign-in costs one.
            "auth": {
                "login_per_minute": 600, "login_burst": 40, "login_account_per_minute": 600,
                "login_account_burst": 40, "login_all_per_minute": 1200, "login_all_burst": 80,
                "hash_time_cost": 1, "hash_memory_kib": 1024,
            },
            "citizen": {"reports_per_minute": 600, "burst": 80},
            # a WHIP camera: cameras, WHEP, publish keys and telemetry have something real to act on
            "cameras": [
                {"id": CAMERA, "kind": "whip", "url": f"whip://{CAMERA}", "location": {"lon": grid.lon, "lat": grid.lat}}
            ],
        }
    )
    rt = Runtime(config, city=small_city)
    with ServerThread(build_app(rt)) as srv:
        # Something to find: incidents become cases dispatched to workers, and an incident mode.
        grids = small_city.grids[::400][:4]
        rules = ("illegal_parking", "stall", "fire", "crowding")
        cases = [wait_case(srv, inject(srv, rt, g.lon, g.lat, rule)["id"]) for g, rule in zip(grids, rules, strict=True)]
        inject(srv, rt, grid.lon, grid.lat, "illegal_parking")  # one more, left new
        started = httpx.post(
            f"{srv.url}/api/emergency", headers=srv.headers(),
            json={"class": "accident", "title": "drill", "lon": grid.lon, "lat": grid.lat},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        worker = cases[0]["assignee"]
        district = cases[0]["grid_code"][: significant_digits("district")]
        who = {
            "admin": {"role": "admin", "user": "admin"},
            "officer": {"role": "officer", "user": "officer"},
            "district": {"role": "officer", "user": "district", "jurisdiction": district},
            "emergency": {"role": "emergency", "user": "emergency"},
            "worker": {"role": "worker", "worker_id": worker},
        }
        tokens: dict[str, str | None] = {role: token_for(rt, **kw) for role, kw in who.items()}
        tokens["anonymous"] = None
        yield World(srv, tokens, {"admin", "officer", "district", "emergency", worker})


def send(world: World, strategy: Any, examples: int, role: str, checks: list, tally: Tally) -> None:
    """`examples` cases drawn from `strategy`, sent as `role`, each answer checked."""
    session = world.session(role)

    @given(case=strategy.filter(world.harmless))
    @settings(SETTINGS, max_examples=examples)
    def run(case: Any) -> None:
        response = case.call(base_url=world.srv.url, session=session, timeout=30)
        tally.record(role, case, response, checks)

    run()


def fuzz(world: World, operation: Any, role: str, counts: tuple[int, int], tally: Tally) -> None:
    """One operation as `role`: the description's own examples (they get past the random 400s
    and 404s), then generated valid input, then invalid input, which must get a 4xx."""
    for example in operation.schema.get_strategies_from_examples(operation):
        send(world, example, 1, role, CHECKS, tally)
    send(world, operation.as_strategy(), counts[0], role, CHECKS, tally)
    try:
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        send(world, negative, counts[1], role, [*CHECKS, negative_data_rejection], tally)
    except Unsatisfiable:
        pass  # no parameters and no body: there is no invalid input to send


def stateful(world: World, schema: Any, role: str, tally: Tally) -> None:
    """schemathesis's state machine over the description's links: create a case, act on it,
    upload its photo; start an incident mode, tick off its task, end it; create a key, rotate it."""
    session = world.session(role)

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": world.srv.url, "session": session, "timeout": 30}

        def call(self, case: Any, **kwargs: Any) -> Any:
            if not world.harmless(case):  # values found in answers may name the run's own users
                case.path_parameters = {**case.path_parameters, "username": "nobody"}
            return case.call(**kwargs)

        def validate_response(self, response: Any, case: Any, **_kwargs: Any) -> None:
            tally.stateful[role] += 1
            tally.record(role, case, response, CHECKS)

    try:
        Machine.run(settings=settings(SETTINGS, max_examples=25, stateful_step_count=10, phases=[Phase.generate]))
    except Flaky:
        # A replayed scenario meets a server that has moved on (the case it made is closed now)
        # and draws differently; schemathesis's own runner ends the suite there too. Every
        # answer so far is already checked and counted.
        pass


def live_view(world: World, role: str, camera: str) -> int:
    """The MJPEG view's status and content type, without waiting for its endless body."""
    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if world.tokens[role] else {}
    with httpx.stream("GET", f"{world.srv.url}/api/cameras/{camera}/live.mjpg", headers=headers, timeout=10) as answer:
        expected = "multipart/x-mixed-replace" if answer.status_code == 200 else "application/json"
        assert answer.headers["content-type"].startswith(expected), answer.headers
        return answer.status_code


# schemathesis' own strategies draw from `random`; Hypothesis warns about it, to their authors.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_finds_no_server_error_and_no_broken_answer(world: World) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{world.srv.url}/api/openapi.json")
    tally = Tally()
    run = schema.exclude(name=[*SEPARATE, LIVE])
    operations = [result.ok() for result in run.get_all_operations()]
    for role, counts in EXAMPLES.items():
        for operation in operations:
            fuzz(world, operation, role, counts, tally)
    for role in ("admin", "officer", "worker"):
        stateful(world, run, role, tally)
    # Last, alone: replacing the map (a wrong one is refused and changes nothing).
    for operation in [result.ok() for result in schema.include(name=SEPARATE).get_all_operations()]:
        for role in ("admin", "officer", "anonymous"):
            fuzz(world, operation, role, (3, 2), tally)
    report = tally.report(time.monotonic() - started)
    print(report, "\nnever 2xx:", sorted({op.label for op in operations} - tally.served))
    assert not tally.failures, report + "\n\n" + "\n\n".join(tally.failures[:30])
    assert sum(tally.requests.values()) >= 2000 and set(tally.requests) == set(EXAMPLES), report
    assert not [status for status in tally.statuses if status >= 500], report
    assert sum(tally.stateful.values()) >= 100, report
    # the live view, by hand
    assert [live_view(world, role, CAMERA) for role in ("admin", "worker", "anonymous")] == [200, 403, 401]
    assert live_view(world, "admin", "no-such-camera") == 404
