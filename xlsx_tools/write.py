"""Write the form as an Excel workbook: blank, or pre-filled for one platform.

Everything comes from the :class:`~xlsx_tools.form.Form`: the cells of each
sheet, the labels, the fields and their types, the periods, the words of the
prompts (the form's catalogue). The workbook is Excel-native: labels locked, only
input cells open, every input named (``fld_<id>``) and validated with a Chinese
prompt, required blanks highlighted, print-ready on A4, with the checks that run
while it is filled (``incell``). The same inputs give the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import os
import re
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from . import expr as ex
from . import incell
from .catalogue import render
from .form import PREFILL_PREFIX, META_MAP_HEADER, META_SHEET, Cell, Field, Form, Sheet, cell_name, load_form
from .previous import PreviousRound, last_round, previous_number
from .read.limits import MAX_TEXT
from .stamp import SheetShown, Template
from .writing import write_bytes as write_data
from .xlsx_output import (Formats, FormulaWorksheet, OutputError, broken, checked, excel_text,
                          quote_sheet, row_points, text_lines, text_width)

__all__ = [
    "GenerateError", "BuildContext", "SheetShown", "Stamper", "write_workbook", "generate_blank",
    "generate_from_roster", "prefill_keys", "blank_file_name", "RosterWorkbook", "roster_workbooks",
    "unit_context", "unit_shown", "build_workbook", "write_bytes",
]

# A workbook could not be written; the message is Chinese, for the user.
GenerateError = OutputError


def prefill_keys(form: Form | None = None) -> list[str]:
    """Field ids a roster pre-fills (the fields of the definition's roster columns)."""
    return (form or load_form()).prefill_fields


def blank_file_name(form: Form) -> str:
    """The blank's name: the table's title without its number and any slash."""
    title = form.table_title.split(".", 1)[-1]
    return title.replace("/", "") + ".xlsx"


def _created(form: Form) -> dt.datetime:
    # A fixed document date (the round's first day), so the same inputs give the same bytes.
    return dt.datetime.combine(form.window_start, dt.time())

# -- looks -------------------------------------------------------------------

FONT = "宋体"
LABEL_FILL = "#F2F2F2"
PREVIOUS_FILL = "#E7E6E6"       # last year's value: grey, like a label, but a number
PREVIOUS_FONT = "#595959"
HEADING_FILL = "#D9E1F2"
PREFILLED_FILL = "#DDEBF7"
MISSING_FILL = "#FFF2A8"
BORDER = "#808080"

_EMPTY_ROW = 40.0        # spacer rows of the cover
# Printable height of an A4 page with the margins of _page_setup, less a little.
_PAGE_FILL = round((842 - (0.7 + 0.8) * 72) * 0.94, 1)
_SIZES = {"cover_title": 26, "cover": 15, "cover_small": 14, "declaration_title": 22,
          "table_title": 16, "body": 11, "note": 10.5, "help_title": 16}

# Number formats by field type; text-like codes are stored as text so that
# leading zeros (010-, 100080) are kept.
_NUM_FORMATS = {"int": "0", "amount": "0.00", "date": 'yyyy"年"m"月"d"日"',
                "phone": "@", "mobile": "@", "postcode": "@"}
# Inputs of these types shrink to fit their cell rather than wrap; these hold no wide
# characters.
_SHRINK = ("int", "amount", "date")
_NARROW = ("phone", "mobile", "email", "postcode")
# Default length limits where the form gives none.
_LENGTH = {"text": 200, "longtext": 2000, "phone": 40, "mobile": 20, "email": 100, "postcode": 6}

_CHECKED, _UNCHECKED = "■", "□"
_SIGN_SPACE = "\u3000" * 10     # the underlined room to sign or stamp on
_SIGN_LINES = 3                 # a signature row is this many lines tall


# -- the build context (also handed to extensions such as incell) ------------------


@dataclass
class BuildContext:
    """What a module adding to the workbook needs, at the end of building.

    ``shown`` is what the unit's values make each sheet show (:func:`unit_shown`):
    the writer writes it, and a stamped copy (:class:`Stamper`) holds the same.
    ``workbook``, ``sheets`` and ``formats`` are there while a workbook is built.
    """
    workbook: Any
    sheets: dict[str, Worksheet]
    form: Form
    inputs: dict[str, Cell]                 # field id -> its input cell
    formats: Formats | None
    prefill: dict[str, str]
    locked_inputs: set[str] = field(default_factory=set)
    password: str = ""
    # Last year's values shown in the 上年 cells (field id -> number); None: the workbook
    # has no 上年 cells (each input spans them, as the blank does).
    previous: dict[str, int | Decimal] | None = None
    shown: dict[str, SheetShown] = field(default_factory=dict)

    def ref(self, field_id: str, from_sheet: str | None = None) -> str:
        """$C$5 on the same sheet, '统计表'!$C$5 from another."""
        c = self.inputs[field_id]
        a = cell_name(c.row, c.col, absolute=True)
        return a if from_sheet == c.sheet else f"{quote_sheet(c.sheet)}!{a}"


class _Workbook(xlsxwriter.Workbook):
    """xlsxwriter has no workbook protection; add <workbookProtection> to workbook.xml."""

    structure_password: str | None = None
    worksheet_class = FormulaWorksheet

    def _write_workbook_pr(self) -> None:
        super()._write_workbook_pr()
        if self.structure_password is not None:
            attrs = []
            if self.structure_password:
                attrs.append(("workbookPassword", _legacy_hash(self.structure_password)))
            attrs.append(("lockStructure", 1))
            self._xml_empty_tag("workbookProtection", attrs)


def _legacy_hash(password: str) -> str:
    # The 16-bit hash of ECMA-376 Part 4 (workbookPassword, sheetProtection password).
    digest = 0
    for char in password[::-1]:
        digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
        digest ^= ord(char)
    digest = ((digest >> 14) & 0x01) | ((digest << 1) & 0x7FFF)
    digest ^= len(password) ^ 0xCE4B
    return f"{digest:X}"


# -- the workbook ------------------------------------------------------------


def write_workbook(path: str | Path, form: Form | None = None, prefill: dict | None = None,
                   password: str | None = None,
                   previous: Mapping[str, object] | None = None) -> Path:
    """Write one workbook to ``path``: blank, or pre-filled with ``prefill``.

    ``prefill`` maps field ids of :func:`prefill_keys` (the roster's fields) to
    values; those values are written and locked, and recorded in the hidden sheet.
    ``password`` protects every sheet (default: the form's password).
    ``previous`` maps field ids to last year's values: the workbook then shows each
    in its 上年 cell (named prev_<id>, locked, grey) beside the input (a field without
    one shows the label and a dash). Without it the inputs span those cells.
    """
    form = form or load_form()
    data = build_workbook(unit_context(form, _clean_prefill(form, prefill or {}), password,
                                       previous=_clean_previous(form, previous)))
    return write_bytes(Path(path), data)


def write_bytes(path: Path, data: bytes) -> Path:
    """Save a workbook's bytes whole (a temporary file renamed)."""
    # CannotWrite (a GenerateError) when it cannot be written: one sentence naming the path.
    return write_data(path, data, what="统计表")


def unit_context(form: Form, prefill: dict[str, str], password: str | None = None,
                 locked: set[str] | None = None, checks: list | None = None,
                 previous: dict[str, int | Decimal] | None = None) -> BuildContext:
    """The context of one unit's workbook, before a workbook is built: its (clean) pre-filled
    values, the inputs they lock (default: those with a value), last year's (clean) values
    (None: no 上年 cells) and what its sheets show."""
    inputs = {c.text: c for s in form.sheets for c in s.cells if c.kind == "input"}
    if locked is None:
        locked = {k for k, v in prefill.items() if v}
    ctx = BuildContext(None, {}, form, inputs, None, prefill, set(locked),
                       form.password if password is None else password, previous)
    ctx.shown = unit_shown(ctx, checks)
    return ctx


def build_workbook(unit: BuildContext) -> bytes:
    """The workbook of ``unit`` (:func:`unit_context`), built by xlsxwriter: its bytes."""
    form, password = unit.form, unit.password
    out = io.BytesIO()
    # The Normal style's font sets the unit of column widths; Arial (or its
    # metric twin Liberation Sans) measures alike in Excel, WPS and LibreOffice.
    # A value is written as the text it is: never turned into a formula or a link.
    wb = _Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                         "default_format_properties": {"font_name": "Arial", "font_size": 10}})
    wb.structure_password = password
    wb.set_properties({
        "title": form.title, "subject": form.table_title, "author": form.issuer,
        "company": form.issuer, "comments": f"{form.notice}；表单 {form.id} 第 {form.version} 版",
        "created": _created(form),
    })
    wb.set_calc_mode("auto")
    ctx = dataclasses.replace(unit, workbook=wb, sheets={},
                              formats=Formats(wb, font_name=FONT, font_size=_SIZES["body"]))
    sheets = ctx.sheets
    for sheet in form.sheets:
        sheets[sheet.name] = wb.add_worksheet(sheet.name)
    for sheet in form.sheets:
        _write_sheet(ctx, sheet)
    help_name = _help_sheet(form)
    sheets[help_name] = wb.add_worksheet(help_name)
    _write_instructions(ctx, sheets[help_name])
    # The checks that run while the workbook is filled: their sheet joins ctx.sheets
    # (protected below with the others), after 填报说明 and before the hidden sheet.
    incell.add_checks(ctx)
    meta = wb.add_worksheet(META_SHEET)
    sheets[META_SHEET] = meta
    _write_meta(ctx, meta)
    _define_names(ctx)
    for ws in sheets.values():
        ws.protect(password, {"format_columns": True, "format_rows": True,
                              "select_locked_cells": True, "select_unlocked_cells": True})
    sheets[form.cover.name].activate()
    try:
        wb.close()
    except xlsxwriter.exceptions.XlsxWriterException as e:
        raise GenerateError(f"生成工作簿时出错（{type(e).__name__}）。") from e
    return out.getvalue()


# What an XML part cannot hold (xlsxwriter would write it into a formula's result as it is).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean_previous(form: Form, previous: Mapping[str, object] | None
                    ) -> dict[str, int | Decimal] | None:
    if previous is None:
        return None
    out: dict[str, int | Decimal] = {}
    for fid in form.previous_fields:
        v = previous_number(previous.get(fid))
        if v is not None:
            out[fid] = v
    return out


def _clean_prefill(form: Form, prefill: dict) -> dict[str, str]:
    allowed = form.prefill_fields
    unknown = set(prefill) - set(allowed)
    if unknown:
        raise ValueError(f"不能预填 {sorted(unknown)}；表单定义的名单只预填 {allowed}")
    out = {}
    for key in allowed:
        value = str(prefill.get(key) or "").strip()
        f = form.field(key)
        if value and f.choices and value not in f.choices:
            raise ValueError(f"{key} 的预填值“{value}”不在可选范围 {f.choices} 内")
        if _NOT_XML.search(value):
            raise ValueError(f"{key} 的预填值含有工作簿中不能保存的字符")
        if len(value.encode("utf-16-le")) // 2 > MAX_TEXT:
            raise GenerateError(f"“{f.label}”的预填值有 {len(value):,} 个字符，超过 Excel 一个单元格"
                                f"最多 {MAX_TEXT:,} 个字符的上限。")
        out[key] = value
    return out


# -- what the unit's values make the sheets show ----------------------------------


def unit_shown(ctx: BuildContext, checks: list | None = None) -> dict[str, SheetShown]:
    """Per sheet, what the unit's values make it show: the layout's cells and row heights,
    填报说明's lines, the hidden sheet's pre-filled values, the checks' stored results."""
    form = ctx.form
    shown = {sheet.name: _layout_shown(ctx, sheet) for sheet in form.sheets}
    lines = _instruction_lines(ctx)
    shown[_help_sheet(form)] = SheetShown(
        {(r, first): text for r, line in enumerate(lines) for text, _, first, _, _ in line.pieces},
        {r: line.height for r, line in enumerate(lines)})
    shown[META_SHEET] = SheetShown({(r, 1): v for r, (_, v) in enumerate(_meta_values(ctx))
                                    if isinstance(v, int) or v})
    for name, cells in incell.results(form, ctx.prefill, checks, ctx.previous).items():
        shown.setdefault(name, SheetShown()).cells.update(cells)
    return shown


def _help_sheet(form: Form) -> str:
    return form.instructions.get("sheet", "填报说明")


# -- sheets of the layout ------------------------------------------------------


def _layout_shown(ctx: BuildContext, sheet: Sheet) -> SheetShown:
    """A layout sheet's cells (each at its top-left), its rows, tall enough for their text,
    and its page breaks."""
    is_cover = sheet.name == ctx.form.cover.name
    widths = _widths(ctx, sheet)
    cells: dict[tuple[int, int], object] = {}
    heights: dict[int, float] = {}
    tall: list[tuple[Cell, float]] = []
    for cell in _cells_shown(ctx, sheet):
        value, text, size = _cell_value(ctx, sheet, cell, is_cover)
        cells[cell.row - 1, cell.col - 1] = value
        need = _height_needed(ctx, cell, text, size, widths, is_cover)
        if cell.height == 1:
            heights[cell.row] = max(heights.get(cell.row, 0), need)
        else:
            tall.append((cell, need))
    for cell, need in tall:
        rows = range(cell.row, cell.last_row + 1)
        have = sum(heights.get(r, row_points(1, _SIZES["body"])) for r in rows)
        if have < need:
            extra = (need - have) / len(rows)
            for r in rows:
                heights[r] = round(heights.get(r, row_points(1, _SIZES["body"])) + extra, 1)
    _fill_pages(heights, sheet)
    breaks = list(sheet.page_breaks) if is_cover else _group_breaks(sheet, heights, widths)
    return SheetShown(cells, {r - 1: heights.get(r, _EMPTY_ROW) for r in range(1, sheet.rows + 1)},
                      [r - 1 for r in breaks])


def _cell_value(ctx: BuildContext, sheet: Sheet, cell: Cell, is_cover: bool
                ) -> tuple[object, str, float]:
    """What a layout cell holds for this unit (a formula's: its result), the text it shows
    and its font size."""
    fmt_for = _cover_format if is_cover else _table_format
    if cell.kind == "input":
        f = ctx.form.field(cell.text)
        props = _input_format(f, is_cover, f.id in ctx.locked_inputs)
        value = ctx.prefill.get(f.id, "")
        return value, value, props.get("font_size", _SIZES["body"])
    if cell.kind == "previous":
        return (*_previous_value(ctx, cell), _PREVIOUS_SIZE)
    if cell.kind == "special":
        text, formula, props = _special(ctx, sheet, cell)
        size = props.get("font_size", _SIZES["body"])
        if not formula and props.get("text_wrap"):
            # An indent level is about three characters' width.
            text = broken(text, _span(_widths(ctx, sheet), cell) - 3 * props.get("indent", 0), size)
        return text, text, size
    if cell.kind == "show":
        props = fmt_for("show", ctx.form.field(cell.text))
        value = ctx.prefill.get(cell.text, "")
        return value, value, props.get("font_size", _SIZES["body"])
    props = fmt_for(cell.kind, None)
    size = props.get("font_size", _SIZES["body"])
    # Broken here, not by the program showing it, to keep a unit such as “(万元)” whole.
    text = broken(cell.text, _span(_widths(ctx, sheet), cell), size) if props.get("text_wrap") \
        else cell.text
    return text, text, size


def _write_sheet(ctx: BuildContext, sheet: Sheet) -> None:
    ws = ctx.sheets[sheet.name]
    is_cover = sheet.name == ctx.form.cover.name
    shown = ctx.shown[sheet.name]
    for i, w in enumerate(_widths(ctx, sheet)):
        ws.set_column(i, i, w)
    for cell in _cells_shown(ctx, sheet):
        _write_cell(ctx, ws, sheet, cell, is_cover, shown.cells[cell.row - 1, cell.col - 1])
    for r, height in shown.rows.items():
        ws.set_row(r, height)
    _page_setup(ws, sheet.rows, len(sheet.widths))
    codes = [c.ref for c in sheet.cells
             if c.kind == "input" and _NUM_FORMATS.get(ctx.form.field(c.text).type) == "@"]
    if codes:
        # Phone numbers and postcodes are text on purpose: no green "number as text" marks.
        ws.ignore_errors({"number_stored_as_text": " ".join(codes)})
    if shown.breaks:
        ws.set_h_pagebreaks(shown.breaks)
    if not is_cover:
        ws.repeat_rows(0, _title_rows(sheet) - 1)


def _widths(ctx: BuildContext, sheet: Sheet) -> tuple[float, ...]:
    """The sheet's column widths in this workbook: with 上年 cells, each of their columns
    wide enough for the widest value (:func:`_previous_widest`) at _PREVIOUS_LEAST pt, the
    width taken from the other columns in proportion, so that the page keeps its width;
    without them the layout's."""
    widths = list(sheet.widths)
    if ctx.previous is None:
        return sheet.widths
    need: dict[int, float] = {}
    for c in sheet.cells:
        if c.kind == "previous" and c.width == 1:
            text = f"{ctx.form.previous.label} {_previous_widest(ctx.form.field(c.text))}"
            need[c.col - 1] = max(need.get(c.col - 1, 0.0),
                                  math.ceil((text_width(text, _PREVIOUS_LEAST) + 1.5) * 2) / 2)
    extra = sum(max(0.0, w - widths[i]) for i, w in need.items())
    if not extra:
        return sheet.widths
    others = [i for i in range(len(widths)) if i not in need]
    # Each other column gives its share: narrowing the widest labels alone wrapped them
    # onto more lines, and the table took a page more.
    keep = 1 - extra / sum(widths[i] for i in others)
    for i in others:
        widths[i] = math.floor(widths[i] * keep * 4) / 4
    for i, w in need.items():
        widths[i] = max(widths[i], w)
    return tuple(widths)


def _cells_shown(ctx: BuildContext, sheet: Sheet) -> list[Cell]:
    """The layout's cells as this workbook has them: without last year's values, no
    上年 cells, and each input spans the cell its 上年 would take (the blank's look)."""
    if ctx.previous is not None:
        return list(sheet.cells)
    out = []
    for c in sheet.cells:
        if c.kind == "previous":
            continue
        prev = ctx.form.previous_cell(c.text) if c.kind == "input" else None
        out.append(dataclasses.replace(c, width=c.width + prev.width) if prev else c)
    return out


def _fill_pages(heights: dict[int, float], sheet: Sheet) -> None:
    """Stretch the empty rows of each page that ends in a manual break to fill it.

    Some programs ignore manual breaks under fit-to-width scaling; a full page
    breaks at the same row anyway.
    """
    starts = [1, *sheet.page_breaks]
    for first, nxt in zip(starts, starts[1:]):
        rows = range(first, nxt)
        spacers = [r for r in rows if r not in heights]
        used = sum(heights[r] for r in rows if r in heights)
        if spacers:
            each = max((_PAGE_FILL - used) / len(spacers), 12.0)
            for r in spacers:
                heights[r] = round(each, 1)


def _blocks(sheet: Sheet, start: int) -> list[tuple[int, int]]:
    """The rows from ``start`` in blocks that stay on one page: a label spanning rows
    with every row beside it, and a section heading with the block below it."""
    reach = {r: r for r in range(start, sheet.rows + 1)}
    headings = set()
    for c in sheet.cells:
        if c.row >= start:
            reach[c.row] = max(reach[c.row], c.last_row)
            if c.kind == "heading":
                headings.add(c.row)
    blocks: list[tuple[int, int]] = []
    r = start
    while r <= sheet.rows:
        end = r
        k = r
        while k <= end:
            end = max(end, reach[k])
            if k == end and end in headings and end < sheet.rows:
                end += 1          # a heading goes with what follows it
            k += 1
        blocks.append((r, end))
        r = end + 1
    return blocks


def _group_breaks(sheet: Sheet, heights: dict[int, float], widths: tuple[float, ...]) -> list[int]:
    """Page breaks (rows before which a page starts) that keep each block of
    :func:`_blocks` on one page, the sheet printed one page wide on A4 upright."""
    title = _title_rows(sheet)
    # Columns are in Arial 10 units (about 7 px each, plus 5) and the page is
    # 8.27 in less the side margins of _page_setup, at 96 px per inch.
    scale = min(1.0, (8.27 - 1.2) * 96 / sum(w * 7 + 5 for w in widths))
    room = _PAGE_FILL / scale - sum(heights.get(r, _EMPTY_ROW) for r in range(1, title + 1))
    breaks, used = [], 0.0
    for first, last in _blocks(sheet, title + 1):
        h = sum(heights.get(r, _EMPTY_ROW) for r in range(first, last + 1))
        if used and used + h > room:
            breaks.append(first)
            used = 0.0
        used += h
    return breaks


def _title_rows(sheet: Sheet) -> int:
    """The special rows above the first heading: repeated on every printed page."""
    first = min((c.row for c in sheet.cells if c.kind != "special"), default=1)
    return max(first - 1, 1)


def _one_line(cell: Cell, is_cover: bool) -> bool:
    # The cover's labels do not wrap (_cover_format): one line, whatever their width.
    return (cell.kind == "special" and cell.text == "category") or (is_cover and cell.kind == "label")


def _height_needed(ctx: BuildContext, cell: Cell, text: str, size: float,
                   widths: tuple[float, ...], is_cover: bool = False) -> float:
    span = _span(widths, cell)
    lines = text_lines(text, span, size) if text and not _one_line(cell, is_cover) else 1
    if cell.kind in ("input", "show") and cell.text not in ctx.locked_inputs:
        # Tall enough for the longest text the field takes (no program grows a row, nor a
        # merged cell, as a filler types): nothing typed is clipped, on screen or on paper.
        # A pre-filled, locked input holds its value for good: its text is the longest.
        lines = max(lines, text_lines(_longest_text(ctx.form.field(cell.text)), span, size))
    if cell.kind == "special" and cell.text == "title":
        return row_points(lines, size) + 20
    if cell.kind == "special" and cell.text.startswith("signature_"):
        lines = max(lines, _SIGN_LINES)
    return row_points(lines, size)


def _span(widths: tuple[float, ...], cell: Cell) -> float:
    return sum(widths[cell.col - 1: cell.last_col])


def _longest_text(f: Field) -> str:
    """The widest text a field's input takes: its length limit in wide characters (in
    narrow ones for codes and e-mail), its longest choice; a number or a date shrinks to
    fit its cell instead."""
    if f.type in _SHRINK:
        return ""
    if f.choices:
        return max((f.shown(c) for c in f.choices), key=len)
    return ("0" if f.type in _NARROW else "国") * _length_limit(f)


def _write_cell(ctx: BuildContext, ws: Worksheet, sheet: Sheet, cell: Cell, is_cover: bool,
                value) -> None:
    """Write one layout cell holding ``value`` (:func:`_cell_value`)."""
    fmt_for = _cover_format if is_cover else _table_format
    if cell.kind == "input":
        _write_input(ctx, ws, cell, is_cover, value)
    elif cell.kind == "previous":
        _write_previous(ctx, ws, cell, value)
    elif cell.kind == "special":
        _, formula, props = _special(ctx, sheet, cell)
        fmt = ctx.formats.get(**props)
        _place(ws, cell, "" if formula else value, fmt)
        if formula:
            checked(ws.write_formula(cell.row - 1, cell.col - 1, formula, fmt, value), cell.address)
        elif cell.text.startswith("signature_") and value.endswith("："):
            _signature_line(ctx, ws, cell, value, props, fmt)
    elif cell.kind == "show":
        src = ctx.ref(cell.text, sheet.name)
        fmt = ctx.formats.get(**fmt_for("show", ctx.form.field(cell.text)))
        _place(ws, cell, "", fmt)
        checked(ws.write_formula(cell.row - 1, cell.col - 1, f'=IF({src}="","",{src})', fmt, value),
               cell.address)
    else:
        _place(ws, cell, value, ctx.formats.get(**fmt_for(cell.kind, None)))


def _signature_line(ctx: BuildContext, ws: Worksheet, cell: Cell, text: str, props: dict,
                    fmt) -> None:
    """平台单位负责人（签字）：＿＿＿＿: the text, then an underlined blank to sign on."""
    size = props["font_size"]
    plain = ctx.formats.get(font_size=size)
    line = ctx.formats.get(font_size=size, underline=1)
    checked(ws.write_rich_string(cell.row - 1, cell.col - 1, plain, text, line, _SIGN_SPACE, fmt),
           cell.address)


def _place(ws: Worksheet, cell: Cell, text: str, fmt) -> None:
    r, c = cell.row - 1, cell.col - 1
    if cell.width > 1 or cell.height > 1:
        checked(ws.merge_range(r, c, cell.last_row - 1, cell.last_col - 1, text, fmt), cell.address)
    elif text:
        checked(ws.write_string(r, c, text, fmt), cell.address)
    else:
        checked(ws.write_blank(r, c, None, fmt), cell.address)


def _table_format(kind: str, f: Field | None) -> dict:
    base = {"border": 1, "border_color": BORDER, "valign": "vcenter", "text_wrap": True}
    if kind == "heading":
        return {**base, "bold": True, "font_size": 12, "bg_color": HEADING_FILL, "align": "left"}
    if kind in ("label", "blank"):
        return {**base, "bg_color": LABEL_FILL, "align": "center"}
    if kind == "show":
        # Aligned as the input it shows: a count shown elsewhere is centred like the counts.
        return {**base, "bg_color": LABEL_FILL, "align": _table_align(f),
                "num_format": _NUM_FORMATS.get(f.type, "General")}
    raise ValueError(kind)


def _table_align(f: Field) -> str:
    return "center" if f.type in ("int", "amount", "choice") else "left"


def _cover_format(kind: str, f: Field | None) -> dict:
    size = _SIZES["cover"]
    if kind == "label":
        return {"font_size": size, "bold": True, "align": "right", "valign": "bottom"}
    if kind == "show":
        return {"font_size": size, "align": "left", "valign": "bottom", "bottom": 1,
                "text_wrap": True}
    return {"font_size": size}


def _input_format(f: Field, on_cover: bool, locked: bool) -> dict:
    # Text wraps in a row tall enough for it (_longest_text); a number stays one line.
    fit = {"shrink": True} if f.type in _SHRINK else {"text_wrap": True}
    props: dict[str, Any] = {"locked": locked, "valign": "vcenter", **fit}
    if f.type in _NUM_FORMATS:
        props["num_format"] = _NUM_FORMATS[f.type]
    if f.type == "longtext":
        props["valign"] = "top"
    props["align"] = "left" if on_cover else _table_align(f)
    if on_cover:
        props.update({"font_size": _SIZES["cover"], "bottom": 1, "valign": "bottom"})
    else:
        props.update({"border": 1, "border_color": BORDER})
    if locked:
        props["bg_color"] = PREFILLED_FILL
    return props


def _write_input(ctx: BuildContext, ws: Worksheet, cell: Cell, on_cover: bool, value: str) -> None:
    f = ctx.form.field(cell.text)
    fmt = ctx.formats.get(**_input_format(f, on_cover, f.id in ctx.locked_inputs))
    _place(ws, cell, value, fmt)
    r, c = cell.row - 1, cell.col - 1
    checked(ws.data_validation(r, c, r, c, _validation(ctx.form, f, cell)), f"{cell.address} 数据验证")
    _add_missing_highlight(ctx, ws, cell, f)


_PREVIOUS_SIZE = 9
# A 上年 cell shrinks its text to fit, to this size at the least for the widest value.
_PREVIOUS_LEAST = 8


def _previous_widest(f: Field) -> str:
    """The widest value a 上年 cell is made room for at _PREVIOUS_LEAST pt (a wider one
    shrinks more): seven digits, an amount's five and its two decimals. Room for nine cost
    the label columns so much that their labels wrapped and the table took a page more."""
    return "0" * 5 + ".00" if f.type == "amount" else "0" * 7


def _previous_value(ctx: BuildContext, cell: Cell) -> tuple[float | str, str]:
    """Last year's value as its 上年 cell holds it (a number, or the label and a dash) and
    the text it shows (“上年 120”, “上年 —”)."""
    label = ctx.form.previous.label
    value = ctx.previous.get(cell.text)
    if value is None:
        return f"{label} —", f"{label} —"
    shown = f"{value:.2f}" if ctx.form.field(cell.text).type == "amount" else f"{value}"
    return float(value), f"{label} {shown}"


def _write_previous(ctx: BuildContext, ws: Worksheet, cell: Cell, value: float | str) -> None:
    """Last year's value: a locked grey number shown as “上年 120”, or “上年 —”; in the
    number format of the input beside it, so that the two read alike (no thousands
    separator in one and not the other)."""
    f = ctx.form.field(cell.text)
    label = ctx.form.previous.label
    number = _NUM_FORMATS[f.type]
    props = {"border": 1, "border_color": BORDER, "valign": "vcenter", "align": "center",
             "bg_color": PREVIOUS_FILL, "font_color": PREVIOUS_FONT, "font_size": _PREVIOUS_SIZE,
             "shrink": True, "locked": True, "num_format": f'"{label} "{number}'}
    fmt = ctx.formats.get(**props)
    if isinstance(value, str):
        _place(ws, cell, value, fmt)
    else:
        _place(ws, cell, "", fmt)
        checked(ws.write_number(cell.row - 1, cell.col - 1, value, fmt), cell.address)


# -- specials: the computed lines ------------------------------------------------


def _special(ctx: BuildContext, sheet: Sheet, cell: Cell) -> tuple[str, str | None, dict]:
    """(text or cached result, formula or None, format) of a "!name" cell."""
    form, name = ctx.form, cell.text
    decl = form.declaration
    center = {"align": "center", "valign": "vcenter", "text_wrap": True}
    if name == "title":
        return form.cover_title or form.title, None, {**center, "bold": True,
                                                      "font_size": _SIZES["cover_title"]}
    if name == "issuer":
        return form.issuer, None, {**center, "font_size": _SIZES["cover"]}
    if name == "category":
        # One line as in the template; shrunk to the cell's width where needed.
        return (*_category_line(ctx, sheet.name),
                {"font_size": _SIZES["cover"], "valign": "bottom", "bottom": 1, "shrink": True})
    if name == "declaration_title":
        return decl["title"], None, {**center, "bold": True, "font_size": _SIZES["declaration_title"]}
    if name.startswith("declaration_"):
        text = decl["lines"][int(name.rsplit("_", 1)[1]) - 1]
        return text, None, {"font_size": _SIZES["cover_small"], "text_wrap": True, "valign": "top",
                            "align": "left",
                            "indent": 1}
    if name.startswith("signature_"):
        text = decl["signatures"][int(name.rsplit("_", 1)[1]) - 1]
        return text, None, {"font_size": _SIZES["cover_small"], "valign": "bottom", "align": "left",
                            "indent": 12}
    if name == "table_title":
        return form.table_title, None, {**center, "bold": True, "font_size": _SIZES["table_title"]}
    if name == "period":
        return (*_period_line(ctx, sheet.name), {**center})
    if name == "note_a":
        text = form.notes[0]
        for p in form.periods:
            text = text.replace("{" + p.name + "}", p.text)
        return text, None, _note_format()
    if name == "note_b":
        return form.notes[1], None, _note_format()
    raise GenerateError(f"表单定义中有未知的计算行“{name}”")


def _note_format() -> dict:
    return {"font_size": _SIZES["note"], "text_wrap": True, "valign": "top", "align": "left"}


def _category_line(ctx: BuildContext, from_sheet: str) -> tuple[str, str]:
    """A box per category, as the table shows it (with its suffix); ■ for the chosen one."""
    key = ctx.form.keys["category"]
    f = ctx.form.field(key)
    ref = ctx.ref(key, from_sheet)
    chosen = ctx.prefill.get(key, "")
    parts, texts = [], []
    for choice in f.choices:
        label = excel_text(f.shown(choice))
        parts.append(f'IF({ref}={excel_text(choice)},"{_CHECKED}","{_UNCHECKED}")&{label}')
        texts.append((_CHECKED if chosen == choice else _UNCHECKED) + f.shown(choice))
    return "  ".join(texts), "=" + '&"  "&'.join(parts)


def period_text(form: Form, batch: str | None) -> str:
    """The reporting period line for a batch; both periods when none is chosen."""
    p = form.period_for(batch) if batch else None
    if p is not None:
        return f"统计时间区间（{p.name}）：{p.text}"
    return "统计时间区间：" + "；".join(f"{p.name} {p.text}" for p in form.periods)


def _period_line(ctx: BuildContext, from_sheet: str) -> tuple[str, str]:
    key = ctx.form.keys["batch"]
    ref = ctx.ref(key, from_sheet)
    formula = excel_text(period_text(ctx.form, None))
    for p in reversed(ctx.form.periods):
        test = ",".join(f"{ref}={excel_text(b)}" for b in p.batches)
        formula = f"IF(OR({test}),{excel_text(period_text(ctx.form, p.batches[0]))},{formula})"
    return period_text(ctx.form, ctx.prefill.get(key) or None), "=" + formula




# -- validation and highlighting -------------------------------------------------


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _length_limit(f: Field) -> int:
    return f.max_length or _LENGTH.get(f.type, 200)


def _type_words(form: Form, f: Field, name: str, **params: object) -> str:
    """The prompt or the error of a field's type, in the form's words."""
    words = form.catalogue.type_words(f.type)
    unit_note = form.catalogue.phrase("unit_note", unit=f.unit) if f.unit else ""
    return render(words.get(name, ""), {**form.catalogue.all_context(), "choices": "、".join(f.choices),
                                        "unit": f.unit, "unit_note": unit_note,
                                        "n": _length_limit(f), "example": words.get("example", ""),
                                        **params})


def _prompt(form: Form, f: Field) -> str:
    text = _type_words(form, f, "prompt")
    if f.required_when is not None:
        text += form.catalogue.phrase("conditional")
    elif not f.required:
        text += form.catalogue.phrase("optional")
    return text


def _validation(form: Form, f: Field, cell: Cell) -> dict:
    t = f.type
    a = cell.ref
    v: dict[str, Any]
    if t == "choice":
        v = {"validate": "list", "source": list(f.choices)}
    elif t == "int":
        v = {"validate": "integer", "criteria": ">=", "value": 0}
    elif t == "amount":
        v = {"validate": "custom", "value": f"=AND(ISNUMBER({a}),{a}>=0,ROUND({a},2)={a})"}
    elif t == "date":
        lo = dt.date(form.window_start.year, 1, 1)
        hi = dt.date(form.window_end.year + 1, 12, 31)
        v = {"validate": "date", "criteria": "between", "minimum": lo, "maximum": hi}
    elif t == "postcode":
        v = {"validate": "length", "criteria": "==", "value": 6}
    elif t == "mobile":
        v = {"validate": "length", "criteria": "between", "minimum": 11,
             "maximum": _length_limit(f)}
    else:
        v = {"validate": "length", "criteria": "<=", "value": _length_limit(f)}
    v["error_message"] = _type_words(form, f, "error", first_year=form.window_start.year,
                                     last_year=form.window_end.year + 1)
    v.update({
        "input_title": _clip(f.label.split(" ")[-1], 32),
        "input_message": _clip(_prompt(form, f), 255),
        "error_title": "输入有误",
        "error_type": "stop",
        "ignore_blank": True,
    })
    v["error_message"] = _clip(v["error_message"], 255)
    return v


def _add_missing_highlight(ctx: BuildContext, ws: Worksheet, cell: Cell, f: Field) -> None:
    """Yellow while a required input is blank (conditionally required: once its condition holds)."""
    if not f.required:
        return
    a = cell_name(cell.row, cell.col, absolute=True)
    blank = f"LEN(TRIM({a}))=0"
    if f.required_when is not None:
        cond = ex.to_excel(f.required_when, lambda i: _cf_ref(ctx, i, cell.sheet))[0]
        formula = f"=AND({cond},{blank})"
    else:
        formula = "=" + blank
    fmt = ctx.formats.get(bg_color=MISSING_FILL)
    checked(ws.conditional_format(cell.row - 1, cell.col - 1, cell.last_row - 1, cell.last_col - 1,
                                 {"type": "formula", "criteria": formula, "format": fmt}),
           f"{cell.address} 条件格式")


def _cf_ref(ctx: BuildContext, field_id: str, sheet: str) -> str:
    # Conditional formats may not point at other sheets in older Excel; a
    # defined name works everywhere.
    c = ctx.inputs[field_id]
    if c.sheet == sheet:
        return cell_name(c.row, c.col, absolute=True)
    return ctx.form.field(field_id).defined_name


def _define_names(ctx: BuildContext) -> None:
    named = [(f.defined_name, ctx.inputs[f.id]) for f in ctx.form.fields]
    if ctx.previous is not None:
        named += [(ctx.form.previous_name(i), ctx.form.previous_cell(i))
                  for i in ctx.form.previous_fields]
    for name, c in named:
        checked(ctx.workbook.define_name(name, f"={quote_sheet(c.sheet)}!{cell_name(c.row, c.col, True)}"),
                f"名称 {name}")


# -- print setup ---------------------------------------------------------------


def _page_setup(ws: Worksheet, rows: int, cols: int) -> None:
    ws.set_paper(9)            # A4
    ws.set_portrait()
    ws.center_horizontally()
    ws.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.8)
    ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.35})
    ws.print_area(0, 0, rows - 1, cols - 1)
    ws.hide_gridlines(2)
    ws.fit_to_pages(1, 0)


# -- 填报说明 -----------------------------------------------------------------------

_HELP_WIDTHS = (6, 16, 18, 52)


@dataclass
class _Line:
    """A row of 填报说明: its pieces (text, style, first and last column, font size), its height."""
    pieces: list[tuple[str, str, int, int, float]]
    height: float


def _instruction_lines(ctx: BuildContext) -> list[_Line]:
    """填报说明: the definition's [instructions], in the order of its headings (how to
    fill in, the periods, the schedule, the file name, the contacts), then the outline."""
    form = ctx.form
    ins = form.instructions
    headings = list(ins.get("headings", [])) + [""] * 5
    schedule_header = list(ins.get("schedule_header", [])) + [""] * 3
    cols = len(_HELP_WIDTHS)
    lines: list[_Line] = []

    def in_form(t: str) -> str:
        """A text of the definition with the form's dates filled in ({example_date})."""
        return render(t, form.catalogue.all_context(), keep_unknown=True)

    def line(*pieces: tuple[str, str, int, int, float]) -> None:
        # Broken here, not by the program showing it: no line starts with “。” or “、”.
        spans = [sum(_HELP_WIDTHS[first: last + 1]) for _, _, first, last, _ in pieces]
        pieces = tuple((broken(text, span, size), style, first, last, size)
                       for (text, style, first, last, size), span in zip(pieces, spans))
        lines.append(_Line(list(pieces), max(row_points(text_lines(text, span, size), size)
                                             for (text, _, _, _, size), span in zip(pieces, spans))))

    def full(words: str, style: str, size: float = 11) -> None:
        if words:
            line((in_form(words), style, 0, cols - 1, size))

    full(ins.get("title", "填报说明"), "title", _SIZES["help_title"])
    full(f"{form.title}（{form.notice}）" if form.notice else form.title, "center")
    full(headings[0], "heading", 12)
    for step in ins.get("steps", []):
        full(step, "body")
    if form.periods:
        full(headings[1], "heading", 12)
    for p in form.periods:
        line((f"{p.name}（{'、'.join(p.batches)}）", "head", 0, 1, 11), (p.text, "body", 2, 3, 11))
    if ins.get("schedule"):
        full(headings[2], "heading", 12)
        line((schedule_header[0], "head", 0, 1, 11), (schedule_header[1], "head", 2, 2, 11),
             (schedule_header[2], "head", 3, 3, 11))
    for stage, when, what in ins.get("schedule", []):
        line((stage, "head", 0, 1, 11), (when, "body", 2, 2, 11), (what, "body", 3, 3, 11))
    full(headings[3], "heading", 12)
    full(ins.get("naming", ""), "body")
    own = _own_file_name(form, ctx.prefill)
    if own:
        full(f"本文件应命名为：{own}", "body")
    if ins.get("contacts"):
        full(headings[4], "heading", 12)
    for c in ins.get("contacts", []):
        full(c, "body")
    # The report outline (大纲) last, as a checklist to tick on paper.
    full(ins.get("outline_title", ""), "heading", 12)
    for item in ins.get("outline", []):
        line((_UNCHECKED, "box", 0, 0, 14), (item, "body", 1, 3, 11))
    return lines


def _write_instructions(ctx: BuildContext, ws: Worksheet) -> None:
    fm = ctx.formats
    cols = len(_HELP_WIDTHS)
    for i, w in enumerate(_HELP_WIDTHS):
        ws.set_column(i, i, w)
    styles = {
        "title": fm.get(bold=True, font_size=_SIZES["help_title"], align="center", valign="vcenter"),
        "heading": fm.get(bold=True, font_size=12, bg_color=HEADING_FILL, valign="vcenter",
                          border=1, border_color=BORDER),
        "body": fm.get(text_wrap=True, valign="vcenter", border=1, border_color=BORDER),
        "head": fm.get(bold=True, bg_color=LABEL_FILL, align="center", valign="vcenter",
                       border=1, border_color=BORDER, text_wrap=True),
        "box": fm.get(align="center", valign="vcenter", border=1, border_color=BORDER,
                      font_size=14),
        "center": fm.get(align="center", valign="vcenter", text_wrap=True),
    }
    lines = _instruction_lines(ctx)
    for row, line in enumerate(lines):
        for text, style, first, last, _ in line.pieces:
            if last > first:
                checked(ws.merge_range(row, first, row, last, text, styles[style]), "填报说明")
            else:
                checked(ws.write_string(row, first, text, styles[style]), "填报说明")
        ws.set_row(row, line.height)
    _page_setup(ws, len(lines), cols)
    ws.fit_to_pages(1, 1)      # one sheet of paper to keep beside the form


def _own_file_name(form: Form, prefill: dict[str, str]) -> str:
    keys = form.keys
    b, c, u = prefill.get(keys["batch"]), prefill.get(keys["category"]), prefill.get(keys["unit"])
    return form.file_stem(b, c, u) + ".xlsx" if b and c and u else ""


# -- 表单信息 (hidden) ---------------------------------------------------------------


def _meta_values(ctx: BuildContext) -> list[tuple[str, object]]:
    """The hidden sheet's first rows: (title in column A, value in column B)."""
    form = ctx.form
    values: dict[str, Any] = {"form_id": form.id, "form_version": form.version}
    for key in form.prefill_fields:
        values[PREFILL_PREFIX + key] = ctx.prefill.get(key, "")
    return [(title, values.get(key, "")) for key, title in form.meta_keys.items()]


def _write_meta(ctx: BuildContext, ws: Worksheet) -> None:
    form = ctx.form
    fmt = ctx.formats.get()
    bold = ctx.formats.get(bold=True)
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 14)
    ws.set_column(2, 2, 10)
    ws.set_column(3, 3, 60)
    row = 0
    for title, v in _meta_values(ctx):
        ws.write_string(row, 0, title, bold)
        if isinstance(v, int):
            ws.write_number(row, 1, v, fmt)
        elif v:
            ws.write_string(row, 1, v, fmt)
        row += 1
    for col, title in enumerate(META_MAP_HEADER):
        ws.write_string(row, col, title, bold)
    row += 1
    for f in form.fields:
        c = ctx.inputs[f.id]
        for col, v in enumerate((f.id, c.sheet, c.ref, f.label)):
            ws.write_string(row, col, v, fmt)
        row += 1
    ws.very_hidden()


# -- many files ----------------------------------------------------------------


def generate_blank(out_dir: str | Path, form: Form | None = None,
                   password: str | None = None) -> Path:
    """Write the blank workbook into ``out_dir``; return its path."""
    form = form or load_form()
    return write_workbook(Path(out_dir) / blank_file_name(form), form, None, password)


def generate_from_roster(roster_path: str | Path, out_dir: str | Path, form: Form | None = None,
                         password: str | None = None, jobs: int | None = None,
                         previous: str | Path | PreviousRound | None = None) -> list[Path]:
    """One pre-filled workbook per roster row, named by the definition's pattern.

    The roster is read and checked first; if any row is bad, RosterError
    lists them all and nothing is written. ``previous`` is last round's merge output
    (a folder, or :func:`~xlsx_tools.previous.read_previous`'s result): each unit
    found there (by name, or by its last year's name in the roster) gets last year's
    values beside its inputs. A folder that is not one raises
    :class:`~xlsx_tools.previous.PreviousError`. The form is built once (per shape of
    unit) and each unit's values are stamped into it (:class:`Stamper`): the
    workbooks hold what :func:`write_workbook` writes for each unit. ``jobs``
    processes share the units (default: one per CPU, at most one per
    ``_UNITS_PER_PROCESS`` units); the bytes do not depend on it.
    """
    from .roster import read_roster  # same layer; imported here to keep write.py standalone

    form = form or load_form()
    out = Path(out_dir)
    tasks = [(out / w.file_name, w)
             for w in roster_workbooks(form, read_roster(roster_path, form), previous)]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks) // _UNITS_PER_PROCESS))
    if jobs <= 1:
        stamper = Stamper(form, password)
        return [write_bytes(path, stamper.workbook(unit)) for path, unit in tasks]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_stamping,
                             initargs=(form, password)) as pool:
        return list(pool.map(_stamp_task, tasks, chunksize=max(1, len(tasks) // (jobs * 4))))


@dataclass(frozen=True)
class RosterWorkbook:
    """What one roster row's workbook holds beyond the blank."""
    file_name: str                          # by the definition's pattern
    prefill: dict[str, str]                 # field id -> the roster's value (written and locked)
    previous: dict[str, int | Decimal] | None   # field id -> last year's value; None: no 上年 cells


def roster_workbooks(form: Form, entries, previous: str | Path | PreviousRound | None = None
                     ) -> list[RosterWorkbook]:
    """Each roster row's workbook (``entries``: :func:`~xlsx_tools.roster.read_roster`'s):
    its name, what the roster fills in and, with ``previous`` (last round's output: a
    folder or a PreviousRound), last year's values of the unit. The one place that
    decides what a pre-filled workbook holds, whoever writes it (:func:`write_workbook`,
    :class:`Stamper`). The values are checked here, so that a value no workbook can hold
    stops the run before anything is written."""
    before = last_round(previous, form, entries)
    return [RosterWorkbook(e.file_name(form), _clean_prefill(form, e.prefill(form)),
                           _clean_previous(form, before.values_for(e.unit))
                           if before is not None else None)
            for e in entries]


class Stamper:
    """The workbooks of a run, stamped (:mod:`xlsx_tools.stamp`): the form built once per
    *shape* of unit (which pre-filled inputs have a value, and whether the workbook has
    上年 cells: what decides the styles, the cells and the rows), with placeholders where
    the roster's values go and every 上年 cell showing its dash, and each unit's workbook
    that template showing the unit's values (last year's numbers among them). The
    placeholders are no unit's text, so a unit's bytes depend only on the form, the
    password and the unit."""

    def __init__(self, form: Form, password: str | None = None):
        self.form = form
        self.password = form.password if password is None else password
        self.checks = incell.compile_checks(form)
        self._templates: dict[tuple[frozenset[str], bool], Template] = {}

    def workbook(self, unit: RosterWorkbook) -> bytes:
        """The bytes of the workbook of ``unit`` (:func:`roster_workbooks`)."""
        form = self.form
        ctx = unit_context(form, {k: unit.prefill.get(k, "") for k in form.prefill_fields},
                           self.password, checks=self.checks, previous=unit.previous)
        shape = (frozenset(ctx.locked_inputs), ctx.previous is not None)
        template = self._templates.get(shape)
        if template is None:
            locked, has_previous = shape
            prefill = {k: _PLACEHOLDER.format(k) if k in locked else "" for k in form.prefill_fields}
            built = unit_context(form, prefill, self.password, locked=set(locked), checks=self.checks,
                                 previous={} if has_previous else None)
            template = self._templates[shape] = Template(build_workbook(built), built.shown)
        return template.stamp(ctx.shown)


# A template holds this where a pre-filled value goes: private-use characters, no unit's text.
_PLACEHOLDER = "\ue000{}\ue000"
# Each process builds its own template, which costs about what 25 stamped workbooks do:
# another process is worth it from this many units on.
_UNITS_PER_PROCESS = 50
_STAMPER: Stamper | None = None     # a worker process's


def _start_stamping(form: Form, password: str | None) -> None:
    global _STAMPER
    _STAMPER = Stamper(form, password)


def _stamp_task(task: tuple[Path, RosterWorkbook]) -> Path:
    path, unit = task
    return write_bytes(path, _STAMPER.workbook(unit))
