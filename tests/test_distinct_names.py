"""Two outputs that would share a name are told apart one way: 名称（2）.

Annotated copies of same-named returns from two folders (a name differing only in
case is the same file on Windows and macOS), and the workbooks of two recommending
units whose names make one file name.
"""

from __future__ import annotations

import shutil

from xlsx_tools.annotate import annotate_workbooks
from xlsx_tools.merge import merge_paths, recommending_folder
from xlsx_tools.validate import validate_paths
from xlsx_tools.write import write_workbook
from xlsx_tools.writing import distinct_name


def test_a_name_taken_in_any_case_gets_the_next_number():
    used: set[str] = set()
    names = [distinct_name(stem, used, ".xlsx") for stem in ("表", "表", "表", "Ab", "aB")]
    assert names == ["表.xlsx", "表（2）.xlsx", "表（3）.xlsx", "Ab.xlsx", "aB（2）.xlsx"]
    assert distinct_name("表（2）", used, ".xlsx") == "表（2）（2）.xlsx"   # already taken as made above


def test_same_named_returns_from_two_folders_get_two_copies(tmp_path, generated_blank):
    # A blank has findings (every required cell is empty), so each gets a copy.
    for folder, name in (("a", "平台.xlsx"), ("b", "平台.xlsx"), ("c", "平台.XLSX")):
        (tmp_path / folder).mkdir()
        shutil.copy(generated_blank, tmp_path / folder / name)
    run = validate_paths([tmp_path / "a", tmp_path / "b", tmp_path / "c"], jobs=1)
    outcome = annotate_workbooks(run, tmp_path / "out")
    assert [p.name for p in outcome.written] == ["平台.xlsx", "平台（2）.xlsx", "平台（3）.XLSX"]
    assert all(p.stat().st_size > 0 for p in outcome.written)


def test_two_recommending_units_of_one_file_name_get_two_workbooks(tmp_path, form):
    keys = form.keys
    # "/" and ":" may not be in a file name: both names become 甲省_工业和信息化厅.
    for i, recommending in enumerate(("甲省/工业和信息化厅", "甲省:工业和信息化厅")):
        unit = f"某某研究院{i}"
        prefill = {keys["unit"]: unit, keys["batch"]: form.batches[0],
                   keys["category"]: form.field(keys["category"]).choices[0],
                   keys["recommending"]: recommending}
        write_workbook(tmp_path / "returned" / f"{unit}.xlsx", form, prefill)
    result = merge_paths([tmp_path / "returned"], out_dir=tmp_path / "out", jobs=1)
    folder = tmp_path / "out" / recommending_folder(form)
    both = ["甲省_工业和信息化厅.xlsx", "甲省_工业和信息化厅（2）.xlsx"]
    assert sorted(p.name for p in folder.iterdir()) == both
    assert {p.name for p in result.outputs} >= set(both)
