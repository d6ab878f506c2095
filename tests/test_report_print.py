"""The --report workbook on paper: one landscape page wide, the column of messages the
widest, and every row tall enough for the lines its texts take (read back with openpyxl)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from _generate_helpers import badly_broken, column_width, printed_pixels

from xlsx_tools.report import SIZE, finding_header, write_report_xlsx
from xlsx_tools.validate import validate_paths
from xlsx_tools.xlsx_output import (LANDSCAPE_PX, LEAST_SCALE, row_points, text_lines, text_table_widths,
                                    text_width)

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
        for row in ws.iter_rows():
            lines = max(text_lines(str(c.value), widths[c.column - 1], SIZE) for c in row
                        if c.value is not None)
            height = ws.row_dimensions[row[0].row].height or 15
            # xlsxwriter keeps a height in whole pixels (0.75 pt)
            assert height >= row_points(lines, SIZE) - 0.75, (ws.title, row[0].row)


def test_a_typical_message_takes_one_or_two_lines(report):
    # The short columns narrowed to what they hold, the messages get what is left: the
    # median message is at most two lines (capping every column alike gave it four).
    wb, _run = report
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    message = header.index("说明")
    width = _widths(ws)[message]
    lines = sorted(text_lines(row[message].value, width, SIZE) for row in ws.iter_rows(min_row=2))
    assert lines[len(lines) // 2] <= 2, lines
    # The rows no taller than the message needs: no other column wraps into more lines
    # than three where the message takes fewer.
    for row in ws.iter_rows(min_row=2):
        height = ws.row_dimensions[row[0].row].height or 15
        assert height <= row_points(max(3, text_lines(row[message].value, width, SIZE)), SIZE) + 0.75


def test_the_short_columns_are_no_wider_than_what_they_hold(report):
    wb, _run = report
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    widths = _widths(ws)
    for name in ("严重程度", "代码", "单元格"):
        j = header.index(name)
        texts = [r[j].value for r in ws.iter_rows()]
        assert widths[j] <= max(text_width(t, SIZE) for t in texts) + 2.5, name


@pytest.mark.parametrize("rows", [
    [],                                                        # no findings: the headers alone
    [("短", "短", "说明" * 300, "说明" * 250)],                 # one message and one explanation of hundreds
    [("文件名" * 20, "单位" * 20, "短", "") for _ in range(3)],   # nothing long in the text column
])
def test_the_widths_fit_the_page_whatever_the_texts(rows):
    header = ("文件", "单位名称", "说明", "审核说明")
    widths = text_table_widths([[h, *(r[j] for r in rows)] for j, h in enumerate(header)], 2, SIZE)
    assert sum(int(w * 7 + 0.5) + 5 for w in widths) * LEAST_SCALE / 100 <= LANDSCAPE_PX
    assert min(widths) >= 6


def test_the_program_breaks_the_lines_and_keeps_references_whole(report):
    # LibreOffice breaks a long text anywhere: 「统计表!\nC18」, a line starting with 「)」.
    wb, _run = report
    for ws in wb.worksheets:
        widths = _widths(ws)
        assert badly_broken(ws, 2, widths, SIZE) == [], ws.title
