"""tests/test_schemathesis.py's targeted steps for the residents' chat (api/chat.py): a resident
(signed in with the log sender's code) opens a conversation with a grid, sends text, a location
and a photo, reads the history and catches up, marks read; the grid's worker lists, reads,
answers with text and a photo, marks read and turns it into a case. Every chat operation answers
2xx once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import httpx
import numpy as np

from tests.helpers import token_for


def chat_steps(world: Any, one: Any) -> None:
    srv, city = world.srv, world.rt.city.city
    desk = srv.app.state.residents
    desk.clock = lambda: datetime.now(UTC) + timedelta(hours=7)  # past the fuzz's floods
    phone = "13912340077"
    assert httpx.post(f"{srv.url}/api/residents/code", json={"phone": phone}).status_code == 202
    signed = httpx.post(
        f"{srv.url}/api/residents/session", json={"phone": phone, "code": desk.sender.latest(phone)}
    )
    assert signed.status_code == 200, signed.text
    world.tokens["chatter"] = signed.json()["token"]
    grid = next(g for g in city.grids if len(city.workers_by_grid.get(g.code, [])) == 1)
    worker = city.workers_by_grid[grid.code][0].id
    world.tokens["chat-worker"] = token_for(world.rt, role="worker", worker_id=worker)
    opened = one("POST /api/residents/me/chats", "chatter", {"grid_code": grid.code})
    assert opened.status_code in (200, 201), opened.text
    chat = opened.json()["id"]
    one("GET /api/residents/me/chats", "chatter")
    sent = one("POST /api/residents/me/chats/{id}/messages", "chatter", {"text": "路灯不亮"}, id=chat)
    assert sent.status_code == 201, sent.text
    one(
        "POST /api/residents/me/chats/{id}/messages",
        "chatter",
        {"kind": "location", "lon": grid.lon, "lat": grid.lat},
        id=chat,
    )
    jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    photo = one("POST /api/residents/me/chats/{id}/photos", "chatter", jpeg, "image/jpeg", id=chat)
    assert photo.status_code == 201, photo.text
    name = photo.json()["photo_url"].rsplit("/", 1)[1]
    one("GET /api/residents/me/chats/{id}/photos/{photo}", "chatter", id=chat, photo=name)
    one("GET /api/residents/me/chats/{id}/messages", "chatter", id=chat)
    one("GET /api/residents/me/chats/messages", "chatter", query={"after": 0})
    one("GET /api/chats", "chat-worker")
    one("GET /api/chats/messages", "chat-worker", query={"after": 0})
    one("GET /api/chats/{id}", "chat-worker", id=chat)
    one("GET /api/chats/{id}/messages", "chat-worker", id=chat)
    one("GET /api/chats/{id}/photos/{photo}", "chat-worker", id=chat, photo=name)
    one("POST /api/chats/{id}/read", "chat-worker", {"upto": sent.json()["seq"]}, id=chat)
    answer = one("POST /api/chats/{id}/messages", "chat-worker", {"text": "马上到"}, id=chat)
    one("POST /api/chats/{id}/photos", "chat-worker", jpeg, "image/jpeg", id=chat)
    one("POST /api/residents/me/chats/{id}/read", "chatter", {"upto": answer.json()["seq"]}, id=chat)
    made = one("POST /api/chats/{id}/case", "chat-worker", {}, id=chat)
    assert made.status_code == 201, made.text
