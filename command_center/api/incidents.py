"""Incidents: list, one, snapshot, ack and dismiss."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from command_center.api.errors import ApiError, int_param, json_body
from command_center.events import Event
from command_center.runtime import Runtime

STATES = ("new", "acked", "dismissed")


def routes(rt: Runtime) -> list[Route]:
    async def list_incidents(request: Request) -> JSONResponse:
        state = request.query_params.get("state")
        if state is not None and state not in STATES:
            raise ApiError(400, "bad query parameter 'state'", f"one of {', '.join(STATES)}")
        limit = int_param(request, "limit", 50, 1, 1000)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        items, total = await asyncio.to_thread(rt.store.list_incidents, limit, offset, state)
        return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})

    async def get_incident(request: Request) -> JSONResponse:
        incident = await asyncio.to_thread(rt.store.get_incident, request.path_params["id"])
        if incident is None:
            raise ApiError(404, "incident not found", request.path_params["id"])
        return JSONResponse(incident)

    async def snapshot(request: Request) -> FileResponse:
        try:
            path = rt.snapshots.path(request.path_params["id"])
        except ValueError:
            raise ApiError(404, "snapshot not found", request.path_params["id"]) from None
        if not path.exists():
            raise ApiError(404, "snapshot not found", request.path_params["id"])
        return FileResponse(path, media_type="image/jpeg")

    async def clip(request: Request) -> FileResponse:
        try:
            path = rt.clips.path(request.path_params["id"])
        except ValueError:
            raise ApiError(404, "clip not found", request.path_params["id"]) from None
        if not path.exists():
            raise ApiError(404, "clip not found (it is ready a few seconds after the incident)", request.path_params["id"])
        return FileResponse(path, media_type="video/mp4")

    def mark(new_state: str):  # noqa: ANN202 - returns an endpoint
        async def endpoint(request: Request) -> JSONResponse:
            body = await json_body(request)
            incident_id = request.path_params["id"]
            current = await asyncio.to_thread(rt.store.get_incident, incident_id)
            if current is None:
                raise ApiError(404, "incident not found", incident_id)
            if current["state"] != "new":
                raise ApiError(409, f"incident is already {current['state']}", {"state": current["state"]})
            fields = {"state": new_state, "handled_by": str(body.get("actor", "officer"))}
            if "note" in body:
                fields["note"] = str(body["note"])[:2000]
            if new_state == "dismissed":
                raised = await asyncio.to_thread(rt.record_dismissal, current)
                if raised is not None:
                    fields["raised_threshold"] = raised
            updated = await asyncio.to_thread(rt.store.update_incident, incident_id, **fields)
            assert updated is not None
            await rt.bus.publish(Event("incidents", "incident.updated", updated))
            return JSONResponse(updated)

        return endpoint

    return [
        Route("/api/incidents", list_incidents),
        Route("/api/incidents/{id}", get_incident),
        Route("/api/incidents/{id}/snapshot.jpg", snapshot),
        Route("/api/incidents/{id}/clip.mp4", clip),
        Route("/api/incidents/{id}/ack", mark("acked"), methods=["POST"]),
        Route("/api/incidents/{id}/dismiss", mark("dismissed"), methods=["POST"]),
    ]
