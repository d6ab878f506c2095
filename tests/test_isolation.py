"""One file never takes the run down: a poison file per stage, among good files.

A folder holds good workbooks and, for each stage (read, clean, rules, report,
annotate, merge, the time limit over them, a worker that dies), one file that
fails there. Some poisons are real files: what used to crash or hang a stage (a
number of 5,000 or 1,000,000 digits, 42,000 characters in a cell), a package the
reader refuses, a workbook the reader reads but the annotator cannot mark (a
filler's note whose part is damaged: the reader never reads notes, the annotator
must add its own to that part), a file name that is not UTF-8.
Where no file can make a stage fail any more, the stage is made to fail for one
file by its name, to show that the failure stays that file's. Every file is
reported, the poisons as 无法读取 (or with their finding), the good ones exactly
as when they are checked alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from _fill import make_filled, valid_values
from _hostile import ambiguous_cases, rewrite_zip, value_cases
from openpyxl.comments import Comment

from xlsx_tools import merge as merge_module
from xlsx_tools import report as report_module
from xlsx_tools import rules as rules_module
from xlsx_tools import validate as validate_module
from xlsx_tools.form import load_form
from xlsx_tools.merge import ST_UNREADABLE, merge_paths
from xlsx_tools.report import annotate_workbooks, write_json, write_report_xlsx
from xlsx_tools.validate import UNREADABLE, validate_file, validate_paths

FORM = load_form()
GOOD = [("第一批", "检验检测"), ("第二批", "信息服务"), ("第三批", "创新成果产业化")]
STAGES = ("clean", "rules", "report", "merge", "slow", "crash")
POISON = {stage: f"第四批-检验检测类-{stage}研究院.xlsx" for stage in STAGES}
KIND = {"clean": "check_failed", "rules": "check_failed", "report": "report_failed",
        "merge": "merge_failed", "slow": "too_slow", "crash": "crashed"}
ANNOTATE_POISON = "第四批-检验检测类-无法标注研究院.xlsx"
GBK_NAME = "第二批-信息服务类-编码研究院.xlsx"
REAL_REFUSED = {"digits_5000_number": "bad_number", "digits_million_number": "bad_number",
                "digits_million_text": "text_too_long", "text_over_cell_limit": "text_too_long",
                "duplicate_entry": "duplicate_entry"}


def _with_a_damaged_note(root: Path, target: Path) -> Path:
    """A return with a finding on a cell that carries the filler's note, the note's part cut
    short: the reader reads the return (it never opens notes); the annotator cannot add its
    note to that part."""
    cell = FORM.input_cell("contact_person")

    def note(wb) -> None:
        wb[cell.sheet][cell.ref].comment = Comment("联系人下周确定。", "张三")

    noted = make_filled(root / "noted", {**valid_values(), "contact_person": None}, edit=note)
    with zipfile.ZipFile(noted) as z:
        (part,) = [n for n in z.namelist() if re.fullmatch(r"xl/comments/?\w*\.xml", n)]
        damaged = z.read(part)[:-40]
    path = rewrite_zip(noted, target, {part: damaged})
    r = validate_file(path)
    assert r.readable and any(f.cells == (cell.address,) for f in r.findings)
    return path


@pytest.fixture(scope="module")
def round_(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolation")
    folder = root / "回收"
    folder.mkdir()
    good = [make_filled(folder, valid_values(category, batch, f"良好{i}号研究院"))
            for i, (batch, category) in enumerate(GOOD)]
    for stage, name in POISON.items():
        make_filled(folder, valid_values("检验检测", "第四批", f"{stage}研究院"), name=name)
    base = make_filled(root / "base", valid_values())
    cases = {c.name: c for c in value_cases(root / "values", base) + ambiguous_cases(root / "amb", base)}
    for name in (*REAL_REFUSED, "digits_5000_text"):
        shutil.copyfile(cases[name].path, folder / cases[name].path.name)
    _with_a_damaged_note(root, folder / ANNOTATE_POISON)
    # A name that is not UTF-8 on disk (a zip made on Chinese Windows, unpacked here).
    gbk = make_filled(root / "gbk", valid_values("信息服务", "第二批", Path(GBK_NAME).stem.split("-")[-1]))
    with open(os.fsencode(folder) + b"/" + GBK_NAME.encode("gbk"), "wb") as out:
        out.write(gbk.read_bytes())
    return folder, good, cases


@pytest.fixture(scope="module")
def patched():
    """Stages that fail for the files named in POISON (forked workers inherit it)."""
    mp = pytest.MonkeyPatch()

    def failing(module, name, stage, file_of):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            if file_of(*args) is not None and Path(file_of(*args)).name == POISON[stage]:
                raise RuntimeError(f"{stage} fails for this file")
            return real(*args, **kwargs)
        mp.setattr(module, name, wrapper)

    failing(rules_module, "clean_values", "clean", lambda form, data: data.path)
    failing(rules_module, "check_rules", "rules", lambda form, data, values: data.path)
    # (Once a file is 无法读取 for a stage, what is written of it is its reason: that must work.)
    failing(report_module, "_rows_of", "report", lambda form, r: r.file if r.readable else None)
    failing(report_module, "_json_of", "report", lambda r: r.file if r.readable else None)
    failing(merge_module, "_mergeable", "merge", lambda form, r: r.file if r.readable else None)
    real_open = validate_module.open_workbook

    def open_workbook(path, form, deadline=None):
        if Path(path).name == POISON["slow"]:
            while True:   # never ends by itself: the file's time limit ends it
                time.sleep(0.01)
        if Path(path).name == POISON["crash"]:
            os._exit(3)   # the worker dies, as on a crash in C
        return real_open(path, form, deadline=deadline)
    mp.setattr(validate_module, "open_workbook", open_workbook)
    # The slow poison waits out the limit (in validate, and again in merge); a good file
    # takes a few hundredths of a second, so 1.5 s leaves it room on a busy machine.
    mp.setattr(validate_module, "MAX_SECONDS", 1.5)
    yield
    mp.undo()


def _by_name(files):
    return {Path(r.file).name: r for r in files}


def _alone(path: Path) -> dict:
    r = validate_file(path)
    return {"verdict": r.verdict, "values": r.values, "findings": [f.to_dict() for f in r.findings]}


def test_every_file_is_reported_and_the_good_ones_as_alone(round_, patched, tmp_path):
    folder, good, cases = round_
    run = validate_paths([folder], jobs=2)
    names = _by_name(run.files)
    on_disk = {os.fsdecode(n) for n in os.listdir(os.fsencode(folder))}
    assert len(run.files) == len(on_disk)
    assert GBK_NAME in names                    # shown as the Chinese it is
    # The checks' poisons.
    for stage in ("clean", "rules", "slow", "crash"):
        r = names[POISON[stage]]
        assert (r.verdict, r.kind) == (UNREADABLE, KIND[stage]), stage
        assert r.reason.endswith("。") and "Error" not in r.reason
    for name, kind in REAL_REFUSED.items():
        r = names[cases[name].path.name]
        assert (r.verdict, r.kind) == (UNREADABLE, kind), name
    digits = names[cases["digits_5000_text"].path.name]
    assert digits.readable and "not_a_number" in {f.code for f in digits.findings}
    # The reports' and the annotations' poisons, each in its own stage.
    out = tmp_path / "out"
    annotated = annotate_workbooks(run, out / "标注")
    report = write_report_xlsx(run, out / "问题清单.xlsx")
    data = json.loads(write_json(run, out / "结果.json").read_text(encoding="utf-8"))
    names = _by_name(run.files)
    for name, kind in ((ANNOTATE_POISON, "annotate_failed"), (POISON["report"], "report_failed")):
        assert (names[name].verdict, names[name].kind) == (UNREADABLE, kind), name
        assert next(f for f in data["files"] if Path(f["file"]).name == name)["kind"] == kind
    assert any(Path(f).name == ANNOTATE_POISON for f, _ in annotated.skipped)
    assert report.exists() and len(data["files"]) == len(on_disk)
    # The good ones: exactly what they give alone.
    for path in good:
        r = names[path.name]
        assert {"verdict": r.verdict, "values": r.values, "findings": [f.to_dict() for f in r.findings]} \
            == _alone(path)
        assert r.verdict == "通过"


def test_the_merge_adds_up_every_good_file_whatever_else_is_there(round_, patched, tmp_path):
    folder, good, _cases = round_
    result = merge_paths([folder], tmp_path / "汇总", jobs=2)
    names = _by_name(result.files)
    assert (names[POISON["merge"]].verdict, names[POISON["merge"]].kind) == (UNREADABLE, "merge_failed")
    added = {Path(s.file).name for b in result.batches.values() for s in b.rows}
    assert added == {p.name for p in good} | {GBK_NAME, POISON["report"]}
    for s in result.submissions:
        if s.result is not None and Path(s.file).name == POISON["merge"]:
            assert s.status == ST_UNREADABLE and not s.added


def test_the_command_writes_its_json_and_reports_every_file_without_a_traceback(round_, tmp_path):
    """A subprocess: only the real poisons (nothing patched there)."""
    folder, _good, _cases = round_
    out = tmp_path / "结果.json"
    done = subprocess.run([sys.executable, "-m", "xlsx_tools.cli", "validate", str(folder),
                           "--json", str(out), "--report", str(tmp_path / "问题清单.xlsx"),
                           "--annotate", str(tmp_path / "标注"),
                           "--jobs", "2"], capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "CI": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    files = json.loads(out.read_text(encoding="utf-8"))["files"]
    assert len(files) == len(os.listdir(os.fsencode(folder)))
    assert any(Path(f["file"]).name == GBK_NAME for f in files)
    assert [f["kind"] for f in files if Path(f["file"]).name == ANNOTATE_POISON] == ["annotate_failed"]
