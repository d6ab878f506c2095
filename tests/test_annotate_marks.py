"""The marks of an annotated copy show over the form's own conditional formats.

A marked cell keeps its static fill (what openpyxl and programs without conditional
formats see) and gets a conditional format of the same colour, first in priority and
stopping the rest: without it the form's yellow on a blank required cell (and its
own red or orange while an in-sheet check fails) would hide our mark in Excel and
LibreOffice. Read back by openpyxl, in every spelling annotate.py takes, annotated
again and corrected, and rendered by LibreOffice.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from _fill import FORM, fill_workbook, make_filled, valid_values
from _packages import members, respell, write_members
from _spell import CANONICAL, everything, respell_workbook, sheet_names, strict_workbook, \
    transitional_workbook
from lxml import etree

from xlsx_tools.annotate import ANNOTATION_SHEET, FILL, annotate_workbook
from xlsx_tools.form import META_SHEET
from xlsx_tools.rules import Finding
from xlsx_tools.validate import validate_file

TABLE = FORM.table.name
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
# The form's colour of a blank required input (xlsx_tools/write.py's MISSING_FILL).
YELLOW = "FFF2A8"

# A return with two errors and a warning, and national_projects left blank (required).
BAD_VALUES = {**valid_values(unit_name="丁检测研究院"), "sme_service_count": 121,
              "served_companies": 130, "national_projects": None}
# Marked cells (merged ranges: the mark covers all of it) by severity.
MARKED = {"error": {"C12:D12", "C18:D18", "F18:G18"}, "warning": {"C19:D19"}}


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    return make_filled(tmp_path_factory.mktemp("bad"), BAD_VALUES)


def annotate(path: Path, out: Path) -> Path:
    return annotate_workbook(FORM, validate_file(path, FORM), out / path.name)


def _colour(dxf) -> str | None:
    fill = dxf.fill if dxf is not None else None
    if fill is None:
        return None
    rgb = (fill.bgColor.rgb if fill.bgColor is not None else None) or \
        (fill.fgColor.rgb if fill.fgColor is not None else None)
    return rgb[-6:].upper() if isinstance(rgb, str) else None


def rules(ws) -> list[tuple[str, tuple, int, bool, str | None]]:
    """Every conditional rule of a sheet: (ranges, formulas, priority, stopIfTrue, fill colour),
    in priority order."""
    out = [(" ".join(sorted(str(r) for r in cf.sqref.ranges)), tuple(r.formula), r.priority,
            bool(r.stopIfTrue), _colour(r.dxf))
           for cf in ws.conditional_formatting for r in cf.rules]
    return sorted(out, key=lambda r: (r[2], r[0], r[1]))


def marks(ws) -> dict[str, set[str]]:
    """Our rules (always true, a mark's colour) as {severity: ranges}."""
    colours = {rgb: s for s, rgb in FILL.items()}
    out: dict[str, set[str]] = {}
    for ranges, formulas, _, _, colour in rules(ws):
        if formulas == ("TRUE",) and colour in colours:
            out.setdefault(colours[colour], set()).update(ranges.split())
    return out


def readable(path: Path, work: Path) -> Path:
    """``path`` as openpyxl reads it: transitional, canonically spelled; sheets nothing here
    looks at emptied (their formulas are most of the loading)."""
    work.mkdir(parents=True, exist_ok=True)
    plain = transitional_workbook(path, work / f"plain-{path.parent.name}.xlsx")
    kept = (*(s.name for s in FORM.sheets), ANNOTATION_SHEET)
    return respell_workbook(plain, work / f"canonical-{path.parent.name}.xlsx", CANONICAL, (),
                            emptied=tuple(n for n in sheet_names(plain) if n not in kept))


# -- what openpyxl reads ---------------------------------------------------------------------

def test_each_marked_cell_gets_a_rule_of_its_colour_over_the_forms_own(bad, tmp_path) -> None:
    copy = annotate(bad, tmp_path)
    before, after = openpyxl.load_workbook(bad), openpyxl.load_workbook(copy)
    ws = after[TABLE]
    assert marks(ws) == MARKED
    ours = [r for r in rules(ws) if r[1] == ("TRUE",)]
    assert [(r[0], r[2], r[3], r[4]) for r in ours] == [
        (" ".join(sorted(MARKED["error"])), 1, True, FILL["error"]),
        ("C19:D19", 2, True, FILL["warning"])]
    # The static fill stays (what a program without conditional formats shows).
    for severity, ranges in MARKED.items():
        for cell in ranges:
            fill = ws[cell.split(":")[0]].fill
            assert fill.fill_type == "solid" and fill.fgColor.rgb.endswith(FILL[severity])
    # The form's rules, the yellow of C12 among them, all below ours, in their order.
    old, new = rules(before[TABLE]), [r for r in rules(ws) if r not in ours]
    assert any(YELLOW in str(r[4]) and "C12:D12" in r[0] for r in old)
    assert [r[:2] + r[3:] for r in new] == [r[:2] + r[3:] for r in old]
    assert [r[2] for r in new] == [r[2] + len(ours) for r in old]
    assert len({r[2] for r in rules(ws)}) == len(rules(ws))        # no two rules share a priority
    # The other sheets' rules are as they were.
    for name in before.sheetnames:
        if name != TABLE:
            assert rules(after[name]) == rules(before[name]), name


def test_a_workbook_without_dxfs_gets_them_where_the_schema_puts_them(bad, tmp_path) -> None:
    """No conditional formats at all (their dxfs element gone too): ours are the only rules,
    and styles.xml gets a <dxfs> after cellStyles, before what follows it."""
    parts = members(bad)
    for name in parts:
        if name.startswith("xl/worksheets/sheet"):
            parts[name] = re.sub(rb"<conditionalFormatting\b.*?</conditionalFormatting>", b"", parts[name])
    parts["xl/styles.xml"], dropped = re.subn(rb"<dxfs\b.*?</dxfs>", b"", parts["xl/styles.xml"])
    assert dropped == 1
    source = write_members(tmp_path / "in" / bad.name, parts)
    copy = annotate(source, tmp_path / "out")
    styles = etree.fromstring(members(copy)["xl/styles.xml"])
    order = [etree.QName(c).localname for c in styles]
    assert order.index("cellStyles") + 1 == order.index("dxfs") < order.index("colors")
    dxfs = styles.find(f"{{{MAIN}}}dxfs")
    assert dxfs.get("count") == str(len(dxfs)) == "2"
    ws = openpyxl.load_workbook(copy)[TABLE]
    assert marks(ws) == MARKED and [r[2] for r in rules(ws)] == [1, 2]


SPELLED = {
    "x_prefix": lambda src, dst: respell(src, dst, TABLE),     # attributes reversed too
    "prefixes_declared_below": lambda src, dst: respell_workbook(
        src, dst, dataclasses.replace(CANONICAL, prefix="x", prefix_share=0.3, declare_low=True),
        (FORM.cover.name, TABLE, META_SHEET)),
    "every_liberty": lambda src, dst: respell_workbook(src, dst, everything(5),
                                                       (FORM.cover.name, TABLE, META_SHEET)),
    "strict": strict_workbook,
}


@pytest.mark.parametrize("name", sorted(SPELLED))
def test_any_spelling_gets_the_same_marks_and_again_the_same_bytes(bad, tmp_path, name) -> None:
    """Prefixed namespaces (on some elements, declared below the root), every liberty of
    tests/_spell.py, Strict: the same rules, in the part's own spelling; annotated again,
    the same copy."""
    (tmp_path / "in").mkdir()
    source = SPELLED[name](bad, tmp_path / "in" / bad.name)
    copy = annotate(source, tmp_path / "out")
    ws = openpyxl.load_workbook(readable(copy, tmp_path / "read"))[TABLE]
    assert marks(ws) == MARKED
    assert [r[2] for r in rules(ws) if r[1] == ("TRUE",)] == [1, 2]
    assert min(r[2] for r in rules(ws) if r[1] != ("TRUE",)) == 3
    again = annotate(copy, tmp_path / "again")
    assert again.read_bytes() == copy.read_bytes()


# -- annotated again ----------------------------------------------------------------------------

def test_annotated_twice_the_same_bytes(bad, tmp_path) -> None:
    first = annotate(bad, tmp_path / "1")
    second = annotate(first, tmp_path / "2")
    assert second.read_bytes() == first.read_bytes()
    assert len(re.findall(rb"<formula>TRUE</formula>", members(second)["xl/worksheets/sheet2.xml"])) == 2


def test_a_corrected_cell_loses_its_mark_and_a_corrected_copy_has_the_forms_rules_back(bad, tmp_path) -> None:
    """The filler fixes the copy in a program that saves it all again (openpyxl here: it
    keeps our rules, renumbers the dxfs): the cell fixed has no rule of ours, the others
    one each; all fixed, the form's rules are as generated."""
    copy = annotate(bad, tmp_path / "1")
    fixed = fill_workbook(copy, tmp_path / "fixed" / bad.name, {"national_projects": 3})
    assert marks(openpyxl.load_workbook(fixed)[TABLE]) == MARKED     # the save kept them
    again = annotate(fixed, tmp_path / "2")
    ws = openpyxl.load_workbook(again)[TABLE]
    assert marks(ws) == {"error": MARKED["error"] - {"C12:D12"}, "warning": MARKED["warning"]}
    assert [r[2] for r in rules(ws) if r[1] == ("TRUE",)] == [1, 2]
    assert len({r[2] for r in rules(ws)}) == len(rules(ws))
    # All fixed, and one warning elsewhere (so a copy is written): no mark on the table's
    # inputs, and the form's rules have their own priorities again.
    done = fill_workbook(again, tmp_path / "done" / bad.name,
                         {"sme_service_count": 80, "served_companies": 45, "national_projects": 3})
    result = dataclasses.replace(validate_file(done, FORM), findings=[
        Finding("R99", "warning", (), (f"{FORM.cover.name}!A1",), "请核对封面。")])
    assert result.findings and not validate_file(done, FORM).findings
    last = annotate_workbook(FORM, result, tmp_path / "3" / bad.name)
    table, original = openpyxl.load_workbook(last)[TABLE], openpyxl.load_workbook(bad)[TABLE]
    assert marks(table) == {}
    assert [r[:3] for r in rules(table)] == [r[:3] for r in rules(original)]


_X14 = (b'<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
        b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b'<x14:conditionalFormattings><x14:conditionalFormatting '
        b'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><x14:cfRule type="expression" '
        b'priority="500" id="{00000000-0000-0000-0000-000000000001}"><xm:f>LEN($C$5)=0</xm:f>'
        b'<x14:dxf><fill><patternFill><bgColor rgb="FF00FF00"/></patternFill></fill></x14:dxf>'
        b'</x14:cfRule><xm:sqref>C5</xm:sqref></x14:conditionalFormatting>'
        b'</x14:conditionalFormattings></ext></extLst>')


def test_an_excel_2010_rule_in_the_extensions_shifts_with_the_others(bad, tmp_path) -> None:
    """An x14:cfRule (Excel writes those it cannot say in the 2006 schema) shares the sheet's
    priorities: it moves below ours with the rest, and back when our marks go."""
    parts = members(bad)
    part = next(n for n, d in parts.items() if n.startswith("xl/worksheets/") and b"C18:D18" in d
                and b"<conditionalFormatting" in d)
    parts[part] = parts[part].replace(b"</worksheet>", _X14 + b"</worksheet>")
    source = write_members(tmp_path / "in" / bad.name, parts)
    copy = annotate(source, tmp_path / "out")
    assert b'priority="502" id="{00000000-0000-0000-0000-000000000001}"' in members(copy)[part]
    assert annotate(copy, tmp_path / "again").read_bytes() == copy.read_bytes()
    result = dataclasses.replace(validate_file(copy, FORM), findings=[
        Finding("R99", "warning", (), (f"{FORM.cover.name}!A1",), "请核对封面。")])
    cleared = annotate_workbook(FORM, result, tmp_path / "cleared" / bad.name)
    assert conditional(members(cleared)[part]) == conditional(parts[part])     # as they were


def conditional(sheet: bytes) -> list[bytes]:
    """A sheet part's conditional formats and extensions, as written."""
    return re.findall(rb"<conditionalFormatting\b.*?</conditionalFormatting>|<extLst>.*?</extLst>", sheet,
                      re.DOTALL)


# -- what LibreOffice shows ----------------------------------------------------------------------

def _pages(pdf: Path, out: Path, dpi: int = 50) -> list[np.ndarray]:
    """Every page of ``pdf`` as an array of RGB pixels (height x width x 3), through pdftoppm."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), str(pdf), str(out / "p")], check=True,
                   capture_output=True)
    pages = []
    for ppm in sorted(out.glob("p-*.ppm")):
        data = ppm.read_bytes()
        m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
        w, h = int(m.group(1)), int(m.group(2))
        pages.append(np.frombuffer(data, np.uint8, w * h * 3, m.end()).reshape(h, w, 3))
    return pages


def _is(pixels: np.ndarray, rgb: str, tolerance: int = 8) -> np.ndarray:
    """Which pixels are of colour ``rgb`` (within ``tolerance`` on each channel)."""
    want = np.frombuffer(bytes.fromhex(rgb), np.uint8).astype(int)
    return (np.abs(pixels.astype(int) - want) <= tolerance).all(axis=-1)


def _box(page: np.ndarray, rgb: str) -> tuple[int, int, int, int] | None:
    """The bounding box (y0, x0, y1, x1) of the pixels of colour ``rgb``, if any."""
    ys, xs = np.nonzero(_is(page, rgb))
    return (ys.min(), xs.min(), ys.max(), xs.max()) if len(ys) else None


@pytest.mark.libreoffice
def test_libreoffice_shows_the_mark_over_the_yellow_of_a_blank_required_cell(bad, tmp_path) -> None:
    """The workbook as returned and its copy, printed by LibreOffice: where the return shows
    the form's yellow (national_projects, blank and required, the one such cell), the copy
    shows our red, and no yellow is left on that page."""
    from _libreoffice import convert

    copy = annotate(bad, tmp_path / "copy")
    (tmp_path / "in").mkdir()
    sources = [shutil.copy(bad, tmp_path / "in" / "returned.xlsx"),
               shutil.copy(copy, tmp_path / "in" / "annotated.xlsx")]
    returned_pdf, annotated_pdf = convert(sources, tmp_path / "pdf", "pdf")
    returned, annotated = _pages(returned_pdf, tmp_path / "r"), _pages(annotated_pdf, tmp_path / "a")
    yellow = [(i, box) for i, page in enumerate(returned) if (box := _box(page, YELLOW))]
    assert len(yellow) == 1, yellow                # the table's first page, C12:D12
    i, (y0, x0, y1, x1) = yellow[0]
    assert (x1 - x0) * (y1 - y0) >= 200            # a cell's worth at 50 dpi, not a speck
    assert annotated[i].shape == returned[i].shape
    inside = annotated[i][y0 + 2:y1 - 1, x0 + 2:x1 - 1]
    red = _is(inside, FILL["error"]).mean()
    assert red >= 0.8, red
    assert _box(annotated[i], YELLOW) is None


@pytest.mark.libreoffice
def test_a_copy_libreoffice_saved_again_is_marked_once(bad, tmp_path) -> None:
    """LibreOffice saves our rule with the formula 1, new priorities and no stopIfTrue:
    annotated again, it is still known as ours, taken out, and one rule a colour is left."""
    from _libreoffice import convert

    copy = annotate(bad, tmp_path / "copy")
    (saved,) = convert([copy], tmp_path / "lo")
    assert b"<formula>1</formula>" in b"".join(members(saved).values())
    named = tmp_path / "named" / bad.name
    named.parent.mkdir()
    shutil.copy(saved, named)
    again = annotate(named, tmp_path / "again")
    ws = openpyxl.load_workbook(again)[TABLE]
    assert marks(ws) == MARKED
    ours = [r for r in rules(ws) if r[4] in FILL.values() and r[1] in (("TRUE",), ("1",))]
    assert [(r[1], r[2], r[3]) for r in ours] == [(("TRUE",), 1, True), (("TRUE",), 2, True)]
    assert len({r[2] for r in rules(ws)}) == len(rules(ws))


def test_the_copy_reads_as_the_return(bad, tmp_path) -> None:
    """The rules added change nothing the reader reads: the same findings."""
    copy = annotate(bad, tmp_path)
    assert [(f.code, f.cells) for f in validate_file(copy, FORM).findings] == \
        [(f.code, f.cells) for f in validate_file(bad, FORM).findings]
    with zipfile.ZipFile(copy) as z:
        assert z.testzip() is None
