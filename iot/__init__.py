"""IoT sensors (物联感知): what devices publish, the kinds of device, the rules that turn
readings into alarm episodes, and the heartbeat that says which devices went silent.

Pure domain, no broker, no store and no HTTP. Flow, one way: `payload` (MQTT topic and bytes →
`Reading`s) → `series` (each device's recent readings, bounded) → `rules` (readings → episode
events, `rule_models` their validated configuration) ← `kinds` (each kind's readings, heartbeat
window and default rules, mapped to matters of configs/matters.yaml); `heartbeat` (last seen →
offline/online). The MQTT client (command_center/mqtt/), the device registry and the intake glue
build on these; nothing here imports them. See docs/IOT.md.
"""
