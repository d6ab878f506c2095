"""The --report workbook on paper: one landscape page wide, the column of messages the
widest, and every row tall enough for the lines its texts take (read back with openpyxl)."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest
from _generate_helpers import badly_broken, column_width, norm, printed_pixels

from xlsx_tools.report import SIZE, file_rows, finding_header, finding_rows, write_report_xlsx
from xlsx_tools.validate import UNREADABLE, validate_paths
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
    # median message is at most three lines, the file names' lines (capping every column
    # alike gave it four; 代码 kept wide enough for 无法读取 costs the messages 1.5 units).
    wb, _run = report
    ws = wb.worksheets[0]
    header = [c.value for c in ws[1]]
    message = header.index("说明")
    width = _widths(ws)[message]
    lines = sorted(text_lines(row[message].value, width, SIZE) for row in ws.iter_rows(min_row=2))
    assert lines[len(lines) // 2] <= 3, lines
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
    # The program breaks the messages only (说明, 无法读取的原因, the last column of 文件情况).
    wb, _run = report
    for ws in wb.worksheets:
        header = [c.value for c in ws[1]]
        message = header.index("说明" if "说明" in header else "无法读取的原因") + 1
        assert badly_broken(ws, 2, _widths(ws), SIZE, (message,)) == [], ws.title


def test_names_codes_and_verdicts_are_written_as_they_are(report):
    # Only the messages carry written line breaks: a clerk filters 结论 on 无法读取 and
    # searches a file or unit by its name.
    wb, run = report
    shown = {r.file: os.path.relpath(r.file, SAMPLES / "returned") for r in run.files}
    for ws, rows, message in ((wb["问题清单"], finding_rows(run), 6), (wb["文件情况"], file_rows(run), 8)):
        written = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
        expected = [[shown[r[0]], *r[1:]] for r in rows]
        assert [r[:message] + r[message + 1:] for r in written] == \
            [[v if v != "" else None for v in r[:message] + r[message + 1:]] for r in expected], ws.title
        assert [norm(r[message]) for r in written] == [norm(r[message]) for r in expected], ws.title
    assert UNREADABLE in [r[4] for r in wb["文件情况"].iter_rows(min_row=2, values_only=True)]
