"""The demo: a generated city, six simulated street cameras, a drone, simulated workers, and
a few hundred simulated IoT devices publishing through a real MQTT broker (demo_devices.py).

The demo's configuration is generated, so the detection zones sit where the
rendered scenes put their no-parking area. With the project's trained model
(models/grid-yolo.onnx) the zones carry the real rules; without it, the motion
detector's single rule: something that stays.
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from command_center.config import CameraConfig, Config, parse_config
from command_center.jobs import Job
from streams.sim import SimCameraSource
from vision.evaluate import SCENE_RULES, THRESHOLDS
from vision.rule_scores import EVENT_RULES
from vision.thresholds import load_thresholds

if TYPE_CHECKING:
    from command_center.camera_status import Cameras
    from command_center.city_map import CityMap
    from command_center.simulate import Handle
    from command_center.store import Store
    from dispatch.city.model import Area
    from iot.simulate import DeviceSpec

# Well-known places of Guangzhou (lon, lat), one camera each.
SITES: list[tuple[str, str, float, float, str]] = [
    ("tianhe-0001", "天河路 / 体育西路", 113.3245, 23.1365, "street"),
    ("yuexiu-0001", "北京路步行街", 113.2700, 23.1250, "plaza"),
    ("tianhe-0002", "珠江新城 花城广场", 113.3210, 23.1190, "plaza"),
    ("liwan-0001", "上下九路", 113.2450, 23.1190, "street"),
    ("haizhu-0001", "广州塔 · 阅江西路", 113.3245, 23.1064, "street"),
    ("baiyun-0001", "白云大道 / 黄石路", 113.2750, 23.1850, "street"),
]
DRONE_ID = "drone-01"
DRONE_KEY_NAME = "演示无人机 drone-01"
DRONE_SIM = "sim://drone?seed=5&route=113.3000,23.1200;113.3300,23.1250;113.3350,23.1400;113.3050,23.1380&speed=15&alt=120"
WIDTH, HEIGHT = 640, 360
MODEL = Path(__file__).resolve().parent.parent / "models" / "grid-yolo.onnx"
WHOLE_VIEW = [[0.0, 0.0], [WIDTH, 0.0], [WIDTH, HEIGHT], [0.0, HEIGHT]]
# The rendered scenes' zones → the rules that watch each (the rule evaluation scores what the
# demo runs); traffic lanes are not watched.
MODEL_RULES = SCENE_RULES
MOTION_RULES = {
    zone: ["illegal_parking" if zone in ("no-parking", "fire-lane") else "dwell"] for zone in MODEL_RULES if zone != "road"
}
LEFT_UNDONE = 5  # one case in this many the demo's worker reports done but leaves as it was


def demo_raw(
    data_dir: Path, port: int = 8000, fps: float = 5.0, simulate_workers: bool = True,
    broker: tuple[str, int] | None = None,
) -> dict[str, Any]:  # fmt: skip
    from scenes import SceneRenderer

    model = MODEL.exists()
    rules = MODEL_RULES if model else MOTION_RULES
    # A model without the standing problems' classes would take a banner or a crate pile for a
    # stall: its cameras stage only the events it can tell apart.
    kinds = "" if model and sees_every_class(MODEL) else "&kinds=classic"
    detector = (
        {"backend": "onnx", "model": str(MODEL), "imgsz": 320, "thresholds": load_thresholds(MODEL, THRESHOLDS)}
        if model
        else {"backend": "motion"}
    )
    cameras: list[dict[str, Any]] = []
    for i, (cam_id, name, lon, lat, kind) in enumerate(SITES):
        seed = 11 + i
        scene = SceneRenderer(seed=seed, width=WIDTH, height=HEIGHT, kind=kind)
        zones: list[dict[str, Any]] = [
            {"name": zone, "polygon": [list(map(float, p)) for p in polygon], "rules": rules[zone]}
            for zone, polygon in scene.zones.items()
            if zone in rules
        ]
        if model:
            zones.append({"name": "view", "polygon": WHOLE_VIEW, "rules": ["fire"]})
        cameras.append(
            {
                "id": cam_id,
                "name": name,
                "kind": "sim",
                "url": f"sim://{kind}?seed={seed}&width={WIDTH}&height={HEIGHT}{kinds}",
                "location": {"lon": lon, "lat": lat},
                "fps": fps,
                "zones": zones,
            }
        )
    # The drone's 4G feed arrives over WHIP, published by `drone_publisher` below.
    cameras.append(
        {
            "id": DRONE_ID,
            "name": "1 号无人机（4G，WHIP 推流）",
            "kind": "whip",
            "url": f"whip://{DRONE_ID}",
            "location": {"lon": 113.30, "lat": 23.12},
            "fps": fps,
            "mobile": True,  # its telemetry moves it (a WHIP camera is fixed unless declared so)
        }
    )
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port, "data_dir": str(data_dir)},
        "store": f"sqlite:///{data_dir / 'command-center.db'}",
        "bus": "memory",
        "city": {"generator": {"seed": 7, "districts": 11}},
        "detector": detector,
        "rules": {"dwell_s": 8.0, "cooldown_s": 45.0},
        "workers": {"simulate": simulate_workers},
        "webrtc": {"ice_hosts": ["127.0.0.1"]},
        "cameras": cameras,
    }
    if broker is not None:  # the simulated devices' readings come in as a city's would
        raw["mqtt"] = demo_mqtt(data_dir, broker)
    return raw


def demo_mqtt(data_dir: Path, broker: tuple[str, int]) -> dict[str, Any]:
    """The demo's `mqtt:` section: its intake on the broker, silent devices raising maintenance
    cases, no export; a session kept an hour (a test's demo leaves none for days on the broker)."""
    from command_center.demo_devices import client_ids

    return {
        "enabled": True, "host": broker[0], "port": broker[1], "client_id": client_ids(data_dir)[0],
        "session_expiry_s": 3600, "export": {"enabled": False}, "offline_cases": True,
    }  # fmt: skip


def sees_every_class(model: Path) -> bool:
    """Does the ONNX model name every class the scenes render (vision/classes.py)?"""
    import onnxruntime as ort

    from vision.classes import CLASSES

    names = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map.get("names", "")
    return all(f"'{name}'" in names for name in CLASSES)


def scene_clearing(cameras: Cameras, store: Store) -> Handle:
    """What the demo's workers do on site: the problem they report handled leaves the
    simulated camera's scene, so the camera's check (视频核查) can verify the case. One case
    in LEFT_UNDONE is reported done but left as it was, and the camera sends it back."""

    async def handle(case: dict[str, Any]) -> None:
        if case.get("source") != "video" or not case.get("incident_ids"):
            return
        if not case.get("returns") and zlib.crc32(case["id"].encode()) % LEFT_UNDONE == 0:
            return
        incident = await asyncio.to_thread(store.get_incident, case["incident_ids"][0])
        runner = cameras.runners.get(incident["camera_id"]) if incident else None
        source = runner.source if runner is not None else None
        if incident is None or not isinstance(source, SimCameraSource):
            return
        stamp = incident["ts"]  # the store gives ISO text (recording.py); scene_time wants epoch seconds
        wall = datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else float(stamp)
        then, now = source.scene_time(wall), source.scene_time()
        if then is None or now is None:
            return
        kinds = {kind for kind, rule in EVENT_RULES.items() if rule == incident["rule"]}
        for event in source.renderer.event_at(then):
            if event["kind"] in kinds:
                source.renderer.resolve(event["index"], now)

    return handle


def demo_config(
    data_dir: Path, port: int = 8000, simulate_workers: bool = True, broker: tuple[str, int] | None = None
) -> Config:
    return parse_config(demo_raw(data_dir, port, simulate_workers=simulate_workers, broker=broker), "<demo>")


def import_sample_city(config: Config) -> list[Area] | None:
    """On a fresh store, the generated sample city goes in as a city's own files would: its
    map and roster written as GeoJSON and CSV under data_dir/sample, then imported
    (registry/sample_city.py). A store that has a map already keeps it, and whatever an
    admin changed since. Returns the grids given base data (None: the store had a map)."""
    import sys
    import time

    from command_center.community_demo import seed_community
    from command_center.costs.sample import sample_lines
    from command_center.registry.sample_city import import_sample_city as run
    from command_center.registry.sample_city import sample_city, write_sample_files
    from command_center.store import create_store
    from command_center.store.cost_records import cost_store

    store = create_store(config.store)
    try:
        if store.latest_city_map() is not None:
            return None
        started = time.perf_counter()
        gen = config.city.generator
        assert gen is not None
        data_dir = config.server.data_dir
        city = sample_city(gen.seed, gen.districts, data_dir / "cache")
        files = write_sample_files(data_dir / "sample", city)
        print(f"importing the sample city from {files.grids.parent} (grids.geojson, roster.csv)...", file=sys.stderr)
        results = run(files, store, config, password=None)  # the demo's accounts are seeded at start
        counts = "; ".join(f"{r.kind}: " + ", ".join(f"{k} {v}" for k, v in r.counts.items() if v) for r in results)
        print(f"imported in {time.perf_counter() - started:.1f} s ({counts})", file=sys.stderr)
        grids = city.grids[:DEMO_BASE_DATA_GRIDS]
        seed_base_data(config, store, [(g.code, g.lon, g.lat) for g in grids])
        seed_community(config, store, city, grids)  # 服务超市 and 论坛 in the first grids' community
        year = datetime.now().year  # this year's budget lines: 成本效益 shows figures from the start
        cost_store(store).upsert_all(sample_lines(city, year), "demo")
        return grids
    finally:
        store.close()


DEMO_BASE_DATA_GRIDS, DEMO_PEOPLE, DEMO_DEVICES = 40, 8000, 300
DEVICES_AFTER_S = 20.0  # the simulated devices start reporting this long after the demo's jobs


def demo_devices(config: Config, grids: list[Area] | None = None, count: int = DEMO_DEVICES) -> list[DeviceSpec]:
    """The simulated IoT devices over the grids that have base data (`grids`, else the sample
    city's first, from its cache), registered on the demo's store (once:
    demo_devices.register_demo_devices)."""
    from command_center.demo_devices import register_demo_devices
    from command_center.registry.sample_city import sample_city
    from command_center.store import create_store

    gen = config.city.generator
    assert gen is not None
    if grids is None:  # a restart: the city was imported before
        grids = sample_city(gen.seed, gen.districts, config.server.data_dir / "cache").grids[:DEMO_BASE_DATA_GRIDS]
    store = create_store(config.store)
    try:
        places = {g.code: g.name for g in grids}
        return register_demo_devices(store, [(g.code, g.lon, g.lat) for g in grids], count, places=places)
    finally:
        store.close()


def seed_base_data(config: Config, store: Store, grids: list[tuple[str, float, float]]) -> None:
    """The first grids' base data (四标四实): addresses, buildings, households, people and
    organisations generated by basedata.sample, sealed under the demo's own key file (made
    under data_dir), so the pages have a grid's people to show, mask and reveal."""
    import sys

    from basedata.care_sample import LedgerSpec, memberships
    from basedata.protect import FieldCipher
    from basedata.sample import SampleSpec, generate
    from command_center.basedata_config import base_data_key
    from command_center.store.basedata_records import base_data_store
    from command_center.store.care_records import care_store

    records = base_data_store(store)
    key = base_data_key(records, config.basedata.key_path(config.server.data_dir))
    sample = list(generate(grids, SampleSpec(people=DEMO_PEOPLE), FieldCipher(key)))
    written = records.upsert_mixed(sample, "demo")
    # The special-group ledger of those people (joined over the last two years), so the care
    # pages, the overdue sweep and the care-demand forecast have something to work on.
    ledger = care_store(store)
    joined, city_today = 0, datetime.now(ZoneInfo(config.dispatch.timezone)).date()  # the city's, as the sweep's
    with store.batch():  # one transaction for the whole ledger, not one fsync per membership at start-up
        for membership in memberships(sample, LedgerSpec(today=city_today), config.basedata.care):
            ledger.add(membership, "demo")
            joined += 1
    print("base data: " + ", ".join(f"{kind} {n}" for kind, n in written.items()) + f", care ledger {joined}", file=sys.stderr)


def drone_key(store_url: str) -> str:
    """The demo drone's publish key (a real drone is given one by an admin on /admin): the
    previous run's rotated, else a new one. Returns the token, which the store never holds."""
    from command_center.auth.publish_keys import PublishKeys
    from command_center.store import create_store

    store = create_store(store_url)
    try:
        keys = PublishKeys(store)
        mine = [k for k in keys.list() if k.active and k.name == DRONE_KEY_NAME and k.stream == DRONE_ID]
        made = keys.rotate(mine[0].id) if mine else None
        if made is None:
            made = keys.create(DRONE_KEY_NAME, DRONE_ID, "演示：模拟无人机的发布密钥，每次启动演示时轮换", "demo")
        return made[1]
    finally:
        store.close()


async def drone_publisher(port: int, fps: float = 5.0, key: str | None = None) -> None:
    """The simulated drone, publishing its video and telemetry to our own WHIP endpoint
    with its publish key, as a real drone does."""
    from streams.sim import open_sim
    from streams.whip_client import publish_forever

    url = f"http://127.0.0.1:{port}/whip/{DRONE_ID}"
    await publish_forever(url, open_sim(DRONE_SIM, fps), ["127.0.0.1"], token=key)


def demo_jobs(
    port: int,
    key: str,
    broker: tuple[str, int] | None = None,
    devices: list[DeviceSpec] | None = None,
    data_dir: Path | None = None,
) -> dict[str, Job]:
    """The demo's own jobs: the drone, publishing to this server, and the simulated devices,
    publishing to the broker (`serve` adds the simulated workers too, which the demo's
    configuration asks for)."""
    jobs: dict[str, Job] = {"drone": lambda: drone_publisher(port, key=key)}
    if broker is not None and devices is not None:
        import time

        from command_center.demo_devices import DEMO_SEED, client_ids, device_publisher
        from iot.simulate import Simulator

        client = client_ids(data_dir)[1] if data_dir is not None else "cc-demo-devices"
        # the devices' clock starts once start-up has settled (cameras connecting, the model warming,
        # the first sign-ins): their first reports then spread over a period, not all at once
        jobs["devices"] = lambda: device_publisher(
            broker[0], broker[1], Simulator(devices, DEMO_SEED, time.time() + DEVICES_AFTER_S), client_id=client
        )
    return jobs


# ---- the start banner: every page's address, with the accounts to use ----

# (label, path, who signs in) per page, in the order a newcomer tries them.
PAGES: list[tuple[str, str, str]] = [
    ("wall", "/wall", "officer/officer, or district/district (one district)"),
    ("desk", "/desk", "officer/officer"),
    ("stats", "/stats", "officer/officer"),
    ("base data", "/basedata", "officer/officer"),
    ("terminal", "/terminal?worker={worker}", "{worker}/worker"),
    ("emergency", "/emergency", "emergency/emergency"),
    ("admin", "/admin", "admin/admin"),
    ("citizen", "/citizen", "public"),
    ("publish", "/publish", "public, with a publish key"),
    ("grid card", "/grid/{grid}", "public (三公开)"),
]


def page_urls(base: str, worker: str | None, grid: str | None) -> list[tuple[str, str, str]]:
    """(label, URL, who) of every page; a page that needs a worker or a grid is left out without one."""
    out = []
    for label, path, who in PAGES:
        if ("{worker}" in path and not worker) or ("{grid}" in path and not grid):
            continue
        out.append((label, base + path.format(worker=worker, grid=grid), who.format(worker=worker)))
    return out


def banner(base: str, accounts: list[str], worker: str | None, grid: str | None, demo: bool, simulated: bool) -> str:
    """What `demo` and `serve` print once the server is listening: where everything is, and as
    whom to sign in (the demo's documented accounts; `serve` names the pages only)."""
    rule = "-" * 78
    lines = ["", rule, f"  command-center is listening on {base}", ""]
    urls = page_urls(base, worker, grid)
    width = max(len(url) for _, url, _ in urls)
    for label, url, who in urls:
        lines.append(f"  {label:<10} {url:<{width}}" + (f"   {who}" if demo or who.startswith("public") else ""))
    lines.append(f"  {'api':<10} {base}/api/health   websocket: {base.replace('http', 'ws', 1)}/ws")
    if accounts:
        lines += ["", "  sign in as (username/password):", *(f"    {line}" for line in accounts)]
    if demo and simulated:
        lines += ["", "  simulated workers accept and handle every task; --no-simulated-workers leaves them to you"]
    lines += [rule, ""]
    return "\n".join(lines)


def a_camera_worker(city: CityMap, tz: tzinfo, cameras: list[CameraConfig]) -> str | None:
    """A worker on duty in the grid of the first camera: the terminal most likely to get tasks."""
    from datetime import datetime

    from dispatch.assign import pick_worker

    for cam in cameras:
        located = city.index.locate(cam.location.lon, cam.location.lat)
        if located and located.grid_code:
            worker = pick_worker(city.city, located.grid_code, datetime.now(tz), lambda ids: {})
            if worker:
                return worker.id
    return None
