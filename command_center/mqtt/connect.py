"""One connection to the broker from the config, and the pause between tries.

Each try makes a new `aiomqtt.Client`: aiomqtt's default `clean_start` is "clean on the
first connect of this client object", which would throw the broker's session away on
every restart of the service; we pass "never clean" (MQTT 5, with a session expiry) or
clean_session=False (MQTT 3.1.1), so the broker keeps the subscription and queues QoS 1
messages while we are away.
"""

from __future__ import annotations

import logging
import random
import ssl

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from command_center.mqtt.config import MqttConfig

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    """The TLS context for the broker, or None for plain TCP (loopback, tests)."""
    tls = config.tls
    if not tls.enabled:
        return None
    context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if tls.cert is not None and tls.key is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context


def client_for(
    config: MqttConfig, client_id: str, manual_ack: bool = False, persistent: bool = True
) -> aiomqtt.Client:
    """A client that resumes the broker's session for `client_id` (`persistent`, the
    intake's), or starts a clean one (the export's: nothing for the broker to keep).
    `manual_ack`: incoming QoS 1 messages are acknowledged by the caller (`acknowledge`),
    not on arrival."""
    v5 = config.protocol == "5"
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = config.session_expiry_s if persistent else 0
    client = aiomqtt.Client(
        config.host,
        config.port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        clean_session=None if v5 else not persistent,
        # paho refuses a clean-start flag on 3.1.1; there `clean_session` says it
        clean_start=(not persistent) if v5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
        username=config.username,
        password=config.secret() if config.username else None,
        keepalive=config.keepalive_s,
        timeout=CONNECT_TIMEOUT_S,
        tls_context=tls_context(config),
        max_inflight_messages=config.max_inflight,
    )
    if manual_ack:
        # aiomqtt has no public switch yet (its issue #345 / PR #346); paho 2.x has one. Set
        # before connecting: a resumed session's queued messages arrive right after CONNACK.
        client._client.manual_ack_set(True)
    return client


def lost(what: str, config: MqttConfig, exc: Exception) -> str:
    """Log a failed or broken connection; the reason, for the counters. A broker or network
    problem is a warning; anything else (a bug, a bad TLS setting) comes with its traceback."""
    reason = f"{type(exc).__name__}: {exc}"
    expected = isinstance(exc, aiomqtt.MqttError | OSError)
    log.warning("mqtt %s %s:%s: %s", what, config.host, config.port, reason, exc_info=not expected)
    return reason


def is_connected(client: aiomqtt.Client) -> bool:
    """Is the connection still up? (aiomqtt tells only a message iterator or a failed call.)"""
    gone = client._disconnected
    if gone.done():
        if not gone.cancelled():
            gone.exception()  # marks it retrieved: asyncio would warn of it at exit otherwise
        return False
    return bool(client._client.is_connected())


def acknowledge(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    """PUBACK (QoS 1) or PUBCOMP (QoS 2) for a message taken with manual_ack."""
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)


class Backoff:
    """Exponential pauses between reconnects, from `low` to `high`, with jitter (so that many
    nodes do not hammer a broker that just came back all at once)."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self.current = low

    def next(self) -> float:
        pause = self.current
        self.current = min(self.high, self.current * 2)
        return pause * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.current = self.low
