"""What a person prints: the form's pages and the summaries' print settings, read back
from the produced files with openpyxl; and one rendering through LibreOffice that
counts the pages of a filled form with 2 problems and of a batch summary."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
import subprocess
from pathlib import Path

import openpyxl
import pytest
from _fill import make_filled, valid_values
from _generate_helpers import badly_broken, column_width, convert, norm, pdf_pages, printed_pixels

from xlsx_tools.form import load_form
from xlsx_tools.incell import SHEET_NAME
from xlsx_tools.merge import batch_file_stem, merge_config, merge_paths
from xlsx_tools.rules import field_title
from xlsx_tools.write import generate_blank, write_workbook
from xlsx_tools.xlsx_output import (LANDSCAPE_PX, LEAST_SCALE, broken_lines, row_points, text_lines,
                                   text_width)

FORM = load_form()
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def summaries(tmp_path_factory):
    out = tmp_path_factory.mktemp("summary")
    merge_paths([SAMPLES / "returned"], out_dir=out, roster=SAMPLES / "roster.csv", jobs=1,
                previous=SAMPLES / "previous")
    return out


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    return generate_blank(tmp_path_factory.mktemp("blank"), FORM)


@pytest.fixture(scope="module")
def book():
    """A workbook (the blank, a summary) as openpyxl reads it, loaded once for the tests that
    read it (each only reads)."""
    return functools.cache(openpyxl.load_workbook)


def _two_problems() -> dict:
    values = valid_values()
    # Two errors: a count missing, and a part larger than its whole.
    values["forums"] = None
    values["sme_service_count"] = values["service_count"] + 1
    return values


def _print_rows(ws) -> tuple[int, int]:
    area = ws.print_area if isinstance(ws.print_area, str) else ws.print_area[0]
    ref = area.split("!")[-1].replace("$", "")
    lo, hi = ref.split(":")
    return openpyxl.utils.cell.coordinate_to_tuple(lo)[0], openpyxl.utils.cell.coordinate_to_tuple(hi)[0]


def test_the_checks_sheet_prints_one_page_of_its_list(blank, book):
    ws = book(blank)[SHEET_NAME]
    first, last = _print_rows(ws)
    assert first == 1
    # Not the whole list of every problem that could be open: what fits on one page.
    assert ws.page_setup.fitToHeight in (None, 1) and ws.page_setup.fitToWidth in (None, 1)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert 10 <= last < 60
    # Its rows are tall enough for a message of two lines.
    list_rows = [ws.row_dimensions[r].height for r in range(last - 5, last + 1)]
    assert min(list_rows) >= 2 * 11 * 1.4
    # A problem's number sits level with its message, whatever the fonts' line heights.
    for r in range(last - 5, last + 1):
        assert {ws.cell(r, c).alignment.vertical for c in range(1, 6)} == {"center"}, r


# -- what a filler types fits its cell --------------------------------------------

def _extent(ws, address: str) -> tuple[range, range]:
    """The rows and columns of the cell at ``address`` (its merged range, if any)."""
    row, col = openpyxl.utils.cell.coordinate_to_tuple(address)
    for m in ws.merged_cells.ranges:
        if (m.min_row, m.min_col) == (row, col):
            return range(m.min_row, m.max_row + 1), range(m.min_col, m.max_col + 1)
    return range(row, row + 1), range(col, col + 1)


def _longest_allowed(ws, address: str) -> str:
    """The longest text the cell's data validation lets a filler type (a list: its
    longest choice), in wide characters; "" for a cell that takes no text."""
    for dv in ws.data_validations.dataValidation:
        if address in dv.sqref:
            if dv.type == "list":
                return max(dv.formula1.strip('"').split(","), key=len)
            if dv.type == "textLength":
                return "国" * int(dv.formula2 or dv.formula1)
            return ""
    raise AssertionError(f"{address} has no data validation")


@pytest.mark.parametrize("last_year", [False, True], ids=["blank", "with-last-year"])
def test_every_input_has_room_for_what_its_field_takes(tmp_path, last_year):
    """Text wraps in rows tall enough for the longest text the cell accepts; a number or a
    date stays one line and shrinks to fit (the two layouts: inputs spanning the 上年 cells
    or beside them)."""
    wb = openpyxl.load_workbook(write_workbook(tmp_path / "form.xlsx", FORM,
                                               previous={} if last_year else None))
    for f in FORM.fields:
        cell = FORM.input_cell(f.id)
        ws = wb[cell.sheet]
        c = ws[cell.ref]
        longest = _longest_allowed(ws, cell.ref)
        if f.type in ("int", "amount", "date"):
            assert c.alignment.shrink_to_fit and not c.alignment.wrap_text, f.id
            continue
        assert c.alignment.wrap_text and longest, f.id
        if f.type in ("phone", "mobile", "email", "postcode"):
            longest = "0" * len(longest)        # codes and addresses of narrow characters
        rows, cols = _extent(ws, cell.ref)
        size = c.font.sz
        height = sum(ws.row_dimensions[r].height for r in rows)
        assert height >= row_points(text_lines(longest, column_width(ws, cols), size), size) - 0.5, f.id


def test_last_years_values_read_as_the_inputs_and_at_8_points_or_more(tmp_path):
    """A 上年 cell shows its number in the input's format (no thousands separator in one
    and not the other), and its column has room for a 7-digit value (an amount's 5 and its
    decimals) at 8 pt: it shrank to about 6 pt in a column made for the label alone."""
    label = FORM.previous.label
    widest = {f: Decimal("12345.67") if FORM.field(f).type == "amount" else 1234567
              for f in FORM.previous_fields}
    wb = openpyxl.load_workbook(write_workbook(tmp_path / "form.xlsx", FORM, previous=widest))
    for f in FORM.previous_fields:
        cell, input_cell = FORM.previous_cell(f), FORM.input_cell(f)
        ws = wb[cell.sheet]
        c = ws[cell.ref]
        assert c.number_format == f'"{label} "' + ws[input_cell.ref].number_format, f
        assert "," not in c.number_format, f
        shown = f"{label} {widest[f]:.2f}" if FORM.field(f).type == "amount" else f"{label} {widest[f]}"
        _rows, cols = _extent(ws, cell.ref)
        assert c.font.sz >= 8 and c.alignment.shrink_to_fit, f
        assert column_width(ws, cols) >= text_width(shown, 8) + 1.5, (f, column_width(ws, cols))


LONG_RECOMMENDING = "某某省工业和信息化厅产业技术基础公共服务平台推荐工作领导小组办公室"


@pytest.mark.parametrize("name, lines", [("北京市经济和信息化局", 1), (LONG_RECOMMENDING, None)],
                         ids=["short", "long"])
def test_the_cover_rows_are_as_tall_as_the_name_in_them(tmp_path, name, lines):
    """A pre-filled name's cover row is as tall as the name (a short one left a tinted band
    sized for 40 characters above it), a long one whole. (The blank's has room for the longest
    name the field takes: test_every_input_has_room_for_what_its_field_takes.)"""
    field = FORM.keys["recommending"]
    cell = FORM.input_cell(field)
    assert cell.sheet == FORM.cover.name
    wb = openpyxl.load_workbook(write_workbook(tmp_path / "cover.xlsx", FORM,
                                               prefill={field: name}))
    ws = wb[cell.sheet]
    rows, cols = _extent(ws, cell.ref)
    size = ws[cell.ref].font.sz
    if lines is None:
        lines = text_lines(name, column_width(ws, cols), size)
        assert lines > 1
    assert sum(ws.row_dimensions[r].height for r in rows) == pytest.approx(row_points(lines, size), abs=0.75)
    # The label beside it does not wrap: it does not make the row taller either.
    assert not ws.cell(cell.row, cell.col - 1).alignment.wrap_text


def test_a_prefilled_value_longer_than_a_line_has_its_rows(tmp_path):
    unit = FORM.keys["unit"]
    name = "某某省工业和信息化产业技术基础公共服务平台检验检测与认证认可综合研究院有限公司"
    wb = openpyxl.load_workbook(write_workbook(tmp_path / "pre.xlsx", FORM, prefill={unit: name}))
    places = [FORM.input_cell(unit)] + FORM.show_cells(unit)
    assert len(places) > 1
    for cell in places:
        ws = wb[cell.sheet]
        rows, cols = _extent(ws, cell.ref)
        size = ws[cell.ref].font.sz
        lines = text_lines(name, column_width(ws, cols), size)
        assert lines > 1
        assert sum(ws.row_dimensions[r].height for r in rows) >= row_points(lines, size) - 0.5


# -- label typography ------------------------------------------------------------

# 避头尾: marks that never start a line, and marks that never end one.
_CLOSING = "，。、；：？！）)】」』”’》"
_OPENING = "（(【「『“‘《"


def _broken_texts(wb):
    """(sheet, cell, its lines, the width they have) of every locked text written with
    line breaks in it: the labels of the layout, the notes, 填报说明."""
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or ws.title == SHEET_NAME:
            continue
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and "\n" in c.value and c.protection.locked:
                    rows, cols = _extent(ws, c.coordinate)
                    indent = 3 * (c.alignment.indent or 0)
                    yield ws.title, c, c.value.split("\n"), column_width(ws, cols) - indent


@pytest.mark.parametrize("width", [w / 2 for w in range(12, 121)])
def test_the_breaker_keeps_names_and_numbers_whole_and_drops_spaces_at_breaks(width):
    # Seen printed: 「请填\n 0」, 「.xlsx\n 文件」 and a file name to copy broken in two.
    texts = ["未开展的项目请填 0，不要留空。", "文件名应为 .xlsx 文件，请另存为 Excel 工作簿。",
             "文件名应为“第三批-检验检测类-滨海船舶配套设备检测研究院.xlsx”，请改名后重新提交。"]
    for text in texts:
        lines = broken_lines(text, width, 10)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert [line for line in lines if line != line.strip()] == [], lines
        assert not [line for line in lines[:-1] if line.endswith("“")], lines
        if width >= 8:          # every Latin word here fits a line
            assert not [(a, b) for a, b in zip(lines, lines[1:]) if a[-1:].isascii() and a[-1:].isalnum()
                        and b[:1].isascii() and b[:1].isalnum()], lines
        # The name with the mark after it, which stays with it.
        quoted = text[text.find("“"):text.find("”") + 2] if "“" in text else ""
        if quoted and text_width(quoted, 10) <= width - 1.5:
            assert any(quoted in line for line in lines), lines


def test_labels_keep_punctuation_and_units_with_their_text(blank, book):
    wb = book(blank)
    texts = list(_broken_texts(wb))
    sheets = {s for s, *_ in texts}
    assert {FORM.table.name, FORM.instructions["sheet"]} <= sheets
    for sheet, c, lines, width in texts:
        where = f"{sheet}!{c.coordinate}"
        for line in lines[1:]:
            assert line and line[0] not in _CLOSING, (where, lines)
        for line in lines[:-1]:
            assert line and line[-1] not in _OPENING, (where, lines)
        for line in lines:
            # Each line fits as broken, so no program breaks it again elsewhere.
            assert text_width(line, c.font.sz) <= width - 1.5, (where, line)
        # A bracketed unit, (万元), is cut only when it is wider than a line.
        for m in re.finditer(r"[(（][^()（）]*[)）]", c.value):
            group = m.group().replace("\n", "")
            assert "\n" not in m.group() or text_width(group, c.font.sz) > width - 1.5, (where, lines)


def test_the_layout_labels_are_the_definitions_and_nest_no_brackets(blank, book):
    """R21 compares a returned copy's labels with the definition: the breaks written in
    are the only difference (whitespace), and no label nests a bracket in a bracket."""
    wb = book(blank)
    for c in FORM.label_cells():
        shown = wb[c.sheet][c.ref].value
        assert "".join(str(shown).split()) == "".join(c.text.split()), c.address
        assert not re.search(r"[(（][^)）]*[(（]", c.text), c.address


def test_no_label_group_splits_across_pages(blank, book):
    """A label spanning rows (平台能力建设情况 …) starts a page rather than be cut."""
    ws = book(blank)[FORM.table.name]
    breaks = [b.id + 1 for b in ws.row_breaks.brk]     # rows that start a page
    assert breaks
    for c in FORM.table.cells:
        if c.kind == "label" and c.height > 1:
            assert not any(c.row < b <= c.last_row for b in breaks), c.address
    # A section heading is never the last row of a page.
    headings = {c.row for c in FORM.table.cells if c.kind == "heading"}
    assert not {b - 1 for b in breaks} & headings


def test_the_batch_summary_prints_its_main_indicators(summaries, book):
    config = merge_config(FORM)
    assert config.print_fields
    wb = book(summaries / "汇总-第一批.xlsx")
    ws = wb[config.say("print_sheet")]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.print_title_rows == "$2:$2" and ws.print_title_cols == "$A:$B"
    assert wb.active.title == ws.title
    assert ws.max_column == 2 + len(config.print_fields)
    # The full table prints its title row only (a note there says where the paper copy is).
    full = wb["汇总"]
    assert _print_rows(full) == (1, 1)


def _area(ws) -> tuple[int, int, int, int]:
    """The print area's first and last row and column (1-based)."""
    area = ws.print_area if isinstance(ws.print_area, str) else ws.print_area[0]
    lo, _, hi = area.split("!")[-1].replace("$", "").partition(":")
    return (*openpyxl.utils.cell.coordinate_to_tuple(lo), *openpyxl.utils.cell.coordinate_to_tuple(hi or lo))


def test_the_full_tables_note_prints_at_full_size(summaries, book):
    # A page of its title and the note saying where the paper copy is (an empty print
    # area would be "nothing to print" for the active sheet in Excel).
    config = merge_config(FORM)
    one_recommending = sorted((summaries / "推荐单位").iterdir())[0]
    for name in ("汇总-第一批.xlsx", one_recommending.relative_to(summaries)):
        ws = book(summaries / name)["汇总"]
        r0, c0, r1, c1 = _area(ws)
        assert (r0, r1, c0) == (1, 1, 1)
        # The title and the note under it span the printed columns, which one landscape
        # page holds at 100 %: the note prints at its 10 pt, not shrunk to fit.
        assert any((m.min_row, m.max_row, m.min_col, m.max_col) == (1, 1, 1, c1)
                   for m in ws.merged_cells.ranges)
        assert printed_pixels(ws, range(1, c1 + 1)) <= LANDSCAPE_PX < printed_pixels(ws, range(1, c1 + 2))
        assert config.say("print_note", columns=ws.max_column,
                          print_sheet=config.say("print_sheet")) in ws["A1"].value
        # Tall enough for the title and a line of note.
        assert ws["A1"].alignment.wrap_text and ws.row_dimensions[1].height >= 24 + 10 * 1.4


def test_the_overview_prints_its_counts_and_the_sums_by_batch(summaries, book):
    config = merge_config(FORM)
    wb = book(summaries / "汇总-总览.xlsx")
    ws = wb["总览"]
    counts = next(m for m in ws.merged_cells.ranges if m.min_row == 2 and m.min_col == 2)
    # Printed: the batches and their counts (and the note under them), one page wide.
    r0, c0, r1, c1 = _area(ws)
    assert (r0, c0, c1) == (1, 1, counts.max_col)
    assert ws.cell(r1, 1).value == config.say("overview_note",
                                              batches_sheet=config.say("batches_sheet"))
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    # The sums: a row per field, a column per batch and the grand total, each the batch
    # workbook's own total (分类统计, column 全部).
    sums = wb[config.say("batches_sheet")]
    assert wb.sheetnames.index(sums.title) == wb.sheetnames.index("总览") + 1
    head = [c.value for c in sums[2]]
    batches = [b for b in FORM.batches if b in head]
    assert batches and head[3 + len(batches)] == config.say("grand_total")
    assert sums.print_title_rows == "$2:$2" and sums.page_setup.fitToWidth in (None, 1)
    numeric = {field_title(FORM, f.id) for f in FORM.fields if f.numeric}
    rows = {sums.cell(r, 2).value: r for r in range(3, sums.max_row + 1)
            if sums.cell(r, 2).value in numeric}
    assert set(rows) == numeric
    for b in batches:
        col = head.index(b) + 1
        cat = book(summaries / f"{batch_file_stem(b)}.xlsx")["分类统计"]
        whole = [c.value for c in cat[2]].index("全部") + 1
        theirs = {cat.cell(r, 2).value: cat.cell(r, whole).value for r in range(3, cat.max_row + 1)}
        for label, r in rows.items():
            assert sums.cell(r, col).value == pytest.approx(theirs[label]), (b, label)
    grand = 4 + len(batches)
    for label, r in rows.items():
        assert sums.cell(r, grand).value == pytest.approx(
            sum(sums.cell(r, head.index(b) + 1).value for b in batches)), label


@pytest.mark.parametrize("name", ["汇总-第一批.xlsx", "汇总-总览.xlsx"])
def test_a_tables_rows_read_level(summaries, name, book):
    """In every row of a table its cells share one vertical alignment (a wrapped text
    beside one-line values), and the row's number (序号) is centred, not run into the
    column after it."""
    wb = book(summaries / name)
    for title in ("提交情况", "问题清单", merge_config(FORM).say("print_sheet")):
        if title not in wb.sheetnames:
            continue
        ws = wb[title]
        top = next(r for r in range(1, 5) if ws.cell(r, 1).value == "序号")
        for r in range(top + 1, ws.max_row + 1):
            if not isinstance(ws.cell(r, 1).value, int):
                continue
            assert ws.cell(r, 1).alignment.horizontal == "center", (title, r)
            looks = {ws.cell(r, c).alignment.vertical for c in range(1, ws.max_column + 1)}
            assert looks == {"center"}, (title, r, looks)


@pytest.mark.parametrize("name", ["汇总-第一批.xlsx", "汇总-总览.xlsx"])
def test_tables_print_at_8_points_or_more(summaries, name, book):
    wb = book(summaries / name)
    for ws in wb.worksheets:
        ps = ws.page_setup
        if ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage:
            continue        # fitted: its widths are checked through the rendering below
        assert ps.scale is None or ps.scale >= 80, ws.title


def test_file_names_wrap_instead_of_being_cut(summaries, book):
    ws = book(summaries / "汇总-总览.xlsx")["提交情况"]
    header = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    col = header["文件"]
    for r in range(4, ws.max_row + 1):
        cell = ws.cell(r, col)
        if cell.value and len(cell.value) > 30:
            assert cell.alignment.wrap_text
            assert ws.row_dimensions[r].height and ws.row_dimensions[r].height > 20


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages")))


@pytest.mark.libreoffice
def test_page_counts_in_libreoffice(tmp_path, summaries, blank):
    filled = make_filled(tmp_path, _two_problems(), name="filled.xlsx")
    # The foot of each printed page of 校验结果 says what the print lists.
    foot = norm(openpyxl.load_workbook(filled)[SHEET_NAME].oddFooter.left.text)
    assert foot
    batch = tmp_path / "batch.xlsx"
    batch.write_bytes((summaries / "汇总-第一批.xlsx").read_bytes())
    overview = tmp_path / "overview.xlsx"
    overview.write_bytes((summaries / "汇总-总览.xlsx").read_bytes())
    empty = tmp_path / "blank.xlsx"
    empty.write_bytes(blank.read_bytes())
    # With 上年 cells their columns are wider, the others narrower: the same pages.
    last_year = write_workbook(tmp_path / "last_year.xlsx", FORM, previous={})
    pdfs = {p.stem: p for p in convert([filled, batch, overview, empty, last_year], tmp_path / "pdf")}
    pages = [norm(t) for t in pdf_pages(pdfs["filled"])]
    assert sum(1 for t in pages if foot in t) == 1
    # Cover and declaration, 统计表 with room for every field's longest text (7 pages),
    # 填报说明, 校验结果.
    assert len(pages) <= 11
    assert _pages(pdfs["blank"]) == len(pages)
    assert _pages(pdfs["last_year"]) == len(pages)
    # The batch: the full table's title and note, 主要指标 (its title with its table),
    # 分类统计 on one page, 提交情况, 问题清单, 图表, 与上年对比.
    batch_pages = [norm(t) for t in pdf_pages(pdfs["batch"])]
    assert len(batch_pages) <= 7
    config = merge_config(FORM)
    assert norm(config.say("print_sheet")) in batch_pages[0]
    assert norm(config.say("print_title", batch="第一批", count=9)) in batch_pages[1]
    assert "序号" in batch_pages[1]
    assert sum(1 for t in batch_pages if "部分" in t and "指标" in t and "单位" in t
               and norm(config.say("count_heading")) in t) == 1
    # The overview of the 41 sample files: its counts on one page, the sums by batch on
    # one more, then every file and every finding (a column per field printed 9 pages).
    assert _pages(pdfs["overview"]) <= 12
    # As LibreOffice lays it out (in a locale without Chinese line-breaking rules), no
    # printed line of the form's own texts starts with a closing mark.
    text = subprocess.run(["pdftotext", str(pdfs["blank"]), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert [line for line in text.splitlines() if line and line[0] in _CLOSING] == []


@pytest.mark.parametrize("name", ["汇总-第一批.xlsx", "汇总-总览.xlsx", "推荐单位"])
def test_the_findings_sheet_gives_the_messages_the_room(summaries, name, book):
    """问题清单: the short columns narrowed to what they hold, 问题说明 the widest, its
    texts broken by the program (no line starting with 「”」, 「。」 or 「)」, no cell
    reference split), and only its: names, codes and the units' own words as they are."""
    paths = sorted((summaries / name).glob("*.xlsx")) if name == "推荐单位" else [summaries / name]
    for path in paths:
        ws = book(path)["问题清单"]
        top = next(r for r in range(1, 5) if ws.cell(r, 1).value == "序号")
        if ws.max_row <= top:
            continue
        heads = [ws.cell(top, c).value for c in range(1, ws.max_column + 1)]
        widths = [column_width(ws, [c]) for c in range(1, ws.max_column + 1)]
        message = heads.index("问题说明")
        if any("\n" in str(ws.cell(r, message + 1).value) for r in range(top + 1, ws.max_row + 1)):
            # Its messages wrap (the table is wider than the page): it has the most room.
            assert widths[message] == max(widths), (path.name, widths)
            for short in ("单元格", "字段"):
                assert widths[heads.index(short)] < widths[message], (path.name, short)
        assert badly_broken(ws, top + 1, widths, messages=(message + 1,)) == [], path.name


@pytest.mark.parametrize("name", ["汇总-第四批.xlsx", "汇总-总览.xlsx", "推荐单位"])
def test_the_submissions_notes_are_broken_with_the_room(summaries, name, book):
    """提交情况: 说明 broken by the program as 问题清单's messages (no line starting with
    「。」 or 「，」, none ending with 「“」), wider than every column but 文件 (it was 20
    units, its notes six to nine lines), and the verdict first: a note never opens with how
    the file was placed."""
    paths = sorted((summaries / name).glob("*.xlsx")) if name == "推荐单位" else [summaries / name]
    seen = 0
    for path in paths:
        ws = book(path)["提交情况"]
        top = next(r for r in range(1, 6) if ws.cell(r, 1).value == "序号")
        heads = [ws.cell(top, c).value for c in range(1, ws.max_column + 1)]
        widths = [column_width(ws, [c]) for c in range(1, ws.max_column + 1)]
        note = heads.index("说明")
        assert badly_broken(ws, top + 1, widths, messages=(note + 1,)) == [], path.name
        notes = [str(ws.cell(r, note + 1).value or "") for r in range(top + 1, ws.max_row + 1)]
        if any("\n" in n for n in notes):
            # The room the page leaves is the notes' but for the file names' (the most rows).
            others = [w for j, w in enumerate(widths) if j not in (note, heads.index("文件"))]
            assert widths[note] > max(others), (path.name, widths)
        assert not [n for n in notes if n.startswith(("按文件名", "批次和单位", "表中未填"))], path.name
        seen += sum(1 for n in notes if n)
    assert seen


@pytest.mark.parametrize("name, sheet", [("汇总-第一批.xlsx", "分类统计"), ("汇总-总览.xlsx", "分批次统计")])
def test_the_sums_print_on_one_page_at_8_points_or_more(summaries, book, name, sheet):
    # Some fifty rows, six more than a page held: fitted to one page, its rows as tall as
    # set (every program alike), so that one page holds them at 80 % or more.
    ws = book(summaries / name)[sheet]
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight in (None, 1)
    rows = [ws.row_dimensions[r].height for r in range(1, ws.max_row + 1)]
    assert all(h is not None for h in rows), rows
    margins = ws.page_margins
    room_pt = (8.27 - margins.top - margins.bottom) * 72
    assert sum(rows) * LEAST_SCALE / 100 <= room_pt
    assert printed_pixels(ws, range(1, ws.max_column + 1)) * LEAST_SCALE / 100 <= LANDSCAPE_PX
