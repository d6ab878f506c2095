"""A1 cell references within Excel's grid (1,048,576 rows by 16,384 columns)."""

from __future__ import annotations

import re

from ..form import column_number

__all__ = ["MAX_COL", "MAX_ROW", "split_ref"]

MAX_ROW = 1_048_576
MAX_COL = 16_384            # XFD

_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")


def split_ref(ref: str) -> tuple[int, int] | None:
    """'C5' -> (5, 3); None for anything that is not a cell of the grid."""
    m = _REF.fullmatch(ref)
    if not m:
        return None
    col = column_number(m.group(1))
    row = int(m.group(2))
    if not (1 <= row <= MAX_ROW and col <= MAX_COL):
        return None
    return row, col
