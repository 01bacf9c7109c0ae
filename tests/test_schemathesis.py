"""schemathesis against the real server: every operation of the OpenAPI description, signed in as
each role and anonymous, valid and invalid input, and the stateful links between operations.

Over 2,000 generated requests must find no server error (5xx) and no answer that breaks the
description (status code, content type, headers, body schema); invalid input must be refused
with a 4xx. Failures are collected over the whole run and reported together.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
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

CAMERA = "drone-7"
# WHIP and WHEP take an SDP offer: text, sent as it is.
schemathesis.serializer.alias("application/sdp", "text/plain")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples per operation, per role: (valid input, invalid input). The anonymous caller is
# refused almost everywhere, so it gets fewer; admins reach the most code.
EXAMPLES = {
    "admin": (9, 4),
    "officer": (5, 2),
    "district": (5, 2),
    "emergency": (4, 2),
    "worker": (5, 2),
    "anonymous": (3, 1),
}
# Would wreck the run for everyone after them; each gets its own small run at the end.
SEPARATE = {"PUT /api/grids"}
# An endless response (the MJPEG live view) is no use to a request-response fuzzer.
NEVER = {"GET /api/cameras/{id}/live.mjpg"}


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: Counter[str] = field(default_factory=Counter)  # per operation: where the run's time goes

    def record(self, role: str, case: Any, response: Any, checks: list) -> None:
        self.requests[role] += 1
        self.seconds[case.operation.label] += response.elapsed
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            title = f"{role}: {case.operation.label} → {response.status_code}"
            self.failures.append(f"{title}\n{case.as_curl_command()}\n{group}")


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    tokens: dict[str, str | None]  # role → token; None: anonymous
    protected: set[str]  # usernames whose disabling or new password would end the run's sessions


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
            # a WHIP camera: cameras, WHEP, publish keys and telemetry have something real to act on
            "cameras": [
                {"id": CAMERA, "kind": "whip", "url": f"whip://{CAMERA}", "location": {"lon": grid.lon, "lat": grid.lat}}
            ],
        }
    )
    rt = Runtime(config, city=small_city)
    with ServerThread(build_app(rt)) as srv:
        # Something to find: incidents become cases dispatched to workers, and an incident mode.
        cases = [wait_case(srv, inject(srv, rt, g.lon, g.lat, rule)["id"])
                 for g, rule in zip(small_city.grids[::400][:4], ("illegal_parking", "stall", "fire", "crowding"))]  # fmt: skip
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
        yield World(srv, rt, tokens, {"admin", "officer", "district", "emergency", worker})


def session_for(token: str | None) -> requests.Session:
    session = requests.Session()
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def fuzz(
    world: World, schema: Any, label: str, role: str, mode: GenerationMode, examples: int, tally: Tally
) -> None:
    """`examples` generated cases of one operation, sent as `role`, each response checked."""
    operation = schema.find_operation_by_label(label)
    session = session_for(world.tokens[role])
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    strategy = operation.as_strategy(generation_mode=mode).filter(harmless(world))

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,  # the same requests on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # failures are collected, not raised: nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=world.srv.url, session=session, timeout=30)
        tally.record(role, case, response, checks)

    try:
        run()
    except Unsatisfiable:
        # Nothing to get wrong: an operation with no parameters and no body has no invalid input.
        if mode is GenerationMode.POSITIVE:
            raise


def harmless(world: World) -> Callable[[Any], bool]:
    """Not a case that would lock the run's own users out (disable, new password, new role)."""

    def ok(case: Any) -> bool:
        return (case.path_parameters or {}).get("username") not in world.protected

    return ok


def labels(schema: Any) -> list[str]:
    return [result.ok().label for result in schema.get_all_operations()]


# schemathesis' own strategies draw from `random`; Hypothesis warns about it, to their authors.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_schemathesis_finds_no_server_error_and_no_broken_answer(world: World) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{world.srv.url}/api/openapi.json")
    tally = Tally()
    everything = labels(schema)
    random_run = [label for label in everything if label not in SEPARATE | NEVER]
    for role, (positive, negative) in EXAMPLES.items():
        for label in random_run:
            fuzz(world, schema, label, role, GenerationMode.POSITIVE, positive, tally)
            fuzz(world, schema, label, role, GenerationMode.NEGATIVE, negative, tally)
    stateful = StatefulRun(world, schema, tally)
    for role in ("admin", "officer", "worker"):
        stateful.run(role)
    # Last, alone: replacing the map (a wrong one is refused and changes nothing).
    for label in sorted(SEPARATE):
        for role in ("admin", "officer", "anonymous"):
            fuzz(world, schema, label, role, GenerationMode.POSITIVE, 3, tally)
            fuzz(world, schema, label, role, GenerationMode.NEGATIVE, 2, tally)
    elapsed = time.monotonic() - started
    report = (
        f"{sum(tally.requests.values())} requests in {elapsed:.0f} s; per role {dict(tally.requests)}; "
        f"statuses {dict(sorted(tally.statuses.items()))}; {len(tally.failures)} failures"
    )
    print(report, "\nslowest:", tally.seconds.most_common(8))
    assert not tally.failures, report + "\n\n" + "\n\n".join(tally.failures[:30])
    assert sum(tally.requests.values()) >= 2000, report
    assert not [s for s in tally.statuses if s >= 500], report
    assert set(tally.requests) == set(EXAMPLES), report


class StatefulRun:
    """schemathesis's state machine over the description's links (create a case, act on it,
    upload its photo; start an incident mode, tick off its task, end it; ...)."""

    STEPS = 8
    EXAMPLES = 12

    def __init__(self, world: World, schema: Any, tally: Tally) -> None:
        self.world, self.schema, self.tally = world, schema, tally

    def run(self, role: str) -> None:
        world, tally = self.world, self.tally
        session = session_for(world.tokens[role])
        keep = harmless(world)
        base = self.schema.as_state_machine()

        class Machine(base):  # type: ignore[misc, valid-type]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"base_url": world.srv.url, "session": session, "timeout": 30}

            def call(self, case: Any, **kwargs: Any) -> Any:
                if not keep(case):  # a link never names the run's own users, but be sure
                    case.path_parameters = {**case.path_parameters, "username": "nobody"}
                return case.call(**kwargs)

            def validate_response(self, response: Any, case: Any, **_kwargs: Any) -> None:
                tally.record(role, case, response, CHECKS)

        try:
            Machine.run(
                settings=settings(
                    max_examples=self.EXAMPLES,
                    stateful_step_count=self.STEPS,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )
        except Flaky:
            # A replayed scenario meets a server that has moved on (the case it made is closed now,
            # say) and draws differently; schemathesis's own runner ends the suite there too. Every
            # response so far is already checked and counted.
            pass
