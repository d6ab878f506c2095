"""Numbers typed as text, as a person types them: the in-sheet checks read them as validate does.

A pre-filled workbook is filled with openpyxl, one typed spelling per number cell
('5场', '1,234', '３', '12万', '2.5' in a whole-number field...), recalculated in
LibreOffice; each type check's verdict and message on 校验结果 are compared with
validate's findings for the same cell.
"""

from __future__ import annotations

import itertools
import re

import openpyxl
import pytest

from _fill import fill_workbook, valid_values, blank_workbook
from _incell_helpers import convert_with_libreoffice, sheet_verdicts
from xlsx_tools import incell
from xlsx_tools.form import load_form
from xlsx_tools.validate import validate_file

FORM = load_form()
INTS = [f for f in FORM.fields if f.type == "int"]
AMOUNTS = [f for f in FORM.fields if f.type == "amount"]

# {u}: the field's unit; {w}: a unit of another field.
INT_SPELLINGS = [
    "5{u}", "5 {u}", " 7{u} ", "1,234", "12,345,678", "３", "１２０", "１，２３４", "80", " 80 ",
    "\u300080\u3000", "0012", "＋7", "+7", "2.5", "2.5{u}", "３.０", "-3", "−2", "－2", "1,23",
    "1,2345", ",123", "123,", "1.2.3", "12.", ".5", "5{w}", "1e3", "50%", "2024-01-01", "1/2",
    "五", "12 34", "{u}", "1,234.0", "1,234{u}", "3.5e1", "$5", "(5)", "0x10", "1,234,567,890",
]
AMOUNT_SPELLINGS = [
    "12万", "12万元", "12 万元", "3.5万元", "１２.３４万", "1,234.56万元", "1,234.56", "1.234",
    "1.234万", "0.1", "0.10", "-0.5", "万元", "12元", "12万万", "12.", ".5", "1,2", "1,000,000.5",
]


def _cases() -> list[dict]:
    """Workbooks' values: the valid ones, with spellings spread over the number fields."""
    other = {f.id: next(g.unit for g in INTS if g.unit != f.unit) for f in INTS}
    typed = [(f, s.format(u=f.unit, w=other[f.id])) for s in INT_SPELLINGS
             for f in [INTS[INT_SPELLINGS.index(s) % len(INTS)]]]
    typed += [(f, s) for s, f in zip(AMOUNT_SPELLINGS, itertools.cycle(AMOUNTS))]
    cases: list[dict] = []
    for f, text in typed:
        # One spelling per field per workbook: a new workbook when the field is taken.
        case = next((c for c in cases if f.id not in c), None)
        if case is None:
            case = {}
            cases.append(case)
        case[f.id] = text
    return cases


CASES = _cases()


def _type_keys(fid: str) -> set[tuple[str, frozenset]]:
    f = FORM.field(fid)
    return {(t.code, frozenset({fid})) for t in incell.TYPE_CHECKS[f.type]}


def _sheet_messages(path) -> dict[str, str]:
    """Per type check that fails: its field's cell -> the message the sheet shows."""
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        out = {}
        for row in wb[incell.SHEET_NAME].iter_rows(values_only=True):
            key = row[incell._C_KEY] if len(row) > incell._C_KEY else None
            if isinstance(key, str) and re.match(r"^[a-z_]+\|[a-z_0-9]+$", key) \
                    and row[incell._C_FIRES]:
                out[key] = row[incell._C_TEXT]
        return out
    finally:
        wb.close()


@pytest.fixture(scope="module")
def typed_recalculated(tmp_path_factory):
    src = tmp_path_factory.mktemp("typed-filled")
    prefill = {k: valid_values()[k] for k in ("unit_name", "batch", "platform_category",
                                              "recommending_unit")}
    blank = blank_workbook(prefill)
    filled = [fill_workbook(blank, src / f"typed-{i:02d}.xlsx", {**valid_values(), **case})
              for i, case in enumerate(CASES)]
    out = convert_with_libreoffice(filled, tmp_path_factory.mktemp("typed-recalculated"))
    return list(zip(CASES, filled, out))


@pytest.mark.libreoffice
def test_numbers_typed_as_text_get_the_verdict_validate_gives(typed_recalculated):
    problems = []
    seen = set()
    for case, filled, recalc in typed_recalculated:
        sheet, totals = sheet_verdicts(recalc, FORM)
        messages = _sheet_messages(recalc)
        findings = validate_file(filled, FORM).findings
        for fid, text in case.items():
            keys = _type_keys(fid)
            in_sheet = {k for k in keys if sheet.get(k)}
            mine = [f for f in findings if (f.code, frozenset(f.fields)) in keys]
            by_validate = {(f.code, frozenset(f.fields)) for f in mine}
            seen |= {k[0] for k in by_validate} or {"ok"}
            if in_sheet != by_validate:
                problems.append(f"{text!r} in {fid}: sheet {sorted(k[0] for k in in_sheet)}, "
                                f"validate {sorted(k[0] for k in by_validate)}")
                continue
            for f in mine:
                shown = messages.get(f"{f.code}|{fid}")
                # validate shows the value as typed, trimmed; the sheet as the cell holds it.
                if shown is None or shown.replace(text, text.strip()) != f.message:
                    problems.append(f"{text!r} in {fid}: sheet says {shown!r}, "
                                    f"validate {f.message!r}")
        # The count on the cover is validate's count of errors.
        errors = sum(1 for f in findings if f.is_error)
        if totals["errors"] != errors:
            problems.append(f"{sorted(case.values())}: sheet counts {totals['errors']} errors, "
                            f"validate {errors}: {[f.message for f in findings if f.is_error]}")
    assert not problems, "\n".join(problems)
    # The table reaches every outcome of a number's type.
    assert {"ok", "not_a_number", "negative", "not_whole", "too_many_decimals"} <= seen, seen


def test_the_number_read_in_the_sheet_is_the_number_validate_reads():
    """The Python mirror of the sheet's reading (its stored results) against clean_value."""
    from xlsx_tools.clean import clean_value
    from xlsx_tools.read import RawValue

    for f, spellings in ((INTS[0], INT_SPELLINGS), (AMOUNTS[0], AMOUNT_SPELLINGS)):
        for s in spellings:
            text = s.format(u=f.unit, w="个" if f.unit != "个" else "项")
            t = incell._py_number_normalized(text)
            u = incell._py_unit_stripped(t, f)
            read = incell._py_number_read(text, u, incell._py_unsigned(u))
            cleaned = clean_value(f, RawValue(text, "X1"))
            if cleaned.code == "not_a_number":
                assert read == "", (text, read)
            else:
                assert read != "" and abs(read - float(cleaned.value if cleaned.ok else read)) < 1e-9
