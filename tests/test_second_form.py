"""Next year's table is a new definition: a second form (tests/forms/lab-survey-2023.toml)
runs a whole round through the command line with only --form.

Its roles are played by fields with other ids than the shipped form's (org, cohort,
sector, supervisor, reported_on), it has two batches, a second date besides the fill
date, choices without a suffix, its own roster columns (one of them not a field), two
rules of its own and a conditional requirement. The round: generate from a roster,
fill the workbooks as a filler does (openpyxl through the defined names), validate,
merge; with LibreOffice also re-saved and recalculated, where the checks inside the
workbook must say what validate says.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from _fill import fill_workbook, resave_with_libreoffice
from _incell_helpers import RECALC_ALWAYS, convert_with_libreoffice, sheet_verdicts
from xlsx_tools import incell
from xlsx_tools.form import load_form
from xlsx_tools.merge import ST_MISSING
from xlsx_tools.validate import validate_file

DEFINITION = Path(__file__).resolve().parent / "forms" / "lab-survey-2023.toml"
FORM = load_form(DEFINITION)
SHIPPED = load_form()


def at(field_id: str) -> str:
    return FORM.input_cell(field_id).address


def cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed command, as a person runs it."""
    return subprocess.run([sys.executable, "-m", "xlsx_tools.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


VALID = {
    "founded_on": dt.date(2001, 5, 8),            # a date, but not the fill date: no R19
    "staff": 12, "patents": 5, "granted": 3, "income": Decimal("88.5"),
    "has_lab": "有", "labs": 2,
    "summary": "本年度完成三项课题，新建一个联合实验室。",
    "reported_on": dt.date(2023, 3, 20),
}

# unit -> (cohort, sector, changes to VALID, file name or None for the pattern's,
#          the findings validate gives: [(code, cells)])
RETURNED = {
    "甲研究所": ("甲组", "制造业", {}, None, []),
    "乙研究所": ("甲组", "服务业", {"granted": 6}, None, [("X01", (at("granted"), at("patents")))]),
    "丙研究所": ("乙组", "制造业", {"income": 0}, None, [("X02", (at("staff"), at("income")))]),
    "丁研究所": ("乙组", "服务业", {"labs": None}, None, [("X03", (at("labs"), at("has_lab")))]),
    "戊研究所": ("甲组", "制造业", {"reported_on": dt.date(2023, 5, 10)}, None,
                [("R19", (at("reported_on"),))]),
    # No suffix on this form's choices: 有类 is not 有.
    "己研究所": ("乙组", "制造业", {"has_lab": "有类"}, None, [("not_a_choice", (at("has_lab"),))]),
    "庚研究所": ("甲组", "服务业", {"summary": "很短"}, None, [("too_short", (at("summary"),))]),
    "辛研究所": ("乙组", "服务业", {}, "辛研究所的报表.xlsx", [("R18", ())]),
}
NOT_RETURNED = {"壬研究所": ("甲组", "制造业")}
ADDED = {"甲研究所", "丙研究所", "戊研究所", "庚研究所", "辛研究所"}       # no error


def _roster_text() -> str:
    rows = [["机构名称", "组别", "行业", "主管部门", "联系人邮箱", "备注"]]
    for unit, (cohort, sector, *_rest) in {**RETURNED, **NOT_RETURNED}.items():
        rows.append([unit, cohort, sector, "某某市科学技术局", f"{unit[0]}@example.com", "测试"])
    return "\n".join(",".join(r) for r in rows) + "\n"


@pytest.fixture(scope="module")
def round_(tmp_path_factory):
    """The round run through the command line; every step's result kept."""
    root = tmp_path_factory.mktemp("second-form")
    roster = root / "名单.csv"
    roster.write_text(_roster_text(), encoding="utf-8-sig")
    steps = {"generate": cli("generate", "--form", DEFINITION, "--roster", roster, "--out", root / "下发")}
    returned = root / "回收"
    for unit, (cohort, sector, changes, name, _) in RETURNED.items():
        sent = root / "下发" / f"{FORM.file_stem(cohort, sector, unit)}.xlsx"
        fill_workbook(sent, returned / (name or sent.name), {**VALID, **changes})
    steps["validate"] = cli("validate", returned, "--form", DEFINITION, "--json", root / "结果.json",
                            "--jobs", "1")
    steps["merge"] = cli("merge", returned, "--form", DEFINITION, "--roster", roster,
                         "--out", root / "汇总", "--jobs", "1")
    return root, steps


def test_generate_names_and_prefills_each_unit_by_the_definition(round_):
    root, steps = round_
    assert steps["generate"].returncode == 0, steps["generate"].stderr
    made = sorted(p.name for p in (root / "下发").iterdir())
    units = {**{u: v[:2] for u, v in RETURNED.items()}, **NOT_RETURNED}
    assert made == sorted(f"{c}-{s}-{u}.xlsx" for u, (c, s) in units.items())
    wb = openpyxl.load_workbook(root / "下发" / "甲组-制造业-甲研究所.xlsx")
    for fid, value in (("org", "甲研究所"), ("cohort", "甲组"), ("sector", "制造业"),
                       ("supervisor", "某某市科学技术局")):
        c = FORM.input_cell(fid)
        cell = wb[c.sheet][c.ref]
        assert cell.value == value and cell.protection.locked, fid
    assert set(wb.sheetnames) >= {FORM.cover.name, FORM.table.name, incell.SHEET_NAME}


def test_validate_finds_what_each_file_breaks_and_nothing_else(round_):
    root, steps = round_
    assert steps["validate"].returncode == 1, steps["validate"].stderr       # errors among them
    assert "Traceback" not in steps["validate"].stderr
    data = json.loads((root / "结果.json").read_text(encoding="utf-8"))
    assert data["form"] == FORM.id
    by_unit = {f["unit"]: f for f in data["files"]}
    assert set(by_unit) == set(RETURNED)
    for unit, (cohort, sector, _changes, _name, expect) in RETURNED.items():
        got = sorted((x["code"], tuple(x["cells"])) for x in by_unit[unit]["findings"])
        assert got == sorted(expect), unit
        f = by_unit[unit]
        assert (f["batch"], f["category"], f["recommending"]) == (cohort, sector, "某某市科学技术局")
    # The second date is read as a date, the fill date as the fill date.
    assert by_unit["甲研究所"]["values"]["founded_on"] == "2001-05-08"
    assert by_unit["甲研究所"]["values"]["reported_on"] == "2023-03-20"
    assert by_unit["甲研究所"]["values"]["income"] == 88.5


def test_the_shipped_form_refuses_these_workbooks_as_another_table(round_):
    root, _ = round_
    result = validate_file(next((root / "回收").glob("甲组-制造业-甲研究所.xlsx")), SHIPPED)
    assert (result.status, result.kind, [f.code for f in result.findings]) == \
        ("unreadable", "other_form", ["R20"])


def test_merge_adds_up_each_batch_with_the_definitions_words(round_):
    root, steps = round_
    assert steps["merge"].returncode == 0, steps["merge"].stderr
    out = root / "汇总"
    # And a workbook per recommending unit, in a folder named as the roster heads that role.
    assert {p.name for p in out.iterdir()} == {"汇总-甲组.xlsx", "汇总-甲组.csv", "汇总-乙组.xlsx",
                                              "汇总-乙组.csv", "汇总-总览.xlsx", "主管部门"}
    assert [p.name for p in (out / "主管部门").iterdir()] == ["某某市科学技术局.xlsx"]
    total = Decimal(0)
    seen = set()
    for cohort in FORM.batches:
        rows = list(csv.DictReader((out / f"汇总-{cohort}.csv").read_text(encoding="utf-8-sig")
                                   .splitlines()))
        assert list(rows[0]) == [f.id for f in FORM.fields]
        seen |= {r["org"] for r in rows}
        total += sum((Decimal(r["income"]) for r in rows), Decimal(0))
    assert seen == ADDED
    assert total == sum((Decimal(str({**VALID, **RETURNED[u][2]}["income"])) for u in ADDED), Decimal(0))
    wb = openpyxl.load_workbook(out / "汇总-甲组.xlsx")
    assert wb.sheetnames == ["汇总", "分类统计", "提交情况", "问题清单", "图表"]
    texts = [c.value for row in wb["提交情况"].iter_rows() for c in row if isinstance(c.value, str)]
    # The role columns are headed as the roster heads them; the date by its label.
    assert {"机构名称", "行业", "主管部门", "报送日期"} <= set(texts)
    assert ST_MISSING in texts and "壬研究所" in texts
    overview = openpyxl.load_workbook(out / "汇总-总览.xlsx")
    assert overview["总览"]["A3"].value == "组别"
    assert "组别" in [c.value for c in next(r for r in overview["提交情况"].iter_rows()
                                           if any(c.value == "序号" for c in r))]
    heads = [c.value for c in wb["分类统计"][2]]
    assert heads[3:] == ["制造业", "服务业", "全部"]            # no suffix on this form's choices
    assert wb["汇总"]["A1"].value.startswith("甲组 实验室情况汇总")
    assert "计入汇总 5 个机构" in steps["merge"].stdout


def test_roster_keeps_the_columns_that_are_not_fields(tmp_path):
    from xlsx_tools.roster import read_roster

    roster = tmp_path / "名单.csv"
    roster.write_text(_roster_text(), encoding="utf-8")
    entries = read_roster(roster, FORM)
    first = entries[0]
    assert (first.unit, first.batch, first.category, first.recommending) == \
        ("甲研究所", "甲组", "制造业", "某某市科学技术局")
    assert first.extra == {"contact_email": "甲@example.com", "old_name": "", "备注": "测试"}
    assert first.prefill(FORM) == {"org": "甲研究所", "cohort": "甲组", "sector": "制造业",
                                   "supervisor": "某某市科学技术局"}


def test_a_round_of_this_table_takes_form_once_and_speaks_its_words(round_, tmp_path):
    """round init --form keeps the definition; receive, status, merge --round and the pages
    use that copy, name the roles as this form does, and show its roster's other columns."""
    import httpx
    from _web import LiveServer
    from click.testing import CliRunner

    from xlsx_tools.cli import main
    from xlsx_tools.reminders import reminder_columns
    from xlsx_tools.round import ST_WARNINGS, Round

    root, _ = round_
    folder = tmp_path / "轮次"

    def run(*args):
        done = CliRunner().invoke(main, [str(a) for a in args])
        assert done.exit_code in (0, 1), done.output
        return done

    run("round", "init", folder, "--roster", root / "名单.csv", "--form", DEFINITION)
    assert (folder / "form.toml").read_bytes() == DEFINITION.read_bytes()
    run("round", "receive", folder, root / "回收")
    status = run("round", "status", folder, "--remind", tmp_path / "催报.xlsx")
    assert "制造业  甲研究所" in status.output          # the category as this form shows it: no 类
    merged = run("merge", "--round", folder, "--out", tmp_path / "汇总")
    assert "计入汇总 5 个机构" in merged.output
    with Round.open(folder) as rnd:
        assert rnd.form.id == FORM.id
        units = {u.unit: u for u in rnd.units()}
        assert set(units) == set(RETURNED) | set(NOT_RETURNED)
        for unit, (cohort, sector, _changes, _name, expect) in RETURNED.items():
            u = units[unit]
            assert (u.batch, u.category, u.recommending) == (cohort, sector, "某某市科学技术局")
            assert sorted(f["code"] for f in u.chosen.result()["findings"]) == sorted(c for c, _ in expect)
        assert units["壬研究所"].status == ST_MISSING and units["辛研究所"].status == ST_WARNINGS
        assert units["甲研究所"].extra == {"contact_email": "甲@example.com", "备注": "测试"}
        sheet = openpyxl.load_workbook(tmp_path / "催报.xlsx").active
        header = [c.value for c in sheet[3]]
        heads = [reminder_columns(FORM)[r] for r in ("batch", "category", "unit", "recommending")]
        assert header[1:5] == heads == ["组别", "行业", "机构名称", "主管部门"]
        assert {"联系人邮箱", "备注"} <= set(header)
        with LiveServer(rnd) as server, httpx.Client(base_url=server.url) as client:
            for page in (client.get(p).text for p in ("/", "/reminders", "/workbooks")):
                assert all(h in page for h in ("机构名称", "组别", "行业", "主管部门"))
                assert not [c.header for c in SHIPPED.roster_columns if c.field and c.header in page]
            listed = client.get("/api/units").json()["units"]
            assert {u["unit"]: (u["batch"], u["category"]) for u in listed}["甲研究所"] == ("甲组", "制造业")
            reminded = client.get("/reminders").text
            assert "联系人邮箱" in reminded and "甲@example.com" not in reminded   # 甲 returned its table


def test_a_workbook_made_for_one_unit_comes_back_for_another(round_, tmp_path):
    root, _ = round_
    sent = root / "下发" / "甲组-制造业-甲研究所.xlsx"
    path = fill_workbook(sent, tmp_path / "甲组-制造业-别的研究所.xlsx", {**VALID, "org": "别的研究所"})
    codes = [(f.code, f.cells) for f in validate_file(path, FORM).findings]
    assert codes == [("R22", (at("org"),))]


# -- LibreOffice: re-saved, and the checks in the workbook ---------------------------------

@pytest.fixture(scope="module")
def resaved(round_, tmp_path_factory):
    root, _ = round_
    files = sorted((root / "回收").iterdir())
    return dict(zip(files, resave_with_libreoffice(files, tmp_path_factory.mktemp("lo"))))


@pytest.mark.libreoffice
def test_validate_reads_the_copies_libreoffice_saved_the_same(resaved):
    for original, copy in resaved.items():
        before = [(f.code, f.cells, f.message) for f in validate_file(original, FORM).findings]
        after = [(f.code, f.cells, f.message) for f in validate_file(copy, FORM).findings]
        assert before == after, original.name


def _compiled_keys() -> set[tuple[str, frozenset]]:
    keys = set()
    for c in incell.compile_checks(FORM):
        if c.kind == "type":
            keys |= {(t.code, frozenset(c.fields)) for t in incell.TYPE_CHECKS[c.field.type]}
        else:
            keys.add((c.code, frozenset(c.fields)))
    return keys


@pytest.mark.libreoffice
def test_the_checks_in_the_workbook_say_what_validate_says(round_, tmp_path):
    root, _ = round_
    files = sorted((root / "回收").iterdir())
    recalculated = convert_with_libreoffice(files, tmp_path / "recalc", RECALC_ALWAYS)
    keys = _compiled_keys()
    for original, recalc in zip(files, recalculated):
        verdicts, totals = sheet_verdicts(recalc, FORM)
        in_sheet = {k for k, fails in verdicts.items() if fails}
        found = [f for f in validate_file(original, FORM).findings if (f.code, frozenset(f.fields)) in keys]
        assert in_sheet == {(f.code, frozenset(f.fields)) for f in found}, original.name
        assert totals["errors"] == sum(f.is_error for f in found), original.name


# -- the shipped table, changed as next year may change it ------------------------------

def _changed_shipped_table(folder: Path) -> Path:
    """The shipped definition with the unit's field renamed, a second date added, the
    category shown without its 类, a new window and a new rule: only the TOML changes."""
    text = SHIPPED.source.read_text(encoding="utf-8")
    text = re.sub(r"\bunit_name\b", "org_name", text)
    for old, new in [
        ('id = "itbps-2022"', 'id = "itbps-2023"'),
        ('window_start = "2022-08-31"', 'window_start = "2023-08-31"'),
        ('window_end = "2022-10-15"', 'window_end = "2023-10-15"'),
        ('example_date = "2022-09-15"', 'example_date = "2023-09-15"'),
        ('suffix = "类"\n', ""),
        ('file_name = "{batch}-{platform_category}类-{org_name}"',
         'file_name = "{batch}-{platform_category}-{org_name}"'),
        ('  ["#二、平台基本情况"],', '  ["成立日期|2", "@founded_on|4"],\n  ["#二、平台基本情况"],'),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    text += ('\n[[fields]]\nid = "founded_on"\nsection = "一、基本信息"\nlabel = "成立日期"\n'
             'type = "date"\nrequired = true\n'
             '\n[[rules]]\nid = "N01"\nseverity = "warning"\ncheck = "tech_managers <= service_count"\n'
             'message = "技术经理人人数（{tech_managers}）多于提供服务次数（{service_count}），请核对。"\n')
    path = folder / "next.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_table_changed_runs_a_round_with_only_form(tmp_path):
    from _fill import valid_values

    definition = _changed_shipped_table(tmp_path)
    changed = load_form(definition)
    assert changed.keys["unit"] == "org_name" and not changed.role_field("category").suffix
    units = [("甲检测研究院", "第一批", "检验检测"), ("乙信息中心", "第三批", "信息服务")]
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称,列入批次,平台类别,推荐单位\n"
                      + "".join(f"{u},{b},{c},某某省工业和信息化厅\n" for u, b, c in units),
                      encoding="utf-8")
    done = cli("generate", "--form", definition, "--roster", roster, "--out", tmp_path / "下发")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "下发").iterdir()) == \
        sorted(f"{b}-{c}-{u}.xlsx" for u, b, c in units)
    for unit, batch, cat in units:
        values = {**valid_values(category=cat, batch=batch, unit_name=unit, form=changed),
                  "fill_date": dt.date(2023, 9, 15), "founded_on": dt.date(1998, 6, 1)}
        name = f"{batch}-{cat}-{unit}.xlsx"
        fill_workbook(tmp_path / "下发" / name, tmp_path / "回收" / name, values)
    done = cli("validate", tmp_path / "回收", "--form", definition, "--json", tmp_path / "r.json")
    assert done.returncode == 0, done.stdout + done.stderr
    files = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["files"]
    assert [(f["unit"], f["status"], f["findings"]) for f in sorted(files, key=lambda f: f["file"])] == \
        [(u, "accepted", []) for u, _, _ in units]
    done = cli("merge", tmp_path / "回收", "--form", definition, "--roster", roster,
               "--out", tmp_path / "汇总")
    assert done.returncode == 0, done.stderr
    assert "计入汇总 2 个平台" in done.stdout
    rows = list(csv.DictReader((tmp_path / "汇总" / "汇总-第一批.csv").read_text(encoding="utf-8-sig")
                               .splitlines()))
    assert [(r["org_name"], r["founded_on"]) for r in rows] == [("甲检测研究院", "1998-06-01")]
