"""The PostgreSQL store's group commit: a batch's new cases are written at its end, in bulk.

Measured with `bench scale` (4,000 intakes, batches of 64): a case written where it was
taken in cost three round trips to the server (SAVEPOINT, the case and its timeline,
RELEASE; pipelined into one, but still one wait per case) on top of the intake's two
reads, and the server parsed and ran four statements for it. Deferred, a batch's cases
go in together at its end: with two COPY statements (cases, then their timelines), the
server's cheapest way in, or, for a few, pipelined INSERTs (one wait).

What must still hold:
- the intake's own reads see the batch's cases (the dedupe check must find a duplicate
  taken in moments ago, the worker load must count it): `matching` and `counts` merge the
  deferred cases into what the server answers;
- any other statement on the case tables in the batch sees them there: the store
  flushes the deferred cases before it (`PostgresStore._conn(cases=True)`); statements
  on other tables (the incident's link to its case) do not wait for them;
- nothing is acknowledged before the commit: they are committed with the batch, cached
  after it, as before;
- a failed write undoes only itself: an id already deferred in this batch is refused at
  once, as the server would; an id already committed is refused by the server at the
  flush, which fails the batch as a whole (rolled back, nothing acknowledged: the caller
  takes it in again, as after any store error). Ids are random (dispatch.cases.new_case_id).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import psycopg

from command_center.store.columns import case_columns, case_params, timeline_params
from command_center.store.queries import CASE_FIELDS, TIMELINE_FIELDS, Statements, copy_into
from command_center.store.stats_facts import write_facts
from dispatch.cases import Case
from dispatch.repository import CaseIdTaken

COPY_CASES = copy_into("cases", (*CASE_FIELDS, "id"))
# Up to this many cases a flush is pipelined INSERTs (one wait; the server runs a statement
# per row), beyond it COPY (a wait per COPY and per its end, then the rows in bulk). A
# flush forced by another statement on the case tables in the batch (a transition, a
# case read) is usually of one case.
FEW = 8
COPY_TIMELINE = copy_into("case_timeline", ("case_id", *TIMELINE_FIELDS))


class Deferred:
    """The cases a batch took in and has not written yet, in order."""

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        # The open ones by matter, with created_at as stored (text): the dedupe check asks
        # on every intake, and formatting every deferred case's time each time was a
        # tenth of the intake's time.
        self._open: dict[str, list[tuple[str, Case]]] = {}

    def add(self, case: Case) -> None:
        if case.id in self.cases:
            raise CaseIdTaken(case.id)  # as the server would, at once: the dispatcher draws another
        self.cases[case.id] = case
        if case.is_open:
            self._open.setdefault(case.matter_code, []).append((case.created_at.isoformat(), case))

    def matching(self, matter_code: str, since: datetime, box: dict[str, float] | None) -> list[Case]:
        """The deferred cases open_cases_of_matter would find, were they in the table."""
        after = since.isoformat()  # compared as the server compares the stored text
        return [
            c for created, c in self._open.get(matter_code, ())
            if created >= after
            and (box is None or (box["west"] <= c.lon <= box["east"] and box["south"] <= c.lat <= box["north"]))
        ]  # fmt: skip

    def counts(self, worker_ids: list[str]) -> dict[str, int]:
        """The deferred open cases of each of these workers (open_counts' share of them)."""
        wanted, out = set(worker_ids), dict[str, int]()
        for case in self.cases.values():
            if case.assignee in wanted and case.is_open:
                out[case.assignee] = out.get(case.assignee, 0) + 1
        return out

    def flush(self, db: psycopg.Connection[Any], sql: Statements, days_zone: tzinfo) -> None:
        """Write the deferred cases and their timelines into the batch's transaction (the
        statistics' days in `days_zone`)."""
        if not self.cases:
            return
        pending, self.cases, self._open = list(self.cases.values()), {}, {}
        with db.cursor() as cur:
            if len(pending) <= FEW:  # pipelined statements: one wait, where COPY costs four
                with db.pipeline():
                    cur.executemany(sql.insert_case, [case_params(c) for c in pending])
                    cur.executemany(sql.insert_timeline, [r for c in pending for r in timeline_params(c.id, c.timeline)])
                    write_facts(cur.executemany, "postgresql", pending, days_zone)  # the statistics' rows (stats_facts.py)
                return
            with cur.copy(COPY_CASES) as copy:
                for case in pending:
                    copy.write_row((*case_columns(case), case.id))
            with cur.copy(COPY_TIMELINE) as copy:
                for case in pending:
                    for e in case.timeline:
                        copy.write_row(
                            (case.id, e.ts.isoformat(), e.action, e.actor, e.from_state.value, e.to_state.value, e.note)
                        )
            write_facts(cur.executemany, "postgresql", pending, days_zone)


def merge_counts(stored: dict[str, int], deferred: dict[str, int]) -> dict[str, int]:
    out = dict(stored)
    for worker, n in deferred.items():
        out[worker] = out.get(worker, 0) + n
    return out
