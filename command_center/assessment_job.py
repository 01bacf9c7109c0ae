"""The monthly freeze (绩效考核): a singleton job that, once last month's grace days are
over (configs/assessment.yaml `grace_days`), scores and freezes it, audited as the system;
and `command-center assess --month YYYY-MM [--recompute]`, the same by hand.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from assessment.scheme import DEFAULT_PATH, SchemeError
from command_center.assessment_service import Assessment, AssessmentError, month_due
from command_center.jobs import Jobs
from command_center.store.assessment_records import assessment_store

log = logging.getLogger(__name__)
EVERY_S = 3600.0  # hourly: a month is frozen within the hour its grace days end


class AssessmentJob:
    def __init__(self, store: Any, clock: Callable[[], datetime], zone: tzinfo, scheme: Path = DEFAULT_PATH) -> None:
        self.store = store
        self.clock = clock
        self.zone = zone
        self.assessment = Assessment(assessment_store(store), scheme)

    def once(self) -> str | None:
        """Freeze last month when it is due and not frozen yet; the month frozen, or None."""
        now = self.clock()
        month = month_due(now.astimezone(self.zone).date(), self.assessment.scheme().grace_days)
        if month is None or self.assessment.records.run(month) is not None:
            return None
        run = self.assessment.freeze(month, "system", now)
        self.store.add_audit({"ts": datetime.now(UTC).isoformat(), "actor": "system", "role": "system",
                              "action": "assessment.freeze", "target": month, "ip": "",
                              "detail": f"{run['scheme_version']} {run['digest'][:16]}"})  # fmt: skip
        return month

    async def run(self, every_s: float = EVERY_S) -> None:
        while True:
            try:
                month = await asyncio.to_thread(self.once)
                if month:
                    log.info("assessment of %s frozen", month)
            except Exception:  # a bad scheme file or the store away: tried again next round
                log.exception("assessment freeze failed")
            await asyncio.sleep(every_s)

    def register(self, jobs: Jobs, every_s: float = EVERY_S) -> None:
        jobs.add("assessment-freeze", lambda: self.run(every_s), singleton=True)


def add_commands(sub: Any) -> None:  # sub: argparse's private _SubParsersAction
    assess = sub.add_parser("assess", help="score and freeze a month's performance assessment (docs/ASSESSMENT.md)")
    assess.add_argument("--month", required=True, help="YYYY-MM")
    assess.add_argument("--recompute", action="store_true", help="score a frozen month again (same scheme version)")
    assess.add_argument("--config", type=Path, help="the server's configuration (its store)")
    assess.add_argument("--store", help="a store URL (without --config)")
    assess.add_argument("--scheme", type=Path, default=DEFAULT_PATH)


def run_command(args: Any, load: Callable[[Path], Any]) -> int:
    from command_center.store import create_store

    config = load(args.config) if args.config else None
    url = args.store or (config.store if config is not None else None)
    if url is None:
        print("give --config or --store", file=sys.stderr)
        return 2
    store = create_store(url)
    try:
        run = Assessment(assessment_store(store), args.scheme).freeze(args.month, "cli", datetime.now(UTC), args.recompute)
        store.add_audit({"ts": datetime.now(UTC).isoformat(), "actor": "cli", "role": "admin",
                         "action": "assessment.recompute" if args.recompute else "assessment.freeze",
                         "target": args.month, "ip": "", "detail": run["digest"][:16]})  # fmt: skip
    except (AssessmentError, SchemeError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{run['month']}: {run['subjects']} subjects, scheme {run['scheme_label']} ({run['scheme_version']}), "
          f"digest {run['digest']}")  # fmt: skip
    return 0
