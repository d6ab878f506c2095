"""generate: the blank and pre-filled workbooks, the roster, the command.

What a workbook contains is read back through openpyxl (names, locks,
validations, formats); what it looks like on paper through LibreOffice (PDF).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st
from _examples import examples
from openpyxl.utils.protection import hash_password

from xlsx_tools import expr as ex
from xlsx_tools.cli import main
from xlsx_tools.form import META_KEYS, META_MAP_HEADER, META_SHEET, cell_name
from xlsx_tools.roster import UNSAFE_CHARS, RosterError, read_roster
from xlsx_tools.write import (blank_file_name, generate_blank, generate_from_roster, period_text,
                              write_workbook)

from _generate_helpers import (column_width, convert, has_cjk, labels_left_of, labels_name_field,
                               merged_extent, name_targets, norm, pdf_page_sizes, pdf_pages, roster_csv,
                               roster_xlsx, validations_at)

REPO = Path(__file__).resolve().parents[1]


def _prefill(form, unit, batch, category, rec="某省工业和信息化厅"):
    k = form.keys
    return {k["unit"]: unit, k["batch"]: batch, k["category"]: category, "recommending_unit": rec}


def _input_coords(form, sheet):
    return {(c.row, c.col) for c in sheet.cells if c.kind == "input"}


# -- what the workbook holds ------------------------------------------------------


@pytest.fixture(scope="module")
def generated_blank_wb(generated_blank):
    """The blank workbook loaded once by openpyxl, for the tests that only look at it."""
    return openpyxl.load_workbook(generated_blank)


@pytest.fixture(scope="module")
def generated_prefilled_wb(generated_prefilled):
    return openpyxl.load_workbook(generated_prefilled)


@pytest.mark.parametrize("which", ["generated_blank", "generated_prefilled"])
def test_every_field_has_one_named_unlocked_validated_input(which, form, request):
    wb = request.getfixturevalue(which + "_wb")
    names = name_targets(wb)
    prefilled = which == "generated_prefilled"
    locked_by_prefill = set(_prefill(form, "x", "第一批", "信息服务")) if prefilled else set()
    field_names = {n for n in names if n.startswith("fld_")}
    assert field_names == {f.defined_name for f in form.fields}
    for name, dn in wb.defined_names.items():
        assert dn.localSheetId is None, f"{name} is not workbook-level"
    for f in form.fields:
        sheet, ref = names[f.defined_name]
        target = form.input_cell(f.id)
        assert (sheet, ref) == (target.sheet, target.ref), f.id
        cell = wb[sheet][ref]
        assert cell.protection.locked == (f.id in locked_by_prefill), f.id
        dvs = validations_at(wb[sheet], ref)
        assert len(dvs) == 1, f"{f.id}: {len(dvs)} validations"
        dv = dvs[0]
        assert dv.showInputMessage and dv.showErrorMessage, f.id
        assert has_cjk(dv.promptTitle) and has_cjk(dv.prompt), f.id
        assert has_cjk(dv.errorTitle) and has_cjk(dv.error), f.id
        assert dv.errorStyle in (None, "stop"), f.id
        if f.type == "choice":
            assert dv.type == "list"
            assert dv.formula1 == '"' + ",".join(f.choices) + '"'
        elif f.type == "int":
            assert (dv.type, dv.operator, dv.formula1) == ("whole", "greaterThanOrEqual", "0")
        elif f.type == "amount":
            assert dv.type == "custom" and "ROUND(" in dv.formula1 and ">=0" in dv.formula1
        elif f.type == "date":
            assert dv.type == "date" and dv.operator in (None, "between")
        else:
            assert dv.type == "textLength", f.id


def test_labels_beside_inputs_as_printed(form, generated_blank_wb):
    """Each input's nearest label (or its group plus that label) is the field's label."""
    wb = generated_blank_wb
    for f in form.fields:
        c = form.input_cell(f.id)
        ws = wb[c.sheet]
        sheet = form.cover if c.sheet == form.cover.name else form.table
        # As printed, with the line breaks the writer puts in.
        labels = [norm(t) for t in labels_left_of(ws, c.row, c.col, _input_coords(form, sheet))]
        assert labels, f"{f.id}: no label left of {c.address}"
        assert labels == [norm(t) for t in form.label_for(f.id)]
        assert labels_name_field(f.label, form.label_for(f.id)), (f.id, labels)


def test_no_other_cell_is_unlocked_and_every_sheet_is_protected(form, generated_blank_wb):
    wb = generated_blank_wb
    allowed: dict[str, set] = {}
    for f in form.fields:
        c = form.input_cell(f.id)
        allowed.setdefault(c.sheet, set()).update(merged_extent(wb[c.sheet], c.row, c.col))
    # And the explanation of each explainable warning (审核说明), on 校验结果.
    for code in form.explanations.codes:
        sheet, ref = name_targets(wb)[form.explanation_name(code)]
        allowed.setdefault(sheet, set()).add(openpyxl.utils.cell.coordinate_to_tuple(ref))
    for ws in wb.worksheets:
        assert ws.protection.sheet, f"{ws.title} is not protected"
        assert ws.protection.password == hash_password(form.password), ws.title
        # In sheetProtection a true flag means "protected": rows cannot be inserted.
        assert ws.protection.insertRows and ws.protection.deleteRows, ws.title
        unlocked = {(c.row, c.column) for row in ws.iter_rows() for c in row
                    if not c.protection.locked}
        assert unlocked <= allowed.get(ws.title, set()), (ws.title, sorted(unlocked)[:5])
    assert wb.security.lockStructure
    assert wb.security.workbookPassword == hash_password(form.password)


def test_sheets_and_hidden_form_identity(form, generated_prefilled_wb):
    wb = generated_prefilled_wb
    names = wb.sheetnames
    assert names[:3] == [form.cover.name, form.table.name, form.instructions["sheet"]]
    assert names[-1] == META_SHEET
    meta = wb[META_SHEET]
    assert meta.sheet_state == "veryHidden"
    values = {meta.cell(r, 1).value: meta.cell(r, 2).value for r in range(1, len(META_KEYS) + 1)}
    pre = _prefill(form, "某某检测研究院", "第三批", "信息服务")
    expected = {META_KEYS["form_id"]: form.id, META_KEYS["form_version"]: form.version}
    expected.update({META_KEYS["prefill_" + k]: v for k, v in pre.items()})
    assert values == expected
    header_row = len(META_KEYS) + 1
    assert tuple(meta.cell(header_row, c).value for c in range(1, 5)) == META_MAP_HEADER
    rows = [tuple(meta.cell(r, c).value for c in range(1, 5))
            for r in range(header_row + 1, header_row + 1 + len(form.fields))]
    assert rows == [(f.id, form.input_cell(f.id).sheet, form.input_cell(f.id).ref, f.label)
                    for f in form.fields]
    assert meta.cell(header_row + 1 + len(form.fields), 1).value is None


def test_prefilled_values_are_written_locked_and_shown(generated_prefilled, form):
    wb = openpyxl.load_workbook(generated_prefilled, data_only=True)
    pre = _prefill(form, "某某检测研究院", "第三批", "信息服务")
    for fid, value in pre.items():
        c = form.input_cell(fid)
        assert wb[c.sheet][c.ref].value == value
        assert wb[c.sheet][c.ref].protection.locked
    # The cover shows the table's unit and category; its cached results are right.
    for c in form.show_cells(form.keys["unit"]):
        assert wb[c.sheet][c.ref].value == "某某检测研究院"
    shown = [wb[c.sheet][c.ref].value for c in form.cover.cells if c.text == "category"]
    assert shown == ["□检验检测类  ■信息服务类  □创新成果产业化类"]
    period = [wb[c.sheet][c.ref].value for c in form.table.cells if c.text == "period"]
    assert period == ["统计时间区间（到期复核）：2019年1月21日至2022年6月30日"]


def test_blank_formulas_read_the_inputs_and_cache_blank_results(generated_blank, form,
                                                                generated_blank_wb):
    wb = generated_blank_wb
    cached = openpyxl.load_workbook(generated_blank, data_only=True)
    for fid in (form.keys["unit"], "collected_achievements"):
        src = form.input_cell(fid)
        for c in form.show_cells(fid):
            formula = wb[c.sheet][c.ref].value
            assert formula.startswith("=") and cell_name(src.row, src.col, True) in formula
            assert cached[c.sheet][c.ref].value in (None, "")
    category = next(c for c in form.cover.cells if c.text == "category")
    assert cached[category.sheet][category.ref].value == "  ".join(
        "□" + x + "类" for x in form.categories)
    period = next(c for c in form.table.cells if c.text == "period")
    text = cached[period.sheet][period.ref].value
    assert all(p.text in text for p in form.periods)


def test_required_blanks_are_highlighted_including_conditional_ones(form, generated_blank_wb):
    wb = generated_blank_wb
    for f in form.fields:
        c = form.input_cell(f.id)
        ws = wb[c.sheet]
        own = cell_name(c.row, c.col, True)
        # The highlight of a blank input (other parts may colour the cell for other reasons).
        rules = [rule for cf in ws.conditional_formatting for rule in cf.rules
                 if c.ref in cf.sqref and f"LEN(TRIM({own}))=0" in rule.formula[0]]
        if not f.required:
            assert not rules, f.id
            continue
        assert len(rules) == 1, f.id
        formula = rules[0].formula[0]
        if f.required_when is not None:
            # The condition reads the fields it names (e.g. new_bases once 是 is chosen).
            for other in ex.fields_of(f.required_when):
                oc = form.input_cell(other)
                assert cell_name(oc.row, oc.col, True) in formula, (f.id, formula)
        assert rules[0].dxf.fill is not None


def test_print_setup(form, generated_blank_wb):
    wb = generated_blank_wb
    for ws in (wb[n] for n in (form.cover.name, form.table.name, form.instructions["sheet"])):
        ps = ws.page_setup
        assert ps.paperSize in (9, "9") and ps.orientation == "portrait", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (int(ps.fitToWidth or 1), int(ps.fitToHeight or 0)) == (1, 0), ws.title
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
    assert wb[form.table.name].print_title_rows
    cover = wb[form.cover.name]
    assert [b.id for b in cover.row_breaks.brk] == [r - 1 for r in form.cover.page_breaks]


def test_rows_are_tall_enough_for_their_labels(form, generated_blank_wb):
    """A rough independent measure: a CJK character is as wide as two digits."""
    wb = generated_blank_wb
    for sheet in form.sheets:
        ws = wb[sheet.name]
        for c in sheet.cells:
            if c.kind != "label":
                continue
            width = column_width(ws, range(c.col, c.last_col + 1))
            size = ws[c.ref].font.sz
            lines = sum(max(1, math.ceil(len(p) * 2 * size / 11 / width)) for p in c.text.split("\n"))
            height = sum(ws.row_dimensions[r].height for r in range(c.row, c.last_row + 1))
            assert height >= lines * size * 1.2, (c.address, c.text, height, lines)


def test_same_inputs_give_the_same_bytes(tmp_path, form, generated_blank):
    pre = _prefill(form, "某某研究院", "第一批", "检验检测")
    # The session's blank, made before this test, is one of the two.
    a = [generated_blank, write_workbook(tmp_path / "a" / "p.xlsx", form, pre)]
    b = [generate_blank(tmp_path / "b", form),
         write_workbook(tmp_path / "b" / "p.xlsx", form, pre)]
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name
    assert a[0].read_bytes() != a[1].read_bytes()


def test_blank_templates_are_up_to_date(form, generated_blank):
    shipped = REPO / "blank_templates" / blank_file_name(form)
    assert shipped.exists(), f"missing {shipped}: run  xlsx-tools generate --out blank_templates"
    fresh = generated_blank
    assert fresh.read_bytes() == shipped.read_bytes(), (
        "blank_templates/ differs from what generate makes now: "
        "run  xlsx-tools generate --out blank_templates  and commit it")
    assert sorted(p.name for p in (REPO / "blank_templates").iterdir()) == [shipped.name]


def test_password_is_settable(tmp_path, form):
    path = generate_blank(tmp_path, form, password="另一个密码")
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws.protection.password == hash_password("另一个密码")


# -- the roster ----------------------------------------------------------------------


def _roster_rows(form):
    """Units in every batch and every category (five for the shipped form), the
    category written with its suffix every other row."""
    n = max(len(form.batches), len(form.categories))
    suffix = form.role_field("category").suffix
    rows = []
    for i in range(n):
        batch = form.batches[i % len(form.batches)]
        cat = form.categories[i % len(form.categories)]
        rows.append([f"测试平台单位{i:02d}（北京）有限公司", batch,
                     cat + (suffix if i % 2 else ""), f"推荐单位{i % 7}"])
    return rows


def _first_cells(path: Path, *blocks: tuple[str, int, int]) -> list[dict[tuple[int, int], object]]:
    """The stored values of each (sheet, rows, columns) top-left block (openpyxl, read-only:
    quick; the workbook opened once)."""
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        return [{(r, c): v for r, row in enumerate(wb[sheet].iter_rows(max_row=rows, max_col=cols,
                                                                        values_only=True), start=1)
                 for c, v in enumerate(row, start=1)} for sheet, rows, cols in blocks]
    finally:
        wb.close()


def test_a_roster_gives_one_named_workbook_per_unit(tmp_path, form):
    rows = _roster_rows(form)
    assert {b for _, b, _, _ in rows} == set(form.batches)
    assert {c.removesuffix("类") for _, _, c, _ in rows} == set(form.categories)
    roster = tmp_path / "名单.csv"
    roster.write_text(roster_csv(rows), encoding="utf-8")
    out = tmp_path / "out"
    paths = generate_from_roster(roster, out, form)
    expected = {form.file_stem(b, c.removesuffix("类"), u) + ".xlsx" for u, b, c, _ in rows}
    assert len(paths) == len(rows)
    assert {p.name for p in out.iterdir()} == expected == {p.name for p in paths}
    period = next(c for c in form.table.cells if c.text == "period")
    for p, (unit, batch, cat, rec) in zip(paths, rows):
        cells, shown = _first_cells(p, (META_SHEET, len(META_KEYS), 2),
                                    (period.sheet, period.row, period.col))
        meta = {cells[(r, 1)]: cells[(r, 2)] for r in range(1, len(META_KEYS) + 1)}
        assert meta[META_KEYS["prefill_unit_name"]] == unit
        assert meta[META_KEYS["prefill_batch"]] == batch
        assert meta[META_KEYS["prefill_platform_category"]] == cat.removesuffix("类")
        assert meta[META_KEYS["prefill_recommending_unit"]] == rec
        assert shown[(period.row, period.col)] == period_text(form, batch)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_roster_csv_encodings(tmp_path, form, encoding):
    rows = [["中国电子技术标准化研究院", "第一批", "信息服务", "工业和信息化部电子第四研究院"],
            ["国家工业信息安全发展研究中心", "第3批", "检验检测类", ""]]
    roster = tmp_path / "r.csv"
    roster.write_bytes(roster_csv(rows).encode(encoding))
    entries = read_roster(roster, form)
    assert [(e.unit, e.batch, e.category, e.recommending, e.row)
            for e in entries] == [
        ("中国电子技术标准化研究院", "第一批", "信息服务", "工业和信息化部电子第四研究院", 2),
        ("国家工业信息安全发展研究中心", "第三批", "检验检测", "", 3)]


def test_roster_xlsx(tmp_path, form):
    roster = roster_xlsx(tmp_path / "名单.xlsx", [["某某研究院", "平台项目", "创新成果产业化", "某协会"],
                                                 [None, None, None, None],
                                                 ["另一研究院", "第四批", "信息服务", None]])
    entries = read_roster(roster, form)
    assert [(e.unit, e.batch, e.row) for e in entries] == [
        ("某某研究院", "平台项目", 2), ("另一研究院", "第四批", 4)]


_GOOD = ["好单位", "第一批", "检验检测", "推荐单位"]

BAD_ROSTERS = {
    "unknown batch": ([_GOOD, ["单位乙", "第五批", "检验检测", ""]], {3: ["第五批"]}),
    "unknown category": ([_GOOD, ["单位乙", "第一批", "计量类", ""]], {3: ["计量"]}),
    "blank name": ([_GOOD, ["  ", "第一批", "检验检测", ""]], {3: ["单位名称为空"]}),
    "duplicated name": ([_GOOD, ["单位乙", "第二批", "信息服务", ""], ["好单位", "第二批", "信息服务", ""]],
                        {4: ["好单位", "第2行"]}),
    "same name, other width": ([["某研究院(北京)", "第一批", "检验检测", ""],
                                ["某研究院（北京）", "第二批", "信息服务", ""]], {3: ["第2行"]}),
    "trailing dot": ([_GOOD, ["单位乙.", "第一批", "检验检测", ""]], {3: ["句点"]}),
    "several": ([["单位/甲", "第九批", "检验检测", ""], _GOOD, ["", "第一批", "某某类", ""]],
                {2: ["“/”", "第九批"], 4: ["单位名称为空", "某某"]}),
}


@pytest.mark.parametrize("case", sorted(BAD_ROSTERS))
def test_bad_roster_is_refused_naming_every_bad_row(tmp_path, form, case):
    rows, bad = BAD_ROSTERS[case]
    roster = tmp_path / "r.csv"
    roster.write_text(roster_csv(rows), encoding="utf-8-sig")
    out = tmp_path / "out"
    with pytest.raises(RosterError) as info:
        generate_from_roster(roster, out, form)
    problems = info.value.problems
    assert [p.split("：", 1)[0] for p in problems] == [f"第{r}行" for r in sorted(bad)]
    for p, r in zip(problems, sorted(bad)):
        for word in bad[r]:
            assert word in p, (p, word)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("char", list(UNSAFE_CHARS) + ["\n", "\x07"])
def test_roster_name_with_a_character_no_file_name_can_hold(tmp_path, form, char):
    roster = tmp_path / "r.csv"
    roster.write_text(roster_csv([_GOOD, [f"单位{char}乙", "第一批", "检验检测", ""]]),
                      encoding="utf-8")
    with pytest.raises(RosterError) as info:
        read_roster(roster, form)
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith("第3行：")


def test_roster_without_a_column_or_rows(tmp_path, form):
    r = tmp_path / "r.csv"
    r.write_text("单位名称,列入批次,平台类别\n某单位,第一批,检验检测\n", encoding="utf-8")
    with pytest.raises(RosterError, match="推荐单位"):
        read_roster(r, form)
    r.write_text("单位名称,列入批次,平台类别,推荐单位\n", encoding="utf-8")
    with pytest.raises(RosterError, match="没有任何单位"):
        read_roster(r, form)
    with pytest.raises(RosterError, match="找不到"):
        read_roster(tmp_path / "none.csv", form)
    (tmp_path / "x.xlsx").write_bytes(b"not a zip")
    with pytest.raises(RosterError, match="xlsx"):
        read_roster(tmp_path / "x.xlsx", form)


_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(_NAME_CHARS, min_size=1, max_size=40))
def test_any_unit_name_is_either_a_safe_file_name_or_refused(form, name):
    with tempfile.TemporaryDirectory() as d:
        roster = Path(d) / "r.csv"
        roster.write_text(roster_csv([[name, "第一批", "检验检测", ""]]), encoding="utf-8")
        try:
            entries = read_roster(roster, form)
        except RosterError as e:
            assert len(e.problems) == 1 and e.problems[0].startswith("第2行：")
            return
        (entry,) = entries
        assert entry.unit and entry.unit in name
        file_name = entry.file_name(form)
        assert not any(ch in file_name for ch in UNSAFE_CHARS)
        assert not any(ord(ch) < 32 for ch in file_name)
        (Path(d) / file_name).write_bytes(b"")          # the system takes the name
        assert [p.name for p in Path(d).iterdir() if p.suffix == ".xlsx"] == [file_name]


# -- the command -----------------------------------------------------------------------


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_generate_blank_and_roster(tmp_path, form):
    r = _run("generate", "--out", str(tmp_path / "blank"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "blank" / blank_file_name(form)).exists()
    assert "已生成" in r.output
    roster = tmp_path / "名单.csv"
    roster.write_bytes(roster_csv(_roster_rows(form)[:3]).encode("gbk"))
    r = _run("generate", "--roster", str(roster), "--out", str(tmp_path / "pre"),
             "--password", "pw1")
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "pre").iterdir())
    assert len(files) == 3 and "3" in r.output
    wb = openpyxl.load_workbook(files[0])
    assert wb[form.table.name].protection.password == hash_password("pw1")


def test_cli_bad_roster_exits_1_listing_rows_and_writes_nothing(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text(roster_csv([["甲", "第五批", "检验检测", ""], ["乙", "第一批", "x", ""]]),
                      encoding="utf-8")
    r = _run("generate", "--roster", str(roster), "--out", str(tmp_path / "out"))
    assert r.exit_code == 1
    assert "第2行" in r.stderr and "第3行" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()
    r = _run("generate", "--roster", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 1 and "找不到" in r.stderr


def test_cli_usage_errors_exit_2(tmp_path):
    r = _run("generate")
    assert r.exit_code == 2 and "--out" in r.stderr and has_cjk(r.stderr)
    f = tmp_path / "file"
    f.write_text("x")
    r = _run("generate", "--out", str(f))
    assert r.exit_code == 2 and has_cjk(r.stderr)


def test_cli_cannot_write_says_why_in_chinese(tmp_path, form):
    (tmp_path / "out" / blank_file_name(form)).mkdir(parents=True)   # a folder in the way
    r = _run("generate", "--out", str(tmp_path / "out"))
    assert r.exit_code == 1 and "无法写入" in r.stderr and "Errno" not in r.stderr
    (tmp_path / "afile").write_text("x")
    r = _run("generate", "--out", str(tmp_path / "afile" / "sub"))
    assert r.exit_code == 1 and "无法写入" in r.stderr and "Traceback" not in r.output


# -- on paper (LibreOffice) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def printed(tmp_path_factory, form):
    """Blank, pre-filled, and filled-by-openpyxl copies, printed to PDF in one soffice call."""
    d = tmp_path_factory.mktemp("print")
    blank = generate_blank(d / "src", form)
    pre = write_workbook(d / "src" / "pre.xlsx", form,
                         _prefill(form, "某某检测研究院", "第三批", "信息服务"))
    filled = d / "src" / "filled.xlsx"
    shutil.copy(blank, filled)
    wb = openpyxl.load_workbook(filled)
    values = {form.keys["unit"]: "填写单位", form.keys["batch"]: "第一批",
              form.keys["category"]: "创新成果产业化", "collected_achievements": 7}
    for fid, v in values.items():
        c = form.input_cell(fid)
        wb[c.sheet][c.ref] = v
    wb.save(filled)
    pdfs = convert([blank, pre, filled], d / "pdf")
    return dict(zip(("blank", "pre", "filled"), pdfs))


def _sheet_pages(form, pages):
    """Which pages 统计表 and 填报说明 printed on: the title each repeats on every page."""
    def has_line(page, text):
        return norm(text) in {norm(line) for line in page.splitlines()}

    table = [i for i, p in enumerate(pages) if has_line(p, form.table_title)]
    helps = [i for i, p in enumerate(pages) if has_line(p, form.instructions["title"])]
    return table, helps


@pytest.mark.libreoffice
@pytest.mark.parametrize("which", ["blank", "pre"])
def test_pages_on_a4(printed, form, which):
    pdf = printed[which]
    sizes = pdf_page_sizes(pdf)
    assert sizes and all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in sizes)
    pages = pdf_pages(pdf)
    # 封面: the cover on page 1, the 声明 alone on page 2.
    cover_labels = [norm(c.text) for c in form.cover.cells if c.kind == "label"]
    assert all(lbl in norm(pages[0]) for lbl in cover_labels)
    assert norm(form.declaration["title"]) in norm(pages[1])
    assert all(norm(x) in norm(pages[1]) for x in form.declaration["lines"])
    assert not any(lbl in norm(pages[1]) for lbl in cover_labels)
    table, helps = _sheet_pages(form, pages)
    assert table == list(range(2, 2 + len(table))), table
    # 7 pages here, with room for every field's longest text (a summary's 300 characters);
    # fewer where a wider font makes fit-to-width scale the table down.
    assert 5 <= len(table) <= 7, f"统计表 printed on {len(table)} pages"
    assert helps == [table[-1] + 1], helps
    # One page wide: the labels of each row of the table print on the same page.
    for row in range(1, form.table.rows + 1):
        labels = [norm(c.text) for c in form.table.cells if c.row == row and c.kind == "label"
                  and c.height == 1 and c.text.strip("-")]
        if len(labels) < 2:
            continue
        on = [i for i in table if all(lbl in norm(pages[i]) for lbl in labels)]
        assert on, f"row {row}: {labels} not together on one page"


@pytest.mark.libreoffice
def test_every_label_is_printed(printed, form):
    for which in ("blank", "pre"):
        text = norm("".join(pdf_pages(printed[which])))
        missing = [c.text for c in form.label_cells() if norm(c.text) not in text]
        assert not missing, (which, missing)
        for words in (form.notes[1], form.declaration["signatures"][0], form.issuer,
                      *form.instructions["outline"], form.instructions["naming"]):
            assert norm(words) in text, (which, words)


@pytest.mark.libreoffice
def test_printed_values_follow_the_table(printed, form):
    pre = pdf_pages(printed["pre"])
    assert "■信息服务类" in norm(pre[0]) and "某某检测研究院" in norm(pre[0])
    assert norm(period_text(form, "第三批")) in norm(pre[2])
    # Saved by openpyxl (no cached results): LibreOffice computes the formulas.
    filled = pdf_pages(printed["filled"])
    assert "■创新成果产业化类" in norm(filled[0]) and "填写单位" in norm(filled[0])
    assert norm(period_text(form, "第一批")) in norm(filled[2])
    blank = pdf_pages(printed["blank"])
    assert all(norm(p.text) in norm(blank[2]) for p in form.periods)
