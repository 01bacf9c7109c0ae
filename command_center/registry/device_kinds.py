"""The device kinds the registry accepts, in ONE place, taken from the IoT core's
(iot/kinds.py: each kind's readings, heartbeat window and rules; DESIGN.md §8 "MQTT (IoT)").

What a device's `kind` is checked against, what an import's 类型 column may say (the id, or
the kind's Chinese label, or a few names people also write), and the heartbeat window a
device without its own `heartbeat_s` is watched with.
"""

from __future__ import annotations

from dataclasses import dataclass

from iot.kinds import KINDS as IOT_KINDS


@dataclass(frozen=True, slots=True)
class DeviceKind:
    id: str
    zh: str  # the name an import's 类型 column may use (the pages name kinds from the catalogue)
    heartbeat_s: int  # silent this long: offline (a device's own heartbeat_s overrides it)


KINDS: dict[str, DeviceKind] = {
    name: DeviceKind(name, kind.label, int(kind.heartbeat_s)) for name, kind in IOT_KINDS.items()
}
# An import's 类型 cell: the id, or the Chinese label (with a few names people also write).
_BY_NAME = {k.zh: k.id for k in KINDS.values()} | {
    "烟雾": "smoke", "燃气": "gas", "可燃气体": "gas", "井盖": "manhole_tilt", "消火栓": "hydrant_pressure",
    "消防栓": "hydrant_pressure", "消防栓水压": "hydrant_pressure", "垃圾桶": "bin_fill",
}  # fmt: skip


def kind_of(text: str) -> str:
    """The kind a cell or a form names (its id, any case, or its Chinese name); ValueError otherwise."""
    found = text.strip().lower() if text.strip().lower() in KINDS else _BY_NAME.get(text.strip())
    if found is None:
        raise ValueError(f"unknown device kind {text!r}: one of {', '.join(KINDS)} (or 烟感, 燃气, 水位 …)")
    return found


def heartbeat_of(kind: str, own: int | None) -> int:
    """Seconds of silence after which the device counts as offline."""
    return own if own is not None else KINDS[kind].heartbeat_s
