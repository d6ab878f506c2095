"""Annotated copies: a returned workbook with every finding marked on its cell and listed.

A copy is the returned file with a few of its parts edited, not a workbook
loaded into a library and saved again: such a save drops or rewrites whatever
the library does not understand (the filler's pictures, their formatting,
cached formula results) and costs a hundred times what the checks do. So:

* the parts that change are parsed with expat and edited by byte ranges:
  the sheets with findings (a marked cell gets a copy of its own cell format
  with the fill changed, so its number format, font, borders and lock stay;
  a merged range is marked through its top-left cell; a missing cell or row is
  created in its place; and, since a conditional format's fill shows over a
  cell's own, a rule of the same colour on the marked cells, always true, first
  in priority and stopping the form's own: its yellow on a blank required cell
  would hide our mark), styles.xml (those copies and the rules' dxfs,
  appended), the sheets' comments and their VML drawings (our note is added
  after the filler's own in the same cell), the workbook (a sheet 校验问题
  listing the findings, shown on opening) and its rels, and [Content_Types].xml;
* every other part is copied into the new zip as it was stored, byte for byte;
* a copy annotated before is annotated afresh: its 校验问题 sheet is replaced
  in place, our notes (or our text after the filler's) and our rules are taken
  out (the form's rules get their priorities back) and the cells marked before
  get their own format back;
* the same inputs give the same bytes: the zip's times are fixed and the
  document properties are not touched.

The original file is never written.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import CATALOGUE
from .form import Form, cell_name
from .ooxml import (
    ATTR,
    CONTENT_TYPES,
    QNAME,
    XML_DECL,
    ContentTypes,
    Dialect,
    OPEN_TAG_REST,
    Edits,
    El,
    Package,
    PackageError,
    Rels,
    children_of,
    dialect_of,
    esc_attr,
    esc_text,
    first_elements,
    insert_in_order,
    int_or,
    office_document,
    parse,
    prefix_of,
    prefixed,
    rels_name,
    rid_of,
    text_element,
    truthy,
    utf8,
    with_attrs,
)
from .read import MAX_UNCOMPRESSED
from .read.refs import split_ref
from .rules import Finding
from .read.refusal import RejectedFile
from .validate import FileResult, ValidationRun, isolated, unreadable
from .writing import CannotWrite, distinct_name, write_bytes
from .xlsx_output import row_points, text_lines

__all__ = [
    "ANNOTATION_SHEET",
    "AUTHOR",
    "EXPLANATION_HEADER",
    "LISTING_HEADER",
    "AnnotateError",
    "AnnotateOutcome",
    "AnnotateWriteError",
    "annotate_workbook",
    "annotate_workbooks",
    "annotated_bytes",
    "finding_explanation",
]

ANNOTATION_SHEET = "校验问题"
AUTHOR = "xlsx-tools"
FILL = {"error": "FFC7CE", "warning": "FFE4B5"}     # light red, light orange
FONT = {"error": "9C0006", "warning": "9C5700"}
HEADER_FILL = "D9E1F2"
TAB_COLOR = "C00000"
# Our text in a cell's note starts with this line; after the filler's own
# note it follows a blank line. That is how a later run finds it again.
NOTE_HEADER = "校验问题："
LISTING_HEADER = ("序号", "单元格", "字段", "严重程度", "说明")
# The filler's 审核说明 of a warning, as the shipped catalogue calls it (a form may reword it).
EXPLANATION_HEADER = CATALOGUE.phrase("explanation")
# Column widths of the listing (characters), and of 审核说明 when present.
_WIDTHS = (6, 22, 28, 10, 64)
_EXPLANATION_WIDTH = 36
_FONT_NAME, _FONT_SIZE = "宋体", 11
_LINE_PT = 15.0            # a wrapped line of 11 pt CJK text, as Excel and LibreOffice space it


def finding_explanation(finding: Finding) -> str | None:
    """The filler's 审核说明 of a warning (validate reads it from the workbook), if any."""
    return finding.explanation or None


# -- outcomes and errors ------------------------------------------------------------

class AnnotateOutcome:
    """Which copies were written, and the files skipped with a short Chinese reason."""

    def __init__(self) -> None:
        self.written: list[Path] = []
        self.skipped: list[tuple[str, str]] = []


class AnnotateError(Exception):
    """This workbook cannot be annotated; ``variant`` names why (the catalogue's
    annotate_failed), ``reason`` says it in Chinese."""

    def __init__(self, variant: str = "cannot"):
        super().__init__(variant)
        self.variant = variant

    @property
    def reason(self) -> str:
        return RejectedFile("annotate_failed", self.variant).reason


class AnnotateWriteError(CannotWrite):
    """A copy cannot be written where it was asked for: one Chinese sentence (``message``)
    naming the folder of the copies.

    ``written`` holds the copies written before it (each complete).
    """

    def __init__(self, failure: CannotWrite, written: Sequence[Path] = ()):
        super().__init__(failure.target, what=failure.what, reason=failure.reason)
        self.errno = failure.errno
        self.written = list(written)

    @property
    def message(self) -> str:
        return str(self)


# The PackageError kinds that say why a readable workbook got no copy (annotate_failed's
# variants of the same names); any other is "cannot".
_TOLD = ("gone", "too_large", "declaration")


def annotate_workbooks(run: ValidationRun, out_dir: str | Path) -> AnnotateOutcome:
    """For each readable workbook with findings, a marked-up copy in ``out_dir``.

    A workbook that cannot be annotated (or not within the time limit) becomes
    无法读取 in ``run`` with the reason (annotate_failed; too_slow), and the others
    go on: the reports written after say the same of it.

    Raises :class:`AnnotateWriteError` when a copy cannot be written there (no
    permission, a file in the way, the disk full...): the next would fail alike.
    """
    out_dir = Path(out_dir)
    outcome = AnnotateOutcome()
    used: set[str] = set()
    for i, r in enumerate(run.files):
        if not r.findings:
            continue
        if not r.readable:
            outcome.skipped.append((r.file, "文件无法读取"))
            continue
        stem, suffix = os.path.splitext(r.name)
        target = out_dir / distinct_name(stem, used, suffix)
        if _same_file(target, r.path):
            outcome.skipped.append((r.file, "不能覆盖原文件，请换一个输出文件夹"))
            continue
        try:
            data, run.files[i] = isolated(run.form, r, "annotate_failed",
                                          lambda r: annotated_bytes(run.form, r), passes=(AnnotateError,))
        except AnnotateError as e:
            data, run.files[i] = None, unreadable(run.form, r, "annotate_failed", e.variant)
        if data is None:
            outcome.skipped.append((r.file, run.files[i].reason))
            continue
        try:
            _write_copy(target, data)
        except AnnotateWriteError as e:
            e.written = list(outcome.written)
            raise
        outcome.written.append(target)
    return outcome


def annotate_workbook(form: Form, result: FileResult, target: str | Path) -> Path:
    """Mark each finding of ``result`` on its cells in a copy saved as ``target``."""
    target = Path(target)
    _write_copy(target, annotated_bytes(form, result))
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# -- writing the copy -------------------------------------------------------------------

def _write_copy(target: Path, data: bytes) -> None:
    """Through a temporary file in the same folder, then renamed; a failure in Chinese,
    naming the folder the copies go to."""
    try:
        write_bytes(target, data)
    except CannotWrite as e:
        raise AnnotateWriteError(e.naming(target.parent, "标注副本的文件夹")) from None


# -- the notes and the listing, in words ---------------------------------------------------

def _note_lines(form: Form, findings: Iterable[Finding]) -> list[str]:
    lines = []
    for f in findings:
        lines.append(f"【{f.severity_cn}】{f.message}")
        explanation = finding_explanation(f)
        if explanation:
            lines.append(f"{form.catalogue.phrase('explanation')}：{explanation}")
    return lines


def _field_titles(form: Form, finding: Finding) -> str:
    return "、".join(form.field_title(i) for i in finding.fields if i in form.by_id)


def _listing_rows(form: Form, findings: Sequence[Finding]) -> tuple[list[str], list[list]]:
    header = list(LISTING_HEADER)
    explained = any(finding_explanation(f) for f in findings)
    if explained:
        header.append(form.catalogue.phrase("explanation"))
    rows = []
    for i, f in enumerate(findings, start=1):
        row: list = [i, f.where, _field_titles(form, f), f.severity_cn, f.message]
        if explained:
            row.append(finding_explanation(f) or "")
        rows.append(row)
    return header, rows


def _text_units(text: str) -> int:
    """Width of the longest line in column-width units; wide (CJK) characters count double."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                for line in text.split("\n")), default=0)


def _wrapped_lines(text: str, width: float) -> int:
    """Lines a text takes, wrapped in a column ``width`` characters wide."""
    room = max(1, int(width) - 1)
    return sum(max(1, -(-_text_units(line) // room)) for line in text.split("\n"))


def listing_row_height(values: Sequence[object], widths: Sequence[float]) -> float:
    """A listing row's height: the lines of its longest cell as the writer measures them
    (text_lines at the sheet's font size) in a column a unit narrower than it is, so that a
    program wrapping a little earlier than the estimate still shows the last line (a row
    one line short hid a message's closing 。 on the printed page)."""
    lines = max(text_lines(str(v), max(w - 1, 1.0), _FONT_SIZE) for v, w in zip(values, widths))
    return row_points(lines, _FONT_SIZE)


# -- styles.xml: copies of cell formats with our fill; the listing's formats --------------------

_STYLE_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles",
                "dxfs", "tableStyles", "colors", "extLst")
_AFTER_DXFS = frozenset(_STYLE_ORDER[_STYLE_ORDER.index("dxfs") + 1:])
def _minimal_styles(dialect: Dialect) -> bytes:
    return XML_DECL + f'<styleSheet xmlns="{dialect.main}"></styleSheet>'.encode()
_DEFAULTS = {
    "fonts": b'<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
    "fills": (b'<fill><patternFill patternType="none"/></fill>'
              b'<fill><patternFill patternType="gray125"/></fill>'),
    "borders": b"<border><left/><right/><top/><bottom/><diagonal/></border>",
    "cellStyleXfs": b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>',
    "cellXfs": b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
}
_ITEM = {"fonts": "font", "fills": "fill", "borders": "border", "cellStyleXfs": "xf", "cellXfs": "xf",
         "dxfs": "dxf"}


class _Styles:
    """styles.xml with entries appended to fonts, fills, borders, cellXfs and dxfs."""

    def __init__(self, data: bytes):
        self.data = utf8(data)
        # Down to a dxf's fill colour (dxfs > dxf > fill > patternFill > bgColor).
        self.root = parse(self.data, depth=5, stop=_AFTER_DXFS)
        self.edits = Edits(self.data)
        self.p = prefix_of(self.data, self.root)
        self.groups: dict[str, El | None] = {g: self.root.find(g) for g in _ITEM}
        self.items = {g: (el.all(_ITEM[g]) if el is not None else []) for g, el in self.groups.items()}
        self.added: dict[str, list[bytes]] = {g: [] for g in _ITEM}
        self.changed = False
        for g in _ITEM:
            self._defaults(g)
        self.xf_bytes = {self._raw(x): i for i, x in enumerate(self.items["cellXfs"])}
        self.fill_ids: dict[str, int] = {}
        self.marked: dict[tuple[int, str], int] = {}
        self.keys: list[bytes] | None = None
        self.mark_dxfs: dict[int, bool] = {}

    def _raw(self, el: El) -> bytes:
        return self.data[el.start:el.end]

    def _defaults(self, group: str) -> None:
        """A missing group, or too few entries of it, get the defaults programs expect."""
        if group not in _DEFAULTS:           # dxfs: none is needed
            return
        defaults = _DEFAULTS[group]
        if group == "fills" and len(self.items["fills"]) == 1:
            defaults = defaults[defaults.index(b"</fill>") + len(b"</fill>"):]
        elif self.items[group]:
            return
        self.added[group].append(prefixed(self.p, defaults))
        self.changed = True

    def count(self, group: str) -> int:
        return len(self.items[group]) + len(self.added[group])

    def _add(self, group: str, text: bytes) -> int:
        self.added[group].append(text)
        self.changed = True
        return self.count(group) - 1

    # fills ---------------------------------------------------------------------
    def _fill_rgb(self, i: int) -> str | None:
        """The colour of fill ``i`` when it is a plain solid fill."""
        items = self.items["fills"]
        if not 0 <= i < len(items):
            return None
        pattern = items[i].find("patternFill")
        if pattern is None or pattern.get("patternType") != "solid":
            return None
        fg = pattern.find("fgColor")
        rgb = (fg.get("rgb") or "") if fg is not None else ""
        return rgb.upper()[-6:] if len(rgb) in (6, 8) else None

    def fill(self, rgb: str) -> int:
        if rgb not in self.fill_ids:
            found = next((i for i in range(len(self.items["fills"])) if self._fill_rgb(i) == rgb), None)
            self.fill_ids[rgb] = found if found is not None else self._add("fills", self._solid(rgb))
        return self.fill_ids[rgb]

    def _solid(self, rgb: str) -> bytes:
        p = self.p
        return (b"<" + p + b'fill><' + p + b'patternFill patternType="solid"><' + p + b'fgColor rgb="FF'
                + rgb.encode() + b'"/><' + p + b'bgColor indexed="64"/></' + p + b"patternFill></"
                + p + b"fill>")

    # marked copies of cell formats -----------------------------------------------------
    def is_marked(self, xf: int) -> bool:
        """Whether cell format ``xf`` is one of our marks (its fill is a mark's colour)."""
        items = self.items["cellXfs"]
        return 0 <= xf < len(items) and self._fill_rgb(int_or(items[xf].get("fillId"))) in FILL.values()

    def unmarked(self, xf: int) -> int | None:
        """The cell format a mark was copied from: the same in all but the fill."""
        if self.keys is None:
            self.keys = [self._key(x) for x in self.items["cellXfs"]]
        if not 0 <= xf < len(self.keys):
            return None
        key = self.keys[xf]
        same = [i for i, k in enumerate(self.keys) if i != xf and k == key and not self.is_marked(i)]
        # Of formats alike but for the order of their attributes (a workbook may hold such
        # twins), the one whose mark is this one: marked again, the copy is the same bytes.
        mark = self.items["cellXfs"][xf]
        again = {"fillId": mark.get("fillId") or "0", "applyFill": "1"}
        return next((i for i in same if with_attrs(self.data, self.items["cellXfs"][i], again)
                     == self._raw(mark)), same[0] if same else None)

    def _key(self, el: El) -> bytes:
        tag = QNAME.match(self.data, el.start)
        attrs = sorted(m.group(0).strip() for m in ATTR.finditer(self.data, tag.end(), el.open_end)
                       if m.group(1) not in (b"fillId", b"applyFill"))
        return b" ".join(attrs) + self.data[el.open_end:el.end]

    def mark(self, xf: int, severity: str) -> int:
        """A copy of cell format ``xf`` with the fill of ``severity`` (found or appended)."""
        key = (xf, severity)
        if key not in self.marked:
            items = self.items["cellXfs"]
            source = items[xf] if 0 <= xf < len(items) else items[0] if items else None
            fill = str(self.fill(FILL[severity]))
            if source is None:
                raw = prefixed(self.p, b'<xf numFmtId="0" fontId="0" fillId="' + fill.encode()
                                + b'" borderId="0" xfId="0" applyFill="1"/>')
            else:
                raw = with_attrs(self.data, source, {"fillId": fill, "applyFill": "1"})
            found = self.xf_bytes.get(raw)
            if found is None:
                found = self._add("cellXfs", raw)
                self.xf_bytes[raw] = found
            self.marked[key] = found
        return self.marked[key]

    # the formats of the conditional marks -------------------------------------------------
    def mark_dxf(self, severity: str) -> int:
        """The differential format of ``severity``'s conditional mark (found or appended)."""
        p, rgb = self.p, b'rgb="FF' + FILL[severity].encode() + b'"/>'
        # Solid, in both colours: programs differ on which of them a dxf's solid fill shows
        # (Excel: bgColor).
        return self._find_or_add("dxfs", b"<" + p + b"dxf><" + p + b"fill><" + p
                                 + b'patternFill patternType="solid"><' + p + b"fgColor " + rgb
                                 + b"<" + p + b"bgColor " + rgb + b"</" + p + b"patternFill></" + p
                                 + b"fill></" + p + b"dxf>")

    def is_mark_dxf(self, i: int) -> bool:
        """Whether differential format ``i`` fills with a mark's colour (whoever wrote it)."""
        if i not in self.mark_dxfs:
            self.mark_dxfs[i] = self._is_mark_dxf(i)
        return self.mark_dxfs[i]

    def _is_mark_dxf(self, i: int) -> bool:
        items = self.items["dxfs"]
        fill = items[i].find("fill") if 0 <= i < len(items) else None
        pattern = fill.find("patternFill") if fill is not None else None
        if pattern is None:
            return False
        colours = [c.get("rgb") or "" for c in (pattern.find("bgColor"), pattern.find("fgColor"))
                   if c is not None]
        return any(len(rgb) in (6, 8) and rgb.upper()[-6:] in FILL.values() for rgb in colours)

    # the listing's own formats -----------------------------------------------------------
    def font(self, bold: bool = False, rgb: str | None = None) -> int:
        p = self.p
        text = (b"<" + p + b"font>" + (b"<" + p + b"b/>" if bold else b"")
                + b"<" + p + b'sz val="' + str(_FONT_SIZE).encode() + b'"/>'
                + (b"<" + p + b'color rgb="FF' + rgb.encode() + b'"/>' if rgb else b"")
                + b"<" + p + b'name val="' + _FONT_NAME.encode("utf-8") + b'"/><' + p
                + b'family val="3"/><' + p + b'charset val="134"/></' + p + b"font>")
        return self._find_or_add("fonts", text)

    def thin_border(self) -> int:
        p = self.p
        side = b'style="thin"><' + p + b'color rgb="FF808080"/></'
        text = b"<" + p + b"border>" + b"".join(
            b"<" + p + s + b" " + side + p + s + b">" for s in (b"left", b"right", b"top", b"bottom")
        ) + b"<" + p + b"diagonal/></" + p + b"border>"
        return self._find_or_add("borders", text)

    def _find_or_add(self, group: str, text: bytes) -> int:
        for i, el in enumerate(self.items[group]):
            if self._raw(el) == text:
                return i
        if text in self.added[group]:
            return len(self.items[group]) + self.added[group].index(text)
        return self._add(group, text)

    def cell_format(self, font: int, fill: int, border: int, horizontal: str | None = None) -> int:
        p = self.p
        align = b'<' + p + b'alignment vertical="top" wrapText="1"' + (
            b' horizontal="' + horizontal.encode() + b'"' if horizontal else b"") + b"/>"
        text = (b"<" + p + b'xf numFmtId="0" fontId="' + str(font).encode() + b'" fillId="'
                + str(fill).encode() + b'" borderId="' + str(border).encode()
                + b'" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1">'
                + align + b"</" + p + b"xf>")
        found = self.xf_bytes.get(text)
        if found is None:
            found = self._add("cellXfs", text)
            self.xf_bytes[text] = found
        return found

    def result(self) -> bytes:
        edits = self.edits
        for group in _ITEM:
            if not self.added[group]:
                continue
            el = self.groups[group]
            count = str(self.count(group)).encode()
            body = b"".join(self.added[group])
            if el is None:
                name = self.p + group.encode()
                insert_in_order(edits, self.root, _STYLE_ORDER, group,
                                 b"<" + name + b' count="' + count + b'">' + body + b"</" + name + b">")
                continue
            if "count" in el.attrs:
                edits.set_attrs(el, {"count": count.decode()})
            edits.append_child(el, body)
        return edits.result()


# -- a worksheet: cells marked, restored, created; the view; the notes' drawing ------------------

_SHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate",
    "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting", "dataValidations",
    "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks",
    "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing",
    "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
    "webPublishItems", "tableParts", "extLst")


def _ref(text: str | None) -> tuple[int, int] | None:
    """A cell reference (row, col) as the reader reads one; None for anything that is not
    a cell of the grid."""
    return split_ref(text) if text else None


def _range(text: str) -> tuple[int, int, int, int] | None:
    first, _, last = text.partition(":")
    a, b = _ref(first), _ref(last or first)
    if a is None or b is None:
        return None
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def _row_cells(data: bytes, row: El) -> dict[int, El]:
    """The cells of a <row> by column (a cell without r: the one after the last)."""
    cells: dict[int, El] = {}
    col = 0
    for c in children_of(data, row, "c"):
        at = _ref(c.get("r"))
        col = at[1] if at else col + 1
        cells.setdefault(col, c)
    return cells


class _Sheet:
    """One worksheet part, parsed down to its rows (a row's cells when asked for), and the
    edits made to it."""

    def __init__(self, data: bytes, cells: bool = True):
        """``cells``: to mark cells; without, only what precedes them is read."""
        self.data = utf8(data)
        self.root = parse(self.data, depth=2, stop=frozenset() if cells else frozenset({"sheetData"}))
        self.edits = Edits(self.data)
        self.p = prefix_of(self.data, self.root)
        self.sheet_data = self.root.find("sheetData")
        if self.sheet_data is None and cells:
            raise AnnotateError()
        # Rows by number (a row without r: the one after the last), in the order written.
        self.rows: dict[int, El] = {}
        self.order: list[tuple[int, El]] = []
        number = 0
        for row in (self.sheet_data.all("row") if cells and self.sheet_data is not None else []):
            number = int_or(row.get("r"), number + 1)
            self.rows.setdefault(number, row)
            self.order.append((number, row))
        self._cells: dict[int, dict[int, El]] = {}
        merge_cells = self.root.find("mergeCells")
        self.merged = [r for r in (_range(m.get("ref") or "") for m in
                                   (merge_cells.all("mergeCell") if merge_cells is not None else []))
                       if r is not None]
        self.attrs: dict[int, tuple[El, dict[str, str | None]]] = {}
        self.new_cells: dict[int, dict[int, int]] = {}    # row -> col -> format, cells to create
        self.changed = False

    def cells(self, row: int) -> dict[int, El]:
        """Row ``row``'s cells by column, parsed when first asked for."""
        if row not in self._cells:
            el = self.rows.get(row)
            self._cells[row] = _row_cells(self.data, el) if el is not None else {}
        return self._cells[row]

    def _set(self, el: El, **values: str | None) -> None:
        self.attrs.setdefault(id(el), (el, {}))[1].update(values)
        self.changed = True

    def top_left(self, row: int, col: int) -> tuple[int, int]:
        """A merged range is marked through its top-left cell."""
        for r1, c1, r2, c2 in self.merged:
            if r1 <= row <= r2 and c1 <= col <= c2:
                return r1, c1
        return row, col

    def cell_styles(self) -> list[tuple[int, int, int]]:
        """(row, col, cell format) of every cell written with one."""
        return [(n, col, int_or(c.get("s"))) for n in self.rows
                for col, c in self.cells(n).items() if c.get("s") is not None]

    def style_of(self, row: int, col: int) -> int:
        """The cell format a cell shows: its own, or a missing cell's row's or column's."""
        row_el, cells = self.rows.get(row), self.cells(row)
        if col in cells:
            return int_or(cells[col].get("s"))
        if row_el is not None and truthy(row_el.get("customFormat")):
            return int_or(row_el.get("s"))
        cols = self.root.find("cols")
        for c in (cols.all("col") if cols is not None else []):
            if int_or(c.get("min")) <= col <= int_or(c.get("max")):
                return int_or(c.get("style"))
        return 0

    def style(self, row: int, col: int, xf: int) -> None:
        """Give cell (row, col) format ``xf``; a missing cell (and row) is created."""
        cells = self.cells(row)
        if col in cells:
            self._set(cells[col], s=str(xf))
            return
        self.new_cells.setdefault(row, {})[col] = xf
        self.changed = True

    def _cell(self, row: int, col: int, xf: int) -> bytes:
        return (b"<" + self.p + b'c r="' + cell_name(row, col).encode() + b'" s="' + str(xf).encode()
                + b'"/>')

    def _create_cells(self) -> None:
        """The missing cells, each in its row in column order, new rows in row order."""
        numbers = [n for n, _ in self.order]
        for row, new in sorted(self.new_cells.items()):
            for col in new:
                self._widen_dimension(row, col)
            if row in self.rows:
                row_el = self.rows[row]
                existing = sorted(self.cells(row).items())
                last = b""                            # the cells after the row's last one
                for col, xf in sorted(new.items()):
                    following = next(((n, c) for n, c in existing if n > col), None)
                    if following is None:
                        last += self._cell(row, col, xf)
                        continue
                    if following[1].get("r") is None:   # its place was implied: say it now
                        self._set(following[1], r=cell_name(row, following[0]))
                    self.edits.insert(following[1].start, self._cell(row, col, xf))
                if last:
                    self.edits.append_child(row_el, last)
                self._widen_spans(row_el, list(new))
                continue
            text = (b"<" + self.p + b'row r="' + str(row).encode() + b'">'
                    + b"".join(self._cell(row, col, xf) for col, xf in sorted(new.items()))
                    + b"</" + self.p + b"row>")
            after = next((i for i, n in enumerate(numbers) if n > row), None)
            if after is None:
                self.edits.append_child(self.sheet_data, text)
                continue
            number, following = self.order[after]
            if following.get("r") is None:
                self._set(following, r=str(number))
            self.edits.insert(following.start, text)

    def _widen_spans(self, row_el: El, cols: list[int]) -> None:
        spans = row_el.get("spans")
        bounds = [int(x) for x in re.findall(r"\d+", spans or "")]
        if not bounds:
            return
        outside = [c for c in cols if not any(a <= c <= b for a, b in zip(bounds[::2], bounds[1::2]))]
        if outside:
            self._set(row_el, spans=f"{min(bounds + outside)}:{max(bounds + outside)}")

    def _widen_dimension(self, row: int, col: int) -> None:
        dim = self.root.find("dimension")
        if dim is None:
            return
        values = self.attrs.get(id(dim), (dim, {}))[1]
        box = _range(values.get("ref") or dim.get("ref") or "")
        if box is None or (box[0] <= row <= box[2] and box[1] <= col <= box[3]):
            return
        r1, c1, r2, c2 = min(box[0], row), min(box[1], col), max(box[2], row), max(box[3], col)
        self._set(dim, ref=f"{cell_name(r1, c1)}:{cell_name(r2, c2)}")

    def extent(self, row: int, col: int) -> str:
        """The reference of a marked cell: its merged range when it is the top-left of one."""
        for r1, c1, r2, c2 in self.merged:
            if (r1, c1) == (row, col):
                return f"{cell_name(r1, c1)}:{cell_name(r2, c2)}"
        return cell_name(row, col)

    def conditional_marks(self, styles: _Styles, refs: dict[str, list[str]]) -> None:
        """The marks again as conditional formats, which show over the cell's own fill and
        the form's conditional fills (the yellow of a blank required cell): a rule per
        severity on ``refs``, always true, first in priority and stopping the others.

        Our earlier rules (always true, filling with a mark's colour) are taken out
        first; the sheet's other rules keep their order below ours.
        """
        ours: list[El] = []
        kept: list[El] = []                     # the other rules: their priority shifts
        first_kept: El | None = None            # the first conditionalFormatting left
        for block in self.root.all("conditionalFormatting"):
            rules = block.all("cfRule")
            mine = [r for r in rules if self._is_mark_rule(r, styles)]
            if mine and len(mine) == len(rules):
                self.edits.replace(block.start, block.end, b"")
            else:
                for r in mine:
                    self.edits.replace(r.start, r.end, b"")
                first_kept = first_kept or block
            ours += mine
            kept += [r for r in rules if r not in mine]
        wanted = [(s, refs[s]) for s in ("error", "warning") if refs.get(s)]
        if not ours and not wanted:
            return
        self.changed = True
        kept += self._extension_rules()
        priorities = [int_or(r.get("priority"), 1) for r in kept]
        # The others below ours, shifted as a whole: by as many as ours are now, less as many
        # as were there before (so a later run shifts them back), and never onto ours.
        shift = max(len(wanted) - len(ours), len(wanted) + 1 - min(priorities, default=1))
        for r, n in zip(kept, priorities if shift else ()):
            # Its value replaced in place (a sheet has a rule per input or more).
            m = next((a for a in ATTR.finditer(self.data, QNAME.match(self.data, r.start).end(), r.open_end)
                      if a.group(1) == b"priority"), None)
            if m is None:
                self._set(r, priority=str(n + shift))
            else:
                group = 2 if m.group(2) is not None else 3
                self.edits.replace(m.start(group), m.end(group), str(n + shift).encode())
        if not wanted:
            return
        p = self.p
        text = b"".join(
            b"<" + p + b'conditionalFormatting sqref="' + " ".join(cells).encode() + b'"><' + p
            + b'cfRule type="expression" dxfId="' + str(styles.mark_dxf(severity)).encode()
            + b'" priority="' + str(n).encode() + b'" stopIfTrue="1"><' + p + b"formula>TRUE</" + p
            + b"formula></" + p + b"cfRule></" + p + b"conditionalFormatting>"
            for n, (severity, cells) in enumerate(wanted, start=1))
        if first_kept is not None:          # first in the part too, for programs that go by that
            self.edits.insert(first_kept.start, text)
        else:
            insert_in_order(self.edits, self.root, _SHEET_ORDER, "conditionalFormatting", text)

    def _is_mark_rule(self, rule: El, styles: _Styles) -> bool:
        return (rule.get("type") == "expression" and styles.is_mark_dxf(int_or(rule.get("dxfId"), -1))
                and _ALWAYS.fullmatch(self.data, rule.open_end, rule.inner_end) is not None)

    def _extension_rules(self) -> list[El]:
        """The rules of the sheet's extensions (Excel 2010's x14:cfRule) that have a
        priority: they share one order with the sheet's own."""
        ext = self.root.find("extLst")
        found = []
        for m in _RULE_TAG.finditer(self.data, ext.start, ext.end) if ext is not None else ():
            tail = OPEN_TAG_REST.match(self.data, m.end())
            if tail is None:
                continue
            attrs = {a.group(1).decode(): (a.group(2) or a.group(3) or "").decode()
                     for a in ATTR.finditer(self.data, m.end(), tail.end())}
            if "priority" in attrs:
                found.append(El(ext.ns, "cfRule", attrs, m.start(), tail.end()))
        return found

    def deselect(self) -> None:
        """Its tab not selected: another sheet is shown on opening, and two selected are grouped."""
        views = self.root.find("sheetViews")
        for view in (views.all("sheetView") if views is not None else []):
            if truthy(view.get("tabSelected")):
                self._set(view, tabSelected="0")

    def legacy_drawing(self) -> str | None:
        el = self.root.find("legacyDrawing")
        return rid_of(el) if el is not None else None

    def add_legacy_drawing(self, rid: str) -> None:
        rel_ns = dialect_of(self.root).rel
        insert_in_order(self.edits, self.root, _SHEET_ORDER, "legacyDrawing",
                         b"<" + self.p + b'legacyDrawing xmlns:r="' + rel_ns.encode() + b'" r:id="'
                         + rid.encode() + b'"/>')
        self.changed = True

    def result(self) -> bytes:
        self._create_cells()
        for el, values in self.attrs.values():
            self.edits.set_attrs(el, values)
        return self.edits.result()


# A rule's formula that is always true: ours is TRUE, LibreOffice saves it again as 1.
_ALWAYS = re.compile(rb"\s*<(?:[\w.-]+:)?formula\s*>\s*(?:TRUE\s*(?:\(\s*\))?|1)\s*"
                     rb"</(?:[\w.-]+:)?formula\s*>\s*", re.IGNORECASE)
_RULE_TAG = re.compile(rb"<(?:[\w.-]+:)?cfRule(?=[\s/>])")


def _selected_before_data(pkg: Package, part: str) -> bool:
    """Whether a sheet's tab is selected, from the head of its part (up to <sheetData>)."""
    return any(tag == "sheetView" and truthy(attrs.get("tabSelected"))
               for tag, attrs in first_elements(pkg.head(part), "sheetData"))


# -- comments: the filler's stay, ours are added after theirs; a later run takes ours out ---------

_OUR_TEXT = re.compile(r"(?:\A|\n\n)" + re.escape(NOTE_HEADER) + r"\n【")


def _run_props(prefix: bytes, bold: bool) -> bytes:
    p = prefix
    return (b"<" + p + b"rPr>" + (b"<" + p + b"b/>" if bold else b"") + b"<" + p + b'sz val="9"/><'
            + p + b'color indexed="81"/><' + p + b'rFont val="' + _FONT_NAME.encode("utf-8") + b'"/><'
            + p + b'family val="3"/><' + p + b'charset val="134"/></' + p + b"rPr>")


def _our_runs(prefix: bytes, lines: list[str], after_theirs: bool) -> bytes:
    head = ("\n\n" if after_theirs else "") + NOTE_HEADER
    p = prefix
    return (b"<" + p + b"r>" + _run_props(p, True) + text_element(p, head) + b"</" + p + b"r><" + p + b"r>"
            + _run_props(p, False) + text_element(p, "\n" + "\n".join(lines)) + b"</" + p + b"r>")


@dataclass
class _Note:
    el: El
    text_el: El | None
    runs: list[tuple[El, str]]      # <r> or a bare <t>, and its text
    ours: bool                       # written by us entirely (our author)

    @property
    def text(self) -> str:
        return "".join(t for _, t in self.runs)


class _Comments:
    """A sheet's comments part; our notes taken out, new ones added."""

    def __init__(self, data: bytes | None, dialect: Dialect):
        self.data = utf8(data) if data is not None else (
            XML_DECL + f'<comments xmlns="{dialect.main}"><authors></authors><commentList></commentList>'
                        f"</comments>".encode())
        self.root = parse(self.data, depth=5, texts=frozenset({"t", "author"}))
        self.edits = Edits(self.data)
        self.p = prefix_of(self.data, self.root)
        authors_el = self.root.find("authors")
        found = authors_el.all("author") if authors_el is not None else []
        self.authors = ["".join(a.text or ()) for a in found]
        self.list_el = self.root.find("commentList")
        if authors_el is None or self.list_el is None:
            raise AnnotateError()
        self.authors_el = authors_el
        self.notes: dict[tuple[int, int], _Note] = {}
        for c in self.list_el.all("comment"):
            at = _ref(c.get("ref"))
            if at is None or at in self.notes:
                continue
            text_el = c.find("text")
            runs = []
            for part in (text_el.children if text_el is not None else []):
                if part.tag == "t":
                    runs.append((part, "".join(part.text or ())))
                elif part.tag == "r":
                    t = part.find("t")
                    runs.append((part, "".join(t.text or ()) if t is not None else ""))
            author = int_or(c.get("authorId"), -1)
            ours = 0 <= author < len(self.authors) and self.authors[author] == AUTHOR
            self.notes[at] = _Note(c, text_el, runs, ours)
        self.changed = False

    def _author(self) -> int:
        if AUTHOR not in self.authors:
            self.authors.append(AUTHOR)
            self.edits.append_child(self.authors_el, b"<" + self.p + b"author>" + esc_text(AUTHOR)
                                    + b"</" + self.p + b"author>")
        return self.authors.index(AUTHOR)

    def rework(self, notes: dict[tuple[int, int], list[str]]) -> tuple[set, dict]:
        """Take our earlier text out; add ``notes`` (cell -> lines), after the filler's own.

        Returns the cells whose note is gone, and the cells that carry our text
        with its number of lines (for the size of their box).
        """
        gone: set[tuple[int, int]] = set()
        ours: dict[tuple[int, int], int] = {}
        for at, note in self.notes.items():
            cut = 0 if note.ours else self._our_start(note.text)
            if cut is None and at not in notes:
                continue
            kept = self._kept_runs(note, cut)
            if not kept:                     # all of it was ours: the note goes
                self.edits.replace(note.el.start, note.el.end, b"")
                self.changed = True
                gone.add(at)
                continue
            body = kept
            if at in notes:
                body += _our_runs(self.p, notes[at], True)
                ours[at] = _note_height(note.text[:cut], notes[at])
            tail = b"".join(self.data[x.start:x.end] for x in
                            (note.text_el.children if note.text_el is not None else [])
                            if x.tag not in ("t", "r"))
            self._replace_text(note, body + tail)
        for at in sorted(notes):
            if at in self.notes and at not in gone:
                continue
            author = self._author()
            p = self.p
            self.edits.append_child(self.list_el, b"<" + p + b'comment ref="' + cell_name(*at).encode()
                                    + b'" authorId="' + str(author).encode() + b'"><' + p + b"text>"
                                    + _our_runs(p, notes[at], False) + b"</" + p + b"text></" + p
                                    + b"comment>")
            self.changed = True
            gone.discard(at)
            ours[at] = _note_height("", notes[at])
        return gone, ours

    @staticmethod
    def _our_start(text: str) -> int | None:
        """Where our text starts in a note, or None when it has none."""
        m = _OUR_TEXT.search(text)
        return m.start() if m else None

    def _kept_runs(self, note: _Note, cut: int | None) -> bytes:
        """The note's text before character ``cut`` (all of it with None), as <r> elements."""
        out, at, p = [], 0, self.p
        for el, text in note.runs:
            keep = len(text) if cut is None else min(len(text), max(0, cut - at))
            at += len(text)
            if keep == 0:
                continue
            if keep < len(text):
                props = el.find("rPr") if el.tag == "r" else None
                out.append(b"<" + p + b"r>" + (self.data[props.start:props.end] if props else b"")
                           + text_element(p, text[:keep]) + b"</" + p + b"r>")
            elif el.tag == "t":               # a plain note: its text becomes a run, as ours are
                out.append(b"<" + p + b"r>" + self.data[el.start:el.end] + b"</" + p + b"r>")
            else:
                out.append(self.data[el.start:el.end])
        return b"".join(out)

    def _replace_text(self, note: _Note, body: bytes) -> None:
        el = note.text_el
        if el is None or el.empty:
            start = el.start if el is not None else note.el.inner_end
            end = el.end if el is not None else note.el.inner_end
            self.edits.replace(start, end, b"<" + self.p + b"text>" + body + b"</" + self.p + b"text>")
        else:
            self.edits.replace(el.open_end, el.inner_end, body)
        self.changed = True

    def result(self) -> bytes:
        return self.edits.result()


# -- the notes' VML drawing (legacy, not well-formed XML in every producer: edited as bytes) ----------

_VML_NS = {"v": "urn:schemas-microsoft-com:vml", "o": "urn:schemas-microsoft-com:office:office",
           "x": "urn:schemas-microsoft-com:office:excel"}
_VML_SHAPE = re.compile(rb"<(?P<p>(?:[\w.-]+:)?)shape\b[^>]*(?<!/)>.*?</(?P=p)shape\s*>", re.DOTALL)
_VML_ROW = re.compile(rb"<(?:[\w.-]+:)?Row>\s*(\d+)\s*<")
_VML_COL = re.compile(rb"<(?:[\w.-]+:)?Column>\s*(\d+)\s*<")
_VML_ANCHOR = re.compile(rb"(<(?:[\w.-]+:)?Anchor>)([^<]*)(<)")
_VML_IDS = re.compile(rb"_x0000_s(\d+)")
_VML_BLOCKS = re.compile(rb"idmap\b[^>]*\bdata\s*=\s*[\"']([\d,\s]*)[\"']")


_NOTE_COLUMNS = 5          # a note's box: five default columns (about 320 pixels) wide
_NOTE_UNITS = 46           # characters of 9 pt text a line of it holds (CJK count double)


def _note_height(theirs: str, lines: list[str]) -> int:
    """Rows (of 15 pt) a note's box needs for the filler's text and our lines, wrapped."""
    text = (theirs + "\n\n" if theirs else "") + NOTE_HEADER + "\n" + "\n".join(lines)
    wrapped = _wrapped_lines(text, _NOTE_UNITS)
    return min(max(4, -(-wrapped * 12 // 15) + 1), 30)


def _anchor(row: int, col: int, rows: int, old: bytes | None = None) -> bytes:
    """A note's box: right of its cell, ``rows`` tall; an existing box only grows."""
    top = max(row - 2, 0)
    box = [col, 15, top, 10, col + _NOTE_COLUMNS, 15, top + rows, 4]
    numbers = [int(x) for x in re.findall(rb"-?\d+", old or b"")]
    if len(numbers) == 8:
        box = numbers[:4] + [max(numbers[4], numbers[0] + _NOTE_COLUMNS), numbers[5],
                             max(numbers[6], numbers[2] + rows), numbers[7]]
    return ", ".join(map(str, box)).encode()


def _vml_shape(pfx: dict[str, bytes], declare: bytes, shape_id: int, row: int, col: int,
               rows: int) -> bytes:
    v, o, x = pfx["v"], pfx["o"], pfx["x"]
    return (b"<" + v + b"shape" + declare + b' id="_x0000_s' + str(shape_id).encode()
            + b'" type="#_x0000_t202" style="'
            b"position:absolute;margin-left:60pt;margin-top:1.5pt;width:" + str(_NOTE_COLUMNS * 48).encode()
            + b"pt;height:" + str(rows * 15).encode() + b'pt;z-index:1;visibility:hidden" '
            b'fillcolor="#ffffe1" ' + o + b'insetmode="auto"><' + v + b'fill color2="#ffffe1"/><' + v
            + b'shadow on="t" color="black" obscured="t"/><' + v + b"path " + o
            + b'connecttype="none"/><' + v + b'textbox style="mso-direction-alt:auto"><div '
            b'style="text-align:left"></div></' + v + b"textbox><" + x + b'ClientData ObjectType="Note"><'
            + x + b"MoveWithCells/><" + x + b"SizeWithCells/><" + x + b"Anchor>"
            + _anchor(row, col, rows) + b"</" + x + b"Anchor><" + x + b"AutoFill>False</" + x
            + b"AutoFill><" + x + b"Row>" + str(row - 1).encode() + b"</" + x + b"Row><" + x
            + b"Column>" + str(col - 1).encode() + b"</" + x + b"Column></" + x + b"ClientData></"
            + v + b"shape>")


def _vml_shapetype(pfx: dict[str, bytes], declare: bytes) -> bytes:
    v, o = pfx["v"], pfx["o"]
    return (b"<" + v + b"shapetype" + declare + b' id="_x0000_t202" coordsize="21600,21600" '
            + o + b'spt="202" '
            b'path="m,l,21600r21600,l21600,xe"><' + v + b'stroke joinstyle="miter"/><' + v
            + b'path gradientshapeok="t" ' + o + b'connecttype="rect"/></' + v + b"shapetype>")


def _new_vml(block: int) -> bytes:
    return (b'<xml xmlns:v="' + _VML_NS["v"].encode() + b'" xmlns:o="' + _VML_NS["o"].encode()
            + b'" xmlns:x="' + _VML_NS["x"].encode() + b'"><o:shapelayout v:ext="edit"><o:idmap '
            b'v:ext="edit" data="' + str(block).encode() + b'"/></o:shapelayout></xml>')


_VML_ROOT = re.compile(rb"<(?![?!/])[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*/?>")
_VML_XMLNS = re.compile(rb"\sxmlns:([\w.-]+)\s*=\s*[\"']([^\"']*)[\"']")
_VML_CLIENT = re.compile(rb"<((?:[\w.-]+:)?)ClientData\b[^>]*>"
                         rb"(?:\s*<(?:[\w.-]+:)?(?:MoveWithCells|SizeWithCells)"
                         rb"\s*/>)*")


def _vml_prefixes(root_tag: bytes) -> tuple[dict[str, bytes], bytes]:
    """The prefixes our shapes use, and the declarations they carry for the namespaces the
    drawing's root does not declare (some producers declare them on every element)."""
    declared = {uri.decode("latin-1"): prefix for prefix, uri in _VML_XMLNS.findall(root_tag)}
    taken = set(declared.values())
    pfx, declare = {}, b""
    for short, uri in _VML_NS.items():
        if uri in declared:
            pfx[short] = declared[uri] + b":"
            continue
        name = short.encode()
        while name in taken:
            name += b"1"
        taken.add(name)
        pfx[short] = name + b":"
        declare += b" xmlns:" + name + b'="' + uri.encode() + b'"'
    return pfx, declare


def _rework_vml(data: bytes, gone: set, ours: dict, first_id: int) -> tuple[bytes, int]:
    """Shapes of the notes that are gone taken out; every note with our text has a box big
    enough (a new shape where it has none). Returns the drawing and the shape ids used."""
    root = _VML_ROOT.search(data)
    end = data.rstrip().rfind(b"</")
    if root is None or end < root.end():
        raise AnnotateError()
    pfx, declare = _vml_prefixes(root.group(0))
    edits = Edits(data)
    shapes = {}
    for m in _VML_SHAPE.finditer(data):
        body = m.group(0)
        r, c = _VML_ROW.search(body), _VML_COL.search(body)
        if b"Note" in body and r and c:
            shapes.setdefault((int(r.group(1)) + 1, int(c.group(1)) + 1), m)
    for at in gone:
        if at in shapes:
            edits.replace(shapes[at].start(), shapes[at].end(), b"")
    added, used = b"", 0
    for at, rows in sorted(ours.items()):
        m = shapes.get(at)
        if m is None:
            added += _vml_shape(pfx, declare, first_id + used, *at, rows)
            used += 1
            continue
        anchor = _VML_ANCHOR.search(m.group(0))
        client = _VML_CLIENT.search(m.group(0))
        if anchor is not None:
            edits.replace(m.start() + anchor.start(2), m.start() + anchor.end(2),
                          _anchor(*at, rows, anchor.group(2)))
        elif client is not None:     # a box without an anchor gets one, big enough
            x = client.group(1)
            edits.insert(m.start() + client.end(), b"<" + x + b"Anchor>" + _anchor(*at, rows) + b"</"
                         + x + b"Anchor>")
    if added:
        if b'"_x0000_t202"' not in data:
            added = _vml_shapetype(pfx, declare) + added
        edits.insert(end, added)
    return edits.result(), used


# -- the listing sheet -----------------------------------------------------------------------

@dataclass
class _ListingFormats:
    header: int
    body: int
    centered: int
    severity: dict[str, int] = field(default_factory=dict)


def _listing_formats(styles: _Styles) -> _ListingFormats:
    border = styles.thin_border()
    plain = styles.font()
    formats = _ListingFormats(
        header=styles.cell_format(styles.font(bold=True), styles.fill(HEADER_FILL), border, "center"),
        body=styles.cell_format(plain, 0, border),
        centered=styles.cell_format(plain, 0, border, "center"))
    for severity in ("error", "warning"):
        formats.severity[severity] = styles.cell_format(
            styles.font(rgb=FONT[severity]), styles.fill(FILL[severity]), border, "center")
    return formats


def _listing_sheet(form: Form, findings: Sequence[Finding], fmt: _ListingFormats, dialect: Dialect,
                   page_header: str) -> bytes:
    """校验问题: one row a finding; the header repeated on every printed page (a defined
    name), the unit and file at the top of each page (``page_header``), landscape A4 one
    page wide, rows tall enough for their wrapped text."""
    header, rows = _listing_rows(form, findings)
    widths = list(_WIDTHS) + ([_EXPLANATION_WIDTH] if len(header) > len(_WIDTHS) else [])
    # The cells column fits its longest entry (a finding may name several cells).
    widths[1] = float(min(40, max(widths[1], *(_text_units(str(r[1])) + 2 for r in rows))))
    last = cell_name(len(rows) + 1, len(header))
    out = [XML_DECL, f'<worksheet xmlns="{dialect.main}" xmlns:r="{dialect.rel}">'.encode(),
           f'<sheetPr><tabColor rgb="FF{TAB_COLOR}"/><pageSetUpPr fitToPage="1"/></sheetPr>'
           f'<dimension ref="A1:{last}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
           f'<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
           f'<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="{_LINE_PT + 3:g}"/><cols>'.encode()]
    out += [f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'.encode()
            for i, w in enumerate(widths, start=1)]
    out.append(b"</cols><sheetData>")
    for r, values in enumerate([header, *rows], start=1):
        out.append(f'<row r="{r}" ht="{listing_row_height(values, widths):g}" customHeight="1">'.encode())
        for c, value in enumerate(values, start=1):
            ref = cell_name(r, c).encode()
            if r == 1:
                s = fmt.header
            elif c == 4:
                s = fmt.severity[findings[r - 2].severity]
            else:
                s = fmt.centered if c == 1 else fmt.body
            if isinstance(value, int):
                out.append(b'<c r="' + ref + b'" s="' + str(s).encode() + b'"><v>'
                           + str(value).encode() + b"</v></c>")
            else:
                out.append(b'<c r="' + ref + b'" s="' + str(s).encode() + b'" t="inlineStr"><is>'
                           + text_element(b"", str(value)) + b"</is></c>")
        out.append(b"</row>")
    out.append(b'</sheetData><printOptions horizontalCentered="1"/><pageMargins left="0.5" right="0.5" '
               b'top="0.6" bottom="0.7" header="0.3" footer="0.3"/><pageSetup paperSize="9" '
               b'orientation="landscape" fitToWidth="1" fitToHeight="0"/><headerFooter><oddHeader>'
               + esc_text(page_header) + b"</oddHeader><oddFooter>" + esc_text("&C第 &P 页，共 &N 页")
               + b"</oddFooter></headerFooter></worksheet>")
    return b"".join(out)


# -- the workbook: the listing sheet added (or replaced), shown on opening ------------------------

_WORKBOOK_ORDER = ("fileVersion", "fileSharing", "workbookPr", "AlternateContent", "workbookProtection",
                   "bookViews", "sheets", "functionGroups", "externalReferences", "definedNames",
                   "calcPr", "oleSize", "customWorkbookViews", "pivotCaches", "smartTagPr",
                   "smartTagTypes", "webPublishing", "fileRecoveryPr", "webPublishObjects", "extLst")


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


class _Workbook:
    def __init__(self, data: bytes):
        self.data = utf8(data)
        self.root = parse(self.data, depth=2, texts=frozenset({"definedName"}))
        self.edits = Edits(self.data)
        self.p = prefix_of(self.data, self.root)
        self.sheets_el = self.root.find("sheets")
        if self.sheets_el is None:
            raise AnnotateError()
        self.sheets = self.sheets_el.all("sheet")
        self.names = [s.get("name") or "" for s in self.sheets]

    def add_sheet(self, name: str, rid: str) -> int:
        sheet_id = max([int_or(s.get("sheetId")) for s in self.sheets] + [0]) + 1
        rel_ns = dialect_of(self.root).rel
        self.edits.append_child(self.sheets_el, b"<" + self.p + b'sheet xmlns:r="' + rel_ns.encode()
                                + b'" name="' + esc_attr(name) + b'" sheetId="' + str(sheet_id).encode()
                                + b'" r:id="' + rid.encode() + b'"/>')
        self.names.append(name)
        return len(self.names) - 1

    def show(self, index: int) -> None:
        """Sheet ``index`` visible, and the one shown on opening."""
        if index < len(self.sheets) and (self.sheets[index].get("state") or "visible") != "visible":
            self.edits.set_attrs(self.sheets[index], {"state": None})
        views = self.root.find("bookViews")
        view = views.find("workbookView") if views is not None else None
        if view is None:
            self._add_to("bookViews", views,
                         b"<" + self.p + b'workbookView activeTab="' + str(index).encode() + b'"/>')
            return
        values: dict[str, str | None] = {"activeTab": str(index)}
        if int_or(view.get("firstSheet")) > index:
            values["firstSheet"] = str(index)
        self.edits.set_attrs(view, values)

    def print_titles(self, index: int, name: str) -> None:
        """The listing's header row printed on every page; its other print settings dropped."""
        wanted = f"{_quote_sheet(name)}!$1:$1"
        names = self.root.find("definedNames")
        kept = False
        for dn in (names.all("definedName") if names is not None else []):
            if int_or(dn.get("localSheetId"), -1) != index or not (dn.get("name") or "").startswith("_xlnm."):
                continue
            if not kept and dn.get("name") == "_xlnm.Print_Titles" and "".join(dn.text or ()) == wanted:
                kept = True
            else:
                self.edits.replace(dn.start, dn.end, b"")
        if kept:
            return
        self._add_to("definedNames", names,
                     b"<" + self.p + b'definedName name="_xlnm.Print_Titles" localSheetId="'
                     + str(index).encode() + b'">' + esc_text(wanted) + b"</" + self.p + b"definedName>")

    def _add_to(self, group: str, el: El | None, text: bytes) -> None:
        """``text`` as the last child of ``el``, the workbook's ``group`` (created when missing)."""
        if el is not None:
            self.edits.append_child(el, text)
            return
        name = self.p + group.encode()
        insert_in_order(self.edits, self.root, _WORKBOOK_ORDER, group,
                        b"<" + name + b">" + text + b"</" + name + b">")

    def result(self) -> bytes:
        return self.edits.result()


# -- putting it together ------------------------------------------------------------------------

def _notes_by_sheet(findings: Sequence[Finding], sheet_names: Sequence[str]
                    ) -> dict[str, dict[tuple[int, int], list[Finding]]]:
    out: dict[str, dict[tuple[int, int], list[Finding]]] = {}
    for f in findings:
        for cell in f.cells:
            sheet, _, ref = cell.rpartition("!")
            at = _ref(ref)
            if sheet in sheet_names and sheet != ANNOTATION_SHEET and at is not None:
                found = out.setdefault(sheet, {}).setdefault(at, [])
                if f not in found:
                    found.append(f)
    return out


def annotated_bytes(form: Form, result: FileResult) -> bytes:
    """The annotated copy of ``result``'s workbook, as the bytes of an .xlsx file.

    Raises :class:`AnnotateError` (why, in Chinese) for a workbook it cannot annotate.
    """
    try:
        pkg = Package(result.path, MAX_UNCOMPRESSED)
        try:
            return _annotate(pkg, form, list(result.findings), _listing_page_header(form, result))
        finally:
            pkg.close()
    except PackageError as e:
        raise AnnotateError(e.kind if e.kind in _TOLD else "cannot") from None


def _listing_page_header(form: Form, result: FileResult) -> str:
    """The listing's printed page header: the unit and the file, so that a page printed
    alone can be traced to them (an Excel header: "&" escaped, 255 characters at most)."""
    def part(label: str, text: str) -> str:
        text = text if len(text) <= 100 else text[:99] + "…"
        return f"{label}：{text}".replace("&", "&&")

    unit = part(form.column_header("unit") or "单位", result.unit or "")
    return f"&L{ANNOTATION_SHEET}　{unit}&R{part('文件', result.name)}"


def _annotate(pkg: Package, form: Form, findings: list[Finding], page_header: str) -> bytes:
    types = ContentTypes(pkg)
    wb_part = office_document(pkg)
    wb_rels = Rels(pkg, wb_part)
    workbook = _Workbook(pkg.read(wb_part) or b"")
    dialect = dialect_of(workbook.root)     # what is added speaks the package's dialect
    styles_part = wb_rels.target(next(iter(wb_rels.by_type("styles")), None))
    if styles_part is None or not pkg.has(styles_part):
        styles_part = pkg.free_name(posixpath.join(posixpath.dirname(wb_part), "styles{}.xml"))
        wb_rels.add("styles", styles_part, dialect)
        types.override(styles_part, CONTENT_TYPES["styles"])
        styles = _Styles(_minimal_styles(dialect))
    else:
        styles = _Styles(pkg.read(styles_part) or b"")

    sheet_parts: dict[str, str] = {}      # worksheets by name
    other_parts: list[str] = []           # chart sheets and the like: only their tabs matter
    for name, el in zip(workbook.names, workbook.sheets):
        rel = wb_rels.by_id(rid_of(el))
        part = wb_rels.target(rel)
        if part is None or not pkg.has(part):
            continue
        if (rel.get("Type") or "").endswith("/worksheet"):
            sheet_parts.setdefault(name, part)
        else:
            other_parts.append(part)
    before = ANNOTATION_SHEET in sheet_parts
    if ANNOTATION_SHEET in workbook.names and not before:    # a chart sheet of that name
        raise AnnotateError()
    notes = _notes_by_sheet(findings, list(sheet_parts))
    # A merged range's notes in the findings' order, whichever of its cells each names.
    rank = {id(f): i for i, f in enumerate(findings)}
    vml_ids = _VmlIds(pkg)

    for name, part in sheet_parts.items():
        if name == ANNOTATION_SHEET:
            continue
        rels = Rels(pkg, part) if name in notes or pkg.has(rels_name(part)) else None
        comments_rel = next(iter(rels.by_type("comments")), None) if rels is not None else None
        if name not in notes and comments_rel is None:
            other_parts.append(part)
            continue
        sheet = _Sheet(pkg.read(part) or b"")
        sheet.deselect()
        marks = _mark_cells(sheet, styles, notes.get(name, {}), before, rank)
        _rework_notes(pkg, types, sheet, part, rels, comments_rel,
                      {at: _note_lines(form, found) for at, found in marks.items()}, vml_ids)
        if sheet.changed:
            pkg.put(part, sheet.result())
        if rels is not None:
            rels.save()

    for part in other_parts:
        if _selected_before_data(pkg, part):
            sheet = _Sheet(pkg.read(part) or b"", cells=False)
            sheet.deselect()
            pkg.put(part, sheet.result())

    listing = _listing_sheet(form, findings, _listing_formats(styles), dialect, page_header)
    if before:
        index = workbook.names.index(ANNOTATION_SHEET)
        pkg.put(sheet_parts[ANNOTATION_SHEET], listing)
    else:
        folder = (posixpath.dirname(next(iter(sheet_parts.values()))) if sheet_parts
                  else posixpath.join(posixpath.dirname(wb_part), "worksheets"))
        part = pkg.free_name(posixpath.join(folder, "sheet{}.xml"))
        pkg.put(part, listing)
        types.override(part, CONTENT_TYPES["worksheet"])
        index = workbook.add_sheet(ANNOTATION_SHEET, wb_rels.add("worksheet", part, dialect))
    workbook.show(index)
    workbook.print_titles(index, ANNOTATION_SHEET)
    pkg.put(wb_part, workbook.result())
    if styles.changed:
        pkg.put(styles_part, styles.result())
    wb_rels.save()
    types.save()
    return pkg.write(form.output_time.timetuple()[:6])


def _mark_cells(sheet: _Sheet, styles: _Styles, cells: dict[tuple[int, int], list[Finding]],
                before: bool, rank: dict[int, int] | None = None) -> dict[tuple[int, int], list[Finding]]:
    """Each cell with findings (a merged range's top-left) gets a copy of its format with the
    fill of the worst, and a conditional format of that fill over all others; with
    ``before``, the cells an earlier run marked get theirs back. Returns the findings by
    marked cell."""
    marks: dict[tuple[int, int], list[Finding]] = {}
    for (row, col), found in cells.items():
        merged = marks.setdefault(sheet.top_left(row, col), [])
        merged += [f for f in found if f not in merged]
    if rank:
        for merged in marks.values():
            merged.sort(key=lambda f: rank.get(id(f), len(rank)))
    if before:
        for row, col, xf in sheet.cell_styles():
            if (row, col) not in marks and styles.is_marked(xf):
                original = styles.unmarked(xf)
                if original is not None:
                    sheet.style(row, col, original)
    refs: dict[str, list[str]] = {}
    for (row, col), found in sorted(marks.items()):
        xf = sheet.style_of(row, col)
        if before and styles.is_marked(xf):
            xf = styles.unmarked(xf) or 0
        severity = "error" if any(f.is_error for f in found) else "warning"
        sheet.style(row, col, styles.mark(xf, severity))
        refs.setdefault(severity, []).append(sheet.extent(row, col))
    sheet.conditional_marks(styles, refs)
    return marks


class _VmlIds:
    """Shape ids and id blocks the package's VML drawings use: new ones must not repeat them."""

    def __init__(self, pkg: Package):
        self.ids: set[int] = set()
        self.blocks: set[int] = set()
        for info in pkg.infos:
            if info.filename.lower().endswith(".vml"):
                data = pkg.read(info.filename) or b""
                self.ids.update(int(x) for x in _VML_IDS.findall(data))
                for m in _VML_BLOCKS.findall(data):
                    self.blocks.update(int(x) for x in re.findall(rb"\d+", m))

    def new_block(self) -> int:
        block = max(self.blocks | {0}) + 1
        self.blocks.add(block)
        return block

    def first_free(self, block: int | None) -> int:
        return max(self.ids | {(block or 1) * 1024}) + 1

    def take(self, first: int, n: int) -> None:
        self.ids.update(range(first, first + n))


def _rework_notes(pkg: Package, types: ContentTypes, sheet: _Sheet, part: str, rels: Rels | None,
                  comments_rel: El | None, notes: dict[tuple[int, int], list[str]],
                  vml_ids: _VmlIds) -> None:
    """The sheet's comments part and VML drawing: ours out, new ones in; created when missing."""
    comments_part = rels.target(comments_rel) if rels is not None else None
    data = pkg.read(comments_part) if comments_part else None
    if rels is None or (not notes and data is None):
        return
    dialect = dialect_of(sheet.root)
    comments = _Comments(data, dialect)
    gone, ours = comments.rework(notes)
    if not comments.changed:
        return
    parts_folder = posixpath.dirname(posixpath.dirname(part)) or "xl"
    if comments_part is None or data is None:
        comments_part = pkg.free_name(posixpath.join(parts_folder, "comments{}.xml"))
        rels.add("comments", comments_part, dialect)
        types.override(comments_part, CONTENT_TYPES["comments"])
    pkg.put(comments_part, comments.result())

    rid = sheet.legacy_drawing()
    vml_part = rels.target(rels.by_id(rid))
    if rid is not None and vml_part is None:      # a sheet has one legacy drawing at the most
        raise AnnotateError()
    vml = pkg.read(vml_part) if vml_part else None
    block = None
    if vml is None:
        if not ours:
            return
        block = vml_ids.new_block()
        vml = _new_vml(block)
        if vml_part is None:
            vml_part = pkg.free_name(posixpath.join(parts_folder, "drawings", "vmlDrawing{}.vml"))
            sheet.add_legacy_drawing(rels.add("vmlDrawing", vml_part, dialect))
        if vml_part.lower().endswith(".vml"):
            types.default("vml", CONTENT_TYPES["vml"])
        else:
            types.override(vml_part, CONTENT_TYPES["vml"])
    first = vml_ids.first_free(block)
    drawing, used = _rework_vml(vml, gone, ours, first)
    vml_ids.take(first, used)
    pkg.put(vml_part, drawing)
