"""A mode's timeline entries as sentences people read, from the message catalogue (keys
`emergency.tl.*` in ui/i18n/<lang>/emergency.json): "14:02 王伟（天河南街应急队）完成任务
「现场警戒」：已拉警戒线". The emergency page writes them the same way from the same keys
(ui/emergency/timeline.js); the server writes them for the handover.

An entry keeps the structure (service._log): who (actor, actor_name, actor_role,
actor_team), the action, the task, the note; never a finished sentence, so each reader
gets their own language.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from command_center.i18n import DEFAULT_LANGUAGE, catalogue, name

_FIELD = re.compile(r"\{(\w+)\}")


def fill(template: str, values: dict[str, Any]) -> str:
    """`{name}` placeholders filled, as the pages' t() does; unknown ones left as they are."""
    return _FIELD.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], template)


def message(key: str, lang: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    return fill(catalogue(lang).get(key, key), values)


def who(entry: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """A person by name (and team); staff without a name on the roster by their role."""
    person = entry.get("actor_name") or name("role", entry.get("actor_role"), lang) or entry.get("actor") or ""
    if entry.get("actor_team"):
        return message("emergency.tl.who_team", lang, name=person, team=entry["actor_team"])
    return str(person)


def target(assignee: dict[str, Any] | None, lang: str = DEFAULT_LANGUAGE) -> str:
    if not assignee:
        return ""
    if assignee.get("kind") == "worker" and assignee.get("team"):
        return message("emergency.tl.who_team", lang, name=assignee.get("name"), team=assignee["team"])
    return str(assignee.get("name") or assignee.get("id") or "")


def sentence(entry: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """The entry in words, without its time."""
    action = str(entry.get("action", ""))
    text = str(entry.get("text") or "")
    values = {
        "who": who(entry, lang), "task": entry.get("task_title") or entry.get("task") or "", "text": text,
        "target": target(entry.get("target"), lang), "plan": entry.get("plan") or "",
        "cameras": entry.get("cameras", 0), "radius": round(float(entry.get("radius_m") or 0)),
    }  # fmt: skip
    key = f"emergency.tl.{action}"
    if action in ("task.done", "end") and text:
        key += "_note"
    if action == "start" and "plan" not in entry:  # an entry from before the structured timeline
        key = "emergency.tl.note"
    cat = catalogue(lang)
    if key not in cat:
        return message("emergency.tl.note", lang, **values)
    return fill(cat[key], values)


def line(entry: dict[str, Any], tz: tzinfo, lang: str = DEFAULT_LANGUAGE) -> str:
    """The entry with its local time (HH:MM) first."""
    try:
        at = datetime.fromisoformat(str(entry["ts"])).astimezone(tz).strftime("%H:%M")
    except (KeyError, ValueError):
        at = "--:--"
    return f"{at} {sentence(entry, lang)}"
