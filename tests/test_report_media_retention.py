"""Citizens' report media and the retention sweep (issue 22), on a real server, SQLite and
PostgreSQL: a report's photo and voice note past `retention.uploads_days` are deleted, their rows
marked in the same pass (`removed`, counted), the case lists them as removed with no URL and the
old URL answers 410 已按规定删除, not a broken link; a fresh report's media untouched; a report
past `reports_days` deleted takes its media rows and folder with it; the staff's case view
(Chromium) shows 已按规定删除 where a swept file was."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.queries import compile_sql
from command_center.store.report_media_records import report_media_store
from command_center.store.report_media_schema import report_media
from command_center.store.schema import reports
from dispatch.city import City
from tests.browser import NEEDS_BROWSER, new_page, sign_in_form
from tests.helpers import TEST_PASSWORD, ServerThread, build_runtime, postgres_database, serve_app
from tests.test_report_media import URL, clip, fields, jpeg, sign_in

DAY = 86400.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("report-media-retention")
    sqlite = contextlib.nullcontext(f"sqlite:///{data / 'cc.db'}")
    with postgres_database("cc_media_retention") if request.param == "postgresql" else sqlite as url:
        config = parse_config({
            "server": {"data_dir": str(data)}, "store": url,
            "citizen": {"reports_per_minute": 600, "burst": 100},
            # long between passes: the tests call the sweep themselves
            "retention": {"uploads_days": 30, "reports_days": 365, "every_s": 3600},
        })  # fmt: skip
        rt = build_runtime(config, city=small_city)
        with serve_app(rt) as srv:
            yield srv, rt


def report(http: httpx.Client, srv: ServerThread, city: City, i: int) -> tuple[str, str]:
    """(report id, case id) of a report with a photo and a voice note."""
    files: list[tuple[str, Any]] = [("photos", ("a.png", jpeg(), "image/png")),
                                    ("voice", ("note.webm", clip(False, 1.0), "audio/webm"))]  # fmt: skip
    made = http.post(URL, data=fields(city, i, text=f"井盖缺失{i}"), files=files,
                     headers=sign_in(http, srv, f"1381222{i:04d}"))  # fmt: skip
    assert made.status_code == 201, made.text
    report_id = made.json()["service_request_id"]
    return report_id, str(srv.app.state.store.get_report(report_id)["case_id"])  # type: ignore[attr-defined]


def age(rt: Runtime, report_id: str, days: float, report_too: bool = False) -> list[Path]:
    """The report's media made `days` ago (rows and files' times); its files."""
    then = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="microseconds")
    store = report_media_store(rt.store).store
    media = sa.update(report_media).where(report_media.c.report_id == sa.bindparam("r"))
    made = sa.update(reports).where(reports.c.id == sa.bindparam("r"))
    with store._writing() as db:
        for statement in (media, made) if report_too else (media,):
            db.execute(compile_sql(statement.values(created_at=sa.bindparam("at")), store.dialect), {"at": then, "r": report_id})
    files = sorted((Path(rt.config.server.data_dir) / "uploads" / "media" / report_id).iterdir())
    for path in files:
        os.utime(path, (time.time() - days * DAY,) * 2)
    return files


def test_swept_media_are_marked_and_said_so(server: tuple[ServerThread, Runtime], small_city: City) -> None:
    srv, rt = server
    with httpx.Client(base_url=srv.url, timeout=20) as http:
        old, old_case = report(http, srv, small_city, 31)
        fresh, fresh_case = report(http, srv, small_city, 32)
        staff = srv.headers(role="officer")
        before = http.get(f"/api/cases/{old_case}/media", headers=staff).json()["items"]
        files = age(rt, old, 40)  # past uploads_days (30), within reports_days (365)
        counted = rt.jobs.counters.get("retention_media_removed", 0)
        result = rt.retention.sweep(time.time())
        assert result.media == 2 and result.errors == 0
        assert rt.jobs.counters["retention_media_removed"] == counted + 2  # in the sweep's counters
        assert not any(path.exists() for path in files)
        rows = report_media_store(rt.store).of_report(old)
        assert len(rows) == 2 and all(r.removed_at for r in rows)  # marked in SQL, the row kept
        listed = http.get(f"/api/cases/{old_case}/media", headers=staff).json()["items"]
        assert sorted((m["kind"], m["removed"], m["url"]) for m in listed) == [("photo", True, None), ("voice", True, None)]
        gone = http.get(before[0]["url"], headers=staff)
        assert gone.status_code == 410 and gone.json()["error"] == "已按规定删除"
        # the fresh report's media as they were; a second pass finds nothing more
        kept = http.get(f"/api/cases/{fresh_case}/media", headers=staff).json()["items"]
        assert [m["removed"] for m in kept] == [False, False]
        assert http.get(kept[1]["url"], headers=staff).status_code == 200
        assert rt.retention.sweep(time.time()).media == 0
        assert fresh and report_media_store(rt.store).of_report(fresh)[0].removed_at is None


def test_a_deleted_report_takes_its_media_rows_and_folder(
    server: tuple[ServerThread, Runtime], small_city: City
) -> None:
    srv, rt = server
    with httpx.Client(base_url=srv.url, timeout=20) as http:
        old, _ = report(http, srv, small_city, 33)
    files = age(rt, old, 400, report_too=True)  # past reports_days too
    result = rt.retention.sweep(time.time())
    assert result.reports >= 1 and result.errors == 0
    assert report_media_store(rt.store).of_report(old) == []
    assert not files[0].parent.exists()  # uploads/media/<report id>/ gone with them


def browser_marks(test: Any) -> Any:
    for mark in (*NEEDS_BROWSER, pytest.mark.slow):
        test = mark(test)
    return test


@browser_marks
def test_the_case_page_says_a_swept_file_was_deleted(
    server: tuple[ServerThread, Runtime], small_city: City, browser: Any
) -> None:
    """The staff's case media (ui/common/report_media.js, on the desk's case and the terminal's
    card) show 已按规定删除 where a swept file was: no <img> or <audio> left pointing at nothing."""
    srv, rt = server
    with httpx.Client(base_url=srv.url, timeout=20) as http:
        old, case = report(http, srv, small_city, 34)
    age(rt, old, 40)
    assert rt.retention.sweep(time.time()).media >= 2
    srv.headers(role="officer", user="media-officer")  # makes the account
    errors: list[str] = []
    page = new_page(browser, 390, 844, errors)
    page.goto(f"{srv.url}/desk")
    sign_in_form(page, "media-officer", TEST_PASSWORD)
    page.evaluate("""async (caseId) => {
      const { citizenMedia } = await import('/ui/common/report_media.js');
      const { api } = await import('/ui/common/live.js');
      document.body.append(citizenMedia(caseId, api));
    }""", case)
    page.wait_for_selector(f"figure.media-citizen[data-case='{case}'] .media-removed", timeout=10000)
    figure = page.locator(f"figure.media-citizen[data-case='{case}']")
    assert figure.locator(".media-removed").all_inner_texts() == ["已按规定删除", "已按规定删除"]
    assert figure.locator("img, audio, video").count() == 0
    assert errors == []
