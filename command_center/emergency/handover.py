"""The handover summary of an emergency mode (交接班报告): what happened, who did what and
when. One document (`handover`), written as JSON, as a printable Chinese page
(`handover_html`), and bundled with the CAP 1.2 alert (`export_zip`).

The caller gathers what the mode does not keep itself (camera names, the linked
incident and cases) so this module stays a pure function of its inputs.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, tzinfo
from html import escape
from typing import Any

from command_center.emergency.cap import CLASS_NAMES
from command_center.emergency.service import links
from command_center.emergency.timeline import line, message, sentence, target, who
from command_center.i18n import DEFAULT_LANGUAGE, name


def _local(iso: str | None, tz: tzinfo) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _minutes(start: str, end: str | None) -> float | None:
    if not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60, 1)


def handover(
    mode: dict[str, Any],
    tz: tzinfo,
    cameras: dict[str, str],
    incident: dict[str, Any] | None = None,
    cases: list[dict[str, Any]] | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """`cameras`: id → name of every camera or drone the mode names."""
    tasks = []
    for t in mode["tasks"]:
        late = bool(t.get("done_at") and t["done_at"] > t["due_at"]) or (not t["done"] and mode.get("ended_at") is not None)
        tasks.append({
            "id": t["id"], "title": t["title"], "kind": t.get("role"), "assignee": target(t.get("assignee"), lang) or None,
            "due_at": _local(t["due_at"], tz), "state": t.get("state", "done" if t["done"] else "open"),
            "acked_by": t.get("acked_by_name") or t.get("acked_by"), "acked_at": _local(t.get("acked_at"), tz),
            "done_by": t.get("done_by_name") or t.get("done_by"), "done_at": _local(t.get("done_at"), tz),
            "note": t.get("note") or "", "late": late,
        })  # fmt: skip
    people: dict[str, dict[str, Any]] = {}
    for entry in mode["timeline"]:
        person = people.setdefault(who(entry, lang), {"name": who(entry, lang), "actions": []})
        person["actions"].append(line(entry, tz, lang))
    return {
        "id": mode["id"], "class": mode["class"], "class_name": name("emclass", mode["class"], lang)
        or CLASS_NAMES.get(mode["class"], mode["class"]), "title": mode["title"], "plan": mode.get("plan"),
        "place": mode.get("area_name"), "center": mode["center"], "radius_m": mode["radius_m"],
        "started_at": _local(mode["started_at"], tz), "ended_at": _local(mode.get("ended_at"), tz),
        "duration_min": _minutes(mode["started_at"], mode.get("ended_at")),
        "started_by": mode.get("started_by"), "ended_by": mode.get("ended_by"),
        "incident": incident, "tasks": tasks,
        "timeline": [{"ts": e["ts"], "time": _local(e["ts"], tz), "text": sentence(e, lang), "entry": e}
                     for e in mode["timeline"]],
        "people": list(people.values()),
        "cameras": [{"id": c, "name": cameras.get(c, c)} for c in mode["cameras"]],
        "drones": [{"id": d, "name": cameras.get(d, d)} for d in mode["drones"]],
        "cases": cases or [], "links": links(mode["id"]),
    }  # fmt: skip


def _rows(cells: list[list[str]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in cells)


def _h(key: str, lang: str) -> str:
    return escape(message(f"emergency.handover.{key}", lang))


def handover_html(doc: dict[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """A printable page (inline style, no script): the summary, tasks, people, timeline."""
    dash = "—"
    summary = [
        [message("emergency.handover.class", lang), doc["class_name"]],
        [message("emergency.handover.place", lang), doc.get("place") or f"{doc['center']['lat']:.5f}, {doc['center']['lon']:.5f}"],
        [message("emergency.handover.radius", lang), f"{doc['radius_m']:.0f} m"],
        [message("emergency.handover.started", lang), doc["started_at"] or dash],
        [message("emergency.handover.ended", lang), doc.get("ended_at") or message("emergency.handover.running", lang)],
        [message("emergency.handover.duration", lang), f"{doc['duration_min']} min" if doc.get("duration_min") is not None else dash],
        [message("emergency.handover.plan", lang), doc.get("plan") or dash],
    ]  # fmt: skip
    tasks = [
        [t["title"], t.get("kind") or dash, t.get("assignee") or dash, t.get("due_at") or dash,
         f"{t['acked_by'] or dash} {t['acked_at'] or ''}".strip(), f"{t['done_by'] or dash} {t['done_at'] or ''}".strip(),
         t["note"] or dash, message("emergency.handover.late", lang) if t["late"] else ""]
        for t in doc["tasks"]
    ]  # fmt: skip
    task_head = "".join(f"<th>{_h(k, lang)}</th>" for k in ("task", "kind", "assignee", "due", "acked", "done", "note", "flag"))
    people = "".join(
        f"<li><b>{escape(p['name'])}</b><ul>" + "".join(f"<li>{escape(a)}</li>" for a in p["actions"]) + "</ul></li>"
        for p in doc["people"]
    )
    timeline = "".join(f"<li><time>{escape(e['time'] or '')}</time> {escape(e['text'])}</li>" for e in doc["timeline"])
    feeds = "、".join(c["name"] for c in doc["cameras"] + doc["drones"]) or dash
    cases = "".join(
        f"<li>{escape(c.get('id', ''))} {escape(c.get('matter_name') or '')} {escape(c.get('state_name') or '')}</li>"
        for c in doc["cases"]
    ) or f"<li>{dash}</li>"
    title = escape(message("emergency.handover.title", lang, title=doc["title"]))
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:14px/1.6 system-ui,"Noto Sans CJK SC",sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#111}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0}}td,th{{border:1px solid #999;padding:.25rem .4rem;text-align:left;vertical-align:top}}
th{{background:#eee}}h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:1.2rem}}time{{font-variant-numeric:tabular-nums}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>{title}</h1>
<table>{_rows(summary)}</table>
<h2>{_h("tasks", lang)}</h2><table><tr>{task_head}</tr>{_rows(tasks)}</table>
<h2>{_h("people", lang)}</h2><ul>{people}</ul>
<h2>{_h("timeline", lang)}</h2><ol>{timeline}</ol>
<h2>{_h("feeds", lang)}</h2><p>{escape(feeds)}</p>
<h2>{_h("cases", lang)}</h2><ul>{cases}</ul>
</body></html>
"""


def export_zip(doc: dict[str, Any], html: str, cap_xml: bytes) -> bytes:
    """cap.xml + handover.html + handover.json, for whoever takes over or files the record."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("cap.xml", cap_xml)
        z.writestr("handover.html", html.encode("utf-8"))
        z.writestr("handover.json", json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"))
    return out.getvalue()
