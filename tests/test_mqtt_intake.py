"""The MQTT intake against a real Mosquitto (a private one per module, tests/mqtt_broker.py):
readings published with mosquitto_pub reach the handler; nothing published while the intake
is down is lost or handled twice (persistent session, PUBACK after handling); a handler's
error is counted and the next message still handled; a broker restart is survived."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from command_center.mqtt.config import MqttConfig
from command_center.mqtt.intake import Intake
from tests.mqtt_broker import Broker, listening

DEVICE = "cc/devices/smoke-0001/readings"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


def config(broker: Broker, **more: Any) -> MqttConfig:
    """A fixed client id of the test's own: the broker's session for it is the test's."""
    return MqttConfig(
        enabled=True, port=broker.port, client_id=f"t-{uuid.uuid4().hex[:10]}", reconnect_min_s=0.1, reconnect_max_s=0.5,
        **more,
    )  # fmt: skip


class Recorder:
    """A handler that keeps the sequence numbers it was given (payload {"seq": n})."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.seqs: list[int] = []
        self.topics: list[str] = []
        self.fail_on = fail_on

    async def __call__(self, topic: str, payload: bytes) -> None:
        seq = json.loads(payload)["seq"]
        if seq == self.fail_on:
            raise ValueError(f"no such reading as {seq}")
        self.seqs.append(seq)
        self.topics.append(topic)


def payloads(n: int, start: int = 0) -> list[str]:
    return [json.dumps({"seq": i, "readings": {"smoke": 0.01 * i}}) for i in range(start, start + n)]


async def running(intake: Intake) -> asyncio.Task[None]:
    task = asyncio.create_task(intake.run())
    await asyncio.wait_for(intake.subscribed.wait(), 10)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 60))


def test_a_reading_published_with_mosquitto_pub_reaches_the_handler(broker: Broker) -> None:
    async def scenario() -> None:
        handler = Recorder()
        intake = Intake(config(broker), handler)
        task = await running(intake)
        await asyncio.to_thread(broker.publish, DEVICE, payloads(3))
        await asyncio.to_thread(broker.publish, "cc/gateways/gw-01/readings", payloads(1, start=3))
        await asyncio.to_thread(broker.publish, "cc/other/topic", payloads(1, start=9))  # not subscribed
        await until(lambda: len(handler.seqs) >= 4)
        await asyncio.sleep(0.3)
        await stop(task)
        assert handler.seqs == [0, 1, 2, 3]
        assert handler.topics == [DEVICE] * 3 + ["cc/gateways/gw-01/readings"]
        assert (intake.counters.received, intake.counters.handled, intake.counters.errors) == (4, 4, 0)

    run(scenario)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_readings_sent_while_the_intake_is_down_all_arrive_once(broker: Broker, protocol: str) -> None:
    """Subscribe, stop, publish 100 QoS 1 readings, start again: all 100, none twice."""

    async def scenario() -> None:
        cfg = config(broker, protocol=protocol)
        await stop(await running(Intake(cfg, Recorder())))  # the session exists now, with its subscription
        await asyncio.to_thread(broker.publish, DEVICE, payloads(100))
        handler = Recorder()
        intake = Intake(cfg, handler)
        task = await running(intake)
        await until(lambda: len(handler.seqs) >= 100)
        await asyncio.sleep(1.0)  # time for a duplicate to show
        await stop(task)
        counts = Counter(handler.seqs)
        assert sorted(counts) == list(range(100)), sorted(set(range(100)) - set(counts))
        assert max(counts.values()) == 1, [seq for seq, n in counts.items() if n > 1]

    run(scenario)


def test_a_reading_whose_handling_was_cut_off_comes_again(broker: Broker) -> None:
    """PUBACK only after the handler returned: the intake stopped while handling #3 gets #3
    again from the broker on the next start (with acknowledgement on arrival it was lost)."""

    async def scenario() -> None:
        cfg = config(broker)
        stuck = asyncio.Event()

        async def hangs_on_3(topic: str, payload: bytes) -> None:
            if json.loads(payload)["seq"] == 3:
                stuck.set()
                await asyncio.Event().wait()  # never returns: cut off by the stop

        first = await running(Intake(cfg, hangs_on_3))
        await asyncio.to_thread(broker.publish, DEVICE, payloads(6))
        await asyncio.wait_for(stuck.wait(), 10)
        await stop(first)
        handler = Recorder()
        task = await running(Intake(cfg, handler))
        await until(lambda: 5 in handler.seqs)
        await stop(task)
        assert handler.seqs[0] == 3 and sorted(handler.seqs) == [3, 4, 5], handler.seqs

    run(scenario)


def test_a_failing_handler_is_counted_logged_with_the_topic_and_the_next_is_handled(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        handler = Recorder(fail_on=2)
        intake = Intake(config(broker), handler)
        task = await running(intake)
        await asyncio.to_thread(broker.publish, DEVICE, payloads(5))
        await until(lambda: 4 in handler.seqs)
        await stop(task)
        assert handler.seqs == [0, 1, 3, 4]
        assert (intake.counters.received, intake.counters.handled, intake.counters.errors) == (5, 4, 1)

    with caplog.at_level(logging.WARNING, logger="command_center.mqtt.intake"):
        run(scenario)
    failed = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(failed) == 1 and DEVICE in failed[0] and "no such reading as 2" in failed[0], failed


def test_a_handler_bug_is_logged_with_its_traceback_and_the_loop_goes_on(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        seen: list[int] = []

        async def buggy(_topic: str, payload: bytes) -> None:
            seq = json.loads(payload)["seq"]
            if seq == 0:
                raise KeyError("device table")
            seen.append(seq)

        intake = Intake(config(broker), buggy)
        task = await running(intake)
        await asyncio.to_thread(broker.publish, DEVICE, payloads(2))
        await until(lambda: seen == [1])
        await stop(task)
        assert intake.counters.errors == 1

    with caplog.at_level(logging.ERROR, logger="command_center.mqtt.intake"):
        run(scenario)
    failed = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failed) == 1 and DEVICE in failed[0].getMessage() and failed[0].exc_info is not None


def test_a_failed_message_is_not_sent_again(broker: Broker) -> None:
    """The failing message was acknowledged: a restart does not bring it back forever."""

    async def scenario() -> None:
        cfg = config(broker)
        failing = Intake(cfg, Recorder(fail_on=0))
        task = await running(failing)
        await asyncio.to_thread(broker.publish, DEVICE, payloads(1))
        await until(lambda: failing.counters.errors == 1)
        await stop(task)
        handler = Recorder()
        task = await running(Intake(cfg, handler))
        await asyncio.sleep(1.0)
        await stop(task)
        assert handler.seqs == []

    run(scenario)


class BatchRecorder:
    """A BatchHandler (as the IoT loop): a group of messages per call, a refusal per message."""

    def __init__(self, fail_on: int | None = None, hang_on: int | None = None) -> None:
        self.seqs: list[int] = []
        self.sizes: list[int] = []
        self.fail_on, self.hang_on = fail_on, hang_on
        self.stuck = asyncio.Event()

    async def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[Exception | None]:
        seqs = [json.loads(payload)["seq"] for _, payload in messages]
        if self.hang_on in seqs:
            self.stuck.set()
            await asyncio.Event().wait()  # cut off by the stop: none of the group is acknowledged
        self.sizes.append(len(seqs))
        self.seqs += [seq for seq in seqs if seq != self.fail_on]
        return [ValueError(f"no such reading as {seq}") if seq == self.fail_on else None for seq in seqs]


def test_a_batch_handler_takes_what_arrived_together_in_one_call_each_once(broker: Broker) -> None:
    """The group commit: 100 readings queued while down come in groups (fewer calls than
    messages), each once; a refused one is refused alone."""

    async def scenario() -> None:
        cfg = config(broker)
        await stop(await running(Intake(cfg, BatchRecorder())))
        await asyncio.to_thread(broker.publish, DEVICE, payloads(100))
        handler = BatchRecorder(fail_on=50)
        intake = Intake(cfg, handler)
        task = await running(intake)
        await until(lambda: len(handler.seqs) >= 99)
        await asyncio.sleep(1.0)  # time for a duplicate to show
        await stop(task)
        assert sorted(handler.seqs) == [i for i in range(100) if i != 50] and len(set(handler.seqs)) == 99
        assert max(handler.sizes) > 1 and intake.counters.batches < 100, handler.sizes
        assert (intake.counters.received, intake.counters.handled, intake.counters.errors) == (100, 99, 1)

    run(scenario)


def test_a_group_cut_off_before_its_commit_comes_again_whole(broker: Broker) -> None:
    """Nothing of a group is acknowledged before the handler returned: stopped inside the
    group holding #3, the next start gets #3 and everything after it again."""

    async def scenario() -> None:
        cfg = config(broker)
        first = BatchRecorder(hang_on=3)
        task = await running(Intake(cfg, first))
        await asyncio.to_thread(broker.publish, DEVICE, payloads(6))
        await asyncio.wait_for(first.stuck.wait(), 10)
        await stop(task)
        handler = BatchRecorder()
        task = await running(Intake(cfg, handler))
        await until(lambda: 5 in handler.seqs)
        await stop(task)
        assert sorted(set(first.seqs) | set(handler.seqs)) == list(range(6)), (first.seqs, handler.seqs)
        assert 3 in handler.seqs and 3 not in first.seqs

    run(scenario)


def test_the_intake_reconnects_after_a_broker_restart(tmp_path: Path) -> None:
    restartable = Broker(tmp_path).start()

    async def scenario() -> None:
        handler = Recorder()
        intake = Intake(config(restartable), handler)
        task = await running(intake)
        await asyncio.to_thread(restartable.publish, DEVICE, payloads(1))
        await until(lambda: handler.seqs == [0])
        restartable.stop()
        await until(lambda: not intake.counters.connected)
        await asyncio.sleep(1.0)  # a few tries against the closed port
        assert intake.counters.reconnects >= 1 and intake.counters.last_error
        restartable.start()
        await until(lambda: intake.subscribed.is_set())
        await asyncio.to_thread(restartable.publish, DEVICE, payloads(2, start=1))
        await until(lambda: len(handler.seqs) >= 3)
        await stop(task)
        assert handler.seqs == [0, 1, 2]
        assert intake.counters.connects == 2

    try:
        run(scenario)
    finally:
        restartable.stop()


def test_the_machines_broker_answers_on_1883() -> None:
    """What .ci/run starts: the broker the demo and the IoT tests of the glue use."""
    if not listening(1883):
        pytest.skip("no broker on 127.0.0.1:1883 (.ci/run starts one)")

    async def scenario() -> None:
        handler = Recorder()
        cfg = MqttConfig(
            enabled=True, client_id=f"t-{uuid.uuid4().hex[:10]}", topics=[f"cc/test/{uuid.uuid4().hex}/+"]
        )
        task = await running(Intake(cfg, handler))
        topic = cfg.topics[0].replace("+", "x")
        await asyncio.to_thread(
            subprocess.run,
            ["mosquitto_pub", "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", '{"seq": 7}'],
            check=True,
        )
        await until(lambda: handler.seqs == [7])
        await stop(task)

    run(scenario)


def test_the_mqtt_config_is_checked_at_load(tmp_path: Path) -> None:
    from command_center.config import ConfigError, parse_config

    assert parse_config({}).mqtt.enabled is False  # off unless asked for
    bad = {
        "topics": ["cc/devices/#/readings", "cc/x+/y"],
        "client_id": "has space",
        "tls": {"enabled": True, "cert": "/etc/c.pem"},
        "export": {"prefix": "cc/events/#"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config({"mqtt": bad})
    problems = "\n".join(caught.value.errors)
    for where in ("mqtt.topics", "mqtt.client_id", "mqtt.tls", "mqtt.export.prefix"):
        assert where in problems, problems
    with pytest.raises(ConfigError, match="reconnect_min_s"):
        parse_config({"mqtt": {"reconnect_min_s": 5, "reconnect_max_s": 1}})
    secret = tmp_path / "mqtt.password"
    secret.write_text("s3cret\n")
    cfg = parse_config({"mqtt": {"username": "cc", "password_file": str(secret)}}).mqtt
    assert cfg.secret() == "s3cret"
    with pytest.raises(ConfigError, match="needs a username"):
        parse_config({"mqtt": {"password": "x"}})


def test_a_broker_with_accounts_takes_the_password_file_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    locked = Broker(tmp_path, accounts={"command-center": "right horse battery"}).start()
    secret = tmp_path / "mqtt.password"

    async def scenario() -> None:
        secret.write_text("wrong\n")
        handler = Recorder()
        intake = Intake(config(locked, username="command-center", password_file=secret), handler)
        task = asyncio.create_task(intake.run())
        await until(lambda: intake.counters.reconnects >= 1)
        assert not intake.counters.connected and "authoriz" in (intake.counters.last_error or "").lower()
        secret.write_text(
            "right horse battery\n"
        )  # read again at the next try: a rotated password is picked up
        await asyncio.wait_for(intake.subscribed.wait(), 10)
        await asyncio.to_thread(locked.publish, DEVICE, payloads(2))
        await until(lambda: handler.seqs == [0, 1])
        await stop(task)

    try:
        run(scenario)
    finally:
        locked.stop()
