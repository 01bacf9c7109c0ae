"""The one interface between the transports and what readings mean: `Handler(topic, payload)`.

The MQTT intake calls it for each message, the HTTP intake (api/iot_intake.py) for each
post, under the topic the sender would have published to; the IoT service (the glue) gives
one that parses and applies the readings. Kept apart so that the HTTP side does not load the
MQTT client library.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

# (topic, payload) → handled. Raises ValueError for a payload it cannot take (counted, logged
# with the reason, acknowledged; over HTTP a 400); any other exception is counted and logged
# with its traceback (over HTTP a 503).
Handler = Callable[[str, bytes], Awaitable[None]]
