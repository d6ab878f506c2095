"""Bad, damaged and hostile files, made from a real generated workbook.

Other tests reuse these (validate must report every one of them and go on):

    corpus = make_corpus(tmp_path, base=filled_workbook)      # no LibreOffice needed
    for case in corpus:
        ...  # case.path, case.kind (the RejectedFile kind expected, or None: read it)

``make_corpus`` makes every file that needs only Python; ``libreoffice_cases``
adds those LibreOffice makes (a legacy .xls), in ONE soffice call.
"""

from __future__ import annotations

import re
import shutil
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from _fill import fill_workbook, shift_like_excel
from _libreoffice import convert

from xlsx_tools.bench import FIXED_TIME
from xlsx_tools.form import META_KEYS, META_SHEET, NAME_PREFIX, Form, load_form

FORM = load_form()


@dataclass(frozen=True)
class Hostile:
    """One bad file and what reading it must give."""
    name: str
    path: Path
    kind: str | None          # RejectedFile.kind expected; None: the file is read
    note: str                 # what it is, for test ids and messages
    kinds: tuple[str, ...] = ()   # other acceptable kinds (a bit flip lands where it lands)

    @property
    def rejected(self) -> bool:
        return self.kind is not None


# -- small tools ---------------------------------------------------------------

def table_part(path: Path, sheet: str) -> str:
    """The zip member holding ``sheet``, through workbook.xml and its rels."""
    with zipfile.ZipFile(path) as z:
        wb = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', wb).group(1)
    rid = re.escape(rid)
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    t = target.group(1) or target.group(2)
    return t.lstrip("/") if t.startswith("/") else "xl/" + t


def rewrite_zip(src: Path, dst: Path, replace: Mapping[str, bytes | None] | None = None,
                add: Mapping[str, bytes] | None = None,
                compress: int = zipfile.ZIP_DEFLATED) -> Path:
    """Copy a zip member by member, replacing (None: dropping) and adding members."""
    replace = dict(replace or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                data = replace.pop(info.filename)
                if data is None:
                    continue
            else:
                data = zin.read(info.filename)
            zout.writestr(info.filename, data, compress_type=compress)
        for name, data in {**replace, **(add or {})}.items():
            if data is not None:
                zout.writestr(name, data, compress_type=compress)
    return dst


def with_shared_strings(src: Path, dst: Path, sst: bytes,
                        replace: Mapping[str, bytes] | None = None) -> Path:
    """Copy with ``sst`` as the shared-string table, wiring it in if the source had none."""
    with zipfile.ZipFile(src) as z:
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        types = z.read("[Content_Types].xml").decode()
    parts = dict(replace or {})
    if "relationships/sharedStrings" not in rels:
        parts["xl/_rels/workbook.xml.rels"] = rels.replace("</Relationships>", (
            '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')).encode()
        parts["[Content_Types].xml"] = types.replace("</Types>", (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')).encode()
    parts["xl/sharedStrings.xml"] = sst
    return rewrite_zip(src, dst, parts)


def encrypt(src: Path, dst: Path, password: str = "secret") -> Path:
    """An .xlsx with an open password (what Excel's 用密码进行加密 writes)."""
    from msoffcrypto.format.ooxml import OOXMLFile
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        OOXMLFile(fin).encrypt(password, fout)
    return dst


def flip_in_member(src: Path, dst: Path, member: str) -> Path:
    """Flip bytes in the middle of one member's compressed data."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    # Local header: 30 bytes + name + extra, then the compressed data.
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.compress_size // 2
    for i in range(middle, min(middle + 16, start + info.compress_size)):
        data[i] ^= 0xA5
    dst.write_bytes(bytes(data))
    return dst


def lie_about_size(src: Path, dst: Path, member: str, size: int) -> Path:
    """Make the zip's local header and central directory understate ``member``'s size."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    stated = size.to_bytes(4, "little")
    data[info.header_offset + 22:info.header_offset + 26] = stated
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + name_len].decode("utf-8", "replace") == member:
            data[pos + 24:pos + 28] = stated
            break
        pos = data.find(b"PK\x01\x02", pos + 46 + name_len + extra_len + comment_len)
    dst.write_bytes(bytes(data))
    return dst


def bomb_member(size: int) -> bytes:
    """A worksheet that inflates to ``size`` bytes of blank rows (compresses ~1000x)."""
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    tail = b"</sheetData></worksheet>"
    return head + b" " * (size - len(head) - len(tail)) + tail


def deflate_bomb_zip(src: Path, dst: Path, member: str, size: int) -> Path:
    """Replace ``member`` by ``size`` bytes of XML, streamed so the test stays light."""
    head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    tail = b"</sheetData></worksheet>"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != member:
                zout.writestr(info.filename, zin.read(info.filename))
                continue
            with zout.open(zipfile.ZipInfo(member, date_time=(2022, 9, 15, 9, 0, 0)), "w",
                           force_zip64=True) as out:
                out.write(head)
                block = b" " * (1024 * 1024)
                left = size - len(head) - len(tail)
                while left > 0:
                    out.write(block[:left])
                    left -= len(block)
                out.write(tail)
    return dst


def million_rows_member(rows: int = 1_000_000) -> bytes:
    body = b"".join(b'<row r="%d"/>' % r for r in range(1, rows + 1))
    return (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns='
            b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            + body + b"</sheetData></worksheet>")


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">
<si><t>&lol9;</t></si></sst>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="5"><c r="C5" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>"""

# An entity declaration pushed past the first kilobytes, where a head-only scan would miss it.
LATE_DOCTYPE = (b'<?xml version="1.0" encoding="UTF-8"?>\n' + b"<!-- " + b"x" * 20000 + b" -->\n"
                + b'<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]>\n'
                + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + b"<si><t>&a;</t></si></sst>")


def _macro_parts(src: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    with zipfile.ZipFile(src) as z:
        types = z.read("[Content_Types].xml").decode()
    types = types.replace("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                          "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    types = types.replace("</Types>", '<Default Extension="bin" ContentType='
                          '"application/vnd.ms-office.vbaProject"/></Types>')
    # Not a real VBA project: its presence and the content type are what mark a macro workbook.
    return {"[Content_Types].xml": types.encode()}, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 508}


def _other_form(dst: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "统计表"
    ws["A1"] = "某某单位年度统计"
    ws["A2"], ws["B2"] = "服务次数", 12
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.save(dst)
    return dst


def _set_meta(wb: openpyxl.Workbook, key: str, value) -> None:
    ws = wb[META_SHEET]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == META_KEYS[key]:
            row[1].value = value
            return
    raise KeyError(key)


def _point_name(wb: openpyxl.Workbook, field_id: str, target: str) -> None:
    wb.defined_names[NAME_PREFIX + field_id].attr_text = target


# -- the corpus ----------------------------------------------------------------

# The field whose name is pointed elsewhere, the label edited, rows inserted.
MOVED_FIELD = "service_count"
INSERTED_ROWS = 3


def make_corpus(out_dir: Path, base: Path, form: Form = FORM) -> list[Hostile]:
    """Every hostile file that Python alone can make, from ``base`` (a filled workbook)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = form.table.name
    table_xml = table_part(base, table)
    cases: list[Hostile] = []

    def add(name: str, path: Path, kind: str | None, note: str, kinds: tuple[str, ...] = ()):
        cases.append(Hostile(name, path, kind, note, kinds))

    raw = base.read_bytes()
    p = out_dir / "empty.xlsx"
    p.write_bytes(b"")
    add("empty", p, "empty", "an empty file")
    p = out_dir / "truncated.xlsx"
    p.write_bytes(raw[: len(raw) // 2])
    add("truncated", p, "truncated", "the first half of a workbook")
    add("bit_flipped", flip_in_member(base, out_dir / "bit-flipped.xlsx", table_xml), "corrupt",
        "bytes flipped inside the table sheet", ("truncated",))
    p = out_dir / "renamed-csv.xlsx"
    p.write_bytes("平台单位名称,提供服务次数\n某某检测研究院,12\n".encode("gb18030"))
    add("csv", p, "not_zip", "a CSV file renamed to .xlsx")
    p = out_dir / "page.xlsx"
    p.write_bytes(b"<!DOCTYPE html><html><head><title>x</title></head><body><table><tr><td>1"
                  b"</td></tr></table></body></html>")
    add("html", p, "not_zip", "an HTML page saved as .xlsx (what some web systems export)")
    p = out_dir / "report.xlsx"
    p.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    add("pdf", p, "not_zip", "a PDF renamed to .xlsx")
    p = out_dir / "random.xlsx"
    p.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(4096)))
    add("random", p, "not_zip", "random bytes")
    p = out_dir / "docx.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", "<w:document/>")
    add("docx", p, "not_workbook", "a Word document renamed to .xlsx")
    replace, extra = _macro_parts(base)
    add("xlsm", rewrite_zip(base, out_dir / "macros.xlsm", replace, extra), "xlsm",
        "a macro workbook")
    add("encrypted", encrypt(base, out_dir / "password.xlsx"), "encrypted",
        "a workbook with an open password")
    add("bomb_ratio", deflate_bomb_zip(base, out_dir / "bomb.xlsx", table_xml, 300 * 1024 * 1024),
        "too_large", "a small file whose table sheet inflates to 300 MB")
    add("bomb_cap", rewrite_zip(base, out_dir / "bomb-stored.xlsx", {table_xml: bomb_member(
        25 * 1024 * 1024)}, compress=zipfile.ZIP_STORED), "too_large",
        "25 MB of sheet XML, stored uncompressed (no ratio to notice)")
    add("bomb_lying", lie_about_size(cases[-1].path, out_dir / "bomb-lying.xlsx", table_xml, 1000),
        "corrupt", "the same, its zip directory claiming 1000 bytes", ("too_large",))
    add("million_rows", rewrite_zip(base, out_dir / "million-rows.xlsx",
                                    {table_xml: million_rows_member()}),
        "too_large", "a table sheet with a million rows")
    add("billion_laughs", with_shared_strings(base, out_dir / "laughs.xlsx", BILLION_LAUGHS),
        "doctype", "shared strings with nested entities (billion laughs)")
    add("external_entity", rewrite_zip(base, out_dir / "xxe.xlsx", {table_xml: EXTERNAL_ENTITY}),
        "doctype", "an external entity in the table sheet")
    add("late_doctype", rewrite_zip(base, out_dir / "late-doctype.xlsx",
                                    {table_xml: LATE_DOCTYPE.replace(b"sst", b"worksheet")}),
        "doctype", "a DOCTYPE after 20 KB of comment")
    with zipfile.ZipFile(base) as z:
        sheet = z.read(table_xml)
    unclosed = sheet.replace(b"</c>", b"", 3)   # the first cells never end
    add("malformed_xml", rewrite_zip(base, out_dir / "malformed.xlsx", {table_xml: unclosed}),
        "corrupt", "the table sheet's XML broken (cells left open)")
    add("other_form", _other_form(out_dir / "other-form.xlsx"), "other_form",
        "a workbook of another form, without metadata or names")
    add("other_form_id", fill_workbook(base, out_dir / "other-id.xlsx",
                                     edit=lambda wb: _set_meta(wb, "form_id", "another-2023")),
        "other_form", "the hidden sheet names another form")
    add("newer_version", fill_workbook(base, out_dir / "newer.xlsx",
                                     edit=lambda wb: _set_meta(wb, "form_version", form.version + 1)),
        "new_version", "a newer version of this form")
    add("older_version", fill_workbook(base, out_dir / "older.xlsx",
                                     edit=lambda wb: _set_meta(wb, "form_version", form.version - 1)),
        None, "an older version of this form whose field map still fits")

    def drop_meta(wb):
        del wb[META_SHEET]
    add("meta_deleted", fill_workbook(base, out_dir / "no-meta.xlsx", edit=drop_meta), None,
        "the hidden sheet deleted, the names kept")

    def drop_meta_and_names(wb):
        del wb[META_SHEET]
        for name in [n for n in wb.defined_names if n.startswith(NAME_PREFIX)]:
            del wb.defined_names[name]
    add("meta_and_names_deleted", fill_workbook(base, out_dir / "no-meta-no-names.xlsx",
                                     edit=drop_meta_and_names),
        "other_form", "the hidden sheet and the names deleted")

    moved_cell = form.input_cell(MOVED_FIELD)
    elsewhere = f"'{table}'!$A$1"
    add("name_elsewhere", fill_workbook(base, out_dir / "name-elsewhere.xlsx",
                                     edit=lambda wb: _point_name(wb, MOVED_FIELD, elsewhere)),
        None, f"fld_{MOVED_FIELD} points at A1 instead of {moved_cell.ref}")

    label = next(c for c in form.table.cells if c.kind == "label")

    def edit_label(wb):
        wb[table][label.ref].value = label.text + "（已改）"
    add("label_edited", fill_workbook(base, out_dir / "label-edited.xlsx", edit=edit_label), None,
        f"the label {label.address} edited")

    add("rows_inserted", fill_workbook(base, out_dir / "rows-inserted.xlsx",
                                     edit=lambda wb: shift_like_excel(wb, table, 1, INSERTED_ROWS, "rows")),
        None, f"{INSERTED_ROWS} rows inserted above the table, names moved as Excel moves them")

    def unprotect(wb):
        wb[table].protection.sheet = False
    add("unprotected", fill_workbook(base, out_dir / "unprotected.xlsx", edit=unprotect), None,
        "the table sheet's protection removed")

    odd = out_dir / "第一批-检验检测类-某某（北京）检测研究院 #1 & 'A' ％ 测试.xlsx"
    shutil.copyfile(base, odd)
    add("odd_name", odd, None, "a file name with brackets, spaces, #, &, quotes")
    # 200 characters; Linux allows 255 bytes, so the rest of the name is ASCII.
    stem = "第一批-检验检测类-某某研究院"
    long_name = out_dir / (stem + "x" * (200 - len(stem) - len(".xlsx")) + ".xlsx")
    shutil.copyfile(base, long_name)
    add("long_name", long_name, None, f"a file name of {len(long_name.name)} characters")
    ro = out_dir / "read-only.xlsx"
    shutil.copyfile(base, ro)
    ro.chmod(0o444)
    add("read_only", ro, None, "a read-only file")
    return (cases + ambiguous_cases(out_dir / "ambiguous", base, form)
            + value_cases(out_dir / "values", base, form))


# -- packages that say two things at once, and spellings that must read right ---------

SML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
# The value the second of two copies of a cell carries, where the first has the typed one.
OTHER_VALUE = 987654


def _part(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def _cell(sheet_xml: bytes, ref: str) -> re.Match:
    """The <c> element of ``ref`` in a sheet as openpyxl writes it."""
    m = re.search(rb'<c r="%s"[^>]*?(?:/>|>.*?</c>)' % ref.encode(), sheet_xml, re.DOTALL)
    assert m, ref
    return m


def _row(sheet_xml: bytes, row: int) -> re.Match:
    m = re.search(rb'<row r="%d"[^>]*?(?:/>|>.*?</row>)' % row, sheet_xml, re.DOTALL)
    assert m, row
    return m


def _with_value(cell: bytes, value: int) -> bytes:
    """A copy of a number cell holding ``value``."""
    return re.sub(rb"<v>[^<]*</v>", b"<v>%d</v>" % value, cell)


def _prefixed_cells(sheet_xml: bytes) -> bytes:
    """Every element inside sheetData written as x:name, x bound on sheetData (legal XML)."""
    start = sheet_xml.index(b"<sheetData>") + len(b"<sheetData>")
    end = sheet_xml.index(b"</sheetData>")
    inner = re.sub(rb"<(/?)(row|c|v|f|is|t|r|rPr|rPh)\b", rb"<\1x:\2", sheet_xml[start:end])
    head = sheet_xml[:start - 1] + b' xmlns:x="' + SML.encode() + b'">'
    return head + inner + sheet_xml[end:]


def ambiguous_cases(out_dir: Path, base: Path, form: Form = FORM) -> list[Hostile]:
    """Packages in which different programs would read different values, and legal
    spellings an earlier byte-scanning reader read as blank: each refused, or read right."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = form.table.name
    part = table_part(base, table)
    sheet = _part(base, part)
    moved = form.input_cell(MOVED_FIELD)
    cell = _cell(sheet, moved.ref)
    cases: list[Hostile] = []

    def add(name: str, path: Path, kind: str | None, note: str):
        cases.append(Hostile(name, path, kind, note))

    def sheet_with(name: str, xml: bytes) -> Path:
        return rewrite_zip(base, out_dir / f"{name}.xlsx", {part: xml})

    # Two zip entries of one name: zipfile and LibreOffice take the last, others the first.
    other = sheet[:cell.start()] + _with_value(cell.group(0), OTHER_VALUE) + sheet[cell.end():]
    p = out_dir / "entry-twice.xlsx"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns of the duplicate name it is asked to write
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr(part, other)
    add("duplicate_entry", p, "duplicate_entry", "the table sheet twice in the zip, the values differing")
    add("duplicate_entry_case", rewrite_zip(base, out_dir / "entry-case.xlsx",
                                            add={part.replace("sheet", "Sheet"): other}),
        "duplicate_entry", "the table sheet again under a name differing only in case")

    # One cell twice in its row: the first holds the typed value, the second another.
    twice = sheet[:cell.end()] + _with_value(cell.group(0), OTHER_VALUE) + sheet[cell.end():]
    add("duplicate_cell", sheet_with("cell-twice", twice),
        "duplicate_cell", f"{moved.ref} twice in its row of the table sheet")
    row = _row(sheet, moved.row)
    second = re.sub(rb"<v>[^<]*</v>", b"<v>%d</v>" % OTHER_VALUE, row.group(0))
    add("duplicate_row", sheet_with("row-twice", sheet[:row.end()] + second + sheet[row.end():]),
        "duplicate_row", f"row {moved.row} twice in the table sheet")
    end = sheet.index(b"</sheetData>") + len(b"</sheetData>")
    add("two_sheet_data", sheet_with("two-sheetdata", sheet[:end] + b"<sheetData>" + second + b"</sheetData>"
                                     + sheet[end:]),
        "two_sheet_data", "a second sheetData after the first, with other values")
    alternate = (b'<mc:AlternateContent xmlns:mc="' + MC.encode() + b'"><mc:Choice Requires="x14">' + second
                 + b"</mc:Choice><mc:Fallback>" + row.group(0) + b"</mc:Fallback></mc:AlternateContent>")
    add("alternate_content", sheet_with("alternate", sheet[:row.start()] + alternate + sheet[row.end():]),
        "alternate_content",
        "a row inside markup-compatibility AlternateContent (which program takes which?)")

    # Legal spellings a byte scan misses: SpreadsheetML under a prefix below sheetData and
    # inside the shared strings; a "c" in another namespace is no cell.
    add("prefix_below_sheet_data", sheet_with("prefix-cells", _prefixed_cells(sheet)), None,
        "every row and cell of the table written x:row, x:c, x bound on sheetData")
    ref = b' r="%s"' % moved.ref.encode()
    add("cell_ref_spaced", sheet_with("cell-ref-spaced", sheet[:cell.start()]
                                      + cell.group(0).replace(ref, b' r=" %s"' % moved.ref.encode(), 1)
                                      + sheet[cell.end():]),
        "corrupt", f"{moved.ref}'s reference written with a space before it (LibreOffice shows no such cell)")
    row_el = _row(sheet, moved.row)
    add("row_ref_spaced", sheet_with("row-ref-spaced", sheet[:row_el.start()] + row_el.group(0).replace(
            b' r="%d"' % moved.row, b' r=" %d "' % moved.row, 1) + sheet[row_el.end():]),
        None, f"row {moved.row}'s number written with spaces around it (legal for a number)")
    foreign = (b'<o:c xmlns:o="urn:example:other" r="%s"><o:v>%d</o:v></o:c>'
               % (moved.ref.encode(), OTHER_VALUE))
    add("foreign_cell", sheet_with("foreign-cell", sheet[:cell.start()] + foreign + sheet[cell.start():]),
        None, f"an element c of another namespace with {moved.ref}'s address before the real cell")
    unit = form.input_cell(form.keys["unit"])
    unit_cell = _cell(sheet, unit.ref)
    unit_text = re.search(rb"<t[^>]*>([^<]*)</t>", unit_cell.group(0)).group(1)
    as_shared = (b'<c r="%s" t="s"><v>0</v></c>' % unit.ref.encode())
    shared_sheet = sheet[:unit_cell.start()] + as_shared + sheet[unit_cell.end():]
    sst = (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="' + SML.encode() + b'" count="1" '
           b'uniqueCount="1"><x:si xmlns:x="' + SML.encode() + b'"><x:t>' + unit_text
           + b"</x:t></x:si></sst>")
    add("prefix_in_sst", with_shared_strings(base, out_dir / "prefix-sst.xlsx", sst, {part: shared_sheet}),
        None, "the unit name a shared string whose si and t are written x:si, x:t")
    for name, index in (("string_index_negative", b"-1"), ("string_index_out_of_range", b"1")):
        bad = sheet[:unit_cell.start()] + as_shared.replace(b"<v>0</v>", b"<v>" + index + b"</v>") \
            + sheet[unit_cell.end():]
        add(name, with_shared_strings(base, out_dir / f"{name}.xlsx", sst, {part: bad}),
            "bad_string_index", f"the unit name's cell points at shared string {index.decode()} of 1")

    # workbook.xml and its relationships saying one thing twice.
    wb_xml = _part(base, "xl/workbook.xml")
    rels = _part(base, "xl/_rels/workbook.xml.rels")
    sheet_el = re.search(rb'<sheet [^>]*name="%s"[^>]*/>' % table.encode(), wb_xml).group(0)
    other_rid = re.search(rb'<sheet [^>]*r:id="([^"]+)"[^>]*/>', wb_xml.replace(sheet_el, b"")).group(1)
    twin = re.sub(rb'sheetId="\d+"', b'sheetId="99"', re.sub(rb'r:id="[^"]+"', b'r:id="' + other_rid + b'"',
                                                             sheet_el))
    add("duplicate_sheet", rewrite_zip(base, out_dir / "sheet-twice.xlsx",
                                       {"xl/workbook.xml": wb_xml.replace(sheet_el, sheet_el + twin)}),
        "duplicate_sheet", "two sheets named like the table sheet, on different parts")
    name_el = re.search(rb'<definedName name="fld_%s">[^<]*</definedName>' % MOVED_FIELD.encode(),
                        wb_xml).group(0)
    twin_name = re.sub(rb">[^<]*<", b">'%s'!$A$1<" % table.encode(), name_el)
    add("duplicate_name", rewrite_zip(base, out_dir / "name-twice.xlsx",
                                      {"xl/workbook.xml": wb_xml.replace(name_el, name_el + twin_name)}),
        "duplicate_name", f"fld_{MOVED_FIELD} defined twice, pointing at different cells")
    rid = re.search(rb'name="%s"[^>]*r:id="([^"]+)"' % table.encode(), wb_xml).group(1)
    rel_el = re.search(rb'<Relationship [^>]*Id="%s"[^>]*/>' % rid, rels).group(0)
    twin_rel = re.sub(rb'Target="[^"]+"', b'Target="/xl/worksheets/sheet3.xml"', rel_el)
    add("duplicate_rel", rewrite_zip(base, out_dir / "rel-twice.xlsx",
                                     {"xl/_rels/workbook.xml.rels": rels.replace(rel_el, twin_rel + rel_el)}),
        "duplicate_rel", f"relationship {rid.decode()} (the table sheet) twice, to different parts")

    # A hidden sheet carrying the table's name, while the names point at the filled one, renamed.
    def decoy(wb: openpyxl.Workbook) -> None:
        filled = wb[table]
        filled.title = "填写版"
        for dn in wb.defined_names.values():
            dn.attr_text = dn.attr_text.replace(f"'{table}'!", "'填写版'!").replace(f"{table}!", "填写版!")
        copy = wb.copy_worksheet(filled)
        copy.title = table
        copy.sheet_state = "hidden"
        copy[moved.ref].value = OTHER_VALUE
    add("decoy_sheet", fill_workbook(base, out_dir / "decoy.xlsx", edit=decoy), "decoy_sheet",
        "a hidden sheet named like the table, the names pointing at the visible one renamed")
    return cases


def value_cases(out_dir: Path, base: Path, form: Form = FORM) -> list[Hostile]:
    """Values beyond what Excel holds in a cell: refused, or a finding."""
    out_dir.mkdir(parents=True, exist_ok=True)
    part = table_part(base, form.table.name)
    sheet = _part(base, part)
    moved = form.input_cell(MOVED_FIELD)
    cell = _cell(sheet, moved.ref)
    text_field = next(f for f in form.fields if f.type == "longtext")
    cases: list[Hostile] = []

    def number_cell(name: str, stored: bytes) -> Path:
        changed = re.sub(rb"<v>[^<]*</v>", b"<v>" + stored + b"</v>", cell.group(0))
        return rewrite_zip(base, out_dir / f"{name}.xlsx",
                           {part: sheet[:cell.start()] + changed + sheet[cell.end():]})

    def text_cell(name: str, ref: str, text: str) -> Path:
        """``text`` as the cell's inline string (openpyxl itself cuts text at 32,767 characters)."""
        m = _cell(sheet, ref)
        changed = b'<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref.encode(), text.encode())
        return rewrite_zip(base, out_dir / f"{name}.xlsx",
                           {part: sheet[:m.start()] + changed + sheet[m.end():]})

    cases.append(Hostile("digits_5000_number", number_cell("digits-5000", b"9" * 5000), "bad_number",
                         "a number cell of 5,000 digits (no double holds it)"))
    cases.append(Hostile("digits_million_number", number_cell("digits-million", b"9" * 1_000_000),
                         "bad_number", "a number cell of 1,000,000 digits"))
    cases.append(Hostile("number_overflow", number_cell("overflow", b"1E+400"), "bad_number",
                         "a number cell of 1E+400, beyond the largest double"))
    cases.append(Hostile("digits_5000_text", text_cell("digits-5000-text", moved.ref, "9" * 5000), None,
                         "5,000 digits typed as text into a number field (a finding, not a crash)"))
    cases.append(Hostile("digits_million_text", text_cell("digits-million-text", moved.ref, "9" * 1_000_000),
                         "text_too_long", "1,000,000 digits typed as text (more than a cell holds)"))
    long_cell = form.input_cell(text_field.id)
    cases.append(Hostile("text_over_cell_limit", text_cell("long-text", long_cell.ref, "很长的简介。" * 7000),
                         "text_too_long", "42,000 characters in one cell (Excel holds 32,767)"))
    return cases


def libreoffice_cases(out_dir: Path, base: Path) -> list[Hostile]:
    """The files only LibreOffice makes: a legacy .xls of the workbook (one soffice call)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "legacy-src.xlsx"
    shutil.copyfile(base, src)
    xls = convert([src], out_dir / "xls", "xls")[0]
    return [Hostile("xls", xls, "xls", "a legacy .xls (Excel 97-2003)")]


def symlink_loop(folder: Path) -> Path:
    """A folder with a workbook and a symlink back to itself (and a dangling one)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "dangling.xlsx").symlink_to(folder / "does-not-exist.xlsx")
    return folder
