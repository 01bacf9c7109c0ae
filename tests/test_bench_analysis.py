"""`command-center bench basedata-analysis` on a small district: the kept sums and the grouping
over the records answer alike at every level (the bench stops otherwise), and the last line is
the ratio of their timings."""

from __future__ import annotations

import json

import pytest

from command_center import cli


def test_bench_basedata_analysis_checks_kept_against_grouped(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--people", "1500", "--grids", "8", "--cases", "200", "--repeat", "2"]
    assert cli.main(["bench", "basedata-analysis", *args, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for level in ("grid", "community", "street", "district"):
        assert figures[f"analysis_{level}"]["p95_ms"] > 0 and figures[f"analysis_{level}_grouped"]["p95_ms"] > 0
    assert figures["ratio"] > 0 and figures["store"] == "sqlite"
    assert cli.main(["bench", "basedata-analysis", *args]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("ratio: ")
