"""Performance assessment (绩效考核, docs/ASSESSMENT.md) on SQLite and PostgreSQL, with the
clock frozen on 6 December 2026 over 6,000 generated cases of 2026 in the small city
(command_center/stats_generate.py), each street's cases given to one worker of the street.

The frozen indicators equal SQL written here by hand; a frozen month is refused a second
run and a recompute is byte-identical; top/bottom lists and honours follow the rules over
three frozen months (and on constructed histories); an approved appeal changes exactly the
one subject's score (and the ranks that follow); jurisdiction and workers' scoping; 400s;
the district's PDF read back with pypdf; the scheme's validation names the bad key.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from assessment.scheme import LEVELS, SchemeError, load_scheme, parse_scheme
from assessment.scoring import Scored, honoured, ranks, top_bottom, top_cut
from command_center.assessment_service import Assessment, month_due
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.stats_generate import generate
from command_center.store.assessment_records import assessment_store
from command_center.store.assessment_sql import MonthSpan
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, postgres_database, serve_app

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
MONTHS = ("2026-09", "2026-10", "2026-11")
CUTOFF = {"2026-09": "2026-10-05", "2026-10": "2026-11-05", "2026-11": "2026-12-05"}
DIGITS = {"grid": 15, "community": 12, "street": 9, "district": 6}


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    city: City
    assessment: Assessment

    def get(self, path: str, **who: Any) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=60)

    def ok(self, path: str, **who: Any) -> Any:
        answer = self.get(path, **who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any], **who: Any) -> httpx.Response:
        return httpx.post(self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=60)

    def hand(self, sql: str) -> list[tuple[Any, ...]]:
        with self.rt.store._reading() as db:  # type: ignore[attr-defined]
            return [tuple(r) for r in db.execute(sql, {}).fetchall()]


def give_streets_workers(rt: Runtime, city: City) -> None:
    """Each street's cases to the first worker of the street (the generator names one worker)."""
    firsts: dict[str, str] = {}
    for worker in sorted(city.workers, key=lambda w: w.id):
        firsts.setdefault(worker.grid_code[:9], worker.id)
    with rt.store._writing() as db:  # type: ignore[attr-defined]
        for street, worker_id in firsts.items():
            sql = "UPDATE cases SET assignee = :w WHERE substr(grid_code, 1, 9) = :s"
            db.execute(sql if rt.store.dialect == "sqlite" else sql.replace(":w", "%(w)s").replace(":s", "%(s)s"),  # type: ignore[attr-defined]
                       {"w": worker_id, "s": street})  # fmt: skip


def add_ratings(rt: Runtime) -> None:
    """Stars for every seventh closed case of November (1 to 5 by its position)."""
    with rt.store._reading() as db:  # type: ignore[attr-defined]
        ids = [r[0] for r in db.execute("SELECT id FROM case_facts WHERE closed = 1 AND created_day >= '2026-11-01' "
                                        "AND created_day <= '2026-11-30' ORDER BY id", {}).fetchall()][::7]  # fmt: skip
    with rt.store._writing() as db:  # type: ignore[attr-defined]
        for i, case_id in enumerate(ids):
            db.execute("INSERT INTO case_ratings (report_id, case_id, resident_id, stars, comment, rated_at) VALUES "
                       f"('RP{i}', '{case_id}', 'RS1', {1 + i % 5}, '', '2026-12-01T00:00:00+00:00')", {})  # fmt: skip


def build_world(url: str, data: Any, city: City) -> Iterator[World]:
    rt = build_runtime(parse_config({"server": {"data_dir": str(data)}, "store": url}), city=city)
    rt.dispatcher.clock = lambda: NOW
    generate(rt.store, city, rt.catalog, 6000, 2026, seed=11, now=NOW, progress=False)  # type: ignore[arg-type]
    give_streets_workers(rt, city)
    add_ratings(rt)
    assessment = Assessment(assessment_store(rt.store))
    with serve_app(rt) as srv:
        # The hall's supervision escalates the overdue once at start (it may move a case to
        # another holder): done before the months are frozen, so their inputs stay as frozen.
        assert srv.loop is not None
        asyncio.run_coroutine_threadsafe(rt.casework.supervise_once(), srv.loop).result(timeout=120)
        # The freeze job saw November's grace days over (6 December) and froze it as the system.
        for _ in range(300):
            if assessment.records.run("2026-11") is not None:
                break
            time.sleep(0.1)
        frozen = assessment.records.run("2026-11")
        assert frozen is not None and frozen["frozen_by"] == "system"
        for month in MONTHS:  # November again after the two before it: its honours look back at them
            assessment.freeze(month, "test", NOW, recompute=month == "2026-11")
        yield World(srv, rt, city, assessment)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("assessment")
    if request.param == "postgresql":
        with postgres_database("cc_assess") as url:
            yield from build_world(url, data, small_city)
    else:
        yield from build_world(f"sqlite:///{data / 'cc.db'}", data, small_city)


def _hand_cases(world: World, month: str, level: str) -> dict[str, dict[str, Any]]:
    key = "c.assignee" if level == "worker" else f"substr(f.grid_code, 1, {DIGITS[level]})"
    done = f"f.closed = 1 AND f.closed_day <= '{CUTOFF[month]}'"
    rows = world.hand(
        f"SELECT {key}, count(*), sum(CASE WHEN {done} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {done} AND f.on_time = 1 THEN 1 ELSE 0 END), sum(f.deferred), sum(f.reworked), "
        f"sum(CASE WHEN {done} THEN f.close_min ELSE 0 END) "
        f"FROM case_facts f JOIN cases c ON c.id = f.id WHERE f.counted = 1 "
        f"AND f.created_day >= '{month}-01' AND f.created_day <= '{month}-31' GROUP BY {key}"
    )
    out = {}
    for k, cases, closed, on_time, deferred, reworked, close_sum in rows:
        due = cases - deferred
        subject = k if level == "worker" else k.ljust(15, "0")
        out[subject] = {"cases": cases, "on_time_rate": round(on_time / due, 4) if due else None,
                        "closure_rate": round(closed / due, 4) if due else None,
                        "rework_rate": round(reworked / closed, 4) if closed else None,
                        "mean_close_min": round(float(close_sum) / closed, 2) if closed else None}  # fmt: skip
    return out


@pytest.mark.parametrize("level", ["worker", "grid", "street", "district"])
def test_frozen_indicators_equal_direct_sql(world: World, level: str) -> None:
    month = "2026-11"
    hand = _hand_cases(world, month, level)
    frozen = {r.subject: r for r in world.assessment.records.scores(month, level)}
    assert frozen and set(frozen) <= set(hand)
    for subject, row in frozen.items():
        expected = hand[subject]
        assert row.cases == expected["cases"], subject
        for key in ("on_time_rate", "closure_rate", "rework_rate"):
            assert row.values[key] == expected[key], (subject, key)
        if expected["mean_close_min"] is not None:
            assert row.values["mean_close_min"] == pytest.approx(expected["mean_close_min"], abs=0.011)
    if level == "worker":  # satisfaction: the mean stars of the ratings of the worker's cases
        stars = world.hand("SELECT c.assignee, avg(r.stars * 1.0) FROM case_ratings r JOIN case_facts f ON f.id = r.case_id "
                           "JOIN cases c ON c.id = f.id WHERE f.created_day >= '2026-11-01' AND f.created_day <= '2026-11-30' "
                           "AND f.counted = 1 GROUP BY c.assignee")  # fmt: skip
        assert stars
        for worker, mean in stars:
            assert frozen[worker].values["satisfaction"] == pytest.approx(round(float(mean), 2), abs=0.006)


def test_scores_follow_the_scheme_and_ranks(world: World) -> None:
    scheme = load_scheme()
    for level in LEVELS:
        rows = world.assessment.records.scores("2026-11", level)
        assert rows, level
        weights = {i.key: i for i in scheme.levels[level].indicators}
        for row in rows:
            got = {k: p for k, p in row.points.items() if p is not None}
            total = sum(weights[k].weight for k in got)
            assert row.score == pytest.approx(round(100 * sum(weights[k].weight * p for k, p in got.items()) / total, 2))
        assert [r.rank for r in rows] == sorted(r.rank for r in rows)
        assert ranks({r.subject: r.score for r in rows}) == {r.subject: r.rank for r in rows}


def test_a_frozen_month_is_refused_and_a_recompute_is_byte_identical(world: World) -> None:
    before = world.get("/api/assessment/2026-11/scores?level=worker")
    run = world.assessment.records.run("2026-11")
    assert run is not None
    refused = world.post("/api/assessment/runs", {"month": "2026-11"})
    assert refused.status_code == 409 and "recompute" in refused.json()["detail"]
    again = world.post("/api/assessment/runs", {"month": "2026-11", "recompute": True})
    assert again.status_code == 201, again.text
    assert again.json()["digest"] == run["digest"] and again.json()["scheme_version"] == run["scheme_version"]
    after = world.get("/api/assessment/2026-11/scores?level=worker")
    for level in ("grid", "district"):
        assert world.get(f"/api/assessment/2026-11/scores?level={level}").status_code == 200
    strip = lambda body: body.replace(b'"recomputed_at":null', b"").split(b'"run":')[0] + body.split(b'"rows":')[1]  # noqa: E731
    assert strip(before.content) == strip(after.content)  # the rows byte for byte
    assert world.post("/api/assessment/runs", {"month": "2026-12"}).status_code == 400  # not over
    assert world.post("/api/assessment/runs", {"month": "2026-13"}).status_code == 400
    assert world.post("/api/assessment/runs", {"month": "2026-08"}, role="admin", user="d-admin",
                      jurisdiction="440103").status_code == 403  # fmt: skip
    audit = world.hand("SELECT action, target FROM audit WHERE substr(action, 1, 11) = 'assessment.'")
    assert ("assessment.recompute", "2026-11") in audit


def test_top_bottom_and_honours_follow_the_rules(world: World) -> None:
    scheme = load_scheme()
    history = {m: {r.subject: r.rank for r in world.assessment.records.scores(m, "worker")} for m in MONTHS}
    gold = next(h for h in scheme.honours if h.level == "worker")
    expected = set.intersection(*({s for s, r in history[m].items() if r <= top_cut(len(history[m]), gold.top_percent)}
                                  for m in MONTHS))  # fmt: skip
    got = {s for lv, s, h in world.assessment.records.honours("2026-11") if lv == "worker" and h == gold.name}
    assert got == expected
    assert not {s for lv, s, _ in world.assessment.records.honours("2026-09") if lv == "worker"}  # no 3 months before
    listed = world.ok("/api/assessment/2026-11/top?level=worker")
    rows = world.assessment.records.scores("2026-11", "worker")
    top, bottom = top_bottom(rows, 30, 30)
    assert [r["subject"] for r in listed["top"]] == [r.subject for r in top]
    assert [r["subject"] for r in listed["bottom"]] == [r.subject for r in bottom]
    assert not {r["subject"] for r in listed["top"]} & {r["subject"] for r in listed["bottom"]}
    best = top[0].subject
    notices = world.ok("/api/assessment/notices", role="worker", worker_id=best)["rows"]
    assert any(n["month"] == "2026-11" and n["kind"] == "top" for n in notices)
    honours = world.ok("/api/assessment/2026-11/honours")["rows"]
    assert {r["subject"] for r in honours if r["level"] == "worker"} == expected


def test_scoring_rules_on_constructed_histories() -> None:
    assert ranks({"a": 90, "b": 80, "c": 80, "d": 70}) == {"a": 1, "b": 2, "c": 2, "d": 4}
    ten = [{f"w{i}": i + 1 for i in range(20)}] * 3  # w0, w1 top 10 % of 20 in each of 3 months
    assert honoured(ten, 10, 3) == {"w0", "w1"}
    broken = [ten[0], {"w0": 5, "w1": 1, **{f"w{i}": i + 4 for i in range(2, 20)}}, ten[0]]
    assert honoured(broken, 10, 3) == {"w1"}  # w0 fell out in the middle month
    assert honoured(ten[:2], 10, 3) == set()  # two months only
    assert honoured([{}, *ten[:2]], 10, 3) == set()  # a month not frozen breaks the run
    rows = [Scored("worker", f"w{i}", 1, 100.0 - i, i + 1) for i in range(5)]
    top, bottom = top_bottom(rows, 3, 3)
    assert [r.subject for r in top] == ["w0", "w1", "w2"] and [r.subject for r in bottom] == ["w4", "w3"]
    assert month_due(datetime(2026, 12, 5).date(), 5) is None and month_due(datetime(2026, 12, 6).date(), 5) == "2026-11"
    assert month_due(datetime(2027, 1, 6).date(), 5) == "2026-12"


def test_scoping_and_bad_requests(world: World) -> None:
    district = world.city.districts[0].code
    other = world.city.districts[1].code
    officer = {"role": "officer", "user": "d-officer", "jurisdiction": district[:6]}
    rows = world.ok("/api/assessment/2026-11/scores?level=grid", **officer)["rows"]
    assert rows and all(r["subject"].startswith(district[:6]) for r in rows)
    workers = world.ok("/api/assessment/2026-11/scores?level=worker", **officer)["rows"]
    assert workers and all(r["area"].startswith(district[:6]) for r in workers)
    assert world.get(f"/api/assessment/2026-11/scores?level=grid&area={other}", **officer).status_code == 403
    assert world.get(f"/api/assessment/2026-11/report.pdf?district={other}", **officer).status_code == 403
    one = world.assessment.records.scores("2026-11", "worker")[0].subject
    mine = world.ok("/api/assessment/2026-11/scores?level=grid", role="worker", worker_id=one)["rows"]
    assert [r["subject"] for r in mine] == [one]
    assert world.get("/api/assessment/2026-11/top", role="worker", worker_id=one).status_code == 403
    assert world.get("/api/assessment/runs", role="worker", worker_id=one).status_code == 403
    for path, status in (("/api/assessment/2026-1/scores", 400), ("/api/assessment/2026-11/scores?level=x", 400),
                         ("/api/assessment/2026-05/scores", 404), ("/api/assessment/2026-11/report.pdf?district=1", 400),
                         ("/api/assessment/2026-11/scores?area=12", 400)):  # fmt: skip
        answer = world.get(path)
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"]
    assert world.ok("/api/assessment/runs")["runs"][0]["month"] == "2026-11"
    assert world.ok("/api/assessment/scheme")["version"] == load_scheme().version


def test_the_district_pdf_names_the_district_month_and_ranking(world: World) -> None:
    from pypdf import PdfReader

    district = world.city.districts[0]
    answer = world.get(f"/api/assessment/2026-11/report.pdf?district={district.code}", role="officer", user="pdf-officer")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(answer.content)).pages[0].extract_text()
    assert district.name in text and "2026年11月" in text and "绩效考核月报" in text
    assert "区排名" in text and "排名" in text
    streets = world.ok(f"/api/assessment/2026-11/scores?level=street&area={district.code}")["rows"]
    reader = PdfReader(io.BytesIO(answer.content))
    whole = "".join(p.extract_text() for p in reader.pages)
    assert streets and all(s["name"] in whole for s in streets[:5])


def test_an_approved_appeal_changes_that_subject_only(world: World) -> None:
    month = "2026-10"
    before = {r.subject: r for r in world.assessment.records.scores(month, "worker")}
    others_before = {(r.level, r.subject): r.score for r in world.assessment.records.scores(month) if r.level != "worker"}
    # a worker's case that was not closed on time: leaving it out must raise their on-time rate
    late = world.hand("SELECT c.assignee, f.id FROM case_facts f JOIN cases c ON c.id = f.id WHERE f.counted = 1 "
                      f"AND f.created_day >= '{month}-01' AND f.created_day <= '{month}-31' AND f.deferred = 0 "
                      "AND (f.on_time = 0 OR f.on_time IS NULL) ORDER BY f.id")  # fmt: skip
    worker, case_id = next((w, c) for w, c in late if w in before and before[w].cases >= 3)
    officer = {"role": "officer", "user": "appeal-officer"}
    bad = world.post(f"/api/assessment/{month}/appeals", {"level": "worker", "subject": worker, "case_id": "C-none",
                                                          "reason": "不是本人案件"}, **officer)  # fmt: skip
    assert bad.status_code == 400 and "case_id" in bad.json()["error"]
    assert world.post(f"/api/assessment/{month}/appeals", {"level": "worker", "subject": worker, "case_id": case_id,
                                                           "reason": ""}, **officer).status_code == 400  # fmt: skip
    filed = world.post(f"/api/assessment/{month}/appeals", {"level": "worker", "subject": worker, "case_id": case_id,
                                                            "reason": "暴雨停电，无法按期处置"}, **officer)  # fmt: skip
    assert filed.status_code == 201, filed.text
    appeal_id = filed.json()["id"]
    span = MonthSpan.of(month, load_scheme().grace_days)
    keys = [i.key for i in load_scheme().levels["worker"].indicators]
    fresh = world.assessment.records.indicator_rows(span, "worker", keys, worker)[worker]  # the inputs now
    assert world.post(f"/api/assessment/appeals/{appeal_id}/decision", {"decision": "approve"}, **officer).status_code == 403
    decided = world.post(f"/api/assessment/appeals/{appeal_id}/decision", {"decision": "approve", "note": "情况属实"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["appeal"]["state"] == "approved"
    assert world.post(f"/api/assessment/appeals/{appeal_id}/decision", {"decision": "reject"}).status_code == 409
    after = {r.subject: r for r in world.assessment.records.scores(month, "worker")}
    changed = {s for s in before if before[s].score != after[s].score}
    assert changed == {worker}
    assert after[worker].cases == fresh[0] - 1
    assert after[worker].values["on_time_rate"] > (fresh[1]["on_time_rate"] or 0)
    assert {s: r.rank for s, r in after.items()} == ranks({s: r.score for s, r in after.items()})
    assert {(r.level, r.subject): r.score for r in world.assessment.records.scores(month) if r.level != "worker"} == others_before
    listed = world.ok(f"/api/assessment/{month}/appeals")["rows"]
    assert [(a["id"], a["state"], a["note"]) for a in listed] == [(appeal_id, "approved", "情况属实")]
    audit = {a for (a,) in world.hand("SELECT action FROM audit WHERE substr(action, 1, 17) = 'assessment.appeal'")}
    assert audit == {"assessment.appeal", "assessment.appeal.approved"}
    run = world.assessment.records.run(month)
    again = world.assessment.freeze(month, "test", NOW, recompute=True)  # the approved appeal is an input: same result
    assert run is not None and again["digest"] == run["digest"]


def test_the_scheme_is_validated_naming_the_bad_key() -> None:
    good = {"version_label": "t", "levels": {"worker": {"indicators": [
        {"key": "on_time_rate", "weight": 1, "direction": "higher", "full": 0.9, "zero": 0.5}]}}}  # fmt: skip
    scheme = parse_scheme(good)
    changed = parse_scheme(good | {"grace_days": 3})
    assert scheme.version != changed.version and len(scheme.version) == 16
    with pytest.raises(SchemeError) as bad:
        parse_scheme({**good, "levels": {"worker": {"indicators": [{**good["levels"]["worker"]["indicators"][0], "weight": -1}]}}})  # type: ignore[index]
    assert "levels.worker.indicators.0.weight" in str(bad.value)
    with pytest.raises(SchemeError) as wrong:
        parse_scheme({**good, "levels": {"worker": {"indicators": [{**good["levels"]["worker"]["indicators"][0], "full": 0.1}]}}})  # type: ignore[index]
    assert "full > zero" in str(wrong.value)
    with pytest.raises(SchemeError) as unknown:
        parse_scheme(good | {"weights": 1})
    assert "weights" in str(unknown.value)


def test_the_cli_freezes_once_and_recomputes_on_request(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from command_center.cli import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["assess", "--month", "2026-10", "--store", url]) == 0
    first = capsys.readouterr().out
    assert main(["assess", "--month", "2026-10", "--store", url]) == 1
    assert "recompute" in capsys.readouterr().err
    assert main(["assess", "--month", "2026-10", "--recompute", "--store", url]) == 0
    assert first.split("digest ")[1] == capsys.readouterr().out.split("digest ")[1]
