"""MQTT transport for IoT devices: the intake of readings and the export of events.

Modules: `config` (the `mqtt:` section), `handler` (the interface to what readings mean),
`connect` (one connection, the reconnect backoff), `intake` (broker → `Handler(topic,
payload)`, acknowledged after handling), `export` (bus incidents and cases → `cc/events/...`). What a payload means is not decided
here: the glue gives the intake a handler that parses and applies it, and the HTTP intake
for gateways (command_center/api/iot_intake.py) hands its bodies to the same handler.

The client library is aiomqtt (2.x) on paho-mqtt 2.x: both maintained, on PyPI, pure
Python. aiomqtt gives paho's client an asyncio face (async context manager, an async
message iterator, awaitable QoS 1 publishes) that fits the app's single event loop, with
no thread of its own. paho 2.x has what durable intake needs and most asyncio clients
lack: manual acknowledgement (`manual_ack_set` / `ack`), so a reading is PUBACKed only
after the handler stored it, not on arrival. aiomqtt does not expose that switch yet (its
issue #345); connect.py reaches paho's client for it, in two lines, pinned below 3.0.
gmqtt and amqtt were the alternatives: gmqtt has no manual ack, amqtt is a broker-first
project whose client sees little maintenance.

Nothing is imported here: `command_center.config` reads `mqtt.config` without loading the
client library.
"""
