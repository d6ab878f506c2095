"""Every file a person puts in a folder is in every report, validate's and merge's alike;
only the system's own files are left out; and a folder with nothing to check is the same
usage error for both commands, with nothing written.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from _generate_helpers import norm

from xlsx_tools.cli import main
from xlsx_tools.form import load_form
from xlsx_tools.gather import is_system_name, iter_returned_files
from xlsx_tools.merge import OVERVIEW_STEM, SUBMISSION_COLUMNS, ST_UNREADABLE
from xlsx_tools.validate import UNREADABLE, validate_paths

ROOT = Path(__file__).resolve().parent.parent
RETURNED = ROOT / "samples" / "returned"
ROSTER = ROOT / "samples" / "roster.csv"
GOOD = "第一批-信息服务类-东北智能制造信息数据研究院.xlsx"
OLD_XLS = next(p for p in RETURNED.iterdir() if p.suffix == ".xls")
FORM = load_form()

# What was sent by mistake, and the reader's code for each (catalogue.toml).
MISTAKES = {"说明.pdf": "not_zip", "报告.docx": "not_workbook", "旧表.xls": "xls", "名单.csv": "not_zip",
            "照片.jpg": "not_zip", "备注.txt": "not_zip"}
# What the system or an office program made beside them.
SYSTEM = (".DS_Store", "._" + GOOD, "~$" + GOOD, ".~lock." + GOOD + "#", "Thumbs.db", "desktop.ini",
          ".git/x.xlsx", "__MACOSX/._" + GOOD, ".隐藏的文件夹/第一批-假的.xlsx")


def _docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.'
                   'openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>')


@pytest.fixture
def mixed(tmp_path) -> Path:
    folder = tmp_path / "回收"
    (folder / "第二层").mkdir(parents=True)
    shutil.copyfile(RETURNED / GOOD, folder / GOOD)
    (folder / "说明.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n"
                                    b"trailer<</Root 1 0 R>>\n%%EOF\n")
    _docx(folder / "报告.docx")
    shutil.copyfile(OLD_XLS, folder / "第二层" / "旧表.xls")
    (folder / "名单.csv").write_text("单位名称,列入批次\n某院,第一批\n", encoding="utf-8")
    (folder / "照片.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    (folder / "第二层" / "备注.txt").write_text("稍后补交。", encoding="utf-8")
    for name in SYSTEM:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"made by the system")
    return folder


def test_a_folder_walk_takes_every_file_but_the_systems(mixed):
    names = sorted(p.name for p in iter_returned_files([mixed]))
    assert names == sorted([GOOD, *MISTAKES])
    assert all(is_system_name(Path(name).parts[0]) for name in SYSTEM)
    # A file given by its name is taken, whatever it is.
    given = mixed / "Thumbs.db"
    assert list(iter_returned_files([given])) == [given]


def test_validate_lists_each_file_sent_by_mistake_with_its_reason(mixed, tmp_path):
    out = tmp_path / "结果.json"
    report = tmp_path / "问题清单.xlsx"
    result = CliRunner().invoke(main, ["validate", str(mixed), "--json", str(out), "--report", str(report),
                                       "--jobs", "1"])
    assert result.exit_code == 1, result.output
    files = {Path(f["file"]).name: f for f in json.loads(out.read_text(encoding="utf-8"))["files"]}
    assert sorted(files) == sorted([GOOD, *MISTAKES])
    for name, kind in MISTAKES.items():
        f = files[name]
        assert (f["status"], f["verdict"], f["kind"]) == ("unreadable", UNREADABLE, kind), name
        assert f["reason"] and f["reason"] == f["findings"][0]["message"]
        assert f["reason"] in FORM.catalogue.codes("reader")[kind].messages.values() \
            or kind == "not_workbook", (name, f["reason"])
        line = next(x for x in result.output.splitlines() if x.startswith(UNREADABLE) and name in x)
        assert line.endswith(f["reason"])
    sheet = openpyxl.load_workbook(report, read_only=True)["文件情况"]
    listed = {Path(str(row[0])).name: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert sorted(listed) == sorted(files)
    for name in MISTAKES:
        # 结论 and the last column, the reason a file could not be read.
        # The reason as printed: the report writes its line breaks in (the 结论 as it is).
        assert (listed[name][4], norm(listed[name][-1])) == (UNREADABLE, norm(files[name]["reason"])), name


def test_merge_lists_the_same_files_as_validate_and_calls_them_the_same(mixed, tmp_path):
    out = tmp_path / "汇总"
    result = CliRunner().invoke(main, ["merge", str(mixed), "--out", str(out), "--roster", str(ROSTER),
                                       "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert f"共找到 {1 + len(MISTAKES)} 个文件" in result.output
    rows = list(openpyxl.load_workbook(out / f"{OVERVIEW_STEM}.xlsx", read_only=True)["提交情况"]
                .iter_rows(values_only=True))
    header = next(r for r in rows if r and SUBMISSION_COLUMNS["file"] in r)
    col = {k: header.index(SUBMISSION_COLUMNS[k]) for k in ("file", "status", "note")}
    by_name = {Path(str(r[col["file"]])).name: r for r in rows[rows.index(header) + 1:]
               if r and r[col["file"]]}
    assert set(MISTAKES) | {GOOD} <= set(by_name)
    validated = {r.name: r for r in validate_paths([mixed], FORM, jobs=1).files}
    for name in MISTAKES:
        row = by_name[name]
        assert row[col["status"]] == ST_UNREADABLE == validated[name].verdict, name
        # Broken to its width, a space at a break dropped.
        assert (validated[name].reason.replace(" ", "")
                in row[col["note"]].replace("\n", "").replace(" ", "")), name


def test_files_of_one_name_in_two_folders_given_are_told_apart_by_the_folders_name(tmp_path):
    # The same unit's table sent twice, by two e-mails saved into two folders.
    for folder in ("甲/邮件1", "乙/邮件2"):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copyfile(RETURNED / GOOD, tmp_path / folder / GOOD)
    given = [tmp_path / "甲" / "邮件1", tmp_path / "乙" / "邮件2"]
    labels = [f"邮件1/{GOOD}", f"邮件2/{GOOD}"]
    assert [r.label for r in validate_paths(given, FORM, jobs=1).files] == labels
    # One folder given: the names under it, as before.
    assert [r.label for r in validate_paths(given[:1], FORM, jobs=1).files] == [GOOD]
    out = tmp_path / "汇总"
    result = CliRunner().invoke(main, ["merge", *map(str, given), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(out / f"{OVERVIEW_STEM}.xlsx", read_only=True)["提交情况"]
                .iter_rows(values_only=True))
    header = next(r for r in rows if r and SUBMISSION_COLUMNS["file"] in r)
    col = {k: header.index(SUBMISSION_COLUMNS[k]) for k in ("file", "note")}
    listed = [r for r in rows[rows.index(header) + 1:] if r and r[col["file"]]]
    assert sorted(r[col["file"]] for r in listed) == labels
    # M01's notes name both, each once (the file taken's note), and the one taken (the other's).
    notes = {r[col["file"]]: r[col["note"]].replace("\n", "") for r in listed}   # broken to its width
    taken = next(label for label in labels if "采用本文件" in notes[label])
    other = next(label for label in labels if label != taken)
    assert all(notes[taken].count(f"“{label}”") == 1 for label in labels), notes
    assert f"“{taken}”" in notes[other], notes
    assert not [v for r in rows for v in r if isinstance(v, str) and str(tmp_path) in v]


@pytest.mark.parametrize("contents", [(), ("Thumbs.db", ".DS_Store", "~$某表.xlsx")], ids=["empty", "system"])
@pytest.mark.parametrize("roster", [False, True], ids=["", "roster"])
def test_merge_of_nothing_is_what_validate_says_and_writes_nothing(tmp_path, contents, roster):
    folder = tmp_path / "回收"
    folder.mkdir()
    for name in contents:
        (folder / name).write_bytes(b"made by the system")
    out = tmp_path / "汇总"
    said = CliRunner().invoke(main, ["validate", str(folder)])
    merged = CliRunner().invoke(main, ["merge", str(folder), "--out", str(out),
                                       *(["--roster", str(ROSTER)] if roster else [])])
    assert said.exit_code == merged.exit_code == 2
    assert merged.stderr == said.stderr and merged.stderr.strip()
    assert merged.stdout == ""
    assert not out.exists()
