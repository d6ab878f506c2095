"""What every part that writes an .xlsx needs: measures of text, formats, Excel text.

Shared by the form's writer, the checks compiled into it, the findings report and
the merge's summaries, so that a Chinese text is measured one way and a workbook
fails one way. The only other module that touches xlsxwriter directly is
``write`` (its workbook protection).
"""

from __future__ import annotations

import datetime as dt
import errno
import math
import unicodedata
from pathlib import Path
from typing import Any, Iterable

import xlsxwriter
import xlsxwriter.exceptions

from .form import cell_name

__all__ = [
    "OutputError", "text_width", "text_lines", "row_points", "fit_width", "excel_text",
    "quote_sheet", "sheet_ref", "checked", "Formats", "new_workbook", "close_workbook",
    "os_reason", "DATE_WIDTH_SAMPLE",
]

# Points per text line for a font size, and the padding of a cell.
_LINE = 1.45
_PAD = 6.0
# A date shown as yyyy-mm-dd is this wide.
DATE_WIDTH_SAMPLE = "0000-00-00"


class OutputError(Exception):
    """A workbook could not be written; the message is Chinese, for the user."""


# -- measuring text ------------------------------------------------------------------

def text_width(text: object, size: float = 11) -> float:
    """Width of the longest line in Excel column units (a CJK character is about two)."""
    lines = str(text if text is not None else "").split("\n")
    return max(sum(2.2 if unicodedata.east_asian_width(ch) in "WF" else 1.15 for ch in line)
               for line in lines) * size / 11


def text_lines(text: str, width_units: float, size: float = 11) -> int:
    """Lines a wrapped text takes in a cell of the given width."""
    usable = max(width_units - 1.5, 1.0)
    return sum(max(1, math.ceil(text_width(p, size) / usable)) for p in str(text).split("\n"))


def row_points(lines: int, size: float = 11) -> float:
    """The height of a row holding ``lines`` lines of text."""
    return round(lines * size * _LINE + _PAD, 1)


def fit_width(texts: Iterable[object], least: float = 6, most: float = 60) -> float:
    """A column width that fits the texts, within bounds."""
    return float(min(most, max([least, *(text_width(t) for t in texts)]) + 2))


# -- Excel text -------------------------------------------------------------------------

def excel_text(s: str) -> str:
    """A string literal in a formula; long texts are joined from pieces (Excel caps a
    literal at 255 characters)."""
    pieces = [s[i:i + 200] for i in range(0, len(s), 200)] or [""]
    return "&".join('"' + p.replace('"', '""') + '"' for p in pieces)


def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def sheet_ref(sheet: str, row: int, col: int) -> str:
    """'统计表'!$C$5 (1-based row and column)."""
    return f"{quote_sheet(sheet)}!{cell_name(row, col, absolute=True)}"


def checked(code: Any, what: str) -> None:
    """xlsxwriter reports problems by return code and a warning; make them errors."""
    if isinstance(code, int) and code < 0:
        raise OutputError(f"生成工作簿时出错（{what}，代码 {code}）")


# -- workbooks and formats ------------------------------------------------------------------

class Formats:
    """xlsxwriter formats made once per distinct look, in a fixed order (same bytes)."""

    def __init__(self, workbook, **defaults: Any):
        self.workbook = workbook
        self.defaults = defaults
        self._made: dict[tuple, Any] = {}

    def get(self, **props: Any) -> Any:
        props = {**self.defaults, **props}
        key = tuple(sorted(props.items()))
        if key not in self._made:
            self._made[key] = self.workbook.add_format(props)
        return self._made[key]


def new_workbook(path: str | Path, title: str, created: dt.datetime, author: str = "xlsx-tools",
                 cls: type = xlsxwriter.Workbook, **options: Any) -> Any:
    """A workbook that keeps every text a text (no numbers, formulas or links guessed),
    dated ``created`` so that the same inputs give the same bytes."""
    wb = cls(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                         "strings_to_urls": False, **options})
    wb.set_properties({"title": title, "author": author, "created": created})
    return wb


def close_workbook(wb: Any) -> None:
    """Write a workbook out; a file that cannot be created is an OSError."""
    try:
        wb.close()
    except xlsxwriter.exceptions.FileCreateError as e:
        cause = e.args[0] if e.args and isinstance(e.args[0], OSError) else None
        if cause is not None:
            raise OSError(cause.errno, cause.strerror, cause.filename) from e
        raise OSError(str(e)) from e


_OS_REASONS = {errno.ENOTDIR: "路径中有一个同名的文件，不是文件夹",
               errno.EACCES: "没有写入权限，或同名文件正在被 Excel/WPS 打开",
               errno.EPERM: "没有写入权限",
               errno.ENOSPC: "磁盘空间不足", errno.EROFS: "磁盘是只读的",
               errno.ENAMETOOLONG: "文件名太长", errno.EEXIST: "同名的文件夹已存在",
               errno.EISDIR: "已有一个同名的文件夹"}


def os_reason(e: OSError | None) -> str:
    """Why a file could not be written, in Chinese."""
    if e is None:
        return "写入失败"
    return _OS_REASONS.get(e.errno, f"系统错误（{e.errno}）" if e.errno else "写入失败")
