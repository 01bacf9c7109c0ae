"""What a handler needs, read from `request.app.state`.

`app.build_app` puts each service there once; handlers are module-level functions that
ask for the few they use through these accessors (typed, one line each), not for the
whole composition root. A websocket is an HTTPConnection too, so the same accessors
serve both.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from command_center.auth.service import Auth
    from command_center.bus import Bus
    from command_center.camera_status import Cameras
    from command_center.casework import CaseWork
    from command_center.city_map import CityMap
    from command_center.config import Config
    from command_center.emergency.service import EmergencyModes
    from command_center.emergency.teams import Teams
    from command_center.evidence_access import EvidenceAccess
    from command_center.hub import Hub
    from command_center.jobs import Jobs
    from command_center.recording import IncidentRecorder
    from command_center.registry.changes import Follower
    from command_center.store import Store
    from dispatch.catalog import Catalog
    from dispatch.dispatcher import Dispatcher
    from vision.clips import ClipRecorder
    from vision.evidence import SnapshotStore


def _state(conn: HTTPConnection, name: str) -> Any:
    return getattr(conn.app.state, name)


def config(conn: HTTPConnection) -> Config:
    return cast("Config", _state(conn, "config"))


def store(conn: HTTPConnection) -> Store:
    return cast("Store", _state(conn, "store"))


def bus(conn: HTTPConnection) -> Bus:
    return cast("Bus", _state(conn, "bus"))


def hub(conn: HTTPConnection) -> Hub:
    return cast("Hub", _state(conn, "hub"))


def auth(conn: HTTPConnection) -> Auth:
    return cast("Auth", _state(conn, "auth"))


def city(conn: HTTPConnection) -> CityMap:
    """The current map (re-drawn maps swap in): .city, .index, .workers, .area_of, .replace_city()."""
    return cast("CityMap", _state(conn, "city"))


def catalog(conn: HTTPConnection) -> Catalog:
    return cast("Catalog", _state(conn, "catalog"))


def dispatcher(conn: HTTPConnection) -> Dispatcher:
    return cast("Dispatcher", _state(conn, "dispatcher"))


def city_now(conn: HTTPConnection) -> datetime:
    """Now in the city: the dispatcher's clock in its zone (the days the store counts events in)."""
    return dispatcher(conn).local_now()


def casework(conn: HTTPConnection) -> CaseWork:
    """Case actions and views: .act(), .publish_case(), .case_view()."""
    return cast("CaseWork", _state(conn, "casework"))


def cameras(conn: HTTPConnection) -> Cameras:
    """Camera status: .camera_ids(), .camera_view(), .add_camera(), .record_dismissal(),
    .runners, .pipelines, .tracks."""
    return cast("Cameras", _state(conn, "cameras"))


def recorder(conn: HTTPConnection) -> IncidentRecorder:
    return cast("IncidentRecorder", _state(conn, "recorder"))


def evidence(conn: HTTPConnection) -> EvidenceAccess:
    return cast("EvidenceAccess", _state(conn, "evidence"))


def snapshots(conn: HTTPConnection) -> SnapshotStore:
    return cast("SnapshotStore", _state(conn, "snapshots"))


def clips(conn: HTTPConnection) -> ClipRecorder:
    return cast("ClipRecorder", _state(conn, "clips"))


def emergency(conn: HTTPConnection) -> EmergencyModes:
    return cast("EmergencyModes", _state(conn, "emergency"))


def teams(conn: HTTPConnection) -> Teams:
    """The streets' emergency teams: .all(), .view(), .of_worker(), .positions, .store."""
    return cast("Teams", _state(conn, "teams"))


def jobs(conn: HTTPConnection) -> Jobs:
    """Background jobs (.add(name, factory, singleton=...)), and .counters, .started_at."""
    return cast("Jobs", _state(conn, "jobs"))


def registry(conn: HTTPConnection) -> Follower:
    """The registry's live changes: .changed(part) after a write, .poll()."""
    return cast("Follower", _state(conn, "registry"))
