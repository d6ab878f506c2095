"""Packages that say two things at once are refused; legal spellings read right; values
beyond what Excel holds are refused. The cases are tests/_hostile.py's (ambiguous_cases,
value_cases); each is read by the fast path and by the parse alone, with one outcome."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from _fill import make_filled, valid_values
from _hostile import MOVED_FIELD, ambiguous_cases, value_cases

from xlsx_tools.form import load_form
from xlsx_tools.read import KINDS, RejectedFile, read_workbook
from xlsx_tools.read.assemble import read_path
from xlsx_tools.validate import validate_file

FORM = load_form()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_filled(tmp_path_factory.mktemp("ambiguous-base"), valid_values())


@pytest.fixture(scope="module")
def cases(base, tmp_path_factory):
    work = tmp_path_factory.mktemp("ambiguous")
    return {c.name: c for c in ambiguous_cases(work / "a", base) + value_cases(work / "v", base)}


def outcome(path: Path, fast: bool) -> tuple[str, object]:
    try:
        data = asdict(read_path(path, FORM, fast=fast))
    except RejectedFile as e:
        return "refused", (e.kind, e.reason)
    data.pop("path")
    return "read", data


REFUSED = {
    "duplicate_entry": "duplicate_entry", "duplicate_entry_case": "duplicate_entry",
    "duplicate_cell": "duplicate_cell", "duplicate_row": "duplicate_row", "two_sheet_data": "two_sheet_data",
    "alternate_content": "alternate_content", "string_index_negative": "bad_string_index",
    "string_index_out_of_range": "bad_string_index", "duplicate_sheet": "duplicate_sheet",
    "duplicate_name": "duplicate_name", "duplicate_rel": "duplicate_rel", "decoy_sheet": "decoy_sheet",
    "digits_5000_number": "bad_number", "digits_million_number": "bad_number",
    "number_overflow": "bad_number", "digits_million_text": "text_too_long",
    "text_over_cell_limit": "text_too_long", "cell_ref_spaced": "corrupt",
}
READ_RIGHT = ("prefix_below_sheet_data", "foreign_cell", "prefix_in_sst", "row_ref_spaced")


def test_every_case_is_decided_here(cases):
    assert set(cases) == set(REFUSED) | set(READ_RIGHT) | {"digits_5000_text"}
    assert {c.kind for c in cases.values() if c.kind} <= set(KINDS)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_an_ambiguous_package_is_refused_with_its_own_kind(cases, name):
    case = cases[name]
    assert case.kind == REFUSED[name]
    with pytest.raises(RejectedFile) as e:
        read_workbook(case.path)
    assert e.value.kind == REFUSED[name], (case.note, e.value.reason)
    assert e.value.reason.endswith("。") and any("\u4e00" <= ch <= "\u9fff" for ch in e.value.reason)
    assert outcome(case.path, fast=True) == outcome(case.path, fast=False)


@pytest.mark.parametrize("name", READ_RIGHT)
def test_a_legal_spelling_reads_what_was_typed(cases, base, name):
    path = cases[name].path
    assert outcome(path, fast=True) == outcome(path, fast=False) == outcome(base, True)


def test_digits_typed_as_text_beyond_what_excel_holds_are_a_finding(cases):
    path = cases["digits_5000_text"].path
    assert outcome(path, fast=True) == outcome(path, fast=False)
    assert read_workbook(path).raw[MOVED_FIELD].value == "9" * 5000
    result = validate_file(path)
    assert result.verdict == "不通过" and result.readable
    assert [(f.code, f.fields) for f in result.findings if MOVED_FIELD in f.fields] == \
        [("not_a_number", (MOVED_FIELD,))]
