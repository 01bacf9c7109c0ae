"""The `command-center` command."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from command_center import assessment_job, model_cli, stats_generate
from command_center.config import Config, ConfigError, load_config
from command_center.costs import sample as cost_sample
from command_center.importing import cli as import_cli

if TYPE_CHECKING:
    from command_center.jobs import Job

BENCHMARKS = ("route", "ingest", "detect", "cases", "hub", "scale", "blur", "login", "import", "basedata", "iot", "stats", "chat", "forecast", "basedata-analysis")
# A benchmark's module under bench/, where its name is not one (`import` is a keyword).
BENCH_MODULES = {"import": "imports", "basedata-analysis": "basedata_analysis"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = {
        "demo": _demo,
        "serve": _serve,
        "worker": _worker,
        "check-config": _check_config,
        "migrate": _migrate,
        "grids": _grids,
        "import": lambda args: import_cli.run(args, _load_or_exit),
        "audit": _audit,
        "db": _db,
        "bench": _bench,
        "stats": lambda args: stats_generate.run_command(args, _load_or_exit),
        "costs": lambda args: cost_sample.run_command(args, _load_or_exit),
        "assess": lambda args: assessment_job.run_command(args, _load_or_exit),
    }
    if args.command in model_cli.HANDLERS:
        return model_cli.HANDLERS[args.command](args, _load_or_exit)
    return handlers[args.command](args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="command-center", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _server_commands(sub)
    _store_commands(sub)
    _tool_commands(sub)
    import_cli.add_commands(sub)
    model_cli.add_commands(sub)
    stats_generate.add_commands(sub)
    cost_sample.add_commands(sub)
    assessment_job.add_commands(sub)
    return parser


def _server_commands(sub: Any) -> None:  # sub: argparse's private _SubParsersAction
    """demo, serve, worker."""
    demo = sub.add_parser("demo", help="run on embedded defaults with simulated cameras, drone and workers")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    demo.add_argument("--no-simulated-workers", action="store_true", help="leave every task to people")

    serve = sub.add_parser("serve", help="run from a configuration file")
    serve.add_argument("--config", required=True, type=Path)
    serve.add_argument("--port", type=int)
    serve.add_argument("--host")

    worker = sub.add_parser("worker", help="a detection worker: sources and vision for the cameras it leases")
    worker.add_argument("--config", required=True, type=Path, help="the serve nodes' configuration (bus: redis://...)")
    worker.add_argument("--id", help="this worker's name in Redis (default: host-pid-random)")


def _store_commands(sub: Any) -> None:
    """check-config, migrate, audit, db: the configuration and the store."""
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", type=Path)

    migrate = sub.add_parser("migrate", help="apply the store's pending schema migrations")
    target = migrate.add_mutually_exclusive_group(required=True)
    target.add_argument("--config", type=Path, help="the store of this configuration file")
    target.add_argument("--store", help="a store URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB")

    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="walk the audit log's hash chain; exit 1 naming the first bad row")
    verify.add_argument("--config", type=Path, help="the store of this configuration file (default: the built-in one)")

    db = sub.add_parser("db", help="store maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_check = db_sub.add_parser("check", help="integrity (SQLite) or connectivity (PostgreSQL) and schema version")
    db_check.add_argument("--config", type=Path)
    db_backup = db_sub.add_parser("backup", help="a consistent online copy of a SQLite store")
    db_backup.add_argument("--to", required=True, type=Path, help="the backup file (replaced atomically)")
    db_backup.add_argument("--config", type=Path)


def _tool_commands(sub: Any) -> None:
    """grids: locate a point, validate a map of areas; bench."""
    grids = sub.add_parser("grids", help="grid tools")
    grids_sub = grids.add_subparsers(dest="grids_command", required=True)
    locate = grids_sub.add_parser("locate", help="print the grid path of a point as JSON")
    locate.add_argument("lon", type=float)
    locate.add_argument("lat", type=float)
    locate.add_argument("--config", type=Path)
    validate = grids_sub.add_parser("validate", help="check a GeoJSON map of areas; exit 2 listing every problem")
    validate.add_argument("file", type=Path)
    validate.add_argument("--overlap-m2", type=float, default=10.0, help="overlap area tolerated between neighbours")
    validate.add_argument("--overlap-share", type=float, default=0.001, help="... or this share of the smaller area")
    validate.add_argument("--json", action="store_true", help="one JSON object with the summary and problems")

    bench = sub.add_parser("bench", help="benchmarks; the last line is 'ratio: X.XX' against a baseline")
    bench.add_argument("name", choices=BENCHMARKS)
    bench.add_argument("args", nargs=argparse.REMAINDER, help="options of the benchmark (see NAME --help)")


def _check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        print(f"{len(exc.errors)} error(s) in {args.file}", file=sys.stderr)
        return 2
    print(f"{args.file}: ok ({len(config.cameras)} cameras, store {redacted(config.store)}, bus {redacted(config.bus)})")
    return 0


def redacted(url: str) -> str:
    """A store or bus URL fit to print: its password (user:PASSWORD@ or ?password=) as ***."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = parts.query
    if "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing secret (and sqlite:///path keeps its slashes)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _migrate(args: argparse.Namespace) -> int:
    from command_center.store.upgrade import migrate_url

    url = _load_or_exit(args.config).store if args.config else args.store
    try:
        applied, version = migrate_url(url)
    except (ValueError, ConnectionError) as exc:
        print(exc, file=sys.stderr)
        return 2
    for label in applied:
        print(f"applied {label}")
    print(f"{redacted(url)}: schema at version {version}" + ("" if applied else " (nothing to do)"))
    return 0


def _audit(args: argparse.Namespace) -> int:
    from command_center.dbtools import report, verify_audit

    config = _load_or_exit(args.config) if args.config else Config()
    return report(*verify_audit(config.store))


def _db(args: argparse.Namespace) -> int:
    from command_center.dbtools import backup, check, report

    config = _load_or_exit(args.config) if args.config else Config()
    if args.db_command == "check":
        ok, message = check(config.store)
        return report(0 if ok else 1, message)
    return report(*backup(config.store, args.to))


def _load_or_exit(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> int:
    config = _load_or_exit(args.config)
    if args.port is not None:
        config.server.port = args.port
    if args.host is not None:
        config.server.host = args.host
    return _run(config)


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from command_center.worker import WorkerError, check_worker_config, run_worker

    config = _load_or_exit(args.config)
    try:
        check_worker_config(config)
    except WorkerError as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_worker(config, args.id))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from command_center.demo import demo_config, demo_devices, demo_jobs, drone_key, import_sample_city
    from command_center.demo_devices import broker_for_demo

    args.data_dir.mkdir(parents=True, exist_ok=True)
    broker = broker_for_demo(args.data_dir)  # None: no devices (said on stderr)
    config = demo_config(args.data_dir, args.port, simulate_workers=not args.no_simulated_workers, broker=broker)
    config.server.host = args.host
    grids = import_sample_city(config)  # the demo's city goes in through the importer, as a real city's would
    devices = demo_devices(config, grids) if broker else None  # registered over the grids with base data
    key = drone_key(config.store)  # the drone publishes with a key, as a real one must
    return _run(config, demo=True, jobs=demo_jobs(args.port, key, broker, devices, args.data_dir))


def _run(config: Config, demo: bool = False, jobs: dict[str, Job] | None = None) -> int:
    import uvicorn

    from command_center.app import build_app
    from command_center.auth.seed import seed_users
    from command_center.demo import a_camera_worker, banner, scene_clearing
    from command_center.hub import MAX_MESSAGE
    from command_center.runtime import Runtime
    from command_center.simulate import add_simulated_workers

    print("building the city and starting cameras...", file=sys.stderr)
    rt = Runtime(config)
    for name, job in (jobs or {}).items():
        rt.jobs.add(name, job)
    add_simulated_workers(rt.jobs, rt.bus, rt.casework, config.workers, scene_clearing(rt.cameras, rt.store))
    accounts = seed_users(rt.auth.users, rt.city, config.cameras, demo)
    worker = a_camera_worker(rt.city, rt.dispatcher.tz, config.cameras)
    grid = rt.city.workers[worker].grid_code if worker else None
    base = f"http://{config.server.host}:{config.server.port}"
    text = banner(base, accounts, worker, grid, demo, config.workers.simulate)
    app = build_app(rt)
    settle_heap()
    # proxy_headers=False: uvicorn would believe X-Forwarded-For from any loopback client;
    # the app believes it only from server.trusted_proxies (command_center/auth/proxies.py).
    # ws_max_size: the websocket layer refuses a frame past the hub's own message limit before
    # reading it whole (uvicorn's default would buffer 16 MiB per frame first).
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=config.server.host, port=config.server.port, log_level="warning", proxy_headers=False,
            ws_max_size=4 * MAX_MESSAGE, access_log=False,
        )
    )  # fmt: skip
    for name in LIBRARY_LOGGERS:  # their INFO is about their insides (ICE candidates, HTTP calls)
        logging.getLogger(name).setLevel(logging.WARNING)
    announce_when_listening(server, text, quiet=demo)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the server has shut down (as uvicorn.run)
        server.run()
    return 0


LIBRARY_LOGGERS = ("aiortc", "aioice", "av", "httpx", "httpcore", "websockets", "asyncio", "uvicorn", "multipart", "PIL")


def announce_when_listening(server: Any, text: str, quiet: bool, settle_s: float = 2.0) -> None:
    """Print the banner once the server listens and start-up has logged what it logs (cameras
    connecting...), so that it is the last thing on the screen. `quiet` (the demo): warnings
    only from then on, so that it stays there."""
    import threading
    import time

    def wait_and_print() -> None:
        while not server.started:
            if server.should_exit:
                return
            time.sleep(0.1)
        time.sleep(settle_s)
        if quiet:
            logging.getLogger().setLevel(logging.WARNING)
        print(text, file=sys.stderr, flush=True)

    threading.Thread(target=wait_and_print, name="banner", daemon=True).start()


def settle_heap() -> None:
    """Tune the cycle collector for a server's latency. What start-up built (the city's
    tens of thousands of areas, the catalog, imported modules) leaves the collector's
    view, so a full collection scans only what the server allocated later; and full
    collections come about ten times less often. A full pass over a thousand
    websocket connections still pauses every client for tens of milliseconds: rarer
    pauses touch fewer deliveries (measured in docs/BENCHMARKS.md, hub)."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle, _old = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def _grids(args: argparse.Namespace) -> int:
    if args.grids_command == "validate":
        from command_center.grids_cli import validate_file

        return validate_file(args.file, args.overlap_m2, args.overlap_share, args.json)
    from command_center.city_map import load_city
    from dispatch.city import GridIndex

    config = _load_or_exit(args.config) if args.config else Config()
    if args.config:  # the configuration's store may hold an imported map: the one its servers run
        from command_center.city_map import load_map
        from command_center.store import create_store

        store = create_store(config.store)
        try:
            index = GridIndex(load_map(config, store)[0])
        finally:
            store.close()
    else:
        index = GridIndex(load_city(config))
    located = index.locate(args.lon, args.lat)
    if located is None:
        print(json.dumps({"error": "no grid or community near this point", "lon": args.lon, "lat": args.lat}))
        return 1
    print(json.dumps(asdict(located), ensure_ascii=False, indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"bench.{BENCH_MODULES.get(args.name, args.name)}")
    module.run(args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
