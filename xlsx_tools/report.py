"""What a validation run produces: the JSON, the findings workbook, annotated copies.

The JSON and the findings workbook are new files (xlsxwriter); annotated copies
are made in annotate.py (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

import xlsxwriter

from .annotate import ANNOTATION_SHEET, AnnotateOutcome, annotate_workbook, annotate_workbooks
from .form import Form
from .rules import SEVERITY_CN, Finding, code_title, field_title
from .validate import UNREADABLE, ValidationRun

__all__ = ["write_json", "write_report_xlsx", "annotate_workbooks", "annotate_workbook",
           "ANNOTATION_SHEET", "AnnotateOutcome"]

# Generated files carry this date, so the same run gives the same bytes.
FIXED_TIME = dt.datetime(2022, 1, 1, 0, 0, 0)
AUTHOR = "xlsx-tools"


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- JSON ----------------------------------------------------------------------

def write_json(run: ValidationRun, path: str | Path) -> Path:
    path = Path(path)
    text = json.dumps(run.to_dict(), ensure_ascii=False, indent=2) + "\n"
    _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
    return path


# -- the findings workbook -----------------------------------------------------

def _field_titles(form: Form, finding: Finding) -> str:
    return "、".join(field_title(form, i) for i in finding.fields if i in form.by_id)


def _text_units(text: str) -> int:
    """Width of the longest line in column-width units; CJK characters count double."""
    return max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in line)
                for line in str(text).split("\n")), default=0)


def _width(texts: Iterable[str], least: int = 6, most: int = 60) -> float:
    """A column width that fits the text, within bounds."""
    return float(min(most, max([least, *map(_text_units, texts)]) + 2))


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` units wide."""
    return sum(max(1, -(-_text_units(line) // max(1, int(width) - 1)))
               for line in str(text).split("\n"))


FINDING_HEADER = ("文件", "单位名称", "单元格", "字段", "严重程度", "代码", "说明")
FILE_HEADER = ("文件", "单位名称", "列入批次", "平台类别", "结论", "错误数", "警告数", "无法读取的原因")


def finding_rows(run: ValidationRun) -> list[tuple]:
    rows = []
    for r in run.files:
        for f in r.findings:
            rows.append((r.file, r.unit_name or "", f.where,
                         _field_titles(run.form, f), f.severity_cn, code_title(f.code), f.message))
    return rows


def file_rows(run: ValidationRun) -> list[tuple]:
    return [(r.file, r.unit_name or "", r.batch or "", r.platform_category or "",
             r.verdict, r.errors, r.warnings, r.reason or "") for r in run.files]


def write_report_xlsx(run: ValidationRun, path: str | Path) -> Path:
    """问题清单 (one row per finding, filterable) and 文件情况 (one row per file)."""
    path = Path(path)

    def write(tmp: Path) -> None:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False,
                                            "strings_to_formulas": False,
                                            "strings_to_urls": False})
        wb.set_properties({"title": "校验结果", "author": AUTHOR, "created": FIXED_TIME})
        head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1,
                              "text_wrap": True, "valign": "vcenter"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        error = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "valign": "top"})
        warning = wb.add_format({"font_color": "#9C5700", "bg_color": "#FFEB9C", "valign": "top"})
        verdict_fmt = {"通过": wb.add_format({"bg_color": "#C6EFCE", "valign": "top"}),
                       "有警告": warning, "不通过": error, UNREADABLE: error}
        _table(wb.add_worksheet("问题清单"), FINDING_HEADER, finding_rows(run), head, wrap,
               lambda row, col: (error if row[4] == SEVERITY_CN["error"] else warning)
               if col == 4 else None,
               widths={6: 70})
        _table(wb.add_worksheet("文件情况"), FILE_HEADER, file_rows(run), head, wrap,
               lambda row, col: verdict_fmt.get(row[4]) if col == 4 else None,
               widths={7: 50})
        wb.close()

    _atomic_write(path, write)
    return path


def _table(ws, header, rows, head, wrap, special, widths: dict[int, float]) -> None:
    ws.write_row(0, 0, header, head)
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            ws.write(i, j, value, special(row, j) or wrap)
    ws.autofilter(0, 0, max(len(rows), 1), len(header) - 1)
    ws.freeze_panes(1, 0)
    # Printed: landscape A4, all columns on one page wide, the header on every page.
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    column_widths = [widths.get(j) or _width([title, *(str(r[j]) for r in rows)], most=40)
                     for j, title in enumerate(header)]
    for j, width in enumerate(column_widths):
        ws.set_column(j, j, width)
    # Row heights set here: not every program fits wrapped rows on opening.
    for i, row in enumerate(rows, start=1):
        lines = max(_lines(str(v), column_widths[j]) for j, v in enumerate(row))
        if lines > 1:
            ws.set_row(i, 15 * lines)
