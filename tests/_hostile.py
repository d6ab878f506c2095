"""Bad, damaged and hostile files, made from a real generated workbook.

Other tests reuse these (validate must report every one of them and go on):

    corpus = make_corpus(tmp_path, base=filled_workbook)      # no LibreOffice needed
    for case in corpus:
        ...  # case.path, case.kind (the RejectedFile kind expected, or None: read it)

``make_corpus`` makes every file that needs only Python; ``libreoffice_cases``
adds those LibreOffice makes (a legacy .xls), in ONE soffice call.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import openpyxl

from xlsx_tools.bench import FIXED_TIME
from xlsx_tools.form import META_KEYS, META_SHEET, NAME_PREFIX, Form, load_form

from _fill import fill_workbook, shift_like_excel
from _libreoffice import convert

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
    import re
    with zipfile.ZipFile(path) as z:
        wb = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % re.escape(sheet), wb).group(1)
    target = re.search(r'Id="%s"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="%s"'
                       % (re.escape(rid), re.escape(rid)), rels)
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
