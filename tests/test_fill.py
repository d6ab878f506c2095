"""The filler's helper (tests/_fill.py) saves what a fresh openpyxl load would save.

fill_workbook loads each source once, makes its first fill from that load and the
others from copies of it; every other test's files come from there, so a copy must
save byte for byte what loading the file again saves (but for the save time openpyxl
stamps into docProps/core.xml), with whatever a test changes in it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from _fill import (FORM, blank_workbook, fill_workbook, input_cells, loads_once, make_filled,
                   parts_but_save_time, shift_like_excel, valid_values)
from openpyxl.comments import Comment

from xlsx_tools.form import META_SHEET


def _fresh(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path, keep_vba=False)


def _comment(wb: openpyxl.Workbook) -> None:
    sheet, ref = input_cells(wb)["contact_person"]
    wb[sheet][ref].comment = Comment("联系人下周确定。", "张三")


def _drop_meta(wb: openpyxl.Workbook) -> None:
    del wb[META_SHEET]


EDITS = {
    "values": (None, {**valid_values(), "fill_date": dt.date(2022, 9, 30), "national_projects": "=1+1"}),
    "rows-inserted": (lambda wb: shift_like_excel(wb, FORM.table.name, 12, 2, "rows"), {}),
    "comment": (_comment, {"contact_person": None}),
    "sheet-deleted": (_drop_meta, {}),
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("base")
    return {"blank": blank_workbook(),
            "prefilled": blank_workbook({"unit_name": "甲检测研究院", "batch": "第二批"}),
            "filled": make_filled(base, valid_values(unit_name="乙检测研究院"))}


@pytest.mark.parametrize(("source", "change"), [("blank", "values"), ("filled", "values"),
                                                ("prefilled", "comment"), ("filled", "rows-inserted"),
                                                ("filled", "sheet-deleted")])
def test_a_copy_saves_what_a_fresh_load_saves(sources, tmp_path, source, change):
    edit, values = EDITS[change]
    # A source's first fill is made from its fresh load, later ones from copies once
    # loads_once has checked one (the first fill redone on a copy): both are compared.
    copy = fill_workbook(sources[source], tmp_path / "copy.xlsx", values, edit)
    assert loads_once(sources[source])      # else every fill loads afresh: right, but slow
    fresh = fill_workbook(sources[source], tmp_path / "fresh.xlsx", values, edit, load=_fresh)
    assert parts_but_save_time(copy.read_bytes()) == parts_but_save_time(fresh.read_bytes())
