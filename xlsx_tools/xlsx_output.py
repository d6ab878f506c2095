"""What every part that writes an .xlsx needs: measures of text, formats, Excel text.

Shared by the form's writer, the checks compiled into it, the findings report,
the merge's summaries and the round's 催报 list, so that a Chinese text is measured
one way, a table looks and prints one way, and a workbook fails one way. The only
other module that touches xlsxwriter directly is ``write`` (its workbook protection).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from .form import cell_name
from .line_rules import NO_LINE_END, NO_LINE_START
from .writing import OutputError

__all__ = [
    "OutputError", "text_width", "text_lines", "broken_lines", "broken", "row_points", "fit_width",
    "excel_text", "quote_sheet", "sheet_ref", "checked", "FormulaWorksheet", "Formats", "TableFormats",
    "new_workbook", "close_workbook", "write_table", "page_widths", "text_table_widths", "print_setup",
    "printed_width", "printed_height", "shown_value",
    "LEAST_SCALE", "LANDSCAPE_PX", "DATE_WIDTH_SAMPLE", "TABLE_SIZE",
]

# Points per text line for a font size, and the padding of a cell.
_LINE = 1.45
_PAD = 6.0
# A date shown as yyyy-mm-dd is this wide.
DATE_WIDTH_SAMPLE = "0000-00-00"


# -- measuring text ------------------------------------------------------------------

def text_width(text: object, size: float = 11) -> float:
    """Width of the longest line in Excel column units (a CJK character is about two)."""
    lines = str(text if text is not None else "").split("\n")
    return max(sum(2.2 if unicodedata.east_asian_width(ch) in "WF" else 1.15 for ch in line)
               for line in lines) * size / 11


# Cached: the writer measures the same labels, instructions and longest texts for every
# unit it stamps.
@functools.lru_cache(maxsize=8192)
def text_lines(text: str, width_units: float, size: float = 11) -> int:
    """Lines a wrapped text takes in a cell of the given width (at least; a text broken by
    :func:`broken` takes exactly its lines)."""
    usable = max(width_units - 1.5, 1.0)
    return sum(max(1, math.ceil(text_width(p, size) / usable)) for p in str(text).split("\n"))


# Line breaking keeps punctuation with its text: see line_rules.
_OPEN, _CLOSE = "（([【", "）)]】"
# A word or number of Latin letters and digits is never broken (nor an e-mail, a URL).
_WORD = re.compile(r"[A-Za-z0-9@._\-+/:]+")
# Nor a reference to a cell, its sheet's name with it (统计表!C18).
_REF = re.compile(r"[^\s、，,;；:：!！（）()“”]{1,31}![A-Z]{1,3}[0-9]+")


def _pieces(paragraph: str, usable: float, size: float) -> list[str]:
    """The paragraph in pieces no line breaks inside: a Latin word or number (with the
    character it counts), a bracketed group that fits a line (a unit such as “(万元)” goes
    to the next line whole), or one character; each with the closing marks after it and
    the opening marks before it."""
    atoms: list[str] = []
    i = 0
    while i < len(paragraph):
        ch = paragraph[i]
        word = _REF.match(paragraph, i) or _WORD.match(paragraph, i)
        if word and word.end() > i + 1:
            i = word.end()
            # A number keeps the character it counts: 20日, 27号, 2022年.
            if i < len(paragraph) and unicodedata.east_asian_width(paragraph[i]) in "WF" \
                    and paragraph[i] not in _OPEN:
                i += 1
            atoms.append(paragraph[word.start():i])
            continue
        if ch == "“":
            # A quoted span (a file name the user is told to give) is copied whole: one
            # line when it fits one.
            # Measured with the marks that stay with it either side (（“…”、).
            j = paragraph.find("”", i + 1) + 1
            if j and text_width(_with_marks(paragraph, i, j), size) <= usable:
                atoms.append(paragraph[i:j])
                i = j
                continue
        if ch in _OPEN:
            depth, j = 0, i
            while j < len(paragraph):
                depth += (paragraph[j] in _OPEN) - (paragraph[j] in _CLOSE)
                j += 1
                if depth == 0:
                    break
            group = paragraph[i:j]
            if depth == 0 and text_width(group, size) <= usable:
                atoms.append(group)
                i = j
                continue
        atoms.append(ch)
        i += 1
    pieces: list[str] = []
    for atom in atoms:
        if pieces and (atom[0] in NO_LINE_START or pieces[-1][-1] in NO_LINE_END
                       or atom.isspace()):
            pieces[-1] += atom
        else:
            pieces.append(atom)
    return pieces


def _with_marks(paragraph: str, i: int, j: int) -> str:
    """``paragraph[i:j]`` with the opening marks before it and the closing ones after it."""
    while i > 0 and paragraph[i - 1] in NO_LINE_END:
        i -= 1
    while j < len(paragraph) and paragraph[j] in NO_LINE_START:
        j += 1
    return paragraph[i:j]


def _latin(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "@._-+/:")


def _may_cut(line: str, k: int) -> bool:
    return (line[k] not in NO_LINE_START and line[k - 1] not in NO_LINE_END
            and not (_latin(line[k - 1]) and _latin(line[k])))


def broken_lines(text: object, width_units: float, size: float = 11) -> list[str]:
    """The lines of a wrapped text in a cell of the given width: filled greedily, broken
    between pieces of :func:`_pieces` (a piece wider than the cell is cut where it must)."""
    usable = max(width_units - 1.5, 1.0)
    lines: list[str] = []
    for paragraph in str(text if text is not None else "").split("\n"):
        line = ""
        for piece in _pieces(paragraph, usable, size):
            if line and text_width(line + piece.rstrip(), size) > usable:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
            # The space a piece ends with is dropped at a break, never cut onto the next line.
            while text_width(line.rstrip(), size) > usable and len(line.rstrip()) > 1:
                fits = next(k for k in range(len(line) - 1, 0, -1)
                            if text_width(line[:k], size) <= usable or k == 1)
                # Where it must cut, not inside a Latin run nor before a closing mark.
                cut = next((k for k in range(fits, 0, -1) if _may_cut(line, k)),
                           next((k for k in range(fits, 0, -1)
                                 if not (_latin(line[k - 1]) and _latin(line[k]))), fits))
                lines.append(line[:cut].rstrip())
                line = line[cut:].lstrip()
        lines.append(line.rstrip())
    return lines


@functools.lru_cache(maxsize=8192)
def broken(text: str, width_units: float, size: float = 11) -> str:
    """A text with its line breaks written in (:func:`broken_lines`), so that every program
    breaks it the same way, keeping punctuation and bracketed units with their text."""
    return "\n".join(broken_lines(text, width_units, size))


def row_points(lines: int, size: float = 11) -> float:
    """The height of a row holding ``lines`` lines of text."""
    return round(lines * size * _LINE + _PAD, 1)


def fit_width(texts: Iterable[object], least: float = 6, most: float = 60) -> float:
    """A column width that fits the texts, within bounds."""
    return float(min(most, max([least, *(text_width(t) for t in texts)]) + 2))


def shown_value(f: Any, value: object) -> object:
    """A value as the table, the web and the file names show it: a choice with its field's
    suffix (a category X as X类), anything else as it is. Every sheet a person
    reads shows this; merge's CSV keeps the stored value, for programs.
    ``f``: a :class:`~xlsx_tools.form.Field` or None."""
    return f.shown(value) if f is not None and isinstance(value, str) and value in f.choices else value


# -- Excel text -------------------------------------------------------------------------

def excel_text(s: str) -> str:
    """A string literal in a formula; long texts are joined from pieces (Excel caps a
    literal at 255 characters)."""
    pieces = [s[i:i + 200] for i in range(0, len(s), 200)] or [""]
    return "&".join('"' + p.replace('"', '""') + '"' for p in pieces)


def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def sheet_ref(sheet: str, row: int, col: int) -> str:
    """'统计表'!$C$5 (1-based row and column)."""
    return f"{quote_sheet(sheet)}!{cell_name(row, col, absolute=True)}"


def checked(code: Any, what: str) -> None:
    """xlsxwriter reports problems by return code and a warning; make them errors."""
    if isinstance(code, int) and code < 0:
        raise OutputError(f"生成工作簿时出错（{what}，代码 {code}）")


# -- workbooks and formats ------------------------------------------------------------------

class FormulaWorksheet(Worksheet):
    """xlsxwriter's worksheet, its preparation of a formula remembered across workbooks.

    xlsxwriter runs 30 to 130 regular expressions over each formula it is given (for
    Excel's newer functions): that was half of building a form's workbook, whose checks
    are some two thousand formulas, the same for every unit. The prepared text depends
    only on the formula, the arguments and the worksheet's use_future_functions.
    """

    def _prepare_formula(self, formula, *args, **kwargs):
        key = (formula, args, tuple(sorted(kwargs.items())), self.use_future_functions)
        prepared = _PREPARED.get(key)
        if prepared is None:
            if len(_PREPARED) >= _PREPARED_MOST:     # a long-running serve: stay bounded
                _PREPARED.clear()
            prepared = _PREPARED[key] = super()._prepare_formula(formula, *args, **kwargs)
        return prepared


_PREPARED: dict[tuple, str] = {}
_PREPARED_MOST = 50_000


class Formats:
    """xlsxwriter formats made once per distinct look, in a fixed order (same bytes)."""

    def __init__(self, workbook, **defaults: Any):
        self.workbook = workbook
        self.defaults = defaults
        self._made: dict[tuple, Any] = {}

    def get(self, **props: Any) -> Any:
        props = {**self.defaults, **props}
        key = tuple(sorted(props.items()))
        if key not in self._made:
            self._made[key] = self.workbook.add_format(props)
        return self._made[key]


# The size of the plain tables' text, in points.
TABLE_SIZE = 10


class TableFormats:
    """The looks of the toolkit's plain tables (the summaries, the 催报 list), by name:
    宋体 10 pt, a title, a note, the header, and bordered cells by the kind of value, all
    centred upright (a row's short values level with its wrapped ones, on screen and paper)."""

    def __init__(self, workbook):
        self.make = mk = Formats(workbook, font_name="宋体", font_size=TABLE_SIZE, valign="vcenter").get
        self.title = mk(bold=True, font_size=14)
        self.note = mk(text_wrap=True, valign="top")
        self.head = mk(bold=True, text_wrap=True, align="center", border=1, bg_color="#D9E1F2")
        self.text = mk(border=1)
        self.wrap = mk(border=1, text_wrap=True)
        self.int = mk(border=1, num_format="#,##0")
        # A row's number (序号) centred: right-aligned it reads as part of the next column.
        self.serial = mk(border=1, align="center")
        self.amount = mk(border=1, num_format="#,##0.00")
        self.date = mk(border=1, num_format="yyyy-mm-dd")
        self.percent = mk(border=1, num_format="0.0%")


def new_workbook(path: str | Path, title: str, created: dt.datetime, author: str = "xlsx-tools",
                 cls: type = xlsxwriter.Workbook, **options: Any) -> Any:
    """A workbook that keeps every text a text (no numbers, formulas or links guessed),
    dated ``created`` so that the same inputs give the same bytes.

    It is made in memory and written to ``path`` by :func:`close_workbook`: nothing
    else is written anywhere, and a file that cannot be written fails there, once.
    """
    made = io.BytesIO()
    wb = cls(made, {"strings_to_numbers": False, "strings_to_formulas": False,
                    "strings_to_urls": False, "in_memory": True, **options})
    wb.set_properties({"title": title, "author": author, "created": created})
    wb.xlsx_tools_target = (Path(path), made)
    return wb


def close_workbook(wb: Any) -> None:
    """Write a workbook of :func:`new_workbook` out; a file that cannot be written is an OSError."""
    wb.close()
    path, made = wb.xlsx_tools_target
    path.write_bytes(made.getvalue())


# -- tables ------------------------------------------------------------------------------

# A4 landscape less xlsxwriter's default side margins (0.7 in each), in pixels at 96 dpi.
LANDSCAPE_PX = round((11.69 - 1.4) * 96)
# Text of the tables is 10 pt; printed at this scale or more it stays at 8 pt or more.
LEAST_SCALE = 80


def _px(width: float) -> int:
    # Excel's pixels for a column width (Calibri 11, the workbooks' default font).
    return int(width * 7 + 0.5) + 5


def _capped(widths: list[float], budget_px: int, least: float = 8) -> float | None:
    """The largest width cap that makes the columns fit ``budget_px``; None if they fit."""
    if sum(_px(w) for w in widths) <= budget_px:
        return None
    cap = max(widths)
    while cap > least and sum(_px(min(w, cap)) for w in widths) > budget_px:
        cap -= 1
    return cap


def page_widths(widths: Sequence[float]) -> list[float]:
    """Column widths narrowed so that a table is one landscape A4 page wide at 8 pt or
    more, their text then wrapping: the widest first (all narrowed to one cap)."""
    budget = LANDSCAPE_PX * 100 // LEAST_SCALE
    cap = _capped(list(widths), budget)
    return [w if cap is None else min(w, cap) for w in widths]


def _paragraphs(text: object, size: float) -> tuple[float, ...]:
    return tuple(text_width(p, size) for p in str(text if text is not None else "").split("\n"))


def _lines_of(paragraphs: tuple[float, ...], width: float) -> int:
    # text_lines on measured paragraphs (a table of thousands of rows measures each text once).
    usable = max(width - 1.5, 1.0)
    return sum(max(1, math.ceil(t / usable)) for t in paragraphs)


def _width_for(paragraphs: tuple[float, ...], lines: int) -> float:
    """The narrowest width (in half units) at which a text takes ``lines`` lines or fewer;
    infinite when it has more paragraphs than that."""
    if len(paragraphs) > lines:
        return math.inf
    width = math.floor((sum(paragraphs) / lines + 1.5) * 2) / 2
    while _lines_of(paragraphs, width) > lines:
        width += 0.5
    return width


# A text of this many characters or fewer is never broken in a table of texts (a status
# word such as 无法读取).
_SHORT = 4


def _unbroken(text: object, size: float) -> float:
    """The width of the widest piece of a text no line breaks inside (:func:`_pieces`: a
    word or cell reference with the marks it keeps)."""
    return max([0.0, *(text_width(p, size) for para in str(text if text is not None else "").split("\n")
                       for p in _pieces(para, 0.0, size))])


def text_table_widths(columns: Sequence[Sequence[object]], text: int, size: float = 11,
                      most: float = 40, least: float = 6) -> list[float]:
    """Widths for a table of texts (``columns[j]`` every text of column j, its header
    included) one landscape A4 page wide at 8 pt or more, the column ``text`` given the room.

    Each other column is as narrow as lets its texts take ``k`` lines (never wider than its
    one-line width or ``most``), and the text column takes what they leave; ``k`` is the
    one that makes the table shortest (each row as tall as its most lines), a tie going
    to the wider text column. Capping every column to one width instead left the column of
    long texts as narrow as the others, its texts four to six lines a row."""
    budget = LANDSCAPE_PX * 100 // LEAST_SCALE
    cells = [[_paragraphs(t, size) for t in col] for col in columns]
    natural = [max([least, *(max(p) + 2 for p in col)]) for col in cells]
    # No column narrower than a word or cell reference in it, which no line breaks inside,
    # nor than a short text below its header (a code such as 未填写, a status word such as
    # 无法读取 reads badly broken, and is filtered on); a header may wrap.
    floor = [max([least, _unbroken(col[0], size) + 2 if col else 0.0,
                  *(text_width(t, size) + 1.5 if len(str(t)) <= _SHORT else _unbroken(t, size) + 2
                    for t in col[1:])]) for col in columns]
    if sum(_px(w) for w in natural) <= budget:
        return natural
    # Of the one-paragraph texts only the widest sets a column's width for k lines.
    kept = [[p for p in col if len(p) > 1] + [max((p for p in col if len(p) == 1), default=(0.0,))]
            for col in cells]
    texts = [sorted({str(t if t is not None else "") for t in col}) for col in columns]
    measured = {t: _paragraphs(t, size) for col in texts for t in col}
    counted: dict[tuple[str, float], int] = {}

    def lines(t: str, width: float) -> int:
        # As the texts are broken (broken_lines), which a greedy fill makes more than the
        # estimate where a piece kept whole does not fit a line's end. A paragraph that
        # fits the line is one line whatever its pieces: only the others are broken, each
        # once a width (a table of a thousand rows asks for every cell at every k).
        paragraphs = measured[t]
        if max(paragraphs) <= max(width - 1.5, 1.0):
            return len(paragraphs)
        if (t, width) not in counted:
            counted[t, width] = broken(t, width, size).count("\n") + 1
        return counted[t, width]

    best: tuple[int, float, list[float]] | None = None
    for k in range(1, 9):
        widths = [min(natural[j], max(floor[j], min(most, max(_width_for(p, k) for p in kept[j]))))
                  for j in range(len(cells))]
        for j, w in enumerate(widths):
            while j != text and w < min(natural[j], max(floor[j], most)) \
                    and any(lines(t, w) > k for t in texts[j]):
                w += 0.5
            widths[j] = w
        left = budget - sum(_px(w) for j, w in enumerate(widths) if j != text)
        widths[text] = room = min(natural[text], math.floor((left - 5) / 7 * 2) / 2)
        if room < least:
            continue
        height = sum(max(lines(str(t if t is not None else ""), widths[j]) for j, t in enumerate(row))
                     for row in zip(*columns))
        if best is None or (height, -room) < best[:2]:
            best = (height, -room, widths)
    if best is None:            # too many columns for the page: each to one cap
        return page_widths(natural)
    return best[2]


def write_table(ws, fmt: TableFormats, top: int, headers: Sequence[str],
                rows: Sequence[Sequence[Any]], widths_cap: int = 40,
                formats: Sequence[Any] | None = None, wrap: dict[int, int] | None = None,
                page: bool = True) -> int:
    """A plain one-header table with autofilter; returns the row after it.

    ``formats`` gives each column's format (default ``fmt.text``; dates always
    ``fmt.date``); ``wrap`` gives columns of a fixed width whose text wraps, and
    each row is made tall enough for them (no spreadsheet program sizes rows on
    opening). With ``page`` the widest text columns are narrowed and wrapped so that
    the table is one landscape page wide at 8 pt or more (see :func:`print_setup`).
    """
    wrap = dict(wrap or {})
    natural = [text_width(h) / 2 + 2 for h in headers]     # a header wraps onto two lines
    for row in rows:
        for c, v in enumerate(row):
            if c not in wrap:
                w = text_width(v if not isinstance(v, dt.date) else DATE_WIDTH_SAMPLE)
                natural[c] = max(natural[c], min(max(w + 2, 6), widths_cap))
    widths = [float(wrap.get(c, w)) for c, w in enumerate(natural)]
    if page:
        for c, (w, fitted) in enumerate(zip(list(widths), page_widths(widths))):
            if fitted < w:
                widths[c] = wrap[c] = fitted
    ws.set_row(top, row_points(max(text_lines(h, w) for h, w in zip(headers, widths)), 10))
    for c, h in enumerate(headers):
        ws.write_string(top, c, h, fmt.head)
    for r, row in enumerate(rows, start=top + 1):
        lines = 1
        for c, v in enumerate(row):
            cf = formats[c] if formats else fmt.text
            if v is None or v == "":
                ws.write_blank(r, c, None, cf)
            elif isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), fmt.date)
            elif isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
                ws.write_number(r, c, float(v) if isinstance(v, Decimal) else v, cf)
            else:
                ws.write_string(r, c, str(v), fmt.wrap if c in wrap else cf)
            if c in wrap and isinstance(v, str):
                lines = max(lines, text_lines(v, wrap[c], 10))
        if lines > 1:
            ws.set_row(r, row_points(min(lines, 12), 10))
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    if rows:
        ws.autofilter(top, 0, top + len(rows), len(headers) - 1)
    ws.freeze_panes(top + 1, 0)
    return top + 1 + len(rows)


_DEFAULT_COL_PX = 64


def printed_width(ws, first: int = 0, last: int | None = None) -> int:
    """Width in pixels of columns ``first``..``last`` (default: those written) as set."""
    last = ws.dim_colmax if last is None else last
    if last is None:
        return 0
    info = ws.col_info
    return sum(info[c].width if c in info and info[c].width is not None else _DEFAULT_COL_PX
               for c in range(first, last + 1))


def printed_height(ws) -> int:
    """Height in pixels of the rows written, as set."""
    last = ws.dim_rowmax
    if last is None:
        return 0
    info = ws.row_info
    return sum(info[r].height if r in info and info[r].height is not None else ws.default_row_height
               for r in range(0, last + 1))


def print_setup(ws, repeat: tuple[int, int] | None = None, fit_width: bool = False,
                repeat_cols: tuple[int, int] | None = None, fit_height: bool = False) -> None:
    """Printed on A4 landscape; ``repeat`` rows and ``repeat_cols`` columns on every page.

    With ``fit_width`` the sheet is one page wide when that keeps its 10 pt text at
    8 pt or more; a wider sheet prints at that least scale across pages instead (call
    after the columns are set). With ``fit_height`` too, a sheet a little taller than a
    page prints on one page when that keeps its text at 8 pt or more (call after the rows
    are set, with heights: its own margins count): a few rows alone on a second page
    wasted it.
    """
    ws.set_landscape()
    ws.set_paper(9)  # A4
    if repeat:
        ws.repeat_rows(*repeat)
    if repeat_cols:
        ws.repeat_columns(*repeat_cols)
    if fit_width:
        if printed_width(ws) * LEAST_SCALE / 100 <= LANDSCAPE_PX:
            room = round((8.27 - ws.margin_top - ws.margin_bottom) * 96)
            one_page = fit_height and printed_height(ws) * LEAST_SCALE / 100 <= room
            ws.fit_to_pages(1, 1 if one_page else 0)
        else:
            ws.set_print_scale(LEAST_SCALE)
