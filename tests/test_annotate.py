"""Annotated copies (xlsx_tools/annotate.py): the returned workbook with each finding marked
on its cell, noted in a comment and listed on 校验问题, and everything else left as it was.

On workbooks generated and filled like real ones (tests/_fill.py), with a picture and a
sheet the filler added, spelled as other programs spell them (tests/_packages.py), with
the filler's own comments, and on a small workbook where hypothesis chooses the cells.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.parsers import expat

import openpyxl
import pytest
from _fill import FORM, fill_workbook, make_filled, valid_values
from _evaluator import REASON, explain
from _hostile import rewrite_zip, table_part
from _packages import EXTRA_SHEET, add_picture_and_sheet, members, respell, write_members
from _spell import (
    CANONICAL,
    SPELLINGS,
    Spelling,
    everything,
    respell_workbook,
    sheet_names,
    strict_workbook,
    transitional_workbook,
)
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from _examples import examples
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

from xlsx_tools.form import META_SHEET, load_form
from xlsx_tools.annotate import (
    ANNOTATION_SHEET,
    AUTHOR,
    EXPLANATION_HEADER,
    FILL,
    LISTING_HEADER,
    AnnotateWriteError,
    annotate_workbook,
    annotate_workbooks,
    annotated_bytes,
)
from xlsx_tools.cli import main
from xlsx_tools.read.assemble import read_path
from xlsx_tools.rules import Finding
from xlsx_tools.xlsx_output import row_points, text_lines
from xlsx_tools.validate import FileResult, validate_file, validate_paths

TABLE = FORM.table.name


def at(field_id: str) -> str:
    return FORM.input_cell(field_id).address


def ref(field_id: str) -> str:
    return at(field_id).rpartition("!")[2]


# A return with two errors and a warning: R01 and R03 both on service_count's cell.
BAD_VALUES = {**valid_values(unit_name="丁检测研究院"), "sme_service_count": 121,
              "served_companies": 130, "national_projects": None}


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    return make_filled(tmp_path_factory.mktemp("bad"), BAD_VALUES)


@pytest.fixture(scope="module")
def noted(bad, tmp_path_factory) -> Path:
    """``bad`` with the filler's own notes: one on a cell with findings, one elsewhere."""
    def comment(wb) -> None:
        wb[TABLE]["C18"].comment = Comment("张三：服务次数含线上咨询。", "张三")
        wb[TABLE]["A1"].comment = Comment("标题不要改动", "李四")

    return fill_workbook(bad, tmp_path_factory.mktemp("noted") / bad.name, {}, edit=comment)


def findings_of(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    return [(f.code, f.cells) for f in validate_file(path, FORM).findings]


def annotate(path: Path, out: Path, result: FileResult | None = None) -> Path:
    return annotate_workbook(FORM, result or validate_file(path, FORM), out / path.name)


def style(cell) -> tuple:
    """Everything of a cell's format but its fill."""
    return (cell.number_format, repr(cell.font), repr(cell.border), repr(cell.protection),
            repr(cell.alignment))


def vml_is_well_formed(path: Path) -> bool:
    """Every VML drawing of ``path`` parses, its prefixes bound (producers' VML here is XML)."""
    for name, data in members(path).items():
        if name.endswith(".vml"):
            expat.ParserCreate(namespace_separator=" ").Parse(data, True)
    return True


def fill_rgb(cell) -> str | None:
    return cell.fill.fgColor.rgb if cell.fill and cell.fill.fill_type == "solid" else None


# -- what the copy holds ---------------------------------------------------------------------

def test_marked_cells_keep_their_format_and_nothing_else_changes(bad, tmp_path) -> None:
    result = validate_file(bad, FORM)
    copy = annotate(bad, tmp_path, result)
    before, after = openpyxl.load_workbook(bad), openpyxl.load_workbook(copy)
    marked = {"C12": "error", "C18": "error", "F18": "error", "C19": "warning"}
    assert {c.rpartition("!")[2] for f in result.findings for c in f.cells} == set(marked)
    # The form's sheets, cell by cell (the other sheets' parts are not touched at all:
    # test_every_other_part_stays_byte_identical).
    for name in (s.name for s in FORM.sheets):
        old, new = before[name], after[name]
        for row in old.iter_rows():
            for cell in row:
                twin = new[cell.coordinate]
                assert twin.value == cell.value, (name, cell.coordinate)
                assert style(twin) == style(cell), (name, cell.coordinate)
                if name == TABLE and cell.coordinate in marked:
                    assert fill_rgb(twin).endswith(FILL[marked[cell.coordinate]])
                    assert twin.comment.author == AUTHOR
                else:
                    assert repr(twin.fill) == repr(cell.fill), (name, cell.coordinate)
                    assert twin.comment is None
    note = after[TABLE]["C18"].comment.text
    r01, r03 = (f for f in result.findings if f.code in ("R01", "R03"))
    assert note.index(r01.message) < note.index(r03.message)    # in the order of the findings
    # One sheet selected and shown on opening: the listing, coloured, printed as asked.
    ws = after[ANNOTATION_SHEET]
    assert after.sheetnames == [*before.sheetnames, ANNOTATION_SHEET]
    assert after.active.title == ANNOTATION_SHEET
    assert [s.title for s in after.worksheets if s.sheet_view.tabSelected] == [ANNOTATION_SHEET]
    assert [c.value for c in ws[1]] == list(LISTING_HEADER)
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert [r[1] for r in rows] == [f.where for f in result.findings]
    assert [r[4] for r in rows] == [f.message for f in result.findings]
    assert ws.sheet_properties.tabColor.rgb.endswith("C00000")
    assert ws.print_title_rows == "$1:$1" and ws.freeze_panes == "A2"
    assert (ws.page_setup.orientation, ws.page_setup.paperSize) == ("landscape", 9)
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    long_row = max(range(2, 5), key=lambda r: len(ws.cell(r, 5).value))
    assert ws.row_dimensions[long_row].height >= 2 * 15     # wrapped messages get their lines
    assert all(ws.cell(r, 5).alignment.wrap_text for r in range(1, 5))


SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "returned"


def test_every_listing_row_is_tall_enough_for_its_longest_cell(tmp_path) -> None:
    # A row one line short hid the last line of its message (a closing 。) on the printed
    # page: each row holds its longest cell's lines as text_lines counts them at 11 pt.
    # The three samples with the longest messages (loading every copy took 3 s).
    results = [r for r in (validate_file(p, FORM) for p in sorted(SAMPLES.glob("*.xlsx")))
               if r.findings and r.readable]
    longest = sorted(results, key=lambda r: -max(len(f.message) for f in r.findings))[:3]
    checked = 0
    for result in longest:
        path = result.path
        ws = openpyxl.load_workbook(annotate(path, tmp_path, result))[ANNOTATION_SHEET]
        widths = [ws.column_dimensions[chr(64 + c)].width for c in range(1, ws.max_column + 1)]
        for row in ws.iter_rows(min_row=2):
            need = max(row_points(text_lines(str(c.value or ""), w, 11), 11)
                       for c, w in zip(row, widths))
            assert ws.row_dimensions[row[0].row].height >= need, (path.name, row[0].row)
            checked += 1
    assert checked >= 3


def test_the_listing_prints_its_unit_and_file_on_every_page(bad, tmp_path) -> None:
    # A page of 校验问题 printed alone is traced to its unit and file by its page header.
    result = validate_file(bad, FORM)
    assert result.unit
    ws = openpyxl.load_workbook(annotate(bad, tmp_path, result))[ANNOTATION_SHEET]
    header = ws.oddHeader
    assert result.unit in header.left.text and FORM.column_header("unit") in header.left.text
    assert header.right.text == f"文件：{bad.name}"
    assert ws.oddFooter.center.text                         # the page numbers stay


def test_every_other_part_stays_byte_identical(bad, tmp_path) -> None:
    """A picture and a sheet the filler added, their formatting, the cached results of
    formulas: every part not edited is copied as it was stored."""
    source = add_picture_and_sheet(bad, tmp_path / "in" / bad.name, TABLE)
    assert findings_of(source) == findings_of(bad)
    copy = annotate(source, tmp_path / "out")
    old, new = members(source), members(copy)
    edited = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
              "xl/worksheets/sheet1.xml",           # 封面 was the selected tab
              "xl/worksheets/sheet2.xml", "xl/worksheets/_rels/sheet2.xml.rels"}
    assert set(old) <= set(new)
    assert {n for n in old if old[n] != new[n]} == edited
    assert set(new) - set(old) == {"xl/comments1.xml", "xl/drawings/vmlDrawing1.vml",
                                   "xl/worksheets/sheet6.xml"}
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(copy) as b:
        for name in set(old) - edited:           # stored as they were: not even recompressed
            assert (a.getinfo(name).CRC, a.getinfo(name).compress_size) == \
                (b.getinfo(name).CRC, b.getinfo(name).compress_size)
        assert {i.date_time for i in b.infolist()} == {load_form().output_time.timetuple()[:6]}
    assert new["docProps/core.xml"] == old["docProps/core.xml"]
    wb = openpyxl.load_workbook(copy)
    assert wb.sheetnames[-2:] == [EXTRA_SHEET, ANNOTATION_SHEET]
    assert wb[EXTRA_SHEET]["B2"].value == 12
    assert findings_of(copy) == findings_of(source)


def test_a_merged_range_is_marked_through_its_top_left_cell(bad, tmp_path) -> None:
    result = validate_file(bad, FORM)
    inside = f"{TABLE}!D12"                     # national_projects is C12:D12
    assert at("national_projects") == f"{TABLE}!C12"
    moved = dataclasses.replace(result, findings=[
        Finding("missing", "error", ("national_projects",), (inside,), "请填写国家级项目数。")])
    wb = openpyxl.load_workbook(annotate(bad, tmp_path, moved))
    ws = wb[TABLE]
    assert "C12:D12" in {str(r) for r in ws.merged_cells.ranges}
    assert fill_rgb(ws["C12"]).endswith(FILL["error"]) and "请填写国家级项目数。" in ws["C12"].comment.text
    assert wb[ANNOTATION_SHEET]["B2"].value == inside


def test_a_copy_annotated_again_is_the_same_copy(bad, tmp_path) -> None:
    first = annotate(bad, tmp_path / "1")
    second = annotate(first, tmp_path / "2")
    assert second.read_bytes() == first.read_bytes()


def test_a_corrected_cell_gets_its_own_format_back(bad, tmp_path) -> None:
    """The filler fixes one thing in the annotated copy (in a program that saves it
    all again) and sends it back: annotating it again lists what is left, once."""
    copy = annotate(bad, tmp_path / "1")
    fixed = fill_workbook(copy, tmp_path / "fixed" / bad.name, {"national_projects": 3})
    assert [c for c, _ in findings_of(fixed)] == ["R01", "R03"]
    again = annotate(fixed, tmp_path / "2")
    original, wb = openpyxl.load_workbook(bad)[TABLE], openpyxl.load_workbook(again)
    ws = wb[TABLE]
    c12 = ref("national_projects")
    assert ws[c12].comment is None
    assert (repr(ws[c12].fill), style(ws[c12])) == (repr(original[c12].fill), style(original[c12]))
    assert fill_rgb(ws["C18"]).endswith(FILL["error"])
    assert wb.sheetnames.count(ANNOTATION_SHEET) == 1 and wb[ANNOTATION_SHEET].max_row == 3
    assert ws["C18"].comment.text.count("校验问题") == 1


def test_the_fillers_comments_stay_and_ours_follow_theirs(bad, noted, tmp_path) -> None:
    copy = annotate(noted, tmp_path / "1")
    assert vml_is_well_formed(copy)
    ws = openpyxl.load_workbook(copy)[TABLE]
    c18 = ws["C18"].comment
    assert c18.author == "张三"
    assert c18.text.startswith("张三：服务次数含线上咨询。\n\n校验问题：\n【错误】")
    assert ws["A1"].comment.text == "标题不要改动" and ws["A1"].comment.author == "李四"
    assert ws["F18"].comment.author == AUTHOR
    # Corrected in a program that saves the whole file again: their note is theirs again.
    fixed = fill_workbook(copy, tmp_path / "fixed" / bad.name,
                          {"sme_service_count": 80, "served_companies": 45, "national_projects": 3})
    assert findings_of(fixed) == []
    result = dataclasses.replace(validate_file(fixed, FORM), findings=[
        Finding("R99", "warning", (), (f"{TABLE}!C5",), "请核对单位名称。")])
    again = openpyxl.load_workbook(annotate(fixed, tmp_path / "2", result))[TABLE]
    assert again["C18"].comment.text == "张三：服务次数含线上咨询。"
    assert again["A1"].comment.text == "标题不要改动"
    assert again["F18"].comment is None and again["C19"].comment is None
    assert "请核对单位名称。" in again["C5"].comment.text


def test_a_note_drawing_the_rels_name_but_the_file_lacks_is_made_there(bad, noted, tmp_path) -> None:
    parts = members(noted)
    (drawing,) = [n for n in parts if n.endswith(".vml")]
    del parts[drawing]
    copy = annotate(write_members(tmp_path / "in" / bad.name, parts), tmp_path / "out")
    after = members(copy)
    assert drawing in after and [n for n in after if n.endswith(".vml")] == [drawing]
    sheet = after["xl/worksheets/sheet2.xml"]
    assert sheet.count(b"<legacyDrawing") == 1
    ws = openpyxl.load_workbook(copy)[TABLE]
    assert ws["A1"].comment.text == "标题不要改动" and ws["F18"].comment.author == AUTHOR


def test_any_legal_spelling_is_annotated(bad, tmp_path) -> None:
    """A namespace prefix, attributes in another order, implied row and cell numbers, a
    finding's cell left out of its row and a whole row left out: the cells are created
    in their places."""
    source = respell(bad, tmp_path / "in" / bad.name, TABLE, drop_cells={"C18"}, drop_rows={19})
    findings = findings_of(source)
    assert (("missing", (f"{TABLE}!C18",)) in findings and ("missing", (f"{TABLE}!C19",)) in findings)
    copy = annotate(source, tmp_path / "out")
    assert findings_of(copy) == findings
    before, after = openpyxl.load_workbook(source)[TABLE], openpyxl.load_workbook(copy)[TABLE]
    for _, cells in findings:
        for cell in cells:
            c = after[cell.rpartition("!")[2]]
            assert fill_rgb(c) and c.comment is not None, cell
    for row in before.iter_rows():
        for cell in row:
            assert after[cell.coordinate].value == cell.value
    with zipfile.ZipFile(copy) as z:
        sheet = z.read("xl/worksheets/sheet2.xml")
    assert sheet.count(b"<x:row ") + sheet.count(b"<x:row>") == 70     # row 19 is back
    assert sheet.count(b'<x:row r="19">') == 1 and b'<x:c r="C18" s="' in sheet


def test_explanations_are_shown_next_to_their_warnings(tmp_path) -> None:
    """The filler's 审核说明, typed into its expl_ cell, shows beside its warning in the
    listing and in the warning's note; an error beside it has none."""
    source = make_filled(tmp_path / "in", BAD_VALUES, edit=explain({"R03": REASON}))
    result = validate_file(source, FORM)
    assert {f.code: f.explanation for f in result.findings if f.code in ("R01", "R03")} == \
        {"R01": None, "R03": REASON}
    copy = annotate(source, tmp_path / "out", result)
    wb = openpyxl.load_workbook(copy)
    ws = wb[ANNOTATION_SHEET]
    assert [c.value for c in ws[1]] == [*LISTING_HEADER, EXPLANATION_HEADER]
    by_code = {f.code: i for i, f in enumerate(result.findings, start=2)}
    assert ws.cell(by_code["R03"], 6).value == REASON
    assert ws.cell(by_code["R01"], 6).value in (None, "")
    note = wb[TABLE][ref("served_companies")].comment.text
    assert f"{EXPLANATION_HEADER}：{REASON}" in note.splitlines()
    assert REASON not in wb[TABLE][ref("national_projects")].comment.text


# -- every spelling the reader reads: annotated where the reader read -------------------------------

READ_SHEETS = (FORM.cover.name, TABLE, META_SHEET)
# What the tests/_spell.py liberties do to the sheets the annotator edits, one by one.
NAMED_SPELLINGS = {
    "prefix_everywhere": dataclasses.replace(CANONICAL, prefix="x"),
    "prefix_on_some_declared_below": dataclasses.replace(CANONICAL, prefix="x", prefix_share=0.3,
                                                         declare_low=True),
    "utf16": dataclasses.replace(CANONICAL, utf16=True, declaration=2),
    "no_r_on_rows_and_cells": dataclasses.replace(CANONICAL, drop_refs=1.0),
    "cdata_and_comments": dataclasses.replace(CANONICAL, cdata=0.5, comments=0.3),
    "character_references": dataclasses.replace(CANONICAL, char_refs=0.5),
    "tags_spaced_attributes_shuffled": dataclasses.replace(
        CANONICAL, space_in_tags=True, space_between=True, shuffle_attributes=True, single_quotes=0.5,
        long_empty=True),
    "everything": everything(7),
}


def every_cell_findings() -> list[Finding]:
    """A finding on every input of the form (errors and warnings), so every row is edited."""
    return [Finding("R99", "error" if i % 3 else "warning", (f.id,), (at(f.id),), f"第 {i} 项的问题")
            for i, f in enumerate(FORM.fields)]


def annotated_with(path: Path, findings: list[Finding], out: Path) -> Path:
    result = FileResult(file=str(path), path=path, status="rejected", verdict="不通过", findings=findings)
    return annotate_workbook(FORM, result, out / path.name)


def shown(path: Path, work: Path) -> dict[tuple[str, str], tuple]:
    """What a copy shows on the form's sheets and the listing: each cell's value, fill, note
    and format. Read by openpyxl from the copy written again in the canonical spelling
    (openpyxl itself does not read every legal one: a comment between elements, for one).
    The other sheets, which nothing here looks at, are left empty: the in-sheet checks' two
    thousand formulas were most of the copy's writing and loading."""
    looked_at = (*(s.name for s in FORM.sheets), ANNOTATION_SHEET)
    canonical = respell_workbook(path, work / f"canonical-{path.parent.name}.xlsx", CANONICAL, (),
                                 emptied=tuple(n for n in sheet_names(path) if n not in looked_at))
    wb = openpyxl.load_workbook(canonical)
    out = {}
    for name in looked_at:
        for row in wb[name].iter_rows():
            for c in row:
                if c.value is not None or fill_rgb(c) or c.comment is not None:
                    out[(name, c.coordinate)] = (c.value, fill_rgb(c), c.comment and c.comment.text,
                                                 style(c))
    return out


def read_as_data(path: Path) -> dict:
    """What the reader reads of a workbook, but the sheets' list (a copy adds 校验问题)."""
    data = dataclasses.asdict(read_path(path, FORM))
    for key in ("path", "sheet_names", "sheet_states"):
        data.pop(key)
    return data


@pytest.fixture(scope="module")
def as_typed(noted, tmp_path_factory) -> tuple[list[Finding], dict]:
    """The filler's workbook with their notes, annotated on every input: what it shows."""
    work = tmp_path_factory.mktemp("as-typed")
    findings = every_cell_findings()
    view = shown(annotated_with(noted, findings, work / "copy"), work)
    assert sum(1 for v in view.values() if v[1]) >= len(findings) and \
        any(v[2] and v[2].startswith("张三：") for v in view.values())
    return findings, view


def _spelled_and_annotated(noted, as_typed, work: Path, spelling) -> None:
    findings, expected = as_typed
    source = respell_workbook(noted, work / "in" / noted.name, spelling, READ_SHEETS)
    copy = annotated_with(source, findings, work / "out")
    assert shown(copy, work) == expected
    assert read_as_data(copy) == read_as_data(source)      # the copy reads as what was returned
    again = annotated_with(copy, findings, work / "again")
    assert again.read_bytes() == copy.read_bytes()         # annotated again: the same copy


@pytest.mark.parametrize("name", sorted(NAMED_SPELLINGS))
def test_a_spelling_the_reader_reads_is_annotated_as_the_typed_one(noted, as_typed, tmp_path, name) -> None:
    """x:-prefixed cells, prefixes declared where first used, UTF-16, rows and cells without
    r, CDATA, comments, character references, every liberty at once: the same cells are
    marked and noted as on the workbook as typed, and nothing else changes."""
    (tmp_path / "in").mkdir()
    _spelled_and_annotated(noted, as_typed, tmp_path, NAMED_SPELLINGS[name])


@settings(max_examples=examples(6), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spelling=SPELLINGS)
@example(spelling=everything(11))
# Found by hypothesis: two cell formats alike but for their attributes' order, a mark of the
# second (annotated again, it was taken for a mark of the first, and a new format added).
@example(spelling=Spelling(
    seed=10000001, declaration=0, bom=False, utf16=False, prefix="x", prefix_share=1.0, declare_low=True,
    prefix_package=True, shuffle_attributes=True, single_quotes=0.0, space_in_tags=False,
    space_between=False, char_refs=0.0, cdata=0.0, comments=0.0, long_empty=False, drop_refs=1.0,
    to_shared=0.0, to_inline=1.0, runs=0.0, phonetic=0.5, shuffle_entries=False, stored=0.0))
def test_any_spelling_the_reader_reads_is_annotated_as_the_typed_one(noted, as_typed, tmp_path_factory,
                                                                       spelling) -> None:
    work = tmp_path_factory.mktemp("spelled")
    (work / "in").mkdir()
    _spelled_and_annotated(noted, as_typed, work, spelling)


def test_elements_of_another_namespace_are_no_rows_or_cells(noted, as_typed, tmp_path) -> None:
    """An o:row and an o:c (another namespace) with the address of a real row and cell, before
    them: the reader takes neither, so the annotator marks the real ones and leaves them."""
    findings, expected = as_typed
    part = table_part(noted, TABLE)
    sheet = members(noted)[part]
    cell, row = FORM.input_cell("service_count"), FORM.input_cell("contact_person").row
    decoys = (b'<o:c xmlns:o="urn:example:other" r="%s"><o:v>9</o:v></o:c>' % cell.ref.encode(),
              b'<o:row xmlns:o="urn:example:other" r="%d"><o:c r="C%d"/></o:row>' % (row, row))
    at_cell = re.search(rb'<c r="%s"' % cell.ref.encode(), sheet).start()
    sheet = sheet[:at_cell] + decoys[0] + sheet[at_cell:]
    at_row = re.search(rb'<row r="%d"' % row, sheet).start()
    sheet = sheet[:at_row] + decoys[1] + sheet[at_row:]
    (tmp_path / "in").mkdir()
    source = rewrite_zip(noted, tmp_path / "in" / noted.name, {part: sheet})
    assert read_as_data(source) == read_as_data(noted)
    copy = annotated_with(source, findings, tmp_path / "out")
    assert shown(copy, tmp_path) == expected
    edited = members(copy)[part]
    assert all(edited.count(d) == 1 for d in decoys)        # left as they were


def test_a_strict_workbook_is_annotated_in_its_own_namespaces(noted, as_typed, tmp_path) -> None:
    """Strict Open XML (the reader reads it): the same cells marked, and what is added (the
    listing, notes, relationships) in Strict's namespaces, none of the transitional ones."""
    findings, expected = as_typed
    (tmp_path / "in").mkdir()
    source = strict_workbook(noted, tmp_path / "in" / noted.name)
    assert read_as_data(source) == read_as_data(noted)
    copy = annotated_with(source, findings, tmp_path / "out")
    for name, data in members(copy).items():
        if name.endswith((".xml", ".rels")):
            assert b"schemas.openxmlformats.org/spreadsheetml/2006/main" not in data, name
            assert b"schemas.openxmlformats.org/officeDocument/2006/relationships" not in data, name
    assert read_as_data(copy) == read_as_data(source)
    back = tmp_path / "back"
    back.mkdir()
    assert shown(transitional_workbook(copy, back / noted.name), tmp_path) == expected


# -- a small workbook, the cells chosen by hypothesis -------------------------------------------

SMALL = ("表一", "表二")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """Merged ranges, missing cells and rows, formats of every kind, a filler's note."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SMALL[0]
    ws["A1"] = "标题 & <说明>"
    ws.merge_cells("A1:D1")
    for r in range(2, 11):
        for c in range(1, 5):
            if (r + c) % 3:
                ws.cell(r, c, r * c if c != 2 else f"文字{r}")
    ws["B3"].number_format = "0.00"
    ws["B3"].font = Font(bold=True, color="FF0000", name="宋体")
    ws["B3"].border = Border(left=Side("thin"), bottom=Side("double"))
    ws["C4"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["C5"].protection = Protection(locked=False)
    ws["D6"].alignment = Alignment(horizontal="right", wrap_text=True)
    ws.merge_cells("B6:C7")
    ws["A14"] = "尾行"                       # rows 11 and 13 do not exist,
    ws.row_dimensions[12].height = 30         # row 12 has no cells (<row r="12" .../>)
    ws["D5"].comment = Comment("填报人的批注", "张三")
    ws.column_dimensions["F"].width = 20
    other = wb.create_sheet(SMALL[1])
    other["A1"], other["C3"] = "表二", 3
    saved = tmp_path_factory.mktemp("small") / "saved.xlsx"
    wb.save(saved)
    parts = members(saved)        # the empty row written <row .../>, as Excel writes it
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'(<row r="12"[^>]*)></row>', rb"\1/>", sheet)
    assert parts["xl/worksheets/sheet1.xml"] != sheet
    return write_members(saved.with_name("small.xlsx"), parts)


cells = st.tuples(st.sampled_from(SMALL), st.integers(1, 15), st.integers(1, 6))
findings_strategy = st.lists(
    st.tuples(st.lists(cells, min_size=1, max_size=3, unique=True), st.sampled_from(["error", "warning"]),
              st.text(st.sampled_from("数值有误请核对&<>\"'_x0041 \n"), min_size=1, max_size=40)),
    min_size=1, max_size=6)


def _top_left(ws, row: int, col: int) -> tuple[int, int]:
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return rng.min_row, rng.min_col
    return row, col


@settings(max_examples=examples(20), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=findings_strategy)
def test_any_cells_are_marked_and_nothing_else_changes(small, tmp_path, chosen) -> None:
    findings = [Finding("R99", severity, (), tuple(f"{s}!{openpyxl.utils.get_column_letter(c)}{r}"
                                                   for s, r, c in where), text)
                for where, severity, text in chosen]
    result = FileResult(file=str(small), path=small, status="rejected", verdict="不通过",
                        findings=findings)
    data = annotated_bytes(FORM, result)
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(data)
    assert vml_is_well_formed(copy)
    before, after = openpyxl.load_workbook(small), openpyxl.load_workbook(copy)
    expected: dict[tuple[str, int, int], list[Finding]] = {}
    for f in findings:
        for cell in f.cells:
            sheet, _, coordinate = cell.partition("!")
            c = before[sheet][coordinate]
            expected.setdefault((sheet, *_top_left(before[sheet], c.row, c.column)), []).append(f)
    for sheet in SMALL:
        old, new = before[sheet], after[sheet]
        for r in range(1, 17):
            for c in range(1, 8):
                was, now = old.cell(r, c), new.cell(r, c)
                assert now.value == was.value and style(now) == style(was), (sheet, r, c)
                found = expected.get((sheet, r, c))
                if found is None:
                    assert repr(now.fill) == repr(was.fill), (sheet, r, c)
                    assert (now.comment and now.comment.text) == (was.comment and was.comment.text)
                    continue
                worst = "error" if any(f.is_error for f in found) else "warning"
                assert fill_rgb(now).endswith(FILL[worst]), (sheet, r, c)
                text = now.comment.text
                if was.comment is not None:                 # the filler's note comes first
                    assert text.startswith(was.comment.text + "\n\n")
                at = 0                                        # each, in the order found
                for f in dict.fromkeys(found):
                    at = text.index(f"【{f.severity_cn}】{f.message}", at) + 1
    assert after[ANNOTATION_SHEET].max_row == len(findings) + 1
    assert [after[ANNOTATION_SHEET].cell(i + 2, 5).value for i in range(len(findings))] == \
        [f.message for f in findings]
    # Annotated again with the same findings: the same copy (the file named as before: its
    # name is in the listing's page header).
    again = dataclasses.replace(result, path=copy)
    assert annotated_bytes(FORM, again) == data


# -- runs, and copies that cannot be written ----------------------------------------------------

def test_a_run_annotates_each_file_with_findings_and_nothing_else(bad, tmp_path) -> None:
    good = make_filled(tmp_path / "in", valid_values(unit_name="戊检测研究院"))
    shutil.copy(bad, tmp_path / "in" / bad.name)
    (tmp_path / "in" / "坏.xlsx").write_bytes(b"not a workbook")
    run = validate_paths([tmp_path / "in"], FORM, jobs=1)
    outcome = annotate_workbooks(run, tmp_path / "out")
    assert [p.name for p in outcome.written] == [bad.name]
    assert [Path(f).name for f, _ in outcome.skipped] == ["坏.xlsx"]
    assert not (tmp_path / "out" / good.name).exists()
    assert sorted(os.listdir(tmp_path / "out")) == [bad.name]     # no temporary file left


def _chinese_sentence(text: str) -> None:
    """One line of Chinese: the paths it names (in “”) may be ASCII, nothing else of it."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert ".tmp" not in lines[0] and "Errno" not in lines[0]
    rest = re.sub("“[^”]*”", "", lines[0])
    assert not any("a" <= ch.lower() <= "z" for ch in rest), rest
    assert rest.endswith("。")


def test_a_copy_under_a_file_says_why_in_one_chinese_sentence(bad, tmp_path) -> None:
    (tmp_path / "文件").write_text("x", encoding="utf-8")
    target = tmp_path / "文件" / "退回"
    run = validate_paths([bad], FORM, jobs=1)
    with pytest.raises(AnnotateWriteError) as e:
        annotate_workbooks(run, target)
    _chinese_sentence(e.value.message)
    assert f"“{tmp_path / '文件'}”是一个文件" in e.value.message
    result = CliRunner().invoke(main, ["validate", str(bad), "--jobs", "1", "--annotate", str(target)])
    assert result.exit_code == 1
    assert result.output.count(e.value.message) == 1
    assert "Traceback" not in result.output


def test_a_folder_without_write_permission(bad, tmp_path) -> None:
    if os.geteuid() == 0:     # root writes anywhere but where the system forbids it
        target = Path("/sys/xlsx-tools-annotate-test")
        try:
            target.mkdir()
        except PermissionError:
            pass
        else:
            target.rmdir()
            pytest.skip("no folder here refuses root")
    else:
        target = tmp_path / "只读"
        target.mkdir()
        target.chmod(0o555)
    run = validate_paths([bad], FORM, jobs=1)
    with pytest.raises(AnnotateWriteError) as e:
        annotate_workbooks(run, target)
    _chinese_sentence(e.value.message)
    assert "权限" in e.value.message


UNSHARE = shutil.which("unshare")


def _in_own_mount(tmp_path: Path, options: str, command: str) -> subprocess.CompletedProcess:
    """``command`` with a fresh tmpfs (``options``) mounted on tmp_path/mnt, in a private
    mount namespace (nothing is mounted for anyone else)."""
    (tmp_path / "mnt").mkdir()
    script = f"mount -t tmpfs -o {options} tmpfs {tmp_path / 'mnt'} || exit 99\n{command}"
    done = subprocess.run([UNSHARE, "-rm", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode == 99 or "unshare:" in done.stderr:
        pytest.skip(f"cannot mount a file system here: {done.stderr.strip()}")
    return done


@pytest.mark.skipif(UNSHARE is None, reason="needs unshare (util-linux)")
@pytest.mark.parametrize("options, words", [("size=24k", "磁盘空间不足"), ("ro", "只读")])
def test_a_full_or_read_only_disk_is_said_once_and_leaves_nothing(bad, tmp_path, options, words) -> None:
    target = tmp_path / "mnt" / "退回"
    cli = f'"{sys.executable}" -m xlsx_tools.cli validate "{bad}" --jobs 1 --annotate "{target}"'
    done = _in_own_mount(tmp_path, options, f'{cli}\necho "rc=$?"\nls -A "{tmp_path / "mnt"}" '
                                            f'"{target}" 2>/dev/null')
    assert "rc=1" in done.stdout, done.stdout + done.stderr
    _chinese_sentence(done.stderr)
    assert words in done.stderr
    listing = done.stdout.split("rc=1", 1)[1]
    assert ".tmp" not in listing and bad.name not in listing


# -- LibreOffice opens the copies, and shows them -------------------------------------------------

@pytest.mark.libreoffice
def test_libreoffice_opens_the_copies_and_keeps_what_they_show(bad, noted, tmp_path) -> None:
    """A copy with the filler's picture, extra sheet and note; ones spelled otherwise (every
    liberty of tests/_spell.py at once; Strict Open XML); and a return LibreOffice saved
    before it was annotated: LibreOffice opens each
    (without repair: a file it must repair does not convert), keeps the marks, the
    notes and the listing, and our reader reads the same findings back."""
    from _libreoffice import convert

    sources = {
        "picture": add_picture_and_sheet(noted, tmp_path / "picture" / bad.name, TABLE),
        "respelled": respell(bad, tmp_path / "respelled" / bad.name, TABLE, drop_cells={"C18"},
                             drop_rows={19}),
    }
    for key in ("every-liberty", "strict"):
        (tmp_path / key).mkdir()
    sources["every-liberty"] = respell_workbook(noted, tmp_path / "every-liberty" / bad.name, everything(3),
                                                READ_SHEETS)
    sources["strict"] = strict_workbook(noted, tmp_path / "strict" / bad.name)
    (sources["lo"],) = convert([bad], tmp_path / "lo-saved")
    staged = []
    for key, source in sources.items():
        named = tmp_path / "named" / key / bad.name      # R18 wants the file's own name
        named.parent.mkdir(parents=True)
        shutil.copy(source, named)
        copy = annotate(named, tmp_path / "copies" / key)
        staged.append((key, named, tmp_path / "staged" / f"{key}.xlsx"))
        staged[-1][2].parent.mkdir(exist_ok=True)
        shutil.copy(copy, staged[-1][2])
    resaved = convert([s for _, _, s in staged], tmp_path / "lo-out")
    for (key, source, _), path in zip(staged, resaved):
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames[-1] == ANNOTATION_SHEET and wb.active.title == ANNOTATION_SHEET, key
        expected = validate_file(source, FORM).findings
        assert wb[ANNOTATION_SHEET].max_row == len(expected) + 1
        ws = wb[TABLE]
        for f in expected:
            for cell in f.cells:
                c = ws[cell.rpartition("!")[2]]
                assert fill_rgb(c) is not None and fill_rgb(c).endswith(FILL["error" if any(
                    g.is_error for g in expected if cell in g.cells) else "warning"]), (key, cell)
                assert c.comment is not None and f.message in c.comment.text, (key, cell)
        drawings = [d for n, d in members(path).items() if n.endswith(".vml")]
        assert drawings and all(b"visibility:hidden" in shape for d in drawings
                                for shape in d.split(b"<v:shape ")[1:]), key    # notes stay hidden
        if key == "picture":
            assert ws["C18"].comment.text.startswith("张三：服务次数含线上咨询。")
            assert EXTRA_SHEET in wb.sheetnames
            assert any(n.startswith("xl/media/") for n in members(path))
        named = tmp_path / "back" / key / bad.name
        named.parent.mkdir(parents=True)
        shutil.copy(path, named)
        assert [(f.code, f.cells) for f in validate_file(named, FORM).findings] == \
            [(f.code, f.cells) for f in expected], key


@pytest.mark.libreoffice
def test_the_listing_prints_landscape_on_one_page_with_every_message(bad, tmp_path) -> None:
    from _libreoffice import convert

    copy = annotate(bad, tmp_path / "copy")
    (pdf,) = convert([copy], tmp_path / "pdf", "pdf")
    info = subprocess.run(["pdfinfo", "-l", "-1", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    last = next(line for line in info.splitlines()
                if line.startswith((f"Page {pages:4d} size:", f"Page {pages} size:")))
    width, height = (float(x) for x in last.split("size:")[1].split("pts")[0].split(" x "))
    assert width > height                                       # landscape
    text = subprocess.run(["pdftotext", "-raw", "-f", str(pages), "-l", str(pages), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    for f in validate_file(bad, FORM).findings:
        assert "".join(f.message.split()) in squeezed, f.message
    assert all(word in squeezed for word in LISTING_HEADER)
