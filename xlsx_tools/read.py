"""Read a returned workbook back: the form's identity, every field's raw value.

(Contract; the implementation is being written.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .form import Form


class RejectedFile(Exception):
    """A file that is not a readable workbook of this form.

    ``reason`` is one Chinese sentence for the person who sent the file;
    ``kind`` a stable short code (``xls``, ``xlsm``, ``encrypted``, ``not_zip``,
    ``truncated``, ``other_form``, ``old_version``, ``too_large``, ``doctype``,
    ``empty``, ``unreadable``...).
    """

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass
class RawValue:
    """A cell as stored: the typed value (a formula's cached result) and the formula."""
    value: str | int | float | bool | dt.datetime | None
    cell: str                      # 统计表!C5
    formula: str | None = None     # the formula text, if the cell holds one
    is_date: bool = False          # a number whose style is a date format


@dataclass
class WorkbookData:
    path: Path
    form_id: str | None
    form_version: int | None
    meta: dict[str, str]                   # the hidden sheet's key/values, by META_KEYS key
    raw: dict[str, RawValue]               # field id -> its input cell as stored
    labels: dict[str, str]                 # '统计表!A4' -> text found at each label cell
    sheet_protected: dict[str, bool]       # visible sheet -> protected?
    names: dict[str, str]                  # field id -> where its defined name points
    sheet_names: list[str] = field(default_factory=list)


def read_workbook(path: str | Path, form: Form | None = None) -> WorkbookData:
    """Read ``path``; raise RejectedFile with a Chinese reason if it cannot be read."""
    raise NotImplementedError
