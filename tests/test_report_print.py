"""The --report workbook on paper: one landscape page wide, the column of messages the
widest, and every row tall enough for the lines its texts take (read back with openpyxl)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from _generate_helpers import column_width, printed_pixels

from xlsx_tools.report import finding_header, write_report_xlsx
from xlsx_tools.validate import validate_paths
from xlsx_tools.xlsx_output import LANDSCAPE_PX, LEAST_SCALE, row_points, text_lines

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = validate_paths([SAMPLES / "returned"], jobs=1)
    path = write_report_xlsx(run, tmp_path_factory.mktemp("report") / "问题清单.xlsx")
    return openpyxl.load_workbook(path), run


def _widths(ws) -> list[float]:
    return [column_width(ws, [c]) for c in range(1, ws.max_column + 1)]


def test_every_sheet_is_one_landscape_page_wide_at_8_points_or_more(report):
    wb, _run = report
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0   # 1: the default
        pixels = printed_pixels(ws, range(1, ws.max_column + 1))
        assert pixels * LEAST_SCALE / 100 <= LANDSCAPE_PX, ws.title


def test_the_messages_get_the_widest_column(report):
    wb, run = report
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    assert header == list(finding_header(run.form))
    widths = _widths(ws)
    message = header.index("说明")
    assert widths[message] == max(widths)
    assert widths[message] > 1.3 * sorted(widths)[-2]


def test_each_row_has_room_for_its_lines(report):
    wb, _run = report
    for ws in wb.worksheets:
        widths = _widths(ws)
        assert ws.max_row > 2, ws.title
        for row in ws.iter_rows(min_row=2):
            lines = max(text_lines(str(c.value), widths[c.column - 1]) for c in row if c.value is not None)
            height = ws.row_dimensions[row[0].row].height or 15
            # xlsxwriter keeps a height in whole pixels (0.75 pt)
            assert height >= row_points(lines) - 0.75, (ws.title, row[0].row)
