"""Reading returned workbooks: real generated files, filled in openpyxl, re-saved in
LibreOffice, and every kind of bad file of tests/_hostile.py."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from _fill import fill_workbook, shift_like_excel
from _hostile import (
    INSERTED_ROWS,
    MOVED_FIELD,
    convert,
    libreoffice_cases,
    make_corpus,
    rewrite_zip,
    symlink_loop,
    table_part,
    with_shared_strings,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from _examples import examples

from xlsx_tools.clean import clean_value
from xlsx_tools.form import META_SHEET, NAME_PREFIX, cell_name, load_form
from xlsx_tools.gather import iter_returned_files
from xlsx_tools.read import (
    KINDS,
    MAX_ARCHIVE_UNCOMPRESSED,
    MAX_CELLS,
    MAX_UNCOMPRESSED,
    RejectedFile,
    WorkbookData,
    read_workbook,
)
from xlsx_tools.read.assemble import read_path
from xlsx_tools.read.fast import SOUND, fast_shared_strings
from xlsx_tools.read.package import Package
from xlsx_tools.read.refusal import IDENTITY_KINDS
from xlsx_tools.read.parse import parse_shared_strings
from xlsx_tools.write import write_workbook

FORM = load_form()
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
TABLE = FORM.table.name
COVER = FORM.cover.name


def typed_values(seed: int = 0) -> dict[str, object]:
    """A value for every field, as a filler's cell holds it (numbers as numbers)."""
    out: dict[str, object] = {}
    for i, f in enumerate(FORM.fields):
        n = seed + i
        if f.type == "int":
            out[f.id] = n + 1
        elif f.type == "amount":
            out[f.id] = float(Decimal(n) + Decimal("0.25"))
        elif f.type == "date":
            out[f.id] = dt.datetime(2022, 9, 1 + n % 28)
        elif f.type == "choice":
            out[f.id] = f.choices[n % len(f.choices)]
        elif f.type == "phone":
            out[f.id] = f"010-6820{5200 + n}"
        elif f.type == "mobile":
            out[f.id] = f"1381234{5600 + n}"
        elif f.type == "email":
            out[f.id] = f"user{n}@example.com"
        elif f.type == "postcode":
            out[f.id] = f"{100000 + n}"
        elif f.type == "longtext":
            out[f.id] = (f"第{n}项：平台围绕主要服务领域开展检测、咨询与培训工作，服务效果良好。"
                         "\n第二行 & <说明>")
        else:
            out[f.id] = f"内容{n}（测试）"
    return out


def expected_clean(values: dict[str, object]) -> dict[str, object]:
    out = {}
    for fid, v in values.items():
        f = FORM.field(fid)
        if f.type == "amount":
            out[fid] = Decimal(str(v))
        elif f.type == "date":
            out[fid] = v.date()
        else:
            out[fid] = v
    return out


def cleaned(data: WorkbookData) -> dict[str, object]:
    out = {}
    for f in FORM.fields:
        c = clean_value(f, data.raw[f.id])
        assert c.code is None, (f.id, data.raw[f.id], c)
        out[f.id] = c.value
    return out


def unbroken(text: object) -> str:
    """A label without its line breaks (the writer breaks labels to fit their cells)."""
    return re.sub(r"\s+", "", str(text or ""))


def layout_labels() -> dict[str, str]:
    return {c.address: unbroken(c.text) for c in FORM.label_cells()}


def labels_read(data: WorkbookData) -> dict[str, str]:
    return {a: unbroken(t) for a, t in data.labels.items()}


# -- fixtures ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("read")


@pytest.fixture(scope="module")
def blank(work):
    return write_workbook(work / "blank.xlsx", FORM)


@pytest.fixture(scope="module")
def filled(work, blank):
    return fill_workbook(blank, work / "filled.xlsx", typed_values())


@pytest.fixture(scope="module")
def corpus(work, filled):
    return {c.name: c for c in make_corpus(work / "hostile", filled)}


# Files re-saved together in ONE LibreOffice call.
LO_CASES = ("filled", "as_text", "formula", "rows_inserted", "rows_inserted_mid", "name_elsewhere",
            "meta_deleted", "label_edited")


@pytest.fixture(scope="module")
def lo_sources(work, blank, filled, corpus):
    src = work / "lo-src"
    src.mkdir()
    files = {"filled": filled}
    files["as_text"] = fill_workbook(blank, src / "as_text.xlsx", as_typed_text())
    values = typed_values()
    values["service_count"] = "=3*4"
    files["formula"] = fill_workbook(blank, src / "formula.xlsx", values)
    files["rows_inserted"] = corpus["rows_inserted"].path
    files["rows_inserted_mid"] = fill_workbook(
        filled, src / "rows_inserted_mid.xlsx",
        edit=lambda wb: shift_like_excel(wb, TABLE, mid_row(), 2, "rows"))
    files["name_elsewhere"] = corpus["name_elsewhere"].path
    files["meta_deleted"] = corpus["meta_deleted"].path
    files["label_edited"] = corpus["label_edited"].path
    named = {}
    for key, path in files.items():
        target = src / f"{key}.xlsx"
        if path != target:
            target.write_bytes(path.read_bytes())
        named[key] = target
    return named


@pytest.fixture(scope="module")
def lo_files(work, lo_sources):
    out = convert([lo_sources[k] for k in LO_CASES], work / "lo")
    return dict(zip(LO_CASES, out))


def mid_row() -> int:
    """A table row between two sections (inputs above and below it)."""
    rows = sorted(c.row for c in FORM.table.cells if c.kind == "input")
    return rows[len(rows) // 2]


def as_typed_text() -> dict[str, object]:
    """Every number typed as text, in the ways people type them."""
    out = typed_values()
    for f in FORM.fields:
        v = out[f.id]
        if f.type == "int":
            out[f.id] = f" {v:,}{f.unit} " if v % 2 else str(v).translate(FULL_WIDTH)
        elif f.type == "amount":
            out[f.id] = f"{v}万元"
        elif f.type == "date":
            out[f.id] = f"{v.year}年{v.month}月{v.day}日"
    return out


# -- reading what was written ------------------------------------------------------

def test_blank_workbook_reads_as_this_form_with_every_field_empty(blank):
    data = read_workbook(blank)
    assert (data.form_id, data.form_version) == (FORM.id, FORM.version)
    assert set(data.raw) == {f.id for f in FORM.fields}
    assert all(r.value is None and r.formula is None for r in data.raw.values())
    assert {fid: r.cell for fid, r in data.raw.items()} == {
        f.id: FORM.input_cell(f.id).address for f in FORM.fields}
    assert labels_read(data) == layout_labels()
    assert data.sheet_protected == {COVER: True, TABLE: True}
    assert data.moved == {} and data.shifted == {} and data.label_cells == {}
    assert data.names == {f.id: FORM.input_cell(f.id).address for f in FORM.fields}
    assert META_SHEET in data.sheet_names


def test_filled_values_read_back_to_what_was_typed(filled):
    data = read_workbook(filled)
    assert cleaned(data) == expected_clean(typed_values())


def test_prefilled_workbook_meta_is_read(work):
    prefill = {"unit_name": "某某检测研究院", "batch": "第三批", "platform_category": "信息服务",
               "recommending_unit": "某省工业和信息化厅"}
    data = read_workbook(write_workbook(work / "prefilled.xlsx", FORM, prefill))
    assert data.meta["prefill_unit_name"] == "某某检测研究院"
    assert data.meta["prefill_batch"] == "第三批"
    assert data.raw["unit_name"].value == "某某检测研究院"


def test_numbers_and_dates_typed_as_text_are_read_to_the_same_values(work, blank):
    data = read_workbook(fill_workbook(blank, work / "text.xlsx", as_typed_text()))
    assert cleaned(data) == expected_clean(typed_values())


def test_formula_without_cached_value_is_reported_and_keeps_the_formula(work, blank):
    values = typed_values()
    values["service_count"] = "=3*4"
    data = read_workbook(fill_workbook(blank, work / "formula.xlsx", values))
    raw = data.raw["service_count"]
    assert raw.formula == "3*4" and raw.value is None
    assert clean_value(FORM.field("service_count"), raw).code == "formula_no_value"


def test_1904_date_system_gives_the_same_dates(work, blank):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    def to_1904(wb):
        wb.epoch = CALENDAR_MAC_1904
    values = typed_values()
    data = read_workbook(fill_workbook(blank, work / "mac.xlsx", values, edit=to_1904))
    date_fields = [f.id for f in FORM.fields if f.type == "date"]
    assert date_fields
    for fid in date_fields:
        assert clean_value(FORM.field(fid), data.raw[fid]).value == values[fid].date()


def test_rows_inserted_in_the_middle_shift_only_the_fields_below(work, filled):
    before = mid_row()
    path = fill_workbook(filled, work / "mid.xlsx",
                         edit=lambda wb: shift_like_excel(wb, TABLE, before, 2, "rows"))
    data = read_workbook(path)
    assert data.moved == {}
    assert cleaned(data) == expected_clean(typed_values())
    for f in FORM.fields:
        cell = FORM.input_cell(f.id)
        want = (2, 0) if cell.sheet == TABLE and cell.row >= before else None
        assert data.shifted.get(f.id) == want, f.id
    assert labels_read(data) == layout_labels()


def test_column_inserted_is_followed(work, filled):
    first_input_col = min(c.col for c in FORM.table.cells if c.kind == "input")
    path = fill_workbook(filled, work / "col.xlsx",
edit=lambda wb: shift_like_excel(wb, TABLE, first_input_col, 1, "cols"))
    data = read_workbook(path)
    assert data.moved == {} and data.col_offset[TABLE] == 1
    assert cleaned(data) == expected_clean(typed_values())
    assert {fid for fid, s in data.shifted.items() if s == (0, 1)} == {
        f.id for f in FORM.fields if FORM.input_cell(f.id).sheet == TABLE}


def test_row_deleted_between_inputs_is_followed_and_its_label_missed(work, filled):
    input_rows = {c.row for c in FORM.table.cells if c.kind == "input"}
    top = min(input_rows)
    row = next(r for r in range(top, FORM.table.rows) if r not in input_rows
               and any(c.kind == "label" and c.row == r for c in FORM.table.cells))
    path = fill_workbook(filled, work / "deleted.xlsx",
                         edit=lambda wb: shift_like_excel(wb, TABLE, row, -1, "rows"))
    data = read_workbook(path)
    assert data.moved == {}
    assert cleaned(data) == expected_clean(typed_values())
    below = {f.id for f in FORM.fields
             if FORM.input_cell(f.id).sheet == TABLE and FORM.input_cell(f.id).row > row}
    assert {fid for fid, s in data.shifted.items() if s == (-1, 0)} == below
    assert any(unbroken(data.labels[c.address]) != unbroken(c.text)
               for c in FORM.label_cells() if c.sheet == TABLE and c.row == row)


def test_input_row_deleted_leaves_its_name_broken_and_the_field_empty(work, filled):
    victim = "service_count"
    row = FORM.input_cell(victim).row
    path = fill_workbook(filled, work / "input-deleted.xlsx",
                         edit=lambda wb: shift_like_excel(wb, TABLE, row, -1, "rows"))
    data = read_workbook(path)
    gone = {f.id for f in FORM.fields
            if FORM.input_cell(f.id).sheet == TABLE and FORM.input_cell(f.id).row == row}
    assert victim in gone and set(data.moved) == gone
    assert all(data.moved[fid] == "#REF!" for fid in gone)
    assert all(data.raw[fid].value is None for fid in gone)   # never a neighbour's value
    values = typed_values()
    for fid in set(values) - gone:
        assert clean_value(FORM.field(fid), data.raw[fid]).value == expected_clean(values)[fid], fid


def test_name_pointing_elsewhere_and_rows_inserted_together(work, corpus):
    def point(wb):
        wb.defined_names[NAME_PREFIX + MOVED_FIELD].attr_text = f"'{TABLE}'!$B$2"
    data = read_workbook(fill_workbook(corpus["rows_inserted"].path, work / "both.xlsx", edit=point))
    assert set(data.moved) == {MOVED_FIELD}
    assert data.raw[MOVED_FIELD].value == typed_values()[MOVED_FIELD]
    cell = FORM.input_cell(MOVED_FIELD)
    assert data.raw[MOVED_FIELD].cell == f"{TABLE}!{cell_name(cell.row + INSERTED_ROWS, cell.col)}"


def test_two_names_swapped_are_both_untrusted(work, filled):
    a, b = "service_count", "sme_service_count"

    def swap(wb):
        ta = wb.defined_names[NAME_PREFIX + a].attr_text
        wb.defined_names[NAME_PREFIX + a].attr_text = wb.defined_names[NAME_PREFIX + b].attr_text
        wb.defined_names[NAME_PREFIX + b].attr_text = ta
    data = read_workbook(fill_workbook(filled, work / "swapped.xlsx", edit=swap))
    assert set(data.moved) == {a, b}
    assert cleaned(data) == expected_clean(typed_values())


def test_renamed_sheet_is_followed_through_its_names(work, filled):
    def rename(wb):
        wb[TABLE].title = "Sheet1"
        for dn in wb.defined_names.values():
            dn.attr_text = dn.attr_text.replace(f"'{TABLE}'!", "'Sheet1'!").replace(f"{TABLE}!", "Sheet1!")
    data = read_workbook(fill_workbook(filled, work / "renamed.xlsx", edit=rename))
    assert cleaned(data) == expected_clean(typed_values())
    assert data.raw["service_count"].cell.startswith("Sheet1!")
    assert "Sheet1" in data.sheet_names and TABLE not in data.sheet_names


def read_both_ways(path: Path) -> tuple[WorkbookData, WorkbookData]:
    """(by the fast path where it applies, by the parse alone)."""
    return read_workbook(path), read_path(Path(path), FORM, fast=False)


def test_fast_scans_agree_with_the_parser(work, filled, corpus, blank):
    files = [filled, blank, corpus["rows_inserted"].path, corpus["name_elsewhere"].path,
             fill_workbook(blank, work / "fast.xlsx", as_typed_text())]
    for path in files:
        fast, slow = read_both_ways(path)
        assert fast == slow, path.name


def test_shared_strings_with_entities_runs_and_phonetics(work, filled):
    """A shared-string table as Excel and WPS write it, read the same by both paths."""
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="6" uniqueCount="6">'
           '<si><t>A &amp; B &lt;C&gt; &#x4E2D;&#25991;</t></si>'
           '<si><r><rPr><b/><sz val="11"/></rPr><t xml:space="preserve">富 </t></r><r><t>文本</t></r></si>'
           '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/></si>'
           '<si><t/></si>'
           '<si><t>line1_x000D_\r\nline2</t></si>'
           '<si><t>12</t></si></sst>').encode()
    expected = ["A & B <C> 中文", "富 文本", "漢字", "", "line1\r\nline2", "12"]
    assert parse_shared_strings(sst) == expected
    # The fast path gives the same, where this Python's re reads it right (fast.SOUND).
    assert fast_shared_strings(sst) == (expected if SOUND else None)
    # The parser gives the same: put the table into a workbook and read a cell that uses it.
    table_xml = table_part(filled, TABLE)
    cell = FORM.input_cell("unit_name")
    with zipfile.ZipFile(filled) as z:
        sheet = z.read(table_xml).decode()
    sheet = re.sub(rf'<c r="{cell.ref}"[^>]*?(/>|>.*?</c>)',
                   f'<c r="{cell.ref}" t="s"><v>0</v></c>', sheet, count=1, flags=re.DOTALL)
    path = with_shared_strings(filled, work / "sst.xlsx", sst, {table_xml: sheet.encode()})
    assert [d.raw["unit_name"].value for d in read_both_ways(path)] == [expected[0]] * 2


# -- LibreOffice -------------------------------------------------------------------

def comparable(data: WorkbookData) -> dict:
    """What the checks use; LibreOffice drops workbook protection and veryHidden, nothing else."""
    return {
        "form": (data.form_id, data.form_version), "meta": data.meta,
        "values": {f.id: clean_value(f, data.raw[f.id]) for f in FORM.fields},
        "cells": {fid: r.cell for fid, r in data.raw.items()},
        "labels": data.labels, "protected": data.sheet_protected, "names": data.names,
        "moved": data.moved, "shifted": data.shifted,
        "offsets": (data.row_offset, data.col_offset),
    }


@pytest.mark.libreoffice
@pytest.mark.parametrize("case", [c for c in LO_CASES if c != "formula"])
def test_libreoffice_resave_reads_like_the_original(lo_sources, lo_files, case):
    original = read_workbook(lo_sources[case])
    resaved = read_workbook(lo_files[case])
    assert comparable(resaved) == comparable(original)


@pytest.mark.libreoffice
def test_libreoffice_resave_fills_in_a_formula_result(lo_files):
    raw = read_workbook(lo_files["formula"]).raw["service_count"]
    assert raw.formula and raw.formula.replace(" ", "") == "3*4"
    assert clean_value(FORM.field("service_count"), raw).value == 12


@pytest.mark.libreoffice
def test_libreoffice_resave_fast_scans_agree_with_the_parser(lo_files):
    for path in lo_files.values():
        fast, slow = read_both_ways(path)
        assert fast == slow, path.name


@pytest.mark.libreoffice
def test_legacy_xls_is_rejected(work, filled):
    (case,) = libreoffice_cases(work / "lo-xls", filled)
    with pytest.raises(RejectedFile) as e:
        read_workbook(case.path)
    assert e.value.kind == "xls" and "另存为" in e.value.reason


# -- hostile files -----------------------------------------------------------------

REJECTED = ["empty", "truncated", "bit_flipped", "csv", "html", "pdf", "random", "docx", "xlsm",
            "encrypted", "bomb_ratio", "bomb_cap", "bomb_lying", "million_rows", "billion_laughs",
            "external_entity", "late_doctype", "malformed_xml", "other_form", "other_form_id",
            "newer_version", "meta_and_names_deleted"]


def is_chinese_sentence(text: str) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text) and text.endswith("。")


@pytest.mark.parametrize("name", REJECTED)
def test_hostile_file_is_rejected_with_one_chinese_reason(corpus, name):
    case = corpus[name]
    assert case.rejected
    with pytest.raises(RejectedFile) as e:
        read_workbook(case.path)
    assert e.value.kind in (case.kind, *case.kinds), (case.note, e.value.kind, e.value.reason)
    assert is_chinese_sentence(e.value.reason), e.value.reason
    assert "Traceback" not in e.value.reason and "Error" not in e.value.reason


def test_every_case_of_the_corpus_is_checked(corpus):
    """The corpus's other cases (ambiguous packages, values beyond Excel's) have their own tests."""
    from test_read_ambiguous import READ_RIGHT, REFUSED
    read_cases = {"older_version", "meta_deleted", "name_elsewhere", "label_edited",
                  "rows_inserted", "unprotected", "odd_name", "long_name", "read_only"}
    assert set(corpus) == set(REJECTED) | read_cases | set(REFUSED) | set(READ_RIGHT) | {"digits_5000_text"}
    assert {n for n, c in corpus.items() if c.rejected} >= set(REJECTED) | set(REFUSED)


def test_bomb_is_refused_from_the_zip_directory_before_inflating(corpus, monkeypatch):
    inflated = []
    real = Package.chunks

    def spy(self, name):
        for chunk in real(self, name):
            inflated.append(len(chunk))
            yield chunk
    monkeypatch.setattr(Package, "chunks", spy)
    with pytest.raises(RejectedFile) as e:
        read_workbook(corpus["bomb_ratio"].path)
    assert e.value.kind == "too_large"
    assert sum(inflated) == 0


def test_a_changed_digit_in_an_uncompressed_member_is_damage_not_a_value(work, filled):
    """Stored (not deflated) members have only their CRC to show a flipped bit."""
    table_xml = table_part(filled, TABLE)
    stored = rewrite_zip(filled, work / "stored.xlsx", compress=zipfile.ZIP_STORED)
    assert read_workbook(stored).raw[MOVED_FIELD].value == typed_values()[MOVED_FIELD]
    data = bytearray(stored.read_bytes())
    ref = FORM.input_cell(MOVED_FIELD).ref
    with zipfile.ZipFile(stored) as z:
        info = z.getinfo(table_xml)
    at = data.index(b'<c r="%s"' % ref.encode(), info.header_offset)
    at = data.index(b"<v>", at) + 3
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    damaged = work / "stored-damaged.xlsx"
    damaged.write_bytes(bytes(data))
    with pytest.raises(RejectedFile) as e:
        read_workbook(damaged)
    assert e.value.kind == "corrupt"


def test_older_version_is_read_with_its_version(corpus):
    data = read_workbook(corpus["older_version"].path)
    assert data.form_id == FORM.id and data.form_version == FORM.version - 1
    assert cleaned(data) == expected_clean(typed_values())
    assert data.field_map   # placed by its own map


def test_hidden_sheet_deleted_but_names_kept_is_read_without_identity(corpus):
    data = read_workbook(corpus["meta_deleted"].path)
    assert data.form_id is None and data.form_version is None
    assert META_SHEET not in data.sheet_names
    assert cleaned(data) == expected_clean(typed_values())


def test_name_pointing_elsewhere_is_untrusted_and_the_layout_cell_read(corpus):
    data = read_workbook(corpus["name_elsewhere"].path)
    assert data.moved == {MOVED_FIELD: f"{TABLE}!A1"}
    assert data.names[MOVED_FIELD] == f"{TABLE}!A1"
    assert data.raw[MOVED_FIELD].cell == FORM.input_cell(MOVED_FIELD).address
    assert cleaned(data) == expected_clean(typed_values())


def test_edited_label_is_reported_as_found(corpus):
    data = read_workbook(corpus["label_edited"].path)
    changed = {a: t for a, t in labels_read(data).items() if t != layout_labels()[a]}
    assert len(changed) == 1
    (address, text), = changed.items()
    assert text.endswith("（已改）") and address.startswith(TABLE + "!")


def test_rows_inserted_above_the_table_are_followed(corpus):
    data = read_workbook(corpus["rows_inserted"].path)
    assert data.row_offset[TABLE] == INSERTED_ROWS and data.row_offset[COVER] == 0
    assert data.moved == {}
    assert cleaned(data) == expected_clean(typed_values())
    assert labels_read(data) == layout_labels()
    assert data.label_cells == {c.address: f"{TABLE}!{cell_name(c.row + INSERTED_ROWS, c.col)}"
                                for c in FORM.label_cells() if c.sheet == TABLE}
    assert {fid for fid, s in data.shifted.items()} == {
        f.id for f in FORM.fields if FORM.input_cell(f.id).sheet == TABLE}


def test_unprotected_sheet_is_reported(corpus):
    data = read_workbook(corpus["unprotected"].path)
    assert data.sheet_protected == {COVER: True, TABLE: False}


@pytest.mark.parametrize("name", ["odd_name", "long_name", "read_only"])
def test_odd_names_and_read_only_files_read_normally(corpus, name):
    path = corpus[name].path
    if name == "long_name":
        assert len(path.name) == 200
    data = read_workbook(path)
    assert cleaned(data) == expected_clean(typed_values())


def test_missing_file_folder_and_unreadable_file(work, filled):
    with pytest.raises(RejectedFile) as e:
        read_workbook(work / "nope.xlsx")
    assert e.value.kind == "missing"
    with pytest.raises(RejectedFile) as e:
        read_workbook(work)
    assert e.value.kind == "not_a_file"
    if os.geteuid() != 0:   # root reads anything
        p = work / "locked.xlsx"
        p.write_bytes(filled.read_bytes())
        p.chmod(0)
        with pytest.raises(RejectedFile) as e:
            read_workbook(p)
        assert e.value.kind == "permission"


def test_rejection_survives_pickling_between_processes():
    sent = RejectedFile("too_large", "rows", n=100_000)
    e = pickle.loads(pickle.dumps(sent))
    assert (e.kind, e.code, e.variant, e.params) == ("too_large", "too_large", "rows", {"n": 100_000})
    assert e.reason == str(e) == sent.reason and "100000" in e.reason


def test_every_refusal_is_worded_by_the_catalogue_and_a_form_may_reword_it():
    """Each kind has its words in catalogue.toml; a form's [catalogue] rewords a refusal."""
    from xlsx_tools.catalogue import CATALOGUE

    for kind in KINDS:
        e = RejectedFile(kind, "other_form", code="R20") if kind in IDENTITY_KINDS else RejectedFile(kind)
        assert CATALOGUE.get(e.code) is not None and is_chinese_sentence(e.reason), kind
    reworded = load_form(Path(FORM.source).read_text(encoding="utf-8")
                         + '\n[catalogue.codes.xls.messages]\ndefault = "旧格式。"\n')
    assert RejectedFile("xls").reason_in(reworded.catalogue) == "旧格式。"


def test_limits_are_sane():
    assert 1024 * 1024 <= MAX_UNCOMPRESSED <= MAX_ARCHIVE_UNCOMPRESSED
    assert MAX_CELLS >= 10 * sum(s.rows * s.columns for s in FORM.sheets)


# -- damage anywhere ---------------------------------------------------------------

@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4))
def test_damaged_bytes_give_a_workbook_or_a_rejection_never_a_crash(filled, tmp_path_factory, cut, flips):
    data = bytearray(filled.read_bytes())
    for where, mask in flips:
        data[int(where * (len(data) - 1))] ^= mask
    data = data[: max(1, int(len(data) * cut))] if cut < 1 else data
    path = tmp_path_factory.mktemp("damaged") / "damaged.xlsx"
    path.write_bytes(bytes(data))
    try:
        result = read_workbook(path)
    except RejectedFile as e:
        assert is_chinese_sentence(e.reason)
    else:
        # Damage the reader does not refuse lies in what it does not read (another
        # sheet, the zip's dates): what it read is the original, to the last cell.
        assert comparable(result) == comparable(read_workbook(filled))


# -- walking folders ---------------------------------------------------------------

def test_folder_walk_survives_symlink_loops_and_yields_each_file_once(work, filled):
    folder = symlink_loop(work / "walk")
    (folder / "a.xlsx").write_bytes(filled.read_bytes())
    (folder / "sub").mkdir()
    (folder / "sub" / "b.XLS").write_bytes(b"x")
    (folder / "sub" / "notes.txt").write_text("x")
    (folder / "~$a.xlsx").write_bytes(b"lock")
    (folder / "link-to-a.xlsx").symlink_to(folder / "a.xlsx")
    found = list(iter_returned_files([folder, folder / "a.xlsx", folder / "sub" / "notes.txt"]))
    names = [p.name for p in found]
    assert names.count("a.xlsx") + names.count("link-to-a.xlsx") == 1
    assert "b.XLS" in names and "dangling.xlsx" in names and "notes.txt" in names
    assert "~$a.xlsx" not in names
    with pytest.raises(RejectedFile) as e:
        read_workbook(folder / "dangling.xlsx")
    assert e.value.kind == "missing"


def test_folder_walk_does_not_recurse(work, filled):
    """A tree deeper than the recursion allowed: walked all the same (without
    building a tree deeper than Python's limit, which shutil.rmtree could not remove)."""
    import inspect
    import sys
    deep = work / "deep"
    folder = deep
    deep.mkdir()
    for _ in range(200):
        folder = folder / "d"
        folder.mkdir()
    (folder / "x.xlsx").write_bytes(filled.read_bytes())
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 60)
    try:
        found = [p.name for p in iter_returned_files([deep])]
    finally:
        sys.setrecursionlimit(limit)
    assert found == ["x.xlsx"]


def test_folder_walk_yields_what_it_cannot_list(work):
    if os.geteuid() == 0:
        pytest.skip("root lists every folder")
    folder = work / "closed"
    folder.mkdir()
    (folder / "x.xlsx").write_bytes(b"")
    folder.chmod(0)
    try:
        assert list(iter_returned_files([folder])) == [folder]
    finally:
        folder.chmod(0o755)


def _forge_crc(path: Path, member: str, crc: int) -> None:
    """Write ``crc`` into a member's local header and central directory entry."""
    import struct
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 14, crc)
    name = member.encode()
    pos = 0
    while True:   # find this member's central directory entry by its name
        pos = data.find(b"PK\x01\x02", pos)
        assert pos != -1
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == name:
            struct.pack_into("<I", data, pos + 16, crc)
            break
        pos += 4
    path.write_bytes(bytes(data))


def test_a_forged_crc_cannot_borrow_another_files_parts(work, filled):
    """The part cache is keyed by the bytes read, not by the CRC the sender wrote."""
    read_workbook(filled)   # the genuine workbook.xml is now cached
    with zipfile.ZipFile(filled) as zf:
        genuine = zf.getinfo("xl/workbook.xml")
        text = zf.read("xl/workbook.xml").decode("utf-8")
    ref = re.search(r'name="fld_unit_name"[^>]*>([^<]+)<', text).group(1)
    moved_ref = ref.replace("$4", "$6") if "$4" in ref else ref[:-1] + ("6" if ref[-1] != "6" else "7")
    assert len(moved_ref) == len(ref) and moved_ref != ref
    forged = work / "forged-crc.xlsx"
    with zipfile.ZipFile(filled) as src, zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                body = text.replace(f">{ref}<", f">{moved_ref}<").encode("utf-8")
            dst.writestr(item, body)
    _forge_crc(forged, "xl/workbook.xml", genuine.CRC)
    with pytest.raises(RejectedFile) as e:
        read_workbook(forged)
    assert e.value.kind == "corrupt"
