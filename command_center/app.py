"""The HTTP and websocket application: the routes, pages and middleware over a Runtime's services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from command_center import basedata_retention
from command_center.api import (
    assessment,
    assessment_appeals,
    attendance,
    audit_log,
    auth,
    basedata,
    basedata_analysis,
    basedata_export,
    basedata_leave,
    basedata_map,
    basemap,
    calendar,
    camera_admin,
    cameras,
    care,
    case_desk,
    cases,
    chat,
    costs,
    costs_lines,
    deps,
    devices,
    emergency,
    emergency_handover,
    emergency_plans,
    emergency_roster,
    emergency_teams,
    field_photos,
    forum,
    grids,
    health,
    hotspots,
    i18n,
    imports,
    incidents,
    iot_intake,
    kpi,
    marketplace,
    matters,
    open311,
    openapi,
    patrols,
    public,
    publish_keys,
    report_media,
    report_media_follow,
    residents,
    roster,
    settings,
    stats,
    stats_export,
    stats_forecast,
    suggestions,
    verifications,
    verify_tasks,
    webrtc,
)
from command_center.api.errors import error_response, handle_http_error
from command_center.api.headers import HEADERS, SecurityHeadersMiddleware
from command_center.api.limits import BodyLimitMiddleware
from command_center.assessment_job import AssessmentJob
from command_center.auth.middleware import AuthMiddleware, principal_of
from command_center.auth.principal import Principal
from command_center.chat_bus import feed as chat_feed
from command_center.chat_service import OUTBOX as CHAT_OUTBOX
from command_center.chat_socket import register as register_chat_ops
from command_center.hub_parts import Access
from command_center.map_config import basemap_origins
from command_center.runtime import SERVICES, Runtime
from command_center.store.base import StoreUnavailable
from command_center.verify_tasks_job import for_runtime as verify_task_sweep

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent.parent / "ui"
# Browser libraries installed by `make` (npm, see package.json); pages import them from /vendor/.
MAPLIBRE_DIR = UI_DIR.parent / "node_modules" / "maplibre-gl" / "dist"
# Apache ECharts: the charts of /stats and the wall (ES module build: echarts.esm.min.mjs).
ECHARTS_DIR = UI_DIR.parent / "node_modules" / "echarts" / "dist"


def page(relative: str) -> Callable[[Request], Awaitable[FileResponse]]:
    """The endpoint of one UI page: its HTML file, revalidated on every load (no-cache)."""

    async def endpoint(_request: Request) -> FileResponse:
        return FileResponse(UI_DIR / relative, headers={"Cache-Control": "no-cache"})

    return endpoint


async def handle_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A store that does not answer in time (finding 11): 503 with Retry-After, not a hang or a 500."""
    assert isinstance(exc, StoreUnavailable)
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = error_response(503, "store unavailable", str(exc))
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StoreUnavailable):  # raised outside the routes (the auth middleware's user check)
        return await handle_store_unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_response(500, "internal error", type(exc).__name__)
    # Starlette answers this one outside every middleware: the security headers go on here.
    for name, value in HEADERS:
        response.headers[name.decode()] = value.decode()
    return response


async def ws(websocket: WebSocket) -> None:
    await deps.hub(websocket).serve(websocket, hub_access(principal_of(websocket)))


async def root(_request: Request) -> RedirectResponse:
    return RedirectResponse("/wall")


# Every path the app answers: the API modules' routes, the websocket, the pages and their files.
ROUTES: list[BaseRoute] = [
    *auth.routes,
    *audit_log.routes,
    *health.routes,
    *camera_admin.routes,  # before cameras: /api/cameras/probe is not a camera id
    *cameras.routes,
    *incidents.routes,
    *report_media.routes,  # citizens' media: /api/cases/{id}/media and the resident's (docs/RESIDENTS.md)
    *report_media_follow.routes,  # duplicates to follow, the citizens' PWA files (docs/RESIDENTS.md)
    *case_desk.routes,  # before cases: /api/cases/bulk is not a case id
    *cases.routes,
    *verifications.routes,
    *grids.routes,
    *kpi.routes,
    *stats.routes,  # case statistics (docs/STATS.md)
    *stats_export.routes,  # their CSV and XLSX
    *stats_forecast.routes,  # forecast and seasonal early warning (docs/STATS.md)
    *costs.routes,  # cost–benefit figures and their export (docs/COSTS.md)
    *costs_lines.routes,  # budget lines: CRUD and import
    *assessment.routes,  # 绩效考核: frozen months, scores, the PDF (docs/ASSESSMENT.md)
    *assessment_appeals.routes,  # their appeals
    *hotspots.routes,
    *open311.routes,
    *chat.routes,  # residents' chat with their grid worker (docs/RESIDENTS.md); before residents' /me…
    *residents.routes,  # residents' sign-in, my reports and ratings (docs/RESIDENTS.md)
    *marketplace.routes,  # 服务超市: providers, services, requests (docs/RESIDENTS.md)
    *forum.routes,  # 论坛: notices, articles, threads, moderation, search (docs/RESIDENTS.md)
    *webrtc.routes,
    *publish_keys.routes,
    *iot_intake.routes,  # IoT readings over HTTP, for gateways without MQTT
    *emergency.routes,
    *emergency_handover.routes,
    *emergency_teams.routes,
    *emergency_roster.routes,  # before roster: /api/roster/teams is not a worker id
    *emergency_plans.routes,
    *imports.routes,
    *roster.routes,
    *matters.routes,
    *calendar.routes,
    *settings.routes,
    *suggestions.routes,  # suggested classes of reports (自动输出事件分类建议)
    *basedata_map.routes,  # before basedata: /api/basedata/map is not a kind
    *basedata_analysis.routes,  # cross-analysis and care forecast; before basedata: not kinds
    *basedata_export.routes,  # watermarked, audited exports (/api/basedata-export/…)
    *basedata_leave.routes,  # 迁出: a person marked moved out (DELETE /api/basedata/people/{id})
    *verify_tasks.routes,  # re-check tasks (定期核实); before basedata: "tasks" is not a kind
    *basedata.routes,  # the grids' base data (四标四实)
    *patrols.routes,  # patrol plans, check-ins and coverage (巡查)
    *devices.routes,  # the IoT device registry (设备)
    *attendance.routes,  # on/off duty, the on-duty track, the month (考勤)
    *care.routes,  # the special-group ledger (特殊群体台账)
    *field_photos.routes,  # photos of the rounds: check-ins, visits, door plates (现场照片)
    *public.routes,
    *basemap.routes,
    *openapi.routes,
    *i18n.routes,
    WebSocketRoute("/ws", ws),
    Route("/", root),
    Route("/wall", page("wall/index.html")),
    Route("/terminal", page("terminal/index.html")),
    Route("/citizen", page("citizen/index.html")),
    Route("/publish", page("publish/index.html")),  # a drone or phone publishing its camera over WHIP
    Route("/emergency", page("emergency/index.html")),
    Route("/admin", page("admin/index.html")),
    Route("/desk", page("desk/index.html")),  # the hall's case desk
    Route("/basedata", page("basedata/index.html")),  # the hall's base data (人口房屋)
    Route("/stats", page("stats/index.html")),  # statistics: cases by period, source, matter and area
    Route("/community", page("community/index.html")),  # 社区服务与论坛管理: providers, supply, moderation
    Route("/assessment", page("assessment/index.html")),  # 绩效考核: rankings, honours, appeals, the PDF
    Route("/costs", page("costs/index.html")),  # 成本效益: budget lines, cost per case and per resident
    Route("/chats", page("chats/index.html")),  # 居民消息: the grids' service desk answers residents
    Route("/grid/{code}", page("grid/index.html")),  # 三公开: a grid's public worker card
    Route("/grid/{code}/poster", page("grid/poster.html")),  # the card's printable QR poster
    Mount("/ui", StaticFiles(directory=UI_DIR), name="ui"),
    # check_dir=False: the app still starts without node_modules; the wall then shows no map.
    Mount("/vendor/maplibre", StaticFiles(directory=MAPLIBRE_DIR, check_dir=False), name="maplibre"),
    Mount("/vendor/echarts", StaticFiles(directory=ECHARTS_DIR, check_dir=False), name="echarts"),
]


def build_app(rt: Runtime) -> Starlette:
    """The app over a runtime's services; its lifespan starts and stops the runtime."""

    @contextlib.asynccontextmanager
    async def lifespan(application: Starlette) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await webrtc.close(application)  # first: ending the publishers releases the WHIP sources' waits
            await rt.stop()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: handle_http_error,
            StoreUnavailable: handle_store_unavailable,
            Exception: handle_unexpected,
        },
        middleware=[
            # Outermost: every answer, refusals included, carries the security headers.
            Middleware(SecurityHeadersMiddleware, extra_origins=basemap_origins(rt.config.map)),
            # Bodies are bounded while read, before the policy or any route sees them.
            Middleware(BodyLimitMiddleware, config=rt.config),
            # Every request passes the auth policy first (see command_center/auth/policy.py).
            Middleware(AuthMiddleware, signer=rt.auth.signer, policy=rt.auth.policy, sessions=rt.auth.sessions),
        ],
    )
    register_chat_ops(rt.hub)  # `chat.send` on the websockets (the residents' chat, chat_socket.py)
    rt.jobs.add("chat-feed", lambda: chat_feed(app))  # the chat's events across nodes (chat_bus.py)
    # None until the feed joins nodes; there from the start, as a look for a missing attribute
    # (an exception raised and caught inside Starlette's State) costs each chat message ~5 µs
    setattr(app.state, CHAT_OUTBOX, None)
    # The services handlers read (api/deps.py), not the runtime itself.
    for name in SERVICES:
        setattr(app.state, name, getattr(rt, name))
    # Live 热点预警 alerts on the `hotspots` channel, from one node of several.
    rt.jobs.add("hotspots", lambda: hotspots.watch(rt.bus, rt.store, rt.config, rt.city), singleton=True)
    # On-duty tracks past attendance.track_days deleted (personal data, retention limited).
    rt.jobs.add("attendance-track", lambda: attendance.prune_tracks(rt.store, rt.config), singleton=True)
    # Moved-out people and closed care visits past basedata.retention deleted by rule, audited.
    basedata_retention.register(rt.jobs, rt.store, lambda: rt.config.basedata.retention, rt.dispatcher.today)
    # Base-data re-check tasks (基础数据定期核实) opened ahead of each record's next check.
    verify_task_sweep(rt).register(rt.jobs)
    # Last month's assessment scored and frozen once its grace days are over (docs/ASSESSMENT.md).
    AssessmentJob(rt.store, lambda: rt.dispatcher.clock(), rt.dispatcher.tz).register(rt.jobs)
    if rt.iot is not None:  # mqtt.enabled: gateways' HTTP posts go to the same handler as MQTT messages
        iot_intake.set_handler(app, rt.iot.loop)
        app.state.iot = rt.iot  # /api/health shows the intake's and export's counters
    return app


def hub_access(principal: Principal) -> Access:
    """A worker hears only their own task channel; others everything in their jurisdiction."""
    only = frozenset({f"tasks:{principal.worker_id}"}) if principal.is_worker else None
    return Access(principal.jurisdiction, only, principal.user, principal.role)
