"""What the reader gives: a workbook's identity and every field's cell as stored."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = ["Cell", "RawValue", "SheetCells", "Stored", "WorkbookData"]


@dataclass
class RawValue:
    """A cell as stored: the typed value (a formula's cached result) and the formula.

    Numbers in a date-formatted cell come as ``datetime`` with ``is_date`` set.
    Error results (``#DIV/0!``) come as their text.
    """
    value: str | int | float | bool | dt.datetime | None
    cell: str                      # 统计表!C5: where the value was read
    formula: str | None = None     # the formula text (without '='), if the cell holds one
    is_date: bool = False          # a number whose style is a date format


@dataclass
class WorkbookData:
    """What a returned workbook holds, for the checks.

    ``raw`` has every field of the form (``RawValue(None, cell)`` for an empty
    cell); ``RawValue.cell`` is where it was read, which differs from the layout
    when rows or columns were inserted.

    ``moved``: fields whose defined name could not be trusted (missing,
    ``#REF!``, or pointing somewhere that disagrees with every other name);
    the value says where the name pointed ('' when there is none). Such a field
    was read at its layout position shifted like its neighbours, or is left
    empty when that cell belongs to another field.
    ``shifted``: field id -> (rows, columns) between the layout cell and the cell
    read, only where non-zero (rows or columns were inserted or deleted above or
    left of it). ``row_offset``/``col_offset``: per sheet of the layout, the
    shift most of its inputs have.
    ``labels``: layout address of every label cell ('统计表!A4') -> the text
    found there (read at the layout position shifted like the inputs nearby);
    ``label_cells``: for the labels read elsewhere than their layout address,
    where ('统计表!A7'), to name the cell in a finding.
    ``sheet_protected``: for the form's sheets of the layout (封面, 统计表).
    ``field_map``: the hidden sheet's map, field id -> '统计表!C5'; read only
    for an older form version (or an unreadable version), where it places the fields.
    ``sheet_states``: every sheet -> visible | hidden | veryHidden.
    ``named``: the cells of other defined names, by name: the 上年 cells (prev_<id>),
    and those asked for (expl_<code>); a name the workbook lacks, or that names no
    cell, is absent.
    """
    path: Path
    form_id: str | None
    form_version: int | None
    meta: dict[str, str]                   # the hidden sheet's key/values, by META_KEYS key
    raw: dict[str, RawValue]               # field id -> its input cell as stored
    labels: dict[str, str]                 # '统计表!A4' -> text found at each label cell
    sheet_protected: dict[str, bool]       # visible sheet -> protected?
    names: dict[str, str]                  # field id -> where its defined name points ('统计表!C5')
    sheet_names: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)
    shifted: dict[str, tuple[int, int]] = field(default_factory=dict)
    row_offset: dict[str, int] = field(default_factory=dict)
    col_offset: dict[str, int] = field(default_factory=dict)
    workbook_protected: bool = False
    sheet_states: dict[str, str] = field(default_factory=dict)
    field_map: dict[str, str] = field(default_factory=dict)
    label_cells: dict[str, str] = field(default_factory=dict)
    named: dict[str, RawValue] = field(default_factory=dict)


@dataclass(slots=True)
class Cell:
    """One stored cell of a worksheet, before its value is typed."""
    t: str = "n"                   # the cell type attribute
    s: int = 0                     # the style index
    v: str | None = None           # <v>: the value or a formula's cached result
    f: str | None = None           # <f>: the formula ('' in the cells that share another's)
    text: str | None = None        # <is>: an inline string's text


class Stored(NamedTuple):
    """A cell as the fast path found it, its attributes and contents still bytes (see
    :func:`.fast.decode`): what it holds is a function of these bytes alone."""
    s: bytes
    t: bytes
    inner: bytes


@dataclass
class SheetCells:
    """The cells asked for of one worksheet, and whether the sheet is protected."""
    cells: dict[tuple[int, int], Cell | Stored]
    protected: bool = False
