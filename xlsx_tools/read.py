"""Read a returned workbook back: the form's identity, every field's raw value.

Thousands of returned files come in a round, from people using Excel, WPS or
LibreOffice, and some files are damaged or hostile. So the reader

* never loads a whole workbook: it unzips only workbook.xml (and its rels),
  styles.xml, sharedStrings.xml and the sheets of the form, and keeps only the
  cells it needs. Parts in the usual spelling are scanned as bytes (several
  times faster than any XML parser driven from Python); anything unusual, and
  any part too large to hold in memory, is streamed through expat instead. A
  package part seen before (the same bytes) is not parsed again;
* refuses before parsing what could take the run down: a DOCTYPE or entity
  declaration, more bytes than a form can hold (checked in the zip directory and
  again while inflating, since headers can lie), too many rows or cells, too long;
* finds every field through its defined name (``fld_<id>``), which Excel and
  LibreOffice move when rows or columns are inserted; a name that disagrees with
  the others is not trusted and the field is read where the layout says, shifted
  like its neighbours;
* raises only :class:`RejectedFile`, with one Chinese sentence, for anything it
  cannot read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import posixpath
import re
import stat
import time
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator
from xml.etree import ElementTree
from xml.parsers import expat

from .form import META_KEYS, META_MAP_HEADER, META_SHEET, NAME_PREFIX, Form, cell_name, load_form

__all__ = [
    "RejectedFile", "RawValue", "WorkbookData", "read_workbook", "iter_workbook_files",
    "WORKBOOK_EXTENSIONS", "MAX_FILE_BYTES", "MAX_UNCOMPRESSED", "MAX_ARCHIVE_UNCOMPRESSED",
    "MAX_RATIO", "MAX_MEMBERS", "MAX_ROWS", "MAX_CELLS", "MAX_SECONDS",
]

# -- limits ------------------------------------------------------------------
# A filled form is about 100 KB unpacked (text of some 80 fields, labels, styles).
# The limits leave two orders of magnitude for pasted pictures, long summaries
# and other programs' verbose XML, and stop anything built to exhaust the run.
MAX_FILE_BYTES = 100 * 1024 * 1024            # the file on disk
MAX_UNCOMPRESSED = 20 * 1024 * 1024           # all XML parts the reader inflates, together
MAX_ARCHIVE_UNCOMPRESSED = 200 * 1024 * 1024  # every member of the zip, from its directory
MAX_RATIO = 200                               # inflated/compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_MEMBERS = 10_000                          # entries in the zip
MAX_ROWS = 100_000                            # <row> elements in one sheet of the form
MAX_CELLS = 200_000                           # <c> elements in one sheet of the form
MAX_SECONDS = 10.0                            # wall time for one file

_CHUNK = 64 * 1024
_PART_CACHE: dict[tuple[str, str, int, int], object] = {}
_PART_CACHE_MAX = 512
_META_ROWS = 5_000        # the hidden sheet holds one row per field; more is not ours

# Extensions of files that are, or are often mistaken for, workbooks: a folder
# walk reports each of them, so a clerk sees why a .xls or .csv was not read.
WORKBOOK_EXTENSIONS = frozenset({
    ".xlsx", ".xlsm", ".xltx", ".xltm", ".xlsb", ".xls", ".xlt", ".xml",
    ".et", ".ett", ".ods", ".fods", ".csv", ".tsv", ".numbers", ".wps",
})

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


class RejectedFile(Exception):
    """A file that is not a readable workbook of this form.

    ``reason`` is one Chinese sentence for the person who sent the file;
    ``kind`` a stable short code: ``missing``, ``not_a_file``, ``permission``,
    ``empty``, ``xls``, ``xlsb``, ``ods``, ``xlsm``, ``encrypted``, ``not_zip``
    (PDF, HTML, CSV, text...), ``not_workbook`` (a zip that is no workbook),
    ``truncated``, ``corrupt``, ``too_large``, ``too_slow``, ``doctype``,
    ``other_form``, ``new_version``, ``old_version``, ``unreadable``.
    """

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason

    def __reduce__(self):  # picklable across worker processes
        return (RejectedFile, (self.kind, self.reason))

    def __str__(self) -> str:
        return self.reason


@dataclass
class RawValue:
    """A cell as stored: the typed value (a formula's cached result) and the formula.

    Numbers in a date-formatted cell come as ``datetime`` with ``is_date`` set.
    Error results (``#DIV/0!``) come as their text.
    """
    value: str | int | float | bool | dt.datetime | None
    cell: str                      # 统计表!C5: where the value was read
    formula: str | None = None     # the formula text (without '='), if the cell holds one
    is_date: bool = False          # a number whose style is a date format


@dataclass
class WorkbookData:
    """What a returned workbook holds, for the checks.

    ``raw`` has every field of the form (``RawValue(None, cell)`` for an empty
    cell); ``RawValue.cell`` is where it was read, which differs from the layout
    when rows or columns were inserted.

    ``moved``: fields whose defined name could not be trusted (missing,
    ``#REF!``, or pointing somewhere that disagrees with every other name);
    the value says where the name pointed ('' when there is none). Such a field
    was read at its layout position shifted like its neighbours, or is left
    empty when that cell belongs to another field.
    ``shifted``: field id -> (rows, columns) between the layout cell and the cell
    read, only where non-zero (rows or columns were inserted or deleted above or
    left of it). ``row_offset``/``col_offset``: per sheet of the layout, the
    shift most of its inputs have.
    ``labels``: layout address of every label cell ('统计表!A4') -> the text
    found there (read at the layout position shifted like the inputs nearby);
    ``label_cells``: for the labels read elsewhere than their layout address,
    where ('统计表!A7'), to name the cell in a finding.
    ``sheet_protected``: for the form's sheets of the layout (封面, 统计表).
    ``field_map``: the hidden sheet's map, field id -> '统计表!C5'; read only
    for an older form version (or an unreadable version), where it places the fields.
    ``sheet_states``: every sheet -> visible | hidden | veryHidden.
    """
    path: Path
    form_id: str | None
    form_version: int | None
    meta: dict[str, str]                   # the hidden sheet's key/values, by META_KEYS key
    raw: dict[str, RawValue]               # field id -> its input cell as stored
    labels: dict[str, str]                 # '统计表!A4' -> text found at each label cell
    sheet_protected: dict[str, bool]       # visible sheet -> protected?
    names: dict[str, str]                  # field id -> where its defined name points ('统计表!C5')
    sheet_names: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)
    shifted: dict[str, tuple[int, int]] = field(default_factory=dict)
    row_offset: dict[str, int] = field(default_factory=dict)
    col_offset: dict[str, int] = field(default_factory=dict)
    workbook_protected: bool = False
    sheet_states: dict[str, str] = field(default_factory=dict)
    field_map: dict[str, str] = field(default_factory=dict)
    label_cells: dict[str, str] = field(default_factory=dict)
    # The cells of the other defined names asked for (read_workbook's ``named``: prev_<id>,
    # expl_<code>), by name; a name the workbook lacks or that names no one cell is absent.
    named: dict[str, RawValue] = field(default_factory=dict)


# -- reasons -----------------------------------------------------------------

_REASONS = {
    "missing": "找不到这个文件。",
    "not_a_file": "这不是一个文件（可能是文件夹或特殊文件），无法作为工作簿读取。",
    "permission": "没有读取这个文件的权限。请检查文件权限，或把文件复制到本机后重新检查。",
    "empty": "文件是空的（0 字节），可能没有保存成功或没有完整传输。请重新保存后发送。",
    "xls": "这是旧版 Excel 格式（.xls）的文件，不是下发的 .xlsx 表格。请在 Excel 或 WPS 中"
           "“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "et": "这是 WPS 表格格式（.et）的文件。请在 WPS 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "xlsb": "这是 Excel 二进制工作簿（.xlsb）。请在 Excel 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "ods": "这是 OpenDocument 表格（.ods）。请在 LibreOffice 或 WPS 中“另存为”Excel 工作簿（.xlsx）后重新发送。",
    "xlsm": "这是启用宏的工作簿，出于安全考虑不予读取。请在 Excel 或 WPS 中“另存为”"
            "Excel 工作簿（.xlsx，不含宏）后重新发送。",
    "encrypted": "文件设置了打开密码，无法读取。请在 Excel 或 WPS 中取消“打开密码”后重新发送"
                 "（表格自带的工作表保护不用取消）。",
    "truncated": "文件不完整或已损坏（可能没有完整下载或传输），无法打开。请重新发送原文件。",
    "corrupt": "文件内容已损坏，无法读取。请在 Excel 或 WPS 中打开确认无误，重新保存后发送。",
    "doctype": "文件内部含有不允许的 XML 声明（DOCTYPE 或实体定义），出于安全考虑不予读取。"
               "请在 Excel 或 WPS 中重新保存后发送。",
    "too_slow": f"读取这个文件超过 {MAX_SECONDS:g} 秒仍未完成，已停止。文件中可能含有大量多余的行或"
                f"内容，请只保留下发的表格内容后重新保存发送。",
    "unreadable": "无法读取这个文件。请在 Excel 或 WPS 中打开确认无误，另存为 .xlsx 后重新发送。",
}


def _reject(kind: str, reason: str | None = None) -> RejectedFile:
    return RejectedFile(kind, reason or _REASONS[kind])


def _too_large(what: str) -> RejectedFile:
    return RejectedFile("too_large", f"文件{what}，远超一份统计表的内容，不予读取。请只保留下发的表格"
                                     f"内容（删除多余的行、工作表或图片）后重新保存发送。")


# -- sniffing what a file is ---------------------------------------------------

def _sniff_not_zip(head: bytes, suffix: str) -> RejectedFile:
    """A file that is not a zip: say what it looks like."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%PDF"):
        what = "PDF 文件"
    elif text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:1024]:
        what = "网页（HTML）文件"
    elif text.startswith(b"<?xml") or text.startswith(b"<"):
        what = "XML 文本文件（可能是“XML 电子表格”）"
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        what = "图片"
    elif head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        what = "压缩包"
    elif suffix in (".csv", ".tsv") or _looks_like_text(head):
        what = "纯文本（如 CSV）文件"
    else:
        what = "无法识别格式的文件"
    return RejectedFile("not_zip", f"这个文件实际上是{what}，不是 Excel 工作簿（.xlsx）。"
                                   f"请发送用下发表格填写并保存的 .xlsx 文件。")


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    for enc in ("utf-8", "gb18030", "utf-16"):
        try:
            head.decode(enc)
            return b"\x00" not in head or enc == "utf-16"
        except UnicodeDecodeError:
            continue
    return False


def _sniff_ole(path: Path, suffix: str) -> RejectedFile:
    """An OLE2 compound file: a legacy .xls/.et, or an encrypted .xlsx."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 * 1024 * 1024)
    except OSError:
        data = b""
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        return _reject("encrypted")
    if suffix in (".et", ".ett"):
        return _reject("et")
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return _reject("xls")
    return RejectedFile("not_zip", "这是旧版 Office 格式的文件（可能是 Word 或其他文档），不是 Excel 工作簿"
                                   "（.xlsx）。请发送用下发表格填写并保存的 .xlsx 文件。")


# -- streaming XML -----------------------------------------------------------

class _Stop(Exception):
    """Raised by a handler when it has what it needs."""


class _Forbidden(Exception):
    """A DOCTYPE or entity declaration: never parsed further."""


# Element names without their prefix, and cell references as (row, col):
# the same few hundred recur in every file, so they are remembered (up to a bound,
# so that a hostile file cannot grow them without end).
_LOCAL: dict[str, str] = {}
_REFS: dict[str, tuple[int, int]] = {}
_CACHE_MAX = 50_000


def _local(name: str) -> str:
    i = name.rfind(":")
    tag = name[i + 1:] if i >= 0 else name
    if len(_LOCAL) < _CACHE_MAX:
        _LOCAL[name] = tag
    return tag


def _forbid(*_args) -> None:
    raise _Forbidden()


_REF = re.compile(r"^([A-Z]{1,3})(\d{1,7})$")


def _split_ref(ref: str) -> tuple[int, int] | None:
    m = _REF.match(ref)
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    pos = (int(m.group(2)), col)
    if len(_REFS) < _CACHE_MAX:
        _REFS[ref] = pos
    return pos


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on")


# Built-in number formats that show a date or time (14-22, 45-47), and the
# East Asian built-ins (27-36, 50-58) that Excel maps to 年月日 formats.
_DATE_FORMAT_IDS = frozenset(list(range(14, 23)) + list(range(27, 37)) + [45, 46, 47]
                             + list(range(50, 59)))
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]')


def _is_date_format(code: str) -> bool:
    if not code:
        return False
    section = code.split(";")[0]
    section = _FORMAT_NOISE.sub("", section)
    if section.strip().lower() in ("general", "@", ""):
        return False
    return bool(re.search(r"[dmyhse]", section, re.I)) and not re.search(r"[0#?]", section)


# -- shared strings, fast --------------------------------------------------------
# The shared-string table is the largest part after the sheet (LibreOffice writes
# every label as rich text runs, one per script), and only the text of each item
# is needed: the text of its t elements outside the phonetic rPh. For the usual
# spelling (UTF-8, the root element unprefixed, no CDATA, comments or entities
# other than XML's own) plain string searching reads it several times faster
# than expat; anything else goes to expat, which gives the same texts. The sheet
# and the styles get the same treatment below. Tests compare both ways on real
# files (``_FAST = False`` turns the scans off).

_FAST = True
_FAST_MAX = 4 * 1024 * 1024    # larger parts are streamed, to bound memory
_SST_DECL = re.compile(rb"^\s*<\?xml[^>]*?\?>")
_SST_ROOT = re.compile(rb"\s*<sst[\s/>]")
# Contents are matched as "[^<]*(?:<(?!END|START)[^<]*)*": text in runs, never past
# the element's end nor into the next element of its kind, so a missing end tag
# costs one look to the next start, not a scan to the end of the part per start.
_SST_RPH = re.compile(rb"<rPh\s[^<>]*/>|<rPh[\s>][^<]*(?:<(?!/rPh\s*>|rPh[\s>])[^<]*)*</rPh\s*>")
_SST_ITEM = re.compile(rb'<si>(?:<t(?: xml:space="preserve")?>([^<]*)</t>|<t/>|'
                       rb"([^<]*(?:<(?!/si>|si[\s/>])[^<]*)*))</si>|<si/>")
_SST_T = re.compile(rb"<t(?:\s[^<>]*)?(?:/>|>([^<]*)</t\s*>)")
_XML_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_BAD_AMP = re.compile(r"&(?!(?:#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);)")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    def entity(m: re.Match) -> str:
        e = m.group(1)
        if e[0] == "#":
            return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
        return _ENTITIES[e]
    return _XML_ENTITY.sub(entity, text)


def _ooxml_unescape(text: str) -> str:
    """Excel writes control characters as _x000D_ inside strings."""
    return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _texts(raw: list[bytes]) -> list[str] | None:
    """Element texts as XML reads them: entities decoded, line ends normalised.

    Text holding entities is decoded by one C-level parse of all of them
    together (a character reference per CJK character is common), which costs
    less than decoding each reference in Python. None: not plain XML text.
    """
    if not any(b"&" in r for r in raw):
        try:
            out = [r.decode("utf-8") for r in raw]
        except UnicodeDecodeError:
            return None
        return [t.replace("\r\n", "\n").replace("\r", "\n") if "\r" in t else t for t in out]
    doc = b"<r>" + b"".join(b"<t>" + r + b"</t>" for r in raw) + b"</r>"
    try:
        root = ElementTree.fromstring(doc)
    except ElementTree.ParseError:
        return None
    return [el.text or "" for el in root]


def _scan_shared_strings(data: bytes) -> list[str] | None:
    """Every shared string's text, or None when the part needs a real parser."""
    body = data
    m = _SST_DECL.match(body)
    if m:
        decl = m.group(0).lower()
        if b"encoding" in decl and not re.search(rb"encoding\s*=\s*[\"']utf-?8[\"']", decl):
            return None
        body = body[m.end():]
    if b"<!" in body or b"<?" in body:
        return None
    if not _SST_ROOT.match(body):
        return None
    if b"rPh" in body:
        body = _SST_RPH.sub(b"", body)
    # One pass in C: a plain item gives its text (group 1), any other its inside (group 2).
    items = _SST_ITEM.findall(body)
    if len(items) != body.count(b"<si"):
        return None   # an item spelled otherwise (attributes, spaces): the parser reads it
    find_t = _SST_T.findall
    raw = [plain if plain or not inner else b"".join(find_t(inner)) for plain, inner in items]
    texts = _texts(raw)
    if texts is None:
        return None
    return [_ooxml_unescape(t) if "_x" in t else t for t in texts]


_ROOTS = {root: re.compile(rb"\s*<" + root + rb"[\s/>]") for root in (b"worksheet", b"styleSheet")}


def _has_markup(data: bytes, start: int) -> bool:
    """Is there a CDATA section, comment, declaration or processing instruction?

    Searched as the rare "!" and "?" (a single byte is found at memory speed;
    "<!" is not, in a text full of "<").
    """
    for mark in (b"!", b"?"):
        if data.count(mark, start) > 64:   # many: one regular-expression pass instead
            return _MARKUP.search(data, start) is not None
        i = data.find(mark, start)
        while i >= 0:
            if i > 0 and data[i - 1] == 0x3C:   # "<"
                return True
            i = data.find(mark, i + 1)
    return False


_MARKUP = re.compile(rb"<[!?]")
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)")


def _plain_xml(data: bytes, root: bytes, whole: bool = True) -> bytes | None:
    """The document after its declaration, if it is UTF-8 and the unprefixed
    ``root`` element follows the declaration directly (so no DOCTYPE, comment or
    processing instruction comes before it); with ``whole``, none in the rest either."""
    start = 0
    m = _SST_DECL.match(data)
    if m:
        decl = m.group(0).lower()
        if b"encoding" in decl and not re.search(rb"encoding\s*=\s*[\"']utf-?8[\"']", decl):
            return None
        start = m.end()
    if not _ROOTS[root].match(data, start):
        return None
    if whole and _has_markup(data, start):
        return None
    return data[start:] if start else data


_ATTR = re.compile(rb"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _attrs(text: bytes) -> dict[str, str] | None:
    """A start tag's attributes by local name; None if an entity needs the parser."""
    out = {}
    for name, dq, sq in _ATTR.findall(text):
        value = (dq or sq).decode("utf-8", "replace")
        if "&" in value:
            if _BAD_AMP.search(value):
                return None
            value = _unescape(value)
        i = name.rfind(b":")
        out[(name[i + 1:] if i >= 0 else name).decode("ascii", "replace")] = value
    return out


_STYLE_NUMFMT = re.compile(rb"<numFmt(\s[^<>]*?)/?>")
_STYLE_XFS = re.compile(rb"<cellXfs[\s>][^<]*(?:<(?!/cellXfs\s*>|cellXfs[\s>])[^<]*)*</cellXfs\s*>")
_STYLE_XF = re.compile(rb"<xf(\s[^<>]*?)?/?>")


def _scan_styles(data: bytes) -> tuple[dict[int, str], list[int]] | None:
    """(custom number formats by id, number format id of each cellXfs entry)."""
    body = _plain_xml(data, b"styleSheet")
    if body is None:
        return None
    formats: dict[int, str] = {}
    for m in _STYLE_NUMFMT.finditer(body):
        a = _attrs(m.group(1))
        if a is None:
            return None
        try:
            formats[int(a.get("numFmtId", "-1"))] = a.get("formatCode", "")
        except ValueError:
            pass
    xfs: list[int] = []
    block = _STYLE_XFS.search(body)
    if block:
        for m in _STYLE_XF.finditer(block.group(0)):
            a = _attrs(m.group(1) or b"")
            if a is None:
                return None
            v = a.get("numFmtId", "0")
            xfs.append(int(v) if v.isdigit() else 0)
    return formats, xfs


_SHEET_DATA = re.compile(rb"<sheetData(?:\s[^<>]*)?(/>|>)")
# A cell: its reference (when first, as usual), its other attributes, its contents
# (unrolled like the shared strings above: never past </c>, a next cell or </row>).
_SHEET_CELL = re.compile(rb"<c(?=[\s/>])(?:\s+r=\"([A-Z]{1,3}[0-9]{1,7})\")?([^<>]*?)"
                         rb"(?:/>|>([^<]*(?:<(?!/c>|c[\s/>]|/row>)[^<]*)*)</c>)")
_CELL_R = re.compile(rb"(?:^|\s)r\s*=\s*[\"']([A-Z]{1,3}[0-9]{1,7})[\"']")
_CELL_ST = re.compile(rb"(?:^|\s)([st])\s*=\s*[\"']([0-9A-Za-z]{0,12})[\"']")
_CELL_V = re.compile(rb"<v(?:\s[^<>]*)?(?:/>|>([^<]*)</v>)")
_CELL_F = re.compile(rb"<f(\s[^<>]*?)?(?:/>|>([^<]*)</f>)")
_CELL_RPH = _SST_RPH
_SHEET_PROTECTION = re.compile(
    rb"\s*(?:<sheetCalcPr(?:\s[^<>]*)?/>\s*)?<sheetProtection(\s[^<>]*?)?/?>")


def _scan_sheet(data: bytes, wanted: set[tuple[int, int]] | None, max_col: int,
                max_row: int) -> _SheetResult | None:
    """The sheet's wanted cells and protection, like :meth:`_Reader.sheet`."""
    body = _plain_xml(data, b"worksheet", whole=False)
    if body is None:
        return None
    start = _SHEET_DATA.search(body)
    if start is None:
        return None
    cells: dict[tuple[int, int], _Cell] = {}
    result = _SheetResult(cells)
    if start.group(1) == b"/>":
        end = start.end()
        fragment = b""
    else:
        end = body.find(b"</sheetData>", start.end())
        if end < 0:
            return None
        fragment = body[start.end():end]
        end += len(b"</sheetData>")
    # Only the cells are scanned, so only they must be free of CDATA and comments.
    if _has_markup(fragment, 0) or b"AlternateContent" in fragment:
        return None
    # A row takes at least 12 bytes and a cell 11: count only when there could be too many.
    if len(fragment) > 12 * MAX_ROWS and fragment.count(b"<row") > MAX_ROWS:
        raise _too_large(f"的工作表中有超过 {MAX_ROWS} 行")
    if len(fragment) > 11 * MAX_CELLS and fragment.count(b"<c") > MAX_CELLS:
        raise _too_large(f"的工作表中有超过 {MAX_CELLS} 个单元格")
    shared: dict[str, str] = {}
    count = 0
    refs = _REFS
    raw: list[bytes] = []               # texts to decode, in one go at the end
    slots: list[tuple[_Cell, str]] = []  # where each goes: (cell, "v" | "f" | "t")
    cell_matches: Iterable[re.Match] | None = None
    if wanted is not None:
        # Each wanted cell is found by searching for its start as every known
        # writer spells it (r first), in document order. If one is not there
        # (an empty cell left out, another spelling), every cell is looked at.
        matches = []
        pos = 0
        for row, col in sorted(wanted):
            needle = _needle(row, col)
            i = fragment.find(needle, pos)
            if i < 0:
                i = fragment.find(needle)
                if i < 0:
                    break
            m = _SHEET_CELL.match(fragment, i)
            if m is None:
                return None
            matches.append(m)
            pos = m.end()
        else:
            cell_matches = matches
    every_cell = cell_matches is None and wanted is not None
    if cell_matches is None:
        cell_matches = _SHEET_CELL.finditer(fragment)
    try:
        for m in cell_matches:
            count += 1
            if count > MAX_CELLS:
                raise _too_large(f"的工作表中有超过 {MAX_CELLS} 个单元格")
            ref_bytes, attr_text, inner = m.groups()
            if ref_bytes is None:   # r later among the attributes, or missing
                r = _CELL_R.search(attr_text)
                if r is None:
                    return None   # cells without a reference: the parser counts them
                ref_bytes = r.group(1)
            ref = ref_bytes.decode("ascii")
            pos = refs.get(ref) or _split_ref(ref)
            if wanted is not None:
                if pos not in wanted:
                    continue
            elif pos[1] > max_col or pos[0] > max_row:
                if pos[0] > max_row:
                    break
                continue
            if b"&" in attr_text:
                return None
            st = dict(_CELL_ST.findall(attr_text)) if attr_text else {}
            s = st.get(b"s")
            cell = _Cell(t=st[b"t"].decode("ascii") if b"t" in st else "n",
                         s=int(s) if s and s.isdigit() else 0)
            cells[pos] = cell
            if not inner:
                continue
            # The usual contents alone, <v>…</v> or <is><t>…</t></is>, without searching.
            if inner[:3] == b"<v>" and inner.find(b"<", 3) == len(inner) - 4:
                raw.append(inner[3:-4])
                slots.append((cell, "v"))
                continue
            if inner[:7] == b"<is><t>" and inner.find(b"<", 7) == len(inner) - 9:
                raw.append(inner[7:-9])
                slots.append((cell, "t"))
                continue
            fm = _CELL_F.search(inner) if b"<f" in inner else None
            if fm:
                fa = _attrs(fm.group(1) or b"")
                if fa is None:
                    return None
                raw.append(fm.group(2) or b"")
                slots.append((cell, "f"))
                if fa.get("t") == "shared":
                    cell.f_shared = fa.get("si")
            vm = _CELL_V.search(inner) if b"<v" in inner else None
            if vm:
                raw.append(vm.group(1) or b"")
                slots.append((cell, "v"))
            if b"<is" in inner:
                runs = _CELL_RPH.sub(b"", inner) if b"rPh" in inner else inner
                raw.append(b"".join(_SST_T.findall(runs)))
                slots.append((cell, "t"))
    except UnicodeDecodeError:
        return None
    if every_cell and count != (fragment.count(b"<c ") + fragment.count(b"<c>")
                                + fragment.count(b"<c/>")):
        return None   # a cell the scan could not read whole: the parser says what is wrong
    texts = _texts(raw)
    if texts is None:
        return None
    for (cell, what), text in zip(slots, texts):
        if what == "v":
            cell.v = text
        elif what == "t":
            cell.text = [text]
        elif cell.f_shared is None:
            cell.f = text
        elif text:   # the master of a shared formula; the cells using it follow
            cell.f = shared[cell.f_shared] = text
        else:
            cell.f = shared.get(cell.f_shared, "")
    p = _SHEET_PROTECTION.match(body, end)
    if p:
        a = _attrs(p.group(1) or b"")
        if a is None:
            return None
        result.protected = _truthy(a.get("sheet"))
    return result


# -- the reader ----------------------------------------------------------------

@dataclass
class _Cell:
    t: str = "n"
    s: int = 0
    v: str | None = None
    f: str | None = None
    f_shared: str | None = None    # si of a shared formula
    text: list[str] | None = None  # inline string runs


@dataclass
class _SheetResult:
    cells: dict[tuple[int, int], _Cell]
    protected: bool = False


class _Reader:
    def __init__(self, path: Path, form: Form):
        self.path = path
        self.form = form
        self.deadline = time.monotonic() + MAX_SECONDS
        self.inflated = 0
        self.zf: zipfile.ZipFile | None = None
        self.members: dict[str, zipfile.ZipInfo] = {}

    # ---- file level ----

    def open(self) -> None:
        path = self.path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise _reject("missing") from None
        except PermissionError:
            raise _reject("permission") from None
        except OSError as e:
            # A symlink loop or a name the system cannot handle.
            raise _reject("not_a_file", "无法打开这个文件（可能是循环的快捷方式或无效的文件名）。"
                                        "请检查文件名和位置。") from e
        if stat.S_ISDIR(st.st_mode):
            try:
                os.scandir(path).close()
            except OSError:
                raise _reject("permission", "没有权限打开这个文件夹，其中的文件无法检查。"
                                            "请检查文件夹权限后重试。") from None
            raise _reject("not_a_file", "这是一个文件夹，不是 Excel 文件。")
        if not stat.S_ISREG(st.st_mode):
            raise _reject("not_a_file")
        if st.st_size == 0:
            raise _reject("empty")
        if st.st_size > MAX_FILE_BYTES:
            raise _too_large(f"有 {st.st_size // (1024 * 1024)} MB")
        try:
            with open(path, "rb") as fh:
                head = fh.read(8192)
        except PermissionError:
            raise _reject("permission") from None
        except OSError as e:
            raise _reject("unreadable") from e
        suffix = path.suffix.lower()
        if head.startswith(_OLE_MAGIC):
            raise _sniff_ole(path, suffix)
        if not head.startswith(_ZIP_MAGICS):
            raise _sniff_not_zip(head, suffix)
        try:
            self.zf = zipfile.ZipFile(path)
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
            raise _reject("truncated") from e
        if len(infos) > MAX_MEMBERS:
            raise _too_large(f"内含 {len(infos)} 个部件")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _too_large(f"中有一部分解压后是压缩时的 "
                                 f"{info.file_size // max(info.compress_size, 1)} 倍")
            # Zip member names are case-sensitive, producers' spelling is not.
            self.members.setdefault(info.filename.lstrip("/").lower(), info)
        if total > MAX_ARCHIVE_UNCOMPRESSED:
            raise _too_large(f"解压后有 {total // (1024 * 1024)} MB")

    def close(self) -> None:
        if self.zf is not None:
            self.zf.close()

    def member(self, name: str) -> zipfile.ZipInfo | None:
        return self.members.get(name.lstrip("/").lower())

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _reject("too_slow")

    def inflate(self, name: str) -> Iterator[bytes]:
        """A part's bytes, chunk by chunk, within the byte and time limits.

        The zip directory's sizes are checked first and the bytes counted as they
        come, since a directory can lie. A part is always read to its end, where
        zipfile checks its CRC: a flipped bit is a damaged file, not a value.
        """
        info = self.member(name)
        if info is None:
            raise _reject("corrupt")
        if self.inflated + info.file_size > MAX_UNCOMPRESSED:
            raise _too_large(f"中有一部分解压后有 {info.file_size // (1024 * 1024)} MB")
        assert self.zf is not None
        try:
            with self.zf.open(info) as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        return
                    self.inflated += len(chunk)
                    if self.inflated > MAX_UNCOMPRESSED:
                        raise _too_large(f"解压后超过 {MAX_UNCOMPRESSED // (1024 * 1024)} MB")
                    self.check_time()
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise _reject("corrupt") from e
        except RuntimeError as e:   # a zip member with its own password
            raise _reject("encrypted") from e
        except NotImplementedError as e:   # a compression method zipfile lacks
            raise _reject("unreadable") from e

    def read_part(self, name: str) -> bytes:
        """A whole (small) part; one with a DOCTYPE or entity declaration is refused."""
        data = b"".join(self.inflate(name))
        if _has_markup(data, 0) and _DECLARATION.search(data):
            raise _reject("doctype")
        return data

    def scan(self, part: str, scanner: Callable[[bytes], object]) -> object | None:
        """Run a fast scanner over a small part; None: use the parser instead."""
        info = self.member(part)
        if not _FAST or info is None or info.file_size > _FAST_MAX:
            return None
        data = self.read_part(part)
        result = scanner(data)
        if result is None:
            self.inflated -= len(data)   # the parser reads it again
        return result

    def cached(self, kind: str, part: str, make: Callable[[], object]) -> object:
        """``make()``'s result for a part whose bytes were seen before.

        A round's workbooks share most of their package parts (styles, content
        types, relationships, often workbook.xml), so each distinct content is
        parsed once.
        Results are shared between files and never changed.
        """
        info = self.member(part)
        if not _FAST or info is None or info.file_size > _FAST_MAX:
            return make()
        # Keyed by a hash of the bytes really inflated (zipfile has checked them
        # against their CRC), never by the directory's CRC field: the sender
        # controls that, and a forged one must not borrow another file's parse.
        data = self.read_part(part)
        key = (kind, part, hashlib.blake2b(data, digest_size=16).digest())
        hit = _PART_CACHE.get(key)
        if hit is None:
            self.inflated -= len(data)   # make() reads the part again
            hit = make()
            if len(_PART_CACHE) >= _PART_CACHE_MAX:
                _PART_CACHE.clear()
            _PART_CACHE[key] = hit
        return hit

    def parse(self, name: str, start: Callable, end: Callable | None = None,
              chars: Callable | None = None) -> None:
        """Stream one part through expat, enforcing the byte, time and DOCTYPE rules."""
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = _CHUNK
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        # A DOCTYPE or entity stops the parse where expat meets it, in any encoding.
        parser.StartDoctypeDeclHandler = _forbid
        parser.EntityDeclHandler = _forbid
        parser.ExternalEntityRefHandler = _forbid
        parser.StartElementHandler = start
        if end is not None:
            parser.EndElementHandler = end
        if chars is not None:
            parser.CharacterDataHandler = chars
        chunks = self.inflate(name)
        try:
            for chunk in chunks:
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _Stop:
            for _ in chunks:   # the rest unparsed, but inflated: zipfile checks the CRC at the end
                pass
        except _Forbidden:
            raise _reject("doctype") from None
        except expat.ExpatError as e:
            raise _reject("corrupt") from e

    # ---- package structure ----

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, target part name) for ``part``."""
        folder, base = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        if self.member(rels_name) is None:
            return {}
        return self.cached("rels", rels_name, lambda: self._rels(folder, rels_name))

    def _rels(self, folder: str, rels_name: str) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}

        def start(name, attrs):
            if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
                target = attrs.get("Target", "")
                if target.startswith("/"):
                    target = target[1:]
                else:
                    target = posixpath.normpath(posixpath.join(folder, target))
                out[attrs.get("Id", "")] = (attrs.get("Type", ""), target)

        self.parse(rels_name, start)
        return out

    def content_types(self) -> list[str]:
        if self.member("[Content_Types].xml") is None:
            return []
        return self.cached("types", "[Content_Types].xml", self._content_types)

    def _content_types(self) -> list[str]:
        found: list[str] = []

        def start(name, attrs):
            if _local(name) in ("Override", "Default"):
                found.append(attrs.get("ContentType", ""))

        self.parse("[Content_Types].xml", start)
        return found

    def find_workbook_part(self) -> str:
        types = self.content_types()
        if any("macroEnabled" in t for t in types) or any(
                n.endswith("vbaproject.bin") for n in self.members):
            raise _reject("xlsm")
        if any("sheet.binary" in t for t in types) or self.member("xl/workbook.bin"):
            raise _reject("xlsb")
        for _id, (rtype, target) in self.rels("").items():
            if rtype.endswith("/officeDocument") and self.member(target):
                if target.lower().endswith(".bin"):
                    raise _reject("xlsb")
                return target
        if self.member("xl/workbook.xml"):
            return "xl/workbook.xml"
        if self.member("mimetype") or self.member("content.xml"):
            raise _reject("ods")
        what = ("Word 文档" if self.member("word/document.xml")
                else "PowerPoint 演示文稿" if self.member("ppt/presentation.xml")
                else "压缩包")
        raise RejectedFile("not_workbook", f"这个文件实际上是{what}，不是 Excel 工作簿（.xlsx）。"
                                           f"请发送用下发表格填写并保存的 .xlsx 文件。")

    def workbook(self, part: str) -> dict:
        return self.cached("workbook", part, lambda: self._workbook(part))

    def _workbook(self, part: str) -> dict:
        info = {"sheets": [], "names": [], "date1904": False, "protected": False}
        state = {"name": None, "attrs": None, "text": []}

        def start(name, attrs):
            tag = _local(name)
            if tag == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                info["sheets"].append((attrs.get("name", ""), attrs.get("state", "visible"), rid))
            elif tag == "definedName":
                state["name"] = attrs.get("name", "")
                state["attrs"] = attrs
                state["text"] = []
            elif tag == "workbookPr":
                info["date1904"] = _truthy(attrs.get("date1904"))
            elif tag == "workbookProtection":
                info["protected"] = any(_truthy(v) for k, v in attrs.items()
                                        if k.startswith("lock"))

        def end(name):
            if _local(name) == "definedName" and state["name"] is not None:
                info["names"].append((state["name"], state["attrs"].get("localSheetId"),
                                      "".join(state["text"])))
                state["name"] = None

        def chars(text):
            if state["name"] is not None:
                state["text"].append(text)

        self.parse(part, start, end, chars)
        return info

    def styles(self, part: str | None) -> list[bool]:
        """For each cellXfs index: is its number format a date?"""
        if not part or self.member(part) is None:
            return []
        return self.cached("styles", part, lambda: self._styles(part))

    def _styles(self, part: str) -> list[bool]:
        fast = self.scan(part, _scan_styles)
        if fast is not None:
            formats, xfs = fast
            return [(i in formats and _is_date_format(formats[i])) or
                    (i not in formats and i in _DATE_FORMAT_IDS) for i in xfs]
        formats = {}
        xfs = []
        where = {"in": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "numFmt":
                try:
                    formats[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
                except ValueError:
                    pass
            elif tag == "cellXfs":
                where["in"] = True
            elif tag == "xf" and where["in"]:
                try:
                    xfs.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)

        def end(name):
            if _local(name) == "cellXfs":
                raise _Stop()

        self.parse(part, start, end)
        return [(i in formats and _is_date_format(formats[i])) or
                (i not in formats and i in _DATE_FORMAT_IDS) for i in xfs]

    def shared_strings(self, part: str | None) -> list[str]:
        if not part or self.member(part) is None:
            return []
        fast = self.scan(part, _scan_shared_strings)
        if fast is not None:
            return fast
        strings: list[str] = []
        st = {"si": None, "t": False, "rph": 0}

        def start(name, attrs):
            tag = _local(name)
            if tag == "si":
                st["si"] = []
            elif tag == "t":
                st["t"] = True
            elif tag == "rPh":
                st["rph"] += 1

        def end(name):
            tag = _local(name)
            if tag == "si":
                strings.append(_ooxml_unescape("".join(st["si"] or ())))
                st["si"] = None
            elif tag == "t":
                st["t"] = False
            elif tag == "rPh":
                st["rph"] -= 1

        def chars(text):
            if st["t"] and st["si"] is not None and not st["rph"]:
                st["si"].append(text)

        self.parse(part, start, end, chars)
        return strings

    def sheet(self, part: str, wanted: set[tuple[int, int]] | None, max_col: int = 0,
              max_row: int = 0) -> _SheetResult:
        """Stream one worksheet; keep the cells in ``wanted`` (or all within max_row/max_col).

        Stops at the first element after the cells and the sheet protection
        (merged ranges, validations, formats follow; none is needed).
        """
        # The hidden sheet's head (wanted None) is read up to the first row not needed.
        fast = self.scan(part, lambda data: _scan_sheet(data, wanted, max_col, max_row))
        if fast is not None:
            return fast
        cells: dict[tuple[int, int], _Cell] = {}
        result = _SheetResult(cells)
        shared_formulas: dict[str, str] = {}
        row = col = rows = count = rph = 0
        cell: _Cell | None = None
        inside: str | None = None
        text: list[str] = []
        after_data = False

        def start(name, attrs):
            nonlocal row, col, rows, count, cell, inside, text, rph, after_data
            tag = _LOCAL.get(name) or _local(name)
            if tag == "c":
                count += 1
                if count > MAX_CELLS:
                    raise _too_large(f"的工作表中有超过 {MAX_CELLS} 个单元格")
                ref = attrs.get("r")
                pos = (_REFS.get(ref) or _split_ref(ref)) if ref else None
                if pos is None:
                    pos = (row, col + 1)
                col = pos[1]
                if (pos in wanted) if wanted is not None else (col <= max_col and pos[0] <= max_row):
                    s = attrs.get("s")
                    cell = _Cell(t=attrs.get("t", "n"), s=int(s) if s and s.isdigit() else 0)
                    cells[pos] = cell
                else:
                    cell = None
            elif tag == "row":
                rows += 1
                if rows > MAX_ROWS:
                    raise _too_large(f"的工作表中有超过 {MAX_ROWS} 行")
                r = attrs.get("r")
                row = int(r) if r and r.isdigit() else row + 1
                col = 0
                if wanted is None and row > max_row:
                    raise _Stop()
            elif cell is not None:
                if tag in ("v", "f", "t"):
                    inside = tag
                    text = []
                    if tag == "f":
                        cell.f = ""
                        if attrs.get("t") == "shared":
                            cell.f_shared = attrs.get("si")
                elif tag == "rPh":
                    rph += 1
            elif tag == "sheetProtection":
                result.protected = _truthy(attrs.get("sheet"))
                raise _Stop()
            elif after_data and tag != "sheetCalcPr":
                raise _Stop()

        def end(name):
            nonlocal cell, inside, rph, after_data
            if cell is None:
                if name == "sheetData" or _local(name) == "sheetData":
                    after_data = True
                return
            tag = _LOCAL.get(name) or _local(name)
            if tag == inside:
                value = "".join(text)
                if tag == "v":
                    cell.v = value
                elif tag == "f":
                    cell.f = value
                    if cell.f_shared is not None:
                        if value:
                            shared_formulas[cell.f_shared] = value
                        else:
                            cell.f = shared_formulas.get(cell.f_shared, "")
                elif tag == "t" and not rph:
                    cell.text = (cell.text or []) + [value]
                inside = None
            elif tag == "rPh":
                rph -= 1
            elif tag == "c":
                cell = None

        def chars(data):
            if inside is not None:
                text.append(data)

        self.parse(part, start, end, chars)
        return result


# -- field locations -----------------------------------------------------------

_NAME_TARGET = re.compile(
    r"^=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?(\d{1,7})(?::\$?[A-Za-z]{1,3}\$?\d{1,7})?$")


def _name_target(text: str) -> tuple[str, int, int] | None:
    m = _NAME_TARGET.match(text.strip())
    if not m:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    pos = _split_ref(m.group(3).upper() + m.group(4))
    return (sheet, pos[0], pos[1]) if pos else None


_CELL_NAMES: dict[tuple[int, int], str] = {}
_NEEDLES: dict[tuple[int, int], bytes] = {}


def _needle(row: int, col: int) -> bytes:
    """How a cell starts in a sheet, as all known writers spell it: <c r="C5"."""
    needle = _NEEDLES.get((row, col))
    if needle is None:
        needle = b'<c r="%s"' % cell_name(row, col).encode("ascii")
        if len(_NEEDLES) < _CACHE_MAX:
            _NEEDLES[(row, col)] = needle
    return needle


def _address(sheet: str, row: int, col: int) -> str:
    ref = _CELL_NAMES.get((row, col))
    if ref is None:
        ref = cell_name(row, col)
        if len(_CELL_NAMES) < _CACHE_MAX:
            _CELL_NAMES[(row, col)] = ref
    return f"{sheet}!{ref}"


def _chain(items: list[tuple[str, int, int]], mode: int) -> set[str]:
    """The largest set of (id, layout, found) whose order agrees with the layout.

    Inserting or deleting rows keeps the order of rows: cells on one layout row
    stay on one row, a later row stays later. A name edited to point elsewhere
    breaks that order; the longest order-keeping chain (preferring the usual
    shift ``mode`` on ties) is what the names agree on.
    """
    if len({found - layout for _, layout, found in items}) <= 1:
        return {fid for fid, _, _ in items}   # one shift for all: nothing to untangle
    items = sorted(items, key=lambda x: (x[1], x[2]))
    n = len(items)
    best: list[tuple[int, int]] = []
    back: list[int] = []
    for j in range(n):
        _, lj, fj = items[j]
        score, prev = (1, int(fj - lj == mode)), -1
        for i in range(j):
            _, li, fi = items[i]
            if (li == lj and fi == fj) or (li < lj and fi < fj):
                cand = (best[i][0] + 1, best[i][1] + int(fj - lj == mode))
                if cand > score:
                    score, prev = cand, i
        best.append(score)
        back.append(prev)
    if not n:
        return set()
    j = max(range(n), key=lambda k: best[k])
    out = set()
    while j >= 0:
        out.add(items[j][0])
        j = back[j]
    return out


class _Shift:
    """Layout row/column -> the row/column found, from the trusted names of one sheet."""

    def __init__(self, pairs: list[tuple[int, int]]):
        self.known: dict[int, int] = {}
        for layout, found in pairs:
            self.known.setdefault(layout, found - layout)
        self.keys = sorted(self.known)
        values = set(self.known.values())
        self.uniform = values.pop() if len(values) == 1 else (0 if not values else None)

    def offset(self, layout: int) -> int:
        if self.uniform is not None:
            return self.uniform
        if layout in self.known:
            return self.known[layout]
        before = [k for k in self.keys if k < layout]
        after = [k for k in self.keys if k > layout]
        if before and after:
            b, a = before[-1], after[0]
            if self.known[b] == self.known[a] or layout - b <= a - layout:
                return self.known[b]
            return self.known[a]
        return self.known[before[-1]] if before else self.known[after[0]]


# -- public --------------------------------------------------------------------

def read_workbook(path: str | Path, form: Form | None = None,
                  named: Iterable[str] = ()) -> WorkbookData:
    """Read ``path``; raise RejectedFile with a Chinese reason if it cannot be read.

    ``named``: other defined names (workbook-level, each naming one cell) whose cells
    are read too, into :attr:`WorkbookData.named`, found as the fields are found.
    """
    path = Path(path)
    form = form or load_form()
    try:
        reader = _Reader(path, form)
        try:
            reader.open()
            return _read(reader, form, frozenset(named))
        finally:
            reader.close()
    except RejectedFile:
        raise
    except RecursionError as e:
        raise _reject("corrupt") from e
    except MemoryError as e:
        raise _too_large("读取时内存不足") from e
    except Exception as e:  # noqa: BLE001 - any failure is the file's, told in Chinese
        raise _reject("unreadable") from e


def _meta_from_cells(cells: dict[tuple[int, int], str | int | float | None]
                     ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    by_label = {v: k for k, v in META_KEYS.items()}
    meta: dict[str, str] = {}
    field_map: dict[str, tuple[str, str]] = {}
    rows = sorted({r for r, _ in cells})
    header_row = None
    for r in rows:
        a = _text(cells.get((r, 1)))
        if header_row is None:
            if tuple(_text(cells.get((r, c))) for c in range(1, 5)) == META_MAP_HEADER:
                header_row = r
            elif a in by_label:
                meta[by_label[a]] = _text(cells.get((r, 2)))
        elif a:
            field_map[a] = (_text(cells.get((r, 2))), _text(cells.get((r, 3))).upper())
    return meta, field_map


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _version(text: str) -> int | None:
    try:
        f = float(text)
    except ValueError:
        return None
    return int(f) if f.is_integer() and f >= 0 else None


@dataclass(frozen=True)
class _Plan:
    """What the layout asks for, worked out once per form."""
    inputs: dict[str, tuple[str, int, int]]             # field id -> (sheet, row, col)
    labels: tuple[tuple[str, str, int, int], ...]       # (address, sheet, row, col)
    sheets: frozenset[str]
    date_fields: frozenset[str]


_PLANS: dict[int, tuple[Form, _Plan]] = {}


def _plan(form: Form) -> _Plan:
    cached = _PLANS.get(id(form))
    if cached is not None and cached[0] is form:
        return cached[1]
    inputs = {}
    for f in form.fields:
        c = form.input_cell(f.id)
        inputs[f.id] = (c.sheet, c.row, c.col)
    plan = _Plan(inputs, tuple((c.address, c.sheet, c.row, c.col) for c in form.label_cells()),
                 frozenset(s for s, _, _ in inputs.values()),
                 frozenset(f.id for f in form.fields if f.type == "date"))
    if len(_PLANS) > 16:
        _PLANS.clear()
    _PLANS[id(form)] = (form, plan)
    return plan


def _read(reader: _Reader, form: Form, named: frozenset[str] = frozenset()) -> WorkbookData:
    plan = _plan(form)
    wb_part = reader.find_workbook_part()
    wb = reader.workbook(wb_part)
    rels = reader.rels(wb_part)
    sst_part = next((t for ty, t in rels.values() if ty.endswith("/sharedStrings")), None)
    styles_part = next((t for ty, t in rels.values() if ty.endswith("/styles")), None)
    sheet_parts: dict[str, str] = {}
    sheet_states: dict[str, str] = {}
    for name, state, rid in wb["sheets"]:
        sheet_states[name] = state
        rel = rels.get(rid)
        if rel and rel[0].endswith("/worksheet"):
            sheet_parts[name] = rel[1]
    sheet_names = [s[0] for s in wb["sheets"]]
    if not sheet_names:
        raise _reject("corrupt")

    date_styles = reader.styles(styles_part)
    strings = reader.shared_strings(sst_part)

    def value_of(c: _Cell | None, date1904: bool = wb["date1904"]):
        """(value, formula, is_date) of a stored cell."""
        if c is None:
            return None, None, False
        formula = c.f
        t, v = c.t, c.v
        if t == "s":
            try:
                return strings[int(v)], formula, False
            except (TypeError, ValueError, IndexError):
                return None, formula, False
        if t == "inlineStr":
            return "".join(c.text or ()), formula, False
        if t in ("str", "e"):
            return v, formula, False
        if t == "b":
            return (None if v is None else v.strip() in ("1", "true")), formula, False
        if v is None or not v.strip():
            return None, formula, False
        if t == "d":
            try:
                return dt.datetime.fromisoformat(v.strip()), formula, True
            except ValueError:
                return v, formula, False
        try:
            num: int | float = int(v) if v.strip().lstrip("-").isdigit() else float(v)
        except ValueError:
            return v, formula, False
        if 0 <= c.s < len(date_styles) and date_styles[c.s]:
            base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
            try:
                return base + dt.timedelta(days=float(num)), formula, True
            except (OverflowError, ValueError):
                return num, formula, True
        return num, formula, False

    # The form's identity and field map, from the hidden sheet.
    meta: dict[str, str] = {}
    field_map: dict[str, tuple[str, str]] = {}
    def read_meta(rows: int) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        res = reader.sheet(sheet_parts[META_SHEET], None, max_col=4, max_row=rows)
        return _meta_from_cells({pos: value_of(c)[0] for pos, c in res.cells.items()})

    if META_SHEET in sheet_parts:
        # The keys head the sheet; the field map below them is read only when needed.
        meta, field_map = read_meta(len(META_KEYS) + 2)

    names: dict[str, str] = {}
    targets: dict[str, tuple[str, int, int] | None] = {}
    local_names: dict[str, str] = {}
    # The other names asked for: where each points (its sheet as named in this workbook).
    named_where: dict[str, tuple[str, int, int]] = {}
    for name, local_id, text in wb["names"]:
        if name in named and local_id is None:
            t = _name_target(text)
            if t is not None and t[0] in sheet_parts:
                named_where[name] = t
        if not name.startswith(NAME_PREFIX):
            continue
        fid = name[len(NAME_PREFIX):]
        if local_id is not None:
            local_names.setdefault(fid, text)   # a copy of a sheet carries sheet-scoped copies
            continue
        targets[fid] = _name_target(text)
        names[fid] = _address(*targets[fid]) if targets[fid] else text.strip().lstrip("=")
    for fid, text in local_names.items():
        if fid not in names:
            targets[fid] = _name_target(text)
            names[fid] = _address(*targets[fid]) if targets[fid] else text.strip().lstrip("=")

    form_id = meta.get("form_id") or None
    version = _version(meta.get("form_version", "")) if form_id else None
    all_named = all(f.id in names for f in form.fields)
    title = f"“{form.table_title.lstrip('0123456789.')}”"
    if form_id is None and not all_named:
        raise RejectedFile("other_form", f"这不是下发的{title}表格（没有找到表格的标识信息），无法识别"
                                         f"各项内容。请使用下发的 .xlsx 表格填写后重新发送。")
    if form_id is not None and form_id != form.id:
        raise RejectedFile("other_form", f"这是另一张表格（表单标识“{form_id}”），不是本次的{title}"
                                         f"（“{form.id}”）。请使用本次下发的表格填写后重新发送。")
    if version is not None and version > form.version:
        raise RejectedFile("new_version", f"这个表格是更新的第 {version} 版，本工具只能读取到第 "
                                          f"{form.version} 版。请升级 xlsx-tools 后再检查。")

    # Where each field should be: the layout, or for an older version its own map.
    expected: dict[str, tuple[str, int, int]] = {}
    old = version is not None and version < form.version
    if old or (form_id is not None and version is None):
        meta, field_map = read_meta(_META_ROWS)
    for f in form.fields:
        expected[f.id] = plan.inputs[f.id]
        if old:
            entry = field_map.get(f.id)
            pos = _split_ref(entry[1]) if entry else None
            if pos:
                expected[f.id] = (entry[0], pos[0], pos[1])
            elif targets.get(f.id) is None:
                raise RejectedFile("old_version", f"这是旧版（第 {version} 版）表格，缺少本版的“"
                                                  f"{f.label}”等栏目，无法读取。请使用新下发的表格重新填写。")

    # Sheets of the layout, as named in this workbook (a renamed sheet carries its names).
    actual: dict[str, str] = {}
    layout_sheets = {s for s, _, _ in expected.values()} if old else plan.sheets
    for layout_sheet in layout_sheets:
        if layout_sheet in sheet_parts:
            actual[layout_sheet] = layout_sheet
            continue
        pointed = Counter(t[0] for fid, t in targets.items()
                          if t and fid in expected and expected[fid][0] == layout_sheet)
        candidates = [s for s, _ in pointed.most_common() if s in sheet_parts]
        if candidates:
            actual[layout_sheet] = candidates[0]

    # Trust the names that agree with each other; the rest are "moved".
    moved: dict[str, str] = {}
    row_shift: dict[str, _Shift] = {}
    col_shift: dict[str, _Shift] = {}
    row_offset: dict[str, int] = {}
    col_offset: dict[str, int] = {}
    for layout_sheet in layout_sheets:
        real = actual.get(layout_sheet)
        items = []
        for fid, (s, r, c) in expected.items():
            if s != layout_sheet:
                continue
            t = targets.get(fid)
            if t is None or real is None or t[0] != real:
                moved[fid] = names.get(fid, "")
                continue
            items.append((fid, r, c, t[1], t[2]))
        rmode = Counter(tr - r for _, r, _, tr, _ in items).most_common(1)
        cmode = Counter(tc - c for _, _, c, _, tc in items).most_common(1)
        rm = rmode[0][0] if rmode else 0
        cm = cmode[0][0] if cmode else 0
        by_rows = _chain([(fid, r, tr) for fid, r, _, tr, _ in items], rm)
        by_cols = _chain([(fid, c, tc) for fid, _, c, _, tc in items], cm)
        trusted = [it for it in items if it[0] in by_rows and it[0] in by_cols]
        for it in items:
            if it not in trusted:
                moved[it[0]] = names.get(it[0], "")
        row_shift[layout_sheet] = _Shift([(r, tr) for _, r, _, tr, _ in trusted])
        col_shift[layout_sheet] = _Shift([(c, tc) for _, _, c, _, tc in trusted])
        row_offset[layout_sheet] = rm
        col_offset[layout_sheet] = cm

    def place(sheet: str, row: int, col: int) -> tuple[int, int]:
        return (row + row_shift[sheet].offset(row), col + col_shift[sheet].offset(col)) \
            if sheet in row_shift else (row, col)

    where: dict[str, tuple[str, int, int]] = {}
    for fid, (s, r, c) in expected.items():
        t = targets.get(fid)
        if fid not in moved and t is not None:
            where[fid] = t
    # An untrusted field is read where the layout puts it, shifted like its
    # neighbours, unless another field's name holds that cell (its row was
    # deleted, say): then it is read as empty rather than as the other's value.
    owned = set(where.values())
    blocked: set[str] = set()
    for fid in moved:
        s, r, c = expected[fid]
        pr, pc = place(s, r, c)
        where[fid] = (actual.get(s, s), pr, pc)
        if where[fid] in owned:
            blocked.add(fid)
    label_where: dict[str, tuple[str, int, int]] = {}
    for address, sheet, row, col in plan.labels:
        pr, pc = place(sheet, row, col)
        label_where[address] = (actual.get(sheet, sheet), pr, pc)

    # Read the sheets of the form, keeping only the cells asked for.
    wanted: dict[str, set[tuple[int, int]]] = {}
    for s, r, c in list(where.values()) + list(label_where.values()) + list(named_where.values()):
        wanted.setdefault(s, set()).add((r, c))
    found: dict[str, _SheetResult] = {}
    for s in sorted(wanted, key=lambda x: sheet_names.index(x) if x in sheet_names else 0):
        if s in sheet_parts:
            found[s] = reader.sheet(sheet_parts[s], wanted[s])

    raw: dict[str, RawValue] = {}
    shifted: dict[str, tuple[int, int]] = {}
    for f in form.fields:
        s, r, c = where[f.id]
        res = found.get(s)
        v, formula, is_date = value_of(res.cells.get((r, c)) if res and f.id not in blocked else None)
        if wb["date1904"] and f.id in plan.date_fields and not is_date and isinstance(v, (int, float)) \
                and not isinstance(v, bool):
            v = v + 1462   # a bare serial of the 1904 system, as a 1900-system serial
        raw[f.id] = RawValue(v, _address(s, r, c), formula, is_date)
        es, er, ec = expected[f.id]
        if (r - er, c - ec) != (0, 0):
            shifted[f.id] = (r - er, c - ec)
    named_cells: dict[str, RawValue] = {}
    for name, (s, r, c) in named_where.items():
        res = found.get(s)
        v, formula, is_date = value_of(res.cells.get((r, c)) if res else None)
        named_cells[name] = RawValue(v, _address(s, r, c), formula, is_date)
    labels: dict[str, str] = {}
    label_cells: dict[str, str] = {}
    for (address, layout_sheet, lr, lc), (s, r, c) in zip(plan.labels, label_where.values()):
        res = found.get(s)
        v = value_of(res.cells.get((r, c)) if res else None)[0]
        labels[address] = _text(v) if not isinstance(v, str) else v
        if (s, r, c) != (layout_sheet, lr, lc):
            label_cells[address] = _address(s, r, c)

    return WorkbookData(
        path=reader.path,
        form_id=form_id,
        form_version=version,
        meta=meta,
        raw=raw,
        labels=labels,
        sheet_protected={s: res.protected for s, res in found.items()},
        names=names,
        sheet_names=sheet_names,
        moved=moved,
        shifted=shifted,
        row_offset=row_offset,
        col_offset=col_offset,
        workbook_protected=wb["protected"],
        sheet_states=sheet_states,
        field_map={fid: f"{s}!{c}" for fid, (s, c) in field_map.items()},
        label_cells=label_cells,
        named=named_cells,
    )


def iter_workbook_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file to check under ``paths``, each once, in a stable order.

    A path given by name is always yielded (the reader says why it is no
    workbook); inside folders, files with a workbook-like extension are. Folders
    are walked recursively, following symlinks but never twice into the same
    real folder, so a symlink loop ends. What cannot be listed (no permission)
    is yielded itself, so it is reported rather than silently missing. Office's
    lock files (~$name.xlsx, .~lock.name#) are skipped: they are no one's return.
    """
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()

    def real(p: Path) -> str:
        try:
            return os.path.realpath(p)
        except (OSError, RuntimeError, ValueError):
            return str(p)

    def walk(top: Path) -> Iterator[Path]:
        # Depth first, in name order, with a stack of iterators: a folder tree of
        # any depth is walked without recursion.
        stack: list[Iterator[os.DirEntry | Path]] = [iter([top])]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            p = Path(entry.path) if isinstance(entry, os.DirEntry) else entry
            try:
                is_dir = entry.is_dir()   # follows symlinks; a loop is stopped by seen_dirs
            except OSError:
                is_dir = False
            if is_dir:
                key = real(p)
                if key in seen_dirs:
                    continue
                seen_dirs.add(key)
                try:
                    entries = sorted(os.scandir(p), key=lambda e: e.name)
                except OSError:
                    yield p   # cannot be listed: reported, not skipped
                    continue
                stack.append(iter(entries))
            elif _is_candidate(p.name):
                k = real(p)
                if k not in seen_files:
                    seen_files.add(k)
                    yield p

    for given in paths:
        p = Path(given)
        try:
            is_dir = p.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            yield from walk(p)
        else:
            k = real(p)
            if k not in seen_files:
                seen_files.add(k)
                yield p


def _is_candidate(name: str) -> bool:
    if name.startswith(("~$", ".~lock.")):
        return False
    return os.path.splitext(name)[1].lower() in WORKBOOK_EXTENSIONS
