"""Stamping: a unit's workbook made from the run's template holds what the workbook
built for that unit holds, byte for byte once the shared strings are resolved, and
as openpyxl and LibreOffice read it; with last year's values (--previous) too."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.descriptors.serialisable import Serialisable
from hypothesis import HealthCheck, given, settings, strategies as st
from _examples import examples

from xlsx_tools import incell, write
from xlsx_tools.form import load_form
from xlsx_tools.roster import RosterEntry, RosterError, read_roster
from xlsx_tools.previous import read_previous
from xlsx_tools.write import (GenerateError, Stamper, build_workbook, generate_from_roster,
                              roster_workbooks, unit_context, write_workbook)

from _generate_helpers import roster_csv
from _incell_helpers import RECALC_ALWAYS, convert_with_libreoffice, sheet_verdicts

FORM = load_form()
LAB = load_form(Path(__file__).parent / "forms" / "lab-survey-2023.toml")
K = FORM.keys
REC = FORM.role("recommending")
SAMPLES = Path(__file__).parent.parent / "samples"


def _values(form, prefill: dict[str, str], previous: dict[str, object] | None = None):
    """The workbook of a unit with these pre-filled values (and last year's), as generate
    decides it."""
    entry = RosterEntry(prefill.get(form.keys["unit"], ""), "", "", "", 2, values=dict(prefill))
    (unit,) = roster_workbooks(form, [entry])
    return dataclasses.replace(unit, previous=None if previous is None else roster_previous(previous))


def roster_previous(previous: dict[str, object]) -> dict[str, object]:
    """Last year's values as roster_workbooks hands them on (floats as decimals)."""
    return {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in previous.items()}


def _unit(unit: str, batch: str = "第一批", category: str = "检验检测", rec: str = "某省工业和信息化厅"):
    return {K["unit"]: unit, K["batch"]: batch, K["category"]: category, REC: rec}


def _built(form, prefill: dict[str, str], previous: dict[str, object] | None = None) -> bytes:
    """The workbook as write_workbook builds it, every formula compiled by xlsxwriter."""
    values = {k: prefill.get(k, "") for k in form.prefill_fields}
    return build_workbook(unit_context(form, {k: str(v).strip() for k, v in values.items()},
                                       previous=None if previous is None else roster_previous(previous)))


_SI = re.compile(rb"<si>.*?</si>", re.S)
_SHARED = re.compile(rb'(t="s"><v>)(\d+)(</v>)')


def _resolved(data: bytes) -> tuple[list[str], dict[str, object]]:
    """A package's parts, each shared string written out where a cell shows it (the table's
    order is the writer's business); the table itself as the set of its strings."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        entries = _SI.findall(z.read("xl/sharedStrings.xml"))
        out: dict[str, object] = {}
        for name in names:
            part = z.read(name)
            if name == "xl/sharedStrings.xml":
                out[name] = set(entries)
            else:
                out[name] = _SHARED.sub(lambda m: m.group(1) + entries[int(m.group(2))] + m.group(3), part)
    return names, out


def _assert_same_content(stamped: bytes, built: bytes) -> None:
    names, a = _resolved(stamped)
    built_names, b = _resolved(built)
    assert names == built_names
    for name in names:
        if a[name] != b[name]:
            x, y = a[name], b[name]
            if isinstance(x, bytes):
                at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                pytest.fail(f"{name} differs at {at}:\n{x[at - 150:at + 150]!r}\n{y[at - 150:at + 150]!r}")
            pytest.fail(f"{name}: only stamped {x - y}, only built {y - x}")


UNITS = [
    _unit("太湖集成电路封装计量测试研究所", "第一批", "检验检测", "上海市经济和信息化委员会"),
    # XML's and OOXML's escapes, a value Excel would take for a formula or a link.
    _unit("某&'研究院 有限公司_x0041_", "第三批", "信息服务", '=1+1 <省>"厅"'),
    _unit("长" * 120, "平台项目", "创新成果产业化", "mailto:" + "x" * 150),
    _unit("甲", "第二批", "信息服务", ""),        # another shape: no recommending unit
    _unit("工业𠀀研究院", "第四批", "检验检测", "  省厅\t二处  "),
]


NUMBERS = list(FORM.previous_fields)
# Last year's values: none found (上年 —), every one (the widest numbers too), some.
PREVIOUS = [
    {},
    {fid: (10 ** (i % 9) * 7 + i if FORM.field(fid).type == "int" else 12345678.9 + i)
     for i, fid in enumerate(NUMBERS)},
    {fid: (0 if i % 3 == 0 else 3 if FORM.field(fid).type == "int" else 0.5)
     for i, fid in enumerate(NUMBERS) if i % 2},
]


@pytest.fixture(scope="module")
def stamper():
    return Stamper(FORM)


@pytest.mark.parametrize("prefill", UNITS, ids=range(len(UNITS)))
def test_a_stamped_workbook_holds_what_the_built_one_holds(stamper, prefill):
    _assert_same_content(stamper.workbook(_values(FORM, prefill)), _built(FORM, prefill))


@pytest.mark.parametrize("unit, previous", [(UNITS[i % len(UNITS)], p) for i, p in enumerate(PREVIOUS)]
                         + [(UNITS[3], PREVIOUS[1])], ids=range(len(PREVIOUS) + 1))
def test_with_last_years_values_too(stamper, unit, previous):
    """上年 cells: each a number where last year has one, the dash where not; the same
    stamper serves units with and without them."""
    stamped = stamper.workbook(_values(FORM, unit, previous))
    _assert_same_content(stamped, _built(FORM, unit, previous))
    assert stamped != stamper.workbook(_values(FORM, unit))


def test_another_form_with_an_optional_column(tmp_path):
    stamper = Stamper(LAB)
    sector = LAB.field("sector").choices
    for prefill in ({"org": "某实验室", "cohort": "甲组", "sector": sector[0], "supervisor": ""},
                    {"org": "某某重点实验室（筹）", "cohort": "乙组", "sector": sector[-1],
                     "supervisor": "某局"}):
        _assert_same_content(stamper.workbook(_values(LAB, prefill)), _built(LAB, prefill))


_TEXT = st.text(st.sampled_from("某省工业和信息化厅研究院检测中心有限公司（）()&<>\"'_x0041 -·\n𠀀Aa1"),
                min_size=1, max_size=60).map(str.strip).filter(bool)


_LAST_YEAR = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(NUMBERS), st.one_of(st.integers(0, 10 ** 12),
                                        st.decimals(0, 10 ** 9, places=2).map(float)), max_size=12))


@settings(max_examples=examples(8), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unit=_TEXT, rec=st.one_of(st.just(""), _TEXT), batch=st.sampled_from(FORM.batches),
       category=st.sampled_from(FORM.categories), previous=_LAST_YEAR)
def test_any_unit_stamps_as_it_builds(stamper, unit, rec, batch, category, previous):
    prefill = _unit(unit, batch, category, rec)
    if previous is not None:
        previous = {k: v for k, v in previous.items() if FORM.field(k).type == "amount"
                    or isinstance(v, int)}
    _assert_same_content(stamper.workbook(_values(FORM, prefill, previous)),
                         _built(FORM, prefill, previous))


# -- as openpyxl reads it ------------------------------------------------------------------


def _compared(obj):
    """An openpyxl object as what its ``==`` compares (its class, attributes and elements), made
    once per style of a workbook rather than compared again for every cell."""
    if isinstance(obj, Serialisable):
        return (type(obj), tuple(sorted(dict(obj).items())),
                tuple(_compared(getattr(obj, el)) for el in obj.__elements__))
    if isinstance(obj, (list, tuple)):
        return tuple(_compared(x) for x in obj)
    return obj


def _sheet_content(wb, ws, looks) -> dict[str, object]:
    # Each cell's style as the objects it names (openpyxl's style proxies do not compare by value).
    cells = {}
    for row in ws.iter_rows():
        for c in row:
            s = c._style      # None inside a merged range (openpyxl keeps no style there)
            cells[c.coordinate] = (c.value, c.data_type, c.number_format, *(
                table[i] for table, i in zip(looks, (s.fontId, s.fillId, s.borderId, s.alignmentId,
                                                     s.protectionId)))) if s else (c.value,)
    return {
        "state": ws.sheet_state, "cells": cells,
        "merged": sorted(str(r) for r in ws.merged_cells.ranges),
        "rows": {r: (d.height, d.hidden) for r, d in ws.row_dimensions.items()},
        "columns": {k: (d.width, d.hidden) for k, d in ws.column_dimensions.items()},
        "validations": [(dv.sqref, dv.type, dv.operator, dv.formula1, dv.formula2, dv.prompt, dv.error,
                         dv.promptTitle, dv.errorTitle, dv.allow_blank)
                        for dv in ws.data_validations.dataValidation],
        "conditional": [(str(cf.sqref), [(r.type, r.formula, r.dxf, r.stopIfTrue, r.priority)
                                         for r in cf.rules]) for cf in ws.conditional_formatting],
        "protection": ws.protection, "print_area": ws.print_area, "titles": ws.print_title_rows,
        "setup": ws.page_setup, "margins": ws.page_margins, "footer": ws.oddFooter.center.text,
        "breaks": [b.id for b in ws.row_breaks.brk], "freeze": ws.freeze_panes,
    }


def _content(path: Path) -> dict[str, object]:
    """What openpyxl reads: every cell with its style, and the sheets' and the workbook's
    settings; then every cell's stored result."""
    wb = openpyxl.load_workbook(path)
    looks = [[_compared(x) for x in table]
             for table in (wb._fonts, wb._fills, wb._borders, wb._alignments, wb._protections)]
    out: dict[str, object] = {
        "sheets": wb.sheetnames, "names": {n: d.attr_text for n, d in wb.defined_names.items()},
        "security": wb.security, "title": wb.properties.title,
        **{name: _sheet_content(wb, wb[name], looks) for name in wb.sheetnames}}
    wb.close()
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    out["results"] = {name: [row for row in wb[name].iter_rows(values_only=True)] for name in wb.sheetnames}
    wb.close()
    return out


def _first_differences(a, b, where="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in a.keys() | b.keys():
            out += _first_differences(a.get(k), b.get(k), f"{where}/{k}")
        return out
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def test_openpyxl_reads_the_same_cell_by_cell(tmp_path):
    """Values (and stored results), number formats, styles, validations, conditional
    formats, names, protection, sheet order and print setup, for two units of one run."""
    roster = tmp_path / "名单.csv"
    roster.write_text(roster_csv([[u[K["unit"]], u[K["batch"]], u[K["category"]], u[REC]]
                                  for u in UNITS[:2]]), encoding="utf-8")
    stamped = generate_from_roster(roster, tmp_path / "stamped", FORM, jobs=1)
    for entry, path in zip(read_roster(roster, FORM), stamped):
        built = write_workbook(tmp_path / "built" / path.name, FORM, entry.prefill(FORM))
        differ = _first_differences(_content(path), _content(built))
        assert not differ, differ[:10]


def _sample_run(tmp_path, rows: slice) -> tuple[Path, list]:
    """A roster of some sample units (one of them not in last round's summaries)."""
    lines = (SAMPLES / "roster.csv").read_text(encoding="utf-8-sig").splitlines()
    tmp_path.mkdir(parents=True, exist_ok=True)
    roster = tmp_path / "名单.csv"
    roster.write_text("\n".join([lines[0], *lines[1:][rows], "新设检测研究院,第二批,检验检测,某省厅,"])
                      + "\n", encoding="utf-8")
    entries = read_roster(roster, FORM)
    return roster, roster_workbooks(FORM, entries, read_previous(SAMPLES / "previous", FORM))


def test_openpyxl_reads_the_same_cell_by_cell_with_last_years_values(tmp_path):
    """generate --roster --previous: each stamped workbook as write_workbook writes it
    with the unit's last year, 上年 cells and prev_ names included."""
    roster, units = _sample_run(tmp_path, slice(0, 1))
    assert [u.previous is None for u in units] == [False, True]
    stamped = generate_from_roster(roster, tmp_path / "stamped", FORM, jobs=1,
                                   previous=SAMPLES / "previous")
    for unit, path in zip(units, stamped):
        built = write_workbook(tmp_path / "built" / path.name, FORM, unit.prefill, previous=unit.previous)
        a, b = _content(path), _content(built)
        differ = _first_differences(a, b)
        assert not differ, differ[:10]
        assert any(n.startswith(FORM.previous_name("")) for n in a["names"]) is (unit.previous is not None)
    # Same bytes again, each unit alone in its roster.
    header, *rows = roster.read_text(encoding="utf-8").splitlines()
    for row, path in zip(rows, stamped):
        alone = tmp_path / "alone.csv"
        alone.write_text(f"{header}\n{row}\n", encoding="utf-8")
        (again,) = generate_from_roster(alone, tmp_path / "again", FORM, previous=SAMPLES / "previous")
        assert again.read_bytes() == path.read_bytes()


# -- the run: names, bytes, refusals -----------------------------------------------------


def _roster_rows(n: int) -> list[list[str]]:
    return [[f"华东第{i:03d}号检测研究院", FORM.batches[i % len(FORM.batches)],
             FORM.categories[i % len(FORM.categories)], "" if i % 7 == 3 else "某省工业和信息化厅"]
            for i in range(n)]


def test_same_inputs_same_bytes_whatever_the_processes_and_the_other_units(tmp_path, monkeypatch):
    # Two processes from 4 units on, not 50: a dozen units spread over both workers (each
    # building its own templates, both shapes among them) prove what a hundred would.
    monkeypatch.setattr(write, "_UNITS_PER_PROCESS", 4)
    rows = _roster_rows(12)
    roster = tmp_path / "名单.csv"
    roster.write_text(roster_csv(rows), encoding="utf-8")
    one = generate_from_roster(roster, tmp_path / "one", FORM, jobs=1)
    two = generate_from_roster(roster, tmp_path / "two", FORM, jobs=2)
    assert [p.name for p in one] == [p.name for p in two] == [
        e.file_name(FORM) for e in read_roster(roster, FORM)]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two))
    assert len({p.read_bytes() for p in one}) == len(one)
    # A unit's workbook is the same alone in a roster as among the others.
    alone = tmp_path / "alone.csv"
    alone.write_text(roster_csv(rows[3:4]), encoding="utf-8")
    (single,) = generate_from_roster(alone, tmp_path / "alone", FORM)
    assert single.read_bytes() == one[3].read_bytes()


def test_what_xml_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text(roster_csv([["甲研究院", "第一批", "检验检测", "某\ufffe厅"]]), encoding="utf-8")
    with pytest.raises(RosterError) as e:
        generate_from_roster(roster, tmp_path / "out", FORM)
    assert "第2行" in "\n".join(e.value.problems)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError):
        write_workbook(tmp_path / "api.xlsx", FORM, _unit("甲研究院", rec="某\x01厅"))


def test_a_value_longer_than_a_cell_holds_is_refused_before_anything_is_written(tmp_path):
    """The second form sets no length for its texts: Excel's own limit stops the value."""
    roster = tmp_path / "r.csv"
    rows = [["机构甲", "甲组", LAB.field("sector").choices[0], "局"],
            ["机构乙", "甲组", LAB.field("sector").choices[0], "局" * 32_768]]
    roster.write_text(roster_csv(rows, header=("机构名称", "组别", "行业", "主管部门")), encoding="utf-8")
    with pytest.raises(GenerateError) as e:
        generate_from_roster(roster, tmp_path / "out", LAB)
    assert "32,767" in str(e.value)
    assert not (tmp_path / "out").exists()
    # Just under: written, every character kept.
    rows[1][3] = "局" * 32_767
    roster.write_text(roster_csv(rows, header=("机构名称", "组别", "行业", "主管部门")), encoding="utf-8")
    paths = generate_from_roster(roster, tmp_path / "out", LAB)
    wb = openpyxl.load_workbook(paths[1], read_only=True)
    cell = LAB.input_cell("supervisor")
    assert wb[cell.sheet][cell.ref].value == "局" * 32_767
    wb.close()


# -- in LibreOffice ----------------------------------------------------------------------


@pytest.mark.libreoffice
def test_libreoffice_computes_the_checks_of_a_stamped_copy_as_of_a_built_one(tmp_path):
    """Stamped and built copies, as sent and as filled (openpyxl, no stored results),
    recalculated by LibreOffice: the same verdicts, totals and cover line; and a stamped
    copy's stored results are what LibreOffice computes."""
    from _fill import fill_workbook

    roster = tmp_path / "名单.csv"
    units = [UNITS[0], UNITS[3], _unit("某某检测研究院", "第三批", "创新成果产业化")]
    roster.write_text(roster_csv([[u[K["unit"]], u[K["batch"]], u[K["category"]], u[REC]]
                                  for u in units]), encoding="utf-8")
    stamped = generate_from_roster(roster, tmp_path / "stamped", FORM, jobs=1)
    built = [write_workbook(tmp_path / "built" / f"built-{p.name}", FORM, e.prefill(FORM))
             for e, p in zip(read_roster(roster, FORM), stamped)]
    # With last year's values (--previous): two sample units and one not found last year.
    lo_roster, last_year = _sample_run(tmp_path / "previous", slice(1, 3))
    with_previous = generate_from_roster(lo_roster, tmp_path / "stamped-previous", FORM, jobs=1,
                                         previous=SAMPLES / "previous")
    stamped += with_previous
    built += [write_workbook(tmp_path / "built" / f"built-previous-{p.name}", FORM, u.prefill,
                             previous=u.previous) for u, p in zip(last_year, with_previous)]
    # Far under last year's counts (over a thousand): change warnings where last year has them.
    filled = {"service_count": 10, "sme_service_count": 12, "forums": 0, "forum_attendees": 40}
    pairs = list(zip(stamped, built))
    pairs += [(fill_workbook(s, tmp_path / "filled" / f"s{i}.xlsx", filled),
               fill_workbook(b, tmp_path / "filled" / f"b{i}.xlsx", filled))
              for i, (s, b) in enumerate(pairs)]
    files = [p for pair in pairs for p in pair]
    copies = dict(zip(files, convert_with_libreoffice(files, tmp_path / "lo", RECALC_ALWAYS)))
    for stamped_copy, built_copy in pairs:
        s_verdicts, s_totals = sheet_verdicts(copies[stamped_copy], FORM)
        b_verdicts, b_totals = sheet_verdicts(copies[built_copy], FORM)
        assert s_verdicts == b_verdicts, stamped_copy.name
        assert s_totals == b_totals, stamped_copy.name
    assert len({sheet_verdicts(copies[s], FORM)[1]["cover"] for s, _ in pairs}) > 1
    # The change check fires in a filled stamped copy with last year's values, not without.
    changes = {FORM.changes[0].id}
    fired = [any(code in changes and v for (code, _), v in sheet_verdicts(copies[s], FORM)[0].items())
             for s, _ in pairs[len(stamped):]]
    assert fired[:len(stamped) - len(with_previous)] == [False] * (len(stamped) - len(with_previous))
    assert fired[len(stamped) - len(with_previous):][:2] == [True, True]
    # As sent: what a stamped copy stores is what LibreOffice computes.
    for path in stamped:
        assert _stored(path) == _stored(copies[path]), path.name


def _stored(path: Path) -> dict[str, object]:
    """Every stored value of 校验结果 and the cover line ("" and empty are one)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    out = {f"{incell.SHEET_NAME}!{c.coordinate}": c.value for row in wb[incell.SHEET_NAME].iter_rows()
           for c in row if c.value not in (None, "")}
    cell = incell.status_cell(FORM)
    out["cover"] = wb[FORM.cover.name][cell.ref].value
    wb.close()
    return out
