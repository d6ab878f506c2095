"""What a validation run produces: the JSON, the findings workbook, annotated copies.

The JSON and the findings workbook are new files (xlsxwriter); annotated copies
are made in annotate.py (re-exported here).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .annotate import ANNOTATION_SHEET, AnnotateOutcome, annotate_workbook, annotate_workbooks
from .form import Form
from .rules import Finding, field_title
from .validate import UNREADABLE, VERDICTS, FileResult, ValidationRun, isolated, listing_key
from .writing import write_file
from .xlsx_output import (Formats, broken, shown_value, close_workbook, new_workbook, row_points, text_lines,
                          text_table_widths)

__all__ = ["write_json", "write_report_xlsx", "annotate_workbooks", "annotate_workbook",
           "ANNOTATION_SHEET", "AnnotateOutcome"]

AUTHOR = "xlsx-tools"
# The findings workbook's text size, in points.
SIZE = 10


# -- JSON ----------------------------------------------------------------------

def _isolate(run: ValidationRun, kind: str, work):
    """``work(result)`` for each file; a file it fails for becomes 无法读取 in the run itself,
    so every output after says the same of it."""
    out = []
    for i, r in enumerate(run.files):
        value, run.files[i] = isolated(run.form, r, kind, work)
        out.append(value if value is not None else work(run.files[i]))
    return out


def _json_of(r: FileResult) -> dict:
    d = r.to_dict()
    json.dumps(d, ensure_ascii=False).encode("utf-8")   # fails here, for this file alone
    return d


def write_json(run: ValidationRun, path: str | Path) -> Path:
    path = Path(path)
    files = _isolate(run, "report_failed", _json_of)
    text = json.dumps({"form": run.form.id, "files": files}, ensure_ascii=False, indent=2) + "\n"
    write_file(path, lambda p: p.write_text(text, encoding="utf-8"), what="结果文件")
    return path


# -- the findings workbook -----------------------------------------------------

def _field_titles(form: Form, finding: Finding) -> str:
    return "、".join(field_title(form, i) for i in finding.fields if i in form.by_id)


def finding_header(form: Form) -> tuple[str, ...]:
    return ("文件", form.column_header("unit"), "单元格", "字段", "严重程度", "代码", "说明",
            form.catalogue.phrase("explanation"))


def file_header(form: Form) -> tuple[str, ...]:
    return ("文件", form.column_header("unit"), form.column_header("batch"),
            form.column_header("category"), "结论", "错误数", "警告数", "其中已说明",
            "无法读取的原因")


def finding_rows(run: ValidationRun) -> list[tuple]:
    return [row for rows, _ in _report_rows(run) for row in rows]


def file_rows(run: ValidationRun) -> list[tuple]:
    return [row for _, row in _report_rows(run)]


def _report_rows(run: ValidationRun) -> list[tuple[list[tuple], tuple]]:
    """Each file's rows, in the listings' order (:func:`~xlsx_tools.validate.listing_key`)."""
    rows = _isolate(run, "report_failed", lambda r: _rows_of(run.form, r))
    order = sorted(range(len(rows)), key=lambda i: listing_key(run.form, run.files[i]))
    return [rows[i] for i in order]


def _rows_of(form: Form, r: FileResult) -> tuple[list[tuple], tuple]:
    """A file's rows of 问题清单 and its row of 文件情况, every text writable."""
    words = form.catalogue
    findings = [(r.file, r.unit or "", f.where, _field_titles(form, f), words.severity_word(f.severity),
                 words.title(f.code), f.message, f.explanation or "") for f in r.findings]
    row = (r.file, r.unit or "", r.batch or "", shown_value(form.role_field("category"), r.category or ""),
           r.verdict, r.errors, r.warnings, r.explained, r.reason or "")
    for value in (*row, *(v for found in findings for v in found)):
        if isinstance(value, str):
            value.encode("utf-8")
    return findings, row


def write_report_xlsx(run: ValidationRun, path: str | Path) -> Path:
    """问题清单 (one row per finding, filterable) and 文件情况 (one row per file)."""
    path = Path(path)

    def write(tmp: Path) -> None:
        wb = new_workbook(tmp, "校验结果", run.form.output_time, AUTHOR)
        # 10 pt, as the summaries' tables: one page wide it prints at 8 pt or more.
        mk = Formats(wb, font_size=SIZE, valign="top", border=1).get
        head = mk(bold=True, bg_color="#D9E1F2", text_wrap=True, valign="vcenter")
        # Bordered cells: on paper a row of wrapped texts is told from the next by its lines.
        wrap = mk(text_wrap=True)
        error = mk(font_color="#9C0006", bg_color="#FFC7CE")
        warning = mk(font_color="#9C5700", bg_color="#FFEB9C")
        explained = mk(bg_color="#DDEBF7")
        verdict_fmt = {VERDICTS["accepted"]: mk(bg_color="#C6EFCE"),
                       VERDICTS["warnings"]: warning, VERDICTS["explained"]: explained,
                       VERDICTS["rejected"]: error, UNREADABLE: error}
        error_word = run.form.catalogue.severity_word("error")
        folder, shown = _shown_names([r.file for r in run.files])
        # The files by their names under the folder they all came from (a full path wraps
        # into several lines of a narrow column); the folder is printed at each page's top.
        rows = [([(shown.get(found[0], found[0]), *found[1:]) for found in findings],
                 (shown.get(row[0], row[0]), *row[1:])) for findings, row in _report_rows(run)]
        _table(wb.add_worksheet("问题清单"), finding_header(run.form),
               [x for found, _ in rows for x in found], head, wrap,
               lambda row, col: (error if row[4] == error_word else warning) if col == 4 else None,
               text=6, folder=folder)
        _table(wb.add_worksheet("文件情况"), file_header(run.form), [row for _, row in rows], head, wrap,
               lambda row, col: verdict_fmt.get(row[4]) if col == 4 else None,
               text=8, folder=folder)
        close_workbook(wb)

    write_file(path, write, what="问题清单")
    return path


def _shown_names(files: list[str]) -> tuple[str, dict[str, str]]:
    """The folder every file is in (at any depth) and each file's path under it; no folder
    when they share none (or are given in different ways)."""
    try:
        folder = os.path.commonpath([os.path.dirname(f) for f in files]) if files else ""
    except ValueError:        # absolute and relative paths, or two drives
        folder = ""
    if folder in ("", "."):
        return "", {}
    return folder, {f: os.path.relpath(f, folder) for f in files}


def _table(ws, header, rows, head, wrap, special, text: int, folder: str = "") -> None:
    """A table of texts, the column ``text`` (the long texts) given the page's room."""
    column_widths = text_table_widths([[title, *(str(r[j]) for r in rows)]
                                       for j, title in enumerate(header)], text, SIZE)
    # The messages broken here: a spreadsheet program starts lines with 」 or splits
    # 统计表!C18. The other texts (names, codes, the 结论 filtered on, the filler's own
    # words) are kept as they are and wrap in their cells.
    shown = [[broken(v, column_widths[j], SIZE) if j == text and isinstance(v, str) else v
              for j, v in enumerate(row)] for row in rows]
    ws.write_row(0, 0, header, head)
    for i, (row, texts) in enumerate(zip(rows, shown), start=1):
        for j, value in enumerate(texts):
            ws.write(i, j, value, special(row, j) or wrap)
    ws.autofilter(0, 0, max(len(rows), 1), len(header) - 1)
    ws.freeze_panes(1, 0)
    # Printed: landscape A4, all columns on one page wide, the header on every page.
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    if folder:
        # A header is at most 255 characters, "&" its escape; a long folder keeps its end.
        words = f"文件夹：{folder}".replace("&", "&&")
        ws.set_header("&L" + (words if len(words) <= 240 else "…" + words[-239:]))
    for j, width in enumerate(column_widths):
        ws.set_column(j, j, width)
    # Row heights set here: not every program fits wrapped rows on opening.
    for i, row in enumerate([header, *shown]):
        lines = max(text_lines(str(v), column_widths[j], SIZE) for j, v in enumerate(row))
        ws.set_row(i, row_points(lines, SIZE))
