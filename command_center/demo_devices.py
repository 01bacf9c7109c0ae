"""The demo's simulated IoT devices (issue 20): a few hundred devices of every kind registered on
the demo's store, publishing their readings through a real MQTT broker, where the demo's own
intake (mqtt.enabled) takes them like any city's devices' (docs/IOT.md, "The demo's devices").

- `register_demo_devices`: the fleet (iot/simulate.py) into the registry, once: ids already
  there are left as they are (an admin may have moved or retired one).
- `broker_for_demo`: the machine's broker on 127.0.0.1:1883 when one listens there; otherwise a
  private Mosquitto on a free loopback port, stopped when the demo exits; None when neither can
  be had (the demo then runs without devices, and says so).
- `device_publisher`: the job that publishes the simulator's messages at QoS 1, reconnecting
  with backoff when the broker goes away; it never takes the demo down with it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import socket
import subprocess
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from command_center.mqtt.config import MqttConfig
from command_center.mqtt.connect import Backoff, client_for, is_connected, lost
from command_center.registry.device_model import Device
from command_center.store import Store
from command_center.store.device_records import device_store
from iot.simulate import DeviceSpec, Message, Simulator, fleet

log = logging.getLogger(__name__)

DEMO_SEED = 20
MACHINE_BROKER = ("127.0.0.1", 1883)
PENDING_MAX = 20_000  # messages kept while the broker is away (a few minutes of the demo's fleet)
START_WAIT_S = 10.0


def client_ids(data_dir: Path) -> tuple[str, str]:
    """(intake, publisher) client ids of the demo in `data_dir`: fixed for that folder, so a
    restarted demo resumes its broker session, and distinct between folders, so that two demos
    on the machine's broker (a test's and yours) do not take each other's sessions over."""
    tag = f"{zlib.crc32(str(data_dir.resolve()).encode()):08x}"
    return f"cc-demo-intake-{tag}", f"cc-demo-devices-{tag}"


def register_demo_devices(
    store: Store,
    grids: Sequence[tuple[str, float, float]],
    count: int,
    seed: int = DEMO_SEED,
    places: Mapping[str, str] | None = None,
) -> list[DeviceSpec]:
    """The fleet (all of it, registered now or before), in ONE transaction: new ids added, known
    ones skipped. A known live one is touched (last seen now): the demo was off, and so were its
    devices; without it, the first heartbeat sweep after a restart would find them all silent
    and raise a maintenance case for each."""
    specs = fleet(grids, count, seed, places)
    records = device_store(store)
    known = records.registered(spec.id for spec in specs)
    new = [_device(spec) for spec in specs if spec.id not in known]
    now = datetime.now(UTC)
    with store.batch():
        if new:
            records.upsert_all(new, by="demo")
        for spec in specs:
            if known.get(spec.id):
                records.touch(spec.id, now)
    print(f"simulated devices: {len(new)} registered, {len(specs) - len(new)} there already", file=sys.stderr)
    return specs


def _device(spec: DeviceSpec) -> Device:
    fields = ("id", "name", "kind", "lon", "lat", "grid_code", "address", "heartbeat_s")
    return Device.model_validate({name: getattr(spec, name) for name in fields})


def listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def broker_for_demo(data_dir: Path, machine: tuple[str, int] = MACHINE_BROKER) -> tuple[str, int] | None:
    """(host, port) of a broker for the demo, or None (said on stderr)."""
    if listening(*machine):
        return machine
    binary = shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin:/usr/local/bin:/usr/bin")
    if binary is None:
        print("no MQTT broker (nothing on 127.0.0.1:1883, mosquitto not installed): "
              "the demo runs without simulated devices", file=sys.stderr)  # fmt: skip
        return None
    home = data_dir / "mosquitto"
    home.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = home / "mosquitto.conf"
    # max_queued_messages: Mosquitto's 1,000 would drop readings of an intake behind (docs/IOT_MQTT.md);
    # max_inflight_messages 200: larger group commits in the intake (20 by default).
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"max_queued_messages 100000\nmax_inflight_messages 200\nlog_dest file {home}/mosquitto.log\n"
    )
    process = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_WAIT_S
    while not listening("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            print(f"mosquitto did not start (see {home}/mosquitto.log): the demo runs without "
                  "simulated devices", file=sys.stderr)  # fmt: skip
            return None
        time.sleep(0.05)
    _started.append(process)
    print(f"started a private MQTT broker on 127.0.0.1:{port} for the simulated devices", file=sys.stderr)
    return "127.0.0.1", port


_started: list[subprocess.Popen[bytes]] = []


@atexit.register
def stop_private_brokers() -> None:
    """Stop the brokers `broker_for_demo` started (at exit; a test's teardown)."""
    while _started:
        _stop(_started.pop())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def device_publisher(
    host: str,
    port: int,
    simulator: Simulator,
    client_id: str = "cc-demo-devices",
    clock: Callable[[], float] = time.time,
    tick_s: float = 1.0,
) -> None:
    """Publish what the simulator has due, every `tick_s`, at QoS 1 from a clean session. While
    the broker is away the devices go on measuring: their messages wait (the oldest dropped past
    PENDING_MAX) and go out after the reconnect, in order."""
    config = MqttConfig(enabled=True, host=host, port=port, reconnect_min_s=0.5, reconnect_max_s=30.0)
    backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
    pending: deque[Message] = deque(maxlen=PENDING_MAX)
    while True:
        client = client_for(config, client_id, persistent=False)
        try:
            async with client:
                backoff.reset()
                while True:
                    pending.extend(simulator.tick(clock()))
                    while pending:
                        message = pending[0]
                        await client.publish(message.topic, message.payload, qos=1)
                        pending.popleft()  # only once the broker has it (PUBACK)
                    await asyncio.sleep(tick_s)
        except Exception as exc:  # the broker went away or refused us: try again, never crash the demo
            lost("demo devices", config, exc)
            is_connected(client)  # takes the disconnection's error: asyncio would warn of it at exit
        pending.extend(simulator.tick(clock()))
        await asyncio.sleep(backoff.next())
