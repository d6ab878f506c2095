"""Stamping: a built workbook made to show another unit's values, by editing its parts.

Building a workbook is mostly xlsxwriter compiling some 5,500 formulas, the same
for every unit. So ``generate --roster`` builds the form once per run for each
shape of unit (:class:`xlsx_tools.write.Stamper`), and each unit's workbook is
that *template* with the parts edited where the unit's values show, given what
each sheet shows for the template and for the unit (:class:`SheetShown`, which
the writer computes, ``xlsx_tools.write.unit_shown``):

* the cells whose value differs: rewritten as xlsxwriter writes them (a shared
  string, a formula's stored result of its type, a number, a blank), a formula
  keeping its ``<f>``;
* the rows whose height differs (a long name wraps onto more lines), and the page
  breaks, which follow the heights;
* the shared strings: those no cell shows any more go (the template's
  placeholders), the unit's come in, and every cell points where its string now is.

Every other part is copied as it was compressed. The template and the unit must
have the same cells and rows (the same shape); anything else is a bug, and raises.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from .form import parse_cell
from .ooxml import RID, Edits, Member, deflated, parse, stored, zip_bytes

__all__ = ["SheetShown", "Template"]

_SST = "xl/sharedStrings.xml"
# xlsxwriter's rows: 20 pixels (15 points) unless set; the order of a row's attributes.
_DEFAULT_ROW_PIXELS = 20
_ROW_ATTRS = ("r", "spans", "s", "customFormat", "ht", "hidden", "customHeight", "outlineLevel",
              "collapsed")
_ERROR_VALUES = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")
# xlsxwriter's escapes of a shared string: a literal _xHHHH_ is escaped itself, and a
# character XML cannot hold becomes _xHHHH_.
_OOXML_ESCAPE = re.compile("_(x[0-9a-fA-F]{4}_)|([\x00-\x08\x0b-\x1f\ufffe\uffff])")
_SPACE_AT_END = re.compile(r"^\s|\s$")


@dataclass
class SheetShown:
    """What a sheet of one workbook shows that its unit's values decide, 0-based: each
    cell's value (a formula's stored result), each row's height in points, the rows
    above which a printed page breaks (as xlsxwriter's set_h_pagebreaks takes them)."""
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    rows: dict[int, float] = field(default_factory=dict)
    breaks: list[int] = field(default_factory=list)


# -- a template: the built workbook, its sheets indexed ------------------------------------


@dataclass
class _Cell:
    start: int                 # the <c> element's bytes
    end: int
    head: bytes                # <c r="C5" s="18" (its reference and style)
    formula: bytes | None      # its <f>...</f>, if it has one
    string: int | None         # the shared string it shows (t="s"), if one


@dataclass
class _Sheet:
    part: str
    data: bytes
    cells: dict[tuple[int, int], _Cell]
    rows: dict[int, tuple[int, int, dict[str, str]]]   # 0-based row -> its start tag's range, attributes
    strings: list[tuple[int, int, int, tuple[int, int]]]   # each t="s" value: range, index, cell
    breaks: tuple[int, int]    # the <rowBreaks> element's range (empty where it would go if none)


class Template:
    """A built workbook (``data``) and what its sheets show (``shown``, by sheet name), its
    parts indexed once so that each unit's copy costs only the edits."""

    def __init__(self, data: bytes, shown: Mapping[str, SheetShown]):
        self.shown = shown
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            fh = io.BytesIO(data)
            self.members: list[Member] = [stored(fh, info) for info in infos]
            self.date_time = infos[0].date_time
            parts = _sheet_parts(z)
            self.sheets = {name: _index_sheet(parts[name], z.read(parts[name])) for name in shown}
            sst = z.read(_SST)
        root = parse(sst, depth=1)
        self.sst_head = sst[:root.start] + re.sub(rb'\s(count|uniqueCount)="\d*"', b"",
                                                  sst[root.start:root.open_end - 1])
        self.sst_tail = sst[root.inner_end:]
        self.entries = [sst[si.start:si.end] for si in root.all("si")]
        self.count = int(root.get("count") or 0)
        self.refs = [0] * len(self.entries)
        for sheet in self.sheets.values():
            for *_, index, _ in sheet.strings:
                self.refs[index] += 1

    def stamp(self, unit: Mapping[str, SheetShown]) -> bytes:
        """The workbook that shows ``unit``: the template with the unit's cells, rows and strings."""
        changes: list[tuple[str, dict[tuple[int, int], object], SheetShown]] = []
        left = list(self.refs)
        wanted: list[bytes] = []
        for name, shown in unit.items():
            sheet, old = self.sheets[name], self.shown[name]
            if shown.cells.keys() != old.cells.keys() or shown.rows.keys() != old.rows.keys():
                raise AssertionError(f"stamp: {name} is not as the template has it")
            differ = {rc: v for rc, v in shown.cells.items() if not _same(v, old.cells[rc])}
            for rc, v in differ.items():
                cell = sheet.cells[rc]
                if cell.string is not None:
                    left[cell.string] -= 1
                if cell.formula is None and isinstance(v, str) and v:
                    wanted.append(_shared_string(v))
            changes.append((name, differ, shown))
        strings = _Strings(self, left, wanted)
        changed = {_SST: strings.part()}
        for name, differ, shown in changes:
            sheet = self.sheets[name]
            edits = Edits(sheet.data)
            for rc, v in differ.items():
                cell = sheet.cells[rc]
                edits.replace(cell.start, cell.end, _cell_xml(cell, v, strings))
            for start, end, index, rc in sheet.strings:
                if strings.moved[index] != index and rc not in differ:
                    edits.replace(start, end, b"%d" % strings.moved[index])
            _stamp_rows(sheet, edits, shown, self.shown[name])
            if _page_breaks(shown.breaks) != _page_breaks(self.shown[name].breaks):
                edits.replace(*sheet.breaks, _row_breaks(shown.breaks))
            if edits.ops:
                changed[sheet.part] = edits.result()
        members = [deflated(m[0], changed[m[0]]) if m[0] in changed else m for m in self.members]
        return zip_bytes(members, self.date_time)


class _Strings:
    """The unit's shared strings: the template's that a cell still shows, in their order,
    then the unit's new ones (a string already there is shown from there, as xlsxwriter
    keeps each string once)."""

    def __init__(self, template: Template, left: list[int], wanted: list[bytes]):
        entries = template.entries
        # An entry goes when every cell that showed it shows something else now.
        gone = {i for i, n in enumerate(left) if n == 0 and template.refs[i]}
        self.moved: list[int] = []         # template index -> the unit's (-1: gone)
        kept: list[bytes] = []
        for i, entry in enumerate(entries):
            self.moved.append(-1 if i in gone else len(kept))
            if i not in gone:
                kept.append(entry)
        self.index: dict[bytes, int] = {}
        for i, entry in enumerate(kept):
            self.index.setdefault(entry, i)
        for entry in wanted:
            if entry not in self.index:
                self.index[entry] = len(kept)
                kept.append(entry)
        self.entries = kept
        self.count = template.count - sum(template.refs) + sum(left) + len(wanted)
        self.head, self.tail = template.sst_head, template.sst_tail

    def part(self) -> bytes:
        return (self.head + b' count="%d" uniqueCount="%d">' % (self.count, len(self.entries))
                + b"".join(self.entries) + self.tail)


def _same(a: object, b: object) -> bool:
    # True == 1 in Python, but a cell stores them differently.
    return type(a) is type(b) and a == b


# -- writing cells and rows as xlsxwriter does --------------------------------------------


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode("utf-8")


def _shared_string(text: str) -> bytes:
    """The <si> xlsxwriter writes for ``text``."""
    text = _OOXML_ESCAPE.sub(lambda m: "_x005F_" + m.group(1) if m.group(1)
                             else f"_x{ord(m.group(2)):04X}_", text)
    space = b' xml:space="preserve"' if _SPACE_AT_END.search(text) else b""
    return b"<si><t" + space + b">" + _escape(text) + b"</t></si>"


def _cell_xml(cell: _Cell, value: object, strings: _Strings) -> bytes:
    """The <c> element showing ``value``: a formula's (kept) with its stored result, else the value."""
    if cell.formula is not None:
        if isinstance(value, bool):
            kind, text = b' t="b"', b"1" if value else b"0"
        elif isinstance(value, str):
            kind = b"" if value == "" else b' t="e"' if value in _ERROR_VALUES else b' t="str"'
            text = _escape(value)
        else:
            kind, text = b"", str(value).encode()
        return cell.head + kind + b">" + cell.formula + b"<v>" + text + b"</v></c>"
    if isinstance(value, str):
        if not value:
            return cell.head + b"/>"
        return cell.head + b' t="s"><v>%d</v></c>' % strings.index[_shared_string(value)]
    if isinstance(value, bool):
        return cell.head + b' t="b"><v>' + (b"1" if value else b"0") + b"</v></c>"
    return cell.head + b"><v>" + format(float(value), ".16G").encode() + b"</v></c>"


def _pixels(points: float) -> int:
    return int(points * 4.0 / 3.0 + 0.5)      # how xlsxwriter's set_row() stores a height


def _stamp_rows(sheet: _Sheet, edits: Edits, shown: SheetShown, old: SheetShown) -> None:
    for r0, height in shown.rows.items():
        pixels = _pixels(height)
        if pixels == _pixels(old.rows[r0]):
            continue
        start, open_end, attrs = sheet.rows[r0]
        attrs = {k: v for k, v in attrs.items() if k not in ("ht", "customHeight")}
        if pixels != _DEFAULT_ROW_PIXELS:
            attrs["ht"] = f"{pixels * 0.75:.16g}"
            attrs["customHeight"] = "1"
        order = sorted(attrs, key=lambda k: _ROW_ATTRS.index(k) if k in _ROW_ATTRS else len(_ROW_ATTRS))
        close = b"/>" if sheet.data[open_end - 2:open_end] == b"/>" else b">"
        edits.replace(start, open_end, b"<row" + b"".join(b' %s="%s"' % (k.encode(), attrs[k].encode())
                                                         for k in order) + close)


def _page_breaks(rows: list[int]) -> list[int]:
    # As xlsxwriter keeps them: once each, in order, none above the first row, 1,023 at most.
    return sorted(set(rows) - {0})[:1023]


def _row_breaks(rows: list[int]) -> bytes:
    """The <rowBreaks> xlsxwriter writes for these breaks (nothing for none)."""
    rows = _page_breaks(rows)
    if not rows:
        return b""
    return (b'<rowBreaks count="%d" manualBreakCount="%d">' % (len(rows), len(rows))
            + b"".join(b'<brk id="%d" max="16383" man="1"/>' % r for r in rows) + b"</rowBreaks>")


# -- reading the template ---------------------------------------------------------------


def _sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part, as workbook.xml and its rels name them."""
    workbook = parse(z.read("xl/workbook.xml"), depth=2)
    rels = parse(z.read("xl/_rels/workbook.xml.rels"), depth=1)
    targets = {r.get("Id"): posixpath.normpath(posixpath.join("xl", r.get("Target") or ""))
               for r in rels.all("Relationship")}
    sheets = workbook.find("sheets")
    return {s.get("name"): targets[s.get(RID)] for s in sheets.all("sheet")}


def _index_sheet(part: str, data: bytes) -> _Sheet:
    """Where each cell and row of a sheet xlsxwriter wrote stands in its bytes."""
    root = parse(data, depth=4)
    sheet = _Sheet(part, data, {}, {}, [], _breaks_range(root))
    sheet_data = root.find("sheetData")
    for row in sheet_data.all("row") if sheet_data is not None else ():
        sheet.rows[int(row.get("r")) - 1] = (row.start, row.open_end, dict(row.attrs))
        for c in row.all("c"):
            row1, col1 = parse_cell(c.get("r"))
            rc = (row1 - 1, col1 - 1)
            f, v = c.find("f"), c.find("v")
            string = None
            if c.get("t") == "s" and v is not None:
                string = int(data[v.open_end:v.inner_end])
                sheet.strings.append((v.open_end, v.inner_end, string, rc))
            style = c.get("s")
            head = b'<c r="' + c.get("r").encode() + (b'" s="' + style.encode() if style else b"") + b'"'
            sheet.cells[rc] = _Cell(c.start, c.end, head, data[f.start:f.end] if f is not None else None,
                                    string)
    return sheet


def _breaks_range(root) -> tuple[int, int]:
    """Where a sheet's <rowBreaks> stands, or where xlsxwriter would put one: after
    <headerFooter> (after <pageSetup>, <pageMargins>... if it has none)."""
    found = root.find("rowBreaks")
    if found is not None:
        return found.start, found.end
    before = [el.end for el in root.children if el.tag in _BEFORE_BREAKS and el.ns == root.ns]
    if not before:
        raise AssertionError("stamp: a sheet without the elements page breaks follow")
    return before[-1], before[-1]


# What comes before <rowBreaks> in a sheet (ECMA-376's order), up to what xlsxwriter writes.
_BEFORE_BREAKS = {"sheetData", "sheetProtection", "mergeCells", "phoneticPr", "conditionalFormatting",
                  "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup",
                  "headerFooter"}
