"""A round's folder with every hostile file mixed among good workbooks.

The corpus of tests/_hostile.py (bombs, entities, a million rows, truncated and
bit-flipped files, renamed CSV/HTML/PDF, macros, a password, the hidden sheet
deleted or edited, a name pointing elsewhere, a label edited, rows inserted,
odd and long names, a read-only file), a legacy .xls made by LibreOffice (when its
test runs), and a sub-folder with a symlink loop and a dangling link, go into ONE
folder with good workbooks of several batches and categories. validate and merge run over
the folder: every good workbook is added up, every bad file is listed with a
Chinese reason, and nothing raises.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from _generate_helpers import norm
from _fill import make_filled, valid_values
from _hostile import libreoffice_cases, make_corpus, rewrite_zip, symlink_loop
from _libreoffice import SOFFICE
from test_read_ambiguous import REFUSED

from xlsx_tools.form import load_form
from xlsx_tools.merge import (
    FINDING_COLUMNS,
    OVERVIEW_STEM,
    ST_ACCEPTED,
    ST_FAILED,
    ST_UNREADABLE,
    ST_WARNINGS,
    SUBMISSION_COLUMNS,
    batch_file_stem,
    merge_paths,
)
from xlsx_tools.report import write_json, write_report_xlsx
from xlsx_tools.validate import FAILED, UNREADABLE, validate_paths

FORM = load_form()
# The unit name of the corpus's base workbook carries this ASCII mark, which
# each readable case gets replaced by its own, so no two files are one unit (M01).
MARK = "ZQXMARK"

# Corpus cases the reader reads (kind None): is the file added up? By the spec's
# R20 (identity: error; an older version: warning) and R21 (structure: warning).
READ_CASES_ADDED = {
    "older_version": True,      # R20 warning
    "meta_deleted": False,      # R20 error: no identity
    "name_elsewhere": True,     # R21 warning, the value read where the layout says
    "label_edited": True,       # R21 warning
    "rows_inserted": True,      # R21 warning, fields followed through their names
    "unprotected": True,        # R21 warning
    "odd_name": True,
    "long_name": True,
    "read_only": True,
    "prefix_below_sheet_data": True,   # legal XML: read as typed
    "prefix_in_sst": True,
    "foreign_cell": True,              # a c of another namespace is no cell
    "row_ref_spaced": True,            # a row's number with spaces around it
    "digits_5000_text": False,         # not_a_number: more digits than Excel holds
}
ADDED = {ST_ACCEPTED, ST_WARNINGS}


def is_chinese(text: str | None) -> bool:
    return bool(text) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _with_unit(src: Path, dst: Path, unit_mark: str) -> Path:
    """Copy a readable case with MARK replaced by ``unit_mark`` in every part."""
    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    changed = {n: d.replace(MARK.encode(), unit_mark.encode()) for n, d in parts.items()
               if MARK.encode() in d}
    assert changed, f"{src.name}: the unit name's mark is not in the file"
    return rewrite_zip(src, dst, changed)


# -- the round -------------------------------------------------------------------

class Round:
    def __init__(self, folder: Path):
        self.folder = folder
        self.added: dict[str, str] = {}      # relative path -> unit name: must be added up
        self.refused: dict[str, tuple[str, ...]] = {}   # relative path -> acceptable kinds ('' any)
        self.cases: dict[str, str] = {}      # corpus case name -> relative path

    def rel(self, path: Path) -> str:
        return os.path.relpath(path, self.folder)


def _libreoffice_case_runs(request) -> bool:
    """Whether this run takes the module's LibreOffice case (the quick lane leaves it out:
    then no LibreOffice is started to make its .xls)."""
    return SOFFICE is not None and any(item.module is request.module and "libreoffice" in item.keywords
                                       for item in request.session.items)


@pytest.fixture(scope="module")
def round_(tmp_path_factory, request) -> Round:
    work = tmp_path_factory.mktemp("hostile-merge")
    folder = work / "回收文件"
    folder.mkdir()
    r = Round(folder)

    # Good workbooks across batches and categories, one in a nested folder.
    for i, (batch, cat) in enumerate(zip(FORM.batches, FORM.categories * 2)):
        unit = f"良好样例{i}号检测研究院"
        where = folder / "第二次收到" if i == 2 else folder
        p = make_filled(where, valid_values(category=cat, batch=batch, unit_name=unit))
        r.added[r.rel(p)] = unit

    # The corpus, from a good workbook whose unit name carries MARK.
    base_unit = f"基准检测研究院{MARK}"
    base = make_filled(work / "base", valid_values(unit_name=base_unit))
    corpus = make_corpus(work / "corpus", base)
    if _libreoffice_case_runs(request):
        corpus += libreoffice_cases(work / "lo", base)
    for n, case in enumerate(corpus):
        target = folder / case.path.name
        assert not target.exists(), case.path.name
        if case.rejected:
            shutil.copyfile(case.path, target)
            r.refused[r.rel(target)] = (case.kind, *case.kinds)
        else:
            assert case.name in READ_CASES_ADDED, f"decide whether {case.name} is added up"
            mark = f"CASE{n:03d}"
            _with_unit(case.path, target, mark)
            if READ_CASES_ADDED[case.name]:
                r.added[r.rel(target)] = base_unit.replace(MARK, mark)
            else:
                r.refused[r.rel(target)] = ("",)
        if case.name == "read_only":
            target.chmod(0o444)
        r.cases[case.name] = r.rel(target)

    # A sub-folder that links back to itself, with a good workbook and a dangling link.
    loop = folder / "环路"
    loop.mkdir()
    p = make_filled(loop, valid_values(category=FORM.categories[1], batch=FORM.batches[-1],
                                       unit_name="环路中的数据研究院"))
    r.added[r.rel(p)] = "环路中的数据研究院"
    symlink_loop(loop)
    r.refused[r.rel(loop / "dangling.xlsx")] = ("",)
    return r


@pytest.fixture(scope="module")
def validated(round_):
    return validate_paths([round_.folder], jobs=2)


@pytest.fixture(scope="module")
def merged(round_, tmp_path_factory):
    out = tmp_path_factory.mktemp("merge-out")
    return merge_paths([round_.folder], out, jobs=2), out


def _everything(r: Round) -> set[str]:
    return set(r.added) | set(r.refused)


# -- validate ------------------------------------------------------------------------

def test_validate_lists_every_file_once(round_, validated):
    listed = [round_.rel(Path(f.file)) for f in validated.files]
    assert len(listed) == len(set(listed))
    assert set(listed) == _everything(round_)


def test_validate_reads_every_good_file(round_, validated):
    by = {round_.rel(Path(f.file)): f for f in validated.files}
    for rel, unit in round_.added.items():
        f = by[rel]
        assert f.readable and not f.failed, (rel, [x.message for x in f.findings])
        assert f.unit == unit


def test_validate_refuses_every_bad_file_with_a_chinese_reason(round_, validated):
    by = {round_.rel(Path(f.file)): f for f in validated.files}
    for rel, kinds in round_.refused.items():
        f = by[rel]
        assert f.failed, rel
        if kinds != ("",):
            assert f.verdict == UNREADABLE and f.kind in kinds, (rel, f.kind, f.reason)
        reason = f.reason or " ".join(x.message for x in f.findings if x.severity == "error")
        assert is_chinese(reason), (rel, reason)
        assert "Traceback" not in reason and "Error" not in reason


@pytest.mark.parametrize("case", [*READ_CASES_ADDED, "empty", "truncated", "bit_flipped", "csv", "html",
                                  "pdf", "random", "docx", "xlsm", "encrypted", "bomb_ratio",
                                  "bomb_cap", "bomb_lying", "million_rows", "billion_laughs",
                                  "external_entity", "late_doctype", "other_form", "other_form_id",
                                  "newer_version", "meta_and_names_deleted", *REFUSED,
                                  pytest.param("xls", marks=pytest.mark.libreoffice)])
def test_each_corpus_case_in_the_mixed_folder(round_, merged, case):
    """Each case, among the others: added up if readable and sound, else listed with its reason."""
    result, _out = merged
    rel = round_.cases[case]
    subs = [s for s in result.submissions if s.result is not None and round_.rel(Path(s.file)) == rel]
    assert len(subs) == 1, (case, rel)
    s = subs[0]
    if rel in round_.added:
        assert s.added and s.status in ADDED, (case, s.status, s.note)
        assert s.unit == round_.added[rel]
    else:
        assert not s.added and s.status == _refused_word(s.result), (case, s.status)
        why = s.result.reason or " ".join(f.message for f in s.findings if f.severity == "error")
        assert is_chinese(why), (case, why)


def _refused_word(f) -> str:
    """What merge calls a file it does not add: 无法读取 if it could not be read (as validate
    says), 不通过 if it has errors."""
    return ST_UNREADABLE if not f.readable else ST_FAILED


def test_annotated_copies_of_the_mixed_folder(round_, validated, tmp_path):
    """Every readable file with findings gets a copy that opens and reads as it did (rows
    inserted, names moved, labels edited: the marks land where the findings say); every
    other file with findings is skipped with a Chinese reason; nothing raises."""
    from xlsx_tools.annotate import ANNOTATION_SHEET, annotate_workbooks

    outcome = annotate_workbooks(validated, tmp_path / "退回")
    with_findings = [f for f in validated.files if f.findings]
    assert len(outcome.written) + len(outcome.skipped) == len(with_findings)
    assert {Path(f).name for f, _ in outcome.skipped} == {f.name for f in with_findings if not f.readable}
    assert all(is_chinese(why) for _, why in outcome.skipped)
    by_name = {f.name: f for f in with_findings}
    moved = {Path(round_.cases[c]).name for c in ("rows_inserted", "name_elsewhere", "label_edited")}
    for copy in outcome.written:
        original = by_name[copy.name]
        again = validate_paths([copy], jobs=1).files[0]
        assert [(f.code, f.cells) for f in again.findings] == \
            [(f.code, f.cells) for f in original.findings], copy.name
        if copy.name not in moved:    # opened in openpyxl where the cells are not the layout's
            continue
        wb = openpyxl.load_workbook(copy)
        assert wb[ANNOTATION_SHEET].max_row == len(original.findings) + 1
        for f in original.findings:
            for cell in f.cells:
                sheet, _, ref = cell.rpartition("!")
                assert f.message in wb[sheet][ref].comment.text, (copy.name, cell)


def test_reports_list_every_file_with_its_reason(round_, validated, tmp_path):
    import json
    data = json.loads(write_json(validated, tmp_path / "结果.json").read_text(encoding="utf-8"))
    by = {round_.rel(Path(f["file"])): f for f in data["files"]}
    assert set(by) == _everything(round_)
    for rel in round_.refused:
        f = by[rel]
        assert f["status"] in FAILED
        assert any(is_chinese(x["message"]) for x in f["findings"]), rel
        if f["verdict"] == UNREADABLE:
            assert is_chinese(f["reason"]), rel
    report = write_report_xlsx(validated, tmp_path / "结果.xlsx")
    wb = openpyxl.load_workbook(report, read_only=True)
    # The names as they are; the reasons as printed, with the line breaks the program writes in.
    texts = {str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c}
    wb.close()
    for rel in _everything(round_):
        assert any(t.endswith(Path(rel).name) for t in texts), rel
    texts = {norm(t) for t in texts}
    for f in validated.files:
        if f.reason:
            assert norm(f.reason) in texts, f.file


# -- merge ---------------------------------------------------------------------------

def test_merge_adds_up_every_good_file(round_, merged):
    result, _out = merged
    rows = {round_.rel(Path(s.file)): s for b in result.batches.values() for s in b.rows}
    assert set(rows) == set(round_.added)
    for rel, unit in round_.added.items():
        assert rows[rel].unit == unit
    # And in the data frames the summaries are written from.
    in_data = {round_.rel(Path(i)) for b in result.batches.values() for i in b.data.index}
    assert in_data == set(round_.added)


def test_merge_lists_every_file(round_, merged):
    result, _out = merged
    files = [round_.rel(Path(f.file)) for f in result.files]
    assert sorted(files) == sorted(_everything(round_))
    listed = [round_.rel(Path(s.file)) for s in result.submissions if s.result is not None]
    assert sorted(listed) == sorted(files)
    for s in result.submissions:
        if s.result is not None and round_.rel(Path(s.file)) in round_.refused:
            assert s.status == _refused_word(s.result) and not s.added
            assert is_chinese(s.note)


def test_merge_workbooks_show_every_file(round_, merged):
    result, out = merged
    # The batch summaries' 汇总 sheets hold exactly the good files.
    summed: set[str] = set()
    for batch in result.batches:
        wb = openpyxl.load_workbook(out / f"{batch_file_stem(batch)}.xlsx", read_only=True)
        for row in wb["汇总"].iter_rows(values_only=True):
            summed |= {str(c) for c in row if isinstance(c, str) and c.endswith(".xlsx")}
        wb.close()
    assert {round_.rel(Path(p)) if os.path.isabs(p) else p for p in summed} == set(round_.added)
    # The overview's 提交情况 lists every file found, good or bad, with a reason for the bad.
    wb = openpyxl.load_workbook(out / f"{OVERVIEW_STEM}.xlsx", read_only=True)
    rows = list(wb["提交情况"].iter_rows(values_only=True))
    findings = list(wb["问题清单"].iter_rows(values_only=True))
    wb.close()
    header = next(r for r in rows if r and SUBMISSION_COLUMNS["file"] in r)
    col_file, col_status, col_note = (header.index(SUBMISSION_COLUMNS[k]) for k in ("file", "status", "note"))
    by_file = {str(r[col_file]): r for r in rows[rows.index(header) + 1:] if r and r[col_file]}
    f_header = next(r for r in findings if r and FINDING_COLUMNS["message"] in r)
    f_file, f_message = (f_header.index(FINDING_COLUMNS[k]) for k in ("file", "message"))
    words = {round_.rel(Path(f.file)): _refused_word(f) for f in result.files}
    reasons = {round_.rel(Path(f.file)):
               f.reason or next(x.message for x in f.findings if x.severity == "error")
               for f in result.files if f.failed}
    for rel in _everything(round_):
        match = [f for f in by_file if f.endswith(rel)]
        assert len(match) == 1, rel
        row = by_file[match[0]]
        if rel in round_.refused:
            assert row[col_status] == words[rel] and is_chinese(row[col_note]), (rel, row)
            # The file's own reason is in 问题清单, on its row.
            assert any(str(r[f_file]).endswith(rel) and norm(r[f_message]) == norm(reasons[rel])
                       for r in findings[findings.index(f_header) + 1:] if r), rel


def test_merge_cli_on_the_folder_exits_normally(round_, tmp_path):
    out = tmp_path / "汇总结果"
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "merge", str(round_.folder),
                           "--out", str(out), "--jobs", "2"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "1"},
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"计入汇总 {len(round_.added)} 个平台" in done.stdout
    assert (out / f"{OVERVIEW_STEM}.xlsx").exists()


def test_validate_cli_on_the_folder_exits_with_errors_and_no_traceback(round_, tmp_path):
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "validate", str(round_.folder),
                           "--json", str(tmp_path / "r.json"), "--jobs", "2"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "1"},
                          check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for rel in _everything(round_):
        assert Path(rel).name in done.stdout, rel
