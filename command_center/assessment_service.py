"""The monthly assessment run (docs/ASSESSMENT.md): indicators summed by the database
(store/assessment_sql.py), scored and ranked by the pure package (assessment/), frozen in
the store with the scheme they were scored with; appeals decided and their subject re-scored.

Reproducibility: a frozen month keeps its scheme's canonical text and its cut-off day. A
recompute (refused unless asked for) scores again with that stored scheme, and writes the
same frozen_at and notices' times, so with the same inputs the stored month is byte-identical
(its digest, the sha256 of the canonical results, says so).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from assessment.scheme import DEFAULT_PATH, LEVELS, Scheme, from_canonical, load_scheme
from assessment.scoring import Scored, digest, honoured, ranks, score, score_level, top_bottom
from command_center.store.assessment_records import AssessmentRecords, MonthTaken
from command_center.store.assessment_sql import MonthSpan

Honours = list[tuple[str, str, str]]


class AssessmentError(ValueError):
    """A refusal the caller shows as it is: (HTTP status, reason)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def previous_month(month: str, back: int = 1) -> str:
    year, mon = int(month[:4]), int(month[5:7]) - back
    while mon < 1:
        year, mon = year - 1, mon + 12
    return f"{year:04d}-{mon:02d}"


def month_due(today: date, grace_days: int) -> str | None:
    """The month to freeze on `today`: last month, once its grace days are over."""
    return previous_month(today.isoformat()[:7]) if today.day > grace_days else None


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


class Assessment:
    def __init__(self, records: AssessmentRecords, scheme_path: Path = DEFAULT_PATH) -> None:
        self.records = records
        self.scheme_path = scheme_path

    def scheme(self) -> Scheme:
        return load_scheme(self.scheme_path)

    def scheme_of(self, month: str) -> Scheme:
        """The scheme a frozen month was scored with; today's for a month not frozen yet."""
        run = self.records.run(month)
        return from_canonical(run["scheme"]) if run else self.scheme()

    def compute(self, month: str, scheme: Scheme) -> list[Scored]:
        span = MonthSpan.of(month, scheme.grace_days)
        out: list[Scored] = []
        for level in LEVELS:
            levels = scheme.levels.get(level)
            if levels is not None:
                keys = [i.key for i in levels.indicators]
                out += score_level(level, levels, self.records.indicator_rows(span, level, keys))
        return out

    def freeze(self, month: str, by: str, now: datetime, recompute: bool = False) -> dict[str, Any]:
        """Score the month and freeze it; a frozen month only with `recompute` (same scheme)."""
        run = self.records.run(month)
        if run is not None and not recompute:
            raise AssessmentError(409, f"{month} is frozen already (version {run['scheme_version']}): recompute to redo it")
        scheme = from_canonical(run["scheme"]) if run is not None else self.scheme()
        rows = self.compute(month, scheme)
        honours = self._honours(month, scheme, rows)
        frozen_at = run["frozen_at"] if run is not None else iso(now)
        new = {
            "month": month, "scheme_version": scheme.version, "scheme_label": scheme.version_label,
            "scheme": scheme.canonical(), "cutoff_day": MonthSpan.of(month, scheme.grace_days).cutoff,
            "digest": digest(rows, honours), "subjects": len(rows), "frozen_at": frozen_at,
            "frozen_by": run["frozen_by"] if run is not None else by,
            "recomputed_at": iso(now) if run is not None else None,
        }  # fmt: skip
        try:
            self.records.save_month(new, rows, honours, self._notices(month, scheme, rows, honours, frozen_at))
        except MonthTaken:
            raise AssessmentError(409, f"{month} was frozen by another run meanwhile: recompute to redo it") from None
        return new

    def _honours(self, month: str, scheme: Scheme, rows: list[Scored]) -> Honours:
        out: Honours = []
        for h in scheme.honours:
            history = [self._ranks(previous_month(month, back), h.level) for back in range(h.months - 1, 0, -1)]
            history.append({r.subject: r.rank for r in rows if r.level == h.level})
            out += [(h.level, s, h.name) for s in sorted(honoured(history, h.top_percent, h.months))]
        return out

    def _ranks(self, month: str, level: str) -> dict[str, int]:
        return {r.subject: r.rank for r in self.records.scores(month, level)}

    def _notices(self, month: str, scheme: Scheme, rows: list[Scored], honours: Honours, at: str) -> list[dict[str, Any]]:
        """What the top and bottom workers (and the honoured) read on the terminal."""
        workers = scheme.levels.get("worker")
        if workers is None:
            return []
        ranked = [r for r in rows if r.level == "worker"]
        top, bottom = top_bottom(ranked, workers.top_n, workers.bottom_n)
        n = len(ranked)
        out = [{"worker_id": r.subject, "kind": "top",
                "text": f"{month} 绩效考核：第 {r.rank} 名（共 {n} 人），{r.score:.2f} 分，列前 {workers.top_n} 名。"}
               for r in top]  # fmt: skip
        out += [{"worker_id": r.subject, "kind": "bottom",
                 "text": f"{month} 绩效考核：第 {r.rank} 名（共 {n} 人），{r.score:.2f} 分，列后 {workers.bottom_n} 名，请对照指标改进。"}
                for r in bottom]  # fmt: skip
        out += [{"worker_id": s, "kind": "honour", "text": f"{month} 荣获「{name}」称号。"}
                for level, s, name in honours if level == "worker"]  # fmt: skip
        return [{"month": month, "created_at": at} | n for n in out]

    def rescore(self, month: str, level: str, subject: str, now: datetime) -> Scored | None:
        """One subject's indicators summed again (an appeal approved), its level re-ranked;
        every other subject's score stays as frozen. The subject's new row, or None."""
        run = self.records.run(month)
        if run is None:
            return None
        scheme = from_canonical(run["scheme"])
        levels = scheme.levels[level]  # type: ignore[index]
        keys = [i.key for i in levels.indicators]
        found = self.records.indicator_rows(MonthSpan.of(month, scheme.grace_days), level, keys, subject)
        rows = [r for r in self.records.scores(month, level) if r.subject != subject]
        mine: Scored | None = None
        if subject in found and found[subject][0] >= levels.min_cases:
            cases, values = found[subject]
            total, got = score(levels, values)
            if total is not None:
                mine = Scored(level, subject, cases, total, 0, {k: values.get(k) for k in keys}, got)
                rows.append(mine)
        ranked = ranks({r.subject: r.score for r in rows})
        rows = sorted((replace(r, rank=ranked[r.subject]) for r in rows), key=lambda r: (r.rank, r.subject))
        honours = [h for h in self._honours(month, scheme, rows) if h[0] == level]
        others = [r for r in self.records.scores(month) if r.level != level]
        kept = [h for h in self.records.honours(month) if h[0] != level]
        self.records.save_level(month, level, rows, honours, digest(others + rows, kept + honours), iso(now))
        return next((r for r in rows if r.subject == subject), None)
