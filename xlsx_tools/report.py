"""What a validation run produces: the JSON, the findings workbook, annotated copies.

The JSON and the findings workbook are new files (xlsxwriter); an annotated copy
is the returned workbook itself, opened with openpyxl, with every finding marked
on its cell and listed on an extra sheet, saved under the same name elsewhere.
The original file is never written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable

import xlsxwriter

from .form import Form, parse_cell
from .rules import SEVERITY_CN, Finding, code_title, field_title
from .validate import UNREADABLE, FileResult, ValidationRun, isolated

__all__ = ["write_json", "write_report_xlsx", "annotate_workbooks", "annotate_workbook",
           "ANNOTATION_SHEET", "AnnotateOutcome"]

# Generated files carry this date, so the same run gives the same bytes.
FIXED_TIME = dt.datetime(2022, 1, 1, 0, 0, 0)
ANNOTATION_SHEET = "校验问题"
AUTHOR = "xlsx-tools"
FILL = {"error": "FFC7CE", "warning": "FFE4B5"}     # light red, light orange
FONT = {"error": "9C0006", "warning": "9C5700"}


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

def _isolate(run: ValidationRun, kind: str, work):
    """``work(result)`` for each file; a file it fails for becomes 无法读取 in the run itself,
    so every output after says the same of it."""
    out = []
    for i, r in enumerate(run.files):
        value, run.files[i] = isolated(r, kind, work)
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
    return [row for rows, _ in _isolate(run, "report_failed", lambda r: _rows_of(run.form, r)) for row in rows]


def file_rows(run: ValidationRun) -> list[tuple]:
    return [row for _, row in _isolate(run, "report_failed", lambda r: _rows_of(run.form, r))]


def _rows_of(form: Form, r: FileResult) -> tuple[list[tuple], tuple]:
    """A file's rows of 问题清单 and its row of 文件情况, every text writable."""
    findings = [(r.file, r.unit_name or "", f.where, _field_titles(form, f), f.severity_cn,
                 code_title(f.code), f.message) for f in r.findings]
    row = (r.file, r.unit_name or "", r.batch or "", r.platform_category or "",
           r.verdict, r.errors, r.warnings, r.reason or "")
    for value in (*row, *(v for found in findings for v in found)):
        if isinstance(value, str):
            value.encode("utf-8")
    return findings, row


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
        rows = _isolate(run, "report_failed", lambda r: _rows_of(run.form, r))
        _table(wb.add_worksheet("问题清单"), FINDING_HEADER, [x for found, _ in rows for x in found], head, wrap,
               lambda row, col: (error if row[4] == SEVERITY_CN["error"] else warning)
               if col == 4 else None,
               widths={6: 70})
        _table(wb.add_worksheet("文件情况"), FILE_HEADER, [row for _, row in rows], head, wrap,
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


# -- annotated copies ------------------------------------------------------------

class AnnotateOutcome:
    """Which copies were written, and the files skipped with a short Chinese reason."""

    def __init__(self) -> None:
        self.written: list[Path] = []
        self.skipped: list[tuple[str, str]] = []


def annotate_workbooks(run: ValidationRun, out_dir: str | Path) -> AnnotateOutcome:
    """For each readable workbook with findings, a marked-up copy in ``out_dir``."""
    out_dir = Path(out_dir)
    outcome = AnnotateOutcome()
    used: set[str] = set()
    for i, r in enumerate(run.files):
        if not r.findings:
            continue
        if not r.readable:
            outcome.skipped.append((r.file, "文件无法读取"))
            continue
        name = _unique_name(r.name, used)
        target = out_dir / name
        if target.resolve() == r.path.resolve():
            outcome.skipped.append((r.file, "不能覆盖原文件，请换一个输出文件夹"))
            continue
        # One odd file stops neither the others nor the run: it becomes 无法读取, with its reason.
        # (An output that cannot be written is the run's problem, not the file's: it is raised.)
        written, run.files[i] = isolated(r, "annotate_failed",
                                         lambda r, target=target: annotate_workbook(run.form, r, target),
                                         passes=(OSError,))
        if written is None:
            outcome.skipped.append((r.file, run.files[i].reason))
            continue
        outcome.written.append(target)
    return outcome


def _unique_name(name: str, used: set[str]) -> str:
    """Files with the same name from different folders get (2), (3)... added."""
    stem, suffix = os.path.splitext(name)
    candidate, n = name, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}({n}){suffix}"
    used.add(candidate.lower())
    return candidate


def annotate_workbook(form: Form, result: FileResult, target: str | Path) -> Path:
    """Mark each finding of ``result`` on its cells in a copy saved as ``target``."""
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill

    target = Path(target)
    wb = openpyxl.load_workbook(result.path, keep_vba=False, rich_text=False)
    if ANNOTATION_SHEET in wb.sheetnames:  # a copy annotated before: list afresh
        del wb[ANNOTATION_SHEET]
    for ws in wb.worksheets:               # and drop the earlier notes (not the filler's)
        for row in ws.iter_rows():
            for cell in row:
                if cell.comment is not None and cell.comment.author == AUTHOR:
                    cell.comment = None
    notes: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        for cell in f.cells:
            sheet, _, ref = cell.rpartition("!")
            if sheet in wb.sheetnames:
                notes.setdefault((sheet, ref), []).append(f)
    for (sheet, ref), found in notes.items():
        c = wb[sheet][_top_left(wb[sheet], ref)]
        worst = "error" if any(f.is_error for f in found) else "warning"
        c.fill = PatternFill("solid", start_color=FILL[worst], end_color=FILL[worst])
        text = "\n".join(f"【{f.severity_cn}】{f.message}" for f in found)
        if c.comment is not None:          # the filler's own note stays, first
            text = f"{c.comment.text}\n\n{text}"
        comment = Comment(text, AUTHOR)
        comment.width, comment.height = 320, min(60 + 40 * len(text) // 22, 400)
        c.comment = comment

    # Last, so the form's sheets keep their places; but shown first on opening.
    ws = wb.create_sheet(ANNOTATION_SHEET)
    ws.append(["序号", "单元格", "字段", "严重程度", "说明"])
    for i, f in enumerate(result.findings, start=1):
        ws.append([i, f.where, _field_titles(form, f), f.severity_cn, f.message])
        ws.cell(i + 1, 4).fill = PatternFill("solid", start_color=FILL[f.severity],
                                             end_color=FILL[f.severity])
        ws.cell(i + 1, 4).font = Font(color=FONT[f.severity])
    widths = (6, 24, 30, 10, 70)
    for col, width in zip("ABCDE", widths):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=1, max_row=ws.max_row):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        lines = max(_lines(str(c.value or ""), w) for c, w in zip(row, widths))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = 15 * lines
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.sheet_properties.tabColor = "C00000"
    for other in wb.worksheets:
        other.sheet_view.tabSelected = other is ws
    wb.active = ws
    # Excel recalculates on opening, since openpyxl keeps formulas but not their results.
    wb.calculation.fullCalcOnLoad = True
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.lastModifiedBy = AUTHOR

    def save(p: Path) -> None:
        wb.save(p)
        _fix_zip_times(p)

    _atomic_write(target, save)
    return target


_MODIFIED = re.compile(rb"(<dcterms:modified\b[^>]*>)[^<]*(</dcterms:modified>)")


def _fix_zip_times(path: Path) -> None:
    """openpyxl stamps the zip members and the 'modified' property with the
    current time on saving; use a fixed one, so the same run gives the same bytes."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    members = [(info, _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
                if info.filename == "docProps/core.xml" else data) for info, data in members]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            z.writestr(fixed, data)


def _top_left(ws, ref: str) -> str:
    """A merged range is written through its top-left cell."""
    row, col = parse_cell(ref)
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return rng.start_cell.coordinate
    return ref
