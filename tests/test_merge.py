"""merge: the sample round added up, checked against sums made from the inputs.

The samples (samples/returned/, samples/roster.csv) are made by
samples/make_samples.py, which also writes samples/expected.json: what each file
should come out as and the values typed into it. The totals here are summed
from those values, never from the merge's own output.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from _examples import examples

from xlsx_tools.catalogue import status_word
from xlsx_tools.cli import main
from xlsx_tools.form import load_form
from xlsx_tools.merge import ADDED as MERGE_ADDED
from xlsx_tools.merge import (ALL_CATEGORIES, OVERVIEW_STEM, ST_ACCEPTED, ST_DUPLICATE, ST_MISSING,
                              ST_OFF_ROSTER, ST_UNREADABLE, ST_WARNINGS, STATUSES, batch_file_stem,
                              column_title, merge_config, merge_paths, merge_results, write_outputs)
from xlsx_tools.rules import Finding, code_title, field_title
from xlsx_tools.validate import FileResult, validate_paths
from _libreoffice import convert

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RETURNED = SAMPLES / "returned"
ROSTER = SAMPLES / "roster.csv"
PREVIOUS = SAMPLES / "previous"
FORM = load_form()
NUMERIC = [f for f in FORM.fields if f.numeric]
ADDED = set(MERGE_ADDED)


def _expected() -> dict:
    return json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))


def _typed(field_id: str, value: object) -> object:
    """A value of expected.json as the merge gives it: Decimal for amounts, date for dates."""
    f = FORM.field(field_id)
    if value is None:
        return None
    if f.type == "amount":
        return Decimal(value)
    if f.type == "date":
        return dt.date.fromisoformat(value)
    return value


def _added_inputs(batch: str | None = None) -> list[dict]:
    return [e for e in _expected()["files"]
            if status_word(e["status"]) in ADDED and (batch is None or e["batch"] == batch)]


def _sums(entries: list[dict]) -> dict[str, object]:
    """Exact sums, made here from the values typed into the workbooks."""
    out = {}
    for f in NUMERIC:
        total = Decimal(0) if f.type == "amount" else 0
        for e in entries:
            v = _typed(f.id, e["values"].get(f.id))
            if v is not None:
                total += v
        out[f.id] = total
    return out


def _cell_number(value: object, f) -> object:
    """A number read back from a workbook, as the exact value it stands for."""
    assert isinstance(value, (int, float)), value
    if f.type == "amount":
        return Decimal(repr(float(value))).quantize(Decimal("0.01"))
    assert float(value).is_integer(), value
    return int(value)


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    """The README's main command: the samples against last round's output."""
    out = tmp_path_factory.mktemp("merged")
    calls = []
    result = merge_paths([RETURNED], out_dir=out, roster=ROSTER, jobs=2, previous=PREVIOUS,
                         progress=lambda done, total: calls.append((done, total)))
    return result, out, calls


@pytest.fixture(scope="module")
def book(merged):
    """A workbook of the merge's output by its name, as openpyxl reads it: loaded once for the
    tests that read it (each only reads)."""
    _, out, _ = merged
    return functools.cache(lambda name: openpyxl.load_workbook(out / name))


# -- what came in, and where it went -------------------------------------------------

def test_every_file_and_roster_unit_is_listed_with_its_status(merged):
    result, _, _ = merged
    expected = _expected()["files"]
    rows = result.submissions
    # Nothing dropped, nothing invented: one row per file found and per unit that sent nothing.
    assert len(rows) == len(expected)
    found = sorted(p.name for p in RETURNED.iterdir())
    assert sorted(r.name for r in rows if r.result is not None) == found
    by_key = {(r.name or None, r.unit): r for r in rows}
    for e in expected:
        row = by_key[(e["file"], e["unit_name"])]
        codes = {f.code for f in row.findings}
        assert set(e["codes"]) <= codes, (e["file"], codes)
        if row.status != status_word(e["status"]):
            # A warning the sample may also carry (R21 after a LibreOffice save) makes it 有警告.
            assert e["status"] == "accepted" and row.status == ST_WARNINGS, (e["file"], row.status)
            assert codes <= set(e["tolerate"]), (e["file"], codes)
        assert row.batch == e["batch"]
        assert row.on_roster is e["on_roster"]
    roster_units = {(r["batch"], r["unit_name"]) for r in _expected()["roster"]}
    listed = {(r.batch, r.unit) for r in rows if r.on_roster}
    assert roster_units == listed


def test_each_status_in_the_samples(merged):
    result, _, _ = merged
    seen = {r.status for r in result.submissions}
    assert seen == set(STATUSES)


def test_duplicate_keeps_the_later_fill_date(merged):
    result, _, _ = merged
    dup = [r for r in result.submissions if r.status == ST_DUPLICATE]
    assert len(dup) == 1
    same_unit = [r for r in result.batches[dup[0].batch].entries if r.unit == dup[0].unit]
    assert len(same_unit) == 2
    chosen = next(r for r in same_unit if r is not dup[0])
    assert chosen.added and not dup[0].added
    assert chosen.date > dup[0].date
    m01 = [f for f in dup[0].findings if f.code == "M01"]
    assert m01 and m01[0].severity == "error" and chosen.name in m01[0].message


def test_progress_reaches_the_total(merged):
    result, _, calls = merged
    assert calls and calls[-1] == (len(result.files), len(result.files))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# -- the totals ---------------------------------------------------------------------

def test_totals_equal_the_sums_of_the_accepted_inputs(merged):
    result, _, _ = merged
    batches = {e["batch"] for e in _expected()["files"]}
    assert set(result.batches) == batches
    for batch, summary in result.batches.items():
        want = _sums(_added_inputs(batch))
        assert summary.totals == want, batch
        per_cat = summary.category_totals()
        for cat in FORM.categories:
            entries = [e for e in _added_inputs(batch) if e["platform_category"] == cat]
            assert per_cat[cat] == {"platforms": len(entries), **_sums(entries)}
        assert per_cat[ALL_CATEGORIES] == {"platforms": len(_added_inputs(batch)), **want}


def test_data_frame_holds_the_values_typed_in(merged):
    result, _, _ = merged
    for batch, summary in result.batches.items():
        df = summary.data
        assert list(df.columns) == [f.id for f in FORM.fields]
        inputs = {e["file"]: e for e in _added_inputs(batch)}
        assert sorted(Path(i).name for i in df.index) == sorted(inputs)
        for file, row in df.iterrows():
            values = inputs[Path(file).name]["values"]
            for f in FORM.fields:
                if f.id not in values:
                    continue  # pre-filled from the roster, not typed
                got = row[f.id]
                want = _typed(f.id, values[f.id])
                if want is None:
                    assert got is None or pd.isna(got)
                else:
                    assert got == want, (file, f.id)
                if f.type == "amount" and want is not None:
                    assert isinstance(got, Decimal)
        for f in NUMERIC:
            total = sum((v for v in df[f.id] if not pd.isna(v)), Decimal(0) if f.type == "amount" else 0)
            assert total == summary.totals[f.id]


def test_summary_sheet_totals_row(merged, book):
    result, _, _ = merged
    for batch in result.batches:
        wb = book(f"{batch_file_stem(batch)}.xlsx")
        ws = wb["汇总"]
        want = _sums(_added_inputs(batch))
        total_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
        titles = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
        data_rows = [r for r in range(4, total_row) if ws.cell(r, 1).value is not None]
        assert len(data_rows) == len(_added_inputs(batch))
        for f in NUMERIC:
            c = titles[column_title(FORM, f)]
            cell = ws.cell(total_row, c)
            assert _cell_number(cell.value, f) == want[f.id], (batch, f.id)
            assert cell.number_format == ("#,##0.00" if f.type == "amount" else "#,##0")
            # and the rows above add up to it
            column = [ws.cell(r, c).value for r in data_rows]
            added = sum((_cell_number(v, f) for v in column if v is not None), 0)
            assert added == _cell_number(cell.value, f)


def test_category_sheet_and_shares(merged, book):
    result, _, _ = merged
    config = merge_config(FORM)
    for batch in result.batches:
        ws = book(f"{batch_file_stem(batch)}.xlsx")["分类统计"]
        heads = [ws.cell(2, c).value for c in range(1, ws.max_column + 1)]
        by_title = {ws.cell(r, 2).value: r for r in range(3, ws.max_row + 1)}
        for cat in (*FORM.categories, ALL_CATEGORIES):
            col = heads.index(cat if cat == ALL_CATEGORIES else f"{cat}类") + 1
            entries = [e for e in _added_inputs(batch)
                       if cat == ALL_CATEGORIES or e["platform_category"] == cat]
            sums = _sums(entries)
            assert ws.cell(by_title["平台数"], col).value == len(entries)
            for f in NUMERIC:
                assert _cell_number(ws.cell(by_title[field_title(FORM, f.id)], col).value, f) == sums[f.id]
            for share in config.shares:
                cell = ws.cell(by_title[share.title], col)
                if sums[share.whole]:
                    assert cell.value == pytest.approx(sums[share.part] / sums[share.whole])
                    assert cell.number_format == "0.0%"
                else:
                    assert cell.value == "—"


def test_csv_sums_and_bom(merged):
    result, out, _ = merged
    for batch in result.batches:
        raw = (out / f"{batch_file_stem(batch)}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        lines = raw[3:].decode("utf-8").splitlines()
        header = next(csv.reader(lines))
        # The fields, then last year's values of the numeric ones (prev_<id>).
        assert header[:len(FORM.fields)] == [f.id for f in FORM.fields]
        assert header[len(FORM.fields):] == [f"prev_{i}" for i in result.previous_fields]
        rows = list(csv.DictReader(lines))
        assert len(rows) == len(_added_inputs(batch))
        want = _sums(_added_inputs(batch))
        for f in NUMERIC:
            kind = Decimal if f.type == "amount" else int
            assert sum((kind(r[f.id]) for r in rows if r[f.id]), kind(0)) == want[f.id]


def test_overview_rows_and_national_totals(merged, book):
    result, _, _ = merged
    ws = book(f"{OVERVIEW_STEM}.xlsx")["总览"]
    heads = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    rows = {ws.cell(r, 1).value: r for r in range(4, ws.max_row + 1)}
    for batch in result.batches:
        want = _sums(_added_inputs(batch))
        for f in NUMERIC:
            assert _cell_number(ws.cell(rows[batch], heads[column_title(FORM, f)]).value, f) == want[f.id]
        assert ws.cell(rows[batch], heads["计入汇总平台数"]).value == len(_added_inputs(batch))
    national = _sums(_added_inputs())
    for f in NUMERIC:
        total = ws.cell(rows["全国合计"], heads[column_title(FORM, f)]).value
        assert _cell_number(total, f) == national[f.id]
    assert ws.cell(rows["全国合计"], heads["收到文件数"]).value == len(list(RETURNED.iterdir()))
    # Judged: all but a unit's files not taken.
    duplicates = sum(1 for e in _expected()["files"] if status_word(e["status"]) == ST_DUPLICATE)
    assert duplicates
    assert (ws.cell(rows["全国合计"], heads["采用的文件数"]).value
            == len(list(RETURNED.iterdir())) - duplicates)
    assert ws.cell(rows["全国合计"], heads["名单内单位数"]).value == len(_expected()["roster"])
    for status in STATUSES:
        want = sum(1 for e in _expected()["files"] if status_word(e["status"]) == status)
        column = [ws.cell(rows[b], heads[status]).value for b in result.batches]
        assert sum(column) == ws.cell(rows["全国合计"], heads[status]).value
        if status not in (ST_ACCEPTED, ST_WARNINGS):  # the LibreOffice copy may move between these two
            assert sum(column) == want, status


# -- the workbooks ------------------------------------------------------------------

def test_summary_workbook_sheets_header_and_charts(merged, book):
    result, _, _ = merged
    config = merge_config(FORM)
    for batch in result.batches:
        wb = book(f"{batch_file_stem(batch)}.xlsx")
        assert wb.sheetnames == ["汇总", config.say("print_sheet"), "分类统计", "提交情况", "问题清单",
                                 "图表", "与上年对比"]
        ws = wb["汇总"]
        # Two header rows: the section over the label with its unit; a field with last
        # year's values is followed by 上年 and 比上年增长.
        assert ws.cell(2, 2).value == FORM.fields[0].section
        want = []
        for f in FORM.fields:
            want.append(column_title(FORM, f))
            if f.id in result.previous_fields:
                want += ["上年", "比上年增长"]
        assert [ws.cell(3, 2 + i).value for i in range(len(want))] == want
        assert len(set(column_title(FORM, f) for f in FORM.fields)) == len(FORM.fields)
        assert ws.freeze_panes is not None and ws.freeze_panes.startswith(("D4", "C4", "E4"))
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A3:")
        long_col = 2 + want.index(column_title(FORM, next(f for f in FORM.fields if f.type == "longtext")))
        if ws.max_row > 4:
            assert ws.cell(4, long_col).alignment.wrap_text
        charts = wb["图表"]._charts
        assert len(charts) == len(config.charts)
        for chart, spec in zip(charts, config.charts):
            assert len(chart.series) == len(spec.fields)
            assert all("分类统计" in s.val.numRef.f for s in chart.series)
        sub = wb["提交情况"]
        listed = [sub.cell(r, 2).value for r in range(4, sub.max_row + 1)]
        assert len(listed) == len(result.batches[batch].entries)


def test_findings_sheet_lists_every_finding(merged, book):
    result, _, _ = merged
    for batch, summary in result.batches.items():
        ws = book(f"{batch_file_stem(batch)}.xlsx")["问题清单"]
        heads = [ws.cell(2, c).value for c in range(1, ws.max_column + 1)]
        code_col = heads.index("代码") + 1
        codes = sorted(ws.cell(r, code_col).value for r in range(3, ws.max_row + 1))
        assert codes == sorted(code_title(f.code, FORM) for e in summary.entries for f in e.findings)


# -- last year beside this year, and each recommending unit ------------------------------

def _previous(e: dict, field_id: str) -> object:
    return _typed(field_id, (e["previous"] or {}).get(field_id))


def test_last_year_is_in_the_csv_beside_this_year(merged):
    """prev_<id>: last round's value of each platform, the renamed one found by its old name."""
    result, out, _ = merged
    assert result.previous_fields == [f.id for f in NUMERIC]
    renamed = [r for r in _expected()["roster"] if r["previous_name"]]
    assert renamed and all(e["previous"] for e in _expected()["files"]
                           if e["unit_name"] in {r["unit_name"] for r in renamed})
    for batch in result.batches:
        entries = {e["unit_name"]: e for e in _added_inputs(batch)}
        raw = (out / f"{batch_file_stem(batch)}.csv").read_bytes()[3:].decode("utf-8")
        for row in csv.DictReader(raw.splitlines()):
            e = entries[row[FORM.keys["unit"]]]
            for f in NUMERIC:
                want, got = _previous(e, f.id), row[f"prev_{f.id}"]
                kind = Decimal if f.type == "amount" else int
                assert (got == "") if want is None else (kind(got) == want), (batch, e["unit_name"], f.id)


def test_summary_sheet_gives_last_year_and_the_growth(merged, book):
    result, _, _ = merged
    for batch in result.batches:
        ws = book(f"{batch_file_stem(batch)}.xlsx")["汇总"]
        total_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
        titles = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
        unit_col = titles[column_title(FORM, FORM.role_field("unit"))]
        rows = {ws.cell(r, unit_col).value: r for r in range(4, total_row)}
        entries = _added_inputs(batch)
        for f in NUMERIC:
            c = titles[column_title(FORM, f)]
            assert (ws.cell(3, c + 1).value, ws.cell(3, c + 2).value) == ("上年", "比上年增长")
            then = [_previous(e, f.id) for e in entries]
            assert _cell_number(ws.cell(total_row, c + 1).value, f) == \
                sum((v for v in then if v is not None), Decimal(0) if f.type == "amount" else 0)
            for e in entries:
                now, before = _typed(f.id, e["values"].get(f.id)), _previous(e, f.id)
                growth = ws.cell(rows[e["unit_name"]], c + 2).value
                if now is None or not before:
                    assert growth == "—", (e["unit_name"], f.id)
                else:
                    assert growth == pytest.approx(float((Decimal(now) - before) / before))


def test_main_indicators_against_last_year_on_the_same_platforms(merged, book):
    result, _, _ = merged
    config = merge_config(FORM)
    assert config.previous_charts
    for batch in result.batches:
        ws = book(f"{batch_file_stem(batch)}.xlsx")["与上年对比"]
        assert len(ws._charts) == len(config.previous_charts)
        table = {ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(2, 7)]
                 for r in range(3, ws.max_row + 1) if ws.cell(r, 1).value}
        for spec, chart in zip(config.previous_charts, ws._charts):
            assert [s.val.numRef.f.split("!")[0].strip("'") for s in chart.series] == ["与上年对比"] * 2
            for fid in spec.fields:
                f = FORM.field(fid)
                both = [e for e in _added_inputs(batch)
                        if _typed(fid, e["values"].get(fid)) is not None and _previous(e, fid) is not None]
                zero = Decimal(0) if f.type == "amount" else 0
                now = sum((_typed(fid, e["values"][fid]) for e in both), zero)
                then = sum((_previous(e, fid) for e in both), zero)
                unit, got_now, got_then, _growth, n = table[field_title(FORM, fid)]
                assert (unit, n) == (f.unit, len(both))
                assert (_cell_number(got_now, f), _cell_number(got_then, f)) == (now, then), (batch, fid)


def _recommending_of(e: dict) -> str:
    return e["recommending_unit"]


def test_each_recommending_unit_gets_its_own_workbook(merged):
    """Its platforms added up, who sent what (and who did not), its findings with the
    fillers' explanations."""
    result, out, _ = merged
    folder = out / FORM.column_header("recommending")
    expected = defaultdict(list)
    for e in _expected()["files"]:
        expected[_recommending_of(e)].append(e)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{r}.xlsx" for r in expected)
    explained_somewhere = False
    for rec, entries in expected.items():
        wb = openpyxl.load_workbook(folder / f"{rec}.xlsx")
        assert wb.sheetnames == ["汇总", merge_config(FORM).say("print_sheet"), "提交情况", "问题清单"]
        assert rec in wb["汇总"]["A1"].value
        sub = wb["提交情况"]
        heads = [c.value for c in sub[3]]
        listed = [(sub.cell(r, heads.index("单位名称") + 1).value, sub.cell(r, heads.index("状态") + 1).value)
                  for r in range(4, sub.max_row + 1)]
        assert sorted(u for u, _ in listed) == sorted(e["unit_name"] for e in entries)
        for e in entries:
            assert (e["unit_name"], status_word(e["status"])) in listed or \
                (e["unit_name"], ST_WARNINGS) in listed and e["tolerate"], (rec, e["unit_name"])
        ws = wb["汇总"]
        total_row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
        titles = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
        added = [e for e in entries if status_word(e["status"]) in ADDED]
        assert total_row - 4 == len(added)
        for f in NUMERIC:
            assert _cell_number(ws.cell(total_row, titles[column_title(FORM, f)]).value, f) == \
                _sums(added)[f.id], (rec, f.id)
        found = wb["问题清单"]
        heads = [c.value for c in found[2]]
        texts = [found.cell(r, heads.index("审核说明") + 1).value for r in range(3, found.max_row + 1)]
        for e in entries:
            for text in e["explanations"].values():
                assert text in texts, (rec, e["unit_name"])
                explained_somewhere = True
    assert explained_somewhere


def test_overview_breaks_the_round_down_by_recommending_unit(merged, book):
    result, _, _ = merged
    ws = book(f"{OVERVIEW_STEM}.xlsx")["按推荐单位"]
    heads = [c.value for c in ws[2]]
    rows = {ws.cell(r, 1).value: [c.value for c in ws[r]] for r in range(3, ws.max_row + 1)}
    total = rows.pop("全国合计")
    expected = defaultdict(list)
    for e in _expected()["files"]:
        expected[_recommending_of(e)].append(e)
    assert sorted(rows) == sorted(expected)
    for rec, row in rows.items():
        assert row[heads.index("收到文件数")] == sum(1 for e in expected[rec] if e["file"])
        assert row[heads.index("工作簿")] == f"推荐单位/{rec}.xlsx"
    assert total[heads.index("收到文件数")] == len(result.files)
    assert total[heads.index("采用的文件数")] == len(result.files) - sum(
        1 for s in result.submissions if s.status == ST_DUPLICATE)
    assert total[heads.index("计入汇总平台数")] == result.added
    explained = status_word("explained")
    assert total[heads.index(explained)] == sum(1 for e in _expected()["files"] if e["status"] == "explained")


def test_same_bytes_on_a_second_merge(merged, merged_by_the_command):
    """The command's merge (one process) writes what the fixture's (two) did."""
    result, out, _ = merged
    again = merged_by_the_command[1]
    # The per-recommending-unit workbooks too, in their folder.
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    assert any("/" in n for n in names)
    for name in names:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


@pytest.mark.libreoffice
def test_summaries_open_in_libreoffice_and_convert_to_pdf(merged, tmp_path):
    result, out, _ = merged
    books = sorted(p for p in out.iterdir() if p.suffix == ".xlsx")
    convert(books, tmp_path, "pdf")
    config = merge_config(result.form)
    for book in books:
        pdf = tmp_path / f"{book.stem}.pdf"
        assert pdf.exists() and pdf.stat().st_size > 1000, book.name
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        # A title wrapped in a narrowed column prints over two lines: compare without white space.
        text = "".join(text.split())
        assert "提交情况" in text
        if book.stem != OVERVIEW_STEM:
            batch = next(b for b in result.batches.values() if batch_file_stem(b.batch) == book.stem)
            # 分类统计 prints, with its column for all categories, and 主要指标 its total row.
            assert config.say("categories_title", batch=batch.batch).replace(" ", "") in text, book.name
            assert ALL_CATEGORIES in text, book.name
            assert config.say("count_total", count=len(batch.rows)).replace(" ", "") in text, book.name


# -- the rules across workbooks, on small made-up rounds -----------------------------

def _result(name: str, unit: str, batch: str = "第一批", status: str = "accepted",
            fill_date: dt.date | None = dt.date(2022, 9, 15), mtime: float = 1.0,
            **values: object) -> FileResult:
    vals = {FORM.keys["unit"]: unit, FORM.keys["batch"]: batch, FORM.keys["category"]: "检验检测",
            "fill_date": fill_date, **values}
    findings = [Finding("R01", "error", (), (), "错")] if status == "rejected" else []
    return FileResult(file=name, path=Path(name), status=status, verdict=status_word(status),
                      findings=findings, values=vals, unit=unit, batch=batch,
                      category="检验检测", date=fill_date, mtime=mtime)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["甲院", "乙院", "丙院"]),
                          st.dates(dt.date(2022, 9, 1), dt.date(2022, 9, 5)),
                          st.integers(0, 2), st.booleans()),
                min_size=1, max_size=8))
def test_one_file_per_unit_is_added_by_the_stated_rule(files):
    results = [_result(f"f{i}.xlsx", unit, fill_date=d, mtime=float(m),
                       status="rejected" if bad else "accepted", service_count=i)
               for i, (unit, d, m, bad) in enumerate(files)]
    merged = merge_results(results, FORM)
    rows = merged.batches["第一批"].entries
    assert len(rows) == len(results)
    for unit in {u for u, *_ in files}:
        mine = [r for r in rows if r.unit == unit]
        usable = [r for r in mine if r.result.status != "rejected"]
        added = [r for r in mine if r.added]
        if usable:
            best = max(usable, key=lambda r: (r.date, r.result.mtime, r.name))
            assert added == [best]
        else:
            assert added == []
        if len(mine) > 1:
            assert sum(1 for r in mine if r.status != ST_DUPLICATE) == 1
            assert all(any(f.code == "M01" for f in r.findings) for r in mine if r.status == ST_DUPLICATE)


# Each example writes every summary; a dozen, with the sums floats get wrong, are plenty.
@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.decimals(min_value=0, max_value=10 ** 7, places=2, allow_nan=False),
                min_size=1, max_size=30))
@example([Decimal("0.1"), Decimal("0.2")])
@example([Decimal("9999999.99")] * 30)
@example([Decimal("0.01")] * 30)
def test_amounts_add_up_to_the_cent(tmp_path_factory, amounts):
    results = [_result(f"f{i}.xlsx", f"单位{i}", deals_amount=a) for i, a in enumerate(amounts)]
    merged = merge_results(results, FORM)
    b = merged.batches["第一批"]
    assert b.totals["deals_amount"] == sum(amounts, Decimal(0))
    assert sum(b.data["deals_amount"], Decimal(0)) == sum(amounts, Decimal(0))
    out = tmp_path_factory.mktemp("cents")
    write_outputs(merged, out)
    rows = list(csv.DictReader((out / "汇总-第一批.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert sum((Decimal(r["deals_amount"]) for r in rows), Decimal(0)) == sum(amounts, Decimal(0))


def test_m04_flags_a_value_far_above_the_median():
    counts = [100, 120, 90, 110, 105]
    results = [_result(f"f{i}.xlsx", f"单位{i}", service_count=c) for i, c in enumerate(counts)]
    results.append(_result("big.xlsx", "大单位", service_count=105 * 40))
    merged = merge_results(results, FORM)
    flagged = [(r.name, f.fields) for r in merged.batches["第一批"].entries
               for f in r.findings if f.code == "M04"]
    assert flagged == [("big.xlsx", ("service_count",))]
    assert next(r for r in merged.batches["第一批"].entries if r.name == "big.xlsx").status == ST_WARNINGS


@pytest.mark.parametrize("counts, big", [
    ([100, 120, 90], 105 * 40),              # too few values in the batch (4) to judge
    ([10, 12, 9, 11, 10], 900),              # far above the median, but under the floor
    ([100, 120, 90, 110, 105], 105 * 19),    # under 20 times the median
])
def test_m04_stays_silent(counts, big):
    results = [_result(f"f{i}.xlsx", f"单位{i}", service_count=c) for i, c in enumerate(counts)]
    results.append(_result("big.xlsx", "大单位", service_count=big))
    merged = merge_results(results, FORM)
    assert not [f for r in merged.batches["第一批"].entries for f in r.findings if f.code == "M04"]


def test_unit_names_match_the_roster_across_widths_and_spaces(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位名称,列入批次,平台类别,推荐单位\n某某（北京）检测研究院,第一批,检验检测,北京市经济和信息化局\n",
                      encoding="utf-8-sig")
    from xlsx_tools.roster import read_roster
    merged = merge_results([_result("a.xlsx", "某某(北京) 检测研究院")], FORM, read_roster(roster))
    rows = merged.batches["第一批"].entries
    assert [(r.status, r.on_roster) for r in rows] == [(ST_ACCEPTED, True)]


def test_a_unit_returned_under_another_batch_is_off_roster_there_and_missing_here(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("单位名称,列入批次,平台类别,推荐单位\n甲检测研究院,第二批,检验检测,某厅\n",
                      encoding="utf-8-sig")
    from xlsx_tools.roster import read_roster
    merged = merge_results([_result("a.xlsx", "甲检测研究院", batch="第一批")], FORM, read_roster(roster))
    first = merged.batches["第一批"].entries
    second = merged.batches["第二批"].entries
    assert [(r.status, r.added) for r in first] == [(ST_OFF_ROSTER, True)]
    m02 = [f for f in first[0].findings if f.code == "M02"]
    assert m02 and "第二批" in m02[0].message
    assert [(r.status, r.added, r.result) for r in second] == [(ST_MISSING, False, None)]
    assert [f.code for f in second[0].findings] == ["M03"]


def test_data_frame_types():
    results = [_result(f"f{i}.xlsx", f"单位{i}", service_count=i, deals_amount=Decimal("1.10") * i)
               for i in range(3)]
    df = merge_results(results, FORM).batches["第一批"].data
    assert str(df["service_count"].dtype) == "Int64"
    assert df["deals_amount"].dtype == object and all(isinstance(v, Decimal) for v in df["deals_amount"])
    assert df["fill_date"].iloc[0] == dt.date(2022, 9, 15)
    assert df["new_bases"].isna().all()
    assert df.index.name == "file" and list(df.index) == ["f0.xlsx", "f1.xlsx", "f2.xlsx"]


def test_one_path_given_as_text():
    one = next(p for p in sorted(RETURNED.iterdir()) if p.suffix == ".xlsx")
    result = merge_paths(str(one), jobs=1)
    assert [s.name for s in result.submissions] == [one.name]


def test_a_file_with_no_batch_is_listed_in_the_overview(tmp_path):
    junk = tmp_path / "in" / "随手保存的表格.xlsx"
    junk.parent.mkdir()
    junk.write_bytes(b"not a workbook at all")
    out = tmp_path / "out"
    result = merge_paths([junk.parent], out_dir=out, jobs=1)
    assert result.batches == {} and [r.name for r in result.unplaced] == [junk.name]
    assert result.exit_code == 1
    ws = openpyxl.load_workbook(out / f"{OVERVIEW_STEM}.xlsx")["提交情况"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert any(junk.name in t for t in texts)
    assert "无法识别批次" in texts
    overview = openpyxl.load_workbook(out / f"{OVERVIEW_STEM}.xlsx")["总览"]
    heads = {overview.cell(3, c).value: c for c in range(1, overview.max_column + 1)}
    rows = {overview.cell(r, 1).value: r for r in range(4, overview.max_row + 1)}
    for head in ("收到文件数", ST_UNREADABLE):
        assert overview.cell(rows["无法识别批次"], heads[head]).value == 1
        assert overview.cell(rows["全国合计"], heads[head]).value == 1
    assert overview.cell(rows["全国合计"], heads["计入汇总平台数"]).value == 0


# -- the command --------------------------------------------------------------------

@pytest.fixture(scope="module")
def merged_by_the_command(tmp_path_factory):
    """The README's main command again, through the command line, in one process."""
    out = tmp_path_factory.mktemp("command") / "out"
    res = CliRunner().invoke(main, ["merge", str(RETURNED), "--roster", str(ROSTER), "--out", str(out),
                                    "--previous", str(PREVIOUS), "--jobs", "1"])
    return res, out


def test_cli_merges_the_samples(merged_by_the_command):
    res, out = merged_by_the_command
    assert res.exit_code == 0, res.output
    for batch in {e["batch"] for e in _expected()["files"]}:
        assert batch in res.output
        assert (out / f"{batch_file_stem(batch)}.xlsx").exists()
        assert (out / f"{batch_file_stem(batch)}.csv").exists()
    assert (out / f"{OVERVIEW_STEM}.xlsx").exists()
    assert ST_MISSING in res.output and ST_DUPLICATE in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("args", [[], ["--out", "x"], [str(RETURNED)],
                                  [str(RETURNED), "--out", "x", "--jobs", "0"],
                                  [str(RETURNED), "--out", "x", "--roster", "没有这个名单.csv"]])
def test_cli_usage_errors_exit_2(args, tmp_path):
    res = CliRunner().invoke(main, ["merge", *args])
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_cli_out_that_is_a_file_exits_2(tmp_path):
    (tmp_path / "f").write_text("x")
    res = CliRunner().invoke(main, ["merge", str(RETURNED), "--out", str(tmp_path / "f")])
    assert res.exit_code == 2 and "文件夹" in res.output


def test_cli_output_that_cannot_be_written_exits_1(tmp_path):
    out = tmp_path / "o"
    (out / f"{batch_file_stem('第一批')}.xlsx").mkdir(parents=True)  # a folder where a summary goes
    res = CliRunner().invoke(main, ["merge", str(RETURNED), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 1
    assert "无法写入汇总文件" in res.output and "Traceback" not in res.output


def test_cli_missing_path_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "没有这个文件夹"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "找不到" in res.output


def test_cli_bad_roster_lists_the_rows_and_exits_1(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称,列入批次,平台类别,推荐单位\n甲院,第九批,检验检测,某厅\n乙院,第一批,咨询,某厅\n",
                      encoding="utf-8-sig")
    res = CliRunner().invoke(main, ["merge", str(RETURNED), "--roster", str(roster),
                                    "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "第2行" in res.output and "第3行" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_nothing_to_add_exits_1_but_writes_the_lists(tmp_path):
    xls = next(RETURNED.glob("*.xls"))
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["merge", str(xls), "--out", str(out)])
    assert res.exit_code == 1
    assert (out / f"{OVERVIEW_STEM}.xlsx").exists()
    assert "Traceback" not in res.output


# -- the samples themselves ------------------------------------------------------------

def _make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["make_samples"]
    return module


def test_samples_are_what_the_script_says():
    # The workbooks' bytes follow the writer; `python3 samples/make_samples.py --check`
    # compares those. Here: the same round, the same names, the same texts.
    module = _make_samples()
    roster, files = module.make_round(FORM)
    for name, content in module.texts(roster, files).items():
        assert (SAMPLES / name).read_bytes() == content, f"{name}: run python3 samples/make_samples.py"
    assert sorted(p.name for p in RETURNED.iterdir()) == \
        sorted(f.file_name for f in files if f.expect != "missing")


def test_returned_workbooks_hold_the_values_in_expected_json():
    for e in _expected()["files"]:
        if not e["file"] or not e["file"].endswith(".xlsx"):
            continue
        wb = openpyxl.load_workbook(RETURNED / e["file"], read_only=True)
        # The inputs are on the form's sheets; 校验结果's thousands of formulas are not read.
        cells = {(ws.title, c.coordinate): c.value for ws in (wb[FORM.cover.name], wb[FORM.table.name])
                 for row in ws.iter_rows() for c in row if hasattr(c, "coordinate")}
        for fid, value in e["values"].items():
            (sheet, ref), = wb.defined_names[f"fld_{fid}"].destinations
            got = cells.get((sheet, ref.replace("$", "")))
            want = _typed(fid, value)
            if want is None:
                assert got in (None, ""), (e["file"], fid)
            elif isinstance(want, Decimal):
                assert Decimal(repr(float(got))) == want, (e["file"], fid)
            elif isinstance(want, dt.date):
                assert got.date() == want, (e["file"], fid)
            else:
                assert got == want, (e["file"], fid)


def test_samples_cover_the_round():
    exp = _expected()
    assert 35 <= len(exp["roster"]) <= 45
    assert {r["batch"] for r in exp["roster"]} == set(FORM.batches)
    assert {r["platform_category"] for r in exp["roster"]} == set(FORM.categories)
    per_batch = defaultdict(set)
    for r in exp["roster"]:
        per_batch[r["batch"]].add(r["platform_category"])
    assert all(len(c) >= 2 for c in per_batch.values())
    codes = {c for e in exp["files"] for c in e["codes"]}
    assert {"R01", "R05", "R11", "missing", "R03", "R06", "too_short", "M01", "M02", "M03", "M04",
            "R18", "xls"} <= codes
    assert any(p.suffix == ".xls" for p in RETURNED.iterdir())


def _cells(path: Path) -> list[str]:
    # Values only: openpyxl's read-only reader reads them alike, without binding every style.
    wb = openpyxl.load_workbook(path, read_only=True)
    return [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.value is not None]


def test_outputs_name_files_under_the_folder_given_never_where_it_is(tmp_path):
    """The workbooks go out to the recommending units: a file is named under the folder
    given (子文件夹/名称 when nested), and the same files in two places give the same bytes."""
    outs = []
    for place in ("a", "b/deeper"):
        returned = tmp_path / place / "returned"
        shutil.copytree(RETURNED, returned)
        nested = returned / "补交"
        nested.mkdir()
        moved = sorted(returned.glob("第一批-*.xlsx"))[0]
        moved.rename(nested / moved.name)
        out = tmp_path / place / "out"
        merge_paths([returned], out_dir=out, roster=ROSTER, jobs=1)
        outs.append(out)
    # Read in the first place only: the second's bytes are asserted the same below, and its
    # folder is another, so a path written into either would also differ there.
    texts = [t for p in outs[0].rglob("*.xlsx") for t in _cells(p)]
    assert not [t for t in texts if str(tmp_path) in t]
    assert f"补交/{moved.name}" in texts
    names = sorted(str(p.relative_to(outs[0])) for p in outs[0].rglob("*") if p.is_file())
    assert names and names == sorted(str(p.relative_to(outs[1])) for p in outs[1].rglob("*") if p.is_file())
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_a_file_given_by_itself_is_named_by_its_name(tmp_path):
    one = sorted(RETURNED.glob("第一批-*.xlsx"))[0]
    merge_paths([one.parent / ".." / "returned" / one.name], out_dir=tmp_path, roster=ROSTER, jobs=1)
    texts = [t for p in tmp_path.rglob("*.xlsx") for t in _cells(p)]
    assert one.name in texts
    assert not [t for t in texts if t.endswith(one.name) and t != one.name]


def test_categories_are_named_as_the_table_and_the_file_names_name_them(merged, book):
    # 平台类别 read 检验检测 in the summaries, 提交情况 and 推荐单位 workbooks but 检验检测类
    # on the web, in 催报 and in the file names: every sheet shows the choice as the table
    # does; the CSV (for programs) keeps the stored choice.
    _, out, _ = merged
    category = FORM.role_field("category")
    assert category.suffix
    bare, shown = set(category.choices), {category.shown(c) for c in category.choices}
    seen = set()
    for path in sorted(out.rglob("*.xlsx")):
        for ws in book(str(path.relative_to(out))).worksheets:
            texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
            assert not [t for t in texts if t in bare], (path.name, ws.title)
            seen |= shown & set(texts)
    assert seen == shown
    batch = next(b for b in FORM.batches if (out / f"{batch_file_stem(b)}.csv").exists())
    with open(out / f"{batch_file_stem(batch)}.csv", encoding="utf-8-sig") as f:
        assert {r[category.id] for r in csv.DictReader(f)} <= bare


def test_the_report_names_categories_as_the_table_does(tmp_path):
    from xlsx_tools.report import write_report_xlsx
    from xlsx_tools.validate import validate_paths
    category = FORM.role_field("category")
    path = write_report_xlsx(validate_paths([RETURNED], FORM, jobs=1), tmp_path / "问题清单.xlsx")
    texts = {c.value for ws in openpyxl.load_workbook(path).worksheets for row in ws.iter_rows()
             for c in row if isinstance(c.value, str)}
    assert not texts & set(category.choices)
    assert texts & {category.shown(c) for c in category.choices}


def test_the_overview_counts_every_file_received_and_those_judged(tmp_path):
    # A round merges each unit's chosen version: 收到文件数 said 41 where 44 had arrived
    # (a unit's 2 versions, a file sent twice). Given what each file stands for, the
    # overview counts every file received and, apart, the files judged.
    files = validate_paths([RETURNED], FORM, jobs=1).files
    kept = [r for r in files if r.readable][:3]
    result = merge_results(kept, FORM, received={kept[0].file: 2, kept[1].file: 3})
    write_outputs(result, tmp_path)
    ws = openpyxl.load_workbook(tmp_path / f"{OVERVIEW_STEM}.xlsx")["总览"]
    heads = {ws.cell(3, c).value: c for c in range(1, ws.max_column + 1)}
    total = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, 1).value == "全国合计")
    assert ws.cell(total, heads["收到文件数"]).value == 2 + 3 + 1
    assert ws.cell(total, heads["采用的文件数"]).value == 3
    by_batch = {ws.cell(r, 1).value: ws.cell(r, heads["收到文件数"]).value for r in range(4, total)}
    assert sum(by_batch.values()) == 6
