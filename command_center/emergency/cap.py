"""An emergency mode as a CAP 1.2 alert (OASIS Common Alerting Protocol v1.2).

A running mode is an Alert; an ended one a Cancel that references the original,
so a CAP consumer that took the alert can withdraw it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from command_center.emergency.plans import Plan

NS = "urn:oasis:names:tc:emergency:cap:1.2"
CLASS_NAMES = {
    "natural_disaster": "自然灾害",
    "accident": "事故灾难",
    "public_health": "公共卫生事件",
    "social_security": "社会安全事件",
}


def cap_time(iso: str) -> str:
    """CAP's dateTime: seconds precision, an explicit offset, and UTC written -00:00 ('Z' is not allowed)."""
    when = datetime.fromisoformat(iso).astimezone(UTC).replace(microsecond=0)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def cap_alert(mode: dict[str, Any], plan: Plan, sender: str) -> bytes:
    ET.register_namespace("", NS)
    alert = ET.Element(f"{{{NS}}}alert")
    ended = mode.get("ended_at") is not None
    sent = cap_time(mode["ended_at"] if ended else mode["started_at"])

    def add(parent: ET.Element, tag: str, text: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{NS}}}{tag}")
        el.text = text
        return el

    add(alert, "identifier", f"{mode['id']}-cancel" if ended else mode["id"])
    add(alert, "sender", sender)
    add(alert, "sent", sent)
    add(alert, "status", "Actual")
    add(alert, "msgType", "Cancel" if ended else "Alert")
    add(alert, "scope", "Public")
    if ended:
        add(alert, "references", f"{sender},{mode['id']},{cap_time(mode['started_at'])}")
    if mode.get("incident_id"):
        add(alert, "incidents", mode["incident_id"])
    info = ET.SubElement(alert, f"{{{NS}}}info")
    add(info, "language", "zh-CN")
    for category in plan.cap.category:
        add(info, "category", category)
    add(info, "event", plan.cap.event)
    add(info, "urgency", "Past" if ended else plan.cap.urgency)
    add(info, "severity", plan.cap.severity)
    add(info, "certainty", plan.cap.certainty)
    add(info, "senderName", "城市网格化管理指挥中心 command-center")
    add(info, "headline", mode["title"])
    open_tasks = [t["title"] for t in mode["tasks"] if not t["done"]]
    description = f"{CLASS_NAMES.get(mode['class'], mode['class'])}：{mode['title']}（{plan.name}）"
    if open_tasks:
        description += "。处置中：" + "；".join(open_tasks)
    add(info, "description", description)
    area = ET.SubElement(info, f"{{{NS}}}area")
    center = mode["center"]
    add(area, "areaDesc", mode.get("area_name") or f"{center['lat']:.5f},{center['lon']:.5f}")
    add(area, "circle", f"{center['lat']:.6f},{center['lon']:.6f} {mode['radius_m'] / 1000:.3f}")
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)
