"""What a person prints: the form's pages and the summaries' print settings, read back
from the produced files with openpyxl; and one rendering through LibreOffice that
counts the pages of a filled form with 2 problems and of a batch summary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openpyxl
import pytest
from _fill import make_filled, valid_values
from _generate_helpers import convert, norm, pdf_pages

from xlsx_tools.form import load_form
from xlsx_tools.incell import SHEET_NAME
from xlsx_tools.merge import merge_config, merge_paths
from xlsx_tools.write import generate_blank

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


def test_the_checks_sheet_prints_one_page_of_its_list(blank):
    ws = openpyxl.load_workbook(blank)[SHEET_NAME]
    first, last = _print_rows(ws)
    assert first == 1
    # Not the whole list of every problem that could be open: what fits on one page.
    assert ws.page_setup.fitToHeight in (None, 1) and ws.page_setup.fitToWidth in (None, 1)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert 10 <= last < 60
    # Its rows are tall enough for a message of two lines.
    list_rows = [ws.row_dimensions[r].height for r in range(last - 5, last + 1)]
    assert min(list_rows) >= 2 * 11 * 1.4


def test_no_label_group_splits_across_pages(blank):
    """A label spanning rows (平台能力建设情况 …) starts a page rather than be cut."""
    ws = openpyxl.load_workbook(blank)[FORM.table.name]
    breaks = [b.id + 1 for b in ws.row_breaks.brk]     # rows that start a page
    assert breaks
    for c in FORM.table.cells:
        if c.kind == "label" and c.height > 1:
            assert not any(c.row < b <= c.last_row for b in breaks), c.address
    # A section heading is never the last row of a page.
    headings = {c.row for c in FORM.table.cells if c.kind == "heading"}
    assert not {b - 1 for b in breaks} & headings


def test_the_batch_summary_prints_its_main_indicators(summaries):
    config = merge_config(FORM)
    assert config.print_fields
    wb = openpyxl.load_workbook(summaries / "汇总-第一批.xlsx")
    ws = wb[config.say("print_sheet")]
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1)
    assert ws.print_title_rows == "$2:$2" and ws.print_title_cols == "$A:$B"
    assert wb.active.title == ws.title
    assert ws.max_column == 2 + len(config.print_fields)
    # The full table prints its title row only (a note there says where the paper copy is).
    full = wb["汇总"]
    assert _print_rows(full) == (1, 1)


@pytest.mark.parametrize("name", ["汇总-第一批.xlsx", "汇总-总览.xlsx"])
def test_tables_print_at_8_points_or_more(summaries, name):
    wb = openpyxl.load_workbook(summaries / name)
    for ws in wb.worksheets:
        ps = ws.page_setup
        if ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage:
            continue        # fitted: its widths are checked through the rendering below
        assert ps.scale is None or ps.scale >= 80, ws.title


def test_file_names_wrap_instead_of_being_cut(summaries):
    ws = openpyxl.load_workbook(summaries / "汇总-总览.xlsx")["提交情况"]
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
def test_page_counts_in_libreoffice(tmp_path, summaries):
    filled = make_filled(tmp_path, _two_problems(), name="filled.xlsx")
    # The foot of each printed page of 校验结果 says what the print lists.
    foot = norm(openpyxl.load_workbook(filled)[SHEET_NAME].oddFooter.left.text)
    assert foot
    batch = tmp_path / "batch.xlsx"
    batch.write_bytes((summaries / "汇总-第一批.xlsx").read_bytes())
    pdfs = {p.stem: p for p in convert([filled, batch], tmp_path / "pdf")}
    pages = [norm(t) for t in pdf_pages(pdfs["filled"])]
    assert sum(1 for t in pages if foot in t) == 1
    assert len(pages) <= 10
    assert _pages(pdfs["batch"]) <= 12
