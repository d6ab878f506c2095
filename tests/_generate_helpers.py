"""Helpers for the generate tests: inspect a workbook through openpyxl, print it through LibreOffice."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import openpyxl

from _libreoffice import convert as convert_files



def norm(text: str) -> str:
    """Text without any whitespace, to compare what a PDF shows with a label."""
    return re.sub(r"\s+", "", text or "")


# A unit in brackets at the end of a label: "(个)", "（万元）", "(个(套))".
_UNIT_AT_END = re.compile(r"[(（].*[)）]$")


def labels_name_field(label: str, labels: list[str]) -> bool:
    """The layout's labels left of an input (nearest first, as ``Form.label_for``) name
    the field of ``label``: the nearest is that label or starts with it, or the group's
    label and the nearest make it; or the nearest says the same but writes its unit in
    brackets another way (the spec's 个(套) in brackets, the layout's 个/套)."""
    nearest = labels[0]
    if label in {nearest} | {f"{g} {nearest}" for g in labels[1:]} or nearest.startswith(label):
        return True
    stem = _UNIT_AT_END.sub("", label)
    return stem != label and _UNIT_AT_END.sub("", nearest) == stem


def convert(files: list[Path], outdir: Path, fmt: str = "pdf") -> list[Path]:
    """Convert many files in ONE soffice call (to PDF unless told otherwise)."""
    return convert_files(files, outdir, fmt, timeout=300)


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page (pdftotext -raw keeps a cell's wrapped lines together)."""
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], check=True,
                          capture_output=True, text=True).stdout
    return [(float(w), float(h)) for w, h in
            re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)]


# Excel's width of a column no <col> element sets (8.43 characters: 64 pixels).
DEFAULT_WIDTH_PX = 64


def column_pixels(ws) -> dict[int, int]:
    """Each column's width in Excel's pixels (1-based index), as the file stores it: a <col>
    element may span several columns, and its width is its pixels / 7 (xlsxwriter writes
    the width it was given plus its padding)."""
    out = {}
    for dim in ws.column_dimensions.values():
        if dim.width:
            for c in range(dim.min, dim.max + 1):
                out[c] = round(dim.width * 7)
    return out


def column_width(ws, cols) -> float:
    """The width the writer gave columns ``cols`` together, in characters (xlsxwriter: a
    width w is int(7 w + 0.5) + 5 pixels)."""
    pixels = column_pixels(ws)
    return sum((pixels.get(c, DEFAULT_WIDTH_PX) - 5) / 7 for c in cols)


def printed_pixels(ws, cols) -> int:
    """The width columns ``cols`` print at full size, in Excel's pixels."""
    pixels = column_pixels(ws)
    return sum(pixels.get(c, DEFAULT_WIDTH_PX) for c in cols)


def merged_top_left(ws) -> dict[tuple[int, int], tuple[int, int]]:
    """(row, col) of every cell inside a merged range -> its range's top-left."""
    out = {}
    for rng in ws.merged_cells.ranges:
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                out[(r, c)] = (rng.min_row, rng.min_col)
    return out


def merged_extent(ws, row: int, col: int) -> list[tuple[int, int]]:
    """All cells of the merged range whose top-left is (row, col), or just that cell."""
    for rng in ws.merged_cells.ranges:
        if rng.min_row == row and rng.min_col == col:
            return [(r, c) for r in range(rng.min_row, rng.max_row + 1)
                    for c in range(rng.min_col, rng.max_col + 1)]
    return [(row, col)]


def name_targets(wb) -> dict[str, tuple[str, str]]:
    """Workbook-level defined name -> (sheet, 'C5')."""
    out = {}
    for name, dn in wb.defined_names.items():
        dest = list(dn.destinations)
        assert len(dest) == 1, f"{name} points at {dest}"
        sheet, ref = dest[0]
        out[name] = (sheet, ref.replace("$", ""))
    return out


def labels_left_of(ws, row: int, col: int, inputs: set[tuple[int, int]]) -> list[str]:
    """Texts of the locked label cells left of (row, col) in its row, nearest first."""
    top = merged_top_left(ws)
    out, seen = [], set()
    for c in range(col - 1, 0, -1):
        r0, c0 = top.get((row, c), (row, c))
        if (r0, c0) in seen or (r0, c0) in inputs:
            continue
        seen.add((r0, c0))
        cell = ws.cell(r0, c0)
        if isinstance(cell.value, str) and cell.value.strip() and cell.protection.locked:
            out.append(cell.value)
    return out


def validations_at(ws, coord: str) -> list:
    return [dv for dv in ws.data_validations.dataValidation if coord in dv.sqref]


def has_cjk(text: str | None) -> bool:
    return bool(text) and re.search(r"[\u4e00-\u9fff]", text) is not None


def roster_csv(rows: list[list[str]], header=("单位名称", "列入批次", "平台类别", "推荐单位")) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def roster_xlsx(path: Path, rows: list[list[str]],
                header=("单位名称", "列入批次", "平台类别", "推荐单位")) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


# A reference to a cell of a sheet, as the findings give it: 统计表!C18.
_CELL_REF = re.compile(r"[^\s、，,;；!]+![A-Z]+[0-9]+")
# A quoted span (a file name to copy).
_QUOTED = re.compile(r"[（(\[【“‘《]*“[^“”]*”[，。、；：？！）)\]】”’》]*")


def badly_broken(ws, first_row: int, widths: list[float], size: float = 10,
                 messages: tuple[int, ...] = ()) -> list[tuple[int, int, str]]:
    """The texts of a table (rows from ``first_row``) a printout breaks badly. In a column of
    ``messages`` (numbered from 1), the only ones the program breaks: one that wraps in its
    column (``widths``, from the first) without the program's own line breaks, a line that
    starts with a closing mark, or a cell reference split across lines. In any other column
    (names, codes, status words): a line break written in, or a word of 4 characters or
    fewer wider than its column."""
    from xlsx_tools.line_rules import NO_LINE_END, NO_LINE_START
    from xlsx_tools.xlsx_output import text_width

    bad = []
    for row in ws.iter_rows(min_row=first_row):
        for c in row:
            if not isinstance(c.value, str):
                continue
            if c.column not in messages:
                if "\n" in c.value:
                    bad.append((c.row, c.column, "broken: " + c.value))
                elif len(c.value) <= 4 and text_width(c.value, size) > widths[c.column - 1] - 1.5:
                    bad.append((c.row, c.column, "short word split: " + c.value))
                continue
            lines = c.value.split("\n")
            joined = c.value.replace("\n", "")
            usable = max(widths[c.column - 1] - 1.5, 1.0)
            if any(text_width(line, size) > usable for line in lines):
                bad.append((c.row, c.column, "wraps unbroken: " + c.value))
            if any(line[:1] in NO_LINE_START for line in lines[1:]):
                bad.append((c.row, c.column, "closing mark first: " + c.value))
            if any(line[-1:] in NO_LINE_END for line in lines[:-1]):
                bad.append((c.row, c.column, "opening mark last: " + c.value))
            if any(line != line.strip() for line in lines[1:]):
                bad.append((c.row, c.column, "space at a break: " + c.value))
            if any(a[-1:].isascii() and a[-1:].isalnum() and b[:1].isascii() and b[:1].isalnum()
                   for a, b in zip(lines, lines[1:])):
                bad.append((c.row, c.column, "Latin run split: " + c.value))
            if any(text_width(q, size) <= usable and not any(q in line for line in lines)
                   for q in _QUOTED.findall(joined)):
                bad.append((c.row, c.column, "quoted name split: " + c.value))
            if any(not any(ref in line for line in lines) for ref in _CELL_REF.findall(joined)):
                bad.append((c.row, c.column, "reference split: " + c.value))
    return bad
