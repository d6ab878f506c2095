"""Workbooks as other programs leave them, made by editing a zip's parts: a picture and
an extra sheet the filler added (as Excel stores them), and the same XML spelled another
legal way (a namespace prefix, attributes in another order, implied cell positions,
cells and rows left out).

Shared by the tests of annotated copies:

    add_picture_and_sheet(path, out)
    respell(path, out, drop_cells={"C12"}, drop_rows={19})
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from xlsx_tools.form import parse_cell

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_members(path: Path, parts: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(zipfile.ZipInfo(name, (2022, 9, 15, 9, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return path


def sheet_parts(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name -> part, through workbook.xml and its rels (the files made here)."""
    wb = etree.fromstring(parts["xl/workbook.xml"])
    rels = etree.fromstring(parts["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target") for r in rels}
    out = {}
    for s in wb.iter(f"{{{MAIN}}}sheet"):
        target = targets[s.get(f"{{{REL}}}id")].lstrip("/")
        out[s.get("name")] = target if target.startswith("xl/") else "xl/" + target
    return out


def png(width: int = 4, height: int = 3) -> bytes:
    """A small red PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\xff\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


_DRAWING = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><xdr:twoCellAnchor editAs="oneCell">'
    '<xdr:from><xdr:col>7</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>2</xdr:row><xdr:rowOff>0</xdr:rowOff>'
    '</xdr:from><xdr:to><xdr:col>9</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>8</xdr:row><xdr:rowOff>0'
    '</xdr:rowOff></xdr:to><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="单位印章"/><xdr:cNvPicPr>'
    '<a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr><xdr:blipFill><a:blip '
    f'xmlns:r="{REL}" r:embed="rId1"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr>'
    '<a:xfrm><a:off x="0" y="0"/><a:ext cx="1219200" cy="914400"/></a:xfrm><a:prstGeom prst="rect">'
    '<a:avLst/></a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>')
_EXTRA_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{MAIN}"><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>补充说明</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>本年度新增检测设备明细见附件。</t></is></c>'
    '<c r="B2"><v>12</v></c></row></sheetData></worksheet>')
EXTRA_SHEET = "补充材料"


def add_picture_and_sheet(source: Path, target: Path, sheet: str) -> Path:
    """``source`` with a picture on ``sheet`` and a sheet 补充材料, as Excel stores them."""
    parts = members(source)
    part = sheet_parts(parts)[sheet]
    folder, name = part.rsplit("/", 1)
    rels_name = f"{folder}/_rels/{name}.rels"
    rel = (f'<Relationship Id="rIdPic1" Type="{REL}/drawing" Target="../drawings/drawing1.xml"/>')
    if rels_name in parts:
        parts[rels_name] = parts[rels_name].replace(b"</Relationships>", rel.encode() + b"</Relationships>")
    else:
        parts[rels_name] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                            f'<Relationships xmlns="{PKG_REL}">{rel}</Relationships>').encode()
    xml = parts[part].decode("utf-8")
    # <drawing> comes after the page setup and before any legacyDrawing.
    at = xml.index("<legacyDrawing") if "<legacyDrawing" in xml else xml.rindex("</worksheet>")
    parts[part] = (xml[:at] + f'<drawing xmlns:r="{REL}" r:id="rIdPic1"/>' + xml[at:]).encode("utf-8")
    parts["xl/drawings/drawing1.xml"] = _DRAWING.encode("utf-8")
    parts["xl/drawings/_rels/drawing1.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{REL}/image" Target="../media/image1.png"/></Relationships>').encode()
    parts["xl/media/image1.png"] = png()
    parts["xl/worksheets/sheet99.xml"] = _EXTRA_SHEET.encode("utf-8")
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", f'<Relationship Id="rIdExtra" Type="{REL}/worksheet" '
                             f'Target="worksheets/sheet99.xml"/></Relationships>'.encode())
    wb = parts["xl/workbook.xml"].decode("utf-8")
    ids = [int(x) for x in re.findall(r'sheetId="(\d+)"', wb)]
    parts["xl/workbook.xml"] = wb.replace(
        "</sheets>", f'<sheet xmlns:r="{REL}" name="{EXTRA_SHEET}" sheetId="{max(ids) + 1}" '
                     f'r:id="rIdExtra"/></sheets>').encode("utf-8")
    ct = parts["[Content_Types].xml"].decode("utf-8")
    ct = ct.replace("</Types>", '<Default Extension="png" ContentType="image/png"/>'
                                '<Override PartName="/xl/drawings/drawing1.xml" ContentType='
                                '"application/vnd.openxmlformats-officedocument.drawing+xml"/>'
                                '<Override PartName="/xl/worksheets/sheet99.xml" ContentType='
                                '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                                "</Types>")
    parts["[Content_Types].xml"] = ct.encode("utf-8")
    return write_members(target, parts)


def _reorder_attributes(root: etree._Element) -> None:
    for el in root.iter():
        items = list(el.attrib.items())
        el.attrib.clear()
        for k, v in reversed(items):
            el.set(k, v)


def _with_prefix(xml: bytes, edit: Callable[[etree._Element], None] | None = None) -> bytes:
    """The part with the main namespace written as x: (no default namespace)."""
    root = etree.fromstring(xml)
    if edit is not None:
        edit(root)
    _reorder_attributes(root)
    nsmap = {("x" if k is None else k): v for k, v in root.nsmap.items()}
    new = etree.Element(root.tag, nsmap=nsmap)
    for k, v in root.attrib.items():
        new.set(k, v)
    for child in list(root):
        new.append(child)
    return etree.tostring(new, xml_declaration=True, encoding="UTF-8", standalone=True)


def respell(source: Path, target: Path, sheet: str, drop_cells: set[str] = frozenset(),
            drop_rows: set[int] = frozenset()) -> Path:
    """``source`` with its workbook, styles and ``sheet`` written with an x: prefix,
    attributes reversed, empty cells self-closing, the r of rows and cells left out
    where it is implied, and ``drop_cells`` and ``drop_rows`` left out altogether."""
    parts = members(source)
    part = sheet_parts(parts)[sheet]

    def edit_sheet(root: etree._Element) -> None:
        data = root.find(f"{{{MAIN}}}sheetData")
        previous_row = 0
        for row in list(data):
            number = int(row.get("r"))
            if number in drop_rows:
                data.remove(row)
                continue
            previous_col = 0
            for c in list(row):
                ref = c.get("r")
                if ref in drop_cells:
                    row.remove(c)
                    continue
                col = parse_cell(ref)[1]
                if col == previous_col + 1:
                    del c.attrib["r"]            # implied: the one after the last
                previous_col = col
            if number == previous_row + 1:
                del row.attrib["r"]
            previous_row = number

    parts[part] = _with_prefix(parts[part], edit_sheet)
    parts["xl/workbook.xml"] = _with_prefix(parts["xl/workbook.xml"])
    parts["xl/styles.xml"] = _with_prefix(parts["xl/styles.xml"])
    return write_members(target, parts)
