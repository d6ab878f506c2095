"""A round made with last round's output (``round init --previous``), through the library:
its files validated against last year (R23, and R21 for an edited 上年 cell), explanations
(已说明) in the ledger, the units and ``round status``, last year beside this year for a unit,
its pre-filled workbooks with 上年 cells, and its summaries as ``merge --previous`` makes them
(推荐单位/<名>.xlsx included).

The returns are filled in the round's own pre-filled workbook (tests/_round_previous.py).
"""

from __future__ import annotations


import openpyxl
import pytest
from _round_previous import (CHANGE, CHANGED, CITY, EXPECTED, FIELD, LAST, LAST_YEAR, OLD_NAMES, PROVINCE,
                             UNCHANGED, previous_round, returns)
from click.testing import CliRunner

from xlsx_tools.cli import main
from xlsx_tools.form import load_form
from xlsx_tools.merge import merge_paths, recommending_folder
from xlsx_tools.previous import read_previous
from xlsx_tools.read import read_workbook
from xlsx_tools.round import (PREVIOUS, ST_ACCEPTED, ST_EXPLAINED, ST_MISSING, ST_WARNINGS, STATUSES, Round,
                              RoundError)
from xlsx_tools.validate import validate_file

FORM = load_form()
ROUND_STATUS = {"accepted": ST_ACCEPTED, "warnings": ST_WARNINGS, "explained": ST_EXPLAINED}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The round, received its four returns; and the returns themselves."""
    base = tmp_path_factory.mktemp("round-previous")
    m = previous_round(base)
    rnd = Round.init(m.folder, m.roster, previous=m.last)
    paths = returns(rnd, base / "回收")
    receipts = rnd.receive([base / "回收"])
    yield m, rnd, paths, receipts
    rnd.close()


def _unit(rnd: Round, name: str):
    return next(u for u in rnd.units() if u.unit == name)


def test_each_file_is_validated_against_last_round_as_validate_previous_does(made):
    m, rnd, paths, receipts = made
    assert len(receipts) == len(EXPECTED) and all(r.version for r in receipts)
    previous = read_previous(m.last, FORM, OLD_NAMES)
    for unit, (status, found) in EXPECTED.items():
        u = _unit(rnd, unit)
        result = u.chosen.result()
        assert (result["status"], [(f["code"], f["explanation"]) for f in result["findings"]]) == \
            (status, found), unit
        assert u.status == ROUND_STATUS[status] and u.chosen.row.status == status, unit
        # What the ledger keeps is validate --previous's JSON, word for word.
        alone = validate_file(paths[unit], FORM, previous=previous, file_name=paths[unit].name)
        assert result == {**alone.to_dict(), "file": result["file"]}, unit
        assert result["previous"][FIELD] == LAST, unit
    # The edited 上年 cell is R21 at that cell, and the round's value decides: no R23.
    [r21] = _unit(rnd, "丙检测研究院").chosen.result()["findings"]
    assert r21["fields"] == [FIELD] and r21["cells"] == [FORM.previous_cell(FIELD).address]


def test_without_last_round_the_workbooks_own_cells_decide(made, tmp_path):
    """The same edited file in a round made without --previous: no R21, and its edited 上年
    cell (1000) makes 120 a change under 1/5 of it."""
    m, _rnd, paths, _ = made
    with Round.init(tmp_path / "无上年", m.roster) as plain:
        assert plain.previous is None and not (plain.folder / PREVIOUS).exists()
        [r] = plain.receive([paths["丙检测研究院"]])
        assert [f["code"] for f in r.version.result()["findings"]] == [CHANGE.id]


def test_explained_is_a_status_of_the_round_counted_and_filtered(made):
    _m, rnd, _paths, _ = made
    counts = rnd.counts()
    assert list(counts) == list(STATUSES)
    want = {ST_EXPLAINED: 1, ST_WARNINGS: 2, ST_ACCEPTED: 1, ST_MISSING: 1}
    assert {s: counts[s] for s in want} == want
    result = CliRunner().invoke(main, ["round", "status", str(rnd.folder)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "乙检测研究院" in x)
    assert ST_EXPLAINED in line.split()
    assert f"{ST_EXPLAINED} 1" in result.output.splitlines()[-1]


def test_api_units_json_carries_each_findings_explanation(made):
    _m, rnd, _paths, _ = made
    results = rnd.chosen_results(rnd.units())
    assert {u.unit: [(f["code"], f["explanation"]) for f in results[u.id]["findings"]]
            for u in rnd.units() if u.id in results} == {u: found for u, (_s, found) in EXPECTED.items()}
    assert _unit(rnd, "戊检测研究院").id not in results


def test_a_unit_shows_this_year_beside_last_year(made):
    _m, rnd, _paths, _ = made
    changed = {y.field: y for y in rnd.year_on_year(_unit(rnd, "甲检测研究院").chosen)}
    assert list(changed) == [f for f in FORM.previous_fields if LAST_YEAR.get(f) is not None]
    y = changed[FIELD]
    assert (y.value, y.previous, y.growth) == (CHANGED, LAST, (CHANGED - LAST) / LAST)
    assert y.title == FORM.field_title(FIELD)
    assert changed[FIELD].to_dict()["growth"] == pytest.approx(5.0)
    # 丙's 上年 is last round's (100), not what it typed into its 上年 cell.
    assert {y.field: y.previous for y in rnd.year_on_year(_unit(rnd, "丙检测研究院").chosen)}[FIELD] == LAST
    assert rnd.year_on_year(None) == []


def test_prefilled_workbooks_carry_last_years_cells(made):
    _m, rnd, _paths, _ = made
    found, renamed, new = (rnd.prefilled_workbook(_unit(rnd, u)) for u in
                           ("甲检测研究院", "乙检测研究院", "戊检测研究院"))
    for path, _name in (found, renamed):
        named = read_workbook(path, FORM).named
        assert {n for n in named if n.startswith("prev_")} == {FORM.previous_name(f)
                                                                for f in FORM.previous_fields}
        assert named[FORM.previous_name(FIELD)].value == LAST
    assert not [n for n in read_workbook(new[0], FORM).named if n.startswith("prev_")]
    assert found[1] == "第一批-检验检测类-甲检测研究院.xlsx"


def test_the_rounds_summaries_are_merge_previous_of_its_files(made, tmp_path):
    m, rnd, paths, _ = made
    result, built = rnd.merge(tmp_path / "汇总")
    by_hand = merge_paths(sorted(paths.values()), roster=m.roster, previous=m.last, out_dir=tmp_path / "对照",
                          jobs=1)
    csv = f"汇总-{FORM.batches[0]}.csv"
    assert (built / csv).read_bytes() == (tmp_path / "对照" / csv).read_bytes()
    head = (built / csv).read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert f"prev_{FIELD}" in head
    assert result.previous is not None and by_hand.added == result.added == len(EXPECTED)
    folder = built / recommending_folder(FORM)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.xlsx" for n in (PROVINCE, CITY))
    status = {}
    for name in (PROVINCE, CITY):
        ws = openpyxl.load_workbook(folder / f"{name}.xlsx")["提交情况"]
        rows = list(ws.iter_rows(values_only=True))
        head_row = next(i for i, r in enumerate(rows) if FORM.column_header("unit") in r)
        heads = rows[head_row]
        at = heads.index(FORM.column_header("unit"))
        status.update({r[at]: r[heads.index("状态")] for r in rows[head_row + 1:] if r[at]})
    assert status == {"甲检测研究院": ST_WARNINGS, "乙检测研究院": ST_EXPLAINED, "丙检测研究院": ST_WARNINGS,
                      "丁检测研究院": ST_ACCEPTED, "戊检测研究院": ST_MISSING}


def test_init_refuses_a_previous_folder_that_is_not_last_rounds_output(tmp_path):
    m = previous_round(tmp_path / "材料")
    wrong = tmp_path / "错的"
    wrong.mkdir()
    (wrong / f"汇总-{FORM.batches[0]}.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(RoundError) as e:
        Round.init(tmp_path / "轮次", m.roster, previous=wrong)
    assert FORM.keys["unit"] in str(e.value)
    assert not (tmp_path / "轮次").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["材料", "错的"]


def test_a_round_made_from_last_rounds_round_folder_reads_its_newest_summaries(made, tmp_path):
    """``--previous`` may be last round's round folder: its newest build under summaries/."""
    m, rnd, _paths, _ = made
    _result, _built = rnd.merge()
    with Round.init(tmp_path / "下一轮", m.roster, previous=rnd.folder) as nxt:
        assert nxt.previous.values_for("乙检测研究院")[FIELD] == CHANGED
        assert nxt.previous.values_for("丙检测研究院")[FIELD] == UNCHANGED
        assert nxt.ledger.meta()["previous"] == str(rnd.folder)
