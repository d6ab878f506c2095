"""validate over files and folders, its JSON, the findings workbook, the annotated
copies, and the `xlsx-tools validate` command, on workbooks generated and filled
like real ones (tests/_fill.py)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from _fill import FORM, fill_workbook, make_filled, resave_with_libreoffice, valid_values
from xlsx_tools.cli import main
from xlsx_tools.form import META_SHEET
from xlsx_tools.report import (ANNOTATION_SHEET, annotate_workbooks, write_json,
                               write_report_xlsx)
from xlsx_tools.validate import UNREADABLE, VERDICTS, find_files, validate_file, validate_paths


def at(field_id: str) -> str:
    return FORM.input_cell(field_id).address


@pytest.fixture(scope="module")
def returned(tmp_path_factory) -> Path:
    """A folder as a clerk receives it."""
    d = tmp_path_factory.mktemp("returned") / "回收"
    make_filled(d, valid_values(unit_name="甲检测研究院"))
    make_filled(d, {**valid_values(unit_name="乙检测研究院"), "served_companies": 121})      # R03
    make_filled(d / "第二批", {**valid_values(unit_name="丙信息中心", category="信息服务",
                                             batch="第二批"),
                              "sme_service_count": 121, "national_projects": None,
                              "deals_amount": 3.5, "fax": None})                         # errors
    (d / "旧格式.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(512))
    (d / "损坏.xlsx").write_bytes(b"this is not a workbook")
    (d / "说明.txt").write_text("不是工作簿", encoding="utf-8")
    (d / "~$第一批-检验检测类-甲检测研究院.xlsx").write_bytes(b"lock")
    return d


GOOD = "第一批-检验检测类-甲检测研究院.xlsx"
WARN = "第一批-检验检测类-乙检测研究院.xlsx"
BAD = "第二批-信息服务类-丙信息中心.xlsx"
ODD = ("旧格式.xls", "损坏.xlsx", "说明.txt")     # each 无法读取, with its reason
N = 3 + len(ODD)                                  # the files of the folder


def by_name(run) -> dict:
    return {r.path.name: r for r in run.files}


def test_folders_are_walked_in_a_fixed_order_and_nothing_is_lost(returned) -> None:
    run = validate_paths([returned], FORM, jobs=1)
    names = [r.path.name for r in run.files]
    # Every file a person put there, a note too; not Excel's lock file.
    assert sorted(names) == sorted([GOOD, WARN, BAD, *ODD])
    assert names == [p.name for p, _ in find_files([returned])]
    r = by_name(run)
    assert (r[GOOD].status, r[GOOD].verdict) == ("accepted", "通过")
    assert (r[WARN].status, r[WARN].verdict) == ("warnings", "有警告")
    assert [f.code for f in r[WARN].findings] == ["R03"]
    assert (r[BAD].status, r[BAD].verdict) == ("rejected", "不通过")
    assert sorted((f.code, f.cells) for f in r[BAD].findings) == [
        ("R01", (at("sme_service_count"), at("service_count"))),
        ("missing", (at("national_projects"),)),
    ]
    for odd in ODD:
        assert (r[odd].status, r[odd].verdict) == ("unreadable", "无法读取")
        assert r[odd].reason and len(r[odd].findings) == 1
        assert r[odd].findings[0].message == r[odd].reason
    assert run.counts() == {"通过": 1, "有警告": 1, "已说明": 0, "不通过": 1, "无法读取": len(ODD)}
    assert sorted(run.flatten(("name", "code", "severity"))) == sorted([
        (WARN, "R03", "warning"), (BAD, "missing", "error"), (BAD, "R01", "error"),
        *((odd, r[odd].kind, "error") for odd in ODD)])
    assert run.exit_code == 1


def test_several_processes_give_the_same_results_in_the_same_order(returned) -> None:
    seen_one, seen_two = [], []
    one = validate_paths([returned], FORM, jobs=1, progress=lambda d, t: seen_one.append((d, t)))
    two = validate_paths([returned], FORM, jobs=2, progress=lambda d, t: seen_two.append((d, t)))
    assert two.to_dict() == one.to_dict()
    assert seen_one == [(i, N) for i in range(N + 1)]
    assert seen_two[0] == (0, N) and seen_two[-1] == (N, N)
    assert [d for d, _ in seen_two] == sorted(d for d, _ in seen_two)


def test_files_given_twice_or_through_a_link_loop_are_checked_once(returned, tmp_path) -> None:
    os.symlink(returned, returned / "第二批" / "回到上层")
    try:
        found = find_files([returned, returned / GOOD])
    finally:
        os.unlink(returned / "第二批" / "回到上层")
    assert len(found) == len({p.resolve() for p, _ in found}) == N


def test_a_missing_file_is_rejected_not_raised(tmp_path) -> None:
    r = validate_file(tmp_path / "没有这个文件.xlsx", FORM)
    assert r.status == "unreadable" and r.verdict == "无法读取" and r.reason


def test_json_shape(returned, tmp_path) -> None:
    run = validate_paths([returned], FORM, jobs=1)
    out = write_json(run, tmp_path / "结果.json")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["form"] == FORM.id
    assert len(data["files"]) == N
    files = {Path(f["file"]).name: f for f in data["files"]}
    for f in data["files"]:
        assert {"file", "status", "unit", "batch", "category", "findings",
                "values"} <= set(f)
        assert f["status"] in ("accepted", "warnings", "explained", "rejected", "unreadable")
        for finding in f["findings"]:
            assert set(finding) == {"code", "severity", "fields", "cells", "message",
                                    "explanation"}
            assert finding["severity"] in ("error", "warning")
    bad = files[BAD]
    assert (bad["unit"], bad["batch"], bad["category"]) == ("丙信息中心", "第二批", "信息服务")
    v = bad["values"]
    assert set(v) == {f.id for f in FORM.fields}
    assert v["service_count"] == 120 and type(v["service_count"]) is int
    assert v["deals_amount"] == 3.5
    assert v["patent_deals_amount"] == 35
    assert v["fill_date"] == "2022-09-15"
    assert v["national_projects"] is None and v["fax"] is None
    xls = files["旧格式.xls"]
    assert xls["status"] == "unreadable" and xls["values"] == {} and xls["reason"]
    assert xls["findings"][0]["severity"] == "error"


def test_report_workbook_lists_every_finding_and_every_file(returned, tmp_path) -> None:
    run = validate_paths([returned], FORM, jobs=1)
    out = write_report_xlsx(run, tmp_path / "问题清单.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["问题清单", "文件情况"]
    ws = wb["问题清单"]
    header = [c.value for c in ws[1]]
    assert header == ["文件", "单位名称", "单元格", "字段", "严重程度", "代码", "说明", "审核说明"]
    # As written: only the messages (说明) carry the line breaks the program writes in.
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert not [v for r in rows for j, v in enumerate(r) if j != 6 and "\n" in str(v)]
    assert len(rows) == sum(len(r.findings) for r in run.files)
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:H")
    assert ws.freeze_panes == "A2"
    r01 = next(r for r in rows if r[5] == "R01")
    assert "未填写" in [r[5] for r in rows]
    assert r01[1] == "丙信息中心" and r01[2].startswith(at("sme_service_count")) and r01[4] == "错误"
    assert {r[4] for r in rows} <= {"错误", "警告"}
    files = [[c.value for c in row] for row in wb["文件情况"].iter_rows(min_row=2)]
    assert not [v for r in files for v in r[:8] if "\n" in str(v)]
    assert len(files) == N
    # Files by their names in the folder they came from, the folder at the top of each page.
    assert sorted(r[0] for r in files) == sorted(os.path.relpath(r.file, returned) for r in run.files)
    for sheet in wb.worksheets:
        assert str(returned) in sheet.oddHeader.left.text
    verdicts = [*(VERDICTS[s] for s in ("accepted", "warnings", "rejected")), *[UNREADABLE] * len(ODD)]
    assert sorted(r[4] for r in files) == sorted(verdicts)
    assert all(r[8] for r in files if r[4] == UNREADABLE)
    assert write_report_xlsx(run, tmp_path / "again.xlsx").read_bytes() == out.read_bytes()


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_annotated_copies_mark_each_finding_and_leave_the_originals_alone(returned, tmp_path) -> None:
    run = validate_paths([returned], FORM, jobs=1)
    before = _digest(returned)
    outcome = annotate_workbooks(run, tmp_path / "退回")
    assert _digest(returned) == before
    assert sorted(p.name for p in outcome.written) == sorted([WARN, BAD])
    assert sorted(Path(f).name for f, _ in outcome.skipped) == sorted(ODD)

    original = by_name(run)[BAD]
    copy = tmp_path / "退回" / BAD
    wb = openpyxl.load_workbook(copy)
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert all(wb[s.name].protection.sheet for s in FORM.sheets)
    listing = [[c.value for c in row] for row in wb[ANNOTATION_SHEET].iter_rows(min_row=2)]
    assert len(listing) == len(original.findings)
    for f in original.findings:
        for cell in f.cells:
            sheet, _, ref = cell.partition("!")
            c = wb[sheet][ref]
            assert c.comment is not None and f.message in c.comment.text
            assert c.comment.author == "xlsx-tools"
            assert c.fill.fgColor.rgb.endswith("FFC7CE" if f.is_error else "FFE4B5")

    again = validate_file(copy, FORM)
    assert [(f.code, f.cells, f.message) for f in again.findings] == \
        [(f.code, f.cells, f.message) for f in original.findings]
    # The same run gives the same bytes.
    twice = annotate_workbooks(run, tmp_path / "又一次")
    assert (tmp_path / "又一次" / BAD).read_bytes() == copy.read_bytes()
    assert len(twice.written) == 2
    # The filler corrects one thing in the copy and sends it back: annotating it
    # again lists what is left, once, and the corrected cell loses its note.
    fixed = fill_workbook(copy, tmp_path / "改后" / BAD, {"national_projects": 3})
    again = validate_paths([fixed], FORM, jobs=1)
    assert [f.code for f in again.files[0].findings] == ["R01"]
    outcome = annotate_workbooks(again, tmp_path / "再次")
    wb = openpyxl.load_workbook(outcome.written[0])
    assert wb.sheetnames.count(ANNOTATION_SHEET) == 1
    assert wb[ANNOTATION_SHEET].max_row == 2
    sheet, _, ref = at("national_projects").partition("!")
    assert wb[sheet][ref].comment is None
    sheet, _, ref = at("service_count").partition("!")
    assert "R01" not in wb[sheet][ref].comment.text and "120" in wb[sheet][ref].comment.text


@pytest.mark.libreoffice
def test_annotating_works_both_ways_round_with_libreoffice(returned, tmp_path) -> None:
    """An annotated copy re-saved by LibreOffice, and a LibreOffice-saved return
    annotated, both still give the same findings."""
    run = validate_paths([returned / "第二批"], FORM, jobs=1)
    expected = [(f.code, f.cells) for f in run.files[0].findings]
    (copy,) = annotate_workbooks(run, tmp_path / "退回").written
    staged = tmp_path / "in" / "annotated.xlsx"
    staged.parent.mkdir()
    staged.write_bytes(copy.read_bytes())
    lo_copy, lo_return = resave_with_libreoffice([staged, run.files[0].path], tmp_path / "lo")
    for path in (lo_copy, lo_return):   # R18 wants the file's own name back
        named = tmp_path / "named" / path.stem / BAD
        named.parent.mkdir(parents=True)
        named.write_bytes(path.read_bytes())
        again = validate_paths([named], FORM, jobs=1)
        assert [(f.code, f.cells) for f in again.files[0].findings] == expected
        if path is lo_return:
            (annotated,) = annotate_workbooks(again, tmp_path / "退回-lo").written
            third = validate_file(annotated, FORM)
            assert [(f.code, f.cells) for f in third.findings] == expected
            assert openpyxl.load_workbook(annotated)[ANNOTATION_SHEET].max_row == len(expected) + 1


# -- the command --------------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(main, ["validate", *args])


def test_cli_exit_codes(returned, tmp_path) -> None:
    good = invoke(str(returned / GOOD), "--jobs", "1")
    assert good.exit_code == 0, good.output
    assert "通过" in good.output
    assert "共 1 个文件：通过 1，有警告 0，已说明 0，不通过 0，无法读取 0" in good.output
    warn = invoke(str(returned / WARN), "--jobs", "1")
    assert warn.exit_code == 0 and "有警告" in warn.output
    everything = invoke(str(returned), "--jobs", "1")
    assert everything.exit_code == 1
    assert f"共 {N} 个文件：通过 1，有警告 1，已说明 0，不通过 1，无法读取 {len(ODD)}" in everything.output
    missing = invoke(str(tmp_path / "没有这个文件夹"))
    assert missing.exit_code == 2 and "找不到" in missing.output
    assert invoke().exit_code == 2
    empty = tmp_path / "空文件夹"
    empty.mkdir()
    assert invoke(str(empty)).exit_code == 2
    assert invoke(str(returned), "--report", str(tmp_path / "清单.csv")).exit_code == 2
    assert invoke(str(returned), "--jobs", "0").exit_code == 2


def test_cli_lines_and_verbose_findings(returned) -> None:
    out = invoke(str(returned), "--jobs", "1", "-v").output
    lines = out.splitlines()
    bad = next(line for line in lines if line.endswith(BAD))
    assert bad.startswith("不通过") and "错误 2 项" in bad and "警告 0 项" in bad
    assert any(line.strip().startswith("[错误]") and at("national_projects") in line for line in lines)
    xls = next(line for line in lines if "旧格式.xls" in line)
    assert xls.startswith("无法读取")
    findings = [line for line in lines if line.startswith("    [")]
    assert findings and not [x for x in findings if re.search(r"[a-z_]{3,}", x)], "Chinese only"
    assert not any(line.isascii() and line.strip() for line in lines)


def test_cli_writes_json_report_and_copies(returned, tmp_path) -> None:
    result = invoke(str(returned), "--jobs", "2", "--json", str(tmp_path / "r.json"),
                    "--report", str(tmp_path / "r.xlsx"), "--annotate", str(tmp_path / "退回"))
    assert result.exit_code == 1, result.output
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["form"] == FORM.id
    assert openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames == ["问题清单", "文件情况"]
    assert sorted(p.name for p in (tmp_path / "退回").iterdir()) == sorted([WARN, BAD])


def test_cli_help_is_chinese() -> None:
    result = invoke("--help")
    assert result.exit_code == 0 and "校验" in result.output
