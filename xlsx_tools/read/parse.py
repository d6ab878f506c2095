"""The XML parse of each package part the reader uses: what decides every value.

Every part is parsed by expat with namespaces resolved, as the programs that
open the file resolve them: an element is SpreadsheetML because its namespace
is, whatever its prefix (``<x:c>`` with ``x`` bound to it is a cell; a ``<c>``
in another namespace is not). Nothing is guessed from byte patterns here; the
fast path (:mod:`.fast`) is only allowed to give what this module gives.

A DOCTYPE or entity declaration stops the parse where expat meets it, in any
encoding. Where a part says one thing twice (two sheets of one name, a defined
name twice, a relationship id twice, a cell or a row twice, two sheetData) the
programs that open it disagree on which to show, so the file is refused.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.parsers import expat

from ..form import cell_name
from .limits import MAX_CELLS, MAX_ROWS
from .model import Cell, SheetCells
from .refs import MAX_ROW, split_ref
from .refusal import reject, too_large

__all__ = [
    "SML",
    "WorkbookInfo",
    "ooxml_unescape",
    "parse_content_types",
    "parse_rels",
    "parse_shared_strings",
    "parse_sheet",
    "parse_styles",
    "parse_workbook",
    "run_expat",
    "truthy",
]

# SpreadsheetML, as Excel writes it (transitional) and as "Strict Open XML" files do.
SML = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "http://purl.oclc.org/ooxml/spreadsheetml/main")
_REL = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "http://purl.oclc.org/ooxml/officeDocument/relationships")
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_PIECE = 1024 * 1024


class _Forbidden(Exception):
    """A DOCTYPE or entity declaration: never parsed further."""


def _forbid(*_args) -> None:
    raise _Forbidden()


def run_expat(data: bytes, start: Callable, end: Callable | None = None,
              chars: Callable | None = None, check: Callable[[], None] | None = None) -> None:
    """Parse ``data`` with namespaces ("uri local" names); refuse DOCTYPE and broken XML."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if chars is not None:
        parser.CharacterDataHandler = chars
    try:
        for i in range(0, len(data), _PIECE):
            parser.Parse(data[i:i + _PIECE], False)
            if check is not None:
                check()
        parser.Parse(b"", True)
    except _Forbidden:
        raise reject("doctype") from None
    except expat.ExpatError as e:
        raise reject("corrupt") from e


def _split(name: str) -> tuple[str, str]:
    """'uri local' -> (uri, local); 'local' (no namespace) -> ('', local)."""
    uri, _, local = name.rpartition(" ")
    return uri, local


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on")


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_unescape(text: str) -> str:
    """Excel writes control characters as _x000D_ inside strings."""
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


# -- the package's structure ----------------------------------------------------

def parse_rels(data: bytes, folder: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part name), for a part in ``folder``."""
    out: dict[str, tuple[str, str]] = {}
    depth = 0

    def start(name, attrs):
        nonlocal depth
        depth += 1
        if depth == 2 and name == _PKG_REL + " Relationship":
            rid = attrs.get("Id", "")
            if rid in out:
                raise reject("duplicate_rel", rid=rid)
            if attrs.get("TargetMode") == "External":
                out[rid] = ("", "")
                return
            target = attrs.get("Target", "")
            if target.startswith("/"):
                target = target[1:]
            else:
                target = posixpath.normpath(posixpath.join(folder, target))
            out[rid] = (attrs.get("Type", ""), target)

    def end(name):
        nonlocal depth
        depth -= 1

    run_expat(data, start, end)
    return out


def parse_content_types(data: bytes) -> list[str]:
    found: list[str] = []

    def start(name, attrs):
        if name in (_CT + " Override", _CT + " Default"):
            found.append(attrs.get("ContentType", ""))

    run_expat(data, start)
    return found


@dataclass(frozen=True)
class WorkbookInfo:
    sheets: tuple[tuple[str, str, str], ...]              # (name, state, relationship id)
    names: tuple[tuple[str, str | None, str], ...]        # (name, localSheetId, formula text)
    date1904: bool = False
    protected: bool = False


def _root_ns(name: str, local: str) -> str:
    """The SpreadsheetML namespace of a root element named ``local``; else the file is broken."""
    uri, got = _split(name)
    if got != local or uri not in SML:
        raise reject("corrupt")
    return uri + " "


def parse_workbook(data: bytes) -> WorkbookInfo:
    sheets: list[tuple[str, str, str]] = []
    names: list[tuple[str, str | None, str]] = []
    flags = {"date1904": False, "protected": False}
    sheet_keys: set[str] = set()
    name_keys: set[tuple[str, str | None]] = set()
    depth = 0
    q = ""
    text: list[str] | None = None
    current: tuple[str, str | None] | None = None

    def start(name, attrs):
        nonlocal depth, q, text, current
        depth += 1
        if depth == 1:
            q = _root_ns(name, "workbook")
        elif depth == 2:
            if name == q + "workbookPr":
                flags["date1904"] = truthy(attrs.get("date1904"))
            elif name == q + "workbookProtection":
                flags["protected"] = any(truthy(v) for k, v in attrs.items() if k.startswith("lock"))
        elif depth == 3 and name == q + "sheet":
            sheet = attrs.get("name", "")
            if sheet.casefold() in sheet_keys:
                raise reject("duplicate_sheet", sheet=sheet)
            sheet_keys.add(sheet.casefold())
            rid = next((v for k, v in attrs.items() if _split(k) in ((u, "id") for u in _REL)), "")
            sheets.append((sheet, attrs.get("state", "visible"), rid))
        elif depth == 3 and name == q + "definedName":
            current = (attrs.get("name", ""), attrs.get("localSheetId"))
            key = (current[0].casefold(), current[1])
            if key in name_keys:
                raise reject("duplicate_name", name=current[0])
            name_keys.add(key)
            text = []

    def end(name):
        nonlocal depth, text, current
        if depth == 3 and current is not None and name == q + "definedName":
            names.append((current[0], current[1], "".join(text or ())))
            current, text = None, None
        depth -= 1

    def chars(data):
        if text is not None:
            text.append(data)

    run_expat(data, start, end, chars)
    return WorkbookInfo(tuple(sheets), tuple(names), flags["date1904"], flags["protected"])


# Built-in number formats that show a date or time (14-22, 45-47), and the
# East Asian built-ins (27-36, 50-58) that Excel maps to 年月日 formats.
_DATE_FORMAT_IDS = frozenset(list(range(14, 23)) + list(range(27, 37)) + [45, 46, 47]
                             + list(range(50, 59)))
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]')


def is_date_format(code: str) -> bool:
    if not code:
        return False
    section = _FORMAT_NOISE.sub("", code.split(";")[0])
    if section.strip().lower() in ("general", "@", ""):
        return False
    return bool(re.search(r"[dmyhse]", section, re.IGNORECASE)) and not re.search(r"[0#?]", section)


def parse_styles(data: bytes) -> tuple[bool, ...]:
    """For each cellXfs entry (a cell's s): does its number format show a date?"""
    formats: dict[int, str] = {}
    xfs: list[int] = []
    depth = 0
    q = ""
    parent = ""

    def start(name, attrs):
        nonlocal depth, q, parent
        depth += 1
        if depth == 1:
            q = _root_ns(name, "styleSheet")
        elif depth == 2:
            parent = name
        elif depth == 3 and parent == q + "numFmts" and name == q + "numFmt":
            try:
                fid = int(attrs.get("numFmtId", ""))
            except ValueError:
                return
            if fid in formats:
                raise reject("corrupt")   # a number format defined twice: which one shows?
            formats[fid] = attrs.get("formatCode", "")
        elif depth == 3 and parent == q + "cellXfs" and name == q + "xf":
            v = attrs.get("numFmtId", "0").strip()
            xfs.append(int(v) if v.isascii() and v.isdigit() else 0)

    def end(name):
        nonlocal depth
        depth -= 1

    run_expat(data, start, end)
    return tuple((i in formats and is_date_format(formats[i])) or
                 (i not in formats and i in _DATE_FORMAT_IDS) for i in xfs)


# -- strings ----------------------------------------------------------------------

def parse_shared_strings(data: bytes) -> list[str]:
    """Every shared string's text: its t elements (of runs too), never the phonetic rPh."""
    strings: list[str] = []
    path: list[str] = []        # local names from the root down, while in SpreadsheetML
    q = ""
    item: list[str] | None = None
    inside = False
    skip = 0                    # depth of a subtree whose text does not count

    def start(name, attrs):
        nonlocal q, item, inside, skip
        if skip:
            skip += 1
            return
        if not path:
            q = _root_ns(name, "sst")
            path.append("sst")
            return
        if name.startswith(_MC + " "):
            raise reject("alternate_content", "strings")
        local = name[len(q):] if name.startswith(q) else None
        where = (len(path), local)
        if where == (1, "si"):
            item = []
        elif where in ((2, "t"), (2, "r")) or (where == (3, "t") and path[2] == "r"):
            inside = local == "t"
        else:
            skip = 1    # rPh, rPr, phoneticPr, another namespace: no text of the string
            return
        path.append(local)

    def end(name):
        nonlocal item, inside, skip
        if skip:
            skip -= 1
            return
        local = path.pop()
        if local == "si" and item is not None:
            strings.append(ooxml_unescape("".join(item)))
            item = None
        elif local == "t":
            inside = False

    def chars(data):
        if inside and item is not None:
            item.append(data)

    run_expat(data, start, end, chars)
    return strings


# -- worksheets -------------------------------------------------------------------

CELL_TYPES = frozenset({"b", "d", "e", "inlineStr", "n", "s", "str"})


def parse_sheet(data: bytes, wanted: set[tuple[int, int]], sheet: str = "",
                check: Callable[[], None] | None = None) -> SheetCells:
    """The cells at the positions ``wanted`` and the sheet's protection.

    Cells are the c elements of the rows of the one sheetData of the worksheet;
    a cell or a row without its reference follows the one before. The whole
    part is parsed: it must be XML throughout, and hold one sheetData only.
    The protection is the sheetProtection that follows the cells (after a
    sheetCalcPr), where the schema puts it.
    """
    cells: dict[tuple[int, int], Cell] = {}
    result = SheetCells(cells)
    seen: set[tuple[int, int]] = set()
    seen_rows: set[int] = set()
    path: list[str] = []
    q = ""
    skip = 0
    in_data = data_seen = False
    looking = False          # for the protection, just after the cells
    row = col = rows = count = 0
    cell: Cell | None = None
    parts: set[str] = set()
    inside: str | None = None
    text: list[str] = []
    inline: list[str] = []

    def start(name, attrs):
        nonlocal q, skip, in_data, data_seen, looking, row, col, rows, count, cell, parts, inside, text
        if skip:
            skip += 1
            return
        depth = len(path)
        if not depth:
            q = _root_ns(name, "worksheet")
            path.append("worksheet")
            return
        local = name[len(q):] if name.startswith(q) else None
        if local == "sheetData":
            if data_seen or depth != 1:
                raise reject("two_sheet_data", sheet=sheet)
            data_seen = in_data = True
            path.append(local)
            return
        if not in_data:
            if looking and depth == 1:
                if local == "sheetCalcPr":
                    skip = 1
                    return
                looking = False
                if local == "sheetProtection":
                    result.protected = truthy(attrs.get("sheet"))
            path.append(local or "")
            return
        if name.startswith(_MC + " "):
            raise reject("alternate_content", sheet=sheet)
        parent = path[-1]
        if local is None or local == "extLst" or (parent == "is" and local in ("rPh", "phoneticPr")) \
                or (depth == 6 and parent == "r" and local == "rPr"):
            skip = 1   # another namespace, extensions, phonetic guides, run formatting: no value
            return
        if depth == 2 and local == "row":
            rows += 1
            if rows > MAX_ROWS:
                raise too_large("rows", n=MAX_ROWS)
            r = attrs.get("r")
            if r is None:
                row += 1
            else:
                r = r.strip()
                if not (0 < len(r) <= 7 and r.isascii() and r.isdigit()):
                    raise reject("corrupt")
                row = int(r)
            if not 1 <= row <= MAX_ROW:
                raise reject("corrupt")
            if row in seen_rows:
                raise reject("duplicate_row", sheet=sheet, row=row)
            seen_rows.add(row)
            col = 0
        elif depth == 3 and local == "c":
            count += 1
            if count > MAX_CELLS:
                raise too_large("cells", n=MAX_CELLS)
            r = attrs.get("r")
            # A row's number may have white space around it (an unsignedInt); a cell's
            # reference may not: LibreOffice shows no such cell, so it is no cell we read.
            pos = (row, col + 1) if r is None else split_ref(r)
            if pos is None or pos[1] > 16_384 or not row:
                raise reject("corrupt")
            if pos in seen:
                raise reject("duplicate_cell", sheet=sheet, cell=cell_name(*pos))
            seen.add(pos)
            col = pos[1]
            t = attrs.get("t", "n")
            s = attrs.get("s", "0").strip()
            if t not in CELL_TYPES or not (s.isascii() and s.isdigit() and len(s) <= 9):
                raise reject("corrupt")
            cell = Cell(t=t, s=int(s)) if pos in wanted else None
            if cell is not None:
                cells[pos] = cell
            parts = set()
        elif depth == 4 and local in ("f", "v", "is"):
            if local in parts:
                raise reject("corrupt")   # a cell with two values
            parts.add(local)
            if cell is not None:
                text = []
                inline.clear()
                inside = local if local != "is" else None
                if local == "f":
                    cell.f = ""
        elif local == "t" and ((depth == 5 and parent == "is") or (depth == 6 and parent == "r")):
            if cell is not None:
                inside = "t"
                text = []
        elif not (depth == 5 and local == "r" and parent == "is"):
            raise reject("corrupt")   # SpreadsheetML where no cell content can be
        path.append(local)

    def end(name):
        nonlocal skip, in_data, looking, cell, inside
        if skip:
            skip -= 1
            return
        local = path.pop()
        if not in_data:
            return
        if local == "sheetData":
            in_data = False
            looking = True
        elif cell is not None:
            if local == "c":
                cell = None
            elif local == "t" and inside == "t":
                inline.append("".join(text))
                inside = None
            elif local == "is":
                cell.text = "".join(inline)
            elif local == inside:
                if local == "v":
                    cell.v = "".join(text)
                else:
                    cell.f = "".join(text)
                inside = None

    def chars(data):
        if inside is not None:
            text.append(data)

    run_expat(data, start, end, chars, check)
    return result
