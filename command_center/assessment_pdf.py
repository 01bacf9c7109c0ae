"""The printable monthly report of a district (绩效考核月报), HTML and CSS rendered to PDF by
WeasyPrint (Pango lays out the Chinese text with a CJK font: fonts-wqy-zenhei or Noto CJK).

One page a level where the district has subjects: the ranking (rank in the city, name,
score, the indicator values), the honours, and the scheme's version the month was frozen with.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from assessment.scheme import INDICATORS, LEVELS, Scheme
from assessment.scoring import Scored

LEVEL_NAMES = {"worker": "网格员", "grid": "网格", "community": "社区", "street": "街道", "district": "区"}
MOST_ROWS = 200  # a level's ranking in the report: the best 200 (the API lists them all)
CSS = """
@page { size: A4; margin: 16mm 12mm; @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; } }
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Droid Sans Fallback", sans-serif; font-size: 9pt; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 12pt 0 4pt; }
.meta { color: #555; margin-bottom: 8pt; }
table { border-collapse: collapse; width: 100%; } th, td { border: 0.5pt solid #999; padding: 2pt 4pt; text-align: right; }
th { background: #eef; } td.name { text-align: left; } .honour { color: #b8860b; font-weight: bold; }
section + section { page-break-before: always; }
"""


@dataclass(frozen=True, slots=True)
class ReportRow:
    row: Scored
    name: str
    honours: tuple[str, ...] = ()


def _value(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key.endswith("_rate"):
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def _table(scheme: Scheme, level: str, rows: list[ReportRow]) -> str:
    keys = [i.key for i in scheme.levels[level].indicators]  # type: ignore[index]
    head = "".join(f"<th>{escape(INDICATORS[k])}</th>" for k in keys)
    body = []
    for r in rows[:MOST_ROWS]:
        badges = "".join(f' <span class="honour">★{escape(h)}</span>' for h in r.honours)
        cells = "".join(f"<td>{_value(k, r.row.values.get(k))}</td>" for k in keys)
        body.append(f"<tr><td>{r.row.rank}</td><td class=\"name\">{escape(r.name)}{badges}</td>"
                    f"<td>{r.row.score:.2f}</td><td>{r.row.cases}</td>{cells}</tr>")  # fmt: skip
    return (f"<table><thead><tr><th>排名</th><th>名称</th><th>得分</th><th>案件数</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def report_html(district: str, month: str, run: dict[str, object], scheme: Scheme,
                levels: dict[str, list[ReportRow]]) -> str:  # fmt: skip
    title = f"{escape(district)} {month[:4]}年{int(month[5:7])}月 绩效考核月报"
    meta = (f"考核方案 {escape(str(run['scheme_label']))}（版本 {escape(str(run['scheme_version']))}），"
            f"结案截止 {escape(str(run['cutoff_day']))}，冻结于 {escape(str(run['frozen_at']))}")  # fmt: skip
    sections = []
    for level in reversed(LEVELS):  # the district first, its workers last
        rows = levels.get(level) or []
        if rows:
            sections.append(f"<section><h2>{LEVEL_NAMES[level]}排名（共 {len(rows)} 个，排名为全市名次）</h2>"
                            f"{_table(scheme, level, rows)}</section>")  # fmt: skip
    first = f"<h1>{title}</h1><p class=\"meta\">{meta}</p>"
    if sections:
        sections[0] = sections[0].replace("<section>", "<section>" + first, 1)
    else:
        sections = [f"<section>{first}<p>本月无考核结果。</p></section>"]
    return f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><style>{CSS}</style></head><body>{''.join(sections)}</body></html>"


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy (Pango, fonts): loaded when a report is asked for

    return bytes(HTML(string=html).write_pdf())
