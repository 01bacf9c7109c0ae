"""The `mqtt:` section: the broker, the intake's session and topics, and the export.

Off by default. A production broker wants TLS (`tls.ca`, and `tls.cert`/`tls.key` where
the broker asks clients for certificates) and its own account for the command center
(`username` with `password_file`, never a password in the config file); devices get
per-device accounts with an ACL that lets each publish only its own topic (docs/IOT.md,
"MQTT transport").
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEVICE_TOPIC = "cc/devices/+/readings"
GATEWAY_TOPIC = "cc/gateways/+/readings"
CLIENT_ID = (
    r"^[A-Za-z0-9._-]{1,64}$"  # the broker keeps the session under it: fixed, and readable in its logs
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttTlsConfig(_Strict):
    """TLS to the broker (port 8883 as a rule). `ca` alone: the server is verified, the
    client is known by username and password; with `cert` and `key`: a client certificate."""

    enabled: bool = False
    ca: Path | None = Field(
        default=None, description="CA bundle that signed the broker's certificate; unset: the system's"
    )
    cert: Path | None = Field(
        default=None, description="this client's certificate (PEM), where the broker asks for one"
    )
    key: Path | None = Field(default=None, description="its private key (PEM)")

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


class MqttExportConfig(_Strict):
    """Incidents and case state changes published for other city systems (as Frigate does)."""

    enabled: bool = False
    prefix: str = Field(
        default="cc/events",
        min_length=1,
        max_length=128,
        description="topics: <prefix>/incidents/<id>, <prefix>/cases/<id>",
    )
    retain: bool = Field(
        default=False,
        description="the broker keeps each incident's and case's last state for new subscribers",
    )
    buffer: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="events held while the broker is down; past it the oldest are dropped (counted)",
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("a plain topic prefix: no wildcards, no leading or trailing '/'")
        return value


class MqttConfig(_Strict):
    """The MQTT client of the command center (command_center/mqtt/)."""

    enabled: bool = Field(default=False, description="connect to the broker: take in devices' readings")
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str = Field(
        default="command-center",
        pattern=CLIENT_ID,
        description="fixed: the broker keeps the intake's session (and what came while it was away) under it; "
        "the export connects as <client_id>-export",
    )
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT version")
    username: str | None = Field(default=None, min_length=1)
    password_file: Path | None = Field(
        default=None, description="a file holding the password (first line), kept out of the config"
    )
    password: str | None = Field(
        default=None, min_length=1, description="for tests and demos; prefer password_file"
    )
    tls: MqttTlsConfig = Field(default_factory=MqttTlsConfig)
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    topics: list[str] = Field(
        default_factory=lambda: [DEVICE_TOPIC, GATEWAY_TOPIC], min_length=1, max_length=32
    )
    qos: Literal[1, 2] = Field(default=1, description="the subscription's QoS: 1 (at least once) or 2")
    session_expiry_s: int = Field(
        default=7 * 86400,
        ge=60,
        le=0xFFFFFFFE,
        description="MQTT 5: how long the broker keeps the session (and queues readings) while the intake is away; "
        "MQTT 3.1.1 keeps it until the broker's own persistent_client_expiration",
    )
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    max_inflight: int = Field(
        default=20, ge=1, le=65535, description="our own QoS 1 publishes (the export) unacknowledged at once"
    )
    batch_max: int = Field(
        default=500,
        ge=1,
        le=10000,
        description="the intake's group commit: at most this many messages already received are handled in "
        "one transaction and then acknowledged (the broker's max_inflight_messages bounds it too)",
    )
    export: MqttExportConfig = Field(default_factory=MqttExportConfig)
    offline_cases: bool = Field(
        default=False,
        description="a device silent past its heartbeat window raises a maintenance case (9908)",
    )

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str]) -> list[str]:
        for topic in value:
            if not topic or "\0" in topic or len(topic) > 256:
                raise ValueError(f"bad topic filter {topic!r}")
            for i, level in enumerate(topic.split("/")):
                if ("#" in level and (level != "#" or i != topic.count("/"))) or (
                    "+" in level and level != "+"
                ):
                    raise ValueError(
                        f"bad topic filter {topic!r}: + and # stand alone in a level, # only last"
                    )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s is over reconnect_max_s")
        if self.password is not None and self.password_file is not None:
            raise ValueError("password and password_file: give one")
        if (self.password is not None or self.password_file is not None) and self.username is None:
            raise ValueError("a password needs a username")
        return self

    def secret(self) -> str | None:
        """The password, read from `password_file` on each connect (a rotated one is picked up)."""
        if self.password_file is not None:  # unreadable: OSError, which the connect loop logs and retries
            lines = self.password_file.read_text(encoding="utf-8").splitlines()
            return lines[0].strip() if lines else ""
        return self.password
